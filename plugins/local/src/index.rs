//! The dense vector indexes of a collection: one usearch HNSW file per dense
//! field, built and searched through the host's `vector-index` import.
//!
//! Files (beside `points.log`):
//! - `<field>.usearch` (`default.usearch` for the unnamed field): usearch's
//!   own format; usearch key `k` is slot `k` of the table below;
//! - `index-keys.bin`: `count:u64 slot*`, `slot := id | 0x02`: key -> point
//!   id (canonical ids; `0x02` marks a key freed by a delete). A point keeps
//!   its key while it lives (replacing it re-adds its vectors under the same
//!   key); new points get the next key (`count`); keys are never reused
//!   until a full rebuild renumbers the live ids in store order;
//! - `index-state.json`: `{"epoch":E,"log_len":N}`, the `points.log` (its
//!   random epoch and its length) the indexes reflect. Written last: indexes
//!   are current exactly when it matches the log.
//!
//! When the saved (or in-memory) indexes reflect a prefix of the current log
//! (same epoch, shorter length), they are brought up to date incrementally:
//! the ids of the frames after that prefix are read from the log, their old
//! keys removed and their current vectors added. A different epoch
//! (compaction), missing or unreadable files, or a change touching more than
//! half of the collection make a full rebuild instead.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use vdr_plugin_sdk::{
    Error, Result, ScoredPoint, VectorData, VectorIndex, VectorKind, io_error, log,
};

use crate::codec::{self, IdKey};
use crate::collection::{Collection, write_atomically};
use crate::records::Location;
use crate::schema::index_file_name;

const KEYS_FILE: &str = "index-keys.bin";
const STATE_FILE: &str = "index-state.json";
/// Vector components buffered per field before one `add` call to the host.
const ADD_BATCH_FLOATS: usize = 4 << 20;
/// Points read from the log per call (see `records::read_many`).
const READ_CHUNK_POINTS: usize = 4096;

/// Which log the indexes were built from.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Debug)]
pub struct LogState {
    epoch: u64,
    log_len: u64,
}

/// Indexes in the host's memory, for one log state.
pub struct LoadedIndexes {
    state: LogState,
    /// usearch key <-> point id.
    keys: KeyMap,
    /// Dense field name -> its index.
    fields: HashMap<String, VectorIndex>,
    /// Whether the files on disk hold these indexes.
    saved: bool,
}

/// The usearch key of every indexed point, and back.
struct KeyMap {
    /// Key -> id; `None` for a key freed by a delete.
    slots: Vec<Option<IdKey>>,
    ids: HashMap<IdKey, u64>,
}

impl KeyMap {
    fn from_slots(slots: Vec<Option<IdKey>>) -> Option<KeyMap> {
        let mut ids = HashMap::with_capacity(slots.len());
        for (key, id) in slots.iter().enumerate() {
            if let Some(id) = id
                && ids.insert(id.clone(), key as u64).is_some()
            {
                return None;
            }
        }
        Some(KeyMap { slots, ids })
    }

    /// The key of `id`, assigning the next one if it has none.
    fn key_of(&mut self, id: &IdKey) -> u64 {
        if let Some(&key) = self.ids.get(id) {
            return key;
        }
        let key = self.slots.len() as u64;
        self.slots.push(Some(id.clone()));
        self.ids.insert(id.clone(), key);
        key
    }

    fn free(&mut self, id: &IdKey) {
        if let Some(key) = self.ids.remove(id) {
            self.slots[key as usize] = None;
        }
    }

    fn freed(&self) -> usize {
        self.slots.len() - self.ids.len()
    }
}

fn log_state(c: &Collection) -> LogState {
    LogState { epoch: c.log.epoch(), log_len: c.log.len() }
}

/// Make the index files current (flush): compact if worthwhile, then build
/// and save unless the saved files already match the log.
pub fn flush(c: &mut Collection) -> Result<()> {
    c.compact_if_worthwhile()?;
    ensure_loaded(c)?;
    let loaded = c.indexes.as_mut().expect("just loaded");
    if !loaded.saved {
        save(&c.dir, loaded)?;
        loaded.saved = true;
    }
    c.checkpoint();
    Ok(())
}

/// The `k` nearest points to `query` in the dense field `field`.
pub fn search(c: &mut Collection, field: &str, query: &[f32], k: u32) -> Result<Vec<ScoredPoint>> {
    let Some(spec) = c.schema.vectors.iter().find(|f| f.name == field) else {
        return Err(Error::InvalidInput(format!("no vector field {field:?} in {}", c.schema.name)));
    };
    if spec.kind != VectorKind::Dense {
        return Err(Error::InvalidInput(format!("vector field {field:?} is not dense")));
    }
    if query.len() != spec.dimension as usize {
        return Err(Error::InvalidInput(format!(
            "query has {} components, field {field:?} has {}",
            query.len(),
            spec.dimension
        )));
    }
    ensure_loaded(c)?;
    let loaded = c.indexes.as_mut().expect("just loaded");
    if !loaded.saved {
        // Persisting is a cache here: on a read-only grant it fails, and the
        // in-memory index still answers.
        match save(&c.dir, loaded) {
            Ok(()) => loaded.saved = true,
            Err(e) => log::warn(format!("search index of {} not saved: {e}", c.schema.name)),
        }
    }
    let index = &loaded.fields[field];
    let size = index.size();
    if size == 0 || k == 0 {
        return Ok(Vec::new());
    }
    let hits = index.search(query, k.min(size.min(u32::MAX as u64) as u32))?;
    hits.into_iter()
        .map(|(key, distance)| {
            let id =
                loaded.keys.slots.get(key as usize).and_then(Option::as_ref).ok_or_else(|| {
                    Error::Internal(format!("index of {field:?} returned unknown key {key}"))
                })?;
            Ok(ScoredPoint { id: id.to_point_id(), score: distance })
        })
        .collect()
}

/// Have `c.indexes` match the log: keep, update incrementally (from memory
/// or the saved files), or build.
fn ensure_loaded(c: &mut Collection) -> Result<()> {
    let now = log_state(c);
    if c.indexes.as_ref().is_some_and(|l| l.state == now) {
        return Ok(());
    }
    let earlier = c.indexes.take().or_else(|| load_saved(c));
    let loaded = match earlier {
        Some(mut l) if l.state.epoch == now.epoch && l.state.log_len <= now.log_len => {
            match update(c, &mut l, now) {
                Ok(true) => l,
                Ok(false) => build(c, now)?,
                Err(e) => {
                    log::warn(format!("rebuilding the indexes of {}: {e}", c.schema.name));
                    drop(l);
                    build(c, now)?
                }
            }
        }
        _ => build(c, now)?,
    };
    c.indexes = Some(loaded);
    Ok(())
}

/// The saved indexes, for whatever log state they record; `None` when
/// missing or unreadable (they are then rebuilt).
fn load_saved(c: &Collection) -> Option<LoadedIndexes> {
    let state: LogState = serde_json::from_slice(&fs::read(c.dir.join(STATE_FILE)).ok()?).ok()?;
    if state.epoch != c.log.epoch() || state.log_len > c.log.len() {
        return None;
    }
    let slots = codec::decode_slot_list(&fs::read(c.dir.join(KEYS_FILE)).ok()?).ok()?;
    let keys = KeyMap::from_slots(slots)?;
    let mut fields = HashMap::new();
    for field in c.schema.vectors.iter().filter(|f| f.kind == VectorKind::Dense) {
        let path = guest_path(&c.dir.join(index_file_name(&field.name))).ok()?;
        fields.insert(field.name.clone(), VectorIndex::load(&path).ok()?);
    }
    Some(LoadedIndexes { state, keys, fields, saved: true })
}

/// Bring `l` from its log state to `now` (same epoch, longer log): remove
/// the keys of the points written since, add their current vectors.
/// `Ok(false)` when a full rebuild is the better deal (most of the
/// collection changed, or most keys are freed ones).
fn update(c: &Collection, l: &mut LoadedIndexes, now: LogState) -> Result<bool> {
    if l.state == now {
        return Ok(true);
    }
    let changed: BTreeSet<IdKey> = c.log.ids_between(l.state.log_len, now.log_len)?;
    let live = c.live.len();
    if changed.len() * 2 > live || l.keys.freed() > live.max(1024) {
        return Ok(false);
    }
    let dense: Vec<_> = c.schema.vectors.iter().filter(|f| f.kind == VectorKind::Dense).collect();
    if dense.iter().any(|f| !l.fields.contains_key(&f.name)) {
        return Ok(false);
    }
    // Old keys out first (a replaced point keeps its key and is re-added).
    let removed: Vec<u64> = changed.iter().filter_map(|id| l.keys.ids.get(id).copied()).collect();
    if !removed.is_empty() {
        for field in &dense {
            l.fields[&field.name].remove(&removed)?;
        }
    }
    let mut entries = Vec::with_capacity(changed.len());
    for id in &changed {
        match c.live.get(id) {
            Some(&location) => entries.push((l.keys.key_of(id), location)),
            None => l.keys.free(id),
        }
    }
    let names: Vec<&str> = dense.iter().map(|f| f.name.as_str()).collect();
    add_vectors(c, &names, &entries, |i, keys, vectors| l.fields[names[i]].add(keys, vectors))?;
    l.state = now;
    l.saved = false;
    Ok(true)
}

/// Build every dense field's index from the live points, keyed in store
/// order.
fn build(c: &Collection, now: LogState) -> Result<LoadedIndexes> {
    let dense: Vec<_> = c.schema.vectors.iter().filter(|f| f.kind == VectorKind::Dense).collect();
    let indexes: Vec<VectorIndex> =
        dense.iter().map(|f| VectorIndex::new(f.dimension, f.metric)).collect();
    let mut slots = Vec::with_capacity(c.live.len());
    let mut entries = Vec::with_capacity(c.live.len());
    for (slot, (id, &location)) in c.live.iter().enumerate() {
        slots.push(Some(id.clone()));
        entries.push((slot as u64, location));
    }
    let names: Vec<&str> = dense.iter().map(|f| f.name.as_str()).collect();
    add_vectors(c, &names, &entries, |i, keys, vectors| indexes[i].add(keys, vectors))?;
    let keys = KeyMap::from_slots(slots).expect("live ids are distinct");
    let fields = dense.iter().map(|f| f.name.clone()).zip(indexes).collect();
    Ok(LoadedIndexes { state: now, keys, fields, saved: false })
}

/// Add the dense vectors (of the fields named `dense`) of the points at
/// `entries` under their keys: the log is read a chunk of points at a time
/// and `add(field, keys, vectors)` called in batches of about
/// [`ADD_BATCH_FLOATS`] components.
fn add_vectors(
    c: &Collection,
    dense: &[&str],
    entries: &[(u64, Location)],
    add: impl Fn(usize, &[u64], &[f32]) -> Result<()>,
) -> Result<()> {
    let mut pending: Vec<(Vec<u64>, Vec<f32>)> = vec![(Vec::new(), Vec::new()); dense.len()];
    for chunk in entries.chunks(READ_CHUNK_POINTS) {
        let locations: Vec<Location> = chunk.iter().map(|&(_, location)| location).collect();
        for (&(key, _), point) in chunk.iter().zip(c.read_many(&locations)?) {
            for v in point.vectors {
                let (Some(i), VectorData::Dense(d)) =
                    (dense.iter().position(|f| *f == v.name), v.data)
                else {
                    continue;
                };
                let (keys, vectors) = &mut pending[i];
                keys.push(key);
                vectors.extend_from_slice(&d);
                if vectors.len() >= ADD_BATCH_FLOATS {
                    add(i, keys, vectors)?;
                    keys.clear();
                    vectors.clear();
                }
            }
        }
    }
    for (i, (keys, vectors)) in pending.iter().enumerate() {
        if !keys.is_empty() {
            add(i, keys, vectors)?;
        }
    }
    Ok(())
}

/// Write the index files, then the key table, then the state (the commit).
fn save(dir: &Path, loaded: &LoadedIndexes) -> Result<()> {
    let _ = fs::remove_file(dir.join(STATE_FILE));
    for (name, index) in &loaded.fields {
        let path = dir.join(index_file_name(name));
        let temp = path.with_extension("usearch.tmp");
        index.save(&guest_path(&temp)?)?;
        fs::rename(&temp, &path)
            .map_err(|e| io_error(&format!("replacing {}", path.display()), &e))?;
    }
    let mut keys = Vec::new();
    codec::encode_slot_list(&loaded.keys.slots, &mut keys);
    write_atomically(&dir.join(KEYS_FILE), &keys)?;
    let state = serde_json::to_vec(&loaded.state).expect("state serialises");
    write_atomically(&dir.join(STATE_FILE), &state)
}

/// A path as the host sees it for this plugin (`/data/...`).
fn guest_path(path: &Path) -> Result<String> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::Internal(format!("path {} is not UTF-8", path.display())))
}
