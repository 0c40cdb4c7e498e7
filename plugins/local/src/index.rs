//! The dense vector indexes of a collection: one usearch HNSW file per dense
//! field, built and searched through the host's `vector-index` import.
//!
//! Files (beside `points.log`):
//! - `<field>.usearch` (`default.usearch` for the unnamed field): usearch's
//!   own format; usearch key `k` is slot `k` of the table below;
//! - `index-keys.bin`: `count:u64 id*` (canonical ids): slot -> point id, the
//!   live ids in store order at build time (so string ids get u64 keys);
//! - `index-state.json`: `{"epoch":E,"log_len":N}`, the `points.log` (its
//!   random epoch and its length) the indexes reflect. Written last: indexes
//!   are current exactly when it matches the log.
//!
//! Indexes are rebuilt from the log whenever they are stale (simple and
//! obviously consistent; an incremental update is a possible optimisation).

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use vdr_plugin_sdk::{
    Error, Result, ScoredPoint, VectorData, VectorIndex, VectorKind, io_error, log,
};

use crate::codec::{self, IdKey};
use crate::collection::{Collection, write_atomically};
use crate::schema::index_file_name;

const KEYS_FILE: &str = "index-keys.bin";
const STATE_FILE: &str = "index-state.json";
/// Vector components buffered per field before one `add` call to the host.
const ADD_BATCH_FLOATS: usize = 4 << 20;

/// Which log the indexes were built from.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Debug)]
pub struct LogState {
    epoch: u64,
    log_len: u64,
}

/// Indexes in the host's memory, for one log state.
pub struct LoadedIndexes {
    state: LogState,
    /// Slot -> point id.
    keys: Vec<IdKey>,
    /// Dense field name -> its index.
    fields: HashMap<String, VectorIndex>,
    /// Whether the files on disk hold these indexes.
    saved: bool,
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
            let id = loaded.keys.get(key as usize).ok_or_else(|| {
                Error::Internal(format!("index of {field:?} returned unknown key {key}"))
            })?;
            Ok(ScoredPoint { id: id.to_point_id(), score: distance })
        })
        .collect()
}

/// Have `c.indexes` match the log: keep, load from disk, or build.
fn ensure_loaded(c: &mut Collection) -> Result<()> {
    let now = log_state(c);
    if c.indexes.as_ref().is_some_and(|l| l.state == now) {
        return Ok(());
    }
    c.indexes = None;
    let loaded = match load_saved(c, now) {
        Some(loaded) => loaded,
        None => build(c, now)?,
    };
    c.indexes = Some(loaded);
    Ok(())
}

/// The saved indexes if they are for `now`; `None` when stale, missing or
/// unreadable (they are then rebuilt).
fn load_saved(c: &Collection, now: LogState) -> Option<LoadedIndexes> {
    let state: LogState = serde_json::from_slice(&fs::read(c.dir.join(STATE_FILE)).ok()?).ok()?;
    if state != now {
        return None;
    }
    let keys = codec::decode_id_list(&fs::read(c.dir.join(KEYS_FILE)).ok()?).ok()?;
    let mut fields = HashMap::new();
    for field in c.schema.vectors.iter().filter(|f| f.kind == VectorKind::Dense) {
        let path = guest_path(&c.dir.join(index_file_name(&field.name))).ok()?;
        fields.insert(field.name.clone(), VectorIndex::load(&path).ok()?);
    }
    Some(LoadedIndexes { state: now, keys, fields, saved: true })
}

/// Build every dense field's index from the live points, in store order.
fn build(c: &Collection, now: LogState) -> Result<LoadedIndexes> {
    let dense: Vec<_> = c.schema.vectors.iter().filter(|f| f.kind == VectorKind::Dense).collect();
    let indexes: Vec<VectorIndex> =
        dense.iter().map(|f| VectorIndex::new(f.dimension, f.metric)).collect();
    let mut pending: Vec<(Vec<u64>, Vec<f32>)> = vec![(Vec::new(), Vec::new()); dense.len()];
    let mut keys = Vec::with_capacity(c.live.len());
    for (slot, (id, &location)) in c.live.iter().enumerate() {
        keys.push(id.clone());
        for v in c.read(location)?.vectors {
            let (Some(i), VectorData::Dense(d)) =
                (dense.iter().position(|f| f.name == v.name), v.data)
            else {
                continue;
            };
            let (batch_keys, batch_vectors) = &mut pending[i];
            batch_keys.push(slot as u64);
            batch_vectors.extend_from_slice(&d);
            if batch_vectors.len() >= ADD_BATCH_FLOATS {
                indexes[i].add(batch_keys, batch_vectors)?;
                batch_keys.clear();
                batch_vectors.clear();
            }
        }
    }
    for (index, (batch_keys, batch_vectors)) in indexes.iter().zip(&pending) {
        if !batch_keys.is_empty() {
            index.add(batch_keys, batch_vectors)?;
        }
    }
    let fields = dense.iter().map(|f| f.name.clone()).zip(indexes).collect();
    Ok(LoadedIndexes { state: now, keys, fields, saved: false })
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
    codec::encode_id_list(&loaded.keys, &mut keys);
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
