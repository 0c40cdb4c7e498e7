//! Authorised requests to one container, and Blob service errors as
//! contract errors.

use serde::Deserialize;
use vdr_plugin_sdk::http::{Request, Response};
use vdr_plugin_sdk::{Error, Result};

use crate::sharedkey::SharedKey;
use vdr_plugin_sdk::http::{percent_encode, percent_encode_path};
use vdr_plugin_sdk::time;

/// Blob service REST version sent with every request.
const API_VERSION: &str = "2021-08-06";

pub enum Auth {
    SharedKey(SharedKey),
    /// A SAS token (without the leading `?`), appended to every URL.
    Sas(String),
}

pub struct Client {
    /// Endpoint without a trailing `/` (`https://acct.blob.core.windows.net`
    /// or Azurite's `http://127.0.0.1:10000/devstoreaccount1`).
    pub endpoint: String,
    /// The endpoint's own path (`/devstoreaccount1` for Azurite, else empty).
    pub base_path: String,
    pub container: String,
    pub auth: Auth,
}

pub fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl Client {
    /// Send a request for the container (`blob: None`) or a blob. Any
    /// status is returned; see [`check`].
    pub fn send(
        &self,
        method: &str,
        blob: Option<&str>,
        query: &[(String, String)],
        mut headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<Response> {
        let mut path = format!("/{}", percent_encode(&self.container));
        if let Some(b) = blob {
            path = format!("{path}/{}", percent_encode_path(b));
        }
        headers.push(("x-ms-date".into(), time::http_date(time::now_secs())));
        headers.push(("x-ms-version".into(), API_VERSION.into()));
        let mut params: Vec<String> =
            query.iter().map(|(k, v)| format!("{k}={}", percent_encode(v))).collect();
        match &self.auth {
            Auth::SharedKey(key) => {
                let full_path = format!("{}{path}", self.base_path);
                let auth = key.authorization(method, &full_path, query, &headers, body.len());
                headers.push(("authorization".into(), auth));
            }
            Auth::Sas(token) => params.push(token.clone()),
        }
        let mut url = format!("{}{path}", self.endpoint);
        if !params.is_empty() {
            url = format!("{url}?{}", params.join("&"));
        }
        let mut request = Request::new(method, url).body(body);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        request.send()
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct AzureError {
    code: String,
    message: String,
}

/// The Azure error code of a failed response (from the body, or the
/// `x-ms-error-code` header for HEAD).
pub fn error_code(response: &Response) -> String {
    parse_error(response).code
}

fn parse_error(response: &Response) -> AzureError {
    let mut e: AzureError = std::str::from_utf8(&response.body)
        .ok()
        .and_then(|t| quick_xml::de::from_str(t.trim_start_matches('\u{feff}')).ok())
        .unwrap_or_default();
    if e.code.is_empty() {
        e.code = response.header("x-ms-error-code").unwrap_or_default().to_string();
    }
    // Azure appends request ids and times on new lines: keep the first.
    e.message = e.message.lines().next().unwrap_or_default().to_string();
    e
}

/// The response if 2xx, else its contract error.
pub fn check(response: Response, context: &str) -> Result<Response> {
    if response.is_success() {
        return Ok(response);
    }
    let status = response.status;
    let e = parse_error(&response);
    let message = if e.code.is_empty() {
        format!("{context}: HTTP {status}")
    } else {
        format!("{context}: HTTP {status} {}: {}", e.code, e.message)
    };
    Err(match (status, e.code.as_str()) {
        (_, "ServerBusy" | "OperationTimedOut" | "InternalError") => Error::Unavailable(message),
        (408 | 429 | 500..=599, _) => Error::Unavailable(message),
        (_, "AuthenticationFailed") => Error::Unauthorized(format!(
            "{message} (check the account key, e.g. AZURE_STORAGE_KEY, or the SAS token)"
        )),
        (401 | 403, _) => Error::Unauthorized(message),
        (404, _) => Error::NotFound(message),
        (409 | 412, _) => Error::AlreadyExists(message),
        _ => Error::InvalidInput(message),
    })
}
