//! Weaviate's REST API: the bearer API key and the error mapping in one place.
//! Weaviate reports errors as `{"error": [{"message": ...}]}`, and an
//! existing class as HTTP 422 "... already exists" (mapped to already-exists).

use serde_json::Value;
use vdr_plugin_sdk::http::{Request, Response, prefix_error, status_error};
use vdr_plugin_sdk::prelude::*;

#[derive(Clone)]
pub struct Client {
    base: String,
    api_key: Option<String>,
}

impl Client {
    pub fn new(base: &str, api_key: Option<String>) -> Self {
        Client { base: base.trim_end_matches('/').to_string(), api_key }
    }

    /// The raw response (any status).
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Response> {
        let mut r = Request::new(method, format!("{}{path}", self.base));
        if let Some(k) = &self.api_key {
            r = r.bearer(k);
        }
        if let Some(b) = body {
            r = r.json(b)?;
        }
        r.send()
    }

    /// The JSON body of a 2xx response (`null` when empty), else the error.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        context: &str,
    ) -> Result<Value> {
        let response = check(self.send(method, path, body)?, context)?;
        if response.body.is_empty() { Ok(Value::Null) } else { response.json() }
    }
}

/// The response if 2xx, else the contract error with Weaviate's first
/// error message (a 422 "already exists" is `already-exists`).
pub fn check(response: Response, context: &str) -> Result<Response> {
    if response.is_success() {
        return Ok(response);
    }
    let text = response.message_at(&["/error/0/message"]);
    let e = if response.status == 422 && text.contains("already exists") {
        Error::AlreadyExists(text)
    } else {
        status_error(response.status, &text)
    };
    Err(prefix_error(context, e))
}
