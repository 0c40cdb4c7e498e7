//! Pinecone's REST APIs (data plane at the index host, control plane
//! optionally at the same or a granted origin): the `Api-Key` and
//! `X-Pinecone-Api-Version` headers and the error mapping, in one place.

use serde_json::Value;
use vdr_plugin_sdk::http::Request;
use vdr_plugin_sdk::prelude::*;

/// The API version this plugin is written against.
pub const API_VERSION: &str = "2025-10";

#[derive(Clone)]
pub struct Client {
    pub base: String,
    api_key: Option<String>,
}

impl Client {
    pub fn new(base: &str, api_key: Option<String>) -> Self {
        let base = base.trim_end_matches('/');
        // Pinecone hands out index hosts without a scheme.
        let base = if base.contains("://") { base.to_string() } else { format!("https://{base}") };
        Client { base, api_key }
    }

    /// Send a request; the JSON body of a 2xx response.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        context: &str,
    ) -> Result<Value> {
        let mut r = Request::new(method, format!("{}{path}", self.base))
            .header("X-Pinecone-Api-Version", API_VERSION);
        if let Some(k) = &self.api_key {
            r = r.header("Api-Key", k.as_str());
        }
        if let Some(b) = body {
            r = r.json(b)?;
        }
        // Data plane: {"code", "message"}; control plane: {"error": {"code", "message"}}.
        let response = r.send()?.error_for_status_at(context, &["/message", "/error/message"])?;
        if response.body.is_empty() { Ok(Value::Null) } else { response.json() }
    }
}
