//! The index: which pack holds each blob. Many immutable index files, each
//! listing a few packs; the in-memory [`Index`] is their union.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use vdr_model::{ObjectStore, Result, list_all};

use crate::crypto::DataKey;
use crate::format::{self, Id, from_json, index_key, to_json};
use crate::pack::PackEntry;

/// One index file's body (JSON, encrypted).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IndexFile {
    pub packs: Vec<IndexedPack>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IndexedPack {
    pub id: Id,
    pub size: u64,
    pub blobs: Vec<PackEntry>,
}

#[derive(Clone, Copy, Debug)]
pub struct BlobLocation {
    pub pack: Id,
    pub entry: PackEntry,
}

#[derive(Default)]
pub struct Index {
    pub blobs: HashMap<Id, BlobLocation>,
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
            self.blobs.entry(e.id).or_insert(BlobLocation { pack: pack.id, entry: *e });
        }
        self.packs.insert(pack.id, pack);
    }
}

/// Read one index file.
pub fn read_file(store: &dyn ObjectStore, key: &DataKey, id: &Id) -> Result<IndexFile> {
    let name = index_key(id);
    let sealed = store.get(&name, None, None)?;
    from_json(&name, &key.open(&name, &sealed)?)
}

/// Write an index file; its name is random so concurrent writers never collide.
pub fn write_file(store: &dyn ObjectStore, key: &DataKey, file: &IndexFile) -> Result<Id> {
    let id = Id::random();
    store.put(&index_key(&id), &key.seal(&to_json(file)), true)?;
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
