//! Plugin options (from the `s3://bucket/prefix?k=v` URL or the config file)
//! and credentials (from the host's secrets).

use serde::Deserialize;
use vdr_plugin_sdk::{Config, Error, Result};

use crate::sigv4::Credentials;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default = "default_region")]
    pub region: String,
    /// `true`: `endpoint/bucket/key`; `false`: `bucket.endpoint/key`.
    /// Default: virtual-hosted on AWS, path-style elsewhere.
    #[serde(default, deserialize_with = "vdr_plugin_sdk::config::optional_flag")]
    pub path_style: Option<bool>,
    /// Server-side encryption: `aes256` (SSE-S3) or `aws:kms` (SSE-KMS).
    #[serde(default)]
    pub sse: Option<String>,
    #[serde(default)]
    pub sse_kms_key_id: Option<String>,
    /// Create the bucket at configure if it does not exist.
    #[serde(default, deserialize_with = "vdr_plugin_sdk::config::optional_flag")]
    pub create_bucket: Option<bool>,
    /// Turn bucket versioning on at configure (idempotent).
    #[serde(default, deserialize_with = "vdr_plugin_sdk::config::optional_flag")]
    pub enable_versioning: Option<bool>,
}

fn default_region() -> String {
    "us-east-1".into()
}

impl Options {
    /// Headers that request server-side encryption on writes.
    pub fn sse_headers(&self) -> Result<Vec<(String, String)>> {
        let mut headers = Vec::new();
        match self.sse.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("none") => {
                if self.sse_kms_key_id.is_some() {
                    return Err(Error::InvalidInput("sse-kms-key-id needs sse=aws:kms".into()));
                }
            }
            Some("aes256") => {
                headers.push(("x-amz-server-side-encryption".into(), "AES256".into()))
            }
            Some("aws:kms") | Some("kms") => {
                headers.push(("x-amz-server-side-encryption".into(), "aws:kms".into()));
                if let Some(id) = &self.sse_kms_key_id {
                    headers
                        .push(("x-amz-server-side-encryption-aws-kms-key-id".into(), id.clone()));
                }
            }
            Some(other) => {
                return Err(Error::InvalidInput(format!(
                    "sse={other:?}: expected aes256 or aws:kms"
                )));
            }
        }
        Ok(headers)
    }
}

pub fn credentials(config: &Config) -> Result<Credentials> {
    let (Some(id), Some(secret)) =
        (config.secret("access-key-id"), config.secret("secret-access-key"))
    else {
        return Err(Error::Unauthorized(
            "s3: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and \
             AWS_SESSION_TOKEN for temporary credentials), or the secrets access-key-id / \
             secret-access-key in the config file"
                .into(),
        ));
    };
    Ok(Credentials {
        access_key_id: id.to_string(),
        secret_access_key: secret.to_string(),
        session_token: config.secret("session-token").filter(|t| !t.is_empty()).map(String::from),
    })
}
