//! Multipart uploads: each part is a file in a private upload directory
//! under the root (`.vdr-tmp-upload-<nonce>/<number>`); `complete`
//! concatenates them into a temp file beside the destination and renames it
//! into place; `abort` removes the directory.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::PathBuf;

use vdr_plugin_sdk::{Error, MultipartUpload, Result, io_error};

use crate::atomic::{self, temp_path_beside};

pub struct FsUpload {
    key: String,
    destination: PathBuf,
    parts_dir: PathBuf,
    /// Part numbers received so far, in the order given.
    parts: Vec<u32>,
    finished: bool,
}

impl FsUpload {
    pub fn start(root: &std::path::Path, key: &str, destination: PathBuf) -> Result<Self> {
        let parts_dir = temp_path_beside(&root.join("upload"));
        fs::create_dir_all(&parts_dir)
            .map_err(|e| io_error(&format!("starting upload of {key}"), &e))?;
        Ok(FsUpload {
            key: key.to_string(),
            destination,
            parts_dir,
            parts: Vec::new(),
            finished: false,
        })
    }

    fn part_path(&self, number: u32) -> PathBuf {
        self.parts_dir.join(format!("{number:010}"))
    }

    fn check_open(&self) -> Result<()> {
        if self.finished {
            return Err(Error::InvalidInput(format!("upload of {} is already finished", self.key)));
        }
        Ok(())
    }

    /// Concatenate the parts, in number order, into `out`.
    fn assemble(&self, out: &mut File) -> io::Result<()> {
        let mut numbers = self.parts.clone();
        numbers.sort_unstable();
        for number in numbers {
            let mut part = File::open(self.part_path(number))?;
            io::copy(&mut part, out)?;
        }
        out.flush()?;
        out.sync_all()
    }
}

impl MultipartUpload for FsUpload {
    fn put_part(&mut self, number: u32, data: Vec<u8>) -> Result<()> {
        self.check_open()?;
        if number == 0 {
            return Err(Error::InvalidInput("part numbers start at 1".into()));
        }
        let path = self.part_path(number);
        // A retried part replaces the earlier attempt.
        let _ = fs::remove_file(&path);
        atomic::write_synced(&path, &data)
            .map_err(|e| io_error(&format!("writing part {number} of {}", self.key), &e))?;
        if !self.parts.contains(&number) {
            self.parts.push(number);
        }
        Ok(())
    }

    fn complete(&mut self) -> Result<()> {
        self.check_open()?;
        let mut numbers = self.parts.clone();
        numbers.sort_unstable();
        if numbers.iter().zip(1..).any(|(&n, expected)| n != expected) {
            return Err(Error::InvalidInput(format!(
                "upload of {}: parts are not numbered 1..=n: {numbers:?}",
                self.key
            )));
        }
        let dir = self.destination.parent().expect("key paths have a parent");
        fs::create_dir_all(dir)
            .map_err(|e| io_error(&format!("creating directory for {}", self.key), &e))?;
        let temp = temp_path_beside(&self.destination);
        let written = File::create_new(&temp).and_then(|mut out| self.assemble(&mut out));
        let result = written
            .map_err(|e| io_error(&format!("assembling {}", self.key), &e))
            .and_then(|()| atomic::publish(&temp, &self.destination, &self.key, false));
        let _ = fs::remove_file(&temp);
        result?;
        atomic::sync_dir(dir);
        self.finished = true;
        let _ = fs::remove_dir_all(&self.parts_dir);
        Ok(())
    }

    fn abort(&mut self) -> Result<()> {
        self.finished = true;
        match fs::remove_dir_all(&self.parts_dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(io_error(&format!("aborting upload of {}", self.key), &e))
            }
            _ => Ok(()),
        }
    }
}
