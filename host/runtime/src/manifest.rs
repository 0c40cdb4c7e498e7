//! The plugin manifest (`vdr-plugin.toml`), parsed strictly: unknown fields
//! are errors and every value is checked, with messages that teach the right
//! syntax. The format is documented in docs/plugin-manifest.md.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Contract versions this host implements, newest first.
pub const SUPPORTED_CONTRACTS: &[&str] = &["0.1.0"];

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Plugin name: the scheme users type (`s3://`, `local://`).
    pub name: String,
    /// Semantic version of the plugin.
    pub version: String,
    pub kind: Kind,
    /// The `vdr:plugin` WIT version the plugin was built against.
    pub contract: String,
    /// One line saying what the plugin is for.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub capabilities: Capabilities,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Database,
    Storage,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Database => "database",
            Kind::Storage => "storage",
        })
    }
}

/// Default sandbox limits; the operator's configuration may override them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Limits {
    /// Linear memory cap in MiB.
    pub memory_mib: u32,
    /// Deadline of one call into the plugin, in milliseconds.
    pub call_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_mib: 256, call_timeout_ms: 60_000 }
    }
}

/// What the plugin may ask for. Everything is denied unless declared here
/// and granted by the operator's configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Capabilities {
    /// Outbound HTTP through the host, to the configured endpoint only.
    #[serde(default)]
    pub http: bool,
    /// Whether the plugin may be lent a directory, and how.
    #[serde(default)]
    pub filesystem: FsAccess,
    /// The host's native usearch index.
    #[serde(default)]
    pub vector_index: bool,
    /// Names of the secrets the plugin may receive.
    #[serde(default)]
    pub secrets: Vec<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FsAccess {
    #[default]
    None,
    ReadOnly,
    ReadWrite,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid plugin manifest{}: {message}", source_name.as_ref().map(|s| format!(" of {s}")).unwrap_or_default())]
pub struct ManifestError {
    pub source_name: Option<String>,
    pub message: String,
}

impl Manifest {
    /// Parse and validate manifest text.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let err = |message: String| ManifestError { source_name: None, message };
        let m: Manifest = toml::from_str(text).map_err(|e| err(teach(text, e)))?;
        m.validate().map_err(err)?;
        Ok(m)
    }

    fn validate(&self) -> Result<(), String> {
        let name_ok = self.name.len() <= 32
            && self.name.starts_with(|c: char| c.is_ascii_lowercase())
            && self.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !name_ok {
            return Err(format!(
                "name {:?} must be 1-32 characters of a-z, 0-9 and '-', starting with a letter",
                self.name
            ));
        }
        if !is_semver(&self.version) {
            return Err(format!(
                "version {:?} is not a semantic version like \"1.2.3\"",
                self.version
            ));
        }
        if !SUPPORTED_CONTRACTS.contains(&self.contract.as_str()) {
            return Err(format!(
                "contract {:?} is not supported by this host; supported: {}",
                self.contract,
                SUPPORTED_CONTRACTS.join(", ")
            ));
        }
        if !(1..=4096).contains(&self.limits.memory_mib) {
            return Err(format!(
                "limits.memory-mib = {} must be within 1..=4096",
                self.limits.memory_mib
            ));
        }
        if !(100..=3_600_000).contains(&self.limits.call_timeout_ms) {
            return Err(format!(
                "limits.call-timeout-ms = {} must be within 100..=3600000",
                self.limits.call_timeout_ms
            ));
        }
        for s in &self.capabilities.secrets {
            if s.is_empty()
                || !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            {
                return Err(format!(
                    "capabilities.secrets entry {s:?} must be kebab-case (a-z, 0-9, '-')"
                ));
            }
        }
        Ok(())
    }
}

/// Turn serde's message into one that names the field and the valid choices.
fn teach(text: &str, e: toml::de::Error) -> String {
    let msg = e.message().to_string();
    let place = e
        .span()
        .map(|s| {
            let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
            format!(" (line {line})")
        })
        .unwrap_or_default();
    if msg.contains("unknown field") {
        format!("{msg}{place}; see docs/plugin-manifest.md for every field")
    } else {
        format!("{msg}{place}")
    }
}

fn is_semver(v: &str) -> bool {
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}
