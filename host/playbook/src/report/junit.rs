//! JUnit XML: the playbook is a test suite and each step a test case, so CI
//! systems show drills natively. RTO/RPO go into suite properties.

use crate::runner::{RunReport, StepStatus};
use std::fmt::Write;

pub fn render(r: &RunReport) -> String {
    let count =
        |st: StepStatus| r.steps.iter().filter(|s| s.status == st && !s.allowed_failure).count();
    let (tests, failures, skipped) =
        (r.steps.len(), count(StepStatus::Failed), count(StepStatus::Skipped));
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"vdr playbook\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\">",
        r.duration_seconds
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{:.3}\" timestamp=\"{}\">",
        esc(&r.playbook),
        r.duration_seconds,
        r.started_at.format("%Y-%m-%dT%H:%M:%S")
    );
    x.push_str("    <properties>\n");
    let mut prop = |name: &str, value: String| {
        let _ = writeln!(x, "      <property name=\"{name}\" value=\"{}\"/>", esc(&value));
    };
    prop("file", r.file.clone());
    prop("exit_code", r.exit_code.to_string());
    if let Some(v) = r.dr.rto_seconds {
        prop("rto_seconds", format!("{v:.3}"));
    }
    if let Some(v) = r.dr.rpo_seconds {
        prop("rpo_seconds", format!("{v:.3}"));
    }
    if let Some(v) = r.dr.records_lost {
        prop("records_lost", v.to_string());
    }
    if let Some(v) = &r.dr.snapshot {
        prop("snapshot", v.clone());
    }
    x.push_str("    </properties>\n");
    for s in &r.steps {
        let name = match &s.name {
            Some(n) => format!("{}: {n}", s.key),
            None => s.key.clone(),
        };
        let _ = write!(
            x,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
            esc(&name),
            esc(&s.kind),
            s.duration_seconds
        );
        let outputs =
            (!s.outputs.is_empty()).then(|| serde_json::to_string(&s.outputs).unwrap_or_default());
        let mut body = String::new();
        match s.status {
            StepStatus::Failed if !s.allowed_failure => {
                let msg = s.error.clone().unwrap_or_default();
                let kind = if s.exit_code == Some(3) { "verification" } else { "error" };
                let _ = writeln!(
                    body,
                    "      <failure message=\"{}\" type=\"{kind}\">{}</failure>",
                    esc(first_line(&msg)),
                    esc(&msg)
                );
            }
            StepStatus::Failed => {
                let _ = writeln!(
                    body,
                    "      <system-err>{}</system-err>",
                    esc(&format!(
                        "failed (continue_on_error): {}",
                        s.error.as_deref().unwrap_or_default()
                    ))
                );
            }
            StepStatus::Skipped => {
                body.push_str("      <skipped message=\"an earlier step failed\"/>\n")
            }
            StepStatus::Passed => {}
        }
        if let Some(o) = outputs {
            let _ = writeln!(body, "      <system-out>{}</system-out>", esc(&o));
        }
        if body.is_empty() {
            x.push_str("/>\n");
        } else {
            x.push_str(">\n");
            x.push_str(&body);
            x.push_str("    </testcase>\n");
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// XML-escapes text and attribute values; drops characters XML 1.0 forbids.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\n' => o.push_str("&#10;"),
            '\t' | '\r' => o.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => o.push(c),
        }
    }
    o
}
