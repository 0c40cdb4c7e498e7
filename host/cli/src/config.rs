//! The optional config file (`--config` / `VDR_CONFIG`): named databases and
//! repositories, plugin limits, and where secrets come from. It holds no
//! secret itself: secrets are named by environment variable or file.

use anyhow::{Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    #[serde(default)]
    pub databases: BTreeMap<String, Target>,
    #[serde(default)]
    pub repositories: BTreeMap<String, Target>,
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginLimits>,
}

/// A named database or repository.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Target {
    /// The URL, as on the command line.
    pub url: String,
    /// Secret name -> file holding it (e.g. `secret-access-key = "/run/secrets/s3"`).
    #[serde(default)]
    pub secret_files: BTreeMap<String, PathBuf>,
    /// Secret name -> environment variable holding it.
    #[serde(default)]
    pub secret_env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PluginLimits {
    pub memory_mib: Option<u32>,
    pub call_timeout_ms: Option<u64>,
}

impl Config {
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let Some(path) = path else { return Ok(Config::default()) };
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text)
            .map_err(|e| crate::exit::usage(format!("config file {}: {e}", path.display())))
    }
}
