//! In-memory test doubles for the two backend contracts (feature `testing`).
//!
//! [`MemoryStore`] is an [`ObjectStore`] over a map, with fault injection
//! (fail every mutating call after N of them, to simulate a killed process)
//! and raw access for corruption tests. [`MemoryDatabase`] is a [`Database`]
//! holding collections in ordered maps.

use crate::{
    ByteRange, ByteReader, ByteWriter, Change, ChangeCursor, CollectionSchema, Database, Error,
    ErrorKind, ExportCursor, ListPage, MultipartUpload, ObjectMeta, ObjectStore, Point, PointId,
    Result, ScoredPoint, VectorData, VersionPage,
};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// An object store in memory. Cheap to clone the contents for snapshots of state.
#[derive(Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<String, (Vec<u8>, u64)>>,
    /// Mutating calls left before every call fails; negative = never fail.
    writes_left: AtomicI64,
    clock_ms: AtomicU64,
    /// Counts of calls, for tests that assert nothing was written.
    pub writes: AtomicU64,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore { writes_left: AtomicI64::new(-1), ..Default::default() }
    }
    /// After `n` more successful mutating calls (put, delete, part, complete),
    /// every call fails as `unavailable`: the process "died".
    pub fn fail_after(&self, n: i64) {
        self.writes_left.store(n, Ordering::SeqCst);
    }
    /// Stop injecting failures.
    pub fn heal(&self) {
        self.writes_left.store(-1, Ordering::SeqCst);
    }
    pub fn keys(&self) -> Vec<String> {
        self.objects.lock().unwrap().keys().cloned().collect()
    }
    pub fn raw(&self, key: &str) -> Option<Vec<u8>> {
        self.objects.lock().unwrap().get(key).map(|o| o.0.clone())
    }
    /// Replace an object's bytes without going through the fault injector.
    pub fn set_raw(&self, key: &str, data: Vec<u8>) {
        let now = self.tick();
        self.objects.lock().unwrap().insert(key.to_string(), (data, now));
    }
    pub fn remove_raw(&self, key: &str) {
        self.objects.lock().unwrap().remove(key);
    }
    /// Total stored bytes under `prefix`.
    pub fn bytes_under(&self, prefix: &str) -> u64 {
        let objects = self.objects.lock().unwrap();
        objects.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v.0.len() as u64).sum()
    }
    fn tick(&self) -> u64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        self.clock_ms.fetch_max(wall, Ordering::SeqCst).max(wall)
    }
    fn check_alive(&self) -> Result<()> {
        if self.writes_left.load(Ordering::SeqCst) == 0 {
            return Err(Error::unavailable("injected failure: store is down"));
        }
        Ok(())
    }
    fn spend_write(&self) -> Result<()> {
        loop {
            let left = self.writes_left.load(Ordering::SeqCst);
            if left == 0 {
                return Err(Error::unavailable("injected failure: store is down"));
            }
            if left < 0 {
                break;
            }
            if self
                .writes_left
                .compare_exchange(left, left - 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                break;
            }
        }
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl ObjectStore for MemoryStore {
    fn describe(&self) -> String {
        "memory store".into()
    }
    fn put(&self, key: &str, data: &[u8], if_absent: bool) -> Result<()> {
        self.spend_write()?;
        let now = self.tick();
        let mut objects = self.objects.lock().unwrap();
        if if_absent && objects.contains_key(key) {
            return Err(Error::new(ErrorKind::AlreadyExists, format!("{key} exists")));
        }
        objects.insert(key.to_string(), (data.to_vec(), now));
        Ok(())
    }
    fn get(&self, key: &str, range: Option<ByteRange>, _version: Option<&str>) -> Result<Vec<u8>> {
        self.check_alive()?;
        let objects = self.objects.lock().unwrap();
        let data = &objects.get(key).ok_or_else(|| Error::not_found(format!("no object {key}")))?.0;
        Ok(match range {
            None => data.clone(),
            Some(r) => {
                let start = (r.start as usize).min(data.len());
                let end = (r.start.saturating_add(r.length) as usize).min(data.len());
                data[start..end].to_vec()
            }
        })
    }
    fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.check_alive()?;
        let objects = self.objects.lock().unwrap();
        let (data, modified_ms) =
            objects.get(key).ok_or_else(|| Error::not_found(format!("no object {key}")))?;
        Ok(ObjectMeta {
            key: key.into(),
            size: data.len() as u64,
            modified_ms: *modified_ms,
            version: None,
        })
    }
    fn list(&self, prefix: &str, page_token: Option<String>, page_size: u32) -> Result<ListPage> {
        self.check_alive()?;
        let objects = self.objects.lock().unwrap();
        let start = page_token.unwrap_or_default();
        let mut page = ListPage::default();
        for (k, (data, modified_ms)) in objects.range(start.clone()..) {
            if !k.starts_with(prefix) || *k == start {
                continue;
            }
            if page.objects.len() == page_size.max(1) as usize {
                page.next_token = page.objects.last().map(|o: &ObjectMeta| o.key.clone());
                break;
            }
            page.objects.push(ObjectMeta {
                key: k.clone(),
                size: data.len() as u64,
                modified_ms: *modified_ms,
                version: None,
            });
        }
        Ok(page)
    }
    fn delete(&self, key: &str) -> Result<()> {
        self.spend_write()?;
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }
    fn start_multipart<'a>(&'a self, key: &str) -> Result<Box<dyn MultipartUpload + 'a>> {
        self.check_alive()?;
        Ok(Box::new(MemoryUpload { store: self, key: key.into(), parts: BTreeMap::new() }))
    }
    fn list_versions(&self, _: &str, _: Option<String>, _: u32) -> Result<VersionPage> {
        Err(Error::unsupported("memory store keeps no versions"))
    }
}

struct MemoryUpload<'a> {
    store: &'a MemoryStore,
    key: String,
    parts: BTreeMap<u32, Vec<u8>>,
}

impl MultipartUpload for MemoryUpload<'_> {
    fn put_part(&mut self, number: u32, data: &[u8]) -> Result<()> {
        self.store.spend_write()?;
        self.parts.insert(number, data.to_vec());
        Ok(())
    }
    fn complete(self: Box<Self>) -> Result<()> {
        self.store.spend_write()?;
        let data: Vec<u8> = self.parts.into_values().flatten().collect();
        let now = self.store.tick();
        self.store.objects.lock().unwrap().insert(self.key, (data, now));
        Ok(())
    }
    fn abort(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

/// A vector database in memory: collections of points ordered by id.
///
/// It keeps a change feed of the writes made through [`Database`] calls
/// (not of edits to `collections` made directly).
#[derive(Default)]
pub struct MemoryDatabase {
    pub collections: BTreeMap<String, (CollectionSchema, BTreeMap<PointId, Point>)>,
    /// Number of `import_batch` and `create_collection` calls (to assert nothing was written).
    pub writes: u64,
    /// Per collection: its incarnation and the ids written, in order.
    feeds: BTreeMap<String, (u64, Vec<PointId>)>,
    /// `fetch` leaves these out although they exist (an engine that loses
    /// ids, or returns them in another form).
    pub hidden_from_fetch: Vec<PointId>,
    /// The next `fetch` first applies these (a writer racing a backup).
    pub before_fetch: Vec<Change>,
    /// The next `fetch` applies these after reading what it returns.
    pub after_fetch: Vec<Change>,
}

/// Incarnations are unique across instances, as a real engine's are across
/// its lifetime: a token of one database never applies to another.
static INCARNATIONS: AtomicU64 = AtomicU64::new(0);

impl MemoryDatabase {
    pub fn new() -> Self {
        Self::default()
    }
    fn collection(
        &mut self,
        name: &str,
    ) -> Result<&mut (CollectionSchema, BTreeMap<PointId, Point>)> {
        self.collections
            .get_mut(name)
            .ok_or_else(|| Error::not_found(format!("no collection {name}")))
    }
    /// Create a collection holding `points` directly.
    pub fn insert_collection(&mut self, schema: CollectionSchema, points: Vec<Point>) {
        let map = points.into_iter().map(|p| (p.id.clone(), p)).collect();
        self.new_feed(&schema.name);
        self.collections.insert(schema.name.clone(), (schema, map));
    }
    /// Apply `changes` through the database calls (so the feed sees them).
    fn apply(&mut self, collection: &str, changes: Vec<Change>) -> Result<()> {
        for change in changes {
            match change {
                Change::Upsert(p) => self.import_batch(collection, vec![p])?,
                Change::Delete(id) => self.delete_points(collection, &[id])?,
            }
        }
        Ok(())
    }
    /// A new incarnation of `name`: tokens of the old one no longer apply.
    fn new_feed(&mut self, name: &str) {
        // Unique across processes too (a repository outlives them): the
        // time and pid of the first one, then a count.
        if INCARNATIONS.load(Ordering::Relaxed) == 0 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64);
            let base = (nanos ^ (u64::from(std::process::id()) << 40)) | 1;
            let _ = INCARNATIONS.compare_exchange(0, base, Ordering::Relaxed, Ordering::Relaxed);
        }
        let incarnation = INCARNATIONS.fetch_add(1, Ordering::Relaxed);
        self.feeds.insert(name.to_string(), (incarnation, Vec::new()));
    }
    fn record(&mut self, collection: &str, ids: impl IntoIterator<Item = PointId>) {
        if let Some(feed) = self.feeds.get_mut(collection) {
            feed.1.extend(ids);
        }
    }
    pub fn points(&self, name: &str) -> Vec<Point> {
        self.collections.get(name).map(|c| c.1.values().cloned().collect()).unwrap_or_default()
    }
}

struct MemoryChanges {
    changes: std::vec::IntoIter<Change>,
    end: String,
    count: usize,
}

impl ChangeCursor for MemoryChanges {
    fn next_batch(&mut self, max: u32) -> Result<Vec<Change>> {
        Ok(self.changes.by_ref().take(max.max(1) as usize).collect())
    }
    fn end_token(&mut self) -> Result<String> {
        Ok(self.end.clone())
    }
    fn count(&mut self) -> Result<u64> {
        Ok(self.count as u64)
    }
}

struct MemoryCursor<'a> {
    points: &'a BTreeMap<PointId, Point>,
    after: Option<PointId>,
}

impl ExportCursor for MemoryCursor<'_> {
    fn next_batch(&mut self, max: u32) -> Result<Vec<Point>> {
        use std::ops::Bound;
        let lower = match &self.after {
            Some(id) => Bound::Excluded(id.clone()),
            None => Bound::Unbounded,
        };
        let batch: Vec<Point> = self
            .points
            .range((lower, Bound::Unbounded))
            .take(max.max(1) as usize)
            .map(|(_, p)| p.clone())
            .collect();
        if let Some(last) = batch.last() {
            self.after = Some(last.id.clone());
        }
        Ok(batch)
    }
    fn resume_token(&mut self) -> Result<Option<String>> {
        Ok(self.after.as_ref().map(|id| serde_json::to_string(id).unwrap()))
    }
}

impl Database for MemoryDatabase {
    fn describe(&self) -> String {
        "memory database".into()
    }
    fn list_collections(&mut self) -> Result<Vec<String>> {
        Ok(self.collections.keys().cloned().collect())
    }
    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        Ok(self.collection(name)?.0.clone())
    }
    fn open_export<'a>(
        &'a mut self,
        collection: &str,
        resume_from: Option<String>,
    ) -> Result<Box<dyn ExportCursor + 'a>> {
        let after = match resume_from {
            Some(t) => Some(serde_json::from_str(&t).map_err(|e| Error::invalid(e.to_string()))?),
            None => None,
        };
        let points = &self.collection(collection)?.1;
        Ok(Box::new(MemoryCursor { points, after }))
    }
    fn create_collection(&mut self, schema: &CollectionSchema) -> Result<()> {
        if self.collections.contains_key(&schema.name) {
            return Err(Error::new(ErrorKind::AlreadyExists, format!("{} exists", schema.name)));
        }
        self.writes += 1;
        self.new_feed(&schema.name);
        self.collections.insert(schema.name.clone(), (schema.clone(), BTreeMap::new()));
        Ok(())
    }
    fn import_batch(&mut self, collection: &str, points: Vec<Point>) -> Result<()> {
        self.writes += 1;
        let ids: Vec<PointId> = points.iter().map(|p| p.id.clone()).collect();
        let c = self.collection(collection)?;
        for p in points {
            c.1.insert(p.id.clone(), p);
        }
        self.record(collection, ids);
        Ok(())
    }
    fn flush(&mut self, collection: &str) -> Result<()> {
        self.collection(collection).map(|_| ())
    }
    fn fetch(&mut self, collection: &str, ids: &[PointId]) -> Result<Vec<Point>> {
        let racing = std::mem::take(&mut self.before_fetch);
        self.apply(collection, racing)?;
        let hidden = self.hidden_from_fetch.clone();
        let c = self.collection(collection)?;
        let shown = ids.iter().filter(|id| !hidden.contains(id));
        let found = shown.filter_map(|id| c.1.get(id).cloned()).collect();
        let racing = std::mem::take(&mut self.after_fetch);
        self.apply(collection, racing)?;
        Ok(found)
    }
    fn delete_points(&mut self, collection: &str, ids: &[PointId]) -> Result<()> {
        let c = self.collection(collection)?;
        for id in ids {
            c.1.remove(id);
        }
        self.record(collection, ids.iter().cloned());
        Ok(())
    }
    fn count(&mut self, collection: &str) -> Result<u64> {
        Ok(self.collection(collection)?.1.len() as u64)
    }
    fn search(
        &mut self,
        collection: &str,
        vector: &str,
        query: &[f32],
        k: u32,
    ) -> Result<Vec<ScoredPoint>> {
        let c = self.collection(collection)?;
        let mut scored: Vec<ScoredPoint> =
            c.1.values()
                .filter_map(|p| {
                    let v = p.vectors.iter().find(|v| v.name == vector)?;
                    let VectorData::Dense(d) = &v.data else { return None };
                    let score = d.iter().zip(query).map(|(a, b)| a * b).sum();
                    Some(ScoredPoint { id: p.id.clone(), score })
                })
                .collect();
        scored.sort_by(|a, b| b.score.total_cmp(&a.score));
        scored.truncate(k as usize);
        Ok(scored)
    }
    fn drop_collection(&mut self, name: &str) -> Result<()> {
        self.collections.remove(name);
        self.feeds.remove(name);
        Ok(())
    }
    fn open_native_snapshot<'a>(&'a mut self, _: &str) -> Result<Box<dyn ByteReader + 'a>> {
        Err(Error::unsupported("memory database has no native snapshots"))
    }
    fn current_token(&mut self, collection: &str) -> Result<Option<String>> {
        self.collection(collection)?;
        Ok(self.feeds.get(collection).map(|(inc, ids)| format!("mem:{inc}:{}", ids.len())))
    }
    fn open_changes<'a>(
        &'a mut self,
        collection: &str,
        since: &str,
    ) -> Result<Option<Box<dyn ChangeCursor + 'a>>> {
        self.collection(collection)?;
        let points = &self.collections[collection].1;
        let Some((inc, ids)) = self.feeds.get(collection) else { return Ok(None) };
        let from = since
            .strip_prefix(&format!("mem:{inc}:"))
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n <= ids.len());
        let Some(from) = from else { return Ok(None) };
        let touched: std::collections::BTreeSet<&PointId> = ids[from..].iter().collect();
        let changes: Vec<Change> = touched
            .into_iter()
            .map(|id| match points.get(id) {
                Some(p) => Change::Upsert(p.clone()),
                None => Change::Delete(id.clone()),
            })
            .collect();
        let end = format!("mem:{inc}:{}", ids.len());
        Ok(Some(Box::new(MemoryChanges { changes: changes.into_iter(), end, count: points.len() })))
    }
    fn restore_native_snapshot<'a>(
        &'a mut self,
        _: &str,
        _: u64,
    ) -> Result<Box<dyn ByteWriter + 'a>> {
        Err(Error::unsupported("memory database has no native snapshots"))
    }
}
