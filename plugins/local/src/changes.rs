//! The change feed: the points written since a token, read from the frames
//! the log gained since. A token is a log [`Position`]:
//! `local1:<epoch hex>:<length>:<last frame offset>:<last frame crc hex>`.
//! The epoch is random per log file, so a token never applies to another
//! collection, to a re-created one, or across a compaction; the last-frame
//! fingerprint catches a log cut by a crash and written again since.

use std::fs::File;

use vdr_plugin_sdk::{Change, ChangeCursor, Result};

use crate::codec::{self, IdKey};
use crate::collection::Collection;
use crate::records::{self, Location, Position};

pub fn token(p: &Position) -> String {
    format!("local1:{:016x}:{}:{}:{:08x}", p.epoch, p.len, p.last, p.crc)
}

/// The position a token names (`None`: not one of ours).
pub fn parse(token: &str) -> Option<Position> {
    let mut parts = token.strip_prefix("local1:")?.split(':');
    let epoch = u64::from_str_radix(parts.next()?, 16).ok()?;
    let len = parts.next()?.parse().ok()?;
    let last = parts.next()?.parse().ok()?;
    let crc = u32::from_str_radix(parts.next()?, 16).ok()?;
    parts.next().is_none().then_some(Position { epoch, len, last, crc })
}

pub struct LocalChanges {
    /// Its own handle on the log, like an export cursor's.
    file: File,
    /// Each id written since the token, with where it lives now (`None`:
    /// deleted), as of when the cursor was opened.
    remaining: std::vec::IntoIter<(IdKey, Option<Location>)>,
    end: String,
    count: u64,
}

impl LocalChanges {
    /// The changes since `since`, or `None` if this log cannot vouch for it.
    pub fn open(c: &Collection, since: &str) -> Result<Option<LocalChanges>> {
        let Some(from) = parse(since).filter(|p| c.log.still_holds(p)) else {
            return Ok(None);
        };
        let now = c.log.position();
        let touched = c.log.ids_between(from.len, now.len)?;
        let remaining: Vec<_> =
            touched.into_iter().map(|id| (id.clone(), c.live.get(&id).copied())).collect();
        Ok(Some(LocalChanges {
            file: c.log.reopen_read()?,
            remaining: remaining.into_iter(),
            end: token(&now),
            count: c.count(),
        }))
    }
}

impl ChangeCursor for LocalChanges {
    fn next_batch(&mut self, max: u32) -> Result<Vec<Change>> {
        let batch: Vec<_> = self.remaining.by_ref().take(max.max(1) as usize).collect();
        let live: Vec<Location> = batch.iter().filter_map(|(_, at)| *at).collect();
        let mut points = records::read_many(&self.file, &live)?.into_iter();
        batch
            .into_iter()
            .map(|(id, at)| match at {
                Some(_) => {
                    let body = points.next().expect("one body per live location");
                    Ok(Change::Upsert(codec::decode_point(&body)?))
                }
                None => Ok(Change::Delete(id.to_point_id())),
            })
            .collect()
    }

    fn end_token(&self) -> String {
        self.end.clone()
    }

    fn count(&self) -> u64 {
        self.count
    }
}
