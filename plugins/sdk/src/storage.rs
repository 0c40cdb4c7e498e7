//! Storage plugins: a flat namespace of immutable objects.

use std::cell::RefCell;
use std::marker::PhantomData;

use crate::bindings::storage::exports::vdr::plugin::{plugin, storage as wit};
use crate::bindings::storage::vdr::plugin::types::PluginConfig;
use crate::state::{self, Manifest};
use crate::{ByteRange, Config, Error, ListPage, ObjectMeta, Result, VersionPage, unsupported};

/// Object names under a configured prefix: key `k` is stored as
/// `prefix/k`, and listings give keys back without it.
#[derive(Debug, Clone, Default)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    /// From an option value; surrounding `/` are ignored, empty means none.
    pub fn new(prefix: &str) -> KeyPrefix {
        let prefix = prefix.trim_matches('/');
        KeyPrefix(if prefix.is_empty() { String::new() } else { format!("{prefix}/") })
    }

    /// The stored name of `key`.
    pub fn join(&self, key: &str) -> String {
        format!("{}{key}", self.0)
    }

    /// The key of a stored name.
    pub fn strip<'a>(&self, name: &'a str) -> &'a str {
        name.strip_prefix(self.0.as_str()).unwrap_or(name)
    }
}

/// A storage backend. Keys are slash-separated and opaque; the host only
/// ever sends ciphertext. Every method but `configure` defaults to
/// `unsupported`.
pub trait StoragePlugin: Sized + 'static {
    /// Build the plugin from its configuration; called once, before any other
    /// call. Errors are shown to the operator verbatim.
    fn configure(config: Config) -> Result<Self>;

    /// Write an object. With `if_absent`, fail with `already-exists` when the
    /// key exists (atomically where the store can).
    fn put(&mut self, key: &str, data: Vec<u8>, if_absent: bool) -> Result<()> {
        let _ = (key, data, if_absent);
        unsupported("put")
    }

    /// Read an object, a byte range of it, or one of its old versions.
    /// `not-found` if absent.
    fn get(
        &mut self,
        key: &str,
        range: Option<ByteRange>,
        version: Option<String>,
    ) -> Result<Vec<u8>> {
        let _ = (key, range, version);
        unsupported("get")
    }

    /// Size and modification time of an object; `not-found` if absent.
    fn stat(&mut self, key: &str) -> Result<ObjectMeta> {
        let _ = key;
        unsupported("stat")
    }

    /// Objects whose keys start with `prefix`, in key order, at most
    /// `page_size` per page, continuing after `page_token`.
    fn list(
        &mut self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<ListPage> {
        let _ = (prefix, page_token, page_size);
        unsupported("list")
    }

    /// Delete an object; deleting an absent key succeeds.
    fn delete(&mut self, key: &str) -> Result<()> {
        let _ = key;
        unsupported("delete")
    }

    /// Begin a multipart upload of `key`.
    fn start_multipart(&mut self, key: &str) -> Result<Box<dyn MultipartUpload>> {
        let _ = key;
        unsupported("multipart upload")
    }

    /// Every version of objects under `prefix` (stores that keep versions).
    fn list_versions(
        &mut self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<VersionPage> {
        let _ = (prefix, page_token, page_size);
        unsupported("list-versions")
    }
}

/// One multipart upload in progress (a WIT resource owned by the host).
pub trait MultipartUpload: 'static {
    /// Store part `number` (1-based, in order).
    fn put_part(&mut self, number: u32, data: Vec<u8>) -> Result<()>;
    /// Assemble the parts into the object.
    fn complete(&mut self) -> Result<()>;
    /// Abandon the upload and free its parts.
    fn abort(&mut self) -> Result<()>;
}

/// Implements the generated WIT traits for any [`StoragePlugin`].
#[doc(hidden)]
pub struct StorageAdapter<T>(PhantomData<T>);

impl<T: StoragePlugin + Manifest> plugin::Guest for StorageAdapter<T> {
    fn manifest() -> String {
        T::TEXT.to_string()
    }

    fn configure(config: PluginConfig) -> Result<()> {
        state::install(T::configure(Config::try_from(config)?)?);
        Ok(())
    }
}

impl<T: StoragePlugin> wit::Guest for StorageAdapter<T> {
    type MultipartUpload = UploadResource;

    fn put(key: String, data: Vec<u8>, if_absent: bool) -> Result<()> {
        state::with_plugin(|p: &mut T| p.put(&key, data, if_absent))
    }

    fn get(key: String, range: Option<ByteRange>, version: Option<String>) -> Result<Vec<u8>> {
        state::with_plugin(|p: &mut T| p.get(&key, range, version))
    }

    fn stat(key: String) -> Result<ObjectMeta> {
        state::with_plugin(|p: &mut T| p.stat(&key))
    }

    fn list(prefix: String, page_token: Option<String>, page_size: u32) -> Result<ListPage> {
        state::with_plugin(|p: &mut T| p.list(&prefix, page_token, page_size))
    }

    fn delete(key: String) -> Result<()> {
        state::with_plugin(|p: &mut T| p.delete(&key))
    }

    fn start_multipart(key: String) -> Result<wit::MultipartUpload> {
        let upload = state::with_plugin(|p: &mut T| p.start_multipart(&key))?;
        Ok(wit::MultipartUpload::new(UploadResource(RefCell::new(upload))))
    }

    fn list_versions(
        prefix: String,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<VersionPage> {
        state::with_plugin(|p: &mut T| p.list_versions(&prefix, page_token, page_size))
    }
}

#[doc(hidden)]
pub struct UploadResource(RefCell<Box<dyn MultipartUpload>>);

impl UploadResource {
    fn with<R>(&self, f: impl FnOnce(&mut dyn MultipartUpload) -> Result<R>) -> Result<R> {
        let mut upload = self
            .0
            .try_borrow_mut()
            .map_err(|_| Error::Internal("multipart upload re-entered".into()))?;
        f(upload.as_mut())
    }
}

impl wit::GuestMultipartUpload for UploadResource {
    fn put_part(&self, number: u32, data: Vec<u8>) -> Result<()> {
        self.with(|u| u.put_part(number, data))
    }

    fn complete(&self) -> Result<()> {
        self.with(|u| u.complete())
    }

    fn abort(&self) -> Result<()> {
        self.with(|u| u.abort())
    }
}
