//! The configuration handed to `configure`, with typed access to options.

use std::fmt;

use serde::de::DeserializeOwned;

use crate::bindings::storage::vdr::plugin::types::PluginConfig;
use crate::{Error, Result};

/// Configuration of one plugin instance.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the backend is: a URL for servers, a guest path (`/data/...`)
    /// for file-based plugins.
    pub endpoint: String,
    /// Plugin-specific options (a JSON object; `{}` when none were given).
    pub options: serde_json::Value,
    /// Secrets resolved by the host for this plugin. Never log them.
    pub secrets: Secrets,
}

impl Config {
    /// Parse the options into `T`. Add `#[serde(deny_unknown_fields)]` to `T`
    /// so that a misspelt option is an error rather than silently ignored.
    pub fn options<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_value(self.options.clone())
            .map_err(|e| Error::InvalidInput(format!("invalid plugin options: {e}")))
    }

    /// The secret called `name`, if the host provided it.
    pub fn secret(&self, name: &str) -> Option<&str> {
        self.secrets.get(name)
    }

    /// The secret called `name`, or an `unauthorized` error naming it.
    pub fn require_secret(&self, name: &str) -> Result<&str> {
        self.secret(name).ok_or_else(|| Error::Unauthorized(format!("missing secret '{name}'")))
    }
}

impl TryFrom<PluginConfig> for Config {
    type Error = Error;

    fn try_from(raw: PluginConfig) -> Result<Self> {
        let options = if raw.options.trim().is_empty() {
            serde_json::Value::Object(Default::default())
        } else {
            serde_json::from_str(&raw.options)
                .map_err(|e| Error::InvalidInput(format!("plugin options are not JSON: {e}")))?
        };
        if !options.is_object() {
            return Err(Error::InvalidInput("plugin options must be a JSON object".into()));
        }
        Ok(Config { endpoint: raw.endpoint, options, secrets: Secrets(raw.secrets) })
    }
}

/// Named secrets. `Debug` prints the names only, never the values.
#[derive(Clone, Default)]
pub struct Secrets(Vec<(String, String)>);

impl Secrets {
    /// Secrets from `(name, value)` pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Secrets(pairs)
    }

    /// The value of the secret called `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Names of the secrets present.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(n, _)| (n, "<redacted>"))).finish()
    }
}

/// Serde `deserialize_with` for booleans in options: URL query parameters
/// arrive as text, so `true`/`1`/`yes` and `false`/`0`/`no` are accepted
/// besides JSON booleans.
pub fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    optional_flag(d).map(|b| b.unwrap_or(false))
}

/// Like [`flag`], keeping "not given" apart from `false`.
pub fn optional_flag<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<bool>, D::Error> {
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Flag {
        Bool(bool),
        Text(String),
    }
    match <Option<Flag> as serde::Deserialize>::deserialize(d)? {
        None => Ok(None),
        Some(Flag::Bool(b)) => Ok(Some(b)),
        Some(Flag::Text(t)) => match t.as_str() {
            "true" | "1" | "yes" => Ok(Some(true)),
            "false" | "0" | "no" => Ok(Some(false)),
            _ => Err(serde::de::Error::custom(format!("expected true or false, got {t:?}"))),
        },
    }
}
