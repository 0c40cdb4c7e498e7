//! `fs`: a vdr repository in a local directory. The host lends the plugin
//! the directory of the `fs:///path` URL at the guest path given as the
//! endpoint (e.g. `/data`); each object key is a file path under it.
//!
//! - writes are atomic (temp file, fsync, rename) and `if-absent` is decided
//!   by the filesystem (see `atomic`);
//! - listings are in key order, paged by the last key returned;
//! - temporary files and upload directories start with `.vdr-tmp-` and are
//!   never listed;
//! - object versions are not kept (`list-versions` is unsupported).

mod atomic;
mod keys;
mod listing;
mod meta;
mod multipart;

use std::fs::{self, File};
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::path::PathBuf;

use vdr_plugin_sdk::prelude::*;

use crate::keys::key_path;
use crate::listing::Listing;
use crate::meta::object_meta;
use crate::multipart::FsUpload;

/// Largest page a listing returns, whatever the caller asks for.
const MAX_PAGE_SIZE: u32 = 10_000;

struct FsStore {
    root: PathBuf,
}

impl StoragePlugin for FsStore {
    fn configure(config: Config) -> Result<Self> {
        if !config.endpoint.starts_with('/') {
            return Err(Error::InvalidInput(format!(
                "fs endpoint must be an absolute guest path (e.g. /data), got {:?}",
                config.endpoint
            )));
        }
        let root = PathBuf::from(&config.endpoint);
        match fs::metadata(&root) {
            Ok(m) if m.is_dir() => Ok(FsStore { root }),
            Ok(_) => Err(Error::InvalidInput(format!("{} is not a directory", config.endpoint))),
            Err(e) => {
                Err(io_error(&format!("opening repository directory {}", config.endpoint), &e))
            }
        }
    }

    fn put(&mut self, key: &str, data: Vec<u8>, if_absent: bool) -> Result<()> {
        let path = key_path(&self.root, key)?;
        atomic::write_file(&path, key, &data, if_absent)
    }

    fn get(
        &mut self,
        key: &str,
        range: Option<ByteRange>,
        version: Option<String>,
    ) -> Result<Vec<u8>> {
        if version.is_some() {
            return unsupported("object versions (the fs store keeps none)");
        }
        let path = key_path(&self.root, key)?;
        let context = format!("reading {key}");
        let mut file = File::open(&path).map_err(|e| io_error(&context, &e))?;
        let Some(range) = range else {
            let mut data = Vec::new();
            file.read_to_end(&mut data).map_err(|e| io_error(&context, &e))?;
            return Ok(data);
        };
        // A range reaching past the end is clamped to the object's size.
        let size = file.metadata().map_err(|e| io_error(&context, &e))?.len();
        let start = range.start.min(size);
        let length = range.length.min(size - start);
        file.seek(SeekFrom::Start(start)).map_err(|e| io_error(&context, &e))?;
        let mut data = vec![0; length as usize];
        file.read_exact(&mut data).map_err(|e| io_error(&context, &e))?;
        Ok(data)
    }

    fn stat(&mut self, key: &str) -> Result<ObjectMeta> {
        let path = key_path(&self.root, key)?;
        let meta = fs::metadata(&path).map_err(|e| io_error(&format!("stat {key}"), &e))?;
        if !meta.is_file() {
            return Err(Error::NotFound(format!("stat {key}: not an object")));
        }
        Ok(object_meta(key.to_string(), &meta))
    }

    fn list(
        &mut self,
        prefix: &str,
        page_token: Option<String>,
        page_size: u32,
    ) -> Result<ListPage> {
        let page_size = page_size.clamp(1, MAX_PAGE_SIZE) as usize;
        // One more than a page tells whether another page follows.
        let mut listing = Listing {
            prefix,
            after: page_token.as_deref(),
            limit: page_size + 1,
            found: Vec::new(),
        };
        listing.walk(&self.root, "")?;
        let mut objects = listing.found;
        let next_token = if objects.len() > page_size {
            objects.truncate(page_size);
            objects.last().map(|o| o.key.clone())
        } else {
            None
        };
        Ok(ListPage { objects, next_token })
    }

    fn delete(&mut self, key: &str) -> Result<()> {
        let path = key_path(&self.root, key)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != ErrorKind::NotFound => {
                Err(io_error(&format!("deleting {key}"), &e))
            }
            _ => Ok(()),
        }
    }

    fn start_multipart(&mut self, key: &str) -> Result<Box<dyn MultipartUpload>> {
        let destination = key_path(&self.root, key)?;
        Ok(Box::new(FsUpload::start(&self.root, key, destination)?))
    }

    fn list_versions(
        &mut self,
        _prefix: &str,
        _page_token: Option<String>,
        _page_size: u32,
    ) -> Result<VersionPage> {
        unsupported("list-versions (the fs store keeps no versions)")
    }
}

vdr_plugin_sdk::export_storage_plugin!(FsStore, "vdr-plugin.toml");
