//! One module per command family; `Ctx` holds what they share.

pub mod bench;
pub mod collection;
pub mod pit;
pub mod playbook;
pub mod plugin;
pub mod repo;
pub mod terraform;
pub mod verify;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::exit::not_built;
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
    plugin_dirs: Vec<PathBuf>,
    runtime: OnceLock<Runtime>,
    /// Fraction of storage calls to fail (a drill's `chaos: fail-storage`).
    pub storage_faults: std::sync::Mutex<Option<f64>>,
}

impl Ctx {
    pub fn new(cli: &Cli) -> Result<Ctx> {
        let mut plugin_dirs: Vec<PathBuf> = std::env::var_os("VDR_PLUGIN_PATH")
            .map(|p| std::env::split_paths(&p).filter(|d| !d.as_os_str().is_empty()).collect())
            .unwrap_or_default();
        plugin_dirs.extend(cli.plugin_dirs.iter().cloned());
        Ok(Ctx {
            config: Config::load(cli.config.as_deref())?,
            out: Out { json: cli.json, quiet: cli.quiet },
            identity: cli.identity.clone(),
            plugin_dirs,
            runtime: OnceLock::new(),
            storage_faults: std::sync::Mutex::new(None),
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
    match cli.command {
        Command::Plugin(c) => plugin::run(&ctx, c),
        Command::Collection(c) => collection::run(&ctx, c),
        Command::Init(a) => repo::init(&ctx, a),
        Command::Key(c) => repo::key(&ctx, c),
        Command::Backup(a) => repo::print_backup(&ctx, &repo::backup(&ctx, a)?),
        Command::Snapshots(a) => repo::snapshots(&ctx, a),
        Command::Restore(a) => repo::print_restore(&ctx, &repo::restore(&ctx, a)?),
        Command::Verify(a) => verify::print(&ctx, &verify::verify(&ctx, &a)?),
        Command::Check(a) => repo::print_check(&ctx, &repo::check(&ctx, a)?),
        Command::Forget(a) => repo::forget(&ctx, a),
        Command::Prune(a) => repo::prune(&ctx, &a.repo.repo),
        Command::Unlock(a) => repo::unlock(&ctx, a),
        Command::Playbook(c) => playbook::run(ctx, c),
        Command::Replicate(_) => Err(not_built("replicate")),
        Command::Serve(_) => Err(not_built("serve")),
        Command::Terraform(a) => terraform::run(&ctx, a),
        Command::Bench(a) => bench::run(&ctx, a),
    }
}
