//! Report files: `report.json` for machines, `report.xml` (JUnit) for CI,
//! `report.md` for people.

pub mod json;
pub mod junit;
pub mod markdown;

use crate::runner::RunReport;
use crate::schema::ReportFormat;
use std::path::{Path, PathBuf};

pub fn file_name(f: ReportFormat) -> &'static str {
    match f {
        ReportFormat::Json => "report.json",
        ReportFormat::Junit => "report.xml",
        ReportFormat::Markdown => "report.md",
    }
}

pub fn render(f: ReportFormat, r: &RunReport) -> String {
    match f {
        ReportFormat::Json => json::render(r),
        ReportFormat::Junit => junit::render(r),
        ReportFormat::Markdown => markdown::render(r),
    }
}

/// Writes the requested formats into `dir` (created if needed).
pub fn write(dir: &Path, r: &RunReport, formats: &[ReportFormat]) -> Result<Vec<PathBuf>, String> {
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create report directory {}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for &f in formats {
        let path = dir.join(file_name(f));
        std::fs::write(&path, render(f, r))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        out.push(path);
    }
    Ok(out)
}
