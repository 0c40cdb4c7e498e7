//! One collection: its directory, schema, record log and id -> location map.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use vdr_plugin_sdk::{
    CollectionSchema, Error, Point, PointId, Result, VectorData, VectorKind, io_error, log,
};

use crate::codec::{self, IdKey};
use crate::index::LoadedIndexes;
use crate::records::{self, Location, Log, TAG_DELETE, TAG_UPSERT};
use crate::schema;

pub const SCHEMA_FILE: &str = "schema.json";
pub const LOG_FILE: &str = "points.log";

/// Compact at flush once this many bytes are dead and they outweigh the
/// live ones.
const COMPACT_MIN_DEAD_BYTES: u64 = 1 << 20;
/// Log bytes after the checkpoint below which a flush leaves it be.
const CHECKPOINT_TAIL: u64 = 1 << 20;
/// Frames buffered before one write during compaction.
const COMPACT_CHUNK_BYTES: usize = 8 << 20;
/// Points read from the old log per call while compacting.
const COMPACT_READ_POINTS: usize = 4096;

pub struct Collection {
    pub dir: PathBuf,
    pub schema: CollectionSchema,
    pub log: Log,
    pub live: BTreeMap<IdKey, Location>,
    dead_bytes: u64,
    /// The log length `live.bin` covers (0: none), so flushes skip
    /// rewriting a current one.
    checkpointed: u64,
    /// Indexes loaded or built for search, valid for the log state they
    /// record; kept across writes, which `index` then applies incrementally.
    pub indexes: Option<LoadedIndexes>,
}

impl Collection {
    /// Create the files of a new collection in the existing, empty `dir`.
    pub fn create(dir: &Path, schema: CollectionSchema) -> Result<Collection> {
        let log = Log::create(&dir.join(LOG_FILE))?;
        // schema.json is written last: a directory without it is an
        // unfinished create, ignored by listings and redone by the next one.
        write_atomically(&dir.join(SCHEMA_FILE), schema::to_json(&schema).as_bytes())?;
        Ok(Collection {
            dir: dir.to_path_buf(),
            schema,
            log,
            live: BTreeMap::new(),
            dead_bytes: 0,
            checkpointed: 0,
            indexes: None,
        })
    }

    pub fn open(dir: &Path) -> Result<Collection> {
        let text = fs::read_to_string(dir.join(SCHEMA_FILE))
            .map_err(|e| io_error(&format!("reading {}/{SCHEMA_FILE}", dir.display()), &e))?;
        let schema = schema::from_json(&text)?;
        let (log, scan) = Log::open(&dir.join(LOG_FILE))?;
        Ok(Collection {
            dir: dir.to_path_buf(),
            schema,
            log,
            live: scan.live,
            dead_bytes: scan.dead_bytes,
            checkpointed: scan.checkpointed,
            indexes: None,
        })
    }

    /// Checkpoint the id -> location map (`records`) when there is none or
    /// the frames after it have grown past `CHECKPOINT_TAIL` and an eighth
    /// of the log: the whole map (21+ bytes a record) is rewritten each time,
    /// and a replication follower flushes every round for a few changes that
    /// an open scans in no time. Only a cache: a failure is logged, and the
    /// next open scans more of the log.
    pub fn checkpoint(&mut self) {
        let tail = self.log.len().saturating_sub(self.checkpointed);
        if tail == 0 || (self.checkpointed > 0 && tail < CHECKPOINT_TAIL.max(self.log.len() / 8)) {
            return;
        }
        match records::write_checkpoint(&self.log, &self.live, self.dead_bytes) {
            Ok(()) => self.checkpointed = self.log.len(),
            Err(e) => log::warn(format!("checkpoint of {} not written: {e}", self.schema.name)),
        }
    }

    pub fn count(&self) -> u64 {
        self.live.len() as u64
    }

    /// Insert or replace points. The batch is validated as a whole first, so
    /// an invalid point leaves the collection unchanged.
    pub fn upsert(&mut self, mut points: Vec<Point>) -> Result<()> {
        for point in &mut points {
            self.validate(point)?;
            codec::normalize(point)?;
        }
        let mut frames = Vec::new();
        let mut placed = Vec::with_capacity(points.len());
        let mut body = Vec::new();
        for point in &points {
            body.clear();
            codec::encode_point(point, &mut body);
            let at = records::push_frame(&mut frames, TAG_UPSERT, &body);
            placed.push((IdKey::from(&point.id), at, body.len() as u32));
        }
        let start = self.log.append_durably(&frames)?;
        for (id, at, len) in placed {
            let location = Location { offset: start + at as u64, len };
            if let Some(old) = self.live.insert(id, location) {
                self.dead_bytes += frame_len(old);
            }
        }
        Ok(())
    }

    /// Delete points; absent ids are ignored (and not logged).
    pub fn delete(&mut self, ids: &[PointId]) -> Result<()> {
        let mut frames = Vec::new();
        let mut body = Vec::new();
        let mut doomed = Vec::new();
        for id in ids.iter().map(IdKey::from) {
            if self.live.contains_key(&id) && !doomed.contains(&id) {
                body.clear();
                id.encode(&mut body);
                records::push_frame(&mut frames, TAG_DELETE, &body);
                doomed.push(id);
            }
        }
        if doomed.is_empty() {
            return Ok(());
        }
        self.log.append_durably(&frames)?;
        self.dead_bytes += frames.len() as u64;
        for id in doomed {
            if let Some(old) = self.live.remove(&id) {
                self.dead_bytes += frame_len(old);
            }
        }
        Ok(())
    }

    /// The stored points at `locations`, in that order, read in few calls.
    pub fn read_many(&self, locations: &[Location]) -> Result<Vec<Point>> {
        self.log.read_many(locations)?.iter().map(|body| codec::decode_point(body)).collect()
    }

    pub fn fetch(&self, ids: &[PointId]) -> Result<Vec<Point>> {
        let locations: Vec<Location> =
            ids.iter().filter_map(|id| self.live.get(&IdKey::from(id)).copied()).collect();
        self.read_many(&locations)
    }

    /// Rewrite the log with only the live points, in id order, when enough
    /// of it is dead. Returns whether it did.
    pub fn compact_if_worthwhile(&mut self) -> Result<bool> {
        let live_bytes = self.log.len().saturating_sub(self.dead_bytes);
        if self.dead_bytes < COMPACT_MIN_DEAD_BYTES || self.dead_bytes < live_bytes {
            return Ok(false);
        }
        let path = self.dir.join(LOG_FILE);
        records::replace_with(&path, |new_log| {
            let mut frames = Vec::new();
            let locations: Vec<Location> = self.live.values().copied().collect();
            for chunk in locations.chunks(COMPACT_READ_POINTS) {
                for body in self.log.read_many(chunk)? {
                    records::push_frame(&mut frames, TAG_UPSERT, &body);
                    if frames.len() >= COMPACT_CHUNK_BYTES {
                        new_log.append(&frames)?;
                        frames.clear();
                    }
                }
            }
            new_log.append(&frames).map(drop)
        })?;
        sync_dir(&self.dir);
        let (log, scan) = Log::open(&path)?;
        self.log = log;
        self.live = scan.live;
        self.dead_bytes = scan.dead_bytes;
        self.checkpointed = scan.checkpointed;
        self.indexes = None;
        Ok(true)
    }

    /// Check a point against the schema: known fields of the right kind,
    /// dense dimensions, well-formed sparse vectors.
    fn validate(&self, point: &Point) -> Result<()> {
        let id = IdKey::from(&point.id).to_token();
        let bad = |msg: String| Err(Error::InvalidInput(format!("point {id}: {msg}")));
        for (i, v) in point.vectors.iter().enumerate() {
            if point.vectors[..i].iter().any(|w| w.name == v.name) {
                return bad(format!("vector {:?} given twice", v.name));
            }
            let Some(field) = self.schema.vectors.iter().find(|f| f.name == v.name) else {
                return bad(format!("no vector field {:?} in the schema", v.name));
            };
            let dim = field.dimension as usize;
            match (&v.data, field.kind) {
                (VectorData::Dense(d), VectorKind::Dense) if d.len() != dim => {
                    return bad(format!(
                        "vector {:?} has {} components, not {dim}",
                        v.name,
                        d.len()
                    ));
                }
                (VectorData::Multi(rows), VectorKind::Multi) => {
                    if let Some(r) = rows.iter().find(|r| r.len() != dim) {
                        return bad(format!(
                            "multi-vector {:?} has a row of {} components, not {dim}",
                            v.name,
                            r.len()
                        ));
                    }
                }
                (VectorData::Sparse(s), VectorKind::Sparse)
                    if s.indices.len() != s.values.len() =>
                {
                    return bad(format!(
                        "sparse vector {:?}: indices and values differ in length",
                        v.name
                    ));
                }
                (VectorData::Dense(_), VectorKind::Dense)
                | (VectorData::Sparse(_), VectorKind::Sparse) => {}
                _ => return bad(format!("vector {:?} is not of the field's kind", v.name)),
            }
        }
        Ok(())
    }
}

fn frame_len(location: Location) -> u64 {
    4 + 4 + 1 + location.len as u64
}

/// Write a whole file crash-safely: temp file, fsync, rename, sync the dir.
pub fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let temp = path.with_extension("tmp");
    let ctx = |e: &std::io::Error| io_error(&format!("writing {}", path.display()), e);
    let _ = fs::remove_file(&temp);
    let written = fs::File::create_new(&temp).and_then(|mut f| {
        std::io::Write::write_all(&mut f, data)?;
        f.sync_all()
    });
    written.and_then(|()| fs::rename(&temp, path)).map_err(|e| {
        let _ = fs::remove_file(&temp);
        ctx(&e)
    })?;
    if let Some(dir) = path.parent() {
        sync_dir(dir);
    }
    Ok(())
}

/// Make renames in `dir` durable; best effort (not every WASI host lets a
/// directory be opened).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
