//! Incremental backup from a database's change feed: instead of exporting
//! every record, take the parent snapshot's stream and rebuild only the
//! stretches of chunks that hold a changed record.
//!
//! The parent's record map says which chunk each id begins in. A *region*
//! is a chunk that begins with a frame plus the chunks continuing its last
//! point. Each region holding a changed or deleted id is rebuilt from the
//! database as it is now: the changed records from the feed, their
//! unchanged neighbours fetched by id, in the region's order. New ids go to
//! the end of the stream. Every other chunk is the parent's, unread. The
//! content digest follows without reading the parent either: the index
//! keeps each chunk's share of it (`PackEntry::lanes`), which comes out,
//! and the rebuilt regions' share goes in.

use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Range;

use vdr_model::canonical;
use vdr_model::{Change, Database, Point, PointId, Result};

use crate::backup::{SourceInfo, add_lanes, sub_lanes};
use crate::index::Index;
use crate::recmap::RecordMap;
use crate::repository::Repository;
use crate::snapshot::{BlobRef, CollectionEntry};

/// Above this share of the parent's records changed, a full export costs
/// about as much as fetching neighbours, and holds no changes in memory.
const MAX_CHANGED_SHARE: u64 = 4;
/// Ids fetched from the database per call.
const FETCH_BATCH: usize = 1000;

/// What an incremental backup of one collection starts from.
pub(crate) struct FeedPlan<'p> {
    /// The newest snapshot's entry of the collection (borrowed from the
    /// snapshots the backup loaded).
    pub parent: &'p CollectionEntry,
    pub map: RecordMap,
    /// Changed ids (canonical bytes): the point now, or `None` if deleted.
    pub changes: HashMap<Vec<u8>, Option<Point>>,
    /// Parent blob ranges to rebuild, in stream order.
    pub regions: Vec<Range<usize>>,
    /// The rebuilt regions' share of the parent's digest, and their records.
    pub removed_lanes: [u64; 4],
    pub removed_records: u64,
    pub end_token: String,
    /// Records in the collection at `end_token`, per the database.
    pub count: u64,
    /// Ids the feed reported.
    pub changes_read: u64,
    /// The changed ids the parent held (changed or deleted since).
    pub existed: Vec<PointId>,
    /// The ids that are new (keys into `changes`), in id order.
    pub inserted: Vec<Vec<u8>>,
}

/// Why a collection is exported in full although its parent has a feed
/// position (reported in the summary).
pub(crate) type Fallback = String;

/// A feed read: the changes, normalized and keyed by id (`None`: deleted),
/// the position it ends at and the database's count there.
type Feed = (HashMap<Vec<u8>, Option<Point>>, String, u64);

/// The changes since `token` (an id the feed names twice keeps its last
/// state), or why a full export is needed instead.
fn read_feed(
    db: &mut dyn Database,
    name: &str,
    token: &str,
    limit: u64,
) -> Result<std::result::Result<Feed, Fallback>> {
    let Some(mut cursor) = db.open_changes(name, token)? else {
        return Ok(Err("the database no longer knows the last snapshot's position (collection \
             re-created, compacted or restored since)"
            .into()));
    };
    let mut changes = HashMap::new();
    loop {
        let batch = cursor.next_batch(FETCH_BATCH as u32)?;
        if batch.is_empty() {
            break;
        }
        let batch: Vec<(Vec<u8>, Option<Point>)> = batch
            .into_par_iter()
            .map(|change| match change {
                Change::Upsert(mut p) => {
                    canonical::normalize(&mut p)?;
                    Ok((id_key(&p.id), Some(p)))
                }
                Change::Delete(id) => Ok((id_key(&id), None)),
            })
            .collect::<Result<_>>()?;
        changes.extend(batch);
        if changes.len() as u64 > limit {
            return Ok(Err(format!("more than 1/{MAX_CHANGED_SHARE} of the records changed")));
        }
    }
    Ok(Ok((changes, cursor.end_token()?, cursor.count()?)))
}

impl Repository {
    /// An incremental plan for `name` from `parent` (the newest entry of it
    /// with a feed position), or why a full export is needed instead.
    pub(crate) fn plan_from_feed<'p>(
        &self,
        db: &mut dyn Database,
        name: &str,
        parent: &'p CollectionEntry,
        source: &SourceInfo,
        index: &Index,
    ) -> Result<std::result::Result<FeedPlan<'p>, Fallback>> {
        let planning = std::time::Instant::now();
        let Some(state) = &parent.changes else {
            return Ok(Err("the last snapshot holds no change-feed position".into()));
        };
        if parent.source.database != source.database
            || parent.source.plugin_name != source.plugin_name
        {
            return Ok(Err(format!(
                "the last snapshot was read from {}, not this database",
                parent.source.database
            )));
        }
        if let Some(missing) = parent.blobs.iter().find(|b| !index.blobs.contains_key(&b.id)) {
            return Ok(Err(format!(
                "the last snapshot's blob {} is in no index",
                missing.id.short()
            )));
        }
        // The record map (from the repository) and the feed (from the
        // database) are read side by side.
        let limit = (parent.records / MAX_CHANGED_SHARE).max(1000);
        let ((map, map_time), (feed, feed_time)) = std::thread::scope(|s| {
            let map = s.spawn(|| {
                let t = std::time::Instant::now();
                let map = self
                    .read_blobs(index, &state.map)
                    .and_then(|data| RecordMap::decode("record map", data, parent.blobs.len()));
                (map, t.elapsed())
            });
            let t = std::time::Instant::now();
            let feed = read_feed(db, name, &state.token, limit);
            let feed_time = t.elapsed();
            (map.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), (feed, feed_time))
        });
        let map = match map {
            Ok(m) => m,
            Err(e) => return Ok(Err(format!("the last snapshot's record map is unreadable: {e}"))),
        };
        let (changes, end_token, count) = match feed? {
            Ok(feed) => feed,
            Err(why) => return Ok(Err(why)),
        };
        if crate::backup::tracing() {
            eprintln!(
                "incremental: record map read in {:.0} ms, feed of {} ids in {:.0} ms (side by side; {:.0} ms since planning began)",
                map_time.as_secs_f64() * 1e3,
                changes.len(),
                feed_time.as_secs_f64() * 1e3,
                planning.elapsed().as_secs_f64() * 1e3
            );
        }
        // One pass over the map: the group each changed id begins in.
        let mut starts = BTreeSet::new();
        let mut existed = Vec::new();
        let mut found: HashSet<&[u8]> = HashSet::new();
        let mut mapped = 0u64;
        for group in 0..map.len() {
            mapped += map.count(group) as u64;
            for id in map.group(group) {
                if changes.contains_key(id) {
                    if !found.insert(id) {
                        return Ok(Err("the last snapshot's record map names an id twice".into()));
                    }
                    starts.insert(group);
                    existed.push(canonical::decode_id(id)?);
                }
            }
        }
        if mapped != parent.records {
            return Ok(Err(format!(
                "the last snapshot's record map lists {mapped} records, not {}",
                parent.records
            )));
        }
        // New ids go to the end of the stream, in id order.
        let mut inserted: Vec<(&PointId, &Vec<u8>)> = changes
            .iter()
            .filter(|(key, _)| !found.contains(key.as_slice()))
            .filter_map(|(key, p)| p.as_ref().map(|p| (&p.id, key)))
            .collect();
        inserted.sort();
        let inserted: Vec<Vec<u8>> = inserted.into_iter().map(|(_, key)| key.clone()).collect();
        drop(found);
        // The feed must add up to the database's own count: a token applied
        // to the wrong history (which no plugin should allow) shows here.
        let known = existed.len() as u64;
        let present = changes.values().filter(|p| p.is_some()).count() as u64;
        if u128::from(parent.records) + u128::from(present) != u128::from(count) + u128::from(known)
        {
            return Ok(Err(format!(
                "the change feed does not add up: {} records, {known} changed or deleted, {present} \
                 present now, but the database counts {count}",
                parent.records
            )));
        }
        let mut regions = Vec::with_capacity(starts.len());
        let (mut removed_lanes, mut removed_records) = ([0u64; 4], 0u64);
        for start in starts {
            let mut end = start + 1;
            while parent.blobs.get(end).is_some_and(|b| !b.starts_record) {
                end += 1;
            }
            for (i, blob) in parent.blobs[start..end].iter().enumerate() {
                match index.blobs[&blob.id].entry.lanes {
                    Some(lanes) if end - start == 1 => add_lanes(&mut removed_lanes, &lanes),
                    _ => {
                        return Ok(Err(format!(
                            "chunk {} holds part of a point longer than a chunk, or was stored \
                             by an older vdr",
                            parent.blobs[start + i].id.short()
                        )));
                    }
                }
            }
            removed_records += map.count(start) as u64;
            regions.push(start..end);
        }
        let changes_read = changes.len() as u64;
        Ok(Ok(FeedPlan {
            parent,
            map,
            changes,
            regions,
            removed_lanes,
            removed_records,
            end_token,
            count,
            changes_read,
            existed,
            inserted,
        }))
    }
}

impl FeedPlan<'_> {
    /// The changed and new points as they are now.
    pub fn upserted(&self) -> Vec<&Point> {
        self.changes.values().flatten().collect()
    }

    /// The points of each region as the database holds them now, region by
    /// region (unchanged neighbours fetched `FETCH_BATCH` ids at a time):
    /// `sink` gets `Some(point)` for each, and `None` where a region ends.
    /// Then the new ids, in id order, and a last `None`. A neighbour the
    /// database does not return is left out, and named in the outcome for
    /// [`FeedPlan::confirm`].
    /// With `keep`, the neighbours are also kept (up to `KEEP_BYTES`), so a
    /// baseline can be carried over one that changed while it was read.
    pub fn rebuild(
        &self,
        db: &mut dyn Database,
        name: &str,
        keep: bool,
        mut sink: impl FnMut(Option<&Point>) -> Result<()>,
    ) -> Result<Rebuilt> {
        let mut outcome = Rebuilt::default();
        let mut kept_bytes = 0usize;
        let mut next = 0;
        while next < self.regions.len() {
            // The next regions whose unchanged ids make one fetch.
            let mut wanted: Vec<PointId> = Vec::new();
            let mut upto = next;
            while upto < self.regions.len() && (wanted.len() < FETCH_BATCH || upto == next) {
                for id in self.map.group(self.regions[upto].start) {
                    if !self.changes.contains_key(id) {
                        wanted.push(canonical::decode_id(id)?);
                    }
                }
                upto += 1;
            }
            let mut fetched: HashMap<Vec<u8>, Point> = HashMap::new();
            if !wanted.is_empty() {
                // Normalizing (payload JSON above all) is most of the
                // producer's work here: both cores take part.
                fetched = db
                    .fetch(name, &wanted)?
                    .into_par_iter()
                    .map(|mut p| {
                        canonical::normalize(&mut p)?;
                        Ok((id_key(&p.id), p))
                    })
                    .collect::<Result<_>>()?;
            }
            for region in &self.regions[next..upto] {
                for id in self.map.group(region.start) {
                    let point = match self.changes.get(id) {
                        Some(changed) => changed.as_ref(), // None: deleted
                        None => {
                            let p = fetched.get(id);
                            match p {
                                Some(p) => {
                                    let kept = (keep && kept_bytes < KEEP_BYTES).then(|| {
                                        kept_bytes += approximate_size(p);
                                        p.clone()
                                    });
                                    if outcome.neighbours.insert(id.to_vec(), kept).is_some() {
                                        outcome.duplicates += 1;
                                    }
                                }
                                None => {
                                    outcome.missing.insert(id.to_vec());
                                }
                            }
                            p
                        }
                    };
                    if let Some(p) = point {
                        sink(Some(p))?;
                    }
                }
                sink(None)?;
            }
            next = upto;
        }
        for key in &self.inserted {
            if let Some(Some(p)) = self.changes.get(key) {
                sink(Some(p))?;
            }
        }
        sink(None)?;
        Ok(outcome)
    }

    /// Whether a rebuild read the feed's end state, or a state a baseline
    /// can still be carried to. A second feed, from the end position, must
    /// report every neighbour the database did not return as deleted; with
    /// `strict` (a baseline to carry), every neighbour that changed since
    /// must have been kept by the rebuild. Plugin errors here are a reason
    /// to export in full, not to fail.
    pub fn confirm(
        &self,
        db: &mut dyn Database,
        name: &str,
        outcome: &Rebuilt,
        strict: bool,
    ) -> Result<std::result::Result<Confirmed, Fallback>> {
        if outcome.duplicates > 0 {
            return Ok(Err(format!(
                "the last snapshot holds {} records twice; a full export rewrites it",
                outcome.duplicates
            )));
        }
        if outcome.missing.is_empty() && !strict {
            return Ok(Ok(Confirmed::default()));
        }
        let since = match self.changed_since_end(db, name) {
            Ok(Some(since)) => since,
            Ok(None) => {
                return Ok(Err(
                    "the database forgot the change-feed position while it was read".into()
                ));
            }
            Err(e) => return Ok(Err(format!("reading the change feed again failed: {e}"))),
        };
        let unexplained = outcome.missing.iter().filter(|id| since.get(*id) != Some(&true)).count();
        if unexplained > 0 {
            return Ok(Err(format!(
                "the database did not return {unexplained} unchanged records it holds"
            )));
        }
        let mut confirmed = Confirmed::default();
        for id in &outcome.missing {
            confirmed.deleted.push(canonical::decode_id(id)?);
        }
        if strict {
            for (id, kept) in &outcome.neighbours {
                if !since.contains_key(id) {
                    continue;
                }
                match kept {
                    Some(p) => confirmed.changed.push(p.clone()),
                    None => {
                        return Ok(Err(
                            "more records next to the changes changed while they were read \
                             than a backup keeps to carry the baseline over"
                                .into(),
                        ));
                    }
                }
            }
        }
        Ok(Ok(confirmed))
    }

    /// Each id the feed reports since its end position: deleted or not.
    fn changed_since_end(
        &self,
        db: &mut dyn Database,
        name: &str,
    ) -> Result<Option<HashMap<Vec<u8>, bool>>> {
        let Some(mut cursor) = db.open_changes(name, &self.end_token)? else {
            return Ok(None);
        };
        let mut since = HashMap::new();
        loop {
            let batch = cursor.next_batch(FETCH_BATCH as u32)?;
            if batch.is_empty() {
                return Ok(Some(since));
            }
            for change in batch {
                let (id, deleted) = match &change {
                    Change::Upsert(p) => (&p.id, false),
                    Change::Delete(id) => (id, true),
                };
                since.insert(id_key(id), deleted);
            }
        }
    }

    /// Drop what only planning, rebuilding and carrying needed (the
    /// changed points), keeping what assembly needs.
    pub fn release_changes(&mut self) {
        self.changes = HashMap::new();
        self.inserted = Vec::new();
        self.existed = Vec::new();
    }
}

/// An id as the record map holds it (its canonical bytes): the key the
/// feed, fetches and the map are matched by.
fn id_key(id: &PointId) -> Vec<u8> {
    let mut key = Vec::new();
    canonical::encode_id(id, &mut key);
    key
}

/// Bytes of neighbours a rebuild keeps for carrying a baseline over.
const KEEP_BYTES: usize = 256 << 20;

fn approximate_size(p: &Point) -> usize {
    let vectors: usize = p
        .vectors
        .iter()
        .map(|v| match &v.data {
            vdr_model::VectorData::Dense(d) => d.len() * 4,
            vdr_model::VectorData::Sparse(s) => s.indices.len() * 8,
            vdr_model::VectorData::Multi(m) => m.iter().map(|r| r.len() * 4).sum(),
        })
        .sum();
    vectors + p.payload.as_ref().map_or(0, |s| s.len()) + 64
}

/// What a second feed read confirmed about a rebuild.
#[derive(Default)]
pub(crate) struct Confirmed {
    /// Neighbours deleted since the feed ended (left out of the stream).
    pub deleted: Vec<PointId>,
    /// Neighbours changed since, as the stream has them.
    pub changed: Vec<Point>,
}

/// What a rebuild read besides the feed's points.
#[derive(Default)]
pub(crate) struct Rebuilt {
    /// Neighbours the database returned (kept, if asked and within budget),
    /// and those it did not.
    pub neighbours: HashMap<Vec<u8>, Option<Point>>,
    pub missing: HashSet<Vec<u8>>,
    /// Neighbours the parent's map names more than once (a damaged parent).
    pub duplicates: usize,
}

/// The parent's stream with `regions[i]` replaced by the next `counts[i]`
/// of `new` (and `new`'s remaining blobs appended): blobs and record map.
pub(crate) fn splice(
    plan: &FeedPlan<'_>,
    counts: &[usize],
    new_blobs: Vec<BlobRef>,
    new_map: &RecordMap,
) -> (Vec<BlobRef>, RecordMap) {
    debug_assert_eq!(plan.regions.len(), counts.len(), "one count per region");
    let parent = &plan.parent.blobs;
    let mut blobs = Vec::with_capacity(parent.len() + new_blobs.len());
    let mut map = RecordMap::default();
    let (mut pos, mut taken) = (0, 0);
    for (region, &count) in plan.regions.iter().zip(counts) {
        blobs.extend_from_slice(&parent[pos..region.start]);
        map.extend_from(&plan.map, pos..region.start);
        blobs.extend_from_slice(&new_blobs[taken..taken + count]);
        map.extend_from(new_map, taken..taken + count);
        taken += count;
        pos = region.end;
    }
    blobs.extend_from_slice(&parent[pos..]);
    map.extend_from(&plan.map, pos..parent.len());
    blobs.extend_from_slice(&new_blobs[taken..]);
    map.extend_from(new_map, taken..new_blobs.len());
    (blobs, map)
}

/// The parent's digest lanes, minus the rebuilt regions', plus the new
/// chunks'.
pub(crate) fn spliced_lanes(plan: &FeedPlan<'_>, new: &[u64; 4]) -> Result<[u64; 4]> {
    let mut lanes = crate::backup::lanes_from_hex(&plan.parent.content_digest)?;
    sub_lanes(&mut lanes, &plan.removed_lanes);
    add_lanes(&mut lanes, new);
    Ok(lanes)
}
