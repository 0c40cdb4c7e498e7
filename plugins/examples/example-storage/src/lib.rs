//! An in-memory storage plugin: the smallest complete example of a vdr
//! storage plugin. Objects live in a `BTreeMap` (so listing is in key order
//! for free) and vanish with the plugin instance, which makes it useful for
//! tests and as a template, never for real backups.
//!
//! Build: `cargo build --target wasm32-wasip2 --release` in `plugins/`.

use std::collections::BTreeMap;
use std::ops::Bound;

use vdr_plugin_sdk::prelude::*;

/// The plugin's state, built by `configure` and kept by the SDK.
struct MemoryStore {
    objects: BTreeMap<String, Vec<u8>>,
}

impl StoragePlugin for MemoryStore {
    fn configure(_config: Config) -> Result<Self> {
        Ok(MemoryStore { objects: BTreeMap::new() })
    }

    fn put(&mut self, key: &str, data: Vec<u8>, if_absent: bool) -> Result<()> {
        if if_absent && self.objects.contains_key(key) {
            return Err(Error::AlreadyExists(format!("object {key}")));
        }
        self.objects.insert(key.to_string(), data);
        Ok(())
    }

    fn get(
        &mut self,
        key: &str,
        range: Option<ByteRange>,
        version: Option<String>,
    ) -> Result<Vec<u8>> {
        if version.is_some() {
            return unsupported("object versions");
        }
        let data = self.objects.get(key).ok_or_else(|| Error::NotFound(format!("object {key}")))?;
        Ok(match range {
            None => data.clone(),
            Some(r) => {
                // A range past the end is clamped, like HTTP range reads.
                let start = (r.start as usize).min(data.len());
                let end = start.saturating_add(r.length as usize).min(data.len());
                data[start..end].to_vec()
            }
        })
    }

    fn stat(&mut self, key: &str) -> Result<ObjectMeta> {
        let data = self.objects.get(key).ok_or_else(|| Error::NotFound(format!("object {key}")))?;
        Ok(meta(key, data))
    }

    fn list(
        &mut self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<ListPage> {
        // The page token is the last key of the previous page.
        let start = match &page_token {
            Some(last) => Bound::Excluded(last.clone()),
            None => Bound::Included(prefix.to_string()),
        };
        let page_size = page_size.max(1) as usize;
        let mut matching = self
            .objects
            .range((start, Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| meta(k, v));
        let objects: Vec<ObjectMeta> = matching.by_ref().take(page_size).collect();
        let more = matching.next().is_some();
        let next_token = if more { objects.last().map(|o| o.key.clone()) } else { None };
        Ok(ListPage { objects, next_token })
    }

    fn delete(&mut self, key: &str) -> Result<()> {
        self.objects.remove(key);
        Ok(())
    }
}

fn meta(key: &str, data: &[u8]) -> ObjectMeta {
    ObjectMeta { key: key.to_string(), size: data.len() as u64, modified_ms: 0, version: None }
}

vdr_plugin_sdk::export_storage_plugin!(MemoryStore, "vdr-plugin.toml");
