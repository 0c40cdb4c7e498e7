//! Export in file order. The resume token is the number of points already
//! returned (`pos:N`); the file does not change during a backup.

use vdr_plugin_sdk::prelude::*;

use crate::collection::Collection;

pub struct Cursor {
    points: Vec<Point>,
    next: usize,
    started: bool,
}

impl Cursor {
    pub fn open(c: &Collection, resume_from: Option<String>) -> Result<Self> {
        c.readable()?;
        let next = match &resume_from {
            None => 0,
            Some(t) => t
                .strip_prefix("pos:")
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| Error::InvalidInput(format!("bad faiss resume token {t:?}")))?,
        };
        let points = (next.min(c.ids.len())..c.ids.len()).map(|i| c.point(i)).collect();
        Ok(Cursor { points, next, started: resume_from.is_some() })
    }
}

impl ExportCursor for Cursor {
    fn next_batch(&mut self, max: u32) -> Result<Vec<Point>> {
        self.started = true;
        let take = (max as usize).min(self.points.len());
        self.next += take;
        Ok(self.points.drain(..take).collect())
    }

    fn resume_token(&self) -> Option<String> {
        self.started.then(|| format!("pos:{}", self.next))
    }
}
