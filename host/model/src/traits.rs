//! The two backend contracts, as the host sees them.
//!
//! `vdr-runtime` implements them over WebAssembly plugins (one adapter per
//! WIT version); tests may implement them natively.

use crate::{CollectionSchema, Point, PointId, Result, ScoredPoint};

/// A cursor over every point of a collection, in a stable order.
pub trait ExportCursor {
    /// The next batch of at most `max` points; empty at the end.
    fn next_batch(&mut self, max: u32) -> Result<Vec<Point>>;
    /// Resumes the export after the last point returned.
    fn resume_token(&mut self) -> Result<Option<String>>;
}

/// One change in a collection's change feed.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// The point as it is now (inserted or replaced).
    Upsert(Point),
    Delete(PointId),
}

/// The changes between a token and the collection's state when the cursor
/// was opened: each changed id once, as it is at `end_token`.
pub trait ChangeCursor {
    /// The next batch of at most `max` changes; empty at the end.
    fn next_batch(&mut self, max: u32) -> Result<Vec<Change>>;
    /// Where the feed ends: the next incremental starts here.
    fn end_token(&mut self) -> Result<String>;
    /// Points in the collection at `end_token`.
    fn count(&mut self) -> Result<u64>;
}

/// A stream of bytes out of an engine (native snapshots).
pub trait ByteReader {
    /// At most `max` more bytes; empty at the end.
    fn read(&mut self, max: u32) -> Result<Vec<u8>>;
}

/// A stream of bytes into an engine (native snapshot restore).
pub trait ByteWriter {
    fn write(&mut self, bytes: &[u8]) -> Result<()>;
    fn finish(self: Box<Self>) -> Result<()>;
}

/// A vector database holding named collections.
pub trait Database: Send {
    /// Human-readable name of the backend (`plugin local@0.1.0 at /store`).
    fn describe(&self) -> String;
    fn list_collections(&mut self) -> Result<Vec<String>>;
    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema>;
    fn open_export<'a>(
        &'a mut self,
        collection: &str,
        resume_from: Option<String>,
    ) -> Result<Box<dyn ExportCursor + 'a>>;
    fn create_collection(&mut self, schema: &CollectionSchema) -> Result<()>;
    /// Upsert points by id.
    fn import_batch(&mut self, collection: &str, points: Vec<Point>) -> Result<()>;
    /// Make imported points durable, counted and searchable.
    fn flush(&mut self, collection: &str) -> Result<()>;
    fn fetch(&mut self, collection: &str, ids: &[PointId]) -> Result<Vec<Point>>;
    fn delete_points(&mut self, collection: &str, ids: &[PointId]) -> Result<()>;
    fn count(&mut self, collection: &str) -> Result<u64>;
    fn search(
        &mut self,
        collection: &str,
        vector: &str,
        query: &[f32],
        k: u32,
    ) -> Result<Vec<ScoredPoint>>;
    fn drop_collection(&mut self, name: &str) -> Result<()>;
    fn open_native_snapshot<'a>(&'a mut self, collection: &str)
    -> Result<Box<dyn ByteReader + 'a>>;
    fn restore_native_snapshot<'a>(
        &'a mut self,
        collection: &str,
        size: u64,
    ) -> Result<Box<dyn ByteWriter + 'a>>;

    /// The collection's position in its change feed (`None`: no feed, the
    /// default). Taken before a full export, so a change made during it is
    /// reported again by the next feed rather than lost.
    fn current_token(&mut self, collection: &str) -> Result<Option<String>> {
        let _ = collection;
        Ok(None)
    }

    /// The changes since `since`, or `None` when there is no feed or the
    /// token no longer applies (another incarnation of the collection, a
    /// rewritten history): the caller then exports everything.
    fn open_changes<'a>(
        &'a mut self,
        collection: &str,
        since: &str,
    ) -> Result<Option<Box<dyn ChangeCursor + 'a>>> {
        let _ = (collection, since);
        Ok(None)
    }
}

/// Metadata of one stored object.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub modified_ms: u64,
    pub version: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    pub objects: Vec<ObjectMeta>,
    pub next_token: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectVersion {
    pub key: String,
    pub version: String,
    pub size: u64,
    pub modified_ms: u64,
    pub deleted: bool,
    pub latest: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionPage {
    pub versions: Vec<ObjectVersion>,
    pub next_token: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub length: u64,
}

/// An upload in parts; dropped without `complete` means abandoned.
pub trait MultipartUpload {
    fn put_part(&mut self, number: u32, data: &[u8]) -> Result<()>;
    fn complete(self: Box<Self>) -> Result<()>;
    fn abort(self: Box<Self>) -> Result<()>;
}

/// A flat namespace of immutable objects. Shared between threads: plugin
/// implementations keep a pool of instances.
pub trait ObjectStore: Send + Sync {
    /// Human-readable name of the backend (`plugin s3@0.1.0 at s3://bucket/prefix`).
    fn describe(&self) -> String;
    fn put(&self, key: &str, data: &[u8], if_absent: bool) -> Result<()>;
    fn get(&self, key: &str, range: Option<ByteRange>, version: Option<&str>) -> Result<Vec<u8>>;
    fn stat(&self, key: &str) -> Result<ObjectMeta>;
    fn list(&self, prefix: &str, page_token: Option<String>, page_size: u32) -> Result<ListPage>;
    fn delete(&self, key: &str) -> Result<()>;
    fn start_multipart<'a>(&'a self, key: &str) -> Result<Box<dyn MultipartUpload + 'a>>;
    fn list_versions(
        &self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<VersionPage>;
}

/// Every object under `prefix`, following pages.
pub fn list_all(store: &dyn ObjectStore, prefix: &str) -> Result<Vec<ObjectMeta>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = store.list(prefix, token, 1000)?;
        out.extend(page.objects);
        match page.next_token {
            Some(t) => token = Some(t),
            None => return Ok(out),
        }
    }
}

/// Write `data`, in parts of `part_size` when it is larger than that and the
/// store supports multipart uploads. A failed part aborts the upload.
pub fn put_object(store: &dyn ObjectStore, key: &str, data: &[u8], part_size: usize) -> Result<()> {
    if data.len() <= part_size || part_size == 0 {
        return store.put(key, data, false);
    }
    let mut upload = match store.start_multipart(key) {
        Ok(u) => u,
        Err(e) if e.kind == crate::ErrorKind::Unsupported => return store.put(key, data, false),
        Err(e) => return Err(e),
    };
    for (i, part) in data.chunks(part_size).enumerate() {
        if let Err(e) = upload.put_part(i as u32 + 1, part) {
            let _ = upload.abort();
            return Err(e);
        }
    }
    upload.complete()
}
