//! Waiting out Milvus' read-after-write lag (~1-2 s on 2.3) without blind
//! sleeps: `flush` polls, with backoff and a deadline, until queries see the
//! last key of every batch this instance inserted and none of the keys it
//! deleted. Milvus makes writes visible in timestamp order per channel, so
//! seeing a batch's last key means the batch is visible.

use std::time::{Duration, Instant};

use serde_json::json;
use vdr_plugin_sdk::prelude::*;

use crate::client::{Api, Op};
use crate::export::keys_of;

const DEADLINE: Duration = Duration::from_secs(120);
const FIRST_WAIT: Duration = Duration::from_millis(25);
// Polls are one cheap query: a short cap keeps the overshoot past the
// moment of visibility small.
const LONGEST_WAIT: Duration = Duration::from_millis(200);

/// Writes of one collection not yet known to be visible.
#[derive(Default)]
pub struct Pending {
    pub inserted: Vec<i64>,
    pub deleted: Vec<i64>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.inserted.is_empty() && self.deleted.is_empty()
    }
}

pub fn wait_visible(api: &mut Api, name: &str, pk: &str, pending: &Pending) -> Result<()> {
    let start = Instant::now();
    let mut wait = FIRST_WAIT;
    loop {
        if visible(api, name, pk, pending)? {
            return Ok(());
        }
        if start.elapsed() > DEADLINE {
            return Err(Error::Unavailable(format!(
                "flush {name}: writes still not visible after {} s",
                DEADLINE.as_secs()
            )));
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(LONGEST_WAIT);
    }
}

fn visible(api: &mut Api, name: &str, pk: &str, pending: &Pending) -> Result<bool> {
    let count = |api: &mut Api, keys: &[i64]| -> Result<usize> {
        let mut seen = 0;
        for chunk in keys.chunks(1000) {
            let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
            let body = json!({
                "collectionName": name, "filter": format!("{pk} in [{}]", list.join(",")),
                "outputFields": [pk], "limit": chunk.len(),
            });
            seen += keys_of(&api.call(Op::Query, body, &format!("flush {name}"))?, pk).len();
        }
        Ok(seen)
    };
    Ok(count(api, &pending.inserted)? == pending.inserted.len()
        && count(api, &pending.deleted)? == 0)
}
