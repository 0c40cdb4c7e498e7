//! Runs a validated playbook step by step.
//!
//! Policy: steps run in order. After a failure (of a step without
//! `continue_on_error`) the remaining steps are skipped, except `report`
//! steps, which always run so a failed drill still leaves its evidence.
//! `assert`, `wait` and `report` run here; every other kind goes to the
//! [`StepExecutor`]. Exit code: 0 when nothing failed, else the first
//! failure's code (3 for a failed assert or verification, 1 otherwise).

use crate::dr::{self, DrMetrics};
use crate::refs::{Outputs, substitute_value};
use crate::report;
use crate::schema::{Playbook, ReportFormat, StepKind, WaitStep};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a step produced, e.g. backup: `snapshot`, `snapshot_time`,
/// `records`, `bytes_new`; restore: `records`; verify: `ok`, `recall`, ...
pub type StepOutput = Map<String, Value>;

/// A step failure. `exit_code` is 3 when the data is readable but not right
/// (verification), 1 when the operation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct StepError {
    pub message: String,
    pub exit_code: i32,
    /// Whatever was measured before failing (a failed verify's recall...):
    /// kept in the reports.
    pub outputs: StepOutput,
}

impl StepError {
    /// The operation failed (exit code 1).
    pub fn failed(message: impl Into<String>) -> Self {
        StepError { message: message.into(), exit_code: 1, outputs: Map::new() }
    }

    /// The data is readable but not right (exit code 3).
    pub fn verification(message: impl Into<String>) -> Self {
        StepError { message: message.into(), exit_code: 3, outputs: Map::new() }
    }

    pub fn with_outputs(mut self, outputs: StepOutput) -> Self {
        self.outputs = outputs;
        self
    }
}

/// A step with every `{{ steps.ID.FIELD }}` replaced by its value.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedStep {
    pub index: usize,
    /// Id, else `N-kind`.
    pub key: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub kind: StepKind,
}

/// Runs the step kinds that touch databases, repositories and processes.
pub trait StepExecutor {
    fn execute(&mut self, step: &ResolvedStep) -> Result<StepOutput, StepError>;
}

/// Progress hook: called with each step's record once it is final.
pub type StepCallback = Box<dyn FnMut(&StepRecord)>;

pub struct RunOptions {
    /// Where reports go; `None` writes none (tests, `--dry-run` style use).
    pub report_dir: Option<PathBuf>,
    /// Time source; injectable so tests can script RTO/RPO.
    pub clock: Box<dyn FnMut() -> DateTime<Utc>>,
    /// Used by `wait`; injectable for the same reason.
    pub sleep: Box<dyn FnMut(Duration)>,
    /// Called after each step is recorded (progress output).
    pub on_step: Option<StepCallback>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            report_dir: None,
            clock: Box::new(Utc::now),
            sleep: Box::new(std::thread::sleep),
            on_step: None,
        }
    }
}

impl RunOptions {
    pub fn with_report_dir(dir: impl Into<PathBuf>) -> Self {
        RunOptions { report_dir: Some(dir.into()), ..Default::default() }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    Passed,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub index: usize,
    pub key: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub kind: String,
    /// Template line of the step.
    pub line: Option<usize>,
    pub status: StepStatus,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_seconds: f64,
    pub outputs: StepOutput,
    pub error: Option<String>,
    pub exit_code: Option<i32>,
    /// Failed, but `continue_on_error` let the run go on.
    pub allowed_failure: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub playbook: String,
    pub description: Option<String>,
    pub file: String,
    pub vars: Map<String, Value>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_seconds: f64,
    /// 0 passed, 1 failed, 3 an assertion or verification failed.
    pub exit_code: i32,
    pub passed: bool,
    pub steps: Vec<StepRecord>,
    pub dr: DrMetrics,
    /// Report files written at the end of the run.
    pub reports: Vec<PathBuf>,
    /// Problems writing reports (they also make the exit code non-zero).
    pub report_errors: Vec<String>,
}

impl RunReport {
    /// The first failure that decided the exit code, if any.
    pub fn first_failure(&self) -> Option<&StepRecord> {
        self.steps.iter().find(|s| s.status == StepStatus::Failed && !s.allowed_failure)
    }
}

pub fn run(
    playbook: &Playbook,
    executor: &mut dyn StepExecutor,
    mut opts: RunOptions,
) -> RunReport {
    let started_at = (opts.clock)();
    let mut outputs: Outputs = Outputs::new();
    let mut records: Vec<StepRecord> = Vec::new();
    let mut exit_code = 0;

    for step in &playbook.steps {
        let key = step.key();
        let mut rec = StepRecord {
            index: step.index,
            key: key.clone(),
            id: step.id.clone(),
            name: step.name.clone(),
            kind: step.kind.name().to_string(),
            line: step.line,
            status: StepStatus::Skipped,
            started_at: None,
            finished_at: None,
            duration_seconds: 0.0,
            outputs: Map::new(),
            error: None,
            exit_code: None,
            allowed_failure: false,
        };
        let is_report = matches!(step.kind, StepKind::Report(_));
        if exit_code != 0 && !is_report {
            if let Some(cb) = opts.on_step.as_mut() {
                cb(&rec);
            }
            records.push(rec);
            continue;
        }

        let start = (opts.clock)();
        rec.started_at = Some(start);
        let result = resolve(step, &key, &outputs).and_then(|rs| match &rs.kind {
            StepKind::Assert(a) => run_assert(&a.that, &a.message, &outputs),
            StepKind::Wait(w) => run_wait(w, &mut opts),
            StepKind::Report(r) => {
                let so_far = build_report(playbook, started_at, start, exit_code, records.clone());
                write_step_reports(opts.report_dir.as_deref(), &so_far, &r.formats)
            }
            _ => executor.execute(&rs),
        });
        let end = (opts.clock)();
        rec.finished_at = Some(end);
        rec.duration_seconds = (end - start).num_milliseconds().max(0) as f64 / 1000.0;
        match result {
            Ok(out) => {
                rec.status = StepStatus::Passed;
                rec.outputs = out;
                if let Some(id) = &step.id {
                    outputs.insert(id.clone(), rec.outputs.clone());
                }
            }
            Err(e) => {
                rec.status = StepStatus::Failed;
                rec.error = Some(e.message);
                rec.exit_code = Some(e.exit_code);
                rec.outputs = e.outputs;
                rec.allowed_failure = step.continue_on_error;
                if !step.continue_on_error && exit_code == 0 {
                    exit_code = if e.exit_code == 3 { 3 } else { 1 };
                }
            }
        }
        if let Some(cb) = opts.on_step.as_mut() {
            cb(&rec);
        }
        records.push(rec);
    }

    let finished_at = (opts.clock)();
    let mut report = build_report(playbook, started_at, finished_at, exit_code, records);
    if let Some(dir) = &opts.report_dir {
        match report::write(
            dir,
            &report,
            &[ReportFormat::Json, ReportFormat::Junit, ReportFormat::Markdown],
        ) {
            Ok(files) => report.reports = files,
            Err(e) => {
                report.report_errors.push(e);
                if report.exit_code == 0 {
                    report.exit_code = 1;
                    report.passed = false;
                }
            }
        }
    }
    report
}

fn build_report(
    pb: &Playbook,
    started_at: DateTime<Utc>,
    finished_at: DateTime<Utc>,
    exit_code: i32,
    steps: Vec<StepRecord>,
) -> RunReport {
    RunReport {
        playbook: pb.name.clone(),
        description: pb.description.clone(),
        file: pb.file.clone(),
        vars: pb.vars.clone(),
        started_at,
        finished_at,
        duration_seconds: (finished_at - started_at).num_milliseconds().max(0) as f64 / 1000.0,
        exit_code,
        passed: exit_code == 0,
        dr: dr::compute(&steps),
        steps,
        reports: Vec::new(),
        report_errors: Vec::new(),
    }
}

/// Substitutes earlier steps' outputs into the step's strings.
pub fn resolve(
    step: &crate::schema::Step,
    key: &str,
    outputs: &Outputs,
) -> Result<ResolvedStep, StepError> {
    let mut v = serde_json::to_value(&step.kind).map_err(|e| StepError::failed(e.to_string()))?;
    substitute_value(&mut v, outputs)
        .map_err(|e| StepError::failed(format!("cannot resolve a step reference: {e}")))?;
    let kind = serde_json::from_value(v)
        .map_err(|e| StepError::failed(format!("after substituting step outputs: {e}")))?;
    Ok(ResolvedStep {
        index: step.index,
        key: key.to_string(),
        id: step.id.clone(),
        name: step.name.clone(),
        kind,
    })
}

fn run_assert(that: &str, message: &str, outputs: &Outputs) -> Result<StepOutput, StepError> {
    let expr = crate::expr::parse(that).map_err(|e| StepError::failed(format!("`{that}`: {e}")))?;
    let mut values = Map::new();
    for (step, path) in expr.paths() {
        if let Ok(v) = crate::refs::lookup(outputs, &step, &path) {
            values.insert(format!("steps.{step}.{}", path.join(".")), v.clone());
        }
    }
    let out: StepOutput =
        [("that".to_string(), json!(that)), ("values".to_string(), Value::Object(values.clone()))]
            .into_iter()
            .collect();
    match expr.eval(outputs) {
        Ok(Value::Bool(true)) => Ok(out),
        Ok(Value::Bool(false)) => {
            let shown: Vec<String> = values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            let detail =
                if shown.is_empty() { String::new() } else { format!("; {}", shown.join(", ")) };
            Err(StepError::verification(format!("{message} (`{that}` is false{detail})"))
                .with_outputs(out))
        }
        Ok(other) => {
            Err(StepError::failed(format!("`{that}` gave {other}, not true/false"))
                .with_outputs(out))
        }
        Err(e) => Err(StepError::failed(format!("`{that}`: {e}")).with_outputs(out)),
    }
}

fn run_wait(w: &WaitStep, opts: &mut RunOptions) -> Result<StepOutput, StepError> {
    if let Some(s) = w.seconds {
        (opts.sleep)(Duration::from_secs_f64(s));
        return Ok([("seconds".to_string(), json!(s))].into_iter().collect());
    }
    let path = w.until_file.as_deref().unwrap_or_default();
    let timeout = w.timeout_seconds.unwrap_or(300.0);
    let start = (opts.clock)();
    loop {
        let waited = (((opts.clock)() - start).num_milliseconds()) as f64 / 1000.0;
        if Path::new(path).exists() {
            return Ok([("waited_seconds".to_string(), json!(waited))].into_iter().collect());
        }
        if waited >= timeout {
            return Err(StepError::failed(format!("`{path}` did not appear within {timeout}s")));
        }
        (opts.sleep)(Duration::from_millis(250));
    }
}

fn write_step_reports(
    dir: Option<&Path>,
    r: &RunReport,
    formats: &[ReportFormat],
) -> Result<StepOutput, StepError> {
    let Some(dir) = dir else {
        return Ok(Map::new());
    };
    let files = report::write(dir, r, formats).map_err(StepError::failed)?;
    let files: Vec<Value> = files.iter().map(|f| json!(f.display().to_string())).collect();
    Ok([("files".to_string(), Value::Array(files))].into_iter().collect())
}
