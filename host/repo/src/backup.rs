//! Backup: export -> canonical stream -> FastCDC -> keyed id -> (skip known)
//! -> compress -> age -> packs -> store -> index -> snapshot.
//!
//! Stages run on their own threads joined by bounded channels, so memory
//! stays bounded (a few chunks and packs in flight) and both cores work:
//! the caller's thread exports and chunks, workers hash/compress/encrypt,
//! one packer assembles packs, two uploaders store them and write the index
//! in small batches — never an index entry before its pack is stored.

use crossbeam_channel::{bounded, unbounded};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;
use vdr_model::canonical::{self, SetDigest};
use vdr_model::{CollectionSchema, Database, Error, Point, Result, put_object};

use crate::chunker::StreamChunker;
use crate::format::{Id, pack_key};
use crate::index::{self, IndexFile, IndexedPack};
use crate::pack::{FinishedPack, PackWriter};
use crate::repository::Repository;
use crate::snapshot::{self, BlobRef, CollectionEntry, Snapshot};

/// A progress callback.
pub type ProgressFn<'a, P> = Box<dyn FnMut(&P) + 'a>;

/// Multipart part size for pack uploads.
const PART_SIZE: usize = 8 << 20;

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
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct CollectionBackup {
    pub name: String,
    pub records: u64,
    pub bytes_read: u64,
    pub chunks: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct BackupSummary {
    pub snapshot: Id,
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

struct ChunkJob {
    seq: usize,
    data: Vec<u8>,
}

struct PendingCollection {
    name: String,
    schema: CollectionSchema,
    records: u64,
    digest: String,
    stream_length: u64,
    seqs: std::ops::Range<usize>,
    baseline: Option<serde_json::Value>,
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
        let time = crate::format::now();
        let _lock = self.lock(false, "backup")?;
        let (index, _unreadable) = index::load(self.store.as_ref(), &self.key)?;
        let known: Mutex<HashSet<Id>> = Mutex::new(index.blobs.keys().copied().collect());
        drop(index);
        let mut names =
            if collections.is_empty() { db.list_collections()? } else { collections.to_vec() };
        names.dedup();
        if names.is_empty() {
            return Err(Error::invalid(format!(
                "{} holds no collection to back up",
                db.describe()
            )));
        }
        let level = opts.compression_level.unwrap_or(self.config.compression_level);
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
        let (result_tx, result_rx) = unbounded::<(usize, BlobRef)>();

        let produced: Result<Vec<PendingCollection>> = std::thread::scope(|s| {
            let (chunk_tx, chunk_rx) = bounded::<ChunkJob>(threads * 2);
            let (blob_tx, blob_rx) = bounded::<(Id, Vec<u8>, u32)>(threads * 2);
            let (pack_tx, pack_rx) = bounded::<FinishedPack>(1);
            for _ in 0..threads {
                let (chunk_rx, blob_tx, result_tx) =
                    (chunk_rx.clone(), blob_tx.clone(), result_tx.clone());
                let (key, known, shared) = (&self.key, &known, &shared);
                s.spawn(move || {
                    for job in chunk_rx {
                        if shared.aborted() {
                            break;
                        }
                        let id = key.chunk_id(&job.data);
                        let _ = result_tx
                            .send((job.seq, BlobRef { id, length: job.data.len() as u32 }));
                        if !known.lock().unwrap().insert(id) {
                            continue;
                        }
                        let sealed = key.seal(&crate::compress::encode(&job.data, level));
                        shared.chunks_new.fetch_add(1, Ordering::Relaxed);
                        if blob_tx.send((id, sealed, job.data.len() as u32)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop((chunk_rx, blob_tx));
            let (key, shared_ref) = (&self.key, &shared);
            s.spawn(move || {
                let mut writer = PackWriter::with_capacity(target + (1 << 20));
                for (id, sealed, raw) in blob_rx {
                    if shared_ref.aborted() {
                        return;
                    }
                    writer.add(id, &sealed, raw);
                    if writer.len() >= target {
                        let full = std::mem::replace(
                            &mut writer,
                            PackWriter::with_capacity(target + (1 << 20)),
                        );
                        if pack_tx.send(full.finish(key)).is_err() {
                            return;
                        }
                    }
                }
                if !writer.is_empty() && !shared_ref.aborted() {
                    let _ = pack_tx.send(writer.finish(key));
                }
            });
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
            let r = self.produce(db, &names, &mut opts, &chunk_tx, &shared);
            if r.is_err() {
                shared.abort.store(true, Ordering::SeqCst);
            }
            drop(chunk_tx);
            r
        });
        drop(result_tx);
        if let Some(e) = shared.error.lock().unwrap().take() {
            return Err(e);
        }
        let pending = produced?;
        let rest = std::mem::take(&mut *shared.unindexed.lock().unwrap());
        if !rest.is_empty() {
            index::write_file(self.store.as_ref(), &self.key, &IndexFile { packs: rest })?;
        }

        let mut refs: Vec<(usize, BlobRef)> = result_rx.iter().collect();
        refs.sort_by_key(|r| r.0);
        let refs: Vec<BlobRef> = refs.into_iter().map(|r| r.1).collect();
        let mut entries = Vec::new();
        let mut summaries = Vec::new();
        for p in pending {
            let blobs = refs[p.seqs.clone()].to_vec();
            summaries.push(CollectionBackup {
                name: p.name.clone(),
                records: p.records,
                bytes_read: p.stream_length,
                chunks: blobs.len() as u64,
            });
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
                records: p.records,
                content_digest: p.digest,
                stream_length: p.stream_length,
                blobs,
                baseline: p.baseline,
            });
        }
        let parent = self.parent_of(&names)?;
        let snap = Snapshot {
            id: Id::random(),
            time,
            hostname: crate::format::hostname(),
            tags: tags.to_vec(),
            parent,
            collections: entries,
        };
        snapshot::save(self.store.as_ref(), &self.key, &snap)?;
        let bytes_read: u64 = summaries.iter().map(|c| c.bytes_read).sum();
        let bytes_new = shared.bytes_new.load(Ordering::SeqCst);
        Ok(BackupSummary {
            snapshot: snap.id,
            bytes_read,
            bytes_new,
            chunks_total: refs.len() as u64,
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
                blobs: pack.entries,
            });
            if pending.len() >= index_batch { std::mem::take(&mut *pending) } else { Vec::new() }
        };
        if !batch.is_empty() {
            index::write_file(self.store.as_ref(), &self.key, &IndexFile { packs: batch })?;
        }
        Ok(())
    }

    /// Export each collection into the chunk channel, in order.
    fn produce(
        &self,
        db: &mut dyn Database,
        names: &[String],
        opts: &mut BackupOptions<'_>,
        chunk_tx: &crossbeam_channel::Sender<ChunkJob>,
        shared: &Shared,
    ) -> Result<Vec<PendingCollection>> {
        let mut seq = 0usize;
        let mut out = Vec::new();
        let mut total_read = 0u64;
        let mut ready = Vec::new();
        let send = |ready: &mut Vec<Vec<u8>>, seq: &mut usize| -> Result<()> {
            for data in ready.drain(..) {
                chunk_tx
                    .send(ChunkJob { seq: *seq, data })
                    .map_err(|_| Error::internal("backup pipeline stopped"))?;
                *seq += 1;
            }
            Ok(())
        };
        for name in names {
            let schema = db.describe_collection(name)?;
            let mut chunker = StreamChunker::new(self.config.chunker);
            let mut digest = SetDigest::default();
            let (mut records, mut stream_length) = (0u64, 0u64);
            let first_seq = seq;
            {
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
                        let buf = chunker.buffer();
                        let start = buf.len();
                        canonical::encode_frame(&point, buf);
                        // The frame body is exactly `canonical::encode(point)`.
                        digest.add(blake3::hash(&buf[start + 4..]).as_bytes());
                        stream_length += (buf.len() - start) as u64;
                        records += 1;
                    }
                    chunker.take_ready(&mut ready);
                    send(&mut ready, &mut seq)?;
                    if let Some(progress) = opts.progress.as_mut() {
                        progress(&BackupProgress {
                            collection: name.clone(),
                            records,
                            bytes_read: total_read + stream_length,
                            bytes_new: shared.bytes_new.load(Ordering::Relaxed),
                        });
                    }
                }
            }
            chunker.finish(&mut ready);
            send(&mut ready, &mut seq)?;
            total_read += stream_length;
            let mut baseline = None;
            for o in opts.observers.iter_mut() {
                let b = o.finish(name);
                if baseline.is_none() {
                    baseline = b;
                }
            }
            out.push(PendingCollection {
                name: name.clone(),
                schema,
                records,
                digest: digest.hex(),
                stream_length,
                seqs: first_seq..seq,
                baseline,
            });
        }
        Ok(out)
    }

    /// The newest snapshot holding the same set of collections.
    fn parent_of(&self, names: &[String]) -> Result<Option<Id>> {
        let (snaps, _) = snapshot::load_all(self.store.as_ref(), &self.key)?;
        let mut wanted: Vec<&String> = names.iter().collect();
        wanted.sort();
        Ok(snaps
            .iter()
            .rev()
            .find(|s| {
                let mut have: Vec<&String> = s.collections.iter().map(|c| &c.name).collect();
                have.sort();
                have == wanted
            })
            .map(|s| s.id))
    }
}
