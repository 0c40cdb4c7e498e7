//! Native snapshots of faiss collections: the index file itself, byte for
//! byte (the only exact backup of kinds whose vectors cannot be read back,
//! and of HNSW graphs).

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use vdr_plugin_sdk::prelude::*;

use crate::collection::temp_path;

pub struct FileReader {
    file: File,
    context: String,
}

impl FileReader {
    pub fn open(path: &Path) -> Result<Self> {
        let context = format!("reading {}", path.display());
        let file = File::open(path).map_err(|e| io_error(&context, &e))?;
        Ok(FileReader { file, context })
    }
}

impl ByteReader for FileReader {
    fn read(&mut self, max: u32) -> Result<Vec<u8>> {
        let mut buf = vec![0; max.min(16 << 20) as usize];
        let n = self.file.read(&mut buf).map_err(|e| io_error(&self.context, &e))?;
        buf.truncate(n);
        Ok(buf)
    }
}

/// Streams into a temporary file; `finish` renames it into place, so an
/// interrupted restore leaves no half-written index behind.
pub struct FileWriter {
    tmp: PathBuf,
    target: PathBuf,
    file: Option<File>,
}

impl FileWriter {
    pub fn create(root: &Path, file_name: &str) -> Result<Self> {
        let tmp = temp_path(root, file_name);
        let context = format!("creating {}", tmp.display());
        let file = File::create(&tmp).map_err(|e| io_error(&context, &e))?;
        Ok(FileWriter { tmp, target: root.join(file_name), file: Some(file) })
    }
}

impl ByteWriter for FileWriter {
    fn write(&mut self, bytes: Vec<u8>) -> Result<()> {
        let file = self.file.as_mut().ok_or_else(|| Error::InvalidInput("finished".into()))?;
        file.write_all(&bytes).map_err(|e| io_error(&format!("writing {}", self.tmp.display()), &e))
    }

    fn finish(&mut self) -> Result<()> {
        let file = self.file.take().ok_or_else(|| Error::InvalidInput("finished".into()))?;
        file.sync_all().map_err(|e| io_error("syncing the restored index", &e))?;
        fs::rename(&self.tmp, &self.target)
            .map_err(|e| io_error(&format!("renaming to {}", self.target.display()), &e))
    }
}
