//! The verification report: named checks, for machines (serde) and people (`to_table`).

use serde::Serialize;

use crate::baseline::Percentiles;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub expected: String,
    pub actual: String,
    pub message: String,
}

impl Check {
    pub fn new(name: &str, pass: bool, expected: impl ToString, actual: impl ToString) -> Check {
        Check {
            name: name.into(),
            status: if pass { Status::Pass } else { Status::Fail },
            expected: expected.to_string(),
            actual: actual.to_string(),
            message: String::new(),
        }
    }
    pub fn skip(name: &str, why: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Skip,
            expected: String::new(),
            actual: String::new(),
            message: why.into(),
        }
    }
    pub fn fail(name: &str, why: impl Into<String>) -> Check {
        Check { status: Status::Fail, ..Check::skip(name, why) }
    }
    /// Record measured values on a skipped check (shown, not judged).
    pub fn with_actual(mut self, actual: impl Into<String>, expected: impl Into<String>) -> Check {
        self.actual = actual.into();
        self.expected = expected.into();
        self
    }
    pub fn with_message(mut self, message: impl Into<String>) -> Check {
        self.message = message.into();
        self
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VerifyReport {
    /// The collection's name in the snapshot.
    pub collection: String,
    pub live_collection: String,
    /// No check failed.
    pub ok: bool,
    pub checks: Vec<Check>,
    /// Mean recall@k of the golden queries on the live collection.
    pub recall: Option<f64>,
    pub latency: Option<Percentiles>,
    /// Records whose content was compared.
    pub records_checked: u64,
}

impl VerifyReport {
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }

    /// An aligned plain-text table, one check per row.
    pub fn to_table(&self) -> String {
        let header = ["CHECK", "STATUS", "EXPECTED", "ACTUAL", "DETAIL"];
        let rows: Vec<[&str; 5]> = self
            .checks
            .iter()
            .map(|c| [&*c.name, c.status.as_str(), &*c.expected, &*c.actual, &*c.message])
            .collect();
        let mut width = header.map(str::len);
        for r in &rows {
            for (w, cell) in width.iter_mut().zip(r) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: [&str; 5]| {
            let mut s = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i == 4 {
                    s.push_str(cell);
                } else {
                    s.push_str(&format!("{cell:<w$}  ", w = width[i]));
                }
            }
            s.trim_end().to_string() + "\n"
        };
        let mut out = format!(
            "{} -> {}: {}\n",
            self.collection,
            self.live_collection,
            if self.ok { "OK" } else { "FAILED" }
        );
        out.push_str(&line(header));
        for r in rows {
            out.push_str(&line(r));
        }
        out
    }
}
