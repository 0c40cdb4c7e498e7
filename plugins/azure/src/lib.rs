//! `azure`: a vdr repository in an Azure Blob Storage container.
//!
//! - Shared Key (`account-key`) or SAS (`sas-token`) auth (`sharedkey`, `client`);
//! - small objects go up with Put Blob, large ones and multipart uploads as
//!   blocks (Put Block + Put Block List);
//! - `put(if_absent)` sends `If-None-Match: *`;
//! - versions are blob snapshots: `list-versions` lists snapshots (and the
//!   current blob, with an empty version id) and `get` reads `?snapshot=`.

mod client;
mod multipart;
mod sharedkey;
mod xml;

use std::rc::Rc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use vdr_plugin_sdk::prelude::*;
use vdr_plugin_sdk::storage::KeyPrefix;

use crate::client::{Auth, Client, check, error_code, query};
use crate::multipart::BlockUpload;
use crate::sharedkey::SharedKey;

const MAX_PAGE_SIZE: u32 = 5000;
/// Larger single puts are sent as blocks of this size.
const BLOCK_SIZE: usize = 16 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Options {
    /// The container (`az://container/prefix`).
    bucket: String,
    #[serde(default)]
    prefix: String,
    /// Storage account; default: from the endpoint (Azurite's path or the
    /// first label of `ACCOUNT.blob.core.windows.net`).
    #[serde(default)]
    account: Option<String>,
    /// Create the container at configure if it does not exist.
    #[serde(default, deserialize_with = "vdr_plugin_sdk::config::flag")]
    create_bucket: bool,
}

/// Split an endpoint into (without trailing `/`, its path, account guess).
fn parse_endpoint(endpoint: &str) -> Result<(String, String, Option<String>)> {
    let endpoint = endpoint.trim_end_matches('/');
    let (_, rest) = endpoint.split_once("://").ok_or_else(|| {
        Error::InvalidInput(format!("azure endpoint {endpoint:?} is not an http(s) URL"))
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let account = match path.trim_matches('/') {
        "" => {
            authority.split('.').next().filter(|_| authority.contains(".blob.")).map(String::from)
        }
        p => Some(p.to_string()),
    };
    Ok((endpoint.to_string(), path.to_string(), account))
}

struct AzureStore {
    client: Rc<Client>,
    prefix: KeyPrefix,
}

impl AzureStore {
    fn create_container(&self) -> Result<()> {
        let q = query(&[("restype", "container")]);
        let response = self.client.send("PUT", None, &q, Vec::new(), Vec::new())?;
        if response.status == 409 && error_code(&response) == "ContainerAlreadyExists" {
            return Ok(());
        }
        check(response, &format!("creating container {}", self.client.container))?;
        Ok(())
    }

    fn list_blobs(
        &self,
        prefix: &str,
        token: Option<String>,
        size: u32,
        snapshots: bool,
    ) -> Result<xml::EnumerationResults> {
        let max = size.clamp(1, MAX_PAGE_SIZE).to_string();
        let full = self.prefix.join(prefix);
        let mut q = query(&[
            ("restype", "container"),
            ("comp", "list"),
            ("prefix", &full),
            ("maxresults", &max),
        ]);
        if snapshots {
            q.push(("include".into(), "snapshots".into()));
        }
        if let Some(t) = token {
            q.push(("marker".into(), t));
        }
        let response = self.client.send("GET", None, &q, Vec::new(), Vec::new())?;
        xml::parse_list(&check(response, &format!("list {prefix}"))?.body)
    }
}

impl StoragePlugin for AzureStore {
    fn configure(config: Config) -> Result<Self> {
        let options: Options = config.options()?;
        let (endpoint, base_path, guessed) = parse_endpoint(&config.endpoint)?;
        let account = options.account.or(guessed);
        let auth = match (config.secret("account-key"), config.secret("sas-token")) {
            (Some(key), _) if !key.is_empty() => {
                let account = account.ok_or_else(|| {
                    Error::InvalidInput(
                        "azure: Shared Key auth needs the account name: set the account option \
                         or AZURE_STORAGE_ACCOUNT"
                            .into(),
                    )
                })?;
                let key = STANDARD.decode(key.trim()).map_err(|_| {
                    Error::Unauthorized("azure: the account key is not valid base64".into())
                })?;
                Auth::SharedKey(SharedKey { account, key })
            }
            (_, Some(sas)) if !sas.is_empty() => Auth::Sas(sas.trim_start_matches('?').to_string()),
            _ => {
                return Err(Error::Unauthorized(
                    "azure: no credentials: set AZURE_STORAGE_KEY (Shared Key, with \
                     AZURE_STORAGE_ACCOUNT) or AZURE_STORAGE_SAS_TOKEN, or the secrets \
                     account-key / sas-token in the config file"
                        .into(),
                ));
            }
        };
        let store = AzureStore {
            client: Rc::new(Client { endpoint, base_path, container: options.bucket, auth }),
            prefix: KeyPrefix::new(&options.prefix),
        };
        if options.create_bucket {
            store.create_container()?;
        }
        Ok(store)
    }

    fn put(&mut self, key: &str, data: Vec<u8>, if_absent: bool) -> Result<()> {
        let blob = self.prefix.join(key);
        if data.len() > BLOCK_SIZE {
            let mut upload = BlockUpload::new(self.client.clone(), blob, if_absent);
            for (i, chunk) in data.chunks(BLOCK_SIZE).enumerate() {
                upload.put_part(i as u32 + 1, chunk.to_vec())?;
            }
            return upload.complete();
        }
        let mut headers = vec![
            ("content-type".to_string(), "application/octet-stream".to_string()),
            ("x-ms-blob-type".to_string(), "BlockBlob".to_string()),
        ];
        if if_absent {
            headers.push(("if-none-match".into(), "*".into()));
        }
        let response = self.client.send("PUT", Some(&blob), &[], headers, data)?;
        check(response, &format!("put {key}"))?;
        Ok(())
    }

    fn get(
        &mut self,
        key: &str,
        range: Option<ByteRange>,
        version: Option<String>,
    ) -> Result<Vec<u8>> {
        let mut headers = Vec::new();
        if let Some(r) = range {
            if r.length == 0 {
                return Ok(Vec::new());
            }
            headers.push((
                "x-ms-range".to_string(),
                format!("bytes={}-{}", r.start, r.start + r.length - 1),
            ));
        }
        let q = match version.filter(|v| !v.is_empty()) {
            Some(v) => query(&[("snapshot", &v)]),
            None => Vec::new(),
        };
        let response =
            self.client.send("GET", Some(&self.prefix.join(key)), &q, headers, Vec::new())?;
        if response.status == 416 {
            return Ok(Vec::new());
        }
        Ok(check(response, &format!("get {key}"))?.body)
    }

    fn stat(&mut self, key: &str) -> Result<ObjectMeta> {
        let response =
            self.client.send("HEAD", Some(&self.prefix.join(key)), &[], Vec::new(), Vec::new())?;
        let response = check(response, &format!("stat {key}"))?;
        Ok(ObjectMeta {
            key: key.to_string(),
            size: response.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0),
            modified_ms: response
                .header("last-modified")
                .map(vdr_plugin_sdk::time::http_date_ms)
                .unwrap_or(0),
            version: None,
        })
    }

    fn list(
        &mut self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<ListPage> {
        let page = self.list_blobs(prefix, page_token, page_size, false)?;
        let objects = page
            .blobs
            .blob
            .into_iter()
            .map(|b| ObjectMeta {
                key: self.prefix.strip(&b.name).to_string(),
                size: b.properties.content_length,
                modified_ms: vdr_plugin_sdk::time::http_date_ms(&b.properties.last_modified),
                version: None,
            })
            .collect();
        Ok(ListPage { objects, next_token: page.next_marker.filter(|m| !m.is_empty()) })
    }

    fn delete(&mut self, key: &str) -> Result<()> {
        // Snapshots go with their blob (Azure refuses to orphan them).
        let headers = vec![("x-ms-delete-snapshots".to_string(), "include".to_string())];
        let response =
            self.client.send("DELETE", Some(&self.prefix.join(key)), &[], headers, Vec::new())?;
        if response.status == 404 {
            return Ok(());
        }
        check(response, &format!("delete {key}"))?;
        Ok(())
    }

    fn start_multipart(&mut self, key: &str) -> Result<Box<dyn MultipartUpload>> {
        Ok(Box::new(BlockUpload::new(self.client.clone(), self.prefix.join(key), false)))
    }

    fn list_versions(
        &mut self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<VersionPage> {
        let page = self.list_blobs(prefix, page_token, page_size, true)?;
        let versions = page
            .blobs
            .blob
            .into_iter()
            .map(|b| ObjectVersion {
                key: self.prefix.strip(&b.name).to_string(),
                latest: b.snapshot.is_none(),
                version: b.snapshot.unwrap_or_default(),
                size: b.properties.content_length,
                modified_ms: vdr_plugin_sdk::time::http_date_ms(&b.properties.last_modified),
                deleted: false,
            })
            .collect();
        Ok(VersionPage { versions, next_token: page.next_marker.filter(|m| !m.is_empty()) })
    }
}

vdr_plugin_sdk::export_storage_plugin!(AzureStore, "vdr-plugin.toml");
