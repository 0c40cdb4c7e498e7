//! The machine report: the [`RunReport`] as JSON, nothing added.

use crate::runner::RunReport;

pub fn render(r: &RunReport) -> String {
    let mut s =
        serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}
