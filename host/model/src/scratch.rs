//! Keys under one prefix kept in memory, in front of another store. A
//! point-in-time view is read-only, yet restores and checks take a shared
//! lock (`locks/`): those lock objects live here for the life of the process
//! and never reach the bucket. Locks recorded in the past are hidden — no one
//! writes to the past, so none of them can conflict.

use crate::{
    ByteRange, Error, ListPage, MultipartUpload, ObjectMeta, ObjectStore, Result, VersionPage,
};
use std::collections::BTreeMap;
use std::sync::Mutex;

pub struct ScratchOverlay<S> {
    inner: S,
    prefix: String,
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl<S: ObjectStore> ScratchOverlay<S> {
    /// Keys starting with `prefix` (e.g. `locks/`) stay in memory.
    pub fn new(inner: S, prefix: &str) -> Self {
        ScratchOverlay { inner, prefix: prefix.into(), objects: Mutex::new(BTreeMap::new()) }
    }

    fn mine(&self, key: &str) -> bool {
        key.starts_with(&self.prefix)
    }

    fn meta(key: &str, data: &[u8]) -> ObjectMeta {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        ObjectMeta {
            key: key.into(),
            size: data.len() as u64,
            modified_ms: now.as_millis() as u64,
            version: None,
        }
    }
}

impl<S: ObjectStore> ObjectStore for ScratchOverlay<S> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn put(&self, key: &str, data: &[u8], if_absent: bool) -> Result<()> {
        if !self.mine(key) {
            return self.inner.put(key, data, if_absent);
        }
        let mut objects = self.objects.lock().unwrap();
        if if_absent && objects.contains_key(key) {
            return Err(Error::new(crate::ErrorKind::AlreadyExists, format!("{key} exists")));
        }
        objects.insert(key.into(), data.to_vec());
        Ok(())
    }
    fn get(&self, key: &str, range: Option<ByteRange>, version: Option<&str>) -> Result<Vec<u8>> {
        if !self.mine(key) {
            return self.inner.get(key, range, version);
        }
        let objects = self.objects.lock().unwrap();
        let data = objects.get(key).ok_or_else(|| Error::not_found(format!("{key} not found")))?;
        Ok(match range {
            Some(r) => {
                let start = (r.start as usize).min(data.len());
                let end = start.saturating_add(r.length as usize).min(data.len());
                data[start..end].to_vec()
            }
            None => data.clone(),
        })
    }
    fn stat(&self, key: &str) -> Result<ObjectMeta> {
        if !self.mine(key) {
            return self.inner.stat(key);
        }
        let objects = self.objects.lock().unwrap();
        let data = objects.get(key).ok_or_else(|| Error::not_found(format!("{key} not found")))?;
        Ok(Self::meta(key, data))
    }
    fn list(&self, prefix: &str, page_token: Option<String>, page_size: u32) -> Result<ListPage> {
        if !self.mine(prefix) {
            // Callers list `locks/` itself, never a prefix spanning it.
            return self.inner.list(prefix, page_token, page_size);
        }
        let objects = self.objects.lock().unwrap();
        let objects = objects
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, d)| Self::meta(k, d))
            .collect();
        Ok(ListPage { objects, next_token: None })
    }
    fn delete(&self, key: &str) -> Result<()> {
        if !self.mine(key) {
            return self.inner.delete(key);
        }
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }
    fn start_multipart<'a>(&'a self, key: &str) -> Result<Box<dyn MultipartUpload + 'a>> {
        self.inner.start_multipart(key)
    }
    fn list_versions(
        &self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<VersionPage> {
        self.inner.list_versions(prefix, page_token, page_size)
    }
}
