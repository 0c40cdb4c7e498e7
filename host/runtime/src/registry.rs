//! The plugin registry: where plugins come from (embedded, plugin
//! directories), loading them (compile or cache, contract detection,
//! manifest), and opening configured backends.

use crate::engine::{PluginEngine, Provenance};
use crate::grant::{Effective, Grant};
use crate::http::HttpPolicy;
use crate::instance::{Config, Factory, World};
use crate::manifest::{Kind, Manifest, SUPPORTED_CONTRACTS};
use crate::state::{State, new_store};
use crate::v0_1_0;
use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vdr_model::{Database, ObjectStore};
use wasmtime::component::{Component, HasSelf, Linker};

/// Where a plugin's component comes from.
#[derive(Clone, Debug)]
pub enum Source {
    Embedded(&'static [u8]),
    File(PathBuf),
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::Embedded(_) => "embedded".into(),
            Source::File(p) => p.display().to_string(),
        }
    }
}

/// Compiled, pre-linked bindings of one contract version and kind.
#[derive(Clone)]
enum Pre {
    Database010(v0_1_0::changes::DatabasePre),
    Storage010(v0_1_0::st::StoragePluginPre<State>),
}

/// A plugin ready to instantiate.
pub struct LoadedPlugin {
    pub manifest: Manifest,
    pub contract: &'static str,
    pub source: Source,
    pub provenance: Provenance,
    pre: Pre,
}

impl LoadedPlugin {
    pub fn label(&self) -> String {
        format!("plugin {}@{}", self.manifest.name, self.manifest.version)
    }
}

pub struct RuntimeOptions {
    /// Directories searched for `NAME.wasm`, before the embedded plugins.
    pub plugin_dirs: Vec<PathBuf>,
    /// Where compiled components are cached (`None`: no cache).
    pub cache_dir: Option<PathBuf>,
    pub http: HttpPolicy,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            plugin_dirs: Vec::new(),
            cache_dir: crate::engine::default_cache_dir(),
            http: HttpPolicy::default(),
        }
    }
}

pub struct Runtime {
    engine: PluginEngine,
    sources: BTreeMap<String, Source>,
    loaded: Mutex<BTreeMap<String, Arc<LoadedPlugin>>>,
    http: Arc<HttpPolicy>,
}

impl Runtime {
    pub fn new(options: RuntimeOptions) -> Result<Runtime> {
        let engine = PluginEngine::new(options.cache_dir)?;
        let mut sources = BTreeMap::new();
        for (name, bytes) in crate::artifacts::EMBEDDED {
            sources.insert(name.to_string(), Source::Embedded(bytes));
        }
        // Later directories are searched first: the command line overrides
        // VDR_PLUGIN_PATH, which overrides the embedded plugins.
        for dir in &options.plugin_dirs {
            let entries = std::fs::read_dir(dir)
                .with_context(|| format!("reading plugin directory {}", dir.display()))?;
            for entry in entries {
                let path = entry?.path();
                if path.extension().is_some_and(|e| e == "wasm")
                    && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
                {
                    // `cargo build` names components after their crate
                    // (vdr_plugin_s3.wasm): a target dir works as a plugin dir.
                    let name = stem.replace('_', "-");
                    let name = name.strip_prefix("vdr-plugin-").unwrap_or(&name).to_string();
                    sources.insert(name, Source::File(path));
                }
            }
        }
        Ok(Runtime {
            engine,
            sources,
            loaded: Mutex::new(BTreeMap::new()),
            http: Arc::new(options.http),
        })
    }

    pub fn engine(&self) -> &PluginEngine {
        &self.engine
    }

    /// Names of every plugin available, embedded or on the plugin path.
    pub fn names(&self) -> Vec<String> {
        self.sources.keys().cloned().collect()
    }

    /// Load a plugin by name (compiling or reading the cache once).
    pub fn load(&self, name: &str) -> Result<Arc<LoadedPlugin>> {
        if let Some(p) = self.loaded.lock().unwrap().get(name) {
            return Ok(p.clone());
        }
        let source = self.sources.get(name).ok_or_else(|| {
            anyhow!(
                "no plugin named {name:?}; available: {} (add directories with --plugin-dir or VDR_PLUGIN_PATH)",
                self.names().join(", ")
            )
        })?;
        let plugin = Arc::new(
            self.load_source(source.clone())
                .with_context(|| format!("loading plugin {name:?} from {}", source.describe()))?,
        );
        if plugin.manifest.name != name {
            bail!(
                "plugin file for {name:?} ({}) declares the name {:?}; rename the file to {}.wasm",
                source.describe(),
                plugin.manifest.name,
                plugin.manifest.name
            );
        }
        self.loaded.lock().unwrap().insert(name.to_string(), plugin.clone());
        Ok(plugin)
    }

    /// Load a component from a path, whatever its name (for `plugin inspect FILE`).
    pub fn load_file(&self, path: &Path) -> Result<Arc<LoadedPlugin>> {
        Ok(Arc::new(self.load_source(Source::File(path.to_path_buf()))?))
    }

    fn load_source(&self, source: Source) -> Result<LoadedPlugin> {
        let bytes: std::borrow::Cow<[u8]> = match &source {
            Source::Embedded(b) => (*b).into(),
            Source::File(p) => {
                std::fs::read(p).with_context(|| format!("reading {}", p.display()))?.into()
            }
        };
        let (component, provenance) = self.engine.load(&bytes)?;
        let (kind, contract) = detect_contract(self.engine.engine(), &component)?;
        let pre = self.link(&component, kind, contract)?;
        let manifest_text = self.read_manifest(&pre)?;
        let manifest = Manifest::parse(&manifest_text)?;
        if manifest.kind != kind {
            bail!(
                "the manifest says kind = {:?} but the component exports the {kind} contract",
                manifest.kind.to_string()
            );
        }
        if manifest.contract != contract {
            bail!(
                "the manifest says contract = {:?} but the component exports contract {contract}",
                manifest.contract
            );
        }
        Ok(LoadedPlugin { manifest, contract, source, provenance, pre })
    }

    fn link(&self, component: &Component, kind: Kind, contract: &str) -> Result<Pre> {
        let mut linker: Linker<State> = Linker::new(self.engine.engine());
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        let explain = |e: wasmtime::Error| {
            anyhow!(
                "{e}; plugins may import only vdr:plugin/host, vdr:plugin/vector-index and the \
                 WASI 0.2 CLI, filesystem, clocks and random interfaces"
            )
        };
        match (kind, contract) {
            (Kind::Database, "0.1.0") => {
                v0_1_0::db::DatabasePlugin::add_to_linker::<State, HasSelf<State>>(
                    &mut linker,
                    |s| s,
                )?;
                let pre = linker.instantiate_pre(component).map_err(explain)?;
                Ok(Pre::Database010(v0_1_0::changes::DatabasePre::new(pre)?))
            }
            (Kind::Storage, "0.1.0") => {
                v0_1_0::st::StoragePlugin::add_to_linker::<State, HasSelf<State>>(
                    &mut linker,
                    |s| s,
                )?;
                let pre = linker.instantiate_pre(component).map_err(explain)?;
                Ok(Pre::Storage010(v0_1_0::st::StoragePluginPre::new(pre)?))
            }
            _ => bail!("contract {contract} is not supported"),
        }
    }

    /// Ask a fresh, unconfigured and unprivileged instance for its manifest.
    fn read_manifest(&self, pre: &Pre) -> Result<String> {
        let perms = Arc::new(Effective {
            label: "plugin (loading)".into(),
            http_declared: false,
            allowed_hosts: Vec::new(),
            directory: None,
            vector_index: false,
        });
        let mut store = new_store(self.engine.engine(), State::new(perms, self.http.clone(), 256)?);
        store.set_epoch_deadline(500);
        store.epoch_deadline_trap();
        let text = match pre {
            Pre::Database010(p) => {
                let b = <v0_1_0::changes::DatabaseWorld as World>::instantiate(p, &mut store)?;
                b.manifest(&mut store)
            }
            Pre::Storage010(p) => {
                let b = <v0_1_0::st::StoragePlugin as World>::instantiate(p, &mut store)?;
                b.manifest(&mut store)
            }
        };
        text.map_err(anyhow::Error::from).context("calling the plugin's manifest export")
    }

    fn factory<W: World>(
        &self,
        plugin: &LoadedPlugin,
        pre: W::Pre,
        grant: &Grant,
    ) -> Result<Factory<W>> {
        let (perms, secrets) =
            Effective::resolve(&plugin.manifest, grant).map_err(|e| anyhow!(e))?;
        Ok(Factory {
            engine: self.engine.engine().clone(),
            pre,
            perms: Arc::new(perms),
            http: self.http.clone(),
            config: Config {
                endpoint: grant.endpoint.clone(),
                options: if grant.options.is_null() {
                    "{}".into()
                } else {
                    grant.options.to_string()
                },
                secrets,
            },
            memory_mib: grant.memory_mib.unwrap_or(plugin.manifest.limits.memory_mib),
            call_timeout_ms: grant
                .call_timeout_ms
                .unwrap_or(plugin.manifest.limits.call_timeout_ms),
        })
    }

    /// Open a database plugin with the operator's grant.
    pub fn open_database(
        &self,
        name: &str,
        grant: &Grant,
        describe: String,
    ) -> Result<Box<dyn Database>> {
        let plugin = self.load(name)?;
        let Pre::Database010(pre) = &plugin.pre else {
            bail!("{} is a {} plugin, not a database plugin", plugin.label(), plugin.manifest.kind);
        };
        let factory =
            self.factory::<v0_1_0::changes::DatabaseWorld>(&plugin, pre.clone(), grant)?;
        let db = v0_1_0::database::PluginDatabase::new(Arc::new(factory), describe)?;
        Ok(Box::new(db))
    }

    /// Open a storage plugin with the operator's grant.
    pub fn open_store(
        &self,
        name: &str,
        grant: &Grant,
        describe: String,
    ) -> Result<Arc<dyn ObjectStore>> {
        let plugin = self.load(name)?;
        let Pre::Storage010(pre) = &plugin.pre else {
            bail!("{} is a {} plugin, not a storage plugin", plugin.label(), plugin.manifest.kind);
        };
        let factory = self.factory::<v0_1_0::st::StoragePlugin>(&plugin, pre.clone(), grant)?;
        Ok(Arc::new(v0_1_0::storage::PluginStore::new(Arc::new(factory), describe)?))
    }
}

/// Find which contract (kind and version) a component exports.
fn detect_contract(
    engine: &wasmtime::Engine,
    component: &Component,
) -> Result<(Kind, &'static str)> {
    let exports: Vec<String> =
        component.component_type().exports(engine).map(|(n, _)| n.to_string()).collect();
    if exports.iter().any(|e| e == v0_1_0::DATABASE_EXPORT) {
        return Ok((Kind::Database, v0_1_0::VERSION));
    }
    if exports.iter().any(|e| e == v0_1_0::STORAGE_EXPORT) {
        return Ok((Kind::Storage, v0_1_0::VERSION));
    }
    let supported: Vec<String> = SUPPORTED_CONTRACTS
        .iter()
        .flat_map(|v| [format!("vdr:plugin/database@{v}"), format!("vdr:plugin/storage@{v}")])
        .collect();
    bail!(
        "the component exports none of the contracts this host supports ({}); it exports: {}",
        supported.join(", "),
        if exports.is_empty() { "nothing".into() } else { exports.join(", ") }
    )
}
