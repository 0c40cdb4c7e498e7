//! From what the operator typed (`local://./store`, `s3://bucket/p?...`,
//! a configured name) to a plugin name and the grant its instance gets.
//! Secrets are resolved here, in the host, and handed only to the plugin
//! of that target.

use crate::config::{Config, Target};
use crate::exit::usage;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use vdr_runtime::{Grant, Origin};

/// A resolved target: which plugin, with which grant.
#[derive(Debug)]
pub struct Resolved {
    pub plugin: String,
    pub grant: Grant,
    /// What to call it in messages (never contains secrets).
    pub describe: String,
}

/// Environment variables each plugin's secrets come from by default.
fn env_secrets(plugin: &str) -> &'static [(&'static str, &'static str)] {
    match plugin {
        "s3" => &[
            ("access-key-id", "AWS_ACCESS_KEY_ID"),
            ("secret-access-key", "AWS_SECRET_ACCESS_KEY"),
            ("session-token", "AWS_SESSION_TOKEN"),
        ],
        "gcs" => &[("oauth-token", "GOOGLE_OAUTH_ACCESS_TOKEN")],
        "azure" => {
            &[("account-key", "AZURE_STORAGE_KEY"), ("sas-token", "AZURE_STORAGE_SAS_TOKEN")]
        }
        "qdrant" => &[("api-key", "QDRANT_API_KEY")],
        "pinecone" => &[("api-key", "PINECONE_API_KEY")],
        "weaviate" => &[("api-key", "WEAVIATE_API_KEY")],
        "chroma" => &[("api-key", "CHROMA_API_KEY")],
        "milvus" => &[("token", "MILVUS_TOKEN")],
        _ => &[],
    }
}

/// Resolve a database (`writable` when the command changes it).
pub fn database(config: &Config, spec: &str, writable: bool) -> Result<Resolved> {
    let target = lookup(&config.databases, spec);
    let mut r = parse(&target.url, writable, Role::Database)?;
    add_secrets(&mut r, &target)?;
    apply_limits(config, &mut r);
    Ok(r)
}

/// Resolve a repository's storage.
pub fn repository(config: &Config, spec: &str) -> Result<Resolved> {
    let target = lookup(&config.repositories, spec);
    let mut r = parse(&target.url, true, Role::Repository)?;
    add_secrets(&mut r, &target)?;
    apply_limits(config, &mut r);
    Ok(r)
}

fn lookup(named: &std::collections::BTreeMap<String, Target>, spec: &str) -> Target {
    named.get(spec).cloned().unwrap_or_else(|| Target {
        url: spec.to_string(),
        secret_files: Default::default(),
        secret_env: Default::default(),
    })
}

#[derive(PartialEq)]
enum Role {
    Database,
    Repository,
}

fn parse(url: &str, writable: bool, role: Role) -> Result<Resolved> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        usage(format!(
            "{url:?} is not a URL; expected e.g. local://./store, fs:///backups, s3://bucket/prefix"
        ))
    })?;
    let file_plugin = match (scheme, &role) {
        ("local" | "faiss", Role::Database) | ("fs", Role::Repository) => Some(scheme),
        _ => None,
    };
    if let Some(plugin) = file_plugin {
        let path = local_path(rest, plugin == "local" && writable)?;
        return Ok(Resolved {
            plugin: plugin.to_string(),
            describe: format!("{plugin}://{}", path.display()),
            grant: Grant::directory(path, writable),
        });
    }
    if let Some((plugin, transport)) = scheme.split_once('+') {
        if role != Role::Database {
            return Err(usage(format!(
                "{url:?}: engine URLs (ENGINE+http://) name databases, not repositories"
            )));
        }
        let endpoint_url = format!("{transport}://{rest}");
        let parsed = url::Url::parse(&endpoint_url).map_err(|e| usage(format!("{url:?}: {e}")))?;
        let mut options = serde_json::Map::new();
        for (k, v) in parsed.query_pairs() {
            options.insert(k.into_owned(), serde_json::Value::String(v.into_owned()));
        }
        let mut base = parsed.clone();
        base.set_query(None);
        let mut grant = Grant::endpoint(base.as_str()).map_err(usage)?;
        grant.options = serde_json::Value::Object(options);
        return Ok(Resolved { plugin: plugin.to_string(), describe: base.to_string(), grant });
    }
    match (scheme, role) {
        ("s3" | "gs" | "az", Role::Repository) => object_store(scheme, rest),
        _ => Err(usage(format!(
            "{url:?}: unknown scheme {scheme:?}; databases: local://, faiss://, ENGINE+http(s)://; \
             repositories: fs://, s3://, gs://, az://"
        ))),
    }
}

/// `local://./store`, `local:///abs/store`. Stores are created on demand
/// when written; anything else must exist.
fn local_path(rest: &str, create: bool) -> Result<PathBuf> {
    if rest.is_empty() {
        return Err(usage("a file URL needs a path, e.g. local://./store or fs:///backups"));
    }
    let path = Path::new(rest);
    if create {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    }
    path.canonicalize().with_context(|| {
        format!("{} does not exist (create it, or check the path)", path.display())
    })
}

/// `s3://bucket/prefix?endpoint=..&region=..`, `gs://bucket/prefix`, `az://container/prefix`.
fn object_store(scheme: &str, rest: &str) -> Result<Resolved> {
    let parsed = url::Url::parse(&format!("{scheme}://{rest}"))
        .map_err(|e| usage(format!("{scheme}://{rest}: {e}")))?;
    let bucket = parsed.host_str().unwrap_or("").to_string();
    if bucket.is_empty() {
        return Err(usage(format!("{scheme}://{rest}: the URL needs a bucket or container name")));
    }
    let prefix = parsed.path().trim_matches('/').to_string();
    let mut options = serde_json::Map::new();
    options.insert("bucket".into(), bucket.clone().into());
    options.insert("prefix".into(), prefix.clone().into());
    let mut endpoint = None;
    for (k, v) in parsed.query_pairs() {
        if k == "endpoint" {
            endpoint = Some(v.into_owned());
        } else {
            options.insert(k.replace('_', "-"), v.into_owned().into());
        }
    }
    let (plugin, endpoint, extra_hosts) = match scheme {
        "s3" => {
            let region =
                options.get("region").and_then(|v| v.as_str()).unwrap_or("us-east-1").to_string();
            options.insert("region".into(), region.clone().into());
            match endpoint {
                Some(e) => ("s3", e, vec![]),
                None => (
                    "s3",
                    format!("https://s3.{region}.amazonaws.com"),
                    vec![format!("https://{bucket}.s3.{region}.amazonaws.com")],
                ),
            }
        }
        "gs" => {
            let e = endpoint
                .or_else(|| std::env::var("STORAGE_EMULATOR_HOST").ok().map(with_scheme))
                .unwrap_or_else(|| "https://storage.googleapis.com".into());
            ("gcs", e, vec!["https://oauth2.googleapis.com".to_string()])
        }
        _ => {
            let e = match endpoint {
                Some(e) => e,
                None => {
                    let account = std::env::var("AZURE_STORAGE_ACCOUNT").map_err(|_| {
                        usage("az:// needs ?endpoint=https://ACCOUNT.blob.core.windows.net or AZURE_STORAGE_ACCOUNT")
                    })?;
                    format!("https://{account}.blob.core.windows.net")
                }
            };
            if let Ok(account) = std::env::var("AZURE_STORAGE_ACCOUNT") {
                options.entry("account").or_insert(account.into());
            }
            ("azure", e, vec![])
        }
    };
    let mut grant = Grant::endpoint(&endpoint).map_err(usage)?;
    for h in extra_hosts {
        grant.allowed_hosts.push(Origin::of(&h).map_err(usage)?);
    }
    grant.options = serde_json::Value::Object(options);
    let describe = format!("{scheme}://{bucket}/{prefix} via {}", grant.endpoint);
    Ok(Resolved { plugin: plugin.to_string(), grant, describe })
}

fn with_scheme(host: String) -> String {
    if host.starts_with("http://") || host.starts_with("https://") {
        host
    } else {
        format!("http://{host}")
    }
}

fn add_secrets(r: &mut Resolved, target: &Target) -> Result<()> {
    for (name, var) in env_secrets(&r.plugin) {
        if let Ok(v) = std::env::var(var)
            && !v.is_empty()
        {
            r.grant.secrets.push((name.to_string(), v));
        }
    }
    if r.plugin == "gcs"
        && let Ok(path) = std::env::var("GOOGLE_APPLICATION_CREDENTIALS")
    {
        let key = std::fs::read_to_string(&path)
            .with_context(|| format!("reading GOOGLE_APPLICATION_CREDENTIALS file {path}"))?;
        // The plugin exchanges the key for tokens at the file's token_uri
        // (Google's own unless the operator's key file names another).
        let token_uri = serde_json::from_str::<serde_json::Value>(&key)
            .ok()
            .and_then(|v| v["token_uri"].as_str().map(str::to_string));
        if let Some(uri) = token_uri {
            let origin = Origin::of(&uri).map_err(|e| {
                usage(format!("GOOGLE_APPLICATION_CREDENTIALS: token_uri {uri:?}: {e}"))
            })?;
            r.grant.allowed_hosts.push(origin);
        }
        r.grant.secrets.push(("service-account-json".into(), key));
    }
    for (name, var) in &target.secret_env {
        let v = std::env::var(var)
            .map_err(|_| usage(format!("secret {name}: environment variable {var} is not set")))?;
        set_secret(&mut r.grant, name, v);
    }
    for (name, path) in &target.secret_files {
        let v = std::fs::read_to_string(path)
            .with_context(|| format!("reading secret {name} from {}", path.display()))?;
        set_secret(&mut r.grant, name, v.trim_end_matches(['\n', '\r']).to_string());
    }
    Ok(())
}

fn set_secret(grant: &mut Grant, name: &str, value: String) {
    grant.secrets.retain(|(k, _)| k != name);
    grant.secrets.push((name.to_string(), value));
}

fn apply_limits(config: &Config, r: &mut Resolved) {
    if let Some(l) = config.plugins.get(&r.plugin) {
        r.grant.memory_mib = l.memory_mib;
        r.grant.call_timeout_ms = l.call_timeout_ms;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_urls_grant_only_their_origin_and_pass_query_as_options() {
        let r = parse("chroma+http://127.0.0.1:8000/?tenant=t1&database=d1", false, Role::Database)
            .unwrap();
        assert_eq!(r.plugin, "chroma");
        assert_eq!(r.grant.allowed_hosts, vec![Origin::of("http://127.0.0.1:8000").unwrap()]);
        assert_eq!(r.grant.options["tenant"], "t1");
        assert!(!r.grant.endpoint.contains("tenant"));
    }

    #[test]
    fn s3_urls_carry_bucket_prefix_region_and_endpoint() {
        let r = parse(
            "s3://backups/prod/vdr?endpoint=http://127.0.0.1:8333&region=eu-west-1",
            true,
            Role::Repository,
        )
        .unwrap();
        assert_eq!(r.plugin, "s3");
        assert_eq!(r.grant.options["bucket"], "backups");
        assert_eq!(r.grant.options["prefix"], "prod/vdr");
        assert_eq!(r.grant.options["region"], "eu-west-1");
        assert_eq!(r.grant.endpoint, "http://127.0.0.1:8333");
        assert_eq!(r.grant.allowed_hosts.len(), 1);
    }

    #[test]
    fn unknown_schemes_are_usage_errors_that_list_the_valid_ones() {
        let e = parse("ftp://x/y", true, Role::Repository).unwrap_err();
        assert_eq!(crate::exit::code_of(&e), crate::exit::Code::Usage);
        assert!(e.to_string().contains("fs://, s3://, gs://, az://"), "{e}");
    }
}
