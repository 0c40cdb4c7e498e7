//! Restore: manifest -> blobs (parallel ranged reads) -> age -> zstd -> points -> database.

use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashSet;
use std::time::Instant;
use vdr_model::canonical::{self, SetDigest};
use vdr_model::{ByteRange, Database, Error, ErrorKind, Point, Result};

use crate::format::{Id, pack_key};
use crate::index::{self, Index};
use crate::pack;
use crate::repository::Repository;
use crate::snapshot::{self, CollectionEntry};

/// Blobs fetched and decoded in parallel per window; bounds memory.
const WINDOW: usize = 8;

pub struct RestoreOptions<'a> {
    /// (collection in the snapshot, target name); empty = every collection under its own name.
    pub collections: Vec<(String, String)>,
    /// Replace an existing non-empty target: it is dropped and recreated, so
    /// the result is exactly the snapshot (no leftover records).
    pub force: bool,
    /// Read, decrypt, decompress, parse and check everything; write nothing.
    pub dry_run: bool,
    /// Points per import batch.
    pub batch_size: usize,
    /// Collections whose stream is at most this long are read and verified
    /// completely before the target is touched; larger ones are verified as
    /// they stream (a damaged blob then stops the restore part-way).
    pub verify_first_limit: u64,
    pub progress: Option<crate::backup::ProgressFn<'a, RestoreProgress>>,
}

impl Default for RestoreOptions<'_> {
    fn default() -> Self {
        RestoreOptions {
            collections: Vec::new(),
            force: false,
            dry_run: false,
            batch_size: 1000,
            verify_first_limit: 256 << 20,
            progress: None,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RestoreProgress {
    pub collection: String,
    pub records: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CollectionRestore {
    pub source: String,
    pub target: String,
    pub records: u64,
    pub bytes: u64,
    pub content_digest: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct RestoreSummary {
    pub snapshot: Id,
    pub dry_run: bool,
    pub collections: Vec<CollectionRestore>,
    pub bytes: u64,
    pub duration_secs: f64,
}

impl Repository {
    /// Restore collections of `snapshot` (an id, prefix or `latest`) into `db`.
    pub fn restore(
        &self,
        snapshot: &str,
        db: &mut dyn Database,
        mut opts: RestoreOptions<'_>,
    ) -> Result<RestoreSummary> {
        let started = Instant::now();
        let _lock = self.lock(false, "restore")?;
        let snap = self.load_snapshot(snapshot, opts.collections.first().map(|c| c.0.as_str()))?;
        let pairs: Vec<(String, String)> = if opts.collections.is_empty() {
            snap.collections.iter().map(|c| (c.name.clone(), c.name.clone())).collect()
        } else {
            opts.collections.clone()
        };
        let mut entries = Vec::new();
        for (source, target) in &pairs {
            let entry = snap.collection(source).ok_or_else(|| {
                Error::not_found(format!(
                    "snapshot {} holds no collection {source:?}",
                    snap.id.short()
                ))
            })?;
            entries.push((entry, target.clone()));
        }
        let (index, _) = index::load(self.store.as_ref(), &self.key)?;
        // Cheap refusals first: nothing is read or written if one fails.
        for (entry, target) in &entries {
            self.check_structure(&index, entry)?;
            if !opts.dry_run && !opts.force && target_has_points(db, target)? {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "collection {target:?} exists and is not empty; use --force to replace it, or --as NEW"
                    ),
                ));
            }
        }
        let mut done = Vec::new();
        for (entry, target) in entries {
            done.push(self.restore_collection(&index, entry, &target, db, &mut opts)?);
        }
        Ok(RestoreSummary {
            snapshot: snap.id,
            dry_run: opts.dry_run,
            bytes: done.iter().map(|c| c.bytes).sum(),
            collections: done,
            duration_secs: started.elapsed().as_secs_f64(),
        })
    }

    pub(crate) fn load_snapshot(
        &self,
        spec: &str,
        collection: Option<&str>,
    ) -> Result<snapshot::Snapshot> {
        if let Ok(id) = Id::parse(spec) {
            return snapshot::load(self.store.as_ref(), &self.key, &id);
        }
        let (snaps, _) = snapshot::load_all(self.store.as_ref(), &self.key)?;
        let id = snapshot::resolve(&snaps, spec, collection)?;
        Ok(snaps.into_iter().find(|s| s.id == id).expect("resolved from this list"))
    }

    /// Every blob is indexed and every pack it needs exists with the indexed size.
    fn check_structure(&self, index: &Index, entry: &CollectionEntry) -> Result<()> {
        let mut packs = HashSet::new();
        for b in &entry.blobs {
            let loc = index.blobs.get(&b.id).ok_or_else(|| {
                Error::not_found(format!(
                    "blob {} of collection {:?} is in no index: the repository is damaged (run `vdr check`)",
                    b.id.short(),
                    entry.name
                ))
            })?;
            packs.insert(loc.pack);
        }
        let packs: Vec<Id> = packs.into_iter().collect();
        packs.par_iter().try_for_each(|p| {
            let meta = self.store.stat(&pack_key(p)).map_err(|e| {
                Error::new(
                    e.kind,
                    format!("pack {} needed by {:?} is unreadable: {e}", p.short(), entry.name),
                )
            })?;
            let want = index.packs.get(p).map(|i| i.size).unwrap_or(0);
            if meta.size != want {
                return Err(crate::format::corrupt(
                    &pack_key(p),
                    format!("is {} bytes, the index says {want}", meta.size),
                ));
            }
            Ok(())
        })
    }

    /// Fetch and decode the stream's blobs in order, `WINDOW` at a time in parallel.
    pub(crate) fn for_each_blob(
        &self,
        index: &Index,
        entry: &CollectionEntry,
        mut consume: impl FnMut(Vec<u8>) -> Result<()>,
    ) -> Result<()> {
        std::thread::scope(|s| {
            let (tx, rx) = crossbeam_channel::bounded::<Result<Vec<u8>>>(WINDOW);
            s.spawn(move || {
                for window in entry.blobs.chunks(WINDOW) {
                    let decoded: Vec<Result<Vec<u8>>> =
                        window.par_iter().map(|b| self.read_blob(index, &b.id)).collect();
                    for d in decoded {
                        let failed = d.is_err();
                        if tx.send(d).is_err() || failed {
                            return;
                        }
                    }
                }
            });
            for blob in rx {
                consume(blob?)?;
            }
            Ok(())
        })
    }

    pub(crate) fn read_blob(&self, index: &Index, id: &Id) -> Result<Vec<u8>> {
        let loc = index
            .blobs
            .get(id)
            .ok_or_else(|| Error::not_found(format!("blob {} is in no index", id.short())))?;
        let name = pack_key(&loc.pack);
        let what = format!("blob {} in pack {}", id.short(), name);
        let range = ByteRange { start: loc.entry.offset, length: loc.entry.length as u64 };
        let sealed = self.store.get(&name, Some(range), None)?;
        if sealed.len() != loc.entry.length as usize {
            return Err(crate::format::corrupt(&what, "pack is shorter than the index says"));
        }
        pack::open_blob(&self.key, &what, &loc.entry, &sealed)
    }

    fn restore_collection(
        &self,
        index: &Index,
        entry: &CollectionEntry,
        target: &str,
        db: &mut dyn Database,
        opts: &mut RestoreOptions<'_>,
    ) -> Result<CollectionRestore> {
        let verify_first = opts.dry_run || entry.stream_length <= opts.verify_first_limit;
        let mut held: Vec<Vec<u8>> = Vec::new();
        if verify_first {
            let mut frames = FrameDecoder::default();
            self.for_each_blob(index, entry, |blob| {
                frames.push(&blob, |_| Ok(()))?;
                if !opts.dry_run {
                    held.push(blob);
                }
                Ok(())
            })?;
            frames.finish(entry)?;
            if opts.dry_run {
                return Ok(summary(entry, target, &frames));
            }
        }
        if target_exists(db, target)? {
            db.drop_collection(target)?;
        }
        let mut schema = entry.schema.clone();
        schema.name = target.to_string();
        db.create_collection(&schema)?;
        let mut frames = FrameDecoder::default();
        let mut batch: Vec<Point> = Vec::with_capacity(opts.batch_size);
        let batch_size = opts.batch_size.max(1);
        let mut import =
            |blob: Vec<u8>, db: &mut dyn Database, opts: &mut RestoreOptions<'_>| -> Result<()> {
                frames.push(&blob, |p| {
                    batch.push(p);
                    if batch.len() >= batch_size {
                        db.import_batch(target, std::mem::take(&mut batch))?;
                    }
                    Ok(())
                })?;
                if let Some(progress) = opts.progress.as_mut() {
                    progress(&RestoreProgress {
                        collection: target.into(),
                        records: frames.records,
                        bytes: frames.bytes,
                    });
                }
                Ok(())
            };
        if verify_first {
            for blob in held {
                import(blob, db, opts)?;
            }
        } else {
            self.for_each_blob(index, entry, |blob| import(blob, db, opts)).map_err(|e| {
                Error::new(
                    e.kind,
                    format!(
                        "{e}; collection {target:?} is only partly restored: re-run with --force"
                    ),
                )
            })?;
        }
        if !batch.is_empty() {
            db.import_batch(target, batch)?;
        }
        db.flush(target)?;
        frames.finish(entry)?;
        Ok(summary(entry, target, &frames))
    }
}

fn summary(entry: &CollectionEntry, target: &str, frames: &FrameDecoder) -> CollectionRestore {
    CollectionRestore {
        source: entry.name.clone(),
        target: target.into(),
        records: frames.records,
        bytes: frames.bytes,
        content_digest: frames.digest.hex(),
    }
}

fn target_exists(db: &mut dyn Database, name: &str) -> Result<bool> {
    Ok(db.list_collections()?.iter().any(|c| c == name))
}

fn target_has_points(db: &mut dyn Database, name: &str) -> Result<bool> {
    Ok(target_exists(db, name)? && db.count(name)? > 0)
}

/// Splits a chunked canonical stream back into points, digesting them.
#[derive(Default)]
pub(crate) struct FrameDecoder {
    carry: Vec<u8>,
    pub records: u64,
    pub bytes: u64,
    pub digest: SetDigest,
}

impl FrameDecoder {
    pub fn push(&mut self, chunk: &[u8], mut f: impl FnMut(Point) -> Result<()>) -> Result<()> {
        self.bytes += chunk.len() as u64;
        self.carry.extend_from_slice(chunk);
        let mut pos = 0;
        while self.carry.len() - pos >= 4 {
            let len = u32::from_le_bytes(self.carry[pos..pos + 4].try_into().unwrap()) as usize;
            if self.carry.len() - pos - 4 < len {
                break;
            }
            let body = &self.carry[pos + 4..pos + 4 + len];
            self.digest.add(blake3::hash(body).as_bytes());
            self.records += 1;
            f(canonical::decode(body)?)?;
            pos += 4 + len;
        }
        self.carry.drain(..pos);
        Ok(())
    }
    /// The stream ended: nothing left over, and count and digest match the manifest.
    pub fn finish(&self, entry: &CollectionEntry) -> Result<()> {
        let what = format!("stream of collection {:?}", entry.name);
        if !self.carry.is_empty() {
            return Err(crate::format::corrupt(&what, "ends in the middle of a point"));
        }
        if self.records != entry.records {
            return Err(crate::format::corrupt(
                &what,
                format!("holds {} points, manifest says {}", self.records, entry.records),
            ));
        }
        if self.digest.hex() != entry.content_digest {
            return Err(crate::format::corrupt(&what, "content digest differs from the manifest"));
        }
        Ok(())
    }
}
