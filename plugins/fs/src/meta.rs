//! Object metadata from file metadata.

use std::fs::Metadata;
use std::time::UNIX_EPOCH;

use vdr_plugin_sdk::ObjectMeta;

pub fn object_meta(key: String, meta: &Metadata) -> ObjectMeta {
    let modified_ms = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64);
    ObjectMeta { key, size: meta.len(), modified_ms, version: None }
}
