//! Export with Weaviate's cursor API: `GET /v1/objects?class=C&after=ID`,
//! objects in id order. The resume token is the last id returned.

use serde_json::Value;
use vdr_plugin_sdk::prelude::*;

use crate::client::Client;
use crate::objects;
use vdr_plugin_sdk::http::percent_encode;

/// Largest page asked for (Weaviate's default QUERY_MAXIMUM_RESULTS is 10000).
const MAX_PAGE: u32 = 1000;

pub struct ObjectCursor {
    client: Client,
    class: String,
    tenant: Option<String>,
    after: Option<String>,
    done: bool,
}

impl ObjectCursor {
    pub fn new(client: Client, class: &str, tenant: Option<String>, after: Option<String>) -> Self {
        ObjectCursor { client, class: class.to_string(), tenant, after, done: false }
    }

    /// One page of at most `limit` objects after `after`.
    pub fn page(&self, limit: u32) -> Result<Vec<Point>> {
        let mut path = format!(
            "/v1/objects?class={}&limit={limit}&include=vector",
            percent_encode(&self.class)
        );
        if let Some(a) = &self.after {
            path.push_str(&format!("&after={}", percent_encode(a)));
        }
        if let Some(t) = &self.tenant {
            path.push_str(&format!("&tenant={}", percent_encode(t)));
        }
        let r = self.client.call("GET", &path, None, "list objects")?;
        r.get("objects")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(objects::from_json).collect())
            .unwrap_or(Ok(vec![]))
    }
}

impl ExportCursor for ObjectCursor {
    fn next_batch(&mut self, max: u32) -> Result<Vec<Point>> {
        if self.done || max == 0 {
            return Ok(vec![]);
        }
        let limit = max.min(MAX_PAGE);
        let batch = self.page(limit)?;
        self.done = (batch.len() as u32) < limit;
        if let Some(PointId::Str(last)) = batch.last().map(|p| &p.id) {
            self.after = Some(last.clone());
        }
        Ok(batch)
    }

    fn resume_token(&self) -> Option<String> {
        self.after.clone()
    }
}
