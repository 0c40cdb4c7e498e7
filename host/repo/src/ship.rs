//! Log shipping: the points that changed between two snapshots of a
//! collection, read from only the blobs that differ (a standby that sees
//! nothing but the replicated bucket applies each new snapshot this way).

use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use vdr_model::{Point, PointId, Result, canonical};

use crate::format::{Id, corrupt};
use crate::index;
use crate::repository::Repository;
use crate::restore::{Totals, segments};
use crate::snapshot::{BlobRef, CollectionEntry};

/// What `changed_points` read and delivered.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ShipSummary {
    /// The snapshot applied (`to`).
    pub snapshot: Option<Id>,
    /// The snapshot it was compared with; `None` = a full stream.
    pub from: Option<Id>,
    /// Blobs read, of both snapshots.
    pub blobs_read: u64,
    /// Stream bytes (decoded chunk lengths) read, of both snapshots.
    pub bytes_read: u64,
    /// Points of the blobs read that are new or changed (delivered to `upsert`).
    pub points_upserted: u64,
    /// Points of the blobs read that are equal in both snapshots (not delivered).
    pub points_unchanged: u64,
    pub points_deleted: u64,
    /// Blobs and stream length of the collection in `to`, for comparison.
    pub stream_blobs: u64,
    pub stream_length: u64,
}

impl Repository {
    /// Deliver the changes of `collection` from snapshot `from_snapshot` to
    /// `to_snapshot` (ids, prefixes or `latest`): `upsert` gets every point
    /// of the blobs `to` has and `from` lacks (but those equal to a point of
    /// a blob `from` has and `to` lacks), `delete` every id of the blobs
    /// `from` has and `to` lacks that is in no blob of `to`. Runs of blobs forming
    /// whole records are read (a point longer than the chunker's maximum is
    /// split over several blobs). With `from_snapshot = None`, or a `from`
    /// without the collection, every point of `to` is upserted.
    ///
    /// Every blob read is checked against its id, and what was read is checked
    /// against both manifests (count, content digest and length of the
    /// unchanged part must agree) before any delete is delivered.
    pub fn changed_points(
        &self,
        from_snapshot: Option<&str>,
        to_snapshot: &str,
        collection: &str,
        mut upsert: impl FnMut(Point) -> Result<()>,
        mut delete: impl FnMut(PointId) -> Result<()>,
    ) -> Result<ShipSummary> {
        let _lock = self.lock(false, "replicate")?;
        let to = self.load_snapshot(to_snapshot, Some(collection))?;
        let to_entry = to.entry(collection)?;
        let from = match from_snapshot {
            Some(spec) => Some(self.load_snapshot(spec, Some(collection))?),
            None => None,
        };
        let from_entry = from.as_ref().and_then(|s| s.collection(collection));
        let from_blobs: &[BlobRef] = from_entry.map_or(&[], |e| &e.blobs);
        let (to_runs, from_runs) = dirty_runs(&to_entry.blobs, from_blobs);
        let (index, _) = index::load(self.store.as_ref(), &self.key)?;

        let units = |blobs: &[BlobRef], runs: &[Range<usize>]| -> Vec<Range<usize>> {
            runs.iter().flat_map(|r| segments(&index, blobs, r.clone())).collect()
        };
        // Points of the blobs `from` has and `to` lacks, with their digests:
        // points of new blobs equal to one of these are not delivered.
        let mut gone: HashMap<PointId, [u8; 32]> = HashMap::new();
        let old = self.decode_units(&index, from_blobs, units(from_blobs, &from_runs), |d| {
            gone.extend(d.points.into_iter().map(|p| {
                let digest = canonical::digest(&p);
                (p.id, digest)
            }));
            Ok(())
        })?;
        let (mut upserted, mut unchanged) = (0u64, 0u64);
        let to_units = units(&to_entry.blobs, &to_runs);
        let new = self.decode_units(&index, &to_entry.blobs, to_units, |d| {
            for p in d.points {
                match gone.remove(&p.id) {
                    Some(was) if was == canonical::digest(&p) => unchanged += 1,
                    _ => {
                        upserted += 1;
                        upsert(p)?;
                    }
                }
            }
            Ok(())
        })?;
        check_unchanged(to_entry, &new, from_entry, &old)?;

        // What is left of `gone` is in no blob of `to`.
        let deleted = gone.len() as u64;
        for id in gone.into_keys() {
            delete(id)?;
        }
        let count = |blobs: &[BlobRef], runs: &[Range<usize>]| -> u64 {
            runs.iter().map(|r| blobs[r.clone()].len() as u64).sum()
        };
        Ok(ShipSummary {
            snapshot: Some(to.id),
            from: from_entry.and(from.as_ref().map(|s| s.id)),
            blobs_read: count(&to_entry.blobs, &to_runs) + count(from_blobs, &from_runs),
            bytes_read: new.bytes + old.bytes,
            points_upserted: upserted,
            points_unchanged: unchanged,
            points_deleted: deleted,
            stream_blobs: to_entry.blobs.len() as u64,
            stream_length: to_entry.stream_length,
        })
    }
}

/// The runs of whole records to read in `to` and `from`: every occurrence of
/// a blob whose count differs between the two lists, widened to whole
/// records, until no blob lies both inside a run and outside one. What is
/// left outside the runs is then the same multiset of blobs on both sides.
fn dirty_runs(to: &[BlobRef], from: &[BlobRef]) -> (Vec<Range<usize>>, Vec<Range<usize>>) {
    let mut counts: HashMap<Id, i64> = HashMap::new();
    for b in to {
        *counts.entry(b.id).or_default() += 1;
    }
    for b in from {
        *counts.entry(b.id).or_default() -= 1;
    }
    let mut dirty: HashSet<Id> =
        counts.into_iter().filter(|(_, n)| *n != 0).map(|(id, _)| id).collect();
    loop {
        let (rt, rf) = (runs(to, &dirty), runs(from, &dirty));
        let mut grew = false;
        for (blobs, rs) in [(to, &rt), (from, &rf)] {
            for r in rs {
                for b in &blobs[r.clone()] {
                    grew |= dirty.insert(b.id);
                }
            }
        }
        if !grew {
            return (rt, rf);
        }
    }
}

/// Maximal runs of whole records holding every blob in `dirty`.
fn runs(blobs: &[BlobRef], dirty: &HashSet<Id>) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    let mut i = 0;
    while i < blobs.len() {
        if !dirty.contains(&blobs[i].id) {
            i += 1;
            continue;
        }
        let mut start = i;
        while start > 0 && !blobs[start].starts_record {
            start -= 1;
        }
        let mut end = i + 1;
        while end < blobs.len() && !blobs[end].starts_record {
            end += 1;
        }
        match out.last_mut() {
            Some(last) if last.end >= start => last.end = last.end.max(end),
            _ => out.push(start..end),
        }
        i = end;
    }
    out
}

/// The part of the stream that was not read is the same in both snapshots,
/// so `to` minus what was read of it equals `from` minus what was read of it:
/// in records, content digest (a wrapping sum) and length.
fn check_unchanged(
    to: &CollectionEntry,
    new: &Totals,
    from: Option<&CollectionEntry>,
    old: &Totals,
) -> Result<()> {
    let what = format!("change of collection {:?}", to.name);
    let lanes = |e: Option<&CollectionEntry>| -> Result<[u64; 4]> {
        let Some(e) = e else { return Ok([0; 4]) };
        let b = (0..e.content_digest.len())
            .step_by(2)
            .map(|i| e.content_digest.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect::<Option<Vec<u8>>>()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| corrupt(&what, "manifest has a malformed content digest"))?;
        Ok(std::array::from_fn(|k| u64::from_le_bytes(b[k * 8..k * 8 + 8].try_into().unwrap())))
    };
    let (lt, lf) = (lanes(Some(to))?, lanes(from)?);
    let rest = |all: [u64; 4], read: [u64; 4]| -> [u64; 4] {
        std::array::from_fn(|k| all[k].wrapping_sub(read[k]))
    };
    let (from_records, from_length) = from.map_or((0, 0), |e| (e.records, e.stream_length));
    if to.records.wrapping_sub(new.records) != from_records.wrapping_sub(old.records) {
        return Err(corrupt(&what, "point counts do not agree with the manifests"));
    }
    if to.stream_length.wrapping_sub(new.bytes) != from_length.wrapping_sub(old.bytes) {
        return Err(corrupt(&what, "stream lengths do not agree with the manifests"));
    }
    if rest(lt, new.lanes) != rest(lf, old.lanes) {
        return Err(corrupt(&what, "content digests do not agree with the manifests"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(n: u8, starts: bool) -> BlobRef {
        BlobRef { id: Id([n; 32]), length: 10, starts_record: starts }
    }

    #[test]
    fn runs_cover_whole_records_and_both_sides_agree() {
        // 1 2a 2b 2c 3 4 in `from`; the middle piece of point 2 and point 4 change.
        let from = [b(1, true), b(2, true), b(3, false), b(4, false), b(5, true), b(6, true)];
        let to = [b(1, true), b(2, true), b(30, false), b(4, false), b(5, true), b(60, true)];
        let (rt, rf) = dirty_runs(&to, &from);
        assert_eq!(rt, vec![1..4, 5..6]);
        assert_eq!(rf, vec![1..4, 5..6]);
        let (rt, rf) = dirty_runs(&to, &[]);
        assert_eq!((rt.len(), rt.first(), rf.len()), (1, Some(&(0..6)), 0));
        let (rt, rf) = dirty_runs(&from, &from);
        assert!(rt.is_empty() && rf.is_empty());
    }
}
