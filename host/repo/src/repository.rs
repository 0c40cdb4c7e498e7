//! Opening and creating a repository; the handle every operation hangs off.

use std::sync::Arc;
use vdr_model::{Error, ErrorKind, ObjectStore, Result};

use crate::chunker::ChunkerParams;
use crate::crypto::{Credentials, DataKey, KeySpec};
use crate::format::{self, CONFIG, Config, FORMAT_VERSION, Id, from_json, to_json};
use crate::keys::{self, KeyInfo};
use crate::lock::{self, LockGuard, LockInfo, LockOptions};

/// Parameters fixed at `init`.
#[derive(Clone, Debug)]
pub struct InitOptions {
    pub chunker: ChunkerParams,
    /// Packs are closed once they reach this size.
    pub pack_target_size: u64,
    /// Default zstd level for backups; 0 stores everything raw.
    pub compression_level: i32,
}

impl Default for InitOptions {
    fn default() -> Self {
        InitOptions {
            chunker: ChunkerParams::default(),
            pack_target_size: 16 << 20,
            compression_level: 1,
        }
    }
}

pub struct Repository {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) key: Arc<DataKey>,
    pub(crate) config: Config,
    pub(crate) key_id: Id,
    /// How locks are waited for, refreshed and judged stale.
    pub lock_options: LockOptions,
}

impl Repository {
    /// Create a repository in an empty location, with one key for `spec`.
    pub fn init(
        store: Arc<dyn ObjectStore>,
        spec: KeySpec,
        options: InitOptions,
    ) -> Result<Repository> {
        match store.stat(CONFIG) {
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!("{} already holds a repository", store.describe()),
                ));
            }
            Err(e) if e.kind == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let p = options.chunker;
        if !(p.min_size >= 64
            && p.min_size <= p.avg_size
            && p.avg_size <= p.max_size
            && p.max_size <= 16 << 20)
        {
            return Err(Error::invalid(format!(
                "chunker sizes {p:?} are not min <= avg <= max <= 16 MiB"
            )));
        }
        let key = Arc::new(DataKey::generate());
        let config = Config {
            format_version: FORMAT_VERSION,
            repository_id: Id::random(),
            created: format::now(),
            chunker: options.chunker,
            pack_target_size: options.pack_target_size.clamp(1 << 20, 1 << 30),
            compression_level: options.compression_level,
        };
        let key_id = keys::write(store.as_ref(), &key, &spec)?;
        // The config last: its presence is what makes this a repository.
        store.put(CONFIG, &key.seal(&to_json(&config)), true)?;
        Ok(Repository { store, key, config, key_id, lock_options: LockOptions::default() })
    }

    /// Open a repository with the operator's credentials. Writes nothing.
    pub fn open(store: Arc<dyn ObjectStore>, credentials: &Credentials) -> Result<Repository> {
        let sealed_config = match store.get(CONFIG, None, None) {
            Ok(c) => c,
            Err(e) if e.kind == ErrorKind::NotFound => {
                return Err(Error::not_found(format!(
                    "{} is not a vdr repository (no config object); create one with `vdr init`",
                    store.describe()
                )));
            }
            Err(e) => return Err(e),
        };
        let key_ids = keys::list_ids(store.as_ref())?;
        let mut damaged = Vec::new();
        for id in &key_ids {
            let name = format::key_key(id);
            let sealed = store.get(&name, None, None)?;
            match credentials.decrypt_key_file(&name, &sealed) {
                Ok(text) => {
                    let text =
                        String::from_utf8(text).map_err(|_| format::corrupt(&name, "not UTF-8"))?;
                    let key = Arc::new(DataKey::from_key_file_text(&text)?);
                    let config: Config = from_json(CONFIG, &key.open(CONFIG, &sealed_config)?)?;
                    if !format::READABLE_VERSIONS.contains(&config.format_version) {
                        return Err(Error::unsupported(format!(
                            "repository format version {} is not supported (this vdr reads versions {:?}): use the vdr that made it",
                            config.format_version,
                            format::READABLE_VERSIONS
                        )));
                    }
                    return Ok(Repository {
                        store,
                        key,
                        config,
                        key_id: *id,
                        lock_options: LockOptions::default(),
                    });
                }
                Err(e) if e.kind == ErrorKind::Unauthorized => {}
                Err(e) => damaged.push(format!("{name}: {e}")),
            }
        }
        let what = match credentials {
            Credentials::Passphrase(_) => "the passphrase",
            Credentials::Identities(_) => "the given identity",
        };
        let mut msg = format!("{what} opens none of the repository's {} key files", key_ids.len());
        if !damaged.is_empty() {
            msg.push_str(&format!(" (damaged: {})", damaged.join("; ")));
        }
        Err(Error::new(ErrorKind::Unauthorized, msg))
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }
    /// The repository's format version (what its config says).
    pub fn format_version(&self) -> u32 {
        self.config.format_version
    }
    pub fn repository_id(&self) -> Id {
        self.config.repository_id
    }
    pub fn chunker(&self) -> ChunkerParams {
        self.config.chunker
    }

    /// Add a key file for `spec`; returns its id.
    pub fn add_key(&self, spec: &KeySpec) -> Result<Id> {
        keys::write(self.store.as_ref(), &self.key, spec)
    }
    pub fn list_keys(&self) -> Result<Vec<KeyInfo>> {
        keys::list(self.store.as_ref(), &self.key, &self.key_id)
    }
    /// Remove a key by id or unique prefix; refuses the last key and the current one.
    pub fn remove_key(&self, id_or_prefix: &str) -> Result<Id> {
        let id = keys::resolve(self.store.as_ref(), id_or_prefix)?;
        keys::remove(self.store.as_ref(), &id, &self.key_id)?;
        Ok(id)
    }

    pub fn locks(&self) -> Result<Vec<LockInfo>> {
        lock::list(self.store.as_ref(), &self.key, &self.lock_options)
    }
    /// Remove stale locks, or every lock with `remove_all`.
    pub fn unlock(&self, remove_all: bool) -> Result<Vec<Id>> {
        lock::unlock(self.store.as_ref(), &self.key, remove_all, &self.lock_options)
    }
    pub(crate) fn lock(&self, exclusive: bool, operation: &str) -> Result<LockGuard> {
        lock::acquire(&self.store, &self.key, exclusive, operation, &self.lock_options)
    }
}
