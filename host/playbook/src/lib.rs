//! vdr's recovery playbooks (DESIGN.md section 6).
//!
//! A playbook is a Tera template ([`render`]) rendered to YAML and validated
//! into typed steps ([`schema::parse`]) before anything runs; [`runner::run`]
//! then executes it against a [`StepExecutor`] and writes JSON, JUnit XML and
//! Markdown reports with measured RTO and RPO ([`dr`]).
//!
//! ```text
//! let inputs = VarInputs::from_cli(&args.vars, args.vars_file.as_deref())?;
//! let (rendered, playbook) = load(&args.file, &inputs)?;   // errors: file:line
//! print!("{}", rendered.display_text());                   // `playbook render`
//! let report = run(&playbook, &mut executor, RunOptions::with_report_dir(dir));
//! std::process::exit(report.exit_code);
//! ```

//! # Executor contract: output fields the runner and reports read
//!
//! Executors may return any fields; these names carry meaning:
//! - `backup`: `snapshot` (id), `snapshot_time` (RFC 3339), `records`, `bytes_new`.
//! - `restore`: `snapshot` (the resolved id, also for `latest`), `snapshot_time`, `records`.
//! - `verify`: `ok`, `recall`, `records`, `snapshot`, `snapshot_time`, `records_lost`
//!   (when known); on failure return them via [`StepError::with_outputs`].
//! - `chaos`: `records_before` (count of the affected collection before breaking it).
//! - `collection`: `records`.
//! - `init` with `generate_identity`: write the identity unless the file exists,
//!   and use it for the rest of the run when no identity was configured.
//!
//! `assert`, `wait` and `report` never reach the executor.

pub mod dr;
pub mod error;
pub mod expr;
pub mod refs;
pub mod render;
pub mod report;
pub mod runner;
pub mod schema;
pub mod vars;

pub use dr::DrMetrics;
pub use error::{ErrorKind, PlaybookError};
pub use render::{Rendered, render, render_file};
pub use runner::{
    ResolvedStep, RunOptions, RunReport, StepError, StepExecutor, StepOutput, StepRecord,
    StepStatus, run,
};
pub use schema::*;
pub use vars::VarInputs;

use std::path::Path;

/// Renders and validates a template file in one go.
pub fn load(path: &Path, inputs: &VarInputs) -> Result<(Rendered, Playbook), PlaybookError> {
    let rendered = render_file(path, inputs)?;
    let playbook = schema::parse(&rendered)?;
    Ok((rendered, playbook))
}

/// Renders and validates template text (named `file` in errors).
pub fn load_str(
    file: &str,
    source: &str,
    inputs: &VarInputs,
) -> Result<(Rendered, Playbook), PlaybookError> {
    let rendered = render(file, source, inputs)?;
    let playbook = schema::parse(&rendered)?;
    Ok((rendered, playbook))
}
