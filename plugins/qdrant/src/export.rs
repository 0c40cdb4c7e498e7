//! Export through `POST /collections/{c}/points/scroll`, in Qdrant's own
//! order (integer ids, then UUIDs). The resume token is the JSON text of
//! the page's `next_page_offset` (the id of the first point not yet
//! returned), or `null` once the scroll has ended.

use serde_json::{Value, json};
use vdr_plugin_sdk::prelude::*;

use crate::client::Client;
use crate::points;

/// Largest page asked for in one request.
const MAX_PAGE: u32 = 1000;

pub struct ScrollCursor {
    client: Client,
    path: String,
    /// Offset of the next page; `Value::Null` at the start.
    offset: Value,
    done: bool,
    token: Option<String>,
}

impl ScrollCursor {
    pub fn open(client: Client, collection: &str, resume_from: Option<String>) -> Result<Self> {
        let path = format!("{}/points/scroll", Client::collection_path(collection));
        // Fail now (not-found) rather than at the first batch.
        client.call("GET", &Client::collection_path(collection), None, "export")?;
        let (offset, done) = match &resume_from {
            None => (Value::Null, false),
            Some(t) => {
                let v: Value = serde_json::from_str(t)
                    .map_err(|_| Error::InvalidInput(format!("bad qdrant resume token {t:?}")))?;
                let done = v.is_null();
                (v, done)
            }
        };
        Ok(ScrollCursor { client, path, offset, done, token: resume_from })
    }
}

impl ExportCursor for ScrollCursor {
    fn next_batch(&mut self, max: u32) -> Result<Vec<Point>> {
        if self.done || max == 0 {
            return Ok(vec![]);
        }
        let mut body = json!({
            "limit": max.min(MAX_PAGE),
            "with_payload": true,
            "with_vector": true,
        });
        if !self.offset.is_null() {
            body["offset"] = self.offset.clone();
        }
        let page = self.client.call("POST", &self.path, Some(&body), "scroll")?;
        let batch = page
            .get("points")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Internal(format!("scroll without points: {page}")))?
            .iter()
            .map(points::from_json)
            .collect::<Result<Vec<_>>>()?;
        let next = page.get("next_page_offset").cloned().unwrap_or(Value::Null);
        self.done = next.is_null();
        self.token = Some(next.to_string());
        self.offset = next;
        Ok(batch)
    }

    fn resume_token(&self) -> Option<String> {
        self.token.clone()
    }
}
