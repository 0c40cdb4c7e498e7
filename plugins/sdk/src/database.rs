//! Database plugins: read a collection out completely, write it back
//! faithfully.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::bindings::database::exports::vdr::plugin::{database as wit, plugin};
use crate::bindings::storage::vdr::plugin::types::PluginConfig;
use crate::state::{self, Manifest};
use crate::{CollectionSchema, Config, Error, Point, PointId, Result, ScoredPoint, unsupported};

/// A vector database engine. Every method but `configure` defaults to
/// `unsupported`.
pub trait DatabasePlugin: Sized + 'static {
    /// Build the plugin from its configuration; called once, before any other
    /// call. Errors are shown to the operator verbatim.
    fn configure(config: Config) -> Result<Self>;

    /// Names of the collections the database holds.
    fn list_collections(&mut self) -> Result<Vec<String>> {
        unsupported("list-collections")
    }

    /// The full schema of one collection; `not-found` if absent.
    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        let _ = name;
        unsupported("describe-collection")
    }

    /// A cursor over every point of `collection` in a stable order, from the
    /// start or after the point that `resume_from` (a cursor's resume token)
    /// names.
    fn open_export(
        &mut self,
        collection: &str,
        resume_from: Option<String>,
    ) -> Result<Box<dyn ExportCursor>> {
        let _ = (collection, resume_from);
        unsupported("export")
    }

    /// Create a collection; `already-exists` if it exists.
    fn create_collection(&mut self, schema: CollectionSchema) -> Result<()> {
        let _ = schema;
        unsupported("create-collection")
    }

    /// Insert or replace points (upsert by id).
    fn import_batch(&mut self, collection: &str, points: Vec<Point>) -> Result<()> {
        let _ = (collection, points);
        unsupported("import-batch")
    }

    /// Points by id; ids that do not exist are left out.
    fn fetch(&mut self, collection: &str, ids: Vec<PointId>) -> Result<Vec<Point>> {
        let _ = (collection, ids);
        unsupported("fetch")
    }

    /// Delete points by id; ids that do not exist are ignored.
    fn delete_points(&mut self, collection: &str, ids: Vec<PointId>) -> Result<()> {
        let _ = (collection, ids);
        unsupported("delete-points")
    }

    /// Make every imported point durable, counted and searchable.
    fn flush(&mut self, collection: &str) -> Result<()> {
        let _ = collection;
        unsupported("flush")
    }

    /// Exact number of points.
    fn count(&mut self, collection: &str) -> Result<u64> {
        let _ = collection;
        unsupported("count")
    }

    /// The `k` nearest points to `query` in the dense field `vector`,
    /// nearest first.
    fn search(
        &mut self,
        collection: &str,
        vector: &str,
        query: Vec<f32>,
        k: u32,
    ) -> Result<Vec<ScoredPoint>> {
        let _ = (collection, vector, query, k);
        unsupported("search")
    }

    /// Drop a collection and everything in it; `not-found` if absent.
    fn drop_collection(&mut self, name: &str) -> Result<()> {
        let _ = name;
        unsupported("drop-collection")
    }

    /// Stream a native snapshot of a collection out.
    fn open_native_snapshot(&mut self, collection: &str) -> Result<Box<dyn ByteReader>> {
        let _ = collection;
        unsupported("native snapshots")
    }

    /// Recover a collection from a native snapshot of `size` bytes streamed in.
    fn restore_native_snapshot(
        &mut self,
        collection: &str,
        size: u64,
    ) -> Result<Box<dyn ByteWriter>> {
        let _ = (collection, size);
        unsupported("native snapshots")
    }
}

/// An export in progress (a WIT resource owned by the host).
pub trait ExportCursor: 'static {
    /// At most `max` more points; an empty batch means the end.
    fn next_batch(&mut self, max: u32) -> Result<Vec<Point>>;
    /// A token resuming after the last point returned (`None` before the
    /// first batch).
    fn resume_token(&self) -> Option<String>;
}

/// A native snapshot streaming out.
pub trait ByteReader: 'static {
    /// At most `max` more bytes; empty means the end.
    fn read(&mut self, max: u32) -> Result<Vec<u8>>;
}

/// A native snapshot streaming in.
pub trait ByteWriter: 'static {
    fn write(&mut self, bytes: Vec<u8>) -> Result<()>;
    /// Finish the upload and recover the collection from it.
    fn finish(&mut self) -> Result<()>;
}

/// Implements the generated WIT traits for any [`DatabasePlugin`].
#[doc(hidden)]
pub struct DatabaseAdapter<T>(PhantomData<T>);

impl<T: DatabasePlugin + Manifest> plugin::Guest for DatabaseAdapter<T> {
    fn manifest() -> String {
        T::TEXT.to_string()
    }

    fn configure(config: PluginConfig) -> Result<()> {
        state::install(T::configure(Config::try_from(config)?)?);
        Ok(())
    }
}

impl<T: DatabasePlugin> wit::Guest for DatabaseAdapter<T> {
    type ExportCursor = Resource<dyn ExportCursor>;
    type ByteReader = Resource<dyn ByteReader>;
    type ByteWriter = Resource<dyn ByteWriter>;

    fn list_collections() -> Result<Vec<String>> {
        state::with_plugin(|p: &mut T| p.list_collections())
    }

    fn describe_collection(name: String) -> Result<CollectionSchema> {
        state::with_plugin(|p: &mut T| p.describe_collection(&name))
    }

    fn open_export(collection: String, resume_from: Option<String>) -> Result<wit::ExportCursor> {
        let cursor = state::with_plugin(|p: &mut T| p.open_export(&collection, resume_from))?;
        Ok(wit::ExportCursor::new(Resource::new(cursor)))
    }

    fn create_collection(schema: CollectionSchema) -> Result<()> {
        state::with_plugin(|p: &mut T| p.create_collection(schema))
    }

    fn import_batch(collection: String, points: Vec<Point>) -> Result<()> {
        state::with_plugin(|p: &mut T| p.import_batch(&collection, points))
    }

    fn fetch(collection: String, ids: Vec<PointId>) -> Result<Vec<Point>> {
        state::with_plugin(|p: &mut T| p.fetch(&collection, ids))
    }

    fn delete_points(collection: String, ids: Vec<PointId>) -> Result<()> {
        state::with_plugin(|p: &mut T| p.delete_points(&collection, ids))
    }

    fn flush(collection: String) -> Result<()> {
        state::with_plugin(|p: &mut T| p.flush(&collection))
    }

    fn count(collection: String) -> Result<u64> {
        state::with_plugin(|p: &mut T| p.count(&collection))
    }

    fn search(
        collection: String,
        vector: String,
        query: Vec<f32>,
        k: u32,
    ) -> Result<Vec<ScoredPoint>> {
        state::with_plugin(|p: &mut T| p.search(&collection, &vector, query, k))
    }

    fn drop_collection(name: String) -> Result<()> {
        state::with_plugin(|p: &mut T| p.drop_collection(&name))
    }

    fn open_native_snapshot(collection: String) -> Result<wit::ByteReader> {
        let reader = state::with_plugin(|p: &mut T| p.open_native_snapshot(&collection))?;
        Ok(wit::ByteReader::new(Resource::new(reader)))
    }

    fn restore_native_snapshot(collection: String, size: u64) -> Result<wit::ByteWriter> {
        let writer = state::with_plugin(|p: &mut T| p.restore_native_snapshot(&collection, size))?;
        Ok(wit::ByteWriter::new(Resource::new(writer)))
    }
}

/// A boxed plugin object behind a WIT resource handle. WIT resource methods
/// take `&self`; the cell gives the plugin's object `&mut self`.
#[doc(hidden)]
pub struct Resource<R: ?Sized>(RefCell<Box<R>>);

impl<R: ?Sized> Resource<R> {
    fn new(inner: Box<R>) -> Self {
        Resource(RefCell::new(inner))
    }

    fn with<V>(&self, f: impl FnOnce(&mut R) -> Result<V>) -> Result<V> {
        let mut inner =
            self.0.try_borrow_mut().map_err(|_| Error::Internal("resource re-entered".into()))?;
        f(&mut inner)
    }
}

impl wit::GuestExportCursor for Resource<dyn ExportCursor> {
    fn next_batch(&self, max: u32) -> Result<Vec<Point>> {
        self.with(|c| c.next_batch(max))
    }

    fn resume_token(&self) -> Option<String> {
        self.0.try_borrow().ok().and_then(|c| c.resume_token())
    }
}

impl wit::GuestByteReader for Resource<dyn ByteReader> {
    fn read(&self, max: u32) -> Result<Vec<u8>> {
        self.with(|r| r.read(max))
    }
}

impl wit::GuestByteWriter for Resource<dyn ByteWriter> {
    fn write(&self, bytes: Vec<u8>) -> Result<()> {
        self.with(|w| w.write(bytes))
    }

    fn finish(&self) -> Result<()> {
        self.with(|w| w.finish())
    }
}
