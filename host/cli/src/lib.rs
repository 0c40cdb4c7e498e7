//! The `vdr` command line.

pub mod cli;
pub mod commands;
pub mod config;
pub mod exit;
pub mod mapping;
pub mod metrics;
pub mod output;
pub mod sample;
pub mod targets;
pub mod verification;

use clap::Parser;
use std::process::ExitCode;

/// Parse arguments, run, print the error and map it to an exit code.
pub fn run() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_tracing(&cli);
    let json = cli.json;
    match commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = exit::code_of(&e);
            if json {
                let doc = serde_json::json!({ "error": format!("{e:#}"), "exit_code": code as u8 });
                println!("{doc}");
            }
            eprintln!("vdr: error: {e:#}");
            ExitCode::from(code as u8)
        }
    }
}

fn init_tracing(cli: &cli::Cli) {
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("VDR_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
