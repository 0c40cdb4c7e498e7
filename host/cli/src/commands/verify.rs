//! `vdr verify`: is the live collection what the snapshot holds, and does
//! it answer queries as well as the source did?

use super::Ctx;
use crate::cli::VerifyArgs;
use crate::exit::verification;
use anyhow::Result;
use vdr_verify::{VerifyOptions, VerifyReport};

pub fn verify(ctx: &Ctx, a: &VerifyArgs) -> Result<Vec<VerifyReport>> {
    let repo = ctx.repository_at(&a.repo.repo, a.point_in_time.as_deref())?;
    let snap = repo.snapshot(&a.snapshot, a.collection.as_deref())?;
    let entries: Vec<_> = match &a.collection {
        Some(c) => vec![snap.collection(c).ok_or_else(|| {
            crate::exit::usage(format!("snapshot {} holds no collection {c:?}", snap.id.short()))
        })?],
        None => snap.collections.iter().collect(),
    };
    let opts = VerifyOptions {
        min_recall: a.min_recall,
        sample: a.sample,
        tolerance: a.tolerance,
        max_latency_factor: a.max_latency_factor,
        ..VerifyOptions::default()
    };
    let mut db = ctx.database(&a.db.db, false)?;
    let id = snap.id.to_string();
    let mut reports = Vec::new();
    for entry in entries {
        let live = if a.collection.is_some() { a.as_name.clone() } else { None }
            .unwrap_or_else(|| entry.name.clone());
        reports.push(crate::verification::verify_collection(
            &repo,
            &id,
            entry,
            db.as_mut(),
            &live,
            &opts,
        )?);
    }
    Ok(reports)
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
