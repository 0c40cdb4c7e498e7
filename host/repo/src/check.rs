//! `check`: structure always; with `read_data`, every byte of the chosen packs.

use rayon::prelude::*;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use vdr_model::{Result, list_all};

use crate::format::{self, CONFIG, Config, Id, from_json, pack_key};
use crate::index::{self, Index};
use crate::keys;
use crate::pack;
use crate::repository::Repository;
use crate::snapshot;

#[derive(Clone, Debug, PartialEq)]
pub enum ReadData {
    None,
    All,
    /// About this percentage of the packs, chosen at random.
    Percent(f64),
    /// Part `n` of `t` (1-based): packs whose id's first byte is `n-1` mod `t`.
    Part {
        n: u32,
        t: u32,
    },
}

#[derive(Clone, Debug)]
pub struct CheckOptions {
    pub read_data: ReadData,
}

#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    pub object: String,
    pub message: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckReport {
    pub snapshots: usize,
    pub index_files: usize,
    pub packs: usize,
    pub blobs: usize,
    pub packs_read: usize,
    pub blobs_read: usize,
    /// Things that make data unreadable or the repository inconsistent.
    pub problems: Vec<Problem>,
    /// Harmless findings: packs no index names (garbage for prune), stale locks.
    pub notes: Vec<String>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
    fn problem(&mut self, object: impl Into<String>, message: impl std::fmt::Display) {
        self.problems.push(Problem { object: object.into(), message: message.to_string() });
    }
}

impl Repository {
    pub fn check(&self, opts: &CheckOptions) -> Result<CheckReport> {
        let _lock = self.lock(false, "check")?;
        let store = self.store.as_ref();
        let mut report = CheckReport::default();

        match store
            .get(CONFIG, None, None)
            .and_then(|c| self.key.open(CONFIG, &c))
            .and_then(|p| from_json::<Config>(CONFIG, &p))
        {
            Ok(c) if c == self.config => {}
            Ok(_) => report.problem(CONFIG, "differs from the config read at open"),
            Err(e) => report.problem(CONFIG, e),
        }
        for id in keys::list_ids(store)? {
            let name = format::key_key(&id);
            match keys::read_info(store, &self.key, &id) {
                Err(e) => report.problem(format::key_info_key(&id), e),
                Ok(info) => match store.get(&name, None, None) {
                    Err(e) => report.problem(&name, e),
                    Ok(bytes) if blake3::hash(&bytes).to_hex().as_str() != info.key_file_digest => {
                        report.problem(
                            &name,
                            "key file bytes differ from the digest recorded when it was written",
                        )
                    }
                    Ok(_) => {}
                },
            }
        }
        for l in self.locks()? {
            if let Some(e) = l.error {
                report.problem(format::lock_key(&l.id), e);
            } else if let Some(why) = l.stale {
                report.notes.push(format!(
                    "lock {} is stale ({why}); `vdr unlock` removes it",
                    l.id.short()
                ));
            }
        }

        let (snaps, bad_snaps) = snapshot::load_all(store, &self.key)?;
        for (id, e) in bad_snaps {
            report.problem(format::snapshot_key(&id), e);
        }
        let (index, bad_index) = index::load(store, &self.key)?;
        for (id, e) in bad_index {
            report.problem(format::index_key(&id), e);
        }
        report.snapshots = snaps.len();
        report.index_files = index.files.len();
        report.packs = index.packs.len();
        report.blobs = index.blobs.len();
        for s in &snaps {
            for c in &s.collections {
                let missing = c.all_blobs().filter(|b| !index.blobs.contains_key(&b.id)).count();
                if missing > 0 {
                    report.problem(
                        format::snapshot_key(&s.id),
                        format!("{missing} blobs of collection {:?} are in no index", c.name),
                    );
                }
                let length: u64 = c.blobs.iter().map(|b| b.length as u64).sum();
                if length != c.stream_length {
                    report.problem(
                        format::snapshot_key(&s.id),
                        format!("blob lengths of {:?} don't add up", c.name),
                    );
                }
            }
        }

        let stored: HashMap<Id, u64> = list_all(store, format::DATA)?
            .into_iter()
            .filter_map(|o| Id::from_key(&o.key).map(|id| (id, o.size)))
            .collect();
        let mut indexed: Vec<&Id> = index.packs.keys().collect();
        indexed.sort();
        for id in &indexed {
            let want = index.packs[id].size;
            match stored.get(id) {
                None => report.problem(pack_key(id), "is indexed but missing from the store"),
                Some(&size) if size != want => {
                    report.problem(pack_key(id), format!("is {size} bytes, the index says {want}"))
                }
                Some(_) => {}
            }
        }
        let unindexed = stored.keys().filter(|id| !index.packs.contains_key(id)).count();
        if unindexed > 0 {
            report.notes.push(format!("{unindexed} packs are in no index (left by interrupted backups); `vdr prune` removes them"));
        }

        let chosen: Vec<Id> = indexed
            .into_iter()
            .copied()
            .filter(|id| stored.contains_key(id))
            .filter(|id| match &opts.read_data {
                ReadData::None => false,
                ReadData::All => true,
                ReadData::Percent(p) => rand::random::<f64>() * 100.0 < *p,
                ReadData::Part { n, t } => {
                    (id.0[0] as u32) % t.max(&1) == (n.max(&1) - 1) % t.max(&1)
                }
            })
            .collect();
        let results: Vec<(usize, Vec<Problem>)> =
            chosen.par_iter().map(|id| read_pack(self, &index, id)).collect();
        report.packs_read = chosen.len();
        for (blobs, problems) in results {
            report.blobs_read += blobs;
            report.problems.extend(problems);
        }
        Ok(report)
    }
}

/// Read a whole pack: its hash, its header against the index, every blob.
fn read_pack(repo: &Repository, index: &Index, id: &Id) -> (usize, Vec<Problem>) {
    let name = pack_key(id);
    let mut problems = Vec::new();
    let mut problem =
        |object: &str, message: String| problems.push(Problem { object: object.into(), message });
    let bytes = match repo.store.get(&name, None, None) {
        Ok(b) => b,
        Err(e) => {
            problem(&name, e.to_string());
            return (0, problems);
        }
    };
    if Id(*blake3::hash(&bytes).as_bytes()) != *id {
        problem(&name, "content does not match the pack's name (bytes changed)".into());
    }
    let indexed = &index.packs[id].blobs;
    let plain = match repo.key.open(&name, &bytes) {
        Ok(p) => p,
        Err(e) => {
            problem(&name, e.to_string());
            return (0, problems);
        }
    };
    let chunks = (plain.len() as u64).div_ceil(pack::CHUNK).max(1);
    let payload_offset = bytes.len() as u64 - plain.len() as u64 - 16 * chunks;
    if payload_offset != index.packs[id].payload_offset as u64 {
        problem(&name, "the index gives the wrong payload offset".into());
    }
    match pack::parse_table(&name, &plain) {
        Ok(table) => {
            let a: HashSet<_> =
                table.iter().map(|e| (e.id, e.offset, e.length, e.raw_length)).collect();
            let b: HashSet<_> =
                indexed.iter().map(|e| (e.id, e.offset, e.length, e.raw_length)).collect();
            if a != b {
                problem(&name, "pack table and index disagree".into());
            }
        }
        Err(e) => problem(&name, e.to_string()),
    }
    let mut read = 0;
    for e in indexed {
        let what = format!("blob {} in pack {name}", e.id.short());
        let end = e.offset as usize + e.length as usize;
        let Some(stored) = plain.get(e.offset as usize..end) else {
            problem(&what, "lies beyond the end of the pack".into());
            continue;
        };
        read += 1;
        if let Err(err) = pack::open_blob(&repo.key, &what, e, stored) {
            problem(&what, err.to_string());
        }
    }
    (read, problems)
}
