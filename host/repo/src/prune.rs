//! Prune: delete packs no snapshot needs, and replace the index.
//!
//! Mark phase under a shared lock (backups keep running): read snapshots and
//! index, list packs, choose candidates. Commit phase under the exclusive
//! lock (short): re-read snapshots and index files written since the mark,
//! spare any candidate they need, write one new index, delete the old index
//! files, then the packs. A crash at any point leaves either duplicate index
//! entries or unindexed packs, both harmless.

use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use vdr_model::{Result, list_all};

use crate::format::{self, Id, pack_key};
use crate::index::{self, IndexFile, IndexedPack};
use crate::repository::Repository;
use crate::snapshot;

#[derive(Clone, Debug)]
pub struct PruneOptions {
    /// Packs no index names are deleted only once older than this (a backup
    /// may still be about to index them).
    pub unindexed_grace: Duration,
    pub dry_run: bool,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions { unindexed_grace: Duration::from_secs(30 * 60), dry_run: false }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct PruneReport {
    pub packs_deleted: usize,
    pub unindexed_packs_deleted: usize,
    pub bytes_freed: u64,
    pub packs_kept: usize,
    /// Packs kept because a snapshot written during the prune uses them.
    pub packs_spared: usize,
    pub index_files_replaced: usize,
    pub dry_run: bool,
}

impl Repository {
    pub fn prune(&self) -> Result<PruneReport> {
        self.prune_with(&PruneOptions::default())
    }

    pub fn prune_with(&self, opts: &PruneOptions) -> Result<PruneReport> {
        let store = self.store.as_ref();
        // Mark.
        let shared = self.lock(false, "prune (mark)")?;
        let (snaps, bad) = snapshot::load_all(store, &self.key)?;
        if let Some((id, e)) = bad.first() {
            return Err(vdr_model::Error::new(
                e.kind,
                format!(
                    "snapshot {} is unreadable ({e}); refusing to prune what it may need",
                    id.short()
                ),
            ));
        }
        let seen_snaps: HashSet<Id> = snaps.iter().map(|s| s.id).collect();
        let used: HashSet<Id> = snaps
            .iter()
            .flat_map(|s| s.collections.iter().flat_map(|c| c.all_blobs().map(|b| b.id)))
            .collect();
        let (index, bad_index) = index::load(store, &self.key)?;
        if let Some((id, e)) = bad_index.first() {
            return Err(vdr_model::Error::new(
                e.kind,
                format!("index file {} is unreadable ({e}); run `vdr check`", id.short()),
            ));
        }
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let stored: HashMap<Id, (u64, u64)> = list_all(store, format::DATA)?
            .into_iter()
            .filter_map(|o| Id::from_key(&o.key).map(|id| (id, (o.size, o.modified_ms))))
            .collect();
        let mut candidates: HashMap<Id, u64> = index
            .packs
            .values()
            .filter(|p| !p.blobs.iter().any(|b| used.contains(&b.id)))
            .map(|p| (p.id, p.size))
            .collect();
        let grace_ms = opts.unindexed_grace.as_millis() as u64;
        let unindexed: HashSet<Id> = stored
            .iter()
            .filter(|(id, (_, modified))| {
                !index.packs.contains_key(id) && now_ms.saturating_sub(*modified) >= grace_ms
            })
            .map(|(id, _)| *id)
            .collect();
        for id in &unindexed {
            candidates.insert(*id, stored[id].0);
        }
        drop(shared);
        let mut report = PruneReport { dry_run: opts.dry_run, ..Default::default() };
        if candidates.is_empty() {
            report.packs_kept = index.packs.len();
            return Ok(report);
        }

        // Commit: no backup runs while we hold this.
        let _exclusive = self.lock(true, "prune (commit)")?;
        let (new_snaps, _) = snapshot::load_some(
            store,
            &self.key,
            &snapshot::list_ids(store)?
                .into_iter()
                .filter(|id| !seen_snaps.contains(id))
                .collect::<Vec<_>>(),
        )?;
        let all_files = index::list_files(store)?;
        let new_files: Vec<Id> =
            all_files.iter().filter(|f| !index.files.contains(f)).copied().collect();
        let (new_index, bad_new) = index::load_files(store, &self.key, &new_files)?;
        if let Some((id, e)) = bad_new.first() {
            return Err(vdr_model::Error::new(
                e.kind,
                format!("index file {} is unreadable ({e})", id.short()),
            ));
        }
        let newly_used: HashSet<Id> = new_snaps
            .iter()
            .flat_map(|s| s.collections.iter().flat_map(|c| c.all_blobs().map(|b| b.id)))
            .collect();
        let before = candidates.len();
        candidates.retain(|id, _| {
            let indexed_now = new_index.packs.contains_key(id);
            let needed = index
                .packs
                .get(id)
                .is_some_and(|p| p.blobs.iter().any(|b| newly_used.contains(&b.id)));
            !(needed || (unindexed.contains(id) && indexed_now))
        });
        report.packs_spared = before - candidates.len();
        let mut merged: Vec<IndexedPack> =
            index.packs.into_values().chain(new_index.packs.into_values()).collect();
        merged.retain(|p| !candidates.contains_key(&p.id));
        merged.sort_by_key(|p| p.id);
        merged.dedup_by_key(|p| p.id);
        report.packs_kept = merged.len();
        report.unindexed_packs_deleted =
            candidates.keys().filter(|id| unindexed.contains(id)).count();
        report.packs_deleted = candidates.len() - report.unindexed_packs_deleted;
        report.bytes_freed = candidates.values().sum();
        report.index_files_replaced = all_files.len();
        if opts.dry_run || candidates.is_empty() {
            return Ok(report);
        }
        // Bounded index files (restic-like), so no single object grows without limit.
        for chunk in merged.chunks(4096) {
            index::write_file(store, &self.key, &IndexFile { packs: chunk.to_vec() })?;
        }
        for f in &all_files {
            store.delete(&format::index_key(f))?;
        }
        for id in candidates.keys() {
            store.delete(&pack_key(id))?;
        }
        Ok(report)
    }
}
