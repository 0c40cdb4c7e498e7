//! The index: which pack holds each blob. Many immutable index files, each
//! listing a few packs; the in-memory [`Index`] is their union.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use vdr_model::{ObjectStore, Result, list_all};

use crate::crypto::DataKey;
use crate::format::{self, Id, IdMap, corrupt, index_key};
use crate::pack::{ENTRY_LEN, PackEntry};

pub const INDEX_MAGIC: &[u8; 8] = b"VDRIDX3\0";
/// Index files written before chunks carried their digest lanes.
const INDEX_MAGIC_V2: &[u8; 8] = b"VDRIDX2\0";
/// A v3 entry: a v2 entry, flags:u32 (bit 0: lanes present), lanes:[u64;4].
const ENTRY_LEN_V3: usize = ENTRY_LEN + 4 + 32;

/// One index file's body (JSON, encrypted).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IndexFile {
    pub packs: Vec<IndexedPack>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexedPack {
    pub id: Id,
    pub size: u64,
    /// Where the pack's first STREAM chunk starts (age header + nonce).
    pub payload_offset: u32,
    pub blobs: Vec<PackEntry>,
}

#[derive(Clone, Copy, Debug)]
pub struct BlobLocation {
    pub pack: Id,
    pub entry: PackEntry,
}

#[derive(Default)]
pub struct Index {
    pub blobs: IdMap<BlobLocation>,
    pub packs: HashMap<Id, IndexedPack>,
    /// The index files this was loaded from.
    pub files: HashSet<Id>,
}

impl Index {
    pub fn add_file(&mut self, file_id: Id, file: IndexFile) {
        self.files.insert(file_id);
        for pack in file.packs {
            self.add_pack(pack);
        }
    }
    pub fn add_pack(&mut self, pack: IndexedPack) {
        for e in &pack.blobs {
            let here = BlobLocation { pack: pack.id, entry: *e };
            // Any copy will do; one that knows its digest share is better.
            self.blobs
                .entry(e.id)
                .and_modify(|old| {
                    if old.entry.lanes.is_none() && e.lanes.is_some() {
                        *old = here;
                    }
                })
                .or_insert(here);
        }
        self.packs.insert(pack.id, pack);
    }
}

/// Read one index file.
pub fn read_file(store: &dyn ObjectStore, key: &DataKey, id: &Id) -> Result<IndexFile> {
    let name = index_key(id);
    let sealed = store.get(&name, None, None)?;
    decode(&name, &key.open(&name, &sealed)?)
}

/// `magic | packs:u32 | per pack: id:[32] size:u64 payload_offset:u32 blobs:u32
/// | blobs x (id:[32] offset:u32 length:u32 raw_length:u32 flags:u32 lanes:[u64;4])`
pub fn encode(file: &IndexFile) -> Vec<u8> {
    let n: usize = file.packs.iter().map(|p| 48 + p.blobs.len() * ENTRY_LEN_V3).sum();
    let mut out = Vec::with_capacity(12 + n);
    out.extend_from_slice(INDEX_MAGIC);
    out.extend_from_slice(&(file.packs.len() as u32).to_le_bytes());
    for p in &file.packs {
        out.extend_from_slice(&p.id.0);
        out.extend_from_slice(&p.size.to_le_bytes());
        out.extend_from_slice(&p.payload_offset.to_le_bytes());
        out.extend_from_slice(&(p.blobs.len() as u32).to_le_bytes());
        for e in &p.blobs {
            out.extend_from_slice(&e.id.0);
            out.extend_from_slice(&(e.offset as u32).to_le_bytes());
            out.extend_from_slice(&e.length.to_le_bytes());
            out.extend_from_slice(&e.raw_length.to_le_bytes());
            out.extend_from_slice(&u32::from(e.lanes.is_some()).to_le_bytes());
            for lane in e.lanes.unwrap_or_default() {
                out.extend_from_slice(&lane.to_le_bytes());
            }
        }
    }
    out
}

pub fn decode(what: &str, b: &[u8]) -> Result<IndexFile> {
    let bad = || corrupt(what, "index file is truncated");
    let entry_len = match b.get(..8) {
        Some(m) if m == INDEX_MAGIC => ENTRY_LEN_V3,
        Some(m) if m == INDEX_MAGIC_V2 => ENTRY_LEN,
        _ => return Err(corrupt(what, "index file has no magic")),
    };
    if b.len() < 12 {
        return Err(bad());
    }
    let u32_at = |p: usize| -> Result<u32> {
        Ok(u32::from_le_bytes(b.get(p..p + 4).ok_or_else(bad)?.try_into().unwrap()))
    };
    let n = u32_at(8)? as usize;
    let mut pos = 12;
    let mut packs = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let head = b.get(pos..pos + 48).ok_or_else(bad)?;
        let id = Id(head[..32].try_into().unwrap());
        let size = u64::from_le_bytes(head[32..40].try_into().unwrap());
        let payload_offset = u32::from_le_bytes(head[40..44].try_into().unwrap());
        let count = u32::from_le_bytes(head[44..48].try_into().unwrap()) as usize;
        pos += 48;
        let body = b.get(pos..pos + count * entry_len).ok_or_else(bad)?;
        pos += count * entry_len;
        let word = |e: &[u8], at: usize| u32::from_le_bytes(e[at..at + 4].try_into().unwrap());
        let blobs = body
            .chunks_exact(entry_len)
            .map(|e| PackEntry {
                id: Id(e[..32].try_into().unwrap()),
                offset: word(e, 32) as u64,
                length: word(e, 36),
                raw_length: word(e, 40),
                lanes: (entry_len == ENTRY_LEN_V3 && word(e, 44) & 1 == 1).then(|| {
                    std::array::from_fn(|i| {
                        u64::from_le_bytes(e[48 + i * 8..56 + i * 8].try_into().unwrap())
                    })
                }),
            })
            .collect();
        packs.push(IndexedPack { id, size, payload_offset, blobs });
    }
    if pos != b.len() {
        return Err(corrupt(what, "trailing bytes after the index"));
    }
    Ok(IndexFile { packs })
}

/// Write an index file; its name is random so concurrent writers never collide.
pub fn write_file(store: &dyn ObjectStore, key: &DataKey, file: &IndexFile) -> Result<Id> {
    let id = Id::random();
    store.put(&index_key(&id), &key.seal(&encode(file)), true)?;
    Ok(id)
}

pub fn list_files(store: &dyn ObjectStore) -> Result<Vec<Id>> {
    Ok(list_all(store, format::INDEX)?.iter().filter_map(|o| Id::from_key(&o.key)).collect())
}

/// Load every index file in parallel; unreadable files are returned apart.
pub fn load(
    store: &dyn ObjectStore,
    key: &DataKey,
) -> Result<(Index, Vec<(Id, vdr_model::Error)>)> {
    load_files(store, key, &list_files(store)?)
}

pub fn load_files(
    store: &dyn ObjectStore,
    key: &DataKey,
    ids: &[Id],
) -> Result<(Index, Vec<(Id, vdr_model::Error)>)> {
    let read: Vec<(Id, Result<IndexFile>)> =
        ids.par_iter().map(|id| (*id, read_file(store, key, id))).collect();
    let mut index = Index::default();
    // One allocation for every entry instead of a rehash at each doubling.
    let entries = read.iter().flat_map(|(_, r)| r.iter()).flat_map(|f| &f.packs);
    index.blobs.reserve(entries.map(|p| p.blobs.len()).sum());
    let mut bad = Vec::new();
    for (id, r) in read {
        match r {
            Ok(f) => index.add_file(id, f),
            Err(e) if e.kind == vdr_model::ErrorKind::Unavailable => return Err(e),
            Err(e) => bad.push((id, e)),
        }
    }
    Ok((index, bad))
}
