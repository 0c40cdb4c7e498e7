//! `local`: vdr's embedded vector store, in the directory the host lends the
//! plugin at the endpoint's guest path (e.g. `/data`). One subdirectory per
//! collection; the on-disk format is described in README.md and in the
//! `records`, `index` and `schema` modules.
//!
//! One writer at a time: an instance keeps each collection's id map in
//! memory and does not notice another process writing the same store.

mod changes;
mod codec;
mod collection;
mod export;
mod index;
mod records;
mod schema;

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use vdr_plugin_sdk::prelude::*;

use crate::changes::LocalChanges;
use crate::collection::{Collection, SCHEMA_FILE};
use crate::export::LocalCursor;

struct LocalStore {
    root: PathBuf,
    /// Collections opened so far (opening scans the log).
    open: HashMap<String, Collection>,
}

impl LocalStore {
    /// The collection called `name`, opened on first use.
    fn collection(&mut self, name: &str) -> Result<&mut Collection> {
        schema::validate_collection_name(name)?;
        if !self.open.contains_key(name) {
            let dir = self.root.join(name);
            if !dir.join(SCHEMA_FILE).is_file() {
                return Err(Error::NotFound(format!("collection {name}")));
            }
            self.open.insert(name.to_string(), Collection::open(&dir)?);
        }
        Ok(self.open.get_mut(name).expect("just opened"))
    }
}

impl DatabasePlugin for LocalStore {
    fn configure(config: Config) -> Result<Self> {
        if !config.endpoint.starts_with('/') {
            return Err(Error::InvalidInput(format!(
                "local endpoint must be an absolute guest path (e.g. /data), got {:?}",
                config.endpoint
            )));
        }
        let root = PathBuf::from(&config.endpoint);
        match fs::metadata(&root) {
            Ok(m) if m.is_dir() => Ok(LocalStore { root, open: HashMap::new() }),
            Ok(_) => Err(Error::InvalidInput(format!("{} is not a directory", config.endpoint))),
            Err(e) => Err(io_error(&format!("opening store directory {}", config.endpoint), &e)),
        }
    }

    fn list_collections(&mut self) -> Result<Vec<String>> {
        let entries = fs::read_dir(&self.root).map_err(|e| io_error("listing the store", &e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error("listing the store", &e))?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            if schema::validate_collection_name(&name).is_ok()
                && entry.path().join(SCHEMA_FILE).is_file()
            {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        Ok(self.collection(name)?.schema.clone())
    }

    fn open_export(
        &mut self,
        collection: &str,
        resume_from: Option<String>,
    ) -> Result<Box<dyn ExportCursor>> {
        let c = self.collection(collection)?;
        Ok(Box::new(LocalCursor::open(c, resume_from)?))
    }

    fn create_collection(&mut self, schema: CollectionSchema) -> Result<()> {
        schema::validate_collection_name(&schema.name)?;
        schema::validate_fields(&schema)?;
        let schema = schema::adopt(schema);
        let dir = self.root.join(&schema.name);
        if dir.join(SCHEMA_FILE).exists() {
            return Err(Error::AlreadyExists(format!("collection {}", schema.name)));
        }
        // A directory without schema.json is the remains of an interrupted
        // create: start it afresh.
        if dir.exists() {
            fs::remove_dir_all(&dir)
                .map_err(|e| io_error(&format!("clearing unfinished {}", schema.name), &e))?;
        }
        fs::create_dir(&dir).map_err(|e| io_error(&format!("creating {}", schema.name), &e))?;
        let name = schema.name.clone();
        let c = Collection::create(&dir, schema)?;
        collection::sync_dir(&self.root);
        self.open.insert(name, c);
        Ok(())
    }

    fn import_batch(&mut self, collection: &str, points: Vec<Point>) -> Result<()> {
        self.collection(collection)?.upsert(points)
    }

    fn fetch(&mut self, collection: &str, ids: Vec<PointId>) -> Result<Vec<Point>> {
        self.collection(collection)?.fetch(&ids)
    }

    fn delete_points(&mut self, collection: &str, ids: Vec<PointId>) -> Result<()> {
        self.collection(collection)?.delete(&ids)
    }

    fn flush(&mut self, collection: &str) -> Result<()> {
        let c = self.collection(collection)?;
        c.log.sync()?;
        index::flush(c)
    }

    fn count(&mut self, collection: &str) -> Result<u64> {
        Ok(self.collection(collection)?.count())
    }

    fn search(
        &mut self,
        collection: &str,
        vector: &str,
        query: Vec<f32>,
        k: u32,
    ) -> Result<Vec<ScoredPoint>> {
        index::search(self.collection(collection)?, vector, &query, k)
    }

    fn drop_collection(&mut self, name: &str) -> Result<()> {
        schema::validate_collection_name(name)?;
        let dir = self.root.join(name);
        if !dir.join(SCHEMA_FILE).is_file() {
            return Err(Error::NotFound(format!("collection {name}")));
        }
        self.open.remove(name);
        // schema.json goes first, so an interrupted drop leaves a directory
        // that is no longer a collection.
        fs::remove_file(dir.join(SCHEMA_FILE))
            .and_then(|()| fs::remove_dir_all(&dir))
            .map_err(|e| io_error(&format!("dropping {name}"), &e))
    }
}

impl ChangeFeed for LocalStore {
    fn current_token(&mut self, collection: &str) -> Result<Option<String>> {
        Ok(Some(changes::token(&self.collection(collection)?.log.position())))
    }

    fn open_changes(
        &mut self,
        collection: &str,
        since: &str,
    ) -> Result<Option<Box<dyn ChangeCursor>>> {
        let c = self.collection(collection)?;
        Ok(LocalChanges::open(c, since)?.map(|c| Box::new(c) as Box<dyn ChangeCursor>))
    }
}

vdr_plugin_sdk::export_database_plugin!(LocalStore, "vdr-plugin.toml");
vdr_plugin_sdk::export_change_feed!(LocalStore);
