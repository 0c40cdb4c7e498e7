//! Milvus REST: v1 (`/v1/vector/...`, Milvus 2.3) or v2 (`/v2/vectordb/...`,
//! Milvus 2.4+), detected on first use. Both answer errors as HTTP 200 with
//! a non-success `code` in the body; [`classify`] maps those codes to the
//! contract's errors.

use serde_json::{Value, json};
use vdr_plugin_sdk::http::{Request, percent_encode, prefix_error};
use vdr_plugin_sdk::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// The operations the plugin uses, each with its path per API version.
#[derive(Clone, Copy)]
pub enum Op {
    List,
    Describe,
    Create,
    Drop,
    Insert,
    Query,
    Get,
    Delete,
    Search,
}

impl Op {
    fn path(self, v: Version) -> &'static str {
        use Op::*;
        match (v, self) {
            (Version::V1, List) => "/v1/vector/collections",
            (Version::V1, Describe) => "/v1/vector/collections/describe",
            (Version::V1, Create) => "/v1/vector/collections/create",
            (Version::V1, Drop) => "/v1/vector/collections/drop",
            (Version::V1, Insert) => "/v1/vector/insert",
            (Version::V1, Query) => "/v1/vector/query",
            (Version::V1, Get) => "/v1/vector/get",
            (Version::V1, Delete) => "/v1/vector/delete",
            (Version::V1, Search) => "/v1/vector/search",
            (Version::V2, List) => "/v2/vectordb/collections/list",
            (Version::V2, Describe) => "/v2/vectordb/collections/describe",
            (Version::V2, Create) => "/v2/vectordb/collections/create",
            (Version::V2, Drop) => "/v2/vectordb/collections/drop",
            (Version::V2, Insert) => "/v2/vectordb/entities/insert",
            (Version::V2, Query) => "/v2/vectordb/entities/query",
            (Version::V2, Get) => "/v2/vectordb/entities/get",
            (Version::V2, Delete) => "/v2/vectordb/entities/delete",
            (Version::V2, Search) => "/v2/vectordb/entities/search",
        }
    }
}

#[derive(Clone)]
pub struct Api {
    endpoint: String,
    token: Option<String>,
    version: Option<Version>,
    forced: Option<Version>,
}

impl Api {
    pub fn new(endpoint: &str, token: Option<String>, forced: Option<Version>) -> Api {
        Api { endpoint: endpoint.trim_end_matches('/').into(), token, version: forced, forced }
    }

    /// The server's REST version: v2 when `/v2/vectordb` answers, else v1.
    pub fn version(&mut self) -> Result<Version> {
        if let Some(v) = self.version.or(self.forced) {
            return Ok(v);
        }
        let url = format!("{}{}", self.endpoint, Op::List.path(Version::V2));
        let response = self.authed(Request::post(url).json(&json!({}))?).send()?;
        let v = match response.status {
            404 => Version::V1,
            _ if response.json::<Value>().is_ok_and(|b| b.get("code").is_some()) => Version::V2,
            _ => Version::V1,
        };
        self.version = Some(v);
        Ok(v)
    }

    fn authed(&self, request: Request) -> Request {
        match &self.token {
            Some(t) => request.bearer(t),
            None => request,
        }
    }

    /// Call `op` with a JSON body (v1 `describe` and `list` are GETs with the
    /// collection in the query) and return the envelope's `data`.
    pub fn call(&mut self, op: Op, body: Value, context: &str) -> Result<Value> {
        let v = self.version()?;
        let url = format!("{}{}", self.endpoint, op.path(v));
        let request = match (v, op) {
            (Version::V1, Op::List) => Request::get(url),
            (Version::V1, Op::Describe) => {
                let name = body["collectionName"].as_str().unwrap_or_default();
                Request::get(format!("{url}?collectionName={}", percent_encode(name)))
            }
            _ => Request::post(url).json(&body)?,
        };
        let response = self.authed(request).send().map_err(|e| prefix_error(context, e))?;
        let response = response.error_for_status(context)?;
        let mut envelope: Value = response.json()?;
        let code = envelope.get("code").and_then(Value::as_i64).unwrap_or(-1);
        if code == 200 || code == 0 {
            return Ok(envelope.get_mut("data").map(Value::take).unwrap_or(Value::Null));
        }
        let message = envelope.get("message").and_then(Value::as_str).unwrap_or("(no message)");
        Err(prefix_error(context, classify(code, message)))
    }
}

/// The contract error for a Milvus error code (the codes of Milvus 2.3's
/// `merr` package and the REST layer), with the message as Milvus wrote it.
pub fn classify(code: i64, message: &str) -> Error {
    let m = format!("Milvus error {code}: {message}");
    let lower = message.to_lowercase();
    match code {
        // collection not found
        100 => Error::NotFound(m),
        // REST layer: missing or wrong credentials
        1800 => Error::Unauthorized(m),
        _ if lower.contains("permission") || lower.contains("auth") => Error::Unauthorized(m),
        _ if lower.contains("not found") || lower.contains("can't find") => Error::NotFound(m),
        _ if lower.contains("duplicate collection") || lower.contains("already exist") => {
            Error::AlreadyExists(m)
        }
        _ if lower.contains("not loaded")
            || lower.contains("not ready")
            || lower.contains("timeout")
            || lower.contains("rate limit") =>
        {
            Error::Unavailable(m)
        }
        // invalid parameters (merr 1100, REST 1801-1806) and anything the
        // message calls invalid
        1100 | 1801..=1806 => Error::InvalidInput(m),
        _ if lower.contains("invalid") || lower.contains("not allowed") => Error::InvalidInput(m),
        _ => Error::Internal(m),
    }
}

/// A primary key as Milvus returns it (Int64 keys come back as strings).
pub fn pk_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A string literal for a Milvus boolean expression.
pub fn literal(s: &str) -> String {
    serde_json::to_string(s).expect("strings encode")
}
