//! Record maps: which records each chunk of a collection's stream begins,
//! so an incremental backup can find the chunks a changed id lives in
//! without reading the stream.
//!
//! A map is one group per blob of the stream, in order:
//! `count:u32 | count x id`, where `id` is the canonical id encoding that
//! opens a frame body (`0x00 u64` or `0x01 len:u32 utf8`). A chunk that
//! continues a point longer than the chunker's `max_size` has an empty
//! group. The map is stored as ordinary blobs (compressed, encrypted, in
//! packs), cut at group boundaries chosen by content, so the map of a
//! backup that only changed records (not which ids exist) is made entirely
//! of blobs the repository already holds.

use vdr_model::Result;

use crate::crypto::DataKey;
use crate::snapshot::BlobRef;

/// Map blobs end at a group boundary once they hold this much ...
const MIN_BLOB: usize = 16 << 10;
/// ... where a keyed hash of the group's bytes says so (every ~64 KiB on
/// average), and always before this much.
const AVG_BLOB: usize = 64 << 10;
const MAX_BLOB: usize = 256 << 10;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordMap {
    /// The encoded groups, back to back.
    data: Vec<u8>,
    /// Where each group starts in `data`.
    starts: Vec<usize>,
}

/// The length of the canonical id encoding at the start of `b`.
pub fn id_len(b: &[u8]) -> Option<usize> {
    match b.first()? {
        0 => (b.len() >= 9).then_some(9),
        1 => {
            let n = u32::from_le_bytes(b.get(1..5)?.try_into().ok()?) as usize;
            (b.len() >= 5 + n).then_some(5 + n)
        }
        _ => None,
    }
}

impl RecordMap {
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Add the group of the next blob.
    pub fn push_group<'a>(&mut self, ids: impl IntoIterator<Item = &'a [u8]>) {
        let start = self.data.len();
        self.starts.push(start);
        self.data.extend_from_slice(&[0; 4]);
        let mut count = 0u32;
        for id in ids {
            self.data.extend_from_slice(id);
            count += 1;
        }
        self.data[start..start + 4].copy_from_slice(&count.to_le_bytes());
    }

    /// The group of the chunk `stream[from..end]`: the ids of the frames
    /// starting in it (none if it continues a long point).
    pub fn push_chunk(&mut self, stream: &[u8], from: usize, end: usize, starts_record: bool) {
        let mut ids = Vec::new();
        let mut at = from;
        while starts_record && at < end {
            let Some(id) = crate::chunker::frame_id(&stream[at..]) else { break };
            ids.push(id);
            at += 4 + u32::from_le_bytes(stream[at..at + 4].try_into().unwrap()) as usize;
        }
        self.push_group(ids);
    }

    /// Append `other`'s groups.
    pub fn append(&mut self, other: &RecordMap) {
        self.extend_from(other, 0..other.len());
    }

    /// Append groups `range` of `other`.
    pub fn extend_from(&mut self, other: &RecordMap, range: std::ops::Range<usize>) {
        if range.is_empty() {
            return;
        }
        let (from, to) = (other.starts[range.start], other.end_of(range.end - 1));
        let base = self.data.len() as isize - from as isize;
        self.data.extend_from_slice(&other.data[from..to]);
        self.starts.extend(other.starts[range].iter().map(|s| (*s as isize + base) as usize));
    }

    fn end_of(&self, group: usize) -> usize {
        self.starts.get(group + 1).copied().unwrap_or(self.data.len())
    }

    /// The ids of group `i`.
    pub fn group(&self, i: usize) -> impl Iterator<Item = &[u8]> {
        let g = &self.data[self.starts[i] + 4..self.end_of(i)];
        let mut rest = g;
        std::iter::from_fn(move || {
            let n = id_len(rest)?;
            let (id, tail) = rest.split_at(n);
            rest = tail;
            Some(id)
        })
    }

    /// Records in group `i`.
    pub fn count(&self, i: usize) -> u32 {
        u32::from_le_bytes(self.data[self.starts[i]..self.starts[i] + 4].try_into().unwrap())
    }

    /// Parse a map of `groups` groups from its blobs' bytes, concatenated.
    pub fn decode(what: &str, data: Vec<u8>, groups: usize) -> Result<RecordMap> {
        let bad = || crate::format::corrupt(what, "record map is damaged");
        let mut starts = Vec::with_capacity(groups);
        let mut at = 0;
        while at < data.len() {
            starts.push(at);
            let count = data.get(at..at + 4).ok_or_else(bad)?;
            let count = u32::from_le_bytes(count.try_into().unwrap());
            at += 4;
            for _ in 0..count {
                at += id_len(data.get(at..).ok_or_else(bad)?).ok_or_else(bad)?;
            }
        }
        if starts.len() != groups {
            let found = format!("record map has {} groups for {groups} blobs", starts.len());
            return Err(crate::format::corrupt(what, &found));
        }
        Ok(RecordMap { data, starts })
    }

    /// The map cut into blobs at content-chosen group boundaries: (bytes, ref).
    pub fn to_blobs(&self, key: &DataKey) -> Vec<(Vec<u8>, BlobRef)> {
        let threshold = ((MIN_BLOB as u128) << 64).div_euclid(AVG_BLOB as u128) as u64;
        let mut out = Vec::new();
        let mut from = 0;
        let cut = |from: &mut usize, to: usize, out: &mut Vec<(Vec<u8>, BlobRef)>| {
            let bytes = self.data[*from..to].to_vec();
            let id = key.chunk_id(&bytes);
            out.push((bytes, BlobRef { id, length: (to - *from) as u32, starts_record: true }));
            *from = to;
        };
        // Seeded from the boundary key. Where a map blob ends needs no
        // secrecy (only stability), and a keyed BLAKE3 of each group was
        // half the cost of an incremental's map.
        let seed = u64::from_le_bytes(key.boundary_key[..8].try_into().unwrap());
        for i in 0..self.len() {
            let end = self.end_of(i);
            let size = end - from;
            if size >= MAX_BLOB
                || (size >= MIN_BLOB && mix(seed, &self.data[self.starts[i]..end]) < threshold)
            {
                cut(&mut from, end, &mut out);
            }
        }
        if from < self.data.len() {
            cut(&mut from, self.data.len(), &mut out);
        }
        out
    }
}

/// A fast seeded hash of `bytes` (multiply-xorshift over 8-byte words).
fn mix(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        h = (h ^ u64::from_le_bytes(word)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 31;
    }
    h ^ (h >> 29)
}
