//! Restore: manifest -> segments of blobs -> workers (ranged reads per run of
//! blobs in one pack, age, decompression, id check, frame parsing, digests)
//! -> in-order import on the caller's thread, overlapped with the workers.

use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashSet;
use std::time::Instant;
use vdr_model::canonical;
use vdr_model::{Database, Error, ErrorKind, Point, Result};

use crate::backup::add_digest;
use crate::crypto::ChunkFrames;
use crate::format::{Id, pack_key};
use crate::index::{self, Index};
use crate::pack;
use crate::repository::Repository;
use crate::snapshot::{self, CollectionEntry};

/// Stream bytes per unit of restore work (a run of whole points): a unit
/// ends at the first pack-run break after this many bytes.
const UNIT: u64 = 8 << 20;
/// A unit ends at the next record start after this many bytes, runs or not
/// (bounds memory when run breaks never meet record starts).
const MAX_UNIT: u64 = 24 << 20;
/// Blobs of one pack closer than this are fetched with one ranged read.
const GAP: u64 = 256 << 10;
/// Pack readers (decrypted age headers) each worker keeps open.
const OPEN_PACKS: usize = 8;

/// Points decoded from one segment of a stream.
pub(crate) struct Decoded {
    pub points: Vec<Point>,
    pub bytes: u64,
    pub lanes: [u64; 4],
}

/// "blob <id> in pack <key>", for messages about one blob.
struct BlobIn<'a> {
    blob: &'a Id,
    pack: &'a Id,
}

impl std::fmt::Display for BlobIn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "blob {} in pack {}", self.blob.short(), pack_key(self.pack))
    }
}

/// Blobs read back to back, with the digests of the frames that lie whole
/// in one blob and where those frames start in `data`.
struct Fetched {
    data: Vec<u8>,
    frames: Vec<(u32, [u8; 32])>,
    known: Vec<usize>,
}

/// What a stream held, to check against its manifest.
#[derive(Default)]
pub(crate) struct Totals {
    pub records: u64,
    pub bytes: u64,
    pub lanes: [u64; 4],
}

impl Totals {
    pub fn add(&mut self, d: &Decoded) {
        self.records += d.points.len() as u64;
        self.bytes += d.bytes;
        crate::backup::add_lanes(&mut self.lanes, &d.lanes);
    }
    pub fn digest(&self) -> String {
        crate::backup::lanes_hex(&self.lanes)
    }
    /// Count and digest match the manifest.
    pub fn finish(&self, entry: &CollectionEntry) -> Result<()> {
        let what = format!("stream of collection {:?}", entry.name);
        if self.records != entry.records {
            return Err(crate::format::corrupt(
                &what,
                format!("holds {} points, manifest says {}", self.records, entry.records),
            ));
        }
        if self.digest() != entry.content_digest {
            return Err(crate::format::corrupt(&what, "content digest differs from the manifest"));
        }
        Ok(())
    }
}

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
    /// The restored snapshot's time.
    pub snapshot_time: chrono::DateTime<chrono::Utc>,
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
            let entry = snap.entry(source)?;
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
            snapshot_time: snap.time,
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
                    pack_key(p),
                    format!("is {} bytes, the index says {want}", meta.size),
                ));
            }
            Ok(())
        })
    }

    /// Fetch, decode and parse the stream's points, segment by segment in
    /// parallel, delivering them in stream order. Checks count and digest.
    pub(crate) fn for_each_points(
        &self,
        index: &Index,
        entry: &CollectionEntry,
        consume: impl FnMut(Decoded) -> Result<()>,
    ) -> Result<Totals> {
        let units = segments(index, &entry.blobs, 0..entry.blobs.len());
        let totals = self.decode_units(index, &entry.blobs, units, consume)?;
        if totals.bytes != entry.stream_length {
            return Err(crate::format::corrupt(
                format!("stream of collection {:?}", entry.name),
                "is shorter than the manifest says",
            ));
        }
        totals.finish(entry)?;
        Ok(totals)
    }

    /// Fetch, decode and parse `units` of `blobs` (each a run of whole
    /// points), in parallel, delivering them in order; checks every blob's id.
    pub(crate) fn decode_units(
        &self,
        index: &Index,
        blobs: &[crate::snapshot::BlobRef],
        units: Vec<std::ops::Range<usize>>,
        mut consume: impl FnMut(Decoded) -> Result<()>,
    ) -> Result<Totals> {
        // Each unit waits on a ranged read before it decodes: more workers
        // than cores keep the CPU busy while requests to a remote store are
        // in flight (memory stays bounded by the channel capacities).
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let threads = (cores * 2).clamp(4, 8);
        let mut totals = Totals::default();
        let headers = &pack::PackHeaders::default();
        std::thread::scope(|s| -> Result<()> {
            let (job_tx, job_rx) =
                crossbeam_channel::bounded::<(usize, std::ops::Range<usize>)>(threads);
            let (out_tx, out_rx) = crossbeam_channel::bounded::<(usize, Result<Decoded>)>(threads);
            for _ in 0..threads {
                let (job_rx, out_tx) = (job_rx.clone(), out_tx.clone());
                s.spawn(move || {
                    let mut open: Vec<pack::PackReader> = Vec::new();
                    for (seq, range) in job_rx {
                        let r = self.decode_unit(index, &blobs[range], &mut open, headers);
                        let failed = r.is_err();
                        if out_tx.send((seq, r)).is_err() || failed {
                            return;
                        }
                    }
                });
            }
            drop((job_rx, out_tx));
            s.spawn(move || {
                for job in units.into_iter().enumerate() {
                    if job_tx.send(job).is_err() {
                        return;
                    }
                }
            });
            let mut waiting = std::collections::BTreeMap::new();
            let mut next = 0usize;
            let (started, mut idle) = (std::time::Instant::now(), 0f64);
            let mut t = std::time::Instant::now();
            while let Ok((seq, r)) = out_rx.recv() {
                idle += t.elapsed().as_secs_f64();
                waiting.insert(seq, r);
                while let Some(r) = waiting.remove(&next) {
                    let d = r?;
                    totals.add(&d);
                    consume(d)?;
                    next += 1;
                }
                t = std::time::Instant::now();
            }
            if crate::backup::tracing() {
                eprintln!(
                    "restore: consumer waited {idle:.2} s of {:.2} s",
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(())
        })?;
        Ok(totals)
    }

    /// Read the blobs of one unit and parse their frames.
    fn decode_unit(
        &self,
        index: &Index,
        blobs: &[crate::snapshot::BlobRef],
        open: &mut Vec<pack::PackReader>,
        headers: &pack::PackHeaders,
    ) -> Result<Decoded> {
        let Fetched { data, frames, known } = self.fetch_blobs(index, blobs, open, headers)?;
        let mut lanes = [0u64; 4];
        let mut points = Vec::with_capacity(frames.len() + 1);
        let mut rest = &data[..];
        let mut next_known = 0;
        while !rest.is_empty() {
            let len = rest
                .get(..4)
                .map(|l| u32::from_le_bytes(l.try_into().unwrap()) as usize)
                .filter(|l| rest.len() >= 4 + l)
                .ok_or_else(|| {
                    crate::format::corrupt("point stream", "ends in the middle of a point")
                })?;
            let body = &rest[4..4 + len];
            let offset = data.len() - rest.len();
            if known.get(next_known) == Some(&offset) {
                add_digest(&mut lanes, &frames[next_known].1);
                next_known += 1;
            } else {
                add_digest(&mut lanes, blake3::hash(body).as_bytes());
            }
            points.push(canonical::decode(body)?);
            rest = &rest[4 + len..];
        }
        Ok(Decoded { points, bytes: data.len() as u64, lanes })
    }

    /// The bytes of `blobs`, back to back, each checked against its id
    /// (read ~1 MiB at a time, in parallel).
    pub(crate) fn read_blobs(
        &self,
        index: &Index,
        blobs: &[crate::snapshot::BlobRef],
    ) -> Result<Vec<u8>> {
        let headers = pack::PackHeaders::default();
        let mut parts = Vec::new();
        let (mut from, mut bytes) = (0, 0u64);
        for (i, b) in blobs.iter().enumerate() {
            bytes += b.length as u64;
            if bytes >= 1 << 20 || i + 1 == blobs.len() {
                parts.push(from..i + 1);
                (from, bytes) = (i + 1, 0);
            }
        }
        let read: Vec<Vec<u8>> = parts
            .into_par_iter()
            .map(|r| Ok(self.fetch_blobs(index, &blobs[r], &mut Vec::new(), &headers)?.data))
            .collect::<Result<_>>()?;
        Ok(read.concat())
    }

    /// Read `blobs` (runs of neighbours in one pack with one ranged read
    /// each) and check each against its id, in stream order.
    fn fetch_blobs(
        &self,
        index: &Index,
        blobs: &[crate::snapshot::BlobRef],
        open: &mut Vec<pack::PackReader>,
        headers: &pack::PackHeaders,
    ) -> Result<Fetched> {
        let store = self.store.as_ref();
        let locs: Vec<_> = blobs
            .iter()
            .map(|b| {
                index.blobs.get(&b.id).copied().ok_or_else(|| {
                    Error::not_found(format!("blob {} is in no index", b.id.short()))
                })
            })
            .collect::<Result<_>>()?;
        // Fetch in pack order, so that neighbours in a pack share one ranged
        // read even when the stream visits them in another order.
        let mut order: Vec<usize> = (0..locs.len()).collect();
        order.sort_by_key(|&k| (locs[k].pack, locs[k].entry.offset));
        // Per blob: which fetched run holds it, and where.
        let mut runs: Vec<Vec<u8>> = Vec::new();
        let mut placed: Vec<(usize, usize)> = vec![(0, 0); locs.len()];
        let mut i = 0;
        while i < order.len() {
            let first = locs[order[i]];
            let mut j = i + 1;
            let mut end = first.entry.offset + first.entry.length as u64;
            while let Some(next) = order.get(j).map(|&k| locs[k])
                && next.pack == first.pack
                && next.entry.offset >= end
                && next.entry.offset - end <= GAP
            {
                end = next.entry.offset + next.entry.length as u64;
                j += 1;
            }
            let pos = match open.iter().position(|r| r.pack == first.pack) {
                Some(p) => p,
                None => {
                    let p = index.packs.get(&first.pack).ok_or_else(|| {
                        Error::not_found(format!("pack {} is in no index", first.pack.short()))
                    })?;
                    if open.len() >= OPEN_PACKS {
                        open.remove(0);
                    }
                    open.push(pack::PackReader::new(first.pack, p.size, p.payload_offset));
                    open.len() - 1
                }
            };
            let start = first.entry.offset;
            runs.push(open[pos].read(store, &self.key, headers, start, end - start)?);
            for &k in &order[i..j] {
                placed[k] = (runs.len() - 1, (locs[k].entry.offset - start) as usize);
            }
            i = j;
        }
        let mut data = Vec::with_capacity(blobs.iter().map(|b| b.length as usize).sum());
        let mut ends = Vec::with_capacity(blobs.len());
        for ((loc, b), &(run, at)) in locs.iter().zip(blobs).zip(&placed) {
            // Formatted only for an error message: this runs per blob.
            let what = BlobIn { blob: &b.id, pack: &loc.pack };
            let stored = &runs[run][at..at + loc.entry.length as usize];
            let start = data.len();
            crate::compress::decode_into(&what, stored, loc.entry.raw_length as usize, &mut data)?;
            if data.len() - start != b.length as usize {
                return Err(crate::format::corrupt(
                    what,
                    "has a different length than the snapshot says",
                ));
            }
            ends.push(data.len());
        }
        let digested = ChunkFrames::of_cuts(&data, &ends);
        // Digests of frames that lie whole in one chunk, by offset in `data`.
        let mut frames: Vec<(u32, [u8; 32])> = Vec::new();
        let mut known: Vec<usize> = Vec::new();
        let mut start = 0;
        for (i, ((loc, b), &end)) in locs.iter().zip(blobs).zip(&ends).enumerate() {
            let id = match digested.get(i) {
                Some(f) => {
                    let mut at = start;
                    for (len, _) in f {
                        known.push(at);
                        at += 4 + *len as usize;
                    }
                    frames.extend_from_slice(f);
                    self.key.frames_id(f)
                }
                None => self.key.bytes_id(&data[start..end]),
            };
            if id != b.id || id != loc.entry.id {
                let what = BlobIn { blob: &b.id, pack: &loc.pack };
                return Err(crate::format::corrupt(what, "content does not match its id"));
            }
            start = end;
        }
        Ok(Fetched { data, frames, known })
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
        let mut held: Vec<Decoded> = Vec::new();
        if verify_first {
            let dry = opts.dry_run;
            let totals = self.for_each_points(index, entry, |d| {
                if !dry {
                    held.push(d);
                }
                Ok(())
            })?;
            if opts.dry_run {
                return Ok(summary(entry, target, &totals));
            }
        }
        if target_exists(db, target)? {
            db.drop_collection(target)?;
        }
        let mut schema = entry.schema.clone();
        schema.name = target.to_string();
        db.create_collection(&schema)?;
        let batch_size = opts.batch_size.max(1);
        let mut done = Totals::default();
        let mut import =
            |d: Decoded, db: &mut dyn Database, opts: &mut RestoreOptions<'_>| -> Result<()> {
                done.add(&d);
                let mut points = d.points;
                while !points.is_empty() {
                    let rest = points.split_off(points.len().min(batch_size));
                    db.import_batch(target, std::mem::replace(&mut points, rest))?;
                }
                if let Some(progress) = opts.progress.as_mut() {
                    progress(&RestoreProgress {
                        collection: target.into(),
                        records: done.records,
                        bytes: done.bytes,
                    });
                }
                Ok(())
            };
        if verify_first {
            for d in held {
                import(d, db, opts)?;
            }
        } else {
            self.for_each_points(index, entry, |d| import(d, db, opts)).map_err(|e| {
                Error::new(
                    e.kind,
                    format!(
                        "{e}; collection {target:?} is only partly restored: re-run with --force"
                    ),
                )
            })?;
        }
        db.flush(target)?;
        done.finish(entry)?;
        Ok(summary(entry, target, &done))
    }
}

/// Cut `range` of `blobs` (whole points) into units of about `UNIT` stream
/// bytes, each beginning with a blob that starts a record. A unit ends where
/// a run of neighbouring blobs in one pack ends: backups store their ~8 MiB
/// segments as such runs, so a unit that ends on a run break is fetched with
/// one ranged read per run (a unit cut mid-run shares that run's read with
/// the next unit, and each pays for a request of its own).
pub(crate) fn segments(
    index: &Index,
    blobs: &[crate::snapshot::BlobRef],
    range: std::ops::Range<usize>,
) -> Vec<std::ops::Range<usize>> {
    let location = |i: usize| index.blobs.get(&blobs[i].id);
    let continues_run = |i: usize| match (location(i - 1), location(i)) {
        (Some(a), Some(b)) => {
            a.pack == b.pack && a.entry.offset + a.entry.length as u64 == b.entry.offset
        }
        _ => false,
    };
    let mut units = Vec::new();
    let (mut from, mut bytes) = (range.start, 0u64);
    for i in range.clone() {
        let cut = i > from
            && blobs[i].starts_record
            && (bytes >= MAX_UNIT || (bytes >= UNIT && !continues_run(i)));
        if cut {
            units.push(from..i);
            from = i;
            bytes = 0;
        }
        bytes += blobs[i].length as u64;
    }
    if from < range.end {
        units.push(from..range.end);
    }
    units
}

fn summary(entry: &CollectionEntry, target: &str, totals: &Totals) -> CollectionRestore {
    CollectionRestore {
        source: entry.name.clone(),
        target: target.into(),
        records: totals.records,
        bytes: totals.bytes,
        content_digest: totals.digest(),
    }
}

fn target_exists(db: &mut dyn Database, name: &str) -> Result<bool> {
    Ok(db.list_collections()?.iter().any(|c| c == name))
}

fn target_has_points(db: &mut dyn Database, name: &str) -> Result<bool> {
    Ok(target_exists(db, name)? && db.count(name)? > 0)
}
