//! Snapshot manifests: what one backup run saw, per collection.

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use vdr_model::{CollectionSchema, Error, ObjectStore, Result, list_all};

use crate::backup::SourceInfo;
use crate::crypto::DataKey;
use crate::format::{self, Id, from_json, snapshot_key, to_json};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Snapshot {
    pub id: Id,
    pub time: DateTime<Utc>,
    pub hostname: String,
    pub tags: Vec<String>,
    pub parent: Option<Id>,
    pub collections: Vec<CollectionEntry>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CollectionEntry {
    pub name: String,
    pub schema: CollectionSchema,
    pub source: SourceInfo,
    pub records: u64,
    /// `canonical::SetDigest` hex over the per-point digests.
    pub content_digest: String,
    /// Length of the canonical point stream (sum of the blob lengths).
    pub stream_length: u64,
    /// The stream's chunks, in order (stored in binary after the JSON, not in it).
    #[serde(skip)]
    pub blobs: Vec<BlobRef>,
    /// Verification baseline (golden queries, ground truth), filled by observers.
    pub baseline: Option<serde_json::Value>,
    /// What the next backup needs to read only what changed since this one
    /// (databases with a change feed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangeState>,
}

/// A collection's change-feed position when its stream was read, and the
/// stream's record map (see `recmap`), stored as blobs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ChangeState {
    /// The database plugin's opaque token (encrypted with the manifest).
    pub token: String,
    pub map: Vec<BlobRef>,
}

impl CollectionEntry {
    /// Every blob the entry needs: its stream's, then its record map's.
    pub fn all_blobs(&self) -> impl Iterator<Item = &BlobRef> {
        self.blobs.iter().chain(self.changes.iter().flat_map(|c| c.map.iter()))
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BlobRef {
    pub id: Id,
    pub length: u32,
    /// False only for the second and later pieces of a point longer than the
    /// chunker's `max_size` (the chunk does not begin with a frame).
    pub starts_record: bool,
}

pub const SNAPSHOT_MAGIC: &[u8; 8] = b"VDRSNAP2";
const CONTINUES: u32 = 1 << 31;

/// `magic | json_len:u32 | json | per collection: count:u32 | count x (id:[32] length:u32)`;
/// bit 31 of `length` set = the chunk does not begin with a frame.
pub fn encode(snapshot: &Snapshot) -> Vec<u8> {
    let json = to_json(snapshot);
    let n: usize = snapshot.collections.iter().map(|c| 4 + c.blobs.len() * 36).sum();
    let mut out = Vec::with_capacity(12 + json.len() + n);
    out.extend_from_slice(SNAPSHOT_MAGIC);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    for c in &snapshot.collections {
        out.extend_from_slice(&(c.blobs.len() as u32).to_le_bytes());
        for b in &c.blobs {
            out.extend_from_slice(&b.id.0);
            let flag = if b.starts_record { 0 } else { CONTINUES };
            out.extend_from_slice(&(b.length | flag).to_le_bytes());
        }
    }
    out
}

pub fn decode(what: &str, b: &[u8]) -> Result<Snapshot> {
    let bad = || format::corrupt(what, "snapshot is truncated");
    if b.len() < 12 || &b[..8] != SNAPSHOT_MAGIC {
        return Err(format::corrupt(what, "snapshot has no magic"));
    }
    let json_len = u32::from_le_bytes(b[8..12].try_into().unwrap()) as usize;
    let json = b.get(12..12 + json_len).ok_or_else(bad)?;
    let mut snap: Snapshot = from_json(what, json)?;
    let mut pos = 12 + json_len;
    for c in &mut snap.collections {
        let n =
            u32::from_le_bytes(b.get(pos..pos + 4).ok_or_else(bad)?.try_into().unwrap()) as usize;
        pos += 4;
        let list = b.get(pos..pos + n * 36).ok_or_else(bad)?;
        pos += n * 36;
        c.blobs = list
            .chunks_exact(36)
            .map(|e| {
                let l = u32::from_le_bytes(e[32..36].try_into().unwrap());
                BlobRef {
                    id: Id(e[..32].try_into().unwrap()),
                    length: l & !CONTINUES,
                    starts_record: l & CONTINUES == 0,
                }
            })
            .collect();
    }
    if pos != b.len() {
        return Err(format::corrupt(what, "trailing bytes after the snapshot"));
    }
    Ok(snap)
}

/// A snapshot without its blob lists, for listings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SnapshotInfo {
    pub id: Id,
    pub time: DateTime<Utc>,
    pub hostname: String,
    pub tags: Vec<String>,
    pub parent: Option<Id>,
    /// (collection, record count)
    pub collections: Vec<(String, u64)>,
    pub stream_bytes: u64,
}

impl Snapshot {
    pub fn info(&self) -> SnapshotInfo {
        SnapshotInfo {
            id: self.id,
            time: self.time,
            hostname: self.hostname.clone(),
            tags: self.tags.clone(),
            parent: self.parent,
            collections: self.collections.iter().map(|c| (c.name.clone(), c.records)).collect(),
            stream_bytes: self.collections.iter().map(|c| c.stream_length).sum(),
        }
    }
    pub fn collection(&self, name: &str) -> Option<&CollectionEntry> {
        self.collections.iter().find(|c| c.name == name)
    }

    /// [`Snapshot::collection`], or a not-found error naming the snapshot.
    pub fn entry(&self, name: &str) -> Result<&CollectionEntry> {
        self.collection(name).ok_or_else(|| {
            Error::not_found(format!("snapshot {} holds no collection {name:?}", self.id.short()))
        })
    }
}

pub fn save(store: &dyn ObjectStore, key: &DataKey, snapshot: &Snapshot) -> Result<()> {
    store.put(&snapshot_key(&snapshot.id), &key.seal(&encode(snapshot)), true)
}

pub fn load(store: &dyn ObjectStore, key: &DataKey, id: &Id) -> Result<Snapshot> {
    let name = snapshot_key(id);
    let sealed = store.get(&name, None, None)?;
    let snap = decode(&name, &key.open(&name, &sealed)?)?;
    if snap.id != *id {
        return Err(format::corrupt(&name, "holds the manifest of another snapshot"));
    }
    Ok(snap)
}

pub fn list_ids(store: &dyn ObjectStore) -> Result<Vec<Id>> {
    Ok(list_all(store, format::SNAPSHOTS)?.iter().filter_map(|o| Id::from_key(&o.key)).collect())
}

/// Readable snapshots (oldest first) and unreadable ones with their errors.
pub type Loaded = (Vec<Snapshot>, Vec<(Id, Error)>);

/// Every readable snapshot, oldest first, and the unreadable ones apart.
pub fn load_all(store: &dyn ObjectStore, key: &DataKey) -> Result<Loaded> {
    load_some(store, key, &list_ids(store)?)
}

/// How many snapshots `load_newest` reads at a time (in parallel).
pub const NEWEST_BATCH: usize = 2;

/// The newest snapshots by the store's modification time, read a few at a
/// time until `enough` holds for those read (oldest first, as `load_all`).
/// A backup needs its parents, not a long history: reading every snapshot
/// (each lists all its blobs) made each backup slower than the last. A
/// store that reports no modification times gets every snapshot read.
pub fn load_newest(
    store: &dyn ObjectStore,
    key: &DataKey,
    enough: impl Fn(&[Snapshot]) -> bool,
) -> Result<Loaded> {
    let listed = list_all(store, format::SNAPSHOTS)?;
    let mut listed: Vec<(Id, u64)> =
        listed.iter().filter_map(|o| Id::from_key(&o.key).map(|id| (id, o.modified_ms))).collect();
    if listed.iter().any(|(_, ms)| *ms == 0) {
        let ids: Vec<Id> = listed.iter().map(|(id, _)| *id).collect();
        return load_some(store, key, &ids);
    }
    listed.sort_by_key(|&(id, ms)| std::cmp::Reverse((ms, id)));
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    let mut from = 0;
    while from < listed.len() {
        let mut to = (from + NEWEST_BATCH).min(listed.len());
        if !good.is_empty() && enough(&good) {
            // Stores keep coarse times (S3: seconds): whatever shares the
            // last time read may be newer than what was read.
            let last = listed[from - 1].1;
            to = from + listed[from..].iter().take_while(|(_, ms)| *ms == last).count();
            if to == from {
                break;
            }
        }
        let ids: Vec<Id> = listed[from..to].iter().map(|(id, _)| *id).collect();
        let (g, b) = load_some(store, key, &ids)?;
        good.extend(g);
        bad.extend(b);
        good.sort_by_key(|s: &Snapshot| (s.time, s.id));
        from = to;
    }
    Ok((good, bad))
}

pub fn load_some(store: &dyn ObjectStore, key: &DataKey, ids: &[Id]) -> Result<Loaded> {
    let loaded: Vec<(Id, Result<Snapshot>)> =
        ids.par_iter().map(|id| (*id, load(store, key, id))).collect();
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (id, r) in loaded {
        match r {
            Ok(s) => good.push(s),
            Err(e) if e.kind == vdr_model::ErrorKind::Unavailable => return Err(e),
            Err(e) => bad.push((id, e)),
        }
    }
    good.sort_by_key(|s| (s.time, s.id));
    Ok((good, bad))
}

/// Resolve `latest`, a full id, or a unique id prefix. With `collection`,
/// `latest` means the newest snapshot holding that collection.
pub fn resolve(snapshots: &[Snapshot], spec: &str, collection: Option<&str>) -> Result<Id> {
    let holds = |s: &&Snapshot| collection.is_none_or(|c| s.collection(c).is_some());
    if spec == "latest" {
        return snapshots
            .iter()
            .filter(holds)
            .max_by_key(|s| (s.time, s.id))
            .map(|s| s.id)
            .ok_or_else(|| match collection {
                Some(c) => Error::not_found(format!("no snapshot holds collection {c:?}")),
                None => Error::not_found("the repository holds no snapshot"),
            });
    }
    let spec_lower = spec.to_ascii_lowercase();
    let matches: Vec<&Snapshot> =
        snapshots.iter().filter(|s| s.id.hex().starts_with(&spec_lower)).collect();
    match matches.as_slice() {
        [] => Err(Error::not_found(format!("no snapshot with id {spec:?}"))),
        [one] => Ok(one.id),
        _ => Err(Error::invalid(format!(
            "snapshot id prefix {spec:?} is ambiguous ({} snapshots match); give more digits",
            matches.len()
        ))),
    }
}
