//! `vdr verify`: is the live collection what the snapshot holds, and does
//! it answer queries as well as the source did?

use super::Ctx;
use crate::cli::VerifyArgs;
use crate::exit::verification;
use crate::mapping::Mapping;
use anyhow::Result;
use vdr_verify::{VerifyOptions, VerifyReport};

/// Verify, returning the snapshot verified against with the reports.
pub fn verify(ctx: &Ctx, a: &VerifyArgs) -> Result<(vdr_repo::Snapshot, Vec<VerifyReport>)> {
    let repo = ctx.repository_at(&a.repo.repo, a.point_in_time.as_deref())?;
    let snap = repo.snapshot(&a.snapshot, a.collection.as_deref())?;
    let entries = super::repo::snapshot_entries(&snap, a.collection.as_deref())?;
    let opts = VerifyOptions {
        min_recall: a.min_recall,
        sample: a.sample,
        tolerance: a.tolerance,
        max_latency_factor: a.max_latency_factor,
        ..VerifyOptions::default()
    };
    let (mut db, plugin) = ctx.database_with_plugin(&a.db.db, false)?;
    let id = snap.id.to_string();
    let mut reports = Vec::new();
    for entry in entries {
        let requested = if a.collection.is_some() { a.as_name.as_deref() } else { None };
        // The live collection is compared with what the restore made of the
        // snapshot: the same mapping, planned the same way.
        let mapping = Mapping::plan(
            &entry.schema,
            requested.unwrap_or(&entry.name),
            requested.is_some(),
            &plugin.manifest.name,
            &a.mapping.options(),
        )?;
        reports.push(crate::verification::verify_collection(
            &repo,
            &id,
            &mapping.entry(entry),
            db.as_mut(),
            &mapping.target,
            &opts,
            &|p| mapping.point(p),
        )?);
    }
    Ok((snap, reports))
}

pub fn print(ctx: &Ctx, reports: &[VerifyReport]) -> Result<()> {
    ctx.out.emit(&reports, || {
        reports
            .iter()
            .map(|r| {
                format!(
                    "{} (snapshot) vs {} (live): {}\n{}",
                    r.collection,
                    r.live_collection,
                    if r.ok { "OK" } else { "FAILED" },
                    r.to_table()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| !r.ok)
        .map(|r| {
            format!(
                "{} ({})",
                r.live_collection,
                r.failed().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    if !failed.is_empty() {
        return Err(verification(format!("verification failed: {}", failed.join("; "))));
    }
    Ok(())
}
