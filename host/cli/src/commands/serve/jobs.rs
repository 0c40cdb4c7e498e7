//! The schedules file: jobs, each a vdr command line built from a few
//! fields, checked by the same parser as the command line when loaded.
//!
//! ```yaml
//! jobs:
//!   - kind: backup            # playbook | backup | verify | replicate | forget
//!     cron: "0 2 * * *"       # 5 fields, or 6 with seconds; or `every: 30s`
//!     repo: fs:///backups/repo
//!     db: local:///data/store
//!     collections: [docs]
//!     tags: [nightly]
//!   - kind: forget
//!     cron: "0 4 * * *"
//!     repo: fs:///backups/repo
//!     keep: { daily: 7, weekly: 4 }
//!     prune: true
//! ```

use super::cron::Cron;
use crate::cli::{Cli, Command};
use crate::exit::usage;
use anyhow::{Context, Result};
use clap::Parser;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    jobs: Vec<Spec>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Spec {
    name: Option<String>,
    kind: String,
    cron: Option<String>,
    every: Option<String>,
    file: Option<PathBuf>,
    #[serde(default)]
    vars: BTreeMap<String, serde_yaml_ng::Value>,
    report_dir: Option<PathBuf>,
    repo: Option<String>,
    db: Option<String>,
    #[serde(default)]
    collections: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
    snapshot: Option<String>,
    min_recall: Option<f64>,
    from: Option<String>,
    to: Option<String>,
    state_dir: Option<PathBuf>,
    tolerance: Option<f32>,
    #[serde(default)]
    keep: BTreeMap<String, serde_yaml_ng::Value>,
    #[serde(default)]
    prune: bool,
    /// More arguments for the command, verbatim.
    #[serde(default)]
    args: Vec<String>,
}

pub enum When {
    Cron(Cron),
    Every(Duration),
}

pub struct Job {
    pub name: String,
    /// `job` label: backup, verify, replicate, forget, playbook.
    pub kind: &'static str,
    /// What one-at-a-time is per, and the `target` label.
    pub target: String,
    pub when: When,
    argv: Vec<String>,
}

impl Job {
    /// A fresh command for one run.
    pub fn command(&self) -> Command {
        Cli::try_parse_from(&self.argv).expect("checked when the schedules were loaded").command
    }
}

pub fn load(path: &Path) -> Result<Vec<Job>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading schedules {}", path.display()))?;
    let file: File = serde_yaml_ng::from_str(&text)
        .map_err(|e| usage(format!("schedules {}: {e}", path.display())))?;
    file.jobs
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            job(s).map_err(|e| usage(format!("schedules {}, job {}: {e}", path.display(), i + 1)))
        })
        .collect()
}

fn need<'a>(v: &'a Option<String>, what: &str, kind: &str) -> Result<&'a str, String> {
    v.as_deref().ok_or_else(|| format!("a {kind} job needs `{what}`"))
}

fn scalar(v: &serde_yaml_ng::Value) -> String {
    match v {
        serde_yaml_ng::Value::String(s) => s.clone(),
        other => serde_yaml_ng::to_string(other).unwrap_or_default().trim().to_string(),
    }
}

fn job(s: Spec) -> Result<Job, String> {
    let when = match (&s.cron, &s.every) {
        (Some(c), None) => When::Cron(Cron::parse(c)?),
        (None, Some(e)) => When::Every(
            super::super::replicate::parse_interval(e).map_err(|e| format!("every: {e:#}"))?,
        ),
        _ => return Err("give exactly one of `cron` and `every`".into()),
    };
    let mut argv: Vec<String> = vec!["vdr".into()];
    let mut push = |a: &[&str]| argv.extend(a.iter().map(|x| x.to_string()));
    let (kind, target): (&'static str, String) = match s.kind.as_str() {
        "backup" => {
            let (repo, db) = (need(&s.repo, "repo", "backup")?, need(&s.db, "db", "backup")?);
            push(&["backup", "--repo", repo, "--db", db]);
            s.collections.iter().for_each(|c| push(&["--collection", c]));
            s.tags.iter().for_each(|t| push(&["--tag", t]));
            ("backup", db.to_string())
        }
        "verify" => {
            let (repo, db) = (need(&s.repo, "repo", "verify")?, need(&s.db, "db", "verify")?);
            push(&[
                "verify",
                s.snapshot.as_deref().unwrap_or("latest"),
                "--repo",
                repo,
                "--db",
                db,
            ]);
            if let Some(c) = s.collections.first() {
                push(&["--collection", c]);
            }
            if let Some(r) = s.min_recall {
                push(&["--min-recall", &r.to_string()]);
            }
            ("verify", db.to_string())
        }
        "replicate" => {
            let (from, to) = (need(&s.from, "from", "replicate")?, need(&s.to, "to", "replicate")?);
            push(&["replicate", "--once", "--from", from, "--to", to]);
            s.collections.iter().for_each(|c| push(&["--collection", c]));
            if let Some(d) = &s.state_dir {
                push(&["--state-dir", &d.to_string_lossy()]);
            }
            if let Some(t) = s.tolerance {
                push(&["--tolerance", &t.to_string()]);
            }
            ("replicate", to.to_string())
        }
        "forget" => {
            let repo = need(&s.repo, "repo", "forget")?;
            push(&["forget", "--repo", repo]);
            if s.keep.is_empty() {
                return Err("a forget job needs `keep` (e.g. { daily: 7, weekly: 4 })".into());
            }
            for (k, v) in &s.keep {
                push(&[&format!("--keep-{k}"), &scalar(v)]);
            }
            if s.prune {
                push(&["--prune"]);
            }
            ("forget", repo.to_string())
        }
        "playbook" => {
            let file = s.file.as_ref().ok_or("a playbook job needs `file`")?;
            let f = file.to_string_lossy();
            push(&["playbook", "run", &f]);
            for (k, v) in &s.vars {
                push(&["--var", &format!("{k}={}", scalar(v))]);
            }
            if let Some(d) = &s.report_dir {
                push(&["--report-dir", &d.to_string_lossy()]);
            }
            ("playbook", super::super::playbook::target(file))
        }
        k => {
            return Err(format!(
                "unknown kind {k:?}; use playbook, backup, verify, replicate or forget"
            ));
        }
    };
    argv.extend(s.args.iter().cloned());
    Cli::try_parse_from(&argv).map_err(|e| format!("`{}`: {e}", argv[1..].join(" ")))?;
    Ok(Job { name: s.name.unwrap_or_else(|| format!("{kind} {target}")), kind, target, when, argv })
}
