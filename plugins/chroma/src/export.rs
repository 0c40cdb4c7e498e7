//! The export cursor: `get` pages by `limit`/`offset` in Chroma's storage
//! order. The resume token is the number of records already returned, so a
//! resumed export is exact as long as the collection is not written to in
//! between (a backup reads a quiescent collection).

use serde_json::json;
use vdr_plugin_sdk::prelude::*;

use crate::client::Api;
use crate::records::{GetResponse, INCLUDE};

pub struct ChromaCursor {
    pub api: Api,
    pub collection_id: String,
    pub name: String,
    pub offset: u64,
    pub started: bool,
}

impl ExportCursor for ChromaCursor {
    fn next_batch(&mut self, max: u32) -> Result<Vec<Point>> {
        let body = json!({ "limit": max.max(1), "offset": self.offset, "include": INCLUDE });
        let url = self.api.db_url(&format!("collections/{}/get", self.collection_id));
        let page: GetResponse = self.api.post(url, &body, &format!("export {}", self.name))?;
        self.offset += page.len() as u64;
        self.started = true;
        page.into_points()
    }

    fn resume_token(&self) -> Option<String> {
        self.started.then(|| self.offset.to_string())
    }
}

/// The offset a resume token names.
pub fn parse_token(token: &str) -> Result<u64> {
    token
        .parse()
        .map_err(|_| Error::InvalidInput(format!("not a Chroma export resume token: {token:?}")))
}
