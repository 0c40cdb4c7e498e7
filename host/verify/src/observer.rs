//! [`BaselineObserver`]: builds a collection's [`Baseline`] while the backup
//! streams its points, in one pass and bounded memory (see the crate docs).

use std::collections::BTreeMap;
use std::path::PathBuf;
use vdr_model::{CollectionSchema, Database, Metric, Point};
use vdr_repo::PointObserver;

use crate::baseline::{Baseline, GoldenQuery};
use crate::distance::{self, Kernel};
use crate::measure;
use crate::sample::BottomN;
use crate::store::VectorStore;
use crate::topk::TopK;

#[derive(Clone, Debug)]
pub struct BaselineOptions {
    /// Golden queries per collection.
    pub queries: usize,
    /// Neighbours per query.
    pub k: usize,
    pub seed: u64,
    /// Dense field to query; `None` = the schema's first dense field.
    pub vector: Option<String>,
    /// Bytes of vectors held in memory before spilling to disk.
    pub memory_budget: usize,
    /// Where the encrypted spill goes; `None` = the system temp directory.
    pub spill_dir: Option<PathBuf>,
    /// Threads for the ground-truth scan; 0 = one per core.
    pub threads: usize,
}

impl Default for BaselineOptions {
    fn default() -> Self {
        BaselineOptions {
            queries: 100,
            k: 10,
            seed: 0x5eed,
            vector: None,
            memory_budget: 256 << 20,
            spill_dir: None,
            threads: 0,
        }
    }
}

/// What [`BaselineObserver`] did for one collection (for logs and tests).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BaselineStats {
    pub points: u64,
    /// Vectors per in-memory block (the memory bound).
    pub block_capacity: usize,
    pub peak_in_memory: usize,
    pub spilled_bytes: u64,
}

struct Field {
    name: String,
    dim: usize,
    metric: Metric,
}

struct Collection {
    field: Option<Field>,
    /// Candidate queries: original vectors (they are what engines get asked).
    sample: BottomN<Vec<f32>>,
    store: Option<VectorStore>,
    skipped: u64,
    error: Option<String>,
    prepared: Vec<f32>,
}

/// A [`PointObserver`] producing a [`Baseline`] per collection.
pub struct BaselineObserver<'a> {
    opts: BaselineOptions,
    collections: BTreeMap<String, Collection>,
    source: Option<&'a mut dyn Database>,
    stats: BTreeMap<String, BaselineStats>,
}

impl<'a> BaselineObserver<'a> {
    pub fn new(opts: BaselineOptions) -> Self {
        BaselineObserver {
            opts,
            collections: BTreeMap::new(),
            source: None,
            stats: BTreeMap::new(),
        }
    }

    /// Also measure the source's recall and latency in `finish`, through a
    /// second handle on the same database (the backup holds the first one).
    pub fn measure_with(mut self, db: &'a mut dyn Database) -> Self {
        self.source = Some(db);
        self
    }

    pub fn stats(&self, collection: &str) -> Option<&BaselineStats> {
        self.stats.get(collection)
    }

    fn start(&self, schema: &CollectionSchema) -> Collection {
        let field = match &self.opts.vector {
            Some(name) => schema.dense_fields().find(|f| &f.name == name),
            None => schema.dense_fields().next(),
        };
        let error = match (&self.opts.vector, field) {
            (Some(name), None) => Some(format!("the collection has no dense vector {name:?}")),
            _ => None,
        };
        let field = field.map(|f| Field {
            name: f.name.clone(),
            dim: f.dimension as usize,
            metric: f.metric,
        });
        let spill_dir = self.opts.spill_dir.clone().unwrap_or_else(std::env::temp_dir);
        Collection {
            store: field
                .as_ref()
                .map(|f| VectorStore::new(f.dim, self.opts.memory_budget, spill_dir)),
            field,
            sample: BottomN::new(self.opts.queries, self.opts.seed),
            skipped: 0,
            error,
            prepared: Vec::new(),
        }
    }

    /// The baseline of `collection` from everything observed (None: nothing to query).
    pub fn build(&mut self, collection: &str) -> Option<Baseline> {
        let c = self.collections.remove(collection)?;
        let field = c.field?;
        let store = c.store?;
        let mut stats = BaselineStats {
            points: store.stored,
            block_capacity: store.capacity(),
            peak_in_memory: store.peak_in_memory,
            spilled_bytes: store.spilled_bytes(),
        };
        let points = store.stored;
        let sample = c.sample.into_sorted();
        let mut prepared = Vec::with_capacity(sample.len() * field.dim);
        for (_, v) in &sample {
            let start = prepared.len();
            prepared.extend_from_slice(v);
            distance::prepare(field.metric, &mut prepared[start..]);
        }
        let threads = match self.opts.threads {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            n => n,
        };
        let mut topk =
            TopK::new(Kernel::for_metric(field.metric), field.dim, prepared, self.opts.k, threads);
        let mut error = c.error;
        if error.is_none()
            && let Err(e) = store.for_each_block(|ids, vectors| topk.scan(ids, vectors))
        {
            error = Some(format!("reading the ground-truth spill failed: {e}"));
        }
        let truths = topk.into_results();
        let queries = if error.is_some() {
            Vec::new() // an incomplete truth would fail good restores
        } else {
            sample
                .into_iter()
                .zip(truths)
                .map(|((id, vector), t)| GoldenQuery {
                    id,
                    vector,
                    truth: t.into_iter().map(|n| n.0).collect(),
                })
                .collect()
        };
        stats.points = points;
        self.stats.insert(collection.to_string(), stats);
        Some(Baseline {
            vector: field.name,
            metric: field.metric,
            k: self.opts.k,
            seed: self.opts.seed,
            points,
            skipped: c.skipped,
            queries,
            source: None,
            error,
        })
    }
}

impl PointObserver for BaselineObserver<'_> {
    fn observe(&mut self, collection: &str, schema: &CollectionSchema, point: &Point) {
        if !self.collections.contains_key(collection) {
            let c = self.start(schema);
            self.collections.insert(collection.to_string(), c);
        }
        let c = self.collections.get_mut(collection).expect("inserted above");
        let (Some(field), Some(store)) = (&c.field, &mut c.store) else { return };
        if c.error.is_some() {
            return;
        }
        let Some(v) = point.dense(&field.name).filter(|v| v.len() == field.dim) else {
            c.skipped += 1;
            return;
        };
        c.sample.offer(&point.id, || v.to_vec());
        // Stored prepared (unit length for cosine) so the scan is a plain kernel.
        c.prepared.clear();
        c.prepared.extend_from_slice(v);
        distance::prepare(field.metric, &mut c.prepared);
        if let Err(e) = store.push(&point.id, &c.prepared) {
            c.error = Some(format!("spilling vectors for the ground truth failed: {e}"));
        }
    }

    fn finish(&mut self, collection: &str) -> Option<serde_json::Value> {
        let mut baseline = self.build(collection)?;
        if let Some(db) = self.source.as_deref_mut()
            && !baseline.queries.is_empty()
        {
            // A failed measurement leaves `source` empty; verification then skips it.
            let _ = measure::measure_source(db, collection, &mut baseline);
        }
        serde_json::to_value(&baseline).ok()
    }
}
