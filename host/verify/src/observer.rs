//! [`BaselineObserver`]: builds a collection's [`Baseline`] while the backup
//! streams its points, in one pass and bounded memory (see the crate docs).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use vdr_model::{CollectionSchema, Database, Metric, Point, PointId};
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
        // Twice k: the margin `carry` updates the truth from.
        let kernel = Kernel::for_metric(field.metric);
        let mut topk = TopK::new(kernel, field.dim, prepared, self.opts.k * 2, threads);
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
                .map(|((id, vector), nearest)| GoldenQuery {
                    id,
                    vector,
                    truth: nearest.iter().take(self.opts.k).map(|n| n.0.clone()).collect(),
                    nearest: if nearest.iter().all(|n| n.1.is_finite()) {
                        nearest
                    } else {
                        Vec::new() // JSON has no NaN; `carry` then declines
                    },
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
        self.measure(collection, &mut baseline);
        serde_json::to_value(&baseline).ok()
    }

    fn can_carry(
        &self,
        schema: &CollectionSchema,
        parent: Option<&serde_json::Value>,
    ) -> Result<(), String> {
        self.carriable(schema, parent).map(drop)
    }

    fn carry(
        &mut self,
        collection: &str,
        schema: &CollectionSchema,
        parent: Option<&serde_json::Value>,
        removed: &[PointId],
        upserted: &[&Point],
    ) -> Result<Option<serde_json::Value>, String> {
        let (parent, field) = self.carriable(schema, parent)?;
        let mut baseline = carry(&parent, &field, &self.opts, removed, upserted)?;
        self.measure(collection, &mut baseline);
        serde_json::to_value(&baseline).map(Some).map_err(|e| e.to_string())
    }
}

impl BaselineObserver<'_> {
    /// The parent baseline and the field to carry it over, if it can be.
    fn carriable(
        &self,
        schema: &CollectionSchema,
        parent: Option<&serde_json::Value>,
    ) -> Result<(Baseline, Field), String> {
        let parent = parent.ok_or("the last snapshot has no verification baseline")?;
        let parent: Baseline = serde_json::from_value(parent.clone())
            .map_err(|e| format!("the last snapshot's baseline is unreadable: {e}"))?;
        let Some(field) = self.start(schema).field else {
            return Err("the collection has no dense vector to query".into());
        };
        let why = |s: &str| Err(format!("the last snapshot's baseline {s}"));
        if parent.error.is_some() || parent.queries.is_empty() {
            return why("is incomplete");
        }
        if parent.vector != field.name || parent.metric != field.metric {
            return why("queries another vector");
        }
        let queries = self.opts.queries.min(parent.points as usize);
        if parent.k != self.opts.k || parent.queries.len() != queries {
            return why("has another number of golden queries or k");
        }
        if parent.skipped > 0 {
            return why("left out points without that vector");
        }
        if parent.queries.iter().any(|q| q.nearest.len() < q.truth.len() || q.nearest.is_empty()) {
            return why("keeps no margin beyond its truth (written by an older vdr)");
        }
        Ok((parent, field))
    }

    /// Measure the source's recall and latency, when it has a handle on it.
    fn measure(&mut self, collection: &str, baseline: &mut Baseline) {
        if let Some(db) = self.source.as_deref_mut()
            && !baseline.queries.is_empty()
        {
            // A failed measurement leaves `source` empty; verification then skips it.
            let _ = measure::measure_source(db, collection, baseline);
        }
    }
}

/// `parent`'s golden queries (checked by `carriable`) with their truth
/// updated exactly over a change: each query's listed nearest points lose
/// the changed ones and gain those changed points that now lie within the
/// list's reach (every unlisted point is farther than its last entry). It
/// fails when a list would hold fewer than k points.
fn carry(
    parent: &Baseline,
    field: &Field,
    opts: &BaselineOptions,
    removed: &[PointId],
    upserted: &[&Point],
) -> Result<Baseline, String> {
    let kernel = Kernel::for_metric(field.metric);
    let changed: HashSet<&PointId> = removed.iter().chain(upserted.iter().map(|p| &p.id)).collect();
    let mut fresh = Vec::with_capacity(upserted.len());
    let mut skipped = 0u64;
    for p in upserted {
        match p.dense(&field.name).filter(|v| v.len() == field.dim) {
            Some(v) => {
                let mut v = v.to_vec();
                distance::prepare(field.metric, &mut v);
                fresh.push((&p.id, v));
            }
            None => skipped += 1,
        }
    }
    let kept = parent.points.checked_sub(removed.len() as u64).ok_or_else(|| {
        format!("the last snapshot's baseline counts fewer points than {} removed", removed.len())
    })?;
    let points = kept + fresh.len() as u64;
    let mut queries = Vec::with_capacity(parent.queries.len());
    for q in &parent.queries {
        let complete = q.nearest.len() as u64 == parent.points;
        let reach = q.nearest.last().map(|(id, d)| (*d, id.clone()));
        let mut query = q.vector.clone();
        distance::prepare(field.metric, &mut query);
        let mut list: Vec<(PointId, f32)> =
            q.nearest.iter().filter(|(id, _)| !changed.contains(id)).cloned().collect();
        let mut out = [0f32];
        for (id, v) in &fresh {
            distance::many(kernel, &query, v, &mut out);
            let within = match &reach {
                Some((d, last)) => out[0].total_cmp(d).then_with(|| (*id).cmp(last)).is_le(),
                None => true,
            };
            if complete || within {
                list.push(((*id).clone(), out[0]));
            }
        }
        list.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        if list.len() < opts.k && !complete {
            return Err("too many of a golden query's nearest points changed".into());
        }
        list.truncate(opts.k * 2);
        if list.iter().any(|n| !n.1.is_finite()) {
            return Err("a changed point's distance is not finite".into());
        }
        queries.push(GoldenQuery {
            id: q.id.clone(),
            vector: q.vector.clone(),
            truth: list.iter().take(opts.k).map(|n| n.0.clone()).collect(),
            nearest: list,
        });
    }
    if skipped > 0 {
        return Err(format!("{skipped} changed points lack the vector {:?}", field.name));
    }
    Ok(Baseline { points, skipped: 0, queries, source: None, error: None, ..parent.clone() })
}
