//! What the operator's configuration grants a plugin instance, and the
//! intersection with what the plugin's manifest declares.

use crate::manifest::{FsAccess, Manifest};
use std::fmt;
use std::path::PathBuf;

/// `scheme://host:port`, the unit of network permission.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    pub scheme: String,
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// The origin of a URL (default ports filled in).
    pub fn of(url: &str) -> Result<Origin, String> {
        let u = url::Url::parse(url).map_err(|e| format!("{url:?} is not a valid URL: {e}"))?;
        let scheme = u.scheme().to_string();
        if scheme != "http" && scheme != "https" {
            return Err(format!("{url:?}: only http and https URLs are allowed"));
        }
        let host = u.host_str().ok_or_else(|| format!("{url:?} has no host"))?.to_ascii_lowercase();
        let port = u.port_or_known_default().ok_or_else(|| format!("{url:?} has no port"))?;
        Ok(Origin { scheme, host, port })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// A directory lent to a plugin, seen by it at `guest_path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirGrant {
    pub host_path: PathBuf,
    pub guest_path: String,
    pub writable: bool,
}

/// Guest path at which a granted directory appears.
pub const GUEST_DATA_DIR: &str = "/data";

/// Everything the operator grants one plugin instance.
#[derive(Clone, Default)]
pub struct Grant {
    /// Handed to the plugin's `configure` as the endpoint.
    pub endpoint: String,
    /// Plugin options (JSON object).
    pub options: serde_json::Value,
    /// Secrets for this plugin only. Never logged.
    pub secrets: Vec<(String, String)>,
    pub allowed_hosts: Vec<Origin>,
    pub directory: Option<DirGrant>,
    /// Overrides of the manifest's default limits.
    pub memory_mib: Option<u32>,
    pub call_timeout_ms: Option<u64>,
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret_names: Vec<&str> = self.secrets.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Grant")
            .field("endpoint", &self.endpoint)
            .field("options", &self.options)
            .field("secrets", &secret_names)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("directory", &self.directory)
            .finish()
    }
}

impl Grant {
    /// A grant of one directory, at the standard guest path.
    pub fn directory(host_path: impl Into<PathBuf>, writable: bool) -> Grant {
        Grant {
            endpoint: GUEST_DATA_DIR.into(),
            options: serde_json::json!({}),
            directory: Some(DirGrant {
                host_path: host_path.into(),
                guest_path: GUEST_DATA_DIR.into(),
                writable,
            }),
            ..Grant::default()
        }
    }

    /// A grant of one HTTP endpoint: the plugin may reach its origin only.
    pub fn endpoint(url: &str) -> Result<Grant, String> {
        let origin = Origin::of(url)?;
        Ok(Grant {
            endpoint: url.trim_end_matches('/').to_string(),
            options: serde_json::json!({}),
            allowed_hosts: vec![origin],
            ..Grant::default()
        })
    }
}

/// Permissions in force: declared by the manifest AND granted.
#[derive(Clone, Debug)]
pub struct Effective {
    pub label: String,
    pub http_declared: bool,
    pub allowed_hosts: Vec<Origin>,
    pub directory: Option<DirGrant>,
    pub vector_index: bool,
}

impl Effective {
    /// Intersect; refuse grants the manifest does not declare, saying which
    /// side refused.
    pub fn resolve(
        manifest: &Manifest,
        grant: &Grant,
    ) -> Result<(Effective, Vec<(String, String)>), String> {
        let label = format!("plugin {}@{}", manifest.name, manifest.version);
        let caps = &manifest.capabilities;
        let directory = match (&grant.directory, caps.filesystem) {
            (None, _) => None,
            (Some(_), FsAccess::None) => {
                return Err(format!(
                    "{label}: the configuration grants a directory but the plugin manifest declares \
                     filesystem = \"none\""
                ));
            }
            (Some(d), FsAccess::ReadOnly) => Some(DirGrant { writable: false, ..d.clone() }),
            (Some(d), FsAccess::ReadWrite) => Some(d.clone()),
        };
        // Secrets the manifest does not declare are withheld, not forwarded.
        let secrets = grant
            .secrets
            .iter()
            .filter(|(k, _)| caps.secrets.iter().any(|s| s == k))
            .cloned()
            .collect();
        Ok((
            Effective {
                label,
                http_declared: caps.http,
                allowed_hosts: if caps.http { grant.allowed_hosts.clone() } else { Vec::new() },
                directory,
                vector_index: caps.vector_index,
            },
            secrets,
        ))
    }

    /// Check an outbound URL: Ok, or a denial naming the refusing side.
    pub fn check_url(&self, url: &str) -> Result<Origin, String> {
        if !self.http_declared {
            return Err(format!(
                "{}: the plugin manifest does not declare capability 'http'",
                self.label
            ));
        }
        let origin = Origin::of(url)?;
        if self.allowed_hosts.contains(&origin) {
            return Ok(origin);
        }
        let granted: Vec<String> = self.allowed_hosts.iter().map(|o| o.to_string()).collect();
        Err(format!(
            "{}: {origin} is not an allowed host (granted by configuration: {})",
            self.label,
            if granted.is_empty() { "none".to_string() } else { granted.join(", ") }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(http: bool) -> Manifest {
        Manifest::parse(&format!(
            "name = \"t\"\nversion = \"0.1.0\"\nkind = \"storage\"\ncontract = \"0.1.0\"\n\
             [capabilities]\nhttp = {http}\nsecrets = [\"key\"]\n"
        ))
        .unwrap()
    }

    #[test]
    fn refuses_hosts_not_granted_naming_the_configuration() {
        let grant = Grant::endpoint("http://127.0.0.1:8333/").unwrap();
        let (eff, _) = Effective::resolve(&manifest(true), &grant).unwrap();
        assert!(eff.check_url("http://127.0.0.1:8333/bucket?x").is_ok());
        let err = eff.check_url("http://169.254.169.254/latest").unwrap_err();
        assert!(err.contains("granted by configuration: http://127.0.0.1:8333"), "{err}");
        assert!(eff.check_url("https://127.0.0.1:8333/").is_err(), "scheme is part of the origin");
    }

    #[test]
    fn refuses_http_when_the_manifest_does_not_declare_it() {
        let grant = Grant::endpoint("http://127.0.0.1:8333").unwrap();
        let (eff, _) = Effective::resolve(&manifest(false), &grant).unwrap();
        let err = eff.check_url("http://127.0.0.1:8333/").unwrap_err();
        assert!(err.contains("manifest does not declare capability 'http'"), "{err}");
    }

    #[test]
    fn withholds_secrets_the_manifest_does_not_declare() {
        let mut grant = Grant::endpoint("http://127.0.0.1:1").unwrap();
        grant.secrets =
            vec![("key".into(), "s3cret-value".into()), ("other".into(), "0ther-value".into())];
        let (_, secrets) = Effective::resolve(&manifest(true), &grant).unwrap();
        assert_eq!(secrets, vec![("key".to_string(), "s3cret-value".to_string())]);
        // Debug output names secrets but never shows their values.
        let debug = format!("{grant:?}");
        assert!(
            debug.contains("key")
                && !debug.contains("s3cret-value")
                && !debug.contains("0ther-value"),
            "{debug}"
        );
    }

    #[test]
    fn refuses_a_directory_for_a_plugin_without_filesystem() {
        let grant = Grant::directory("/tmp", true);
        let err = Effective::resolve(&manifest(true), &grant).unwrap_err();
        assert!(err.contains("declares filesystem = \"none\""), "{err}");
    }
}
