//! `vdr_model::ObjectStore` over a 0.1.0 storage plugin: a pool of instances
//! so that threads can upload and download in parallel.

use super::convert::wit;
use super::st;
use crate::instance::{Config, Factory, Live, World, is_poisoning};
use crate::state::State;
use std::sync::{Arc, Mutex};
use vdr_model::{
    ByteRange, Error, ListPage, MultipartUpload, ObjectMeta, ObjectStore, ObjectVersion, Result,
    VersionPage,
};
use wasmtime::Store;
use wasmtime::component::ResourceAny;

impl World for st::StoragePlugin {
    type Pre = st::StoragePluginPre<State>;

    fn instantiate(pre: &Self::Pre, store: &mut Store<State>) -> wasmtime::Result<Self> {
        pre.instantiate(store)
    }

    fn manifest(&self, store: &mut Store<State>) -> wasmtime::Result<String> {
        self.vdr_plugin_plugin().call_manifest(store)
    }

    fn configure(
        &self,
        store: &mut Store<State>,
        c: &Config,
    ) -> wasmtime::Result<Result<(), Error>> {
        let config = super::db::vdr::plugin::types::PluginConfig {
            endpoint: c.endpoint.clone(),
            options: c.options.clone(),
            secrets: c.secrets.clone(),
        };
        wit(self.vdr_plugin_plugin().call_configure(store, &config))
    }
}

type StLive = Live<st::StoragePlugin>;

pub struct PluginStore {
    factory: Arc<Factory<st::StoragePlugin>>,
    idle: Mutex<Vec<StLive>>,
    describe: String,
}

fn meta(m: st::exports::vdr::plugin::storage::ObjectMeta) -> ObjectMeta {
    ObjectMeta { key: m.key, size: m.size, modified_ms: m.modified_ms, version: m.version }
}

impl PluginStore {
    /// A pool with one configured instance ready (so configuration errors
    /// surface at open time, not at the first call).
    pub fn new(factory: Arc<Factory<st::StoragePlugin>>, describe: String) -> Result<PluginStore> {
        let first = factory.instantiate()?;
        Ok(PluginStore { factory, idle: Mutex::new(vec![first]), describe })
    }

    fn take(&self) -> Result<StLive> {
        let idle = self.idle.lock().unwrap().pop();
        match idle {
            Some(live) => Ok(live),
            None => self.factory.instantiate(),
        }
    }

    fn give_back(&self, live: StLive) {
        self.idle.lock().unwrap().push(live);
    }

    fn call<R>(
        &self,
        what: &str,
        f: impl FnOnce(&mut Store<State>, &st::StoragePlugin) -> wasmtime::Result<Result<R, Error>>,
    ) -> Result<R> {
        let mut live = self.take()?;
        let result = self.factory.call(&mut live, what, f);
        match &result {
            Err(e) if is_poisoning(e) => {} // discard the instance
            _ => self.give_back(live),
        }
        result
    }
}

impl ObjectStore for PluginStore {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn put(&self, key: &str, data: &[u8], if_absent: bool) -> Result<()> {
        self.call("put", |s, b| wit(b.vdr_plugin_storage().call_put(s, key, data, if_absent)))
    }

    fn get(&self, key: &str, range: Option<ByteRange>, version: Option<&str>) -> Result<Vec<u8>> {
        let range = range.map(|r| st::exports::vdr::plugin::storage::ByteRange {
            start: r.start,
            length: r.length,
        });
        let data =
            self.call("get", |s, b| wit(b.vdr_plugin_storage().call_get(s, key, range, version)))?;
        if let Some(r) = range
            && data.len() as u64 > r.length
        {
            return Err(Error::new(
                vdr_model::ErrorKind::Protocol,
                format!("get {key}: asked for {} bytes, got {}", r.length, data.len()),
            )
            .with_origin(self.factory.label()));
        }
        Ok(data)
    }

    fn stat(&self, key: &str) -> Result<ObjectMeta> {
        self.call("stat", |s, b| wit(b.vdr_plugin_storage().call_stat(s, key)).map(|r| r.map(meta)))
    }

    fn list(&self, prefix: &str, page_token: Option<String>, page_size: u32) -> Result<ListPage> {
        let page = self.call("list", |s, b| {
            wit(b.vdr_plugin_storage().call_list(s, prefix, page_token.as_deref(), page_size))
        })?;
        Ok(ListPage {
            objects: page.objects.into_iter().map(meta).collect(),
            next_token: page.next_token,
        })
    }

    fn delete(&self, key: &str) -> Result<()> {
        self.call("delete", |s, b| wit(b.vdr_plugin_storage().call_delete(s, key)))
    }

    fn start_multipart<'a>(&'a self, key: &str) -> Result<Box<dyn MultipartUpload + 'a>> {
        let mut live = self.take()?;
        let result = self.factory.call(&mut live, "start-multipart", |s, b| {
            wit(b.vdr_plugin_storage().call_start_multipart(s, key))
        });
        match result {
            Ok(handle) => Ok(Box::new(Upload { store: self, live: Some(live), handle })),
            Err(e) => {
                if !is_poisoning(&e) {
                    self.give_back(live);
                }
                Err(e)
            }
        }
    }

    fn list_versions(
        &self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<VersionPage> {
        let page = self.call("list-versions", |s, b| {
            wit(b.vdr_plugin_storage().call_list_versions(
                s,
                prefix,
                page_token.as_deref(),
                page_size,
            ))
        })?;
        Ok(VersionPage {
            versions: page
                .versions
                .into_iter()
                .map(|v| ObjectVersion {
                    key: v.key,
                    version: v.version,
                    size: v.size,
                    modified_ms: v.modified_ms,
                    deleted: v.deleted,
                    latest: v.latest,
                })
                .collect(),
            next_token: page.next_token,
        })
    }
}

/// A multipart upload pinned to the instance that started it.
struct Upload<'a> {
    store: &'a PluginStore,
    live: Option<StLive>,
    handle: ResourceAny,
}

impl Upload<'_> {
    fn call<R>(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut Store<State>, &st::StoragePlugin) -> wasmtime::Result<Result<R, Error>>,
    ) -> Result<R> {
        let live = self
            .live
            .as_mut()
            .ok_or_else(|| Error::internal("multipart upload used after a failure"))?;
        let r = self.store.factory.call(live, what, f);
        if let Err(e) = &r
            && is_poisoning(e)
        {
            self.live = None;
        }
        r
    }

    fn finish(mut self: Box<Self>, what: &str, complete: bool) -> Result<()> {
        let h = self.handle;
        let up = |s: &mut Store<State>, b: &st::StoragePlugin| {
            let m = b.vdr_plugin_storage().multipart_upload();
            wit(if complete { m.call_complete(s, h) } else { m.call_abort(s, h) })
        };
        let r = self.call(what, up);
        if let Some(mut live) = self.live.take() {
            let _ = h.resource_drop(&mut live.store);
            self.store.give_back(live);
        }
        r
    }
}

impl MultipartUpload for Upload<'_> {
    fn put_part(&mut self, number: u32, data: &[u8]) -> Result<()> {
        let h = self.handle;
        self.call("multipart-upload.put-part", |s, b| {
            wit(b.vdr_plugin_storage().multipart_upload().call_put_part(s, h, number, data))
        })
    }

    fn complete(self: Box<Self>) -> Result<()> {
        self.finish("multipart-upload.complete", true)
    }

    fn abort(self: Box<Self>) -> Result<()> {
        self.finish("multipart-upload.abort", false)
    }
}

impl Drop for Upload<'_> {
    fn drop(&mut self) {
        if let Some(mut live) = self.live.take() {
            let _ = self.handle.resource_drop(&mut live.store);
            self.store.give_back(live);
        }
    }
}
