//! Running golden queries against a database: recall@k and latency.

use std::collections::HashSet;
use std::time::Instant;
use vdr_model::{Database, PointId, Result};

use crate::baseline::{Baseline, Percentiles, SourceMeasurement};

/// What one run of the golden queries measured.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryRun {
    /// Mean recall@k over the queries with a non-empty truth.
    pub recall: f64,
    pub latency_ms: Percentiles,
    pub queries: usize,
    /// The query with the lowest recall (id, recall), to name in reports.
    pub worst: Option<(PointId, f64)>,
}

/// Search `collection` with every golden query of `baseline`.
pub fn run_queries(
    db: &mut dyn Database,
    collection: &str,
    baseline: &Baseline,
) -> Result<QueryRun> {
    let k = baseline.k as u32;
    // One untimed query first: connection set-up and cold caches are not
    // what p50/p95 should describe.
    if let Some(q) = baseline.queries.first() {
        db.search(collection, &baseline.vector, &q.vector, k)?;
    }
    let mut latencies = Vec::with_capacity(baseline.queries.len());
    let (mut sum, mut counted) = (0.0, 0usize);
    let mut worst: Option<(PointId, f64)> = None;
    for q in &baseline.queries {
        let started = Instant::now();
        let hits = db.search(collection, &baseline.vector, &q.vector, k)?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        if q.truth.is_empty() {
            continue;
        }
        let truth: HashSet<&PointId> = q.truth.iter().collect();
        let found = hits.iter().take(q.truth.len()).filter(|h| truth.contains(&h.id)).count();
        let recall = found as f64 / q.truth.len() as f64;
        sum += recall;
        counted += 1;
        if worst.as_ref().is_none_or(|w| recall < w.1) {
            worst = Some((q.id.clone(), recall));
        }
    }
    Ok(QueryRun {
        recall: if counted == 0 { 1.0 } else { sum / counted as f64 },
        latency_ms: Percentiles::of(&latencies),
        queries: baseline.queries.len(),
        worst,
    })
}

/// Run the golden queries against the source right after its backup and
/// record its recall@k and latency in `baseline.source`.
pub fn measure_source(
    db: &mut dyn Database,
    collection: &str,
    baseline: &mut Baseline,
) -> Result<SourceMeasurement> {
    let run = run_queries(db, collection, baseline)?;
    let m = SourceMeasurement {
        recall_at_k: run.recall,
        latency_ms: run.latency_ms,
        queries: run.queries,
    };
    baseline.source = Some(m.clone());
    Ok(m)
}
