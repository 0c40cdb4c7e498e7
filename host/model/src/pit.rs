//! A read-only view of a versioned store as it stood at one instant: the
//! ransomware backstop. Objects deleted or overwritten after that instant are
//! read from their older versions (S3 versions, GCS generations).
//!
//! For each key the view holds the newest version modified at or before the
//! instant; a delete marker there means the key was absent. Providers that
//! keep no delete markers (GCS) show every older generation, so objects
//! deleted before the instant reappear — harmless for restores, which only
//! read what snapshots reference.

use crate::{
    ByteRange, Error, ErrorKind, ListPage, MultipartUpload, ObjectMeta, ObjectStore, ObjectVersion,
    Result, VersionPage,
};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// `inner` as it stood at `at_ms` (Unix milliseconds). Writes are refused.
pub struct PointInTimeStore<S> {
    inner: S,
    at_ms: u64,
    /// Views of listed prefixes, key -> object. The past does not change, so
    /// each prefix is listed once (a check lists `data/` page by page).
    views: Mutex<HashMap<String, Arc<BTreeMap<String, ObjectMeta>>>>,
}

impl<S: ObjectStore> PointInTimeStore<S> {
    pub fn new(inner: S, at_ms: u64) -> Self {
        PointInTimeStore { inner, at_ms, views: Mutex::new(HashMap::new()) }
    }

    pub fn at_ms(&self) -> u64 {
        self.at_ms
    }

    /// Every key under `prefix` as of the instant, from the version listing.
    fn view(&self, prefix: &str) -> Result<Arc<BTreeMap<String, ObjectMeta>>> {
        if let Some(v) = self.views.lock().unwrap().get(prefix) {
            return Ok(v.clone());
        }
        let mut versions = Vec::new();
        let mut token = None;
        loop {
            let page = self.inner.list_versions(prefix, token, 1000).map_err(|e| {
                if e.kind == ErrorKind::Unsupported {
                    Error::unsupported(format!(
                        "{} keeps no object versions, so it has no point-in-time view: {}",
                        self.inner.describe(),
                        e.message
                    ))
                } else {
                    e
                }
            })?;
            versions.extend(page.versions);
            match page.next_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        let view = Arc::new(as_of(versions, self.at_ms));
        self.views.lock().unwrap().insert(prefix.to_string(), view.clone());
        Ok(view)
    }

    /// The object `key` as of the instant, from a listed prefix covering it
    /// when there is one (no extra request), else from its own versions.
    fn resolve(&self, key: &str) -> Result<ObjectMeta> {
        let covering: Option<Arc<BTreeMap<String, ObjectMeta>>> = self
            .views
            .lock()
            .unwrap()
            .iter()
            .find(|(p, _)| key.starts_with(p.as_str()))
            .map(|(_, v)| v.clone());
        let found = match covering {
            Some(v) => v.get(key).cloned(),
            None => {
                let mut versions = Vec::new();
                let mut token = None;
                loop {
                    let page = self.inner.list_versions(key, token, 1000)?;
                    versions.extend(page.versions.into_iter().filter(|v| v.key == key));
                    match page.next_token {
                        Some(t) => token = Some(t),
                        None => break,
                    }
                }
                as_of(versions, self.at_ms).remove(key)
            }
        };
        found.ok_or_else(|| {
            Error::not_found(format!("{key} did not exist at the point in time {}", self.at_ms))
        })
    }
}

/// For each key the newest version modified at or before `at_ms`; keys whose
/// newest such version is a delete marker are left out. Equal times (S3 has
/// second precision) go to the version marked latest, else the one listed
/// first (S3 lists newest first).
pub fn as_of(versions: Vec<ObjectVersion>, at_ms: u64) -> BTreeMap<String, ObjectMeta> {
    let mut newest: BTreeMap<String, ObjectVersion> = BTreeMap::new();
    for v in versions.into_iter().filter(|v| v.modified_ms <= at_ms) {
        match newest.get(&v.key) {
            Some(n) if n.modified_ms > v.modified_ms => {}
            Some(n) if n.modified_ms == v.modified_ms && !v.latest => {}
            _ => {
                newest.insert(v.key.clone(), v);
            }
        }
    }
    newest
        .into_iter()
        .filter(|(_, v)| !v.deleted)
        .map(|(k, v)| {
            let meta = ObjectMeta {
                key: k.clone(),
                size: v.size,
                modified_ms: v.modified_ms,
                version: Some(v.version),
            };
            (k, meta)
        })
        .collect()
}

/// What a restore or check of the past opens: the view at `at_ms`, with the
/// shared locks those operations take kept in memory (see `scratch`).
pub fn repository_view(
    inner: Arc<dyn ObjectStore>,
    at_ms: u64,
    locks_prefix: &str,
) -> Arc<dyn ObjectStore> {
    Arc::new(crate::scratch::ScratchOverlay::new(PointInTimeStore::new(inner, at_ms), locks_prefix))
}

fn read_only(what: &str, key: &str) -> Error {
    Error::new(
        ErrorKind::Denied,
        format!("the point-in-time view is read-only: {what} {key} refused"),
    )
}

impl<S: ObjectStore> ObjectStore for PointInTimeStore<S> {
    fn describe(&self) -> String {
        format!("{} as of {} ms", self.inner.describe(), self.at_ms)
    }
    fn put(&self, key: &str, _data: &[u8], _if_absent: bool) -> Result<()> {
        Err(read_only("put", key))
    }
    fn get(&self, key: &str, range: Option<ByteRange>, version: Option<&str>) -> Result<Vec<u8>> {
        match version {
            Some(v) => self.inner.get(key, range, Some(v)),
            None => {
                let meta = self.resolve(key)?;
                self.inner.get(key, range, meta.version.as_deref())
            }
        }
    }
    fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.resolve(key)
    }
    fn list(&self, prefix: &str, page_token: Option<String>, page_size: u32) -> Result<ListPage> {
        // The token is the last key returned: pages come from the cached view.
        let view = self.view(prefix)?;
        let size = page_size.max(1) as usize;
        let rest: Box<dyn Iterator<Item = &ObjectMeta>> = match &page_token {
            Some(after) => Box::new(
                view.range::<str, _>((
                    std::ops::Bound::Excluded(after.as_str()),
                    std::ops::Bound::Unbounded,
                ))
                .map(|(_, m)| m),
            ),
            None => Box::new(view.values()),
        };
        let objects: Vec<ObjectMeta> = rest.take(size + 1).cloned().collect();
        let more = objects.len() > size;
        let objects: Vec<ObjectMeta> = objects.into_iter().take(size).collect();
        let next_token = if more { objects.last().map(|m| m.key.clone()) } else { None };
        Ok(ListPage { objects, next_token })
    }
    fn delete(&self, key: &str) -> Result<()> {
        Err(read_only("delete", key))
    }
    fn start_multipart<'a>(&'a self, key: &str) -> Result<Box<dyn MultipartUpload + 'a>> {
        Err(read_only("upload", key))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn v(key: &str, version: &str, ms: u64, deleted: bool) -> ObjectVersion {
        ObjectVersion {
            key: key.into(),
            version: version.into(),
            size: 1,
            modified_ms: ms,
            deleted,
            latest: false,
        }
    }

    #[test]
    fn newest_version_at_or_before_the_instant_wins() {
        let view = as_of(
            vec![
                v("a", "a3", 300, false),
                v("a", "a2", 200, false),
                v("a", "a1", 100, false),
                v("b", "b2", 250, true),
                v("b", "b1", 100, false),
                v("c", "c1", 150, true),
                v("d", "d1", 400, false),
            ],
            250,
        );
        assert_eq!(view["a"].version.as_deref(), Some("a2"));
        assert!(!view.contains_key("b"), "a delete marker at the instant hides b");
        assert!(!view.contains_key("c"));
        assert!(!view.contains_key("d"), "created after the instant");
        let view = as_of(vec![v("b", "b2", 250, true), v("b", "b1", 100, false)], 249);
        assert_eq!(view["b"].version.as_deref(), Some("b1"));
    }
}
