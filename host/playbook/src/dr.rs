//! Measured RTO and RPO of a drill, from the step records alone.
//!
//! - Disaster: the start of the first `chaos` step that succeeded.
//! - RTO: from the disaster to the end of the first successful `verify`
//!   after it (the restore is proven, not just finished).
//! - RPO: the restored snapshot's age at the disaster (`snapshot_time`
//!   output of that verify, else of the last restore before it), and records
//!   lost (`records_lost` of the verify, else chaos `records_before` minus
//!   the restored `records`).
//! - Without a chaos step (a real restore, e.g. `restore.yaml.tera` run by
//!   Terraform) the clock starts at the first successful `restore`: RTO is
//!   then restore-and-verify time, RPO the snapshot's age at that moment.

use crate::runner::{StepRecord, StepStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DrMetrics {
    /// True when a chaos step injected the disaster; false when the clock
    /// started at a restore (a real recovery, not a drill).
    pub injected: bool,
    /// Step key the clock starts at: the chaos step, else the first restore.
    pub disaster_step: Option<String>,
    pub disaster_at: Option<DateTime<Utc>>,
    /// Step key of the verify step that proved the restore.
    pub recovered_step: Option<String>,
    pub recovered_at: Option<DateTime<Utc>>,
    pub rto_seconds: Option<f64>,
    /// Snapshot id that was restored.
    pub snapshot: Option<String>,
    pub snapshot_time: Option<DateTime<Utc>>,
    /// Age of the restored snapshot at the disaster.
    pub rpo_seconds: Option<f64>,
    pub records_before: Option<u64>,
    pub records_after: Option<u64>,
    pub records_lost: Option<u64>,
    /// Why some figure is missing, for people reading the report.
    pub note: Option<String>,
}

impl DrMetrics {
    /// True when there was a moment to measure from (disaster or restore).
    pub fn is_measured(&self) -> bool {
        self.disaster_step.is_some()
    }
}

pub fn compute(steps: &[StepRecord]) -> DrMetrics {
    let mut m = DrMetrics::default();
    let passed = |s: &&StepRecord| s.status == StepStatus::Passed;
    let chaos = steps.iter().filter(passed).find(|s| s.kind == "chaos");
    let anchor = chaos.or_else(|| steps.iter().filter(passed).find(|s| s.kind == "restore"));
    let Some(anchor) = anchor else {
        m.note =
            Some("no chaos or restore step succeeded: nothing to measure RTO and RPO from".into());
        return m;
    };
    let (Some(disaster_at), ci) = (anchor.started_at, anchor.index) else { return m };
    m.injected = chaos.is_some();
    m.disaster_step = Some(anchor.key.clone());
    m.disaster_at = Some(disaster_at);
    m.records_before = chaos.and_then(|c| u64_of(c.outputs.get("records_before")));

    // From a restore anchor, that restore itself is the one to look at.
    let after =
        || steps.iter().filter(move |s| s.index > ci || (s.index == ci && s.kind == "restore"));
    let verify = after().filter(passed).find(|s| s.kind == "verify");
    let limit = verify.map_or(usize::MAX, |v| v.index);
    let restore = after().filter(passed).rfind(|s| s.kind == "restore" && s.index < limit);

    match verify {
        Some(v) => {
            m.recovered_step = Some(v.key.clone());
            m.recovered_at = v.finished_at;
            m.rto_seconds = v.finished_at.map(|t| seconds(t - disaster_at));
        }
        None => {
            m.note = Some(
                "no verify step succeeded after the disaster: recovery not proven, RTO unknown"
                    .into(),
            )
        }
    }
    // Where the figures come from, most authoritative first: the verify
    // (even a failed one reports what it measured), the restore, then the
    // backup step that produced the restored snapshot.
    let measured =
        verify.or_else(|| after().find(|s| s.kind == "verify" && s.status == StepStatus::Failed));
    let snapshot_id =
        |s: &StepRecord| s.outputs.get("snapshot").and_then(Value::as_str).map(str::to_string);
    let restored = measured.and_then(snapshot_id).or_else(|| restore.and_then(snapshot_id));
    let backup = restored.as_ref().and_then(|id| {
        steps
            .iter()
            .filter(passed)
            .rfind(|s| s.kind == "backup" && snapshot_id(s).as_ref() == Some(id))
    });
    let field = |name: &str| {
        [measured, restore, backup].into_iter().flatten().find_map(|s| s.outputs.get(name))
    };
    m.snapshot = restored;
    m.snapshot_time = field("snapshot_time")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc));
    m.rpo_seconds = m.snapshot_time.map(|t| seconds(disaster_at - t).max(0.0));
    // Records after the restore: never the backup's count.
    m.records_after =
        [measured, restore].into_iter().flatten().find_map(|s| u64_of(s.outputs.get("records")));
    m.records_lost = u64_of(measured.and_then(|v| v.outputs.get("records_lost")))
        .or_else(|| Some(m.records_before?.saturating_sub(m.records_after?)));
    m
}

fn u64_of(v: Option<&Value>) -> Option<u64> {
    let v = v?;
    v.as_u64().or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

fn seconds(d: chrono::TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

/// `1h 2m 3.4s` style, for people.
pub fn human(seconds: f64) -> String {
    if seconds < 60.0 {
        return format!("{seconds:.1}s");
    }
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60);
    match (h, total / 86400) {
        (_, d) if d >= 2 => format!("{d}d {}h", h % 24),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m {s}s"),
    }
}
