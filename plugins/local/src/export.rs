//! The export cursor: every live point in store order (numeric ids
//! ascending, then string ids byte-wise), resumable after any id.

use std::fs::File;
use std::ops::Bound;

use vdr_plugin_sdk::{ExportCursor, Point, Result};

use crate::codec::{self, IdKey};
use crate::collection::Collection;
use crate::records::{self, Location};

pub struct LocalCursor {
    /// Its own handle on the log, so a compaction (which renames a new log
    /// into place) does not disturb an export in progress.
    file: File,
    /// The points still to export, as of when the cursor was opened.
    remaining: std::vec::IntoIter<(IdKey, Location)>,
    last: Option<IdKey>,
}

impl LocalCursor {
    pub fn open(c: &Collection, resume_from: Option<String>) -> Result<LocalCursor> {
        let after = resume_from.as_deref().map(IdKey::from_token).transpose()?;
        let start = match &after {
            Some(id) => Bound::Excluded(id.clone()),
            None => Bound::Unbounded,
        };
        let remaining: Vec<_> =
            c.live.range((start, Bound::Unbounded)).map(|(id, &loc)| (id.clone(), loc)).collect();
        Ok(LocalCursor {
            file: c.log.reopen_read()?,
            remaining: remaining.into_iter(),
            last: after,
        })
    }
}

impl ExportCursor for LocalCursor {
    fn next_batch(&mut self, max: u32) -> Result<Vec<Point>> {
        let (ids, locations): (Vec<IdKey>, Vec<Location>) =
            self.remaining.by_ref().take(max.max(1) as usize).unzip();
        let batch = records::read_many(&self.file, &locations)?
            .iter()
            .map(|body| codec::decode_point(body))
            .collect::<Result<Vec<_>>>()?;
        if let Some(id) = ids.into_iter().last() {
            self.last = Some(id);
        }
        Ok(batch)
    }

    fn resume_token(&self) -> Option<String> {
        self.last.as_ref().map(IdKey::to_token)
    }
}
