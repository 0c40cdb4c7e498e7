//! The optional change feed `vdr:changes@0.1.0` beside a 0.1.0 database
//! world: a database component may also export it, and the host then reads
//! only what changed for an incremental backup.

use super::convert::{id_from_wit, point_from_wit, wit};
use super::database::PluginDatabase;
use super::db;
use crate::instance::{Config, World};
use crate::state::State;
use vdr_model::{Change, ChangeCursor, Error, Result};
use wasmtime::Store;
use wasmtime::component::{InstancePre, ResourceAny};

/// Bindings of the change-feed world, on the 0.1.0 types.
pub mod ch {
    wasmtime::component::bindgen!({
        path: ["../../wit/v0.1.0", "../../wit/changes-v0.1.0"],
        world: "vdr:changes/changes-plugin@0.1.0",
        with: {
            "vdr:plugin/types": super::super::db::vdr::plugin::types,
        },
    });
}

/// The interface name a component with a change feed exports.
pub const CHANGES_EXPORT: &str = "vdr:changes/changes@0.1.0";

/// A 0.1.0 database component, and where its change feed is if it has one.
#[derive(Clone)]
pub struct DatabasePre {
    pub database: db::DatabasePluginPre<State>,
    /// Boxed: the feed's export indices are large and most plugins have none.
    changes: Option<Box<ch::ChangesPluginIndices>>,
}

impl DatabasePre {
    pub fn new(pre: InstancePre<State>) -> wasmtime::Result<DatabasePre> {
        let exported = pre.component().get_export_index(None, CHANGES_EXPORT).is_some();
        let changes = if exported {
            let found = ch::ChangesPluginIndices::new(&pre).map_err(|e| {
                e.context(format!("the component exports {CHANGES_EXPORT} with other types"))
            })?;
            Some(Box::new(found))
        } else {
            None
        };
        Ok(DatabasePre { database: db::DatabasePluginPre::new(pre)?, changes })
    }
}

/// A live 0.1.0 database instance with its change feed, if any.
pub struct DatabaseWorld {
    pub database: db::DatabasePlugin,
    pub changes: Option<ch::ChangesPlugin>,
}

impl World for DatabaseWorld {
    type Pre = DatabasePre;

    fn instantiate(pre: &DatabasePre, store: &mut Store<State>) -> wasmtime::Result<Self> {
        let instance = pre.database.instance_pre().instantiate(&mut *store)?;
        let database = db::DatabasePlugin::new(&mut *store, &instance)?;
        let changes = match &pre.changes {
            Some(indices) => Some(indices.load(&mut *store, &instance)?),
            None => None,
        };
        Ok(DatabaseWorld { database, changes })
    }

    fn manifest(&self, store: &mut Store<State>) -> wasmtime::Result<String> {
        World::manifest(&self.database, store)
    }

    fn configure(
        &self,
        store: &mut Store<State>,
        c: &Config,
    ) -> wasmtime::Result<Result<(), Error>> {
        World::configure(&self.database, store, c)
    }
}

type Feed = ch::exports::vdr::changes::changes::Guest;

fn feed(world: &DatabaseWorld) -> wasmtime::Result<&Feed> {
    // Only called after `has_feed`; an instance is always loaded the same way.
    world
        .changes
        .as_ref()
        .map(|c| c.vdr_changes_changes())
        .ok_or_else(|| wasmtime::Error::msg("the plugin has no change feed"))
}

impl PluginDatabase {
    pub(super) fn feed_token(&mut self, collection: &str) -> Result<Option<String>> {
        if !self.has_feed() {
            return Ok(None);
        }
        self.call("current-token", |s, b| wit(feed(b)?.call_current_token(s, collection)))
    }

    pub(super) fn feed_open<'a>(
        &'a mut self,
        collection: &str,
        since: &str,
    ) -> Result<Option<Box<dyn ChangeCursor + 'a>>> {
        if !self.has_feed() {
            return Ok(None);
        }
        let handle = self
            .call("open-changes", |s, b| wit(feed(b)?.call_open_changes(s, collection, since)))?;
        Ok(handle.map(|h| Box::new(Changes { db: self, handle: Some(h) }) as Box<_>))
    }
}

struct Changes<'a> {
    db: &'a mut PluginDatabase,
    handle: Option<ResourceAny>,
}

impl Changes<'_> {
    fn handle(&self) -> Result<ResourceAny> {
        self.handle.ok_or_else(|| Error::internal("change cursor used after a failure"))
    }

    fn after_call(&mut self) {
        if !self.db.is_live() {
            self.handle = None; // its instance is gone
        }
    }
}

impl ChangeCursor for Changes<'_> {
    fn next_batch(&mut self, max: u32) -> Result<Vec<Change>> {
        let h = self.handle()?;
        let raw = self.db.call("change-cursor.next-batch", |s, b| {
            wit(feed(b)?.change_cursor().call_next_batch(s, h, max))
        });
        self.after_call();
        let label = self.db.label().to_string();
        raw?.into_iter()
            .map(|c| {
                use ch::exports::vdr::changes::changes::Change as C;
                match c {
                    C::Upsert(p) => point_from_wit(p).map(Change::Upsert),
                    C::Delete(id) => Ok(Change::Delete(id_from_wit(id))),
                }
                .map_err(|e| e.with_origin(&label))
            })
            .collect()
    }

    fn end_token(&mut self) -> Result<String> {
        let h = self.handle()?;
        let r = self.db.call("change-cursor.end-token", |s, b| {
            feed(b)?.change_cursor().call_end_token(s, h).map(Ok)
        });
        self.after_call();
        r
    }

    fn count(&mut self) -> Result<u64> {
        let h = self.handle()?;
        let r = self
            .db
            .call("change-cursor.count", |s, b| feed(b)?.change_cursor().call_count(s, h).map(Ok));
        self.after_call();
        r
    }
}

impl Drop for Changes<'_> {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.db.release(h);
        }
    }
}
