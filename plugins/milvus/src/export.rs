//! The export cursor. Milvus caps `offset + limit` at 16384 and v1 `query`
//! does not sort, so a page of "the next N keys" cannot be asked for.
//! Instead the cursor lists primary keys only, in key windows it knows are
//! complete: a query `pk > lo and pk <= hi` that returns fewer rows than the
//! cap returned *every* key in the window, whatever order Milvus used. When a
//! window comes back full, `hi` moves down to the median key of what came
//! back (strictly smaller, so this ends) and the window is asked again. Keys
//! of a complete window are sorted, fetched in batches with `get`, and the
//! resume token is the last key exported.

use std::collections::VecDeque;

use serde_json::{Value, json};
use vdr_plugin_sdk::prelude::*;

use crate::client::{Api, Op, pk_of};
use crate::records;
use crate::schema::Layout;

/// Milvus' largest `offset + limit`.
pub const QUERY_CAP: usize = 16384;
/// Keys per `get` (an `id in [...]` expression).
const GET_CHUNK: usize = 1000;

pub struct MilvusCursor {
    pub api: Api,
    pub name: String,
    pub layout: Layout,
    /// Every key up to here has been listed (`None`: nothing yet).
    pub listed_to: Option<i64>,
    /// No keys beyond `listed_to` exist.
    pub listed_all: bool,
    /// Listed keys not yet exported, ascending.
    pub keys: VecDeque<i64>,
    pub last: Option<i64>,
}

impl MilvusCursor {
    pub fn new(api: Api, name: &str, layout: Layout, resume_after: Option<i64>) -> Self {
        MilvusCursor {
            api,
            name: name.to_string(),
            layout,
            listed_to: resume_after,
            listed_all: false,
            keys: VecDeque::new(),
            last: resume_after,
        }
    }

    /// List the next complete window of keys.
    fn list_more(&mut self) -> Result<()> {
        let pk = &self.layout.pk;
        let mut hi: Option<i64> = None;
        loop {
            let mut conds = Vec::new();
            if let Some(lo) = self.listed_to {
                conds.push(format!("{pk} > {lo}"));
            }
            if let Some(hi) = hi {
                conds.push(format!("{pk} <= {hi}"));
            }
            if conds.is_empty() {
                // Every Int64 key: v1 needs some filter.
                conds.push(format!("({pk} >= 0 or {pk} < 0)"));
            }
            let body = json!({
                "collectionName": self.name, "filter": conds.join(" and "),
                "outputFields": [pk], "limit": QUERY_CAP,
            });
            let rows = self.api.call(Op::Query, body, &format!("list keys of {}", self.name))?;
            let mut keys: Vec<i64> = rows
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| pk_of(&r[pk.as_str()]))
                .collect();
            keys.sort_unstable();
            if keys.len() < QUERY_CAP {
                match hi {
                    Some(hi) => self.listed_to = Some(hi),
                    None => self.listed_all = true,
                }
                self.keys.extend(keys);
                return Ok(());
            }
            hi = Some(keys[keys.len() / 2]);
        }
    }

    fn fetch_rows(&mut self, keys: &[i64]) -> Result<Vec<(i64, Point)>> {
        let body = json!({
            "collectionName": self.name, "id": keys, "outputFields": ["*"],
        });
        let rows = self.api.call(Op::Get, body, &format!("export {}", self.name))?;
        let mut points = Vec::with_capacity(keys.len());
        for row in rows.as_array().cloned().unwrap_or_default() {
            points.push(records::point(row, &self.layout)?);
        }
        Ok(points)
    }
}

impl ExportCursor for MilvusCursor {
    fn next_batch(&mut self, max: u32) -> Result<Vec<Point>> {
        let max = max.max(1) as usize;
        while self.keys.len() < max && !self.listed_all {
            self.list_more()?;
        }
        let take: Vec<i64> = self.keys.drain(..max.min(self.keys.len())).collect();
        let mut rows = Vec::with_capacity(take.len());
        for chunk in take.chunks(GET_CHUNK) {
            rows.extend(self.fetch_rows(chunk)?);
        }
        rows.sort_unstable_by_key(|r| r.0);
        if let Some(&last) = take.last() {
            self.last = Some(last);
        }
        Ok(rows.into_iter().map(|r| r.1).collect())
    }

    fn resume_token(&self) -> Option<String> {
        self.last.map(|k| k.to_string())
    }
}

pub fn parse_token(token: &str) -> Result<i64> {
    token
        .parse()
        .map_err(|_| Error::InvalidInput(format!("not a Milvus export resume token: {token:?}")))
}

/// Keys in a `get`/`query` answer.
pub fn keys_of(rows: &Value, pk: &str) -> Vec<i64> {
    rows.as_array().into_iter().flatten().filter_map(|r| pk_of(&r[pk])).collect()
}
