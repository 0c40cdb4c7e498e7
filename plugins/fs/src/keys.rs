//! Object keys -> paths under the root. A key is a slash-separated relative
//! path; anything that could name something outside the root, or one of the
//! plugin's own temporary files, is refused with `invalid-input` (the sandbox
//! also refuses escapes, but with a less helpful error).

use std::path::{Path, PathBuf};

use vdr_plugin_sdk::{Error, Result};

/// Names starting with this are the plugin's temporary files and upload
/// directories: never keys, skipped by listings.
pub const TEMP_PREFIX: &str = ".vdr-tmp-";

/// The path of `key` under `root`, or `invalid-input` saying what is wrong.
pub fn key_path(root: &Path, key: &str) -> Result<PathBuf> {
    validate(key)
        .map_err(|why| Error::InvalidInput(format!("invalid object key {key:?}: {why}")))?;
    Ok(key.split('/').fold(root.to_path_buf(), |path, segment| path.join(segment)))
}

fn validate(key: &str) -> std::result::Result<(), &'static str> {
    if key.is_empty() {
        return Err("empty");
    }
    if key.starts_with('/') {
        return Err("absolute");
    }
    if key.contains('\\') {
        return Err("contains a backslash");
    }
    if key.contains('\0') {
        return Err("contains NUL");
    }
    for segment in key.split('/') {
        match segment {
            "" => return Err("empty path segment"),
            "." | ".." => return Err("'.' or '..' segment"),
            s if s.starts_with(TEMP_PREFIX) => return Err("reserved name"),
            _ => {}
        }
    }
    Ok(())
}
