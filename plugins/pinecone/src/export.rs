//! Export a namespace: `GET /vectors/list` pages of ids (sorted, 100 at a
//! time), each fetched with `GET /vectors/fetch`. The resume token is the
//! pagination token of the current list page and how many of its ids were
//! already returned (`{"page": token|null, "skip": n}`), so a resumed export
//! lists that page again and skips exactly those.

use serde_json::{Value, json};
use vdr_plugin_sdk::prelude::*;

use crate::client::Client;
use crate::records;
use vdr_plugin_sdk::http::percent_encode;

const PAGE: u32 = 100;

pub struct ListCursor {
    client: Client,
    namespace: String,
    page_token: Option<String>,
    ids: Vec<String>,
    next_token: Option<String>,
    skip: usize,
    loaded: bool,
    started: bool,
}

impl ListCursor {
    pub fn open(client: Client, namespace: &str, resume_from: Option<String>) -> Result<Self> {
        let (page_token, skip) = match &resume_from {
            None => (None, 0),
            Some(t) => {
                let v: Value = serde_json::from_str(t)
                    .map_err(|_| Error::InvalidInput(format!("bad pinecone resume token {t:?}")))?;
                let page = v.get("page").and_then(Value::as_str).map(str::to_string);
                (page, v.get("skip").and_then(Value::as_u64).unwrap_or(0) as usize)
            }
        };
        let mut cursor = ListCursor {
            client,
            namespace: namespace.to_string(),
            page_token,
            ids: vec![],
            next_token: None,
            skip,
            loaded: false,
            started: resume_from.is_some(),
        };
        cursor.load()?;
        Ok(cursor)
    }

    fn load(&mut self) -> Result<()> {
        let mut path =
            format!("/vectors/list?namespace={}&limit={PAGE}", percent_encode(&self.namespace));
        if let Some(t) = &self.page_token {
            path.push_str(&format!("&paginationToken={}", percent_encode(t)));
        }
        let page = self.client.call("GET", &path, None, "list vector ids")?;
        self.ids = page
            .get("vectors")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|v| v.get("id")?.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        self.next_token =
            page.pointer("/pagination/next").and_then(Value::as_str).map(str::to_string);
        self.loaded = true;
        Ok(())
    }

    fn fetch(&self, ids: &[String]) -> Result<Vec<Point>> {
        let mut path = format!("/vectors/fetch?namespace={}", percent_encode(&self.namespace));
        for id in ids {
            path.push_str(&format!("&ids={}", percent_encode(id)));
        }
        let r = self.client.call("GET", &path, None, "fetch vectors")?;
        let found = r.get("vectors").and_then(Value::as_object).cloned().unwrap_or_default();
        // In list order; ids deleted since the listing are left out.
        ids.iter().filter_map(|id| found.get(id)).map(records::from_json).collect()
    }
}

impl ExportCursor for ListCursor {
    fn next_batch(&mut self, max: u32) -> Result<Vec<Point>> {
        self.started = true;
        loop {
            if self.skip < self.ids.len() {
                let end = (self.skip + max.max(1) as usize).min(self.ids.len());
                let ids = self.ids[self.skip..end].to_vec();
                self.skip = end;
                let points = self.fetch(&ids)?;
                if points.is_empty() {
                    continue; // all deleted meanwhile: go on
                }
                return Ok(points);
            }
            let Some(next) = self.next_token.take() else { return Ok(vec![]) };
            self.page_token = Some(next);
            self.skip = 0;
            self.load()?;
        }
    }

    fn resume_token(&self) -> Option<String> {
        self.started.then(|| json!({ "page": self.page_token, "skip": self.skip }).to_string())
    }
}
