//! Signed requests to one bucket, and S3 error responses as contract errors.

use vdr_plugin_sdk::http::{Request, Response};
use vdr_plugin_sdk::{Error, Result};

use crate::encode::canonical_query;
use crate::sigv4::{self, Credentials, Signable, UNSIGNED_PAYLOAD};
use crate::time;
use crate::xml::{self, S3Error};
use vdr_plugin_sdk::http::{percent_encode, percent_encode_path};

pub struct Client {
    https: bool,
    /// `host[:port]` of the endpoint.
    authority: String,
    /// Path of the endpoint itself (usually empty), without a trailing `/`.
    base_path: String,
    pub bucket: String,
    pub path_style: bool,
    pub region: String,
    pub creds: Credentials,
}

impl Client {
    pub fn new(
        endpoint: &str,
        bucket: String,
        path_style: Option<bool>,
        region: String,
        creds: Credentials,
    ) -> Result<Self> {
        let (scheme, rest) = endpoint.split_once("://").ok_or_else(|| {
            Error::InvalidInput(format!("s3 endpoint {endpoint:?} is not an http(s) URL"))
        })?;
        let https = match scheme {
            "https" => true,
            "http" => false,
            _ => {
                return Err(Error::InvalidInput(format!(
                    "s3 endpoint {endpoint:?}: use http or https"
                )));
            }
        };
        let (authority, base_path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        // AWS itself prefers virtual-hosted buckets; custom endpoints (MinIO,
        // SeaweedFS, Ceph) usually only route path-style ones.
        let path_style = path_style.unwrap_or(!authority.ends_with("amazonaws.com"));
        if !path_style && bucket.contains('.') && https {
            return Err(Error::InvalidInput(
                "bucket names with dots need path-style=true over https (TLS certificates)".into(),
            ));
        }
        Ok(Client {
            https,
            authority: authority.to_ascii_lowercase(),
            base_path: base_path.to_string(),
            bucket,
            path_style,
            region,
            creds,
        })
    }

    /// Host and encoded path of the bucket (`key: None`) or an object.
    fn locate(&self, key: Option<&str>) -> (String, String) {
        let key = key.map(percent_encode_path);
        if self.path_style {
            let mut path = format!("{}/{}", self.base_path, percent_encode(&self.bucket));
            if let Some(k) = key {
                path = format!("{path}/{k}");
            }
            (self.authority.clone(), path)
        } else {
            let host = format!("{}.{}", self.bucket, self.authority);
            (host, format!("{}/{}", self.base_path, key.unwrap_or_default()))
        }
    }

    /// Send a signed request for the bucket (`key: None`) or an object. Any
    /// status is returned; see [`check`].
    pub fn send(
        &self,
        method: &str,
        key: Option<&str>,
        query: &[(String, String)],
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<Response> {
        let (host, path) = self.locate(key);
        // Over plain http the body hash is what protects the data; over TLS
        // S3 accepts UNSIGNED-PAYLOAD and we skip hashing large packs.
        let payload_hash =
            if self.https { UNSIGNED_PAYLOAD.to_string() } else { sigv4::sha256_hex(&body) };
        let (amz_date, _) = time::amz_date(time::now_secs());
        let signable = Signable {
            method,
            host: &host,
            path: &path,
            query,
            headers,
            payload_hash: &payload_hash,
        };
        let auth = sigv4::sign(&signable, &self.creds, &self.region, &amz_date);
        let query = canonical_query(query);
        let scheme = if self.https { "https" } else { "http" };
        let url = if query.is_empty() {
            format!("{scheme}://{host}{path}")
        } else {
            format!("{scheme}://{host}{path}?{query}")
        };
        let mut request = Request::new(method, url).body(body);
        for (k, v) in headers.iter().chain(auth.iter()) {
            request = request.header(k.clone(), v.clone());
        }
        request.send()
    }
}

/// Query parameters from `(&str, &str)` pairs.
pub fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The S3 error code of a failed response ("" when the body has none, as
/// for HEAD).
pub fn error_code(response: &Response) -> String {
    xml::parse::<S3Error>(&response.body, "error").map(|e| e.code).unwrap_or_default()
}

/// The response if 2xx, else its contract error.
pub fn check(response: Response, context: &str) -> Result<Response> {
    if response.is_success() { Ok(response) } else { Err(error_of(&response, context)) }
}

/// The contract error for a failed S3 response. Only the S3 code and
/// message are quoted (never request headers, never the secret).
pub fn error_of(response: &Response, context: &str) -> Error {
    let status = response.status;
    let e = xml::parse::<S3Error>(&response.body, "error").unwrap_or_default();
    let detail = if e.code.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status} {}: {}", e.code, e.message)
    };
    let message = format!("{context}: {detail}");
    match (status, e.code.as_str()) {
        (_, "SlowDown" | "RequestTimeout" | "InternalError" | "ServiceUnavailable") => {
            Error::Unavailable(message)
        }
        (408 | 429 | 500..=599, _) => Error::Unavailable(message),
        (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch") => Error::Unauthorized(format!(
            "{message} (check the access key id and secret access key, e.g. \
             AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)"
        )),
        (401 | 403, "") => Error::Unauthorized(format!(
            "{message}: access denied (HEAD responses carry no reason: check the credentials \
             and the bucket policy)"
        )),
        (401 | 403, _) => Error::Unauthorized(message),
        (404, _) => Error::NotFound(message),
        (409, "ConditionalRequestConflict") => Error::Unavailable(message),
        (409 | 412, _) => Error::AlreadyExists(message),
        _ => Error::InvalidInput(message),
    }
}
