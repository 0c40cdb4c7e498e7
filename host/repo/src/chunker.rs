//! Record-aware content-defined chunking.
//!
//! A chunk boundary only ever falls between two point frames (or inside a
//! point longer than `max_size`), and whether a point ends a chunk depends on
//! a keyed hash of the point's **id**, not of its content. So changing a
//! point's vector or payload dirties only the chunk holding it, and inserting
//! or deleting a point moves at most the boundaries next to it.

use serde::{Deserialize, Serialize};

/// Chunking parameters, fixed per repository so chunks line up across backups.
///
/// A point ends its chunk when the chunk then holds at least `min_size`
/// bytes and the point's boundary hash (a u64) is below
/// `2^64 * min_size / avg_size`; a point is never added to a non-empty chunk
/// if that would take it past `max_size`; a point longer than `max_size` is
/// cut into `max_size` pieces, each its own chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    pub min_size: u32,
    pub avg_size: u32,
    pub max_size: u32,
}

impl Default for ChunkerParams {
    fn default() -> Self {
        ChunkerParams { min_size: 3 << 10, avg_size: 6 << 10, max_size: 64 << 10 }
    }
}

/// The chunks of a stream segment: `data[ends[i-1]..ends[i]]` is chunk `i`.
/// `starts_record[i]` tells whether chunk `i` begins with a frame (false only
/// for the second and later pieces of a point longer than `max_size`).
pub struct Segment {
    pub data: Vec<u8>,
    pub ends: Vec<usize>,
    pub starts_record: Vec<bool>,
}

/// Accumulates frames into segments of whole chunks (~`segment_size` bytes each).
pub struct RecordChunker {
    params: ChunkerParams,
    boundary_key: [u8; 32],
    threshold: u64,
    segment_size: usize,
    seg: Segment,
    chunk_start: usize,
    /// Chunks cut so far.
    pub chunks: u64,
}

impl RecordChunker {
    pub fn new(params: ChunkerParams, boundary_key: [u8; 32], segment_size: usize) -> Self {
        let threshold = if params.avg_size <= params.min_size {
            u64::MAX
        } else {
            ((params.min_size as u128) << 64).div_euclid(params.avg_size as u128) as u64
        };
        RecordChunker {
            params,
            boundary_key,
            threshold,
            segment_size,
            seg: Self::empty_segment(segment_size),
            chunk_start: 0,
            chunks: 0,
        }
    }
    fn empty_segment(size: usize) -> Segment {
        Segment {
            data: Vec::with_capacity(size + (256 << 10)),
            ends: Vec::new(),
            starts_record: Vec::new(),
        }
    }
    /// The buffer to append exactly one frame to; call `frame_done` after.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.seg.data
    }
    fn cut(&mut self, at: usize, starts_record: bool) {
        self.seg.ends.push(at);
        self.seg.starts_record.push(starts_record);
        self.chunk_start = at;
        self.chunks += 1;
    }
    /// The frame appended since `start` is complete. Returns a full segment
    /// when one is ready.
    pub fn frame_done(&mut self, start: usize) -> Option<Segment> {
        let max = self.params.max_size as usize;
        let min = self.params.min_size as usize;
        let end = self.seg.data.len();
        if start > self.chunk_start && end - self.chunk_start > max {
            self.cut(start, true);
        }
        let size = end - self.chunk_start;
        if size > max {
            // One long point: max_size pieces, then the rest.
            let mut first = true;
            while end - self.chunk_start > max {
                let at = self.chunk_start + max;
                self.cut(at, first);
                first = false;
            }
            self.cut(end, false);
        } else if size >= max
            || (size >= min
                && boundary_hash(&self.boundary_key, &self.seg.data[start..end]) < self.threshold)
        {
            self.cut(end, true);
        }
        if self.chunk_start == end && end >= self.segment_size {
            self.chunk_start = 0;
            return Some(std::mem::replace(&mut self.seg, Self::empty_segment(self.segment_size)));
        }
        None
    }
    /// End the current chunk here, whatever the boundary hash says (an
    /// incremental backup rebuilds one stretch of chunks at a time). Returns
    /// a full segment when one is ready.
    pub fn end_chunk(&mut self) -> Option<Segment> {
        let end = self.seg.data.len();
        if self.chunk_start < end {
            self.cut(end, true);
        }
        if end >= self.segment_size {
            self.chunk_start = 0;
            return Some(std::mem::replace(&mut self.seg, Self::empty_segment(self.segment_size)));
        }
        None
    }
    /// The last segment of the stream (may be empty).
    pub fn finish(&mut self) -> Segment {
        let end = self.seg.data.len();
        if self.chunk_start < end {
            self.cut(end, true);
        }
        self.chunk_start = 0;
        std::mem::replace(&mut self.seg, Self::empty_segment(0))
    }
}

/// The keyed hash deciding whether a frame ends a chunk: BLAKE3 keyed with the
/// boundary key over the canonical encoding of the point's id (the bytes after
/// the frame's length: `0x00 u64` or `0x01 len:u32 utf8`), first 8 bytes as u64 LE.
pub fn boundary_hash(key: &[u8; 32], frame: &[u8]) -> u64 {
    let id = frame_id(frame).unwrap_or(frame);
    let h = blake3::keyed_hash(key, id);
    u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap())
}

/// The canonical id bytes opening a frame (`len:u32 point`).
pub(crate) fn frame_id(frame: &[u8]) -> Option<&[u8]> {
    let point = frame.get(4..)?;
    point.get(..crate::recmap::id_len(point)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(n: usize, seed: u8) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let body_len = 100 + (i * 37) % 900;
                let mut f = Vec::new();
                f.extend_from_slice(&((9 + body_len) as u32).to_le_bytes());
                f.push(0);
                f.extend_from_slice(&(i as u64).to_le_bytes());
                f.extend(std::iter::repeat_n(seed, body_len));
                f
            })
            .collect()
    }

    fn chunk_all(frames: &[Vec<u8>], params: ChunkerParams) -> Vec<Vec<u8>> {
        let mut c = RecordChunker::new(params, [7; 32], 10_000);
        let mut segs = Vec::new();
        for f in frames {
            let start = c.buffer().len();
            c.buffer().extend_from_slice(f);
            segs.extend(c.frame_done(start));
        }
        segs.push(c.finish());
        let mut out = Vec::new();
        for s in segs {
            let mut from = 0;
            for e in s.ends {
                out.push(s.data[from..e].to_vec());
                from = e;
            }
            assert_eq!(from, s.data.len());
        }
        out
    }

    #[test]
    fn changing_one_point_changes_only_its_chunk() {
        let params = ChunkerParams { min_size: 1000, avg_size: 2000, max_size: 8000 };
        let a = frames(3000, 1);
        let mut b = a.clone();
        let last = b[1500].len() - 1;
        b[1500][last] = 2;
        let ca = chunk_all(&a, params);
        let cb = chunk_all(&b, params);
        assert_eq!(ca.concat(), a.concat());
        assert_eq!(ca.len(), cb.len());
        assert_eq!(ca.iter().zip(&cb).filter(|(x, y)| x != y).count(), 1);
        let avg = a.concat().len() / ca.len();
        assert!((1500..3000).contains(&avg), "{avg}");
    }

    #[test]
    fn long_points_are_cut_at_max_size() {
        let params = ChunkerParams { min_size: 100, avg_size: 200, max_size: 1000 };
        let mut f = frames(5, 1);
        f[2] = [&(3009u32).to_le_bytes()[..], &[0; 9], &[5; 3000]].concat();
        let c = chunk_all(&f, params);
        assert_eq!(c.concat(), f.concat());
        assert!(c.iter().all(|x| x.len() <= 1000));
    }
}
