//! Qdrant's REST API: every call goes through here, so that the `api-key`
//! header and the error mapping are applied once.

use serde_json::Value;
use vdr_plugin_sdk::http::{Request, Response, percent_encode};
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

    /// `/collections/{name}` with the name percent-encoded.
    pub fn collection_path(name: &str) -> String {
        format!("/collections/{}", percent_encode(name))
    }

    pub fn request(&self, method: &str, path: &str) -> Request {
        let r = Request::new(method, format!("{}{path}", self.base));
        match &self.api_key {
            Some(k) => r.header("api-key", k.as_str()),
            None => r,
        }
    }

    /// Send a JSON request and return the response's `result`.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        context: &str,
    ) -> Result<Value> {
        let mut r = self.request(method, path);
        if let Some(b) = body {
            r = r.json(b)?;
        }
        let response = check(r.send()?, context)?;
        let mut v: Value = response.json()?;
        Ok(v.get_mut("result").map(Value::take).unwrap_or(Value::Null))
    }

    /// The server's version from `GET /` ("" when it does not say).
    pub fn version(&self) -> Result<String> {
        let response = check(self.request("GET", "/").send()?, "server version")?;
        let v: Value = response.json()?;
        Ok(v.get("version").and_then(Value::as_str).unwrap_or("").to_string())
    }
}

/// The response if 2xx, else the contract error with Qdrant's own message
/// (`{"status":{"error":"..."}}`) rather than the raw body.
pub fn check(response: Response, context: &str) -> Result<Response> {
    response.error_for_status_at(context, &["/status/error"])
}
