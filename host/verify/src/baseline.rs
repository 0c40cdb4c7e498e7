//! The verification baseline stored in a snapshot manifest (`CollectionEntry::baseline`).

use serde::{Deserialize, Serialize};
use vdr_model::{Metric, PointId};

/// Golden queries with their exact top-k, and how the source answered them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The dense vector field the queries search.
    pub vector: String,
    pub metric: Metric,
    pub k: usize,
    /// The seed the queries were sampled with.
    pub seed: u64,
    /// Points whose vector took part in the ground truth.
    pub points: u64,
    /// Points without a usable vector in that field (missing, wrong dimension).
    #[serde(default)]
    pub skipped: u64,
    pub queries: Vec<GoldenQuery>,
    /// Measured on the source right after the backup, when the host could.
    pub source: Option<SourceMeasurement>,
    /// Why the baseline is incomplete (e.g. the spill file could not be written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GoldenQuery {
    /// The record whose vector is the query.
    pub id: PointId,
    pub vector: Vec<f32>,
    /// Exact nearest neighbours over every backed-up vector, nearest first.
    pub truth: Vec<PointId>,
    /// The exact nearest neighbours with their distances: `truth` and as
    /// many again. Every point not listed is farther than the last one
    /// listed (or the list holds every point), so an incremental backup can
    /// update `truth` from the changed points alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nearest: Vec<(PointId, f32)>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceMeasurement {
    /// Mean recall@k of the source's own search against the exact truth.
    pub recall_at_k: f64,
    pub latency_ms: Percentiles,
    /// Queries run.
    pub queries: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `samples` (any order); zeros when empty.
    pub fn of(samples: &[f64]) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let rank = |p: f64| s[((p / 100.0 * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
        Percentiles { p50: rank(50.0), p95: rank(95.0), p99: rank(99.0) }
    }
}

impl Baseline {
    /// The baseline stored in a manifest entry, if any.
    pub fn from_entry(entry: &vdr_repo::CollectionEntry) -> Option<Result<Baseline, String>> {
        entry.baseline.as_ref().map(|v| {
            serde_json::from_value(v.clone()).map_err(|e| format!("baseline is unreadable: {e}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(Percentiles::of(&v), Percentiles { p50: 50.0, p95: 95.0, p99: 99.0 });
        assert_eq!(Percentiles::of(&[3.0]).p99, 3.0);
    }
}
