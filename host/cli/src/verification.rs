//! Glue between the CLI and vector-aware verification (baseline at backup
//! time, checks against a live database). Filled in by the vdr-verify crate.

use anyhow::Result;
use vdr_model::Database;
use vdr_repo::{BackupSummary, PointObserver, Repository};

/// The observer that records golden queries during a backup (none when
/// `queries` is 0).
pub fn observer<'a>(_queries: usize, _k: usize) -> Option<Box<dyn PointObserver + 'a>> {
    None
}

/// Run the golden queries against the source and store its recall and
/// latency in the snapshot's baseline.
pub fn measure_source(
    _repo: &Repository,
    _db: &mut dyn Database,
    _summary: &BackupSummary,
) -> Result<()> {
    Ok(())
}
