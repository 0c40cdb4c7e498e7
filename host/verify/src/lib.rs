//! Vector-aware verification for vdr: proves a restore is semantically right,
//! not just byte-right.
//!
//! - At backup time, [`BaselineObserver`] (a `vdr_repo::PointObserver`)
//!   picks golden queries and computes their exact top-k over every backed-up
//!   vector; the resulting [`Baseline`] is stored in the snapshot manifest.
//!   [`measure_source`] then records the source's own recall@k and latency.
//! - At verify time, [`verify`] checks a live collection against the
//!   manifest entry: count, schema, content, recall@k and latency.
//!
//! # Ground truth in one pass, in bounded memory
//!
//! The observer sees every point exactly once, and the golden queries are
//! themselves points of the stream, so a query can arrive after most of its
//! neighbours. The design:
//!
//! 1. **Query choice by seeded id hash.** The queries are the `queries`
//!    points whose `hash(id, seed)` is smallest (a bottom-n sample: uniform,
//!    like reservoir sampling, but independent of the export order, so every
//!    engine holding the collection yields the same queries). Only the current
//!    n candidates' vectors are kept.
//! 2. **Every vector is kept for one scan at the end**, prepared for the
//!    metric (unit length for cosine): in memory up to `memory_budget` bytes
//!    (default 256 MiB, ~170k vectors of 384 dimensions), beyond that in
//!    blocks of that size appended to a spill file. The spill is encrypted
//!    with a random in-process ChaCha20 key and unlinked at creation, so no
//!    plaintext vector ever reaches the disk and nothing survives the process.
//! 3. **At `finish`**, the final queries are known; the vectors are scanned
//!    block by block (the in-memory tail, then each spilled block read back in
//!    turn), keeping per query a bounded max-heap of the k best
//!    (distance, id). Ties are broken by id, so the truth is deterministic.
//!
//! Memory is bounded by `memory_budget` + `queries × (dim × 4 + k heap
//! entries)`, whatever the collection's size; disk use is the raw vectors of
//! collections larger than the budget (~N × dim × 4 bytes, freed at once).
//! The trade-offs: the scan happens after the export (it adds to the backup
//! time instead of overlapping it), and large collections need temporary
//! disk. The alternatives were worse: computing the truth only from points
//! after a query's arrival is wrong; choosing queries from the first M points
//! only biases them towards the export order's prefix.
//!
//! # The scan kernel
//!
//! Plain loops written for autovectorisation (16 independent accumulator
//! lanes), compiled for x86-64, AVX2 and AVX-512 and picked at run time;
//! queries are split between threads, points go through in L1-sized tiles.
//! `usearch::Index::exact_search` was measured as the alternative
//! (`examples/bench_truth.rs`, 100 queries, k=10, 384-d, 2 shared cores):
//! the loops scan ~600k vectors/s on one thread, usearch's exact search
//! ~175k vectors/s — and usearch must first `add` every vector, which builds
//! an HNSW graph (~11.5 s for 20k vectors), so the loops win by far.
//! A four-points-per-query-load variant of the kernel vectorised badly
//! (~6x slower) and was dropped.

mod baseline;
mod distance;
mod measure;
mod observer;
mod sample;
mod spill;
mod store;
mod topk;
mod verify;

pub use baseline::{Baseline, GoldenQuery, Percentiles, SourceMeasurement};
pub use measure::{QueryRun, measure_source, run_queries};
pub use observer::{BaselineObserver, BaselineOptions, BaselineStats};
pub use sample::id_hash;
pub use verify::{Check, ContentChecker, Status, VerifyOptions, VerifyReport, verify};

/// Exact top-k by brute force over prepared vectors, for benchmarks and
/// callers that already hold their data in blocks.
pub mod truth {
    pub use crate::distance::{Kernel, normalize, prepare};
    pub use crate::topk::TopK;
}
