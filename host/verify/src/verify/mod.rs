//! Verification of a live collection against a snapshot entry.

mod compare;
mod content;
mod report;

pub use content::ContentChecker;
pub use report::{Check, Status, VerifyReport};

use vdr_model::{CollectionSchema, Database, Point};
use vdr_repo::CollectionEntry;

use crate::baseline::Baseline;
use crate::measure::{self, QueryRun};

#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// Fail when mean recall@k against the ground truth is below this.
    pub min_recall: f64,
    /// Records to compare; 0 = all.
    pub sample: usize,
    /// Seed of the content sample.
    pub seed: u64,
    /// Relative per-element tolerance for vectors (engines that round).
    pub tolerance: f32,
    /// Fail when p95 latency exceeds the source's p95 times this; 0 = off.
    pub max_latency_factor: f64,
    /// Fail when recall is below the source's by more than this.
    pub recall_tolerance: f64,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            min_recall: 0.9,
            sample: 0,
            seed: 0x5eed,
            tolerance: 1e-5,
            max_latency_factor: 0.0,
            recall_tolerance: 0.05,
        }
    }
}

/// Check `live_collection` in `db` against the snapshot's `entry`. `points`
/// are the snapshot's records (for the content check; `None` skips it).
/// Never fails: a database error becomes a failed check.
pub fn verify(
    db: &mut dyn Database,
    live_collection: &str,
    entry: &CollectionEntry,
    points: Option<&mut dyn Iterator<Item = Point>>,
    opts: &VerifyOptions,
) -> VerifyReport {
    let mut checks = vec![count(db, live_collection, entry.records)];
    checks.push(schema(db, live_collection, &entry.schema));
    let mut records_checked = 0;
    match points {
        Some(points) => {
            let mut c = ContentChecker::new(
                db,
                live_collection,
                &entry.schema,
                opts.sample,
                opts.seed,
                opts.tolerance,
            );
            points.for_each(|p| c.push(p));
            let (check, n) = c.finish();
            records_checked = n;
            checks.push(check);
        }
        None => checks.push(Check::skip("content", "the snapshot's records were not provided")),
    }
    let (recall, latency) = queries(db, live_collection, entry, opts, &mut checks);
    VerifyReport {
        collection: entry.name.clone(),
        live_collection: live_collection.to_string(),
        ok: !checks.iter().any(|c| c.status == Status::Fail),
        checks,
        recall,
        latency,
        records_checked,
    }
}

fn count(db: &mut dyn Database, live: &str, expected: u64) -> Check {
    match db.count(live) {
        Ok(n) => Check::new("count", n == expected, expected, n),
        Err(e) => Check::fail("count", format!("counting failed: {e}")),
    }
}

fn schema(db: &mut dyn Database, live: &str, want: &CollectionSchema) -> Check {
    let have = match db.describe_collection(live) {
        Ok(s) => s,
        Err(e) => return Check::fail("schema", format!("describing the collection failed: {e}")),
    };
    let diffs = want.vector_differences(&have);
    let describe = |s: &CollectionSchema| {
        s.vectors
            .iter()
            .map(|v| {
                format!(
                    "{}:{}d/{}",
                    if v.name.is_empty() { "-" } else { &v.name },
                    v.dimension,
                    v.metric
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    Check::new("schema", diffs.is_empty(), describe(want), describe(&have))
        .with_message(diffs.join("; "))
}

/// Recall against the truth and the source, and latency against the source.
fn queries(
    db: &mut dyn Database,
    live: &str,
    entry: &CollectionEntry,
    opts: &VerifyOptions,
    checks: &mut Vec<Check>,
) -> (Option<f64>, Option<crate::Percentiles>) {
    let names = ["recall", "recall-vs-source", "latency"];
    let skip_all = |checks: &mut Vec<Check>, why: &str| {
        checks.extend(names.iter().map(|n| Check::skip(n, why)));
    };
    let baseline = match Baseline::from_entry(entry) {
        None => {
            skip_all(checks, "the snapshot has no verification baseline");
            return (None, None);
        }
        Some(Err(e)) => {
            checks.push(Check::fail("recall", e));
            return (None, None);
        }
        Some(Ok(b)) => b,
    };
    if baseline.queries.is_empty() {
        let why =
            baseline.error.clone().unwrap_or_else(|| "the baseline has no golden queries".into());
        skip_all(checks, &why);
        return (None, None);
    }
    let run: QueryRun = match measure::run_queries(db, live, &baseline) {
        Ok(r) => r,
        Err(e) => {
            checks.push(Check::fail("recall", format!("searching failed: {e}")));
            return (None, None);
        }
    };
    let worst = run
        .worst
        .as_ref()
        .filter(|w| w.1 < 1.0)
        .map(|w| format!("worst query {} at {:.2}", w.0, w.1))
        .unwrap_or_default();
    checks.push(
        Check::new(
            "recall",
            run.recall >= opts.min_recall,
            format!(">= {:.3} (k={})", opts.min_recall, baseline.k),
            format!("{:.3}", run.recall),
        )
        .with_message(
            format!("{} queries; {worst}", run.queries).trim_end_matches("; ").to_string(),
        ),
    );
    match &baseline.source {
        None => {
            checks.push(Check::skip("recall-vs-source", "no source measurement in the baseline"));
            checks.push(Check::skip("latency", "no source measurement in the baseline"));
        }
        Some(src) => {
            let floor = src.recall_at_k - opts.recall_tolerance;
            checks.push(Check::new(
                "recall-vs-source",
                run.recall >= floor,
                format!(">= {floor:.3} (source {:.3})", src.recall_at_k),
                format!("{:.3}", run.recall),
            ));
            let p = run.latency_ms;
            let actual = format!("p50 {:.2} p95 {:.2} p99 {:.2} ms", p.p50, p.p95, p.p99);
            if opts.max_latency_factor > 0.0 {
                let limit = src.latency_ms.p95 * opts.max_latency_factor;
                checks.push(Check::new(
                    "latency",
                    p.p95 <= limit,
                    format!("p95 <= {limit:.2} ms"),
                    actual,
                ));
            } else {
                checks.push(
                    Check::skip("latency", "no limit set (max_latency_factor = 0)")
                        .with_actual(actual, format!("source p95 {:.2} ms", src.latency_ms.p95)),
                );
            }
        }
    }
    (Some(run.recall), Some(run.latency_ms))
}
