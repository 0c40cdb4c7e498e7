//! `vdr_model::Database` over a 0.1.0 database plugin.

use super::changes::DatabaseWorld;
use super::convert::{
    id_to_wit, point_from_wit, point_to_wit, schema_from_wit, schema_to_wit, wit,
};
use super::db;
use crate::instance::{Config, Factory, Live, World, is_poisoning};
use crate::state::State;
use std::sync::Arc;
use vdr_model::{
    ByteReader, ByteWriter, ChangeCursor, CollectionSchema, Database, Error, ExportCursor, Point,
    PointId, Result, ScoredPoint,
};
use wasmtime::Store;
use wasmtime::component::ResourceAny;

impl World for db::DatabasePlugin {
    type Pre = db::DatabasePluginPre<State>;

    fn instantiate(pre: &Self::Pre, store: &mut Store<State>) -> wasmtime::Result<Self> {
        pre.instantiate(store)
    }

    fn manifest(&self, store: &mut Store<State>) -> wasmtime::Result<String> {
        self.vdr_plugin_plugin().call_manifest(store)
    }

    fn configure(
        &self,
        store: &mut Store<State>,
        c: &Config,
    ) -> wasmtime::Result<Result<(), Error>> {
        let config = db::vdr::plugin::types::PluginConfig {
            endpoint: c.endpoint.clone(),
            options: c.options.clone(),
            secrets: c.secrets.clone(),
        };
        wit(self.vdr_plugin_plugin().call_configure(store, &config))
    }
}

/// A database plugin instance, re-instantiated after a trap.
pub struct PluginDatabase {
    factory: Arc<Factory<DatabaseWorld>>,
    live: Option<Live<DatabaseWorld>>,
    describe: String,
    /// Whether the component exports the change feed.
    has_feed: bool,
}

impl PluginDatabase {
    pub fn new(factory: Arc<Factory<DatabaseWorld>>, describe: String) -> Result<PluginDatabase> {
        let live = factory.instantiate()?;
        let has_feed = live.bindings.changes.is_some();
        Ok(PluginDatabase { factory, live: Some(live), describe, has_feed })
    }

    pub(super) fn has_feed(&self) -> bool {
        self.has_feed
    }

    /// Whether the instance survived the last call (a trap discards it).
    pub(super) fn is_live(&self) -> bool {
        self.live.is_some()
    }

    pub(super) fn label(&self) -> &str {
        self.factory.label()
    }

    /// Run one call, instantiating first if the last instance was discarded.
    pub(super) fn call<R>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut Store<State>, &DatabaseWorld) -> wasmtime::Result<Result<R, Error>>,
    ) -> Result<R> {
        if self.live.is_none() {
            self.live = Some(self.factory.instantiate()?);
        }
        let live = self.live.as_mut().expect("instantiated above");
        let result = self.factory.call(live, what, f);
        if let Err(e) = &result
            && is_poisoning(e)
        {
            self.live = None;
        }
        result
    }
}

impl Database for PluginDatabase {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn list_collections(&mut self) -> Result<Vec<String>> {
        self.call("list-collections", |s, b| {
            wit(b.database.vdr_plugin_database().call_list_collections(s))
        })
    }

    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        self.call("describe-collection", |s, b| {
            wit(b.database.vdr_plugin_database().call_describe_collection(s, name))
                .map(|r| r.map(schema_from_wit))
        })
    }

    fn open_export<'a>(
        &'a mut self,
        collection: &str,
        resume_from: Option<String>,
    ) -> Result<Box<dyn ExportCursor + 'a>> {
        let cursor = self.call("open-export", |s, b| {
            wit(b.database.vdr_plugin_database().call_open_export(
                s,
                collection,
                resume_from.as_deref(),
            ))
        })?;
        Ok(Box::new(Cursor { db: self, handle: Some(cursor) }))
    }

    fn create_collection(&mut self, schema: &CollectionSchema) -> Result<()> {
        let schema = schema_to_wit(schema);
        self.call("create-collection", |s, b| {
            wit(b.database.vdr_plugin_database().call_create_collection(s, &schema))
        })
    }

    fn import_batch(&mut self, collection: &str, points: Vec<Point>) -> Result<()> {
        let points: Vec<_> = points.into_iter().map(point_to_wit).collect();
        self.call("import-batch", |s, b| {
            wit(b.database.vdr_plugin_database().call_import_batch(s, collection, &points))
        })
    }

    fn flush(&mut self, collection: &str) -> Result<()> {
        self.call("flush", |s, b| wit(b.database.vdr_plugin_database().call_flush(s, collection)))
    }

    fn fetch(&mut self, collection: &str, ids: &[PointId]) -> Result<Vec<Point>> {
        let ids: Vec<_> = ids.iter().map(id_to_wit).collect();
        let raw = self.call("fetch", |s, b| {
            wit(b.database.vdr_plugin_database().call_fetch(s, collection, &ids))
        })?;
        self.points(raw)
    }

    fn delete_points(&mut self, collection: &str, ids: &[PointId]) -> Result<()> {
        let ids: Vec<_> = ids.iter().map(id_to_wit).collect();
        self.call("delete-points", |s, b| {
            wit(b.database.vdr_plugin_database().call_delete_points(s, collection, &ids))
        })
    }

    fn count(&mut self, collection: &str) -> Result<u64> {
        self.call("count", |s, b| wit(b.database.vdr_plugin_database().call_count(s, collection)))
    }

    fn search(
        &mut self,
        collection: &str,
        vector: &str,
        query: &[f32],
        k: u32,
    ) -> Result<Vec<ScoredPoint>> {
        let hits = self.call("search", |s, b| {
            wit(b.database.vdr_plugin_database().call_search(s, collection, vector, query, k))
        })?;
        Ok(hits
            .into_iter()
            .map(|h| ScoredPoint { id: super::convert::id_from_wit(h.id), score: h.score })
            .collect())
    }

    fn drop_collection(&mut self, name: &str) -> Result<()> {
        self.call("drop-collection", |s, b| {
            wit(b.database.vdr_plugin_database().call_drop_collection(s, name))
        })
    }

    fn open_native_snapshot<'a>(
        &'a mut self,
        collection: &str,
    ) -> Result<Box<dyn ByteReader + 'a>> {
        let handle = self.call("open-native-snapshot", |s, b| {
            wit(b.database.vdr_plugin_database().call_open_native_snapshot(s, collection))
        })?;
        Ok(Box::new(Reader { db: self, handle: Some(handle) }))
    }

    fn restore_native_snapshot<'a>(
        &'a mut self,
        collection: &str,
        size: u64,
    ) -> Result<Box<dyn ByteWriter + 'a>> {
        let handle = self.call("restore-native-snapshot", |s, b| {
            wit(b.database.vdr_plugin_database().call_restore_native_snapshot(s, collection, size))
        })?;
        Ok(Box::new(Writer { db: self, handle: Some(handle) }))
    }

    fn current_token(&mut self, collection: &str) -> Result<Option<String>> {
        self.feed_token(collection)
    }

    fn open_changes<'a>(
        &'a mut self,
        collection: &str,
        since: &str,
    ) -> Result<Option<Box<dyn ChangeCursor + 'a>>> {
        self.feed_open(collection, since)
    }
}

impl PluginDatabase {
    fn points(&self, raw: Vec<db::vdr::plugin::types::Point>) -> Result<Vec<Point>> {
        raw.into_iter()
            .map(|p| point_from_wit(p).map_err(|e| e.with_origin(self.factory.label())))
            .collect()
    }

    /// Drop a guest resource if its instance is still alive.
    pub(super) fn release(&mut self, handle: ResourceAny) {
        if let Some(live) = self.live.as_mut() {
            let _ = handle.resource_drop(&mut live.store);
        }
    }
}

struct Cursor<'a> {
    db: &'a mut PluginDatabase,
    handle: Option<ResourceAny>,
}

impl ExportCursor for Cursor<'_> {
    fn next_batch(&mut self, max: u32) -> Result<Vec<Point>> {
        let h = self.handle.ok_or_else(|| Error::internal("export cursor used after a failure"))?;
        let raw = self.db.call("export-cursor.next-batch", |s, b| {
            wit(b.database.vdr_plugin_database().export_cursor().call_next_batch(s, h, max))
        });
        if self.db.live.is_none() {
            self.handle = None; // its instance is gone
        }
        self.db.points(raw?)
    }

    fn resume_token(&mut self) -> Result<Option<String>> {
        let h = self.handle.ok_or_else(|| Error::internal("export cursor used after a failure"))?;
        self.db.call("export-cursor.resume-token", |s, b| {
            b.database.vdr_plugin_database().export_cursor().call_resume_token(s, h).map(Ok)
        })
    }
}

impl Drop for Cursor<'_> {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.db.release(h);
        }
    }
}

struct Reader<'a> {
    db: &'a mut PluginDatabase,
    handle: Option<ResourceAny>,
}

impl ByteReader for Reader<'_> {
    fn read(&mut self, max: u32) -> Result<Vec<u8>> {
        let h =
            self.handle.ok_or_else(|| Error::internal("snapshot reader used after a failure"))?;
        let r = self.db.call("byte-reader.read", |s, b| {
            wit(b.database.vdr_plugin_database().byte_reader().call_read(s, h, max))
        });
        if self.db.live.is_none() {
            self.handle = None;
        }
        r
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.db.release(h);
        }
    }
}

struct Writer<'a> {
    db: &'a mut PluginDatabase,
    handle: Option<ResourceAny>,
}

impl ByteWriter for Writer<'_> {
    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let h =
            self.handle.ok_or_else(|| Error::internal("snapshot writer used after a failure"))?;
        let r = self.db.call("byte-writer.write", |s, b| {
            wit(b.database.vdr_plugin_database().byte_writer().call_write(s, h, bytes))
        });
        if self.db.live.is_none() {
            self.handle = None;
        }
        r
    }

    fn finish(self: Box<Self>) -> Result<()> {
        let h =
            self.handle.ok_or_else(|| Error::internal("snapshot writer used after a failure"))?;
        self.db.call("byte-writer.finish", |s, b| {
            wit(b.database.vdr_plugin_database().byte_writer().call_finish(s, h))
        })
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.db.release(h);
        }
    }
}
