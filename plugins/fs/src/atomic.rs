//! Crash-safe writes: data goes to a temporary file in the destination's
//! directory, is fsynced, then moved into place in one step, so a reader sees
//! the old object, the new one, or nothing, never a torn file.

use std::fs::{self, File};
use std::hash::{BuildHasher, RandomState};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use vdr_plugin_sdk::{Error, Result, io_error};

use crate::keys::TEMP_PREFIX;

/// A fresh temporary path beside `path` (random name from WASI's random
/// source through std's hasher seeds).
pub fn temp_path_beside(path: &Path) -> PathBuf {
    let nonce = RandomState::new().hash_one(path);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("object");
    path.with_file_name(format!("{TEMP_PREFIX}{nonce:016x}-{name}"))
}

/// Write `data` to `path`. With `if_absent`, fail with `already-exists` if
/// `path` exists, decided atomically by the filesystem (hard link of the
/// finished temp file, which fails if the name is taken).
pub fn write_file(path: &Path, key: &str, data: &[u8], if_absent: bool) -> Result<()> {
    let dir = path.parent().expect("key paths have a parent");
    fs::create_dir_all(dir).map_err(|e| io_error(&format!("creating directory for {key}"), &e))?;
    let temp = temp_path_beside(path);
    let result = write_synced(&temp, data)
        .map_err(|e| io_error(&format!("writing {key}"), &e))
        .and_then(|()| publish(&temp, path, key, if_absent));
    // After a rename the temp name is gone; after a link or a failure it is
    // still there.
    let _ = fs::remove_file(&temp);
    result?;
    sync_dir(dir);
    Ok(())
}

/// Create `path` (which must not exist), write `data`, fsync.
pub fn write_synced(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut file = File::create_new(path)?;
    file.write_all(data)?;
    file.sync_all()
}

/// Move a finished temp file to its final name.
pub fn publish(temp: &Path, path: &Path, key: &str, if_absent: bool) -> Result<()> {
    if !if_absent {
        return fs::rename(temp, path).map_err(|e| io_error(&format!("renaming {key}"), &e));
    }
    match fs::hard_link(temp, path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            Err(Error::AlreadyExists(format!("object {key} exists")))
        }
        Err(e) if e.kind() == ErrorKind::Unsupported => copy_if_absent(temp, path, key),
        Err(e) => Err(io_error(&format!("linking {key}"), &e)),
    }
}

/// Fallback where hard links are unsupported: create-new of the final name
/// is still atomic about existence, though a reader may briefly see a
/// partial file.
fn copy_if_absent(temp: &Path, path: &Path, key: &str) -> Result<()> {
    let data = fs::read(temp).map_err(|e| io_error(&format!("reading back {key}"), &e))?;
    write_synced(path, &data).map_err(|e| match e.kind() {
        ErrorKind::AlreadyExists => Error::AlreadyExists(format!("object {key} exists")),
        _ => io_error(&format!("writing {key}"), &e),
    })
}

/// Make a rename durable. Best effort: not every WASI host lets a directory
/// be opened and synced.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
