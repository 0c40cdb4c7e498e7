//! Multipart uploads as one resumable upload session. GCS wants every chunk
//! but the last to be a multiple of 256 KiB and the chunks in order, so
//! parts must arrive in order and any remainder is held back until the next
//! part (or `complete`).

use std::rc::Rc;

use vdr_plugin_sdk::http::Request;
use vdr_plugin_sdk::{Error, MultipartUpload, Result};

use crate::client::{Client, check};
use crate::encode::query;

const CHUNK: usize = 256 * 1024;

pub struct GcsUpload {
    client: Rc<Client>,
    key: String,
    session: String,
    /// Bytes the server has accepted.
    sent: u64,
    /// Bytes received but not yet sent (less than one chunk after a part).
    pending: Vec<u8>,
    next_part: u32,
}

impl GcsUpload {
    pub fn start(client: Rc<Client>, name: &str, key: &str, if_absent: bool) -> Result<Self> {
        let context = format!("starting resumable upload of {key}");
        let mut q = vec![("uploadType", "resumable"), ("name", name)];
        if if_absent {
            q.push(("ifGenerationMatch", "0"));
        }
        let url = format!("{}{}", client.upload_url(), query(&q));
        let request = Request::post(url).header("content-type", "application/json").body("{}");
        let response = check(client.send(request)?, &context)?;
        let session = response
            .header("location")
            .ok_or_else(|| Error::Internal(format!("{context}: no session URI in the response")))?
            .to_string();
        Ok(GcsUpload {
            client,
            key: key.to_string(),
            session,
            sent: 0,
            pending: Vec::new(),
            next_part: 1,
        })
    }

    /// PUT `data` at the current offset; `total` is known only for the last chunk.
    fn send_chunk(&mut self, data: Vec<u8>, total: Option<u64>) -> Result<()> {
        let len = data.len() as u64;
        let total_text = total.map(|t| t.to_string()).unwrap_or_else(|| "*".into());
        let range = if len == 0 {
            format!("bytes */{total_text}")
        } else {
            format!("bytes {}-{}/{total_text}", self.sent, self.sent + len - 1)
        };
        let request = Request::put(&self.session).header("content-range", range).body(data);
        let response = self.client.send(request)?;
        // 308 "Resume Incomplete" acknowledges an intermediate chunk.
        if response.status != 308 {
            check(response, &format!("uploading {}", self.key))?;
        }
        self.sent += len;
        Ok(())
    }
}

impl MultipartUpload for GcsUpload {
    fn put_part(&mut self, number: u32, data: Vec<u8>) -> Result<()> {
        if number != self.next_part {
            return Err(Error::InvalidInput(format!(
                "upload of {}: gcs takes parts in order; expected part {}, got {number}",
                self.key, self.next_part
            )));
        }
        self.pending.extend_from_slice(&data);
        let ready = self.pending.len() / CHUNK * CHUNK;
        if ready > 0 {
            let rest = self.pending.split_off(ready);
            let chunk = std::mem::replace(&mut self.pending, rest);
            self.send_chunk(chunk, None)?;
        }
        self.next_part += 1;
        Ok(())
    }

    fn complete(&mut self) -> Result<()> {
        let last = std::mem::take(&mut self.pending);
        let total = self.sent + last.len() as u64;
        self.send_chunk(last, Some(total))
    }

    fn abort(&mut self) -> Result<()> {
        // GCS answers 499 to a cancelled session; any answer will do.
        let _ = self.client.send(Request::delete(&self.session))?;
        Ok(())
    }
}
