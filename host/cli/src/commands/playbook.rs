//! `vdr playbook render|run`: recovery playbooks. Rendering, validation,
//! the run loop and the reports live in vdr-playbook; this module executes
//! each step with the same code as the matching command.

use super::Ctx;
use crate::cli::{
    BackupArgs, CheckArgs, DbArg, PlaybookArgs, PlaybookCmd, RepoArg, RestoreArgs, VerifyArgs,
};
use crate::exit::{Code, Exit, usage};
use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use vdr_playbook::{
    ChaosKind, ChaosStep, CollectionStep, InitStep, ResolvedStep, RunOptions, StepError,
    StepExecutor, StepKind, StepOutput, VarInputs,
};

pub fn run(ctx: Ctx, cmd: PlaybookCmd) -> Result<()> {
    match cmd {
        PlaybookCmd::Render(a) => {
            let (rendered, _) = load(&a)?;
            print!("{}", rendered.display_text());
            Ok(())
        }
        PlaybookCmd::Run(a) => run_playbook(ctx, a),
    }
}

fn load(a: &PlaybookArgs) -> Result<(vdr_playbook::Rendered, vdr_playbook::Playbook)> {
    let inputs =
        VarInputs::from_cli(&a.vars, a.vars_file.as_deref()).map_err(|e| usage(e.to_string()))?;
    vdr_playbook::load(&a.file, &inputs).map_err(|e| usage(e.to_string()))
}

fn run_playbook(ctx: Ctx, a: PlaybookArgs) -> Result<()> {
    let (_, playbook) = load(&a)?;
    let json = ctx.out.json;
    let quiet = ctx.out.quiet;
    let mut executor = Executor { ctx };
    let mut options = RunOptions::with_report_dir(&a.report_dir);
    if !json && !quiet {
        options.on_step = Some(Box::new(|r: &vdr_playbook::StepRecord| {
            let mark = match r.status {
                vdr_playbook::StepStatus::Passed => "ok  ",
                vdr_playbook::StepStatus::Failed => "FAIL",
                vdr_playbook::StepStatus::Skipped => "skip",
            };
            eprintln!(
                "[{mark}] {} ({:.2}s){}",
                r.key,
                r.duration_seconds,
                r.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
            );
        }));
    }
    let report = vdr_playbook::run(&playbook, &mut executor, options);
    record_drill(&executor.ctx, &playbook.name, &report.dr);
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", vdr_playbook::report::markdown::render(&report));
        eprintln!("reports written to {}", a.report_dir.display());
    }
    match report.exit_code {
        0 => Ok(()),
        code => {
            let failed = report
                .steps
                .iter()
                .find(|s| s.status == vdr_playbook::StepStatus::Failed && !s.allowed_failure)
                .map(|s| format!("step {} failed: {}", s.key, s.error.clone().unwrap_or_default()))
                .unwrap_or_else(|| "the playbook failed".into());
            let code = if code == 3 { Code::Verification } else { Code::Failed };
            Err(Exit { code, message: format!("playbook {}: {failed}", playbook.name) }.into())
        }
    }
}

/// The `job`/`target` label of a playbook run: the file's name.
pub fn target(file: &Path) -> String {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.trim_end_matches(".tera").trim_end_matches(".yaml").trim_end_matches(".yml").to_string()
}

/// The measured RTO and RPO of a drill, when the run could measure them.
fn record_drill(ctx: &Ctx, playbook: &str, dr: &vdr_playbook::DrMetrics) {
    let l = [("playbook", playbook)];
    if let Some(rto) = dr.rto_seconds {
        ctx.metrics.set("vdr_drill_rto_seconds", &l, rto);
    }
    if let Some(rpo) = dr.rpo_seconds {
        ctx.metrics.set("vdr_drill_rpo_seconds", &l, rpo);
    }
}

struct Executor {
    ctx: Ctx,
}

fn fail(e: anyhow::Error) -> StepError {
    let msg = format!("{e:#}");
    if crate::exit::code_of(&e) == Code::Verification {
        StepError::verification(msg)
    } else {
        StepError::failed(msg)
    }
}

fn out(v: Value) -> StepOutput {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

impl StepExecutor for Executor {
    fn execute(&mut self, step: &ResolvedStep) -> Result<StepOutput, StepError> {
        match &step.kind {
            StepKind::Init(s) => self.init(s).map_err(fail),
            StepKind::Collection(s) => self.collection(s).map_err(fail),
            StepKind::Backup(s) => {
                let args = BackupArgs {
                    repo: RepoArg { repo: s.repo.clone() },
                    db: DbArg { db: s.db.clone() },
                    collections: s.collections.clone(),
                    tags: s.tags.clone(),
                    golden_queries: s.golden_queries.unwrap_or(100) as usize,
                    k: s.k.unwrap_or(10) as usize,
                    full: s.full,
                };
                let summary = super::repo::backup(&self.ctx, args).map_err(fail)?;
                Ok(out(json!({
                    "snapshot": summary.snapshot.to_string(),
                    "snapshot_time": summary.snapshot_time.to_rfc3339(),
                    "records": summary.collections.iter().map(|c| c.records).sum::<u64>(),
                    "incremental": summary.collections.iter().all(|c| c.changed.is_some()),
                    "bytes_read": summary.bytes_read,
                    "bytes_new": summary.bytes_new,
                    "dedup_ratio": summary.dedup_ratio,
                    "seconds": summary.duration_secs,
                })))
            }
            StepKind::Restore(s) => {
                let args = RestoreArgs {
                    snapshot: s.snapshot.clone(),
                    repo: RepoArg { repo: s.repo.clone() },
                    db: DbArg { db: s.db.clone() },
                    collection: s.collection.clone(),
                    as_name: s.as_name.clone(),
                    force: s.force,
                    dry_run: s.dry_run,
                    point_in_time: None,
                    mapping: Default::default(),
                };
                let r = super::repo::restore(&self.ctx, args).map_err(fail)?;
                Ok(out(json!({
                    "snapshot": r.snapshot.to_string(),
                    "snapshot_time": r.snapshot_time.to_rfc3339(),
                    "records": r.collections.iter().map(|c| c.records).sum::<u64>(),
                    "bytes": r.bytes,
                    "seconds": r.duration_secs,
                })))
            }
            StepKind::Verify(s) => {
                let args = VerifyArgs {
                    snapshot: s.snapshot.clone(),
                    repo: RepoArg { repo: s.repo.clone() },
                    db: DbArg { db: s.db.clone() },
                    collection: s.collection.clone(),
                    as_name: s.as_name.clone(),
                    min_recall: s.min_recall.unwrap_or(0.9),
                    sample: s.sample.unwrap_or(0) as usize,
                    tolerance: s.tolerance.unwrap_or(1e-5) as f32,
                    max_latency_factor: s.max_latency_factor.unwrap_or(0.0),
                    point_in_time: None,
                    mapping: Default::default(),
                };
                let (snap, reports) = super::verify::verify(&self.ctx, &args).map_err(fail)?;
                let expected: u64 = reports
                    .iter()
                    .map(|r| snap.collection(&r.collection).map_or(0, |c| c.records))
                    .sum();
                let live: u64 = reports
                    .iter()
                    .filter_map(|r| r.check("count").and_then(|c| c.actual.parse::<u64>().ok()))
                    .sum();
                let recall = reports
                    .iter()
                    .filter_map(|r| r.recall)
                    .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.min(r))));
                let outputs = out(json!({
                    "ok": reports.iter().all(|r| r.ok),
                    "recall": recall,
                    "records": live,
                    "records_lost": expected.saturating_sub(live),
                    "snapshot": snap.id.to_string(),
                    "snapshot_time": snap.time.to_rfc3339(),
                    "checks": reports.iter().flat_map(|r| r.checks.iter().map(|c| json!({
                        "collection": r.live_collection, "name": c.name, "status": c.status.as_str(),
                        "expected": c.expected, "actual": c.actual, "message": c.message,
                    }))).collect::<Vec<_>>(),
                }));
                if reports.iter().all(|r| r.ok) {
                    Ok(outputs)
                } else {
                    let failed: Vec<String> = reports
                        .iter()
                        .flat_map(|r| {
                            r.failed().map(|c| {
                                format!(
                                    "{} {}: expected {}, got {}",
                                    r.live_collection, c.name, c.expected, c.actual
                                )
                            })
                        })
                        .collect();
                    Err(StepError::verification(format!(
                        "verification failed: {}",
                        failed.join("; ")
                    ))
                    .with_outputs(outputs))
                }
            }
            StepKind::Check(s) => {
                let (read_data, subset) = match &s.read_data {
                    None | Some(vdr_playbook::ReadData::Off) => (false, None),
                    Some(vdr_playbook::ReadData::All) => (true, None),
                    Some(vdr_playbook::ReadData::Percent(p)) => (false, Some(format!("{p}%"))),
                    Some(vdr_playbook::ReadData::Subset { n, t }) => {
                        (false, Some(format!("{n}/{t}")))
                    }
                };
                let args = CheckArgs {
                    repo: RepoArg { repo: s.repo.clone() },
                    read_data,
                    read_data_subset: subset,
                    point_in_time: None,
                };
                let r = super::repo::check(&self.ctx, args).map_err(fail)?;
                let outputs = out(
                    json!({ "ok": r.ok(), "problems": r.problems.len(), "packs_read": r.packs_read }),
                );
                if r.ok() {
                    Ok(outputs)
                } else {
                    let p: Vec<String> =
                        r.problems.iter().map(|p| format!("{}: {}", p.object, p.message)).collect();
                    Err(StepError::verification(format!("check found problems: {}", p.join("; ")))
                        .with_outputs(outputs))
                }
            }
            StepKind::Forget(s) => {
                let policy = vdr_repo::KeepPolicy {
                    last: s.keep_last,
                    hourly: s.keep_hourly,
                    daily: s.keep_daily,
                    weekly: s.keep_weekly,
                    monthly: s.keep_monthly,
                    yearly: s.keep_yearly,
                    within: None,
                    tags: s.keep_tags.clone(),
                };
                let run = || -> Result<StepOutput> {
                    let repo = self.ctx.repository(&s.repo)?;
                    let r = repo.forget(&policy, false)?;
                    let pruned = if s.prune { Some(repo.prune()?.packs_deleted) } else { None };
                    Ok(out(
                        json!({ "kept": r.keep.len(), "removed": r.remove.len(), "packs_pruned": pruned }),
                    ))
                };
                run().map_err(fail)
            }
            StepKind::Chaos(s) => self.chaos(s).map_err(fail),
            StepKind::Replicate(s) => self.replicate(s).map_err(fail),
            StepKind::Terraform(_) => {
                Err(StepError::failed("the terraform step is not built yet in this version of vdr"))
            }
            other => Err(StepError::failed(format!(
                "{other:?} steps are run by the playbook runner, not the executor"
            ))),
        }
    }
}

impl Executor {
    /// One anti-entropy round, with the same state (lag) as `vdr replicate`.
    fn replicate(&mut self, s: &vdr_playbook::ReplicateStep) -> Result<StepOutput> {
        let dir = super::replicate::default_state_dir(&s.from, &s.to);
        let mut leader = self.ctx.database(&s.from, false)?;
        let mut follower = self.ctx.database(&s.to, true)?;
        let mut state = vdr_replicate::State::load(&dir, &s.from, &s.to)?;
        let same_engine =
            s.from.split_once("://").map(|x| x.0) == s.to.split_once("://").map(|x| x.0);
        let opts = vdr_replicate::Options {
            tolerance: if same_engine { 0.0 } else { 1e-5 },
            ..vdr_replicate::Options::default()
        };
        let r = vdr_replicate::round(
            leader.as_mut(),
            follower.as_mut(),
            &s.collections,
            &mut state,
            &opts,
        )?;
        state.save(&dir)?;
        Ok(out(json!({
            "records_moved": r.records_moved,
            "records_deleted": r.records_deleted,
            "records_differing": r.records_differing,
            "buckets_differing": r.buckets_differing,
            "seconds": r.duration_seconds,
        })))
    }

    fn init(&mut self, s: &InitStep) -> Result<StepOutput> {
        let mut recipients = s.recipients.clone();
        let mut generated = None;
        if let Some(path) = &s.generate_identity {
            let path = PathBuf::from(path);
            if !path.exists() {
                write_identity(&path)?;
                generated = Some(path.display().to_string());
            }
            recipients.push(public_key(&path)?);
            if self.ctx.identity.is_none() {
                self.ctx.identity = Some(path);
            }
        }
        if let Some(f) = &s.passphrase_file {
            // The rest of the run opens the repository with it too.
            self.ctx.passphrase_file = Some(PathBuf::from(f));
        }
        let exists = match self.ctx.storage(&s.repo) {
            Ok(store) => store.stat("config").is_ok(),
            Err(_) => false,
        };
        if exists && s.if_missing {
            return Ok(out(json!({ "created": false, "identity_generated": generated })));
        }
        let args = crate::cli::InitArgs {
            repo: RepoArg { repo: s.repo.clone() },
            recipients,
            recipients_file: s.recipients_file.clone().map(PathBuf::from),
            compression: 3,
        };
        super::repo::init_quiet(&self.ctx, args)?;
        Ok(out(json!({ "created": true, "identity_generated": generated })))
    }

    fn collection(&mut self, s: &CollectionStep) -> Result<StepOutput> {
        let mut db = self.ctx.database(&s.db, true)?;
        let mut outputs = Map::new();
        if let Some(name) = &s.drop {
            db.drop_collection(name)?;
            outputs.insert("dropped".into(), json!(name));
        }
        if let Some(name) = &s.create {
            if s.replace {
                match db.drop_collection(name) {
                    Ok(()) => {}
                    Err(e) if e.kind == vdr_model::ErrorKind::NotFound => {}
                    Err(e) => return Err(e.into()),
                }
            }
            let spec = crate::sample::SampleSpec {
                dim: s.dim.unwrap_or(384),
                metric: super::collection::parse_metric(s.metric.as_deref().unwrap_or("cosine"))?,
                seed: s.seed.unwrap_or(42),
                sparse: false,
                multi: false,
                string_ids: false,
            };
            super::collection::create_sampled(
                &self.ctx,
                db.as_mut(),
                name,
                spec,
                s.sample.unwrap_or(0),
            )?;
            outputs.insert("records".into(), json!(db.count(name)?));
        }
        if let Some(f) = s.mutate_fraction {
            let name = s
                .collection
                .as_ref()
                .or(s.create.as_ref())
                .ok_or_else(|| usage("mutate_fraction needs `collection`"))?;
            let changed =
                super::collection::mutate_records(db.as_mut(), name, f, s.seed.unwrap_or(7))?;
            outputs.insert("changed".into(), json!(changed));
            outputs.insert("records".into(), json!(db.count(name)?));
        }
        Ok(outputs)
    }

    fn chaos(&mut self, s: &ChaosStep) -> Result<StepOutput> {
        let need = |v: &Option<String>, what: &str| {
            v.clone().ok_or_else(|| usage(format!("chaos {:?} needs `{what}`", s.kind)))
        };
        match s.kind {
            ChaosKind::DropCollection => {
                let (db, c) = (need(&s.db, "db")?, need(&s.collection, "collection")?);
                let mut db = self.ctx.database(&db, true)?;
                let before = db.count(&c)?;
                db.drop_collection(&c)?;
                Ok(out(json!({ "records_before": before, "dropped": c })))
            }
            ChaosKind::DeleteRecords => {
                let (db, c) = (need(&s.db, "db")?, need(&s.collection, "collection")?);
                let fraction = s.fraction.unwrap_or(0.1);
                let mut db = self.ctx.database(&db, true)?;
                let before = db.count(&c)?;
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(s.seed.unwrap_or(13));
                let mut doomed = Vec::new();
                {
                    let mut cursor = db.open_export(&c, None)?;
                    loop {
                        let batch = cursor.next_batch(1000)?;
                        if batch.is_empty() {
                            break;
                        }
                        doomed.extend(
                            batch.into_iter().filter(|_| rng.random_bool(fraction)).map(|p| p.id),
                        );
                    }
                }
                for ids in doomed.chunks(1000) {
                    db.delete_points(&c, ids)?;
                }
                db.flush(&c)?;
                Ok(out(json!({ "records_before": before, "deleted": doomed.len() })))
            }
            ChaosKind::CorruptFile | ChaosKind::DeleteFile => {
                let path = match &s.path {
                    Some(p) => PathBuf::from(p),
                    None => pick_store_file(&need(&s.db, "db or path")?, s.collection.as_deref())?,
                };
                let before = match (&s.db, &s.collection) {
                    (Some(db), Some(c)) => {
                        self.ctx.database(db, false).and_then(|mut d| Ok(d.count(c)?)).ok()
                    }
                    _ => None,
                };
                if s.kind == ChaosKind::DeleteFile {
                    std::fs::remove_file(&path)
                        .with_context(|| format!("deleting {}", path.display()))?;
                } else {
                    corrupt(&path, s.seed.unwrap_or(1))?;
                }
                Ok(out(json!({ "file": path.display().to_string(), "records_before": before })))
            }
            ChaosKind::StopProcess => {
                let pid_file = need(&s.pid_file, "pid_file")?;
                let text = std::fs::read_to_string(&pid_file)
                    .with_context(|| format!("reading {pid_file}"))?;
                let pid: i32 = text
                    .split_whitespace()
                    .next()
                    .and_then(|p| p.parse().ok())
                    .ok_or_else(|| usage(format!("{pid_file} holds no pid")))?;
                // SAFETY: plain kill(2) on a pid the playbook named.
                if unsafe { libc::kill(pid, libc::SIGTERM) } != 0 {
                    anyhow::bail!(
                        "could not signal pid {pid}: {}",
                        std::io::Error::last_os_error()
                    );
                }
                let started = Instant::now();
                while unsafe { libc::kill(pid, 0) } == 0
                    && started.elapsed() < Duration::from_secs(30)
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(out(json!({ "stopped": pid, "seconds": started.elapsed().as_secs_f64() })))
            }
            ChaosKind::FailStorage => {
                let f = s.fraction.unwrap_or(0.1);
                *self.ctx.storage_faults.lock().unwrap() = Some(f);
                Ok(out(json!({ "storage_fault_fraction": f })))
            }
        }
    }
}

/// A file of a local store to break: the collection's record log.
fn pick_store_file(db: &str, collection: Option<&str>) -> Result<PathBuf> {
    let root = db
        .strip_prefix("local://")
        .ok_or_else(|| usage("corrupt-file/delete-file without `path` needs a local:// db"))?;
    let dir = match collection {
        Some(c) => Path::new(root).join(c),
        None => Path::new(root).to_path_buf(),
    };
    let log = dir.join("points.log");
    if log.exists() {
        return Ok(log);
    }
    walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .find(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .ok_or_else(|| anyhow::anyhow!("no file to break under {}", dir.display()))
}

/// Overwrite bytes in the middle of a file (same length, different content).
fn corrupt(path: &Path, seed: u64) -> Result<()> {
    let mut bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    anyhow::ensure!(!bytes.is_empty(), "{} is empty", path.display());
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let start = bytes.len() / 3;
    let end = (start + 4096).min(bytes.len());
    for b in &mut bytes[start..end] {
        *b ^= rng.random_range(1..=255u8);
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn write_identity(path: &Path) -> Result<()> {
    use age::secrecy::ExposeSecret;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let id = age::x25519::Identity::generate();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating identity file {}", path.display()))?;
    writeln!(f, "# created by vdr playbook: {}", chrono::Utc::now().to_rfc3339())?;
    writeln!(f, "# public key: {}", id.to_public())?;
    writeln!(f, "{}", id.to_string().expose_secret())?;
    Ok(())
}

fn public_key(path: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .and_then(|l| l.parse::<age::x25519::Identity>().ok())
        .map(|id| id.to_public().to_string())
        .ok_or_else(|| anyhow::anyhow!("{} holds no X25519 age identity", path.display()))
}
