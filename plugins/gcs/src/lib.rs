//! `gcs`: a vdr repository in a Google Cloud Storage bucket, through the
//! JSON API (also spoken by fake-gcs-server).
//!
//! - small objects go up as one `uploadType=media` request, large ones and
//!   multipart uploads through a resumable session (`multipart`);
//! - `put(if_absent)` sends `ifGenerationMatch=0`;
//! - versions are object generations (`versions=true`); GCS keeps no delete
//!   markers, so every listed generation has data (`deleted: false`).

mod auth;
mod client;
mod encode;
mod multipart;

use std::rc::Rc;

use serde::Deserialize;
use vdr_plugin_sdk::http::Request;
use vdr_plugin_sdk::prelude::*;
use vdr_plugin_sdk::storage::KeyPrefix;

use crate::auth::Auth;
use crate::client::{Client, check};
use crate::encode::query;
use crate::multipart::GcsUpload;

const MAX_PAGE_SIZE: u32 = 1000;
/// Larger single puts use a resumable session (one request, restartable).
const RESUMABLE_THRESHOLD: usize = 16 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Options {
    bucket: String,
    #[serde(default)]
    prefix: String,
    /// Create the bucket at configure if it does not exist.
    #[serde(default, deserialize_with = "vdr_plugin_sdk::config::flag")]
    create_bucket: bool,
    /// Turn object versioning on (at creation, or on an existing bucket).
    #[serde(default, deserialize_with = "vdr_plugin_sdk::config::flag")]
    enable_versioning: bool,
    /// Project that owns a bucket created by `create-bucket`.
    #[serde(default)]
    project: Option<String>,
}

/// An object resource (numbers come as strings in the JSON API).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Object {
    name: String,
    #[serde(default)]
    size: String,
    #[serde(default)]
    updated: String,
    #[serde(default)]
    generation: String,
    #[serde(default)]
    time_deleted: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Objects {
    #[serde(default)]
    items: Vec<Object>,
    next_page_token: Option<String>,
}

struct GcsStore {
    client: Rc<Client>,
    prefix: KeyPrefix,
}

impl GcsStore {
    fn list_objects(
        &self,
        prefix: &str,
        token: Option<String>,
        size: u32,
        versions: bool,
    ) -> Result<Objects> {
        let max = size.clamp(1, MAX_PAGE_SIZE).to_string();
        let full = self.prefix.join(prefix);
        let mut q = vec![("prefix", full.as_str()), ("maxResults", max.as_str())];
        if versions {
            q.push(("versions", "true"));
        }
        if let Some(t) = &token {
            q.push(("pageToken", t));
        }
        let url = format!("{}/o{}", self.client.bucket_url(), query(&q));
        check(self.client.send(Request::get(url))?, &format!("list {prefix}"))?.json()
    }

    fn create_bucket(&self, project: Option<&str>, versioning: bool) -> Result<()> {
        let url = format!(
            "{}/storage/v1/b{}",
            self.client.endpoint,
            query(&project.map(|p| vec![("project", p)]).unwrap_or_default())
        );
        let body = serde_json::json!({ "name": self.client.bucket, "versioning": { "enabled": versioning } });
        let response = self.client.send(Request::post(url).json(&body)?)?;
        if response.status == 409 {
            if versioning {
                let patch = Request::new("PATCH", self.client.bucket_url())
                    .json(&serde_json::json!({ "versioning": { "enabled": true } }))?;
                check(self.client.send(patch)?, "enabling versioning")?;
            }
            return Ok(());
        }
        check(response, &format!("creating bucket {}", self.client.bucket))?;
        Ok(())
    }
}

fn meta(key: String, o: &Object) -> ObjectMeta {
    ObjectMeta {
        key,
        size: o.size.parse().unwrap_or(0),
        modified_ms: vdr_plugin_sdk::time::rfc3339_ms(&o.updated),
        version: (!o.generation.is_empty()).then(|| o.generation.clone()),
    }
}

impl StoragePlugin for GcsStore {
    fn configure(config: Config) -> Result<Self> {
        let options: Options = config.options()?;
        let endpoint = if config.endpoint.is_empty() {
            "https://storage.googleapis.com".to_string()
        } else {
            config.endpoint.trim_end_matches('/').to_string()
        };
        let auth = Auth::from_config(&config)?;
        let store = GcsStore {
            client: Rc::new(Client { endpoint, bucket: options.bucket, auth }),
            prefix: KeyPrefix::new(&options.prefix),
        };
        if options.create_bucket {
            store.create_bucket(options.project.as_deref(), options.enable_versioning)?;
        }
        Ok(store)
    }

    fn put(&mut self, key: &str, data: Vec<u8>, if_absent: bool) -> Result<()> {
        let name = self.prefix.join(key);
        if data.len() > RESUMABLE_THRESHOLD {
            let mut upload = GcsUpload::start(self.client.clone(), &name, key, if_absent)?;
            return upload.put_part(1, data).and_then(|()| upload.complete()).map_err(
                |e| match e {
                    Error::InvalidInput(m) if if_absent && m.contains("HTTP 412") => {
                        Error::AlreadyExists(m)
                    }
                    other => other,
                },
            );
        }
        let mut q = vec![("uploadType", "media"), ("name", name.as_str())];
        if if_absent {
            q.push(("ifGenerationMatch", "0"));
        }
        let url = format!("{}{}", self.client.upload_url(), query(&q));
        let request =
            Request::post(url).header("content-type", "application/octet-stream").body(data);
        let response = self.client.send(request)?;
        if if_absent && response.status == 412 {
            return Err(Error::AlreadyExists(format!("put {key}: the object already exists")));
        }
        check(response, &format!("put {key}"))?;
        Ok(())
    }

    fn get(
        &mut self,
        key: &str,
        range: Option<ByteRange>,
        version: Option<String>,
    ) -> Result<Vec<u8>> {
        let mut q = vec![("alt", "media")];
        if let Some(v) = &version {
            q.push(("generation", v));
        }
        let mut request = Request::get(format!(
            "{}{}",
            self.client.object_url(&self.prefix.join(key)),
            query(&q)
        ));
        if let Some(r) = range {
            if r.length == 0 {
                return Ok(Vec::new());
            }
            request =
                request.header("range", format!("bytes={}-{}", r.start, r.start + r.length - 1));
        }
        let response = self.client.send(request)?;
        if response.status == 416 {
            return Ok(Vec::new());
        }
        Ok(check(response, &format!("get {key}"))?.body)
    }

    fn stat(&mut self, key: &str) -> Result<ObjectMeta> {
        let response =
            self.client.send(Request::get(self.client.object_url(&self.prefix.join(key))))?;
        let object: Object = check(response, &format!("stat {key}"))?.json()?;
        Ok(meta(key.to_string(), &object))
    }

    fn list(
        &mut self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<ListPage> {
        let page = self.list_objects(prefix, page_token, page_size, false)?;
        let objects =
            page.items.iter().map(|o| meta(self.prefix.strip(&o.name).to_string(), o)).collect();
        Ok(ListPage { objects, next_token: page.next_page_token.filter(|t| !t.is_empty()) })
    }

    fn delete(&mut self, key: &str) -> Result<()> {
        let response =
            self.client.send(Request::delete(self.client.object_url(&self.prefix.join(key))))?;
        if response.status == 404 {
            return Ok(());
        }
        check(response, &format!("delete {key}"))?;
        Ok(())
    }

    fn start_multipart(&mut self, key: &str) -> Result<Box<dyn MultipartUpload>> {
        Ok(Box::new(GcsUpload::start(self.client.clone(), &self.prefix.join(key), key, false)?))
    }

    fn list_versions(
        &mut self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<VersionPage> {
        let page = self.list_objects(prefix, page_token, page_size, true)?;
        let versions = page
            .items
            .iter()
            .map(|o| ObjectVersion {
                key: self.prefix.strip(&o.name).to_string(),
                version: o.generation.clone(),
                size: o.size.parse().unwrap_or(0),
                modified_ms: vdr_plugin_sdk::time::rfc3339_ms(&o.updated),
                deleted: false,
                // A noncurrent generation carries the time it was replaced or deleted.
                latest: o.time_deleted.is_none(),
            })
            .collect();
        Ok(VersionPage { versions, next_token: page.next_page_token.filter(|t| !t.is_empty()) })
    }
}

vdr_plugin_sdk::export_storage_plugin!(GcsStore, "vdr-plugin.toml");
