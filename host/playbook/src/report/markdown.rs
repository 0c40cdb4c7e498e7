//! The report for people: verdict, the DR figures, a table of steps, then
//! every step's outputs. `vdr playbook run` prints it after a drill.

use crate::dr::human;
use crate::runner::{RunReport, StepStatus};
use serde_json::Value;
use std::fmt::Write;

pub fn render(r: &RunReport) -> String {
    let mut m = String::new();
    let verdict = match r.exit_code {
        0 => "PASSED".to_string(),
        3 => "FAILED: verification or assertion (exit 3)".to_string(),
        c => format!("FAILED (exit {c})"),
    };
    let _ = writeln!(m, "# Playbook `{}`: {verdict}\n", r.playbook);
    if let Some(d) = &r.description {
        let _ = writeln!(m, "{d}\n");
    }
    let _ = writeln!(
        m,
        "Template `{}`, started {}, took {}.\n",
        r.file,
        r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
        human(r.duration_seconds)
    );
    if let Some(f) = r.first_failure() {
        let _ = writeln!(
            m,
            "**Failed at step `{}` ({})**: {}\n",
            f.key,
            f.kind,
            f.error.as_deref().unwrap_or_default()
        );
    }

    m.push_str("## Disaster recovery\n\n");
    let dr = &r.dr;
    if dr.is_measured() {
        m.push_str("| Measure | Value |\n|---|---|\n");
        let rto = match dr.rto_seconds {
            Some(s) => format!(
                "**{}** ({} `{}` to restore verified by `{}`)",
                human(s),
                if dr.injected { "disaster" } else { "start of restore" },
                dr.disaster_step.as_deref().unwrap_or("?"),
                dr.recovered_step.as_deref().unwrap_or("?")
            ),
            None => "not measured: the restore was not verified".into(),
        };
        let _ = writeln!(m, "| RTO | {} |", cell(&rto));
        let rpo = match (dr.rpo_seconds, &dr.snapshot_time) {
            (Some(s), Some(t)) => format!(
                "**{}** (snapshot {}taken {})",
                human(s),
                dr.snapshot.as_deref().map(|id| format!("`{id}` ")).unwrap_or_default(),
                t.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            _ => "not measured: no snapshot time reported".into(),
        };
        let _ = writeln!(m, "| RPO (time) | {} |", cell(&rpo));
        let lost = match (dr.records_lost, dr.records_before, dr.records_after) {
            (Some(l), Some(b), Some(a)) => {
                format!("**{l}** ({b} before the disaster, {a} after the restore)")
            }
            (Some(l), _, _) => format!("**{l}**"),
            _ => "not measured".into(),
        };
        let _ = writeln!(m, "| RPO (records lost) | {} |", cell(&lost));
        if let Some(recall) = recovered_recall(r) {
            let _ = writeln!(m, "| Recall after restore | {recall} |");
        }
        m.push('\n');
    }
    if let Some(n) = &dr.note {
        let _ = writeln!(m, "_{n}_\n");
    }

    m.push_str("## Steps\n\n| # | Step | Kind | Status | Duration | Details |\n|---|---|---|---|---|---|\n");
    for s in &r.steps {
        let status = match (s.status, s.allowed_failure) {
            (StepStatus::Passed, _) => "passed",
            (StepStatus::Failed, false) => "**FAILED**",
            (StepStatus::Failed, true) => "failed (continued)",
            (StepStatus::Skipped, _) => "skipped",
        };
        let details = match &s.error {
            Some(e) => e.clone(),
            None => summary(&s.outputs),
        };
        let step = match &s.name {
            Some(n) => format!("`{}` {n}", s.key),
            None => format!("`{}`", s.key),
        };
        let dur = if s.started_at.is_some() { human(s.duration_seconds) } else { String::new() };
        let _ = writeln!(
            m,
            "| {} | {} | {} | {status} | {dur} | {} |",
            s.index + 1,
            cell(&step),
            s.kind,
            cell(&details)
        );
    }

    let with_outputs: Vec<_> = r.steps.iter().filter(|s| !s.outputs.is_empty()).collect();
    if !with_outputs.is_empty() {
        m.push_str("\n## Outputs\n");
        for s in with_outputs {
            let _ = writeln!(m, "\n### `{}` ({})\n", s.key, s.kind);
            for (k, v) in &s.outputs {
                let _ = writeln!(m, "- `{k}`: {}", value(v));
            }
        }
    }
    if !r.report_errors.is_empty() {
        m.push_str("\n## Report errors\n\n");
        for e in &r.report_errors {
            let _ = writeln!(m, "- {e}");
        }
    }
    m
}

fn recovered_recall(r: &RunReport) -> Option<String> {
    let key = r.dr.recovered_step.as_deref()?;
    let v = r.steps.iter().find(|s| s.key == key)?.outputs.get("recall")?;
    Some(value(v))
}

/// A few scalar outputs, for the steps table.
fn summary(outputs: &serde_json::Map<String, Value>) -> String {
    outputs
        .iter()
        .filter(|(_, v)| !v.is_object() && !v.is_array())
        .take(4)
        .map(|(k, v)| format!("{k}={}", scalar(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => format!("{}", (f * 10_000.0).round() / 10_000.0),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

fn value(v: &Value) -> String {
    if v.is_object() || v.is_array() { format!("`{v}`") } else { scalar(v) }
}

/// Keeps a table cell on one line and its pipes literal.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}
