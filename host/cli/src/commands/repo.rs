//! Repository commands: init, key, backup, snapshots, restore, check,
//! forget, prune, unlock. Keys come from files or the environment, never
//! from arguments.

use super::Ctx;
use crate::cli::{
    BackupArgs, CheckArgs, ForgetArgs, InitArgs, KeyCmd, RestoreArgs, SnapshotsArgs, UnlockArgs,
};
use crate::exit::{usage, verification};
use crate::mapping::{MappedDatabase, Mapping};
use crate::output::{human_bytes, table};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;
use vdr_repo::{
    BackupOptions, BackupSummary, CheckOptions, Credentials, InitOptions, KeepPolicy, KeySpec,
    ReadData, Repository, RestoreOptions, RestoreSummary, SourceInfo,
};

/// The passphrase in the passphrase file (`VDR_PASSPHRASE_FILE`), if one is set.
fn passphrase(file: Option<&Path>) -> Result<Option<String>> {
    let Some(path) = file else { return Ok(None) };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the passphrase file {}", path.display()))?;
    let p = text.trim_end_matches(['\n', '\r']).to_string();
    if p.is_empty() {
        return Err(usage(format!(
            "the passphrase file {} is empty; a repository passphrase cannot be empty",
            path.display()
        )));
    }
    Ok(Some(p))
}

/// Who opens the repository: `--identity`/`VDR_IDENTITY`, else the passphrase.
pub fn credentials(identity: Option<&Path>, passphrase_file: Option<&Path>) -> Result<Credentials> {
    if let Some(path) = identity {
        return Ok(Credentials::from_identity_file(path)?);
    }
    if let Some(p) = passphrase(passphrase_file)? {
        return Ok(Credentials::passphrase(p));
    }
    Err(usage(
        "no key to open the repository: pass --identity FILE (or set VDR_IDENTITY) to an age identity, \
         or set VDR_PASSPHRASE_FILE",
    ))
}

/// Who may open a new key: recipients from flags or a file, else the passphrase.
fn key_spec(
    recipients: &[String],
    file: Option<&PathBuf>,
    passphrase_file: Option<&Path>,
) -> Result<KeySpec> {
    let mut all: Vec<String> = recipients.to_vec();
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading recipients file {}", f.display()))?;
        all.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        );
    }
    if !all.is_empty() {
        return Ok(KeySpec::Recipients(all));
    }
    match passphrase(passphrase_file)? {
        Some(p) => Ok(KeySpec::passphrase(p)),
        None => Err(usage(
            "no key given: pass --recipient age1... (make one with `age-keygen -o key.txt`), \
             --recipients-file FILE, or set VDR_PASSPHRASE_FILE",
        )),
    }
}

impl Ctx {
    /// Open an existing repository.
    pub fn repository(&self, spec: &str) -> Result<Repository> {
        let store = self.storage(spec)?;
        let creds = credentials(self.identity.as_deref(), self.passphrase_file.as_deref())?;
        Repository::open(store, &creds).with_context(|| format!("opening repository {spec}"))
    }
}

pub fn init(ctx: &Ctx, a: InitArgs) -> Result<()> {
    let repo_url = a.repo.repo.clone();
    let id = init_quiet(ctx, a)?;
    ctx.out.emit(&serde_json::json!({ "repository": repo_url, "id": id }), || {
        format!("created repository {id} at {repo_url}")
    })
}

/// Create a repository; returns its id.
pub fn init_quiet(ctx: &Ctx, a: InitArgs) -> Result<String> {
    let spec = key_spec(&a.recipients, a.recipients_file.as_ref(), ctx.passphrase_file.as_deref())?;
    if !(1..=19).contains(&a.compression) {
        return Err(usage(format!("--compression {} must be within 1..=19", a.compression)));
    }
    if let Some(path) = a.repo.repo.strip_prefix("fs://") {
        std::fs::create_dir_all(path).with_context(|| format!("creating {path}"))?;
    }
    let store = ctx.storage(&a.repo.repo)?;
    let options = InitOptions { compression_level: a.compression, ..InitOptions::default() };
    let repo = Repository::init(store, spec, options)
        .with_context(|| format!("initialising {}", a.repo.repo))?;
    Ok(repo.repository_id().to_string())
}

pub fn key(ctx: &Ctx, cmd: KeyCmd) -> Result<()> {
    match cmd {
        KeyCmd::Add { repo, recipients, recipients_file } => {
            let spec =
                key_spec(&recipients, recipients_file.as_ref(), ctx.passphrase_file.as_deref())?;
            let id = ctx.repository(&repo.repo)?.add_key(&spec)?.to_string();
            ctx.out.emit(&serde_json::json!({ "added": id }), || format!("added key {id}"))
        }
        KeyCmd::List { repo } => {
            let keys = ctx.repository(&repo.repo)?.list_keys()?;
            ctx.out.emit(&keys, || {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        vec![
                            format!("{}{}", if k.current { "*" } else { " " }, k.id.short()),
                            k.kind.clone(),
                            k.created.map(|t| t.to_rfc3339()).unwrap_or_default(),
                            k.host.clone(),
                        ]
                    })
                    .collect();
                table(&["ID", "KIND", "CREATED", "HOST"], &rows) + "(* opened this session)"
            })
        }
        KeyCmd::Remove { repo, id } => {
            let removed = ctx.repository(&repo.repo)?.remove_key(&id)?.to_string();
            ctx.out.emit(&serde_json::json!({ "removed": removed }), || {
                format!("removed key {removed}")
            })
        }
    }
}

pub fn backup(ctx: &Ctx, a: BackupArgs) -> Result<BackupSummary> {
    let repo = ctx.repository(&a.repo.repo)?;
    let (mut db, plugin) = ctx.database_with_plugin(&a.db.db, false)?;
    let collections =
        if a.collections.is_empty() { db.list_collections()? } else { a.collections.clone() };
    let engine_version = collections
        .first()
        .and_then(|c| db.describe_collection(c).ok())
        .map(|s| s.engine_version)
        .unwrap_or_default();
    let source = SourceInfo {
        engine: plugin.manifest.name.clone(),
        engine_version,
        plugin_name: plugin.manifest.name.clone(),
        plugin_version: plugin.manifest.version.clone(),
        database: db.describe(),
    };
    // A second instance of the source answers the golden queries while the
    // first one exports.
    let mut measure =
        if a.golden_queries > 0 { Some(ctx.database(&a.db.db, false)?) } else { None };
    let bar = ctx.out.progress(None, "backup");
    let bar2 = bar.clone();
    let mut options = BackupOptions {
        progress: Some(Box::new(move |p: &vdr_repo::BackupProgress| {
            bar2.set_position(p.records);
            bar2.set_message(format!("{} {}", p.collection, human_bytes(p.bytes_read)));
        })),
        full: a.full,
        ..BackupOptions::default()
    };
    if let Some(o) = crate::verification::observer(a.golden_queries, a.k, measure.as_mut()) {
        options.observers.push(o);
    }
    let summary = repo.backup(db.as_mut(), &collections, &a.tags, &source, options)?;
    // A listing: reading every snapshot would cost what the backup saved.
    if let Ok(count) = repo.snapshot_count() {
        let l = [("repo", a.repo.repo.as_str())];
        ctx.metrics.set("vdr_repository_snapshots", &l, count as f64);
    }
    bar.finish_and_clear();
    Ok(summary)
}

pub fn print_backup(ctx: &Ctx, s: &BackupSummary) -> Result<()> {
    ctx.out.emit(s, || {
        let rows: Vec<Vec<String>> = s
            .collections
            .iter()
            .map(|c| {
                let mode = match (c.changed, &c.full_because) {
                    (Some(n), _) => format!("{n} changed"),
                    (None, Some(why)) => format!("full: {why}"),
                    (None, None) => "full".into(),
                };
                vec![c.name.clone(), c.records.to_string(), human_bytes(c.bytes_read), mode]
            })
            .collect();
        format!(
            "snapshot {} saved\n{}read {} in {:.1}s ({:.0} MB/s), stored {} new, dedup ratio {:.2}",
            s.snapshot,
            table(&["COLLECTION", "RECORDS", "READ", "MODE"], &rows),
            human_bytes(s.bytes_read),
            s.duration_secs,
            s.bytes_read as f64 / 1e6 / s.duration_secs.max(1e-9),
            human_bytes(s.bytes_new),
            s.dedup_ratio
        )
    })
}

pub fn snapshots(ctx: &Ctx, a: SnapshotsArgs) -> Result<()> {
    let repo = ctx.repository_at(&a.repo.repo, a.point_in_time.as_deref())?;
    let mut list = repo.snapshots()?;
    if let Some(c) = &a.collection {
        list.retain(|s| s.collections.iter().any(|(n, _)| n == c));
    }
    ctx.out.emit(&list, || {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|s| {
                vec![
                    s.id.short(),
                    s.time.format("%Y-%m-%d %H:%M:%S").to_string(),
                    s.hostname.clone(),
                    s.tags.join(","),
                    s.collections
                        .iter()
                        .map(|(n, r)| format!("{n}({r})"))
                        .collect::<Vec<_>>()
                        .join(" "),
                    human_bytes(s.stream_bytes),
                ]
            })
            .collect();
        format!(
            "{}{} snapshots",
            table(&["ID", "TIME (UTC)", "HOST", "TAGS", "COLLECTIONS", "SIZE"], &rows),
            list.len()
        )
    })
}

pub fn restore(ctx: &Ctx, a: RestoreArgs) -> Result<RestoreSummary> {
    let repo = ctx.repository_at(&a.repo.repo, a.point_in_time.as_deref())?;
    let (mut db, plugin) = ctx.database_with_plugin(&a.db.db, !a.dry_run)?;
    // Every collection's mapping is planned first, so one the target cannot
    // hold fails before anything is written.
    let snap = repo.snapshot(&a.snapshot, a.collection.as_deref())?;
    let mut collections = Vec::new();
    let mut mappings = std::collections::HashMap::new();
    for entry in snapshot_entries(&snap, a.collection.as_deref())? {
        let (name, explicit) = match &a.as_name {
            Some(n) => (n.as_str(), true),
            None => (entry.name.as_str(), false),
        };
        let m = Mapping::plan(
            &entry.schema,
            name,
            explicit,
            &plugin.manifest.name,
            &a.mapping.options(),
        )?;
        collections.push((entry.name.clone(), m.target.clone()));
        mappings.insert(m.target.clone(), m);
    }
    let mut db = MappedDatabase { inner: db.as_mut(), mappings };
    let bar = ctx.out.progress(None, "restore");
    let bar2 = bar.clone();
    let options = RestoreOptions {
        collections,
        force: a.force,
        dry_run: a.dry_run,
        progress: Some(Box::new(move |p: &vdr_repo::RestoreProgress| {
            bar2.set_position(p.records);
            bar2.set_message(p.collection.clone());
        })),
        ..RestoreOptions::default()
    };
    let summary = repo.restore(&snap.id.to_string(), &mut db, options)?;
    bar.finish_and_clear();
    Ok(summary)
}

/// The collections of `snap` a command works on: `collection`, or all.
pub fn snapshot_entries<'s>(
    snap: &'s vdr_repo::Snapshot,
    collection: Option<&str>,
) -> Result<Vec<&'s vdr_repo::CollectionEntry>> {
    Ok(match collection {
        Some(c) => vec![snap.collection(c).ok_or_else(|| {
            usage(format!("snapshot {} holds no collection {c:?}", snap.id.short()))
        })?],
        None => snap.collections.iter().collect(),
    })
}

pub fn print_restore(ctx: &Ctx, s: &RestoreSummary) -> Result<()> {
    ctx.out.emit(s, || {
        let rows: Vec<Vec<String>> = s
            .collections
            .iter()
            .map(|c| {
                vec![
                    c.source.clone(),
                    c.target.clone(),
                    c.records.to_string(),
                    human_bytes(c.bytes),
                ]
            })
            .collect();
        format!(
            "{} snapshot {} in {:.1}s\n{}",
            if s.dry_run { "checked (dry run, nothing written)" } else { "restored" },
            s.snapshot,
            s.duration_secs,
            table(&["FROM", "TO", "RECORDS", "BYTES"], &rows)
        )
    })
}

fn read_data(a: &CheckArgs) -> Result<ReadData> {
    if a.read_data {
        return Ok(ReadData::All);
    }
    let Some(s) = &a.read_data_subset else { return Ok(ReadData::None) };
    if let Some(p) = s.strip_suffix('%') {
        let pct: f64 =
            p.parse().map_err(|_| usage(format!("--read-data-subset {s}: expected N% or n/t")))?;
        if !(0.0..=100.0).contains(&pct) {
            return Err(usage(format!(
                "--read-data-subset {s}: percentage must be within 0..=100"
            )));
        }
        return Ok(ReadData::Percent(pct));
    }
    let (n, t) = s
        .split_once('/')
        .ok_or_else(|| usage(format!("--read-data-subset {s}: expected N% or n/t")))?;
    let (n, t): (u32, u32) = (
        n.parse().map_err(|_| usage(format!("--read-data-subset {s}: n is not a number")))?,
        t.parse().map_err(|_| usage(format!("--read-data-subset {s}: t is not a number")))?,
    );
    if n == 0 || n > t {
        return Err(usage(format!("--read-data-subset {s}: need 1 <= n <= t")));
    }
    Ok(ReadData::Part { n, t })
}

pub fn check(ctx: &Ctx, a: CheckArgs) -> Result<vdr_repo::CheckReport> {
    let mode = read_data(&a)?;
    let repo = ctx.repository_at(&a.repo.repo, a.point_in_time.as_deref())?;
    Ok(repo.check(&CheckOptions { read_data: mode })?)
}

pub fn print_check(ctx: &Ctx, r: &vdr_repo::CheckReport) -> Result<()> {
    ctx.out.emit(r, || {
        let mut s = format!(
            "{} snapshots, {} index files, {} packs, {} blobs; read {} packs ({} blobs)\n",
            r.snapshots, r.index_files, r.packs, r.blobs, r.packs_read, r.blobs_read
        );
        for n in &r.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        for p in &r.problems {
            s.push_str(&format!("PROBLEM {}: {}\n", p.object, p.message));
        }
        s.push_str(if r.ok() {
            "no problems found"
        } else {
            "the repository has problems (see above)"
        });
        s
    })?;
    if !r.ok() {
        return Err(verification(format!("check found {} problem(s)", r.problems.len())));
    }
    Ok(())
}

/// `7d`, `12h`, `2w`, `30m`, `1y`.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 =
        num.parse().map_err(|_| usage(format!("{s:?} is not a duration like 7d, 12h or 2w")))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" | "" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return Err(usage(format!("{s:?}: unknown unit {unit:?}; use s, m, h, d, w or y"))),
    };
    Ok(Duration::from_secs(n * secs))
}

pub fn forget(ctx: &Ctx, a: ForgetArgs) -> Result<()> {
    let policy = KeepPolicy {
        last: a.keep_last,
        hourly: a.keep_hourly,
        daily: a.keep_daily,
        weekly: a.keep_weekly,
        monthly: a.keep_monthly,
        yearly: a.keep_yearly,
        within: a
            .keep_within
            .as_deref()
            .map(parse_duration)
            .transpose()?
            .map(|d| chrono::Duration::seconds(d.as_secs() as i64)),
        tags: a.tags.clone(),
    };
    if [a.keep_last, a.keep_hourly, a.keep_daily, a.keep_weekly, a.keep_monthly, a.keep_yearly]
        .iter()
        .all(Option::is_none)
        && policy.within.is_none()
    {
        return Err(usage(
            "forget needs a policy: --keep-last N, --keep-daily N, ... or --keep-within 30d",
        ));
    }
    let repo = ctx.repository(&a.repo.repo)?;
    let result = repo.forget(&policy, a.dry_run)?;
    let prune = if a.prune && !a.dry_run { Some(repo.prune()?) } else { None };
    let doc = serde_json::json!({ "forget": &result, "prune": &prune });
    ctx.out.emit(&doc, || {
        let mut s = String::new();
        for v in &result.keep {
            s.push_str(&format!(
                "keep   {} {}\n",
                v.snapshot.id.short(),
                v.snapshot.time.format("%Y-%m-%d %H:%M")
            ));
        }
        for v in &result.remove {
            s.push_str(&format!(
                "remove {} {}\n",
                v.snapshot.id.short(),
                v.snapshot.time.format("%Y-%m-%d %H:%M")
            ));
        }
        s.push_str(&format!(
            "{} kept, {} {}",
            result.keep.len(),
            result.remove.len(),
            if a.dry_run { "would be removed (dry run)" } else { "removed" }
        ));
        if let Some(p) = &prune {
            s.push_str(&format!(
                "\npruned {} packs, freed {}",
                p.packs_deleted,
                human_bytes(p.bytes_freed)
            ));
        }
        s
    })
}

pub fn prune(ctx: &Ctx, repo: &str) -> Result<()> {
    let report = ctx.repository(repo)?.prune()?;
    ctx.out.emit(&report, || {
        format!(
            "deleted {} packs ({} never indexed), freed {}; kept {} packs",
            report.packs_deleted,
            report.unindexed_packs_deleted,
            human_bytes(report.bytes_freed),
            report.packs_kept
        )
    })
}

pub fn unlock(ctx: &Ctx, a: UnlockArgs) -> Result<()> {
    let removed: Vec<String> =
        ctx.repository(&a.repo.repo)?.unlock(a.remove_all)?.iter().map(|i| i.to_string()).collect();
    ctx.out.emit(&serde_json::json!({ "removed": removed }), || {
        format!("removed {} lock(s)", removed.len())
    })
}
