//! One module per command family; `Ctx` holds what they share.

pub mod bench;
pub mod collection;
pub mod pit;
pub mod playbook;
pub mod plugin;
pub mod replicate;
pub mod repo;
pub mod serve;
pub mod ship;
pub mod terraform;
pub mod verify;

use crate::cli::{Cli, Command, PlaybookCmd};
use crate::config::Config;
use crate::metrics::{self, Metrics};
use crate::output::Out;
use crate::targets;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use vdr_model::{Database, ObjectStore};
use vdr_runtime::{Runtime, RuntimeOptions};

/// What every command may need, created on first use.
pub struct Ctx {
    pub config: Config,
    pub out: Out,
    pub identity: Option<PathBuf>,
    /// The passphrase file (`VDR_PASSPHRASE_FILE`, or a playbook's `init` step).
    pub passphrase_file: Option<PathBuf>,
    plugin_dirs: Vec<PathBuf>,
    runtime: OnceLock<Runtime>,
    /// Fraction of storage calls to fail (a drill's `chaos: fail-storage`).
    pub storage_faults: std::sync::Mutex<Option<f64>>,
    /// What commands measured; rendered at exit or on `serve`'s /metrics.
    pub metrics: Arc<Metrics>,
    /// The global options, for `serve` to make a fresh Ctx per job.
    pub globals: Globals,
}

/// The global command-line options a Ctx is made from.
#[derive(Clone, Debug)]
pub struct Globals {
    pub config: Option<PathBuf>,
    pub plugin_dirs: Vec<PathBuf>,
    pub json: bool,
    pub quiet: bool,
    pub identity: Option<PathBuf>,
    /// `VDR_PASSPHRASE_FILE`, read once at start.
    pub passphrase_file: Option<PathBuf>,
}

impl Ctx {
    pub fn new(cli: &Cli) -> Result<Ctx> {
        let globals = Globals {
            config: cli.config.clone(),
            plugin_dirs: cli.plugin_dirs.clone(),
            json: cli.json,
            quiet: cli.quiet,
            identity: cli.identity.clone(),
            passphrase_file: std::env::var_os("VDR_PASSPHRASE_FILE")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        };
        Ctx::with(globals, Arc::new(Metrics::default()))
    }

    pub fn with(globals: Globals, metrics: Arc<Metrics>) -> Result<Ctx> {
        let mut plugin_dirs: Vec<PathBuf> = std::env::var_os("VDR_PLUGIN_PATH")
            .map(|p| std::env::split_paths(&p).filter(|d| !d.as_os_str().is_empty()).collect())
            .unwrap_or_default();
        plugin_dirs.extend(globals.plugin_dirs.iter().cloned());
        Ok(Ctx {
            config: Config::load(globals.config.as_deref())?,
            out: Out { json: globals.json, quiet: globals.quiet },
            identity: globals.identity.clone(),
            passphrase_file: globals.passphrase_file.clone(),
            plugin_dirs,
            runtime: OnceLock::new(),
            storage_faults: std::sync::Mutex::new(None),
            metrics,
            globals,
        })
    }

    pub fn runtime(&self) -> Result<&Runtime> {
        if let Some(r) = self.runtime.get() {
            return Ok(r);
        }
        let rt = Runtime::new(RuntimeOptions {
            plugin_dirs: self.plugin_dirs.clone(),
            ..Default::default()
        })
        .context("starting the plugin runtime")?;
        Ok(self.runtime.get_or_init(|| rt))
    }

    /// Open a database; `writable` when the command changes it.
    pub fn database(&self, spec: &str, writable: bool) -> Result<Box<dyn Database>> {
        let t = targets::database(&self.config, spec, writable)?;
        self.runtime()?
            .open_database(&t.plugin, &t.grant, t.describe.clone())
            .with_context(|| format!("opening database {}", t.describe))
    }

    /// Open a database and say which plugin serves it.
    pub fn database_with_plugin(
        &self,
        spec: &str,
        writable: bool,
    ) -> Result<(Box<dyn Database>, Arc<vdr_runtime::LoadedPlugin>)> {
        let t = targets::database(&self.config, spec, writable)?;
        let plugin = self.runtime()?.load(&t.plugin)?;
        let db = self
            .runtime()?
            .open_database(&t.plugin, &t.grant, t.describe.clone())
            .with_context(|| format!("opening database {}", t.describe))?;
        Ok((db, plugin))
    }

    /// Open a repository's storage, with transient failures retried (and,
    /// in a drill, faults injected beneath the retries).
    pub fn storage(&self, spec: &str) -> Result<Arc<dyn ObjectStore>> {
        use vdr_model::resilient::{FaultyStore, RetryPolicy, RetryingStore};
        let t = targets::repository(&self.config, spec)?;
        let store = self
            .runtime()?
            .open_store(&t.plugin, &t.grant, t.describe.clone())
            .with_context(|| format!("opening repository storage {}", t.describe))?;
        let faults = *self.storage_faults.lock().unwrap();
        Ok(match faults {
            Some(f) => {
                Arc::new(RetryingStore::new(FaultyStore::new(store, f), RetryPolicy::default()))
            }
            None => Arc::new(RetryingStore::new(store, RetryPolicy::default())),
        })
    }
}

pub fn dispatch(cli: Cli) -> Result<()> {
    let ctx = Ctx::new(&cli)?;
    let metrics = ctx.metrics.clone();
    let result = execute(ctx, cli.command);
    if let Some(path) = &cli.metrics_file
        && let Err(e) = metrics.write_textfile(path)
    {
        let e =
            anyhow::Error::new(e).context(format!("writing the metrics file {}", path.display()));
        // A failed command's own error matters more than its metrics.
        if result.is_ok() {
            return Err(e);
        }
        tracing::warn!("{e:#}");
    }
    result
}

/// The job a command is for the metrics (`job`, `target`), if it is one.
fn job_of(command: &Command) -> Option<(&'static str, String)> {
    Some(match command {
        Command::Backup(a) => ("backup", a.db.db.clone()),
        Command::Verify(a) => ("verify", a.db.db.clone()),
        Command::Check(a) => ("check", a.repo.repo.clone()),
        Command::Forget(a) => ("forget", a.repo.repo.clone()),
        Command::Prune(a) => ("prune", a.repo.repo.clone()),
        Command::Replicate(a) => ("replicate", a.to.clone()),
        Command::Playbook(PlaybookCmd::Run(a)) => ("playbook", playbook::target(&a.file)),
        _ => return None,
    })
}

/// Run one command and record its job metrics (also `serve`'s jobs).
pub fn execute(ctx: Ctx, command: Command) -> Result<()> {
    let job = job_of(&command);
    let m = ctx.metrics.clone();
    let started = std::time::Instant::now();
    let result = run_command(ctx, command);
    if let Some((job, target)) = job {
        let kind = result.as_ref().err().map(metrics::failure_kind);
        m.job(job, &target, started.elapsed(), kind);
    }
    result
}

fn run_command(ctx: Ctx, command: Command) -> Result<()> {
    match command {
        Command::Plugin(c) => plugin::run(&ctx, c),
        Command::Collection(c) => collection::run(&ctx, c),
        Command::Init(a) => repo::init(&ctx, a),
        Command::Key(c) => repo::key(&ctx, c),
        Command::Backup(a) => {
            let url = a.repo.repo.clone();
            let s = repo::backup(&ctx, a)?;
            let l = [("repo", url.as_str())];
            ctx.metrics.inc("vdr_backup_bytes_read_total", &l, s.bytes_read as f64);
            ctx.metrics.inc("vdr_backup_bytes_stored_total", &l, s.bytes_new as f64);
            ctx.metrics.set("vdr_backup_dedup_ratio", &l, s.dedup_ratio);
            repo::print_backup(&ctx, &s)
        }
        Command::Snapshots(a) => repo::snapshots(&ctx, a),
        Command::Restore(a) => repo::print_restore(&ctx, &repo::restore(&ctx, a)?),
        Command::Verify(a) => {
            let (_, reports) = verify::verify(&ctx, &a)?;
            for r in &reports {
                if let Some(recall) = r.recall {
                    let l = [("collection", r.live_collection.as_str())];
                    ctx.metrics.set("vdr_verify_recall", &l, recall);
                }
            }
            verify::print(&ctx, &reports)
        }
        Command::Check(a) => {
            let url = a.repo.repo.clone();
            let r = repo::check(&ctx, a);
            let ok = matches!(&r, Ok(r) if r.ok());
            ctx.metrics.set("vdr_repository_check_ok", &[("repo", &url)], f64::from(u8::from(ok)));
            repo::print_check(&ctx, &r?)
        }
        Command::Forget(a) => repo::forget(&ctx, a),
        Command::Prune(a) => repo::prune(&ctx, &a.repo.repo),
        Command::Unlock(a) => repo::unlock(&ctx, a),
        Command::Playbook(c) => playbook::run(ctx, c),
        Command::Replicate(a) => replicate::run(&ctx, a),
        Command::Serve(a) => serve::run(ctx, a),
        Command::Terraform(a) => terraform::run(&ctx, a),
        Command::Bench(a) => bench::run(&ctx, a),
    }
}
