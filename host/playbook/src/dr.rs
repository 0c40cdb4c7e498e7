//! Measured RTO and RPO of a drill, from the step records alone.
//!
//! - Disaster: the start of the first `chaos` step that succeeded.
//! - RTO: from the disaster to the end of the first successful `verify`
//!   after it (the restore is proven, not just finished).
//! - RPO: the restored snapshot's age at the disaster (`snapshot_time`
//!   output of that verify, else of the last restore before it), and records
//!   lost (`records_lost` of the verify, else chaos `records_before` minus
//!   the restored `records`).

use crate::runner::{StepRecord, StepStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DrMetrics {
    /// Step key of the chaos step that injected the disaster.
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
    /// True when the run had a disaster to measure from.
    pub fn is_drill(&self) -> bool {
        self.disaster_step.is_some()
    }
}

pub fn compute(steps: &[StepRecord]) -> DrMetrics {
    let mut m = DrMetrics::default();
    let passed = |s: &&StepRecord| s.status == StepStatus::Passed;
    let Some(chaos) = steps.iter().filter(passed).find(|s| s.kind == "chaos") else {
        m.note = Some(
            "no chaos step succeeded, so there is no disaster to measure RTO and RPO from".into(),
        );
        return m;
    };
    let (Some(disaster_at), ci) = (chaos.started_at, chaos.index) else { return m };
    m.disaster_step = Some(chaos.key.clone());
    m.disaster_at = Some(disaster_at);
    m.records_before = u64_of(chaos.outputs.get("records_before"));

    let after = || steps.iter().filter(move |s| s.index > ci);
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
    // The verify's view wins: it is what was proven.
    let field = |name: &str| {
        verify
            .and_then(|v| v.outputs.get(name))
            .or_else(|| restore.and_then(|r| r.outputs.get(name)))
    };
    m.snapshot = field("snapshot").and_then(Value::as_str).map(str::to_string);
    m.snapshot_time = field("snapshot_time")
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc));
    m.rpo_seconds = m.snapshot_time.map(|t| seconds(disaster_at - t).max(0.0));
    m.records_after = u64_of(field("records"));
    m.records_lost = u64_of(verify.and_then(|v| v.outputs.get("records_lost")))
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
