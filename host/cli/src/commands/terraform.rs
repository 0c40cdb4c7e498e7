//! `vdr terraform OPERATION`: Terraform's `external` data source protocol.
//! One JSON object of strings on stdin (the query), one JSON object of
//! strings on stdout and nothing else there; on failure a message on stderr
//! and a non-zero exit. Secrets come from the environment (VDR_IDENTITY,
//! VDR_PASSPHRASE_FILE, cloud credentials), never from the query.

use super::Ctx;
use crate::cli::TerraformArgs;
use crate::exit::usage;
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::io::Read;
use vdr_repo::{Repository, SnapshotInfo};

const OPERATIONS: &[(&str, &[&str], &[&str])] = &[
    // (operation, required keys, optional keys)
    ("latest-snapshot", &["repo", "collection"], &["tag", "max_age_seconds", "min_recall"]),
    ("snapshot", &["repo", "snapshot"], &["collection"]),
    ("repository", &["repo"], &[]),
    ("plan-restore", &["repo", "snapshot", "db"], &["collection", "as"]),
];

type Query = BTreeMap<String, String>;
type Answer = BTreeMap<&'static str, String>;

pub fn run(ctx: &Ctx, a: TerraformArgs) -> Result<()> {
    let Some((op, required, optional)) = OPERATIONS.iter().find(|(n, _, _)| *n == a.operation)
    else {
        let names: Vec<&str> = OPERATIONS.iter().map(|o| o.0).collect();
        return Err(usage(format!(
            "unknown operation {:?}; valid: {}",
            a.operation,
            names.join(", ")
        )));
    };
    let query = read_query(required, optional)?;
    let answer = match *op {
        "latest-snapshot" => latest_snapshot(ctx, &query)?,
        "snapshot" => snapshot(ctx, &query)?,
        "repository" => repository(ctx, &query)?,
        _ => plan_restore(ctx, &query)?,
    };
    println!("{}", serde_json::to_string(&answer)?);
    Ok(())
}

/// Parse stdin as an object of strings with exactly the allowed keys.
fn read_query(required: &[&str], optional: &[&str]) -> Result<Query> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("reading the query from stdin")?;
    let value: serde_json::Value =
        serde_json::from_str(if text.trim().is_empty() { "{}" } else { &text })
            .map_err(|e| usage(format!("the query on stdin is not JSON: {e}")))?;
    let obj =
        value.as_object().ok_or_else(|| usage("the query must be a JSON object of strings"))?;
    let valid: Vec<&str> = required.iter().chain(optional).copied().collect();
    let mut q = Query::new();
    for (k, v) in obj {
        if !valid.contains(&k.as_str()) {
            return Err(usage(format!(
                "unknown query key {k:?}; valid keys: {}",
                valid.join(", ")
            )));
        }
        let s = v.as_str().ok_or_else(|| {
            usage(format!("query key {k:?} must be a string (Terraform passes strings)"))
        })?;
        q.insert(k.clone(), s.to_string());
    }
    for r in required {
        if q.get(*r).is_none_or(|v| v.is_empty()) {
            return Err(usage(format!(
                "the query needs {r:?} (required: {})",
                required.join(", ")
            )));
        }
    }
    Ok(q)
}

fn parse_num<T: std::str::FromStr>(q: &Query, key: &str) -> Result<Option<T>> {
    q.get(key)
        .map(|v| {
            v.parse::<T>().map_err(|_| usage(format!("query key {key:?}: {v:?} is not a number")))
        })
        .transpose()
}

fn open(ctx: &Ctx, q: &Query) -> Result<Repository> {
    ctx.repository(&q["repo"])
}

/// Recall measured on the source at backup time, from the baseline.
fn source_recall(repo: &Repository, id: &str, collection: &str) -> Result<Option<f64>> {
    let snap = repo.snapshot(id, Some(collection))?;
    Ok(snap
        .collection(collection)
        .and_then(|c| c.baseline.as_ref())
        .and_then(|b| b.pointer("/source/recall_at_k"))
        .and_then(|r| r.as_f64()))
}

fn latest_snapshot(ctx: &Ctx, q: &Query) -> Result<Answer> {
    let collection = &q["collection"];
    let max_age: Option<i64> = parse_num(q, "max_age_seconds")?;
    let min_recall: f64 = parse_num(q, "min_recall")?.unwrap_or(0.9);
    let repo = open(ctx, q)?;
    let now = chrono::Utc::now();
    let mut candidates: Vec<SnapshotInfo> = repo
        .snapshots()?
        .into_iter()
        .filter(|s| s.collections.iter().any(|(n, _)| n == collection))
        .filter(|s| q.get("tag").is_none_or(|t| s.tags.contains(t)))
        .collect();
    candidates.sort_by_key(|s| s.time);
    let newest = candidates.pop().ok_or_else(|| {
        anyhow::anyhow!(
            "no snapshot in {} holds collection {collection:?}{}",
            q["repo"],
            q.get("tag").map(|t| format!(" with tag {t:?}")).unwrap_or_default()
        )
    })?;
    let age = (now - newest.time).num_seconds().max(0);
    if let Some(max) = max_age
        && age > max
    {
        anyhow::bail!(
            "the newest snapshot of {collection:?} ({}) is {age} s old, older than max_age_seconds = {max}",
            newest.id.short()
        );
    }
    let records = newest.collections.iter().find(|(n, _)| n == collection).map_or(0, |c| c.1);
    let recall = source_recall(&repo, &newest.id.to_string(), collection)?;
    let mut a = Answer::new();
    a.insert("snapshot_id", newest.id.to_string());
    a.insert("time", newest.time.to_rfc3339());
    a.insert("age_seconds", age.to_string());
    a.insert("records", records.to_string());
    a.insert("verified", recall.is_some_and(|r| r >= min_recall).to_string());
    a.insert("recall", recall.map(|r| format!("{r:.4}")).unwrap_or_default());
    Ok(a)
}

fn snapshot(ctx: &Ctx, q: &Query) -> Result<Answer> {
    let repo = open(ctx, q)?;
    let snap = repo.snapshot(&q["snapshot"], q.get("collection").map(String::as_str))?;
    let mut a = Answer::new();
    a.insert("snapshot_id", snap.id.to_string());
    a.insert("time", snap.time.to_rfc3339());
    a.insert("hostname", snap.hostname.clone());
    a.insert("tags", snap.tags.join(","));
    a.insert("parent", snap.parent.map(|p| p.to_string()).unwrap_or_default());
    a.insert(
        "collections",
        snap.collections.iter().map(|c| c.name.clone()).collect::<Vec<_>>().join(","),
    );
    a.insert("records", snap.collections.iter().map(|c| c.records).sum::<u64>().to_string());
    a.insert(
        "engines",
        snap.collections.iter().map(|c| c.source.engine.clone()).collect::<Vec<_>>().join(","),
    );
    Ok(a)
}

fn repository(ctx: &Ctx, q: &Query) -> Result<Answer> {
    let repo = open(ctx, q)?;
    let snaps = repo.snapshots()?;
    let total: u64 =
        vdr_model::list_all(repo.store().as_ref(), "data/")?.iter().map(|o| o.size).sum();
    let mut a = Answer::new();
    a.insert("format_version", repo.format_version().to_string());
    a.insert("repository_id", repo.repository_id().to_string());
    a.insert("snapshot_count", snaps.len().to_string());
    a.insert(
        "last_backup_time",
        snaps.iter().map(|s| s.time).max().map(|t| t.to_rfc3339()).unwrap_or_default(),
    );
    a.insert("total_size_bytes", total.to_string());
    Ok(a)
}

fn plan_restore(ctx: &Ctx, q: &Query) -> Result<Answer> {
    let repo = open(ctx, q)?;
    let snap = repo.snapshot(&q["snapshot"], q.get("collection").map(String::as_str))?;
    let entries: Vec<_> = match q.get("collection") {
        Some(c) => vec![snap.collection(c).ok_or_else(|| {
            anyhow::anyhow!("snapshot {} has no collection {c:?}", snap.id.short())
        })?],
        None => snap.collections.iter().collect(),
    };
    let mut db = ctx.database(&q["db"], false)?;
    let existing = db.list_collections()?;
    let mut actions = Vec::new();
    let mut blocked = Vec::new();
    for e in &entries {
        let target = q.get("as").cloned().unwrap_or_else(|| e.name.clone());
        if existing.contains(&target) && db.count(&target)? > 0 {
            blocked.push(target.clone());
            actions.push(format!(
                "{} -> {target}: target exists and is not empty (needs force)",
                e.name
            ));
        } else {
            actions
                .push(format!("{} -> {target}: create and import {} records", e.name, e.records));
        }
    }
    let mut a = Answer::new();
    a.insert("snapshot_id", snap.id.to_string());
    a.insert("collections", entries.iter().map(|e| e.name.clone()).collect::<Vec<_>>().join(","));
    a.insert("records", entries.iter().map(|e| e.records).sum::<u64>().to_string());
    a.insert("bytes", entries.iter().map(|e| e.stream_length).sum::<u64>().to_string());
    a.insert("needs_force", (!blocked.is_empty()).to_string());
    a.insert("actions", actions.join("; "));
    Ok(a)
}
