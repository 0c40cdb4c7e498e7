//! `s3`: a vdr repository in an S3 bucket (AWS, MinIO, SeaweedFS, R2, Ceph).
//!
//! - requests are signed with SigV4 in headers (`sigv4`), path-style or
//!   virtual-hosted (`client`);
//! - keys live under `prefix/` when a prefix is configured; listings strip it;
//! - `put(if_absent)` sends `If-None-Match: *` (enforced by AWS and recent
//!   S3 servers; best effort where a server ignores it);
//! - versions come from ListObjectVersions; delete markers are `deleted`.

mod client;
mod encode;
mod multipart;
mod options;
mod sigv4;
mod time;
mod xml;

use std::rc::Rc;

use vdr_plugin_sdk::prelude::*;
use vdr_plugin_sdk::storage::KeyPrefix;

use crate::client::{Client, check, error_code, error_of, query};
use crate::multipart::S3Upload;
use crate::options::Options;

/// S3 returns at most 1000 keys per list request.
const MAX_PAGE_SIZE: u32 = 1000;

struct S3Store {
    client: Rc<Client>,
    prefix: KeyPrefix,
    sse: Vec<(String, String)>,
}

impl S3Store {
    fn create_bucket(&self) -> Result<()> {
        let body = if self.client.region == "us-east-1" {
            Vec::new()
        } else {
            format!(
                "<CreateBucketConfiguration><LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.client.region
            )
            .into_bytes()
        };
        let response = self.client.send("PUT", None, &[], &[], body)?;
        let code = error_code(&response);
        if response.is_success()
            || code == "BucketAlreadyOwnedByYou"
            || code == "BucketAlreadyExists"
        {
            return Ok(());
        }
        Err(error_of(&response, &format!("creating bucket {}", self.client.bucket)))
    }

    fn enable_versioning(&self) -> Result<()> {
        let body = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                    <Status>Enabled</Status></VersioningConfiguration>";
        let response = self.client.send(
            "PUT",
            None,
            &query(&[("versioning", "")]),
            &[],
            body.as_bytes().to_vec(),
        )?;
        check(response, &format!("enabling versioning on bucket {}", self.client.bucket))?;
        Ok(())
    }
}

impl StoragePlugin for S3Store {
    fn configure(config: Config) -> Result<Self> {
        let options: Options = config.options()?;
        let creds = options::credentials(&config)?;
        let endpoint = if config.endpoint.is_empty() {
            format!("https://s3.{}.amazonaws.com", options.region)
        } else {
            config.endpoint.clone()
        };
        let sse = options.sse_headers()?;
        let client = Client::new(
            &endpoint,
            options.bucket.clone(),
            options.path_style,
            options.region.clone(),
            creds,
        )?;
        let store =
            S3Store { client: Rc::new(client), prefix: KeyPrefix::new(&options.prefix), sse };
        if options.create_bucket == Some(true) {
            store.create_bucket()?;
        }
        if options.enable_versioning == Some(true) {
            store.enable_versioning()?;
        }
        Ok(store)
    }

    fn put(&mut self, key: &str, data: Vec<u8>, if_absent: bool) -> Result<()> {
        let mut headers = self.sse.clone();
        if if_absent {
            headers.push(("if-none-match".into(), "*".into()));
        }
        let response =
            self.client.send("PUT", Some(&self.prefix.join(key)), &[], &headers, data)?;
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
        let mut headers = Vec::new();
        if let Some(r) = range {
            if r.length == 0 {
                return Ok(Vec::new());
            }
            headers.push((
                "range".to_string(),
                format!("bytes={}-{}", r.start, r.start + r.length - 1),
            ));
        }
        let q = match &version {
            Some(v) => query(&[("versionId", v)]),
            None => Vec::new(),
        };
        let response =
            self.client.send("GET", Some(&self.prefix.join(key)), &q, &headers, vec![])?;
        if response.status == 416 {
            return Ok(Vec::new()); // range starts past the end
        }
        Ok(check(response, &format!("get {key}"))?.body)
    }

    fn stat(&mut self, key: &str) -> Result<ObjectMeta> {
        let response = self.client.send("HEAD", Some(&self.prefix.join(key)), &[], &[], vec![])?;
        let response = check(response, &format!("stat {key}"))?;
        let size = response.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(ObjectMeta {
            key: key.to_string(),
            size,
            modified_ms: response.header("last-modified").map(time::http_date_ms).unwrap_or(0),
            version: response.header("x-amz-version-id").filter(|v| *v != "null").map(String::from),
        })
    }

    fn list(
        &mut self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<ListPage> {
        let max = page_size.clamp(1, MAX_PAGE_SIZE).to_string();
        let full = self.prefix.join(prefix);
        let mut q = query(&[("list-type", "2"), ("prefix", &full), ("max-keys", &max)]);
        if let Some(t) = &page_token {
            q.push(("continuation-token".into(), t.clone()));
        }
        let response =
            check(self.client.send("GET", None, &q, &[], vec![])?, &format!("list {prefix}"))?;
        let result: xml::ListBucketResult = xml::parse(&response.body, "list")?;
        let objects = result
            .contents
            .into_iter()
            .map(|o| ObjectMeta {
                key: self.prefix.strip(&o.key).to_string(),
                size: o.size,
                modified_ms: time::rfc3339_ms(&o.last_modified),
                version: None,
            })
            .collect();
        let next_token = if result.is_truncated { result.next_continuation_token } else { None };
        Ok(ListPage { objects, next_token })
    }

    fn delete(&mut self, key: &str) -> Result<()> {
        let response =
            self.client.send("DELETE", Some(&self.prefix.join(key)), &[], &[], vec![])?;
        // Deleting an absent key succeeds (a missing bucket does not).
        if response.status == 404 && error_code(&response) != "NoSuchBucket" {
            return Ok(());
        }
        check(response, &format!("delete {key}"))?;
        Ok(())
    }

    fn start_multipart(&mut self, key: &str) -> Result<Box<dyn MultipartUpload>> {
        Ok(Box::new(S3Upload::start(self.client.clone(), self.prefix.join(key), &self.sse)?))
    }

    fn list_versions(
        &mut self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<VersionPage> {
        let max = page_size.clamp(1, MAX_PAGE_SIZE).to_string();
        let full = self.prefix.join(prefix);
        // SeaweedFS wants `versions=` with an empty value, which AWS accepts too.
        let mut q = query(&[("versions", ""), ("prefix", &full), ("max-keys", &max)]);
        if let Some(token) = &page_token {
            let (key_marker, version_marker): (String, String) = serde_json::from_str(token)
                .map_err(|_| Error::InvalidInput("list-versions: malformed page token".into()))?;
            q.push(("key-marker".into(), key_marker));
            if !version_marker.is_empty() {
                q.push(("version-id-marker".into(), version_marker));
            }
        }
        let response = check(
            self.client.send("GET", None, &q, &[], vec![])?,
            &format!("list versions {prefix}"),
        )?;
        let result: xml::ListVersionsResult = xml::parse(&response.body, "list versions")?;
        let convert = |v: xml::Version, deleted: bool| ObjectVersion {
            key: self.prefix.strip(&v.key).to_string(),
            version: v.version_id,
            size: v.size,
            modified_ms: time::rfc3339_ms(&v.last_modified),
            deleted,
            latest: v.is_latest,
        };
        let mut versions: Vec<ObjectVersion> =
            result.version.into_iter().map(|v| convert(v, false)).collect();
        versions.extend(result.delete_marker.into_iter().map(|v| convert(v, true)));
        // Versions and markers arrive interleaved; restore key order, newest first.
        versions.sort_by(|a, b| a.key.cmp(&b.key).then(b.modified_ms.cmp(&a.modified_ms)));
        let next_token = match (result.is_truncated, result.next_key_marker) {
            (true, Some(key)) => Some(
                serde_json::to_string(&(key, result.next_version_id_marker.unwrap_or_default()))
                    .map_err(|e| Error::Internal(e.to_string()))?,
            ),
            _ => None,
        };
        Ok(VersionPage { versions, next_token })
    }
}

vdr_plugin_sdk::export_storage_plugin!(S3Store, "vdr-plugin.toml");
