//! Glue between the CLI and vdr-verify: the baseline recorded at backup
//! time, and `vdr verify` against a live database.

use anyhow::Result;
use vdr_model::Database;
use vdr_repo::{PointObserver, Repository};
use vdr_verify::{
    BaselineObserver, BaselineOptions, ContentChecker, Status, VerifyOptions, VerifyReport,
};

/// The observer that picks golden queries and computes their ground truth
/// during a backup, and measures them on `source` (a second instance of
/// the source database: the first is busy exporting). `None` when
/// `queries` is 0.
pub fn observer<'a>(
    queries: usize,
    k: usize,
    source: Option<&'a mut Box<dyn Database>>,
) -> Option<Box<dyn PointObserver + 'a>> {
    if queries == 0 {
        return None;
    }
    let mut o = BaselineObserver::new(BaselineOptions { queries, k, ..BaselineOptions::default() });
    if let Some(db) = source {
        o = o.measure_with(db.as_mut());
    }
    Some(Box::new(o))
}

/// Verify one collection of a snapshot against `live` in `db`: count,
/// schema, recall and latency from the baseline, and the content of every
/// (or `opts.sample`) record streamed from the repository, rewritten by
/// `map` as the restore wrote it into `db`.
pub fn verify_collection(
    repo: &Repository,
    snapshot: &str,
    entry: &vdr_repo::CollectionEntry,
    db: &mut dyn Database,
    live: &str,
    opts: &VerifyOptions,
    map: &dyn Fn(vdr_model::Point) -> vdr_model::Point,
) -> Result<VerifyReport> {
    let mut report = vdr_verify::verify(db, live, entry, None, opts);
    let mut checker =
        ContentChecker::new(db, live, &entry.schema, opts.sample, opts.seed, opts.tolerance);
    repo.read_points(snapshot, &entry.name, |p| {
        checker.push(map(p));
        Ok(())
    })?;
    let (check, n) = checker.finish();
    report.records_checked = n;
    match report.checks.iter_mut().find(|c| c.name == "content") {
        Some(slot) => *slot = check,
        None => report.checks.push(check),
    }
    report.ok = !report.checks.iter().any(|c| c.status == Status::Fail);
    Ok(report)
}
