//! Listing in key order. A depth-first walk that sorts each directory's
//! entries with directories compared as `name/` yields keys in plain
//! byte-wise order of the full key (e.g. `a-b` before `a/x`, because
//! '-' < '/'), so a page can stop as soon as it is full.

use std::fs;
use std::path::Path;

use vdr_plugin_sdk::{ObjectMeta, Result, io_error};

use crate::keys::TEMP_PREFIX;
use crate::meta::object_meta;

/// Collects up to `limit` objects whose keys start with `prefix` and come
/// after `after`.
pub struct Listing<'a> {
    pub prefix: &'a str,
    pub after: Option<&'a str>,
    pub limit: usize,
    pub found: Vec<ObjectMeta>,
}

impl Listing<'_> {
    /// Walk the directory `dir`, whose keys start with `dir_key` ("" or
    /// ending in '/').
    pub fn walk(&mut self, dir: &Path, dir_key: &str) -> Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error(&format!("listing {dir_key:?}"), &e)),
        };
        let mut children = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error(&format!("listing {dir_key:?}"), &e))?;
            let Ok(name) = entry.file_name().into_string() else { continue };
            if name.starts_with(TEMP_PREFIX) {
                continue;
            }
            let file_type = entry.file_type().map_err(|e| io_error("listing", &e))?;
            let key = if file_type.is_dir() {
                format!("{dir_key}{name}/")
            } else if file_type.is_file() {
                format!("{dir_key}{name}")
            } else {
                continue;
            };
            children.push((key, entry.path(), file_type.is_dir()));
        }
        children.sort();
        for (key, path, is_dir) in children {
            if self.found.len() >= self.limit {
                break;
            }
            if is_dir {
                if self.may_hold_matches(&key) {
                    self.walk(&path, &key)?;
                }
            } else if key.starts_with(self.prefix) && self.after.is_none_or(|a| key.as_str() > a) {
                let meta = fs::metadata(&path).map_err(|e| io_error(&format!("stat {key}"), &e))?;
                self.found.push(object_meta(key, &meta));
            }
        }
        Ok(())
    }

    /// Whether keys under the directory `dir_key` (ending in '/') can match:
    /// they must be compatible with the prefix, and not all at or before the
    /// page token.
    fn may_hold_matches(&self, dir_key: &str) -> bool {
        let prefix_ok = dir_key.starts_with(self.prefix) || self.prefix.starts_with(dir_key);
        let after_ok = match self.after {
            // Every key under dir_key sorts before `after` when `after` is
            // greater and does not itself lie under dir_key.
            Some(after) => after < dir_key || after.starts_with(dir_key),
            None => true,
        };
        prefix_ok && after_ok
    }
}
