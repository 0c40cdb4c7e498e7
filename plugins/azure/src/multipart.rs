//! Block uploads: each part is a block (Put Block), committed in part order
//! by Put Block List. Uncommitted blocks expire by themselves (Azure drops
//! them after a week), so `abort` only forgets them.

use std::rc::Rc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use vdr_plugin_sdk::{MultipartUpload, Result};

use crate::client::{Client, check, query};
use crate::xml;

pub struct BlockUpload {
    client: Rc<Client>,
    blob: String,
    blocks: Vec<(u32, String)>,
    if_absent: bool,
}

impl BlockUpload {
    pub fn new(client: Rc<Client>, blob: String, if_absent: bool) -> Self {
        BlockUpload { client, blob, blocks: Vec::new(), if_absent }
    }
}

/// Block ids must all have the same length within a blob.
fn block_id(number: u32) -> String {
    STANDARD.encode(format!("vdr-{number:010}"))
}

impl MultipartUpload for BlockUpload {
    fn put_part(&mut self, number: u32, data: Vec<u8>) -> Result<()> {
        let id = block_id(number);
        let q = query(&[("comp", "block"), ("blockid", &id)]);
        let response = self.client.send("PUT", Some(&self.blob), &q, Vec::new(), data)?;
        check(response, &format!("uploading block {number} of {}", self.blob))?;
        self.blocks.retain(|(n, _)| *n != number);
        self.blocks.push((number, id));
        Ok(())
    }

    fn complete(&mut self) -> Result<()> {
        self.blocks.sort_by_key(|(n, _)| *n);
        let ids: Vec<String> = self.blocks.iter().map(|(_, id)| id.clone()).collect();
        let mut headers = vec![("content-type".to_string(), "application/xml".to_string())];
        if self.if_absent {
            headers.push(("if-none-match".into(), "*".into()));
        }
        let body = xml::block_list(&ids).into_bytes();
        let q = query(&[("comp", "blocklist")]);
        let response = self.client.send("PUT", Some(&self.blob), &q, headers, body)?;
        check(response, &format!("committing the blocks of {}", self.blob))?;
        Ok(())
    }

    fn abort(&mut self) -> Result<()> {
        self.blocks.clear();
        Ok(())
    }
}
