//! Backup: export -> canonical stream -> record-aware chunks -> keyed id ->
//! (skip known) -> compress -> packs (one age file each) -> store -> index -> snapshot.
//!
//! Stages run on their own threads joined by bounded channels, so memory
//! stays bounded (a few segments and packs in flight) and both cores work:
//! the caller's thread exports, normalises, frames and places chunk
//! boundaries (a keyed hash of each point id); workers take ~8 MiB segments
//! of whole chunks and digest the points, hash, compress and encrypt the
//! chunks into packs of their own; two uploaders store packs and write the
//! index in small batches — never an index entry before its pack is stored.

use crossbeam_channel::{bounded, unbounded};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;
use vdr_model::canonical;
use vdr_model::{CollectionSchema, Database, Error, Point, PointId, Result, put_object};

use crate::chunker::{RecordChunker, Segment};
use crate::compress::Plan;
use crate::crypto::ChunkFrames;
use crate::format::{Id, IdSet, pack_key};
use crate::incremental::{self, FeedPlan};
use crate::index::{self, IndexFile, IndexedPack};
use crate::pack::{FinishedPack, PackWriter};
use crate::recmap::RecordMap;
use crate::repository::Repository;
use crate::snapshot::{self, BlobRef, ChangeState, CollectionEntry, Snapshot};

/// A progress callback.
pub type ProgressFn<'a, P> = Box<dyn FnMut(&P) + 'a>;

/// Packs up to this size are stored with one PUT, larger ones (a repository
/// with a larger pack target) in parts of this size. Requests cost object
/// stores more than bytes do (each is a round trip and a signature check):
/// a default 16 MiB pack in 8 MiB parts took four requests instead of one.
const PART_SIZE: usize = 32 << 20;

/// Where the data came from, recorded in the manifest.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SourceInfo {
    pub engine: String,
    pub engine_version: String,
    pub plugin_name: String,
    pub plugin_version: String,
    /// The database as described by its backend (`plugin local@0.1.0 at /store`).
    pub database: String,
}

/// Sees every point during a backup, so verification baselines need no second pass.
pub trait PointObserver {
    fn observe(&mut self, collection: &str, schema: &CollectionSchema, point: &Point);
    /// Called once per collection after its last point; the value becomes the
    /// collection's `baseline` (the first observer returning `Some` wins).
    fn finish(&mut self, collection: &str) -> Option<serde_json::Value>;
    /// Whether `carry` could work from this parent baseline at all (asked
    /// before an incremental reads any record); `Err(why)` means a full
    /// export. An observer that overrides `carry` overrides this too.
    fn can_carry(
        &self,
        schema: &CollectionSchema,
        parent: Option<&serde_json::Value>,
    ) -> std::result::Result<(), String> {
        let _ = (schema, parent);
        Err("a verification baseline needs every record".into())
    }
    /// An incremental backup sees only what changed: carry the parent's
    /// baseline over `removed` (ids the parent held that changed or went)
    /// and `upserted` (the changed and new points as they are now). The
    /// value becomes the baseline as `finish`'s would; `Err(why)` makes the
    /// collection a full export instead, observed point by point.
    fn carry(
        &mut self,
        collection: &str,
        schema: &CollectionSchema,
        parent: Option<&serde_json::Value>,
        removed: &[PointId],
        upserted: &[&Point],
    ) -> std::result::Result<Option<serde_json::Value>, String> {
        let _ = (collection, schema, parent, removed, upserted);
        Err("a verification baseline needs every record".into())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BackupProgress {
    pub collection: String,
    pub records: u64,
    pub bytes_read: u64,
    pub bytes_new: u64,
}

pub struct BackupOptions<'a> {
    pub progress: Option<ProgressFn<'a, BackupProgress>>,
    pub observers: Vec<Box<dyn PointObserver + 'a>>,
    /// zstd level; `None` uses the repository default, 0 stores raw.
    pub compression_level: Option<i32>,
    /// Points per export batch.
    pub export_batch: u32,
    /// Packs per index file (smaller = less to redo after a crash).
    pub index_batch_packs: usize,
    /// Worker threads for hashing/compression/encryption; 0 = one per core.
    pub threads: usize,
    /// Export every record even where the database's change feed could say
    /// what changed since the last snapshot.
    pub full: bool,
}

impl Default for BackupOptions<'_> {
    fn default() -> Self {
        BackupOptions {
            progress: None,
            observers: Vec::new(),
            compression_level: None,
            export_batch: 1000,
            index_batch_packs: 4,
            threads: 0,
            full: false,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct CollectionBackup {
    pub name: String,
    pub records: u64,
    /// Canonical bytes read from the database (all of them for a full export).
    pub bytes_read: u64,
    pub chunks: u64,
    /// `full` (every record exported) or `changes` (the database's change
    /// feed since the parent snapshot, and the chunks around them).
    pub mode: &'static str,
    /// Ids the change feed reported (mode `changes`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<u64>,
    /// Why a collection whose last snapshot has a change-feed position was
    /// exported in full anyway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_because: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BackupSummary {
    pub snapshot: Id,
    /// The snapshot's time (what RPO is measured from).
    pub snapshot_time: chrono::DateTime<chrono::Utc>,
    pub collections: Vec<CollectionBackup>,
    /// Canonical stream bytes read from the database.
    pub bytes_read: u64,
    /// Bytes stored by this run (packs, after compression and encryption).
    pub bytes_new: u64,
    pub chunks_total: u64,
    pub chunks_new: u64,
    /// bytes_read / bytes_new (how much smaller the increment is than the data).
    pub dedup_ratio: f64,
    pub duration_secs: f64,
}

pub static BLOCKED: AtomicU64 = AtomicU64::new(0);
/// Worker time (µs) in hashing, compression, encryption, pack finishing (VDR_TRACE).
static STAGES: [AtomicU64; 4] =
    [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
/// Whether VDR_TRACE asks for phase and stage timings (read once: the
/// per-chunk stage clock is a system call, so it runs only when traced).
pub(crate) fn tracing() -> bool {
    static ON: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var_os("VDR_TRACE").is_some());
    *ON
}
fn stage(i: usize, t: &mut u64) {
    if !tracing() {
        return;
    }
    let now = thread_cpu_us();
    STAGES[i].fetch_add(now - *t, Ordering::Relaxed);
    *t = now;
}
/// CPU time of the calling thread (µs): stage costs independent of machine load.
pub(crate) fn thread_cpu_us() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec for clock_gettime to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000
}
struct SegmentJob {
    seq: usize,
    segment: Segment,
}

/// What a worker reports for one segment.
struct SegmentResult {
    seq: usize,
    blobs: Vec<BlobRef>,
    lanes: [u64; 4],
    /// The records each of `blobs` begins.
    map: RecordMap,
}

/// Stream segments handed to workers: ~8 MiB of whole chunks. Each worker
/// fills packs of its own, so this is also the length of the runs of
/// consecutive stream bytes in a pack: a restore reads a run with one
/// ranged request (requests cost object stores more than bytes do).
const SEGMENT_SIZE: usize = 8 << 20;
/// Segments of an incremental's rebuilt regions (scattered in the stream).
const REBUILD_SEGMENT_SIZE: usize = 2 << 20;

struct PendingCollection<'p> {
    name: String,
    schema: CollectionSchema,
    /// Records and canonical bytes read from the database.
    records: u64,
    stream_length: u64,
    seqs: std::ops::Range<usize>,
    baseline: Option<serde_json::Value>,
    /// The database's change-feed position the stream is as of.
    token: Option<String>,
    /// An incremental from the feed: the plan and how many new chunks
    /// replace each of its regions.
    feed: Option<(FeedPlan<'p>, Vec<usize>)>,
    full_because: Option<String>,
}

/// State shared by the pipeline's threads.
struct Shared {
    abort: AtomicBool,
    error: Mutex<Option<Error>>,
    bytes_new: AtomicU64,
    chunks_new: AtomicU64,
    unindexed: Mutex<Vec<IndexedPack>>,
}

impl Shared {
    fn fail(&self, e: Error) {
        self.error.lock().unwrap().get_or_insert(e);
        self.abort.store(true, Ordering::SeqCst);
    }
    fn aborted(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
    }
}

impl Repository {
    /// Whether this repository's format holds Huffman parts (format 3).
    fn huffman_planes(&self) -> bool {
        self.format_version() >= 3
    }

    /// Back up `collections` (empty = all) of `db` into one new snapshot.
    pub fn backup(
        &self,
        db: &mut dyn Database,
        collections: &[String],
        tags: &[String],
        source: &SourceInfo,
        mut opts: BackupOptions<'_>,
    ) -> Result<BackupSummary> {
        let started = Instant::now();
        BLOCKED.store(0, Ordering::Relaxed);
        STAGES.iter().for_each(|s| s.store(0, Ordering::Relaxed));
        let time = crate::format::now();
        let _lock = self.lock(false, "backup")?;
        let mut phases = vec![("lock", started.elapsed())];
        let mut names =
            if collections.is_empty() { db.list_collections()? } else { collections.to_vec() };
        names.dedup();
        if names.is_empty() {
            return Err(Error::invalid(format!(
                "{} holds no collection to back up",
                db.describe()
            )));
        }
        let (index, _unreadable) = index::load(self.store.as_ref(), &self.key)?;
        let known = Known { indexed: &index, added: Mutex::new(IdSet::default()) };
        phases.push(("index", started.elapsed()));
        // Enough history: the parent snapshot, and an entry for each
        // collection (an incremental's parent is the newest entry read).
        let (snapshots, _) = snapshot::load_newest(self.store.as_ref(), &self.key, |read| {
            parent_of(read, &names).is_some()
                && names.iter().all(|n| read.iter().any(|s| s.collection(n).is_some()))
        })?;
        phases.push(("snapshots", started.elapsed()));
        let level = opts.compression_level.unwrap_or(self.config.compression_level);
        let huffman = self.huffman_planes();
        let threads = match opts.threads {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            n => n,
        };
        let shared = Shared {
            abort: AtomicBool::new(false),
            error: Mutex::new(None),
            bytes_new: AtomicU64::new(0),
            chunks_new: AtomicU64::new(0),
            unindexed: Mutex::new(Vec::new()),
        };
        let target = self.config.pack_target_size as usize;
        let index_batch = opts.index_batch_packs.max(1);
        let (result_tx, result_rx) = unbounded::<SegmentResult>();

        let produced: Result<Vec<PendingCollection>> = std::thread::scope(|s| {
            let (job_tx, job_rx) = bounded::<SegmentJob>(threads * 2);
            let (pack_tx, pack_rx) = bounded::<FinishedPack>(1);
            for _ in 0..threads {
                let (job_rx, result_tx, pack_tx) =
                    (job_rx.clone(), result_tx.clone(), pack_tx.clone());
                let (key, known, shared) = (&self.key, &known, &shared);
                s.spawn(move || {
                    let mut writer: Option<PackWriter> = None;
                    let mut stored = Vec::with_capacity(128 << 10);
                    for job in job_rx {
                        if shared.aborted() {
                            return;
                        }
                        let seg = &job.segment;
                        let mut t = if tracing() { thread_cpu_us() } else { 0 };
                        let mut lanes = [0u64; 4];
                        let mut from = 0;
                        let mut chunks = Vec::with_capacity(seg.ends.len());
                        let mut ids = Vec::with_capacity(seg.ends.len());
                        let mut chunk_lanes = Vec::with_capacity(seg.ends.len());
                        let mut map = RecordMap::default();
                        let digested = ChunkFrames::of_cuts(&seg.data, &seg.ends);
                        let mut pending: &[u8] = &[];
                        for (i, (&end, &starts)) in
                            seg.ends.iter().zip(&seg.starts_record).enumerate()
                        {
                            let c = &seg.data[from..end];
                            map.push_chunk(&seg.data, from, end, starts);
                            // The id as every reader computes it from the
                            // bytes alone (`DataKey::chunk_id`).
                            let frames = digested.get(i);
                            ids.push(match frames {
                                Some(f) => key.frames_id(f),
                                None => key.bytes_id(c),
                            });
                            // A continuation piece may happen to parse as
                            // frames: only a chunk that starts a record is.
                            if let Some(frames) = frames.filter(|_| starts && pending.is_empty()) {
                                let mut own = [0u64; 4];
                                for (_, d) in frames {
                                    add_digest(&mut own, d);
                                }
                                add_lanes(&mut lanes, &own);
                                chunk_lanes.push(Some(own));
                            } else {
                                chunk_lanes.push(None);
                                // Pieces of a point longer than max_size: its
                                // digest counts once all of them are here.
                                let start = if pending.is_empty() {
                                    from
                                } else {
                                    pending.as_ptr() as usize - seg.data.as_ptr() as usize
                                };
                                pending = &seg.data[start..end];
                                let digested = digest_frames(pending);
                                if digested.1 {
                                    add_lanes(&mut lanes, &digested.0);
                                    pending = &[];
                                }
                            }
                            chunks.push(c);
                            from = end;
                        }
                        stage(0, &mut t);
                        let new = known.claim(ids.iter());
                        let fresh: Vec<&[u8]> =
                            chunks.iter().zip(&new).filter(|(_, n)| **n).map(|(c, _)| *c).collect();
                        if !fresh.is_empty() {
                            let plan = Plan::sample(&fresh, level, huffman);
                            for (i, c) in chunks.iter().enumerate() {
                                if !new[i] {
                                    continue;
                                }
                                stored.clear();
                                crate::compress::encode_into(c, &plan, &mut stored);
                                stage(1, &mut t);
                                let w = writer.get_or_insert_with(|| {
                                    PackWriter::new(key, target + (2 << 20))
                                });
                                w.add(ids[i], &stored, c.len() as u32, chunk_lanes[i]);
                                stage(2, &mut t);
                                shared.chunks_new.fetch_add(1, Ordering::Relaxed);
                                if w.len() >= target {
                                    let full = writer.take().unwrap().finish();
                                    stage(3, &mut t);
                                    if pack_tx.send(full).is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                        let blobs = chunks
                            .iter()
                            .zip(&ids)
                            .zip(&seg.starts_record)
                            .map(|((c, id), s)| BlobRef {
                                id: *id,
                                length: c.len() as u32,
                                starts_record: *s,
                            })
                            .collect();
                        let _ = result_tx.send(SegmentResult { seq: job.seq, blobs, lanes, map });
                    }
                    if let Some(w) = writer
                        && !w.is_empty()
                        && !shared.aborted()
                    {
                        let _ = pack_tx.send(w.finish());
                    }
                });
            }
            drop((job_rx, pack_tx));
            for _ in 0..2 {
                let pack_rx = pack_rx.clone();
                let shared = &shared;
                s.spawn(move || {
                    for pack in pack_rx {
                        if shared.aborted() {
                            break;
                        }
                        if let Err(e) = self.store_pack(pack, shared, index_batch) {
                            shared.fail(e);
                            break;
                        }
                    }
                });
            }
            drop(pack_rx);
            let from = Sources { source, index: &index, snapshots: &snapshots };
            let r = self.produce(db, &names, &mut opts, &job_tx, &shared, &from);
            if r.is_err() {
                shared.abort.store(true, Ordering::SeqCst);
            }
            drop(job_tx);
            r
        });
        drop(result_tx);
        if tracing() {
            let st = |i: usize| STAGES[i].load(Ordering::Relaxed) as f64 / 1e6;
            eprintln!(
                "backup: producer blocked {:.2} s of {:.2} s; worker CPU: hash {:.2} s, compress {:.2} s, encrypt {:.2} s, finish {:.2} s",
                BLOCKED.load(Ordering::Relaxed) as f64 / 1e6,
                started.elapsed().as_secs_f64(),
                st(0),
                st(1),
                st(2),
                st(3)
            );
        }
        if let Some(e) = shared.error.lock().unwrap().take() {
            return Err(e);
        }
        let pending = produced?;
        phases.push(("stream", started.elapsed()));

        let mut results: Vec<SegmentResult> = result_rx.iter().collect();
        results.sort_by_key(|r| r.seq);
        let mut entries = Vec::new();
        let mut summaries = Vec::new();
        let mut chunks_total = 0u64;
        let mut maps = Vec::new();
        for p in pending {
            let mut lanes = [0u64; 4];
            let mut blobs = Vec::new();
            let mut map = RecordMap::default();
            for r in &mut results[p.seqs.clone()] {
                add_lanes(&mut lanes, &r.lanes);
                blobs.append(&mut r.blobs);
                map.append(&r.map);
            }
            let (mode, changed) = match &p.feed {
                Some((plan, _)) => ("changes", Some(plan.changes_read)),
                None => ("full", None),
            };
            let (blobs, map, lanes, records) = match p.feed {
                None => (blobs, map, lanes, p.records),
                Some((plan, counts)) => {
                    let (blobs, map) = incremental::splice(&plan, &counts, blobs, &map);
                    let lanes = incremental::spliced_lanes(&plan, &lanes)?;
                    let records = plan.parent.records - plan.removed_records + p.records;
                    if records != plan.count {
                        tracing::warn!(
                            "collection {}: {records} records from the change feed, the \
                             database counted {} (written to while backed up?)",
                            p.name,
                            plan.count
                        );
                    }
                    (blobs, map, lanes, records)
                }
            };
            chunks_total += blobs.len() as u64;
            summaries.push(CollectionBackup {
                name: p.name.clone(),
                records,
                bytes_read: p.stream_length,
                chunks: blobs.len() as u64,
                mode,
                changed,
                full_because: p.full_because,
            });
            maps.push(p.token.map(|token| (token, map)));
            entries.push(CollectionEntry {
                name: p.name,
                source: SourceInfo {
                    engine: if source.engine.is_empty() {
                        p.schema.engine.clone()
                    } else {
                        source.engine.clone()
                    },
                    engine_version: if source.engine_version.is_empty() {
                        p.schema.engine_version.clone()
                    } else {
                        source.engine_version.clone()
                    },
                    database: if source.database.is_empty() {
                        db.describe()
                    } else {
                        source.database.clone()
                    },
                    ..source.clone()
                },
                schema: p.schema,
                records,
                content_digest: lanes_hex(&lanes),
                stream_length: blobs.iter().map(|b| b.length as u64).sum(),
                blobs,
                baseline: p.baseline,
                changes: None,
            });
        }
        // Record maps, for the next incremental: packs, then their index,
        // then the snapshot naming them.
        for (entry, map) in entries.iter_mut().zip(maps) {
            if let Some((token, map)) = map {
                let refs = self.store_map(&map, &known, level, &shared, index_batch)?;
                entry.changes = Some(ChangeState { token, map: refs });
            }
        }
        let rest = std::mem::take(&mut *shared.unindexed.lock().unwrap());
        if !rest.is_empty() {
            index::write_file(self.store.as_ref(), &self.key, &IndexFile { packs: rest })?;
        }
        phases.push(("record maps", started.elapsed()));
        let parent = parent_of(&snapshots, &names);
        let snap = Snapshot {
            id: Id::random(),
            time,
            hostname: crate::format::hostname(),
            tags: tags.to_vec(),
            parent,
            collections: entries,
        };
        snapshot::save(self.store.as_ref(), &self.key, &snap)?;
        phases.push(("snapshot", started.elapsed()));
        if tracing() {
            let mut last = std::time::Duration::ZERO;
            let list: Vec<String> = phases
                .iter()
                .map(|(name, at)| {
                    let took = *at - last;
                    last = *at;
                    format!("{name} {:.0} ms", took.as_secs_f64() * 1e3)
                })
                .collect();
            eprintln!("backup phases: {}", list.join(", "));
        }
        let bytes_read: u64 = summaries.iter().map(|c| c.bytes_read).sum();
        let bytes_new = shared.bytes_new.load(Ordering::SeqCst);
        Ok(BackupSummary {
            snapshot: snap.id,
            snapshot_time: snap.time,
            bytes_read,
            bytes_new,
            chunks_total,
            chunks_new: shared.chunks_new.load(Ordering::SeqCst),
            dedup_ratio: if bytes_new == 0 {
                f64::INFINITY
            } else {
                bytes_read as f64 / bytes_new as f64
            },
            duration_secs: started.elapsed().as_secs_f64(),
            collections: summaries,
        })
    }

    /// Store a pack, then (in batches) the index entries naming it.
    fn store_pack(&self, pack: FinishedPack, shared: &Shared, index_batch: usize) -> Result<()> {
        put_object(self.store.as_ref(), &pack_key(&pack.id), &pack.bytes, PART_SIZE)?;
        shared.bytes_new.fetch_add(pack.bytes.len() as u64, Ordering::SeqCst);
        let batch = {
            let mut pending = shared.unindexed.lock().unwrap();
            pending.push(IndexedPack {
                id: pack.id,
                size: pack.bytes.len() as u64,
                payload_offset: pack.payload_offset,
                blobs: pack.entries,
            });
            if pending.len() >= index_batch { std::mem::take(&mut *pending) } else { Vec::new() }
        };
        if !batch.is_empty() {
            index::write_file(self.store.as_ref(), &self.key, &IndexFile { packs: batch })?;
        }
        Ok(())
    }

    /// Export each collection into the segment channel, in order.
    fn produce<'a>(
        &self,
        db: &mut dyn Database,
        names: &[String],
        opts: &mut BackupOptions<'_>,
        job_tx: &crossbeam_channel::Sender<SegmentJob>,
        shared: &Shared,
        from: &Sources<'a>,
    ) -> Result<Vec<PendingCollection<'a>>> {
        let mut seq = 0usize;
        let mut out = Vec::new();
        let mut total_read = 0u64;
        let send = |segment: Segment, seq: &mut usize| -> Result<()> {
            if segment.ends.is_empty() {
                return Ok(());
            }
            let t = Instant::now();
            job_tx
                .send(SegmentJob { seq: *seq, segment })
                .map_err(|_| Error::internal("backup pipeline stopped"))?;
            BLOCKED.fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
            *seq += 1;
            Ok(())
        };
        let source = SourceInfo {
            database: if from.source.database.is_empty() {
                db.describe()
            } else {
                from.source.database.clone()
            },
            ..from.source.clone()
        };
        for name in names {
            let schema = db.describe_collection(name)?;
            // Records and canonical bytes read from the database.
            let mut read = (0u64, 0u64);
            let frame = |point: &Point,
                         chunker: &mut RecordChunker,
                         seq: &mut usize,
                         read: &mut (u64, u64)| {
                let buf = chunker.buffer();
                let start = buf.len();
                canonical::encode_frame(point, buf);
                *read = (read.0 + 1, read.1 + (buf.len() - start) as u64);
                match chunker.frame_done(start) {
                    Some(segment) => send(segment, seq),
                    None => Ok(()),
                }
            };
            let report = |read: (u64, u64), opts: &mut BackupOptions<'_>| {
                if let Some(progress) = opts.progress.as_mut() {
                    progress(&BackupProgress {
                        collection: name.clone(),
                        records: read.0,
                        bytes_read: total_read + read.1,
                        bytes_new: shared.bytes_new.load(Ordering::Relaxed),
                    });
                }
            };
            // Observers that cannot carry the parent's baseline need a full
            // export: known before anything is read.
            let cannot_carry = |parent: &CollectionEntry| {
                opts.observers
                    .iter()
                    .find_map(|o| o.can_carry(&schema, parent.baseline.as_ref()).err())
            };
            let (plan, mut full_because) = match from.feed_parent(name) {
                _ if opts.full => (None, None),
                None => (None, None),
                Some(parent) => match cannot_carry(parent) {
                    Some(why) => (None, Some(why)),
                    None => match self.plan_from_feed(db, name, parent, &source, from.index)? {
                        Ok(plan) => (Some(plan), None),
                        Err(why) => (None, Some(why)),
                    },
                },
            };
            let mut first_seq = seq;
            let (mut token, mut feed, mut carried) = (None, None, None);
            let mut chunker = None;
            if let Some(mut plan) = plan {
                // A rebuild's chunks land between the parent's anyway: small
                // segments put both workers to work while the regions are read.
                let mut rebuilt = RecordChunker::new(
                    self.config.chunker,
                    self.key.boundary_key,
                    REBUILD_SEGMENT_SIZE,
                );
                // How many new chunks each region became (the last `None`
                // ends the new ids, which are no region).
                let mut counts = Vec::with_capacity(plan.regions.len() + 1);
                let mut before = 0;
                let strict = !opts.observers.is_empty();
                let rebuilding = Instant::now();
                let outcome = plan.rebuild(db, name, strict, |point| match point {
                    Some(p) => {
                        frame(p, &mut rebuilt, &mut seq, &mut read)?;
                        if read.0.is_multiple_of(1000) {
                            report(read, opts);
                        }
                        Ok(())
                    }
                    None => {
                        if let Some(segment) = rebuilt.end_chunk() {
                            send(segment, &mut seq)?;
                        }
                        counts.push((rebuilt.chunks - before) as usize);
                        before = rebuilt.chunks;
                        Ok(())
                    }
                })?;
                counts.pop();
                // What was read must be the feed's end state, and observers
                // must carry the baseline over it; otherwise the segments
                // sent so far are left out (their blobs stay unreferenced)
                // and the collection is exported in full after all.
                let confirming = Instant::now();
                let mut verdict = plan.confirm(db, name, &outcome, strict)?;
                drop(outcome);
                if tracing() {
                    eprintln!(
                        "incremental: {} regions rebuilt in {:.0} ms, confirmed in {:.0} ms",
                        plan.regions.len(),
                        (confirming - rebuilding).as_secs_f64() * 1e3,
                        confirming.elapsed().as_secs_f64() * 1e3
                    );
                }
                if let Ok(confirmed) = &verdict {
                    // Neighbours deleted since the feed ended are out of the
                    // stream; those changed since are in it as read.
                    let mut removed = plan.existed.clone();
                    removed.extend(confirmed.deleted.iter().cloned());
                    removed.extend(confirmed.changed.iter().map(|p| p.id.clone()));
                    let mut upserted = plan.upserted();
                    upserted.extend(confirmed.changed.iter());
                    for o in opts.observers.iter_mut() {
                        let parent = plan.parent.baseline.as_ref();
                        match o.carry(name, &schema, parent, &removed, &upserted) {
                            Ok(b) => carried = carried.or(b),
                            Err(why) => {
                                verdict = Err(why);
                                break;
                            }
                        }
                    }
                }
                plan.release_changes();
                match verdict {
                    Ok(_) => {
                        chunker = Some(rebuilt);
                        token = Some(plan.end_token.clone());
                        feed = Some((plan, counts));
                    }
                    Err(why) => {
                        full_because = Some(why);
                        (first_seq, read, carried) = (seq, (0, 0), None);
                    }
                }
            }
            let chunker = match chunker {
                Some(c) => c,
                None => {
                    let mut chunker = RecordChunker::new(
                        self.config.chunker,
                        self.key.boundary_key,
                        SEGMENT_SIZE,
                    );
                    // Before the export: a change made during it is then
                    // reported again next time rather than lost.
                    token = db.current_token(name)?;
                    let mut cursor = db.open_export(name, None)?;
                    loop {
                        if shared.aborted() {
                            return Err(Error::internal("backup pipeline stopped"));
                        }
                        let batch = cursor.next_batch(opts.export_batch.max(1))?;
                        if batch.is_empty() {
                            break;
                        }
                        for mut point in batch {
                            canonical::normalize(&mut point)?;
                            for o in opts.observers.iter_mut() {
                                o.observe(name, &schema, &point);
                            }
                            frame(&point, &mut chunker, &mut seq, &mut read)?;
                        }
                        report(read, opts);
                    }
                    chunker
                }
            };
            let mut chunker = chunker;
            send(chunker.finish(), &mut seq)?;
            let (records, stream_length) = read;
            total_read += stream_length;
            let mut baseline = carried;
            if feed.is_none() {
                for o in opts.observers.iter_mut() {
                    let b = o.finish(name);
                    if baseline.is_none() {
                        baseline = b;
                    }
                }
            }
            out.push(PendingCollection {
                name: name.clone(),
                schema,
                records,
                stream_length,
                seqs: first_seq..seq,
                baseline,
                token,
                feed,
                full_because,
            });
        }
        Ok(out)
    }

    /// Store a record map's blobs the repository lacks; returns its refs.
    fn store_map(
        &self,
        map: &RecordMap,
        known: &Known<'_>,
        level: i32,
        shared: &Shared,
        index_batch: usize,
    ) -> Result<Vec<BlobRef>> {
        let blobs = map.to_blobs(&self.key);
        let new = known.claim(blobs.iter().map(|(_, b)| &b.id));
        let fresh: Vec<&(Vec<u8>, BlobRef)> =
            blobs.iter().zip(new).filter(|(_, new)| *new).map(|(b, _)| b).collect();
        if !fresh.is_empty() {
            let sample: Vec<&[u8]> = fresh.iter().map(|(d, _)| d.as_slice()).collect();
            let plan = Plan::sample(&sample, level, self.huffman_planes());
            let target = self.config.pack_target_size as usize;
            let mut writer = PackWriter::new(&self.key, target + (2 << 20));
            let mut stored = Vec::new();
            for (data, blob) in fresh {
                stored.clear();
                crate::compress::encode_into(data, &plan, &mut stored);
                writer.add(blob.id, &stored, blob.length, None);
                if writer.len() >= target {
                    let full = std::mem::replace(
                        &mut writer,
                        PackWriter::new(&self.key, target + (2 << 20)),
                    );
                    self.store_pack(full.finish(), shared, index_batch)?;
                }
            }
            if !writer.is_empty() {
                self.store_pack(writer.finish(), shared, index_batch)?;
            }
        }
        Ok(blobs.into_iter().map(|(_, b)| b).collect())
    }
}

/// The blobs the repository holds: those indexed when the backup began,
/// and those this backup has stored (or is storing) since.
struct Known<'a> {
    indexed: &'a index::Index,
    added: Mutex<IdSet>,
}

impl Known<'_> {
    /// For each id, whether it is new; the new ones count as known after.
    fn claim<'i>(&self, ids: impl Iterator<Item = &'i Id>) -> Vec<bool> {
        let mut added = self.added.lock().unwrap();
        ids.map(|id| !self.indexed.blobs.contains_key(id) && added.insert(*id)).collect()
    }
}

/// What `produce` reads besides the database.
struct Sources<'a> {
    source: &'a SourceInfo,
    index: &'a index::Index,
    snapshots: &'a [Snapshot],
}

impl<'a> Sources<'a> {
    /// The newest entry of `name` with a change-feed position.
    fn feed_parent(&self, name: &str) -> Option<&'a CollectionEntry> {
        self.snapshots.iter().rev().filter_map(|s| s.collection(name)).find(|c| c.changes.is_some())
    }
}

/// The newest snapshot holding the same set of collections.
fn parent_of(snaps: &[Snapshot], names: &[String]) -> Option<Id> {
    let mut wanted: Vec<&String> = names.iter().collect();
    wanted.sort();
    snaps
        .iter()
        .rev()
        .find(|s| {
            let mut have: Vec<&String> = s.collections.iter().map(|c| &c.name).collect();
            have.sort();
            have == wanted
        })
        .map(|s| s.id)
}

/// Lane-wise wrapping sum of the BLAKE3 digests of the frame bodies of
/// `data` (a part of `canonical::SetDigest`), and whether `data` was whole frames.
pub(crate) fn digest_frames(data: &[u8]) -> ([u64; 4], bool) {
    let mut lanes = [0u64; 4];
    let mut frames = Vec::new();
    let whole = crate::crypto::frame_digests(data, &mut frames);
    for (_, d) in &frames {
        add_digest(&mut lanes, d);
    }
    (lanes, whole)
}

/// Lane-wise wrapping sum (adding set digests).
pub(crate) fn add_lanes(lanes: &mut [u64; 4], other: &[u64; 4]) {
    for (l, v) in lanes.iter_mut().zip(other) {
        *l = l.wrapping_add(*v);
    }
}

/// Lane-wise wrapping difference (taking records out of a set digest).
pub(crate) fn sub_lanes(lanes: &mut [u64; 4], other: &[u64; 4]) {
    for (l, v) in lanes.iter_mut().zip(other) {
        *l = l.wrapping_sub(*v);
    }
}

pub(crate) fn add_digest(lanes: &mut [u64; 4], d: &[u8; 32]) {
    for (i, lane) in lanes.iter_mut().enumerate() {
        *lane = lane.wrapping_add(u64::from_le_bytes(d[i * 8..i * 8 + 8].try_into().unwrap()));
    }
}

/// The lanes of a content digest in its hex form.
pub(crate) fn lanes_from_hex(text: &str) -> Result<[u64; 4]> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(text, &mut bytes)
        .map_err(|_| Error::internal(format!("content digest {text:?} is not 64 hex digits")))?;
    Ok(std::array::from_fn(|i| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap())))
}

/// The hex form of `canonical::SetDigest`: the lanes as u64 LE bytes.
pub(crate) fn lanes_hex(lanes: &[u64; 4]) -> String {
    hex::encode(lanes.iter().flat_map(|l| l.to_le_bytes()).collect::<Vec<u8>>())
}
