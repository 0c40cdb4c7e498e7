//! Qdrant's native collection snapshots: created on the server, streamed out
//! in HTTP ranges, and recovered by multipart upload.

use serde_json::Value;
use vdr_plugin_sdk::prelude::*;

use crate::client::{Client, check};
use vdr_plugin_sdk::http::percent_encode;

/// Largest range asked for in one request (bounded by the host's response cap).
const MAX_RANGE: u32 = 8 << 20;

pub struct SnapshotReader {
    client: Client,
    /// `/collections/{c}/snapshots/{name}`.
    path: String,
    size: u64,
    offset: u64,
    deleted: bool,
}

impl SnapshotReader {
    /// `POST /collections/{c}/snapshots?wait=true`, then read it by ranges.
    pub fn create(client: Client, collection: &str) -> Result<Self> {
        let base = format!("{}/snapshots", Client::collection_path(collection));
        let snap = client.call("POST", &format!("{base}?wait=true"), None, "create snapshot")?;
        let name = snap
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::Internal(format!("snapshot without a name: {snap}")))?;
        let size = snap.get("size").and_then(Value::as_u64).unwrap_or(0);
        let path = format!("{base}/{}", percent_encode(name));
        Ok(SnapshotReader { client, path, size, offset: 0, deleted: false })
    }

    /// The snapshot is a server-side file: remove it once streamed.
    fn delete(&mut self) {
        if !self.deleted {
            self.deleted = true;
            let _ = self.client.request("DELETE", &self.path).send();
        }
    }
}

impl ByteReader for SnapshotReader {
    fn read(&mut self, max: u32) -> Result<Vec<u8>> {
        if self.offset >= self.size || max == 0 {
            self.delete();
            return Ok(vec![]);
        }
        let want = u64::from(max.min(MAX_RANGE)).min(self.size - self.offset);
        let last = self.offset + want - 1;
        let response = self
            .client
            .request("GET", &self.path)
            .header("range", format!("bytes={}-{last}", self.offset))
            .send()?;
        let response = check(response, "download snapshot")?;
        let mut bytes = response.body;
        if response.status == 200 {
            // A server that ignores Range sends the whole file.
            let start = usize::try_from(self.offset).unwrap_or(usize::MAX).min(bytes.len());
            bytes = bytes[start..].to_vec();
            bytes.truncate(want as usize);
        }
        if bytes.is_empty() {
            return Err(Error::Internal(format!(
                "snapshot ended at {} of {} bytes",
                self.offset, self.size
            )));
        }
        self.offset += bytes.len() as u64;
        Ok(bytes)
    }
}

impl Drop for SnapshotReader {
    fn drop(&mut self) {
        self.delete();
    }
}

/// Buffers the snapshot (the upload is one multipart request) and uploads it
/// on `finish`.
pub struct SnapshotWriter {
    client: Client,
    collection: String,
    data: Vec<u8>,
}

impl SnapshotWriter {
    pub fn new(client: Client, collection: &str, size: u64) -> Self {
        let data = Vec::with_capacity(usize::try_from(size).unwrap_or(0).min(1 << 30));
        SnapshotWriter { client, collection: collection.to_string(), data }
    }
}

impl ByteWriter for SnapshotWriter {
    fn write(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.data.extend_from_slice(&bytes);
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        let boundary = "vdr-qdrant-snapshot-7d3f9a1c5e";
        let mut body = Vec::with_capacity(self.data.len() + 256);
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"snapshot\"; \
                 filename=\"{}.snapshot\"\r\nContent-Type: application/octet-stream\r\n\r\n",
                self.collection
            )
            .as_bytes(),
        );
        body.append(&mut self.data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let path = format!(
            "{}/snapshots/upload?priority=snapshot&wait=true",
            Client::collection_path(&self.collection)
        );
        let response = self
            .client
            .request("POST", &path)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()?;
        check(response, "upload snapshot")?;
        Ok(())
    }
}
