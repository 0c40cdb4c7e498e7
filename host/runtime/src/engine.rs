//! The wasmtime engine, its epoch ticker and the on-disk cache of compiled
//! components (keyed by the component's content hash and the engine's
//! compatibility hash, so an upgrade or a config change never loads a
//! stale artifact).

use anyhow::{Context, Result};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

/// One epoch tick. Call deadlines are counted in ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

#[derive(Clone)]
pub struct PluginEngine {
    engine: Engine,
    cache_dir: Option<PathBuf>,
    _ticker: Arc<Ticker>,
}

struct Ticker {
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// How a component was obtained, for the instantiate benchmark and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provenance {
    Compiled,
    Cached,
}

impl PluginEngine {
    /// An engine with epoch interruption, caching compiled components in
    /// `cache_dir` (no cache when `None`).
    pub fn new(cache_dir: Option<PathBuf>) -> Result<PluginEngine> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.epoch_interruption(true);
        config.cranelift_opt_level(wasmtime::OptLevel::Speed);
        // Plugins get small stacks; a runaway recursion traps instead of
        // exhausting the host.
        config.max_wasm_stack(2 << 20);
        let engine = Engine::new(&config)?;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = stop.clone();
            std::thread::Builder::new().name("vdr-epoch".into()).spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })?;
        }
        let cache_dir = cache_dir.filter(|d| prepare_cache_dir(d));
        Ok(PluginEngine { engine, cache_dir, _ticker: Arc::new(Ticker { stop }) })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Compile `bytes`, or load the cached artifact of an earlier compile.
    pub fn load(&self, bytes: &[u8]) -> Result<(Component, Provenance)> {
        let Some(path) = self.cache_path(bytes) else {
            return Ok((Component::new(&self.engine, bytes)?, Provenance::Compiled));
        };
        if path.exists() {
            // SAFETY: the artifact was written by `Engine::precompile_component`
            // of an engine with the same compatibility hash (part of the file
            // name) into a directory only this user can write.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(c) => return Ok((c, Provenance::Cached)),
                Err(e) => {
                    tracing::warn!("discarding unusable cached component {}: {e:#}", path.display())
                }
            }
        }
        let started = Instant::now();
        let artifact = self
            .engine
            .precompile_component(bytes)
            .map_err(anyhow::Error::from)
            .context("compiling the plugin component")?;
        tracing::debug!("compiled component in {:?}", started.elapsed());
        if let Err(e) = write_atomically(&path, &artifact) {
            tracing::warn!("could not cache the compiled component at {}: {e}", path.display());
        }
        // SAFETY: the bytes were just produced by this engine.
        let component = unsafe { Component::deserialize(&self.engine, &artifact)? };
        Ok((component, Provenance::Compiled))
    }

    fn cache_path(&self, bytes: &[u8]) -> Option<PathBuf> {
        let dir = self.cache_dir.as_ref()?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        let content = blake3::hash(bytes);
        Some(dir.join(format!("{}-{:016x}.cwasm", &content.to_hex()[..32], h.finish())))
    }
}

/// The default cache directory: `$VDR_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/vdr/components`, else `~/.cache/vdr/components`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("VDR_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("vdr").join("components"))
}

/// Create the cache directory private to this user; refuse a directory
/// others can write (loading an artifact from it would run their code).
fn prepare_cache_dir(dir: &Path) -> bool {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    if std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).is_err() {
        return false;
    }
    match std::fs::metadata(dir) {
        Ok(m) if m.uid() == unsafe { libc::geteuid() } && m.permissions().mode() & 0o022 == 0 => {
            true
        }
        _ => {
            tracing::warn!("not caching compiled plugins: {} is writable by others", dir.display());
            false
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
