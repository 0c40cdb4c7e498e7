//! Faiss's on-disk format (faiss/impl/index_write.cpp), little-endian, for
//! the kinds whose vectors can be read back exactly:
//!
//! ```text
//! header := fourcc d:i32 ntotal:i64 dummy:i64 dummy:i64 is_trained:u8 metric:i32
//!           [metric_arg:f32 when metric > 1]
//! IxF2 / IxFI (IndexFlatL2 / IndexFlatIP) := header count:u64 f32*count   (count = d * ntotal)
//! IxMp (IndexIDMap) := header <inner index> n:u64 i64*n                  (the id map)
//! IHNf (IndexHNSWFlat) := header <HNSW graph> <storage: IxF2 / IxFI>      (storage last)
//! ```
//!
//! Everything else (IVF, PQ, ...) is an opaque kind here.

use vdr_plugin_sdk::prelude::*;

pub const METRIC_IP: i32 = 0;
pub const METRIC_L2: i32 = 1;
const HEADER_LEN: usize = 4 + 4 + 8 + 8 + 8 + 1 + 4;
/// The value faiss writes into both dummy fields.
const DUMMY: i64 = 1 << 20;

/// The common header of every index.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub fourcc: [u8; 4],
    pub d: usize,
    pub ntotal: usize,
    pub metric: i32,
}

/// Vectors (row-major, `d` floats each) and how they are keyed.
#[derive(Clone, Debug, PartialEq)]
pub enum Layout {
    /// IxF2 / IxFI: the id of a vector is its position.
    Flat,
    /// IxMp over a flat index: explicit ids.
    IdMap,
    /// IHNf: vectors from its flat storage, ids are positions; the graph is
    /// not modelled, so the file is kept whole (native snapshot) for an exact restore.
    Hnsw,
}

#[derive(Clone, Debug)]
pub struct Parsed {
    pub header: Header,
    pub layout: Layout,
    pub ids: Vec<u64>,
    pub vectors: Vec<f32>,
}

fn corrupt(what: &str) -> Error {
    Error::Internal(format!("not a readable faiss index: {what}"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| corrupt("truncated"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn count(&mut self) -> Result<usize> {
        usize::try_from(self.i64()?).map_err(|_| corrupt("negative count"))
    }

    fn header(&mut self) -> Result<Header> {
        let fourcc: [u8; 4] = self.take(4)?.try_into().expect("4 bytes");
        let d = usize::try_from(self.i32()?).map_err(|_| corrupt("negative d"))?;
        let ntotal = self.count()?;
        self.i64()?;
        self.i64()?;
        self.take(1)?;
        let metric = self.i32()?;
        if metric > 1 {
            self.take(4)?;
        }
        Ok(Header { fourcc, d, ntotal, metric })
    }

    /// An IxF2 / IxFI body: its vectors.
    fn flat(&mut self) -> Result<(Header, Vec<f32>)> {
        let h = self.header()?;
        if &h.fourcc != b"IxF2" && &h.fourcc != b"IxFI" {
            return Err(corrupt("expected a flat index (IxF2 / IxFI)"));
        }
        let count = self.count()?;
        if count != h.d * h.ntotal {
            return Err(corrupt("flat vector count does not match d * ntotal"));
        }
        let raw = self.take(count.checked_mul(4).ok_or_else(|| corrupt("size"))?)?;
        let vectors =
            raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().expect("4"))).collect();
        Ok((h, vectors))
    }
}

/// The fourcc of an index file.
pub fn fourcc(bytes: &[u8]) -> Result<[u8; 4]> {
    bytes.get(..4).map(|f| f.try_into().expect("4 bytes")).ok_or_else(|| corrupt("too short"))
}

/// Only the header (any kind).
pub fn header(bytes: &[u8]) -> Result<Header> {
    Reader { bytes, at: 0 }.header()
}

/// Vectors and ids of a readable kind; `None` for kinds that are opaque here.
pub fn parse(bytes: &[u8]) -> Result<Option<Parsed>> {
    let mut r = Reader { bytes, at: 0 };
    let parsed = match &fourcc(bytes)? {
        b"IxF2" | b"IxFI" => {
            let (header, vectors) = r.flat()?;
            let ids = (0..header.ntotal as u64).collect();
            Parsed { header, layout: Layout::Flat, ids, vectors }
        }
        b"IxMp" => {
            let header = r.header()?;
            if !matches!(bytes.get(r.at..r.at + 4), Some(b"IxF2" | b"IxFI")) {
                return Ok(None); // an id map over a non-flat index
            }
            let (inner, vectors) = r.flat()?;
            let n = r.count()?;
            if n != inner.ntotal || inner.d != header.d {
                return Err(corrupt("id map does not match its inner index"));
            }
            let ids = (0..n)
                .map(|_| r.i64().and_then(|i| u64::try_from(i).map_err(|_| corrupt("negative id"))))
                .collect::<Result<_>>()?;
            Parsed { header, layout: Layout::IdMap, ids, vectors }
        }
        b"IHNf" => {
            let header = r.header()?;
            // The storage is the file's last part and its size is known from
            // the header: no need to walk the graph.
            let storage = HEADER_LEN + 8 + 4 * header.d * header.ntotal;
            let start = bytes.len().checked_sub(storage).ok_or_else(|| corrupt("truncated"))?;
            let mut s = Reader { bytes, at: start };
            let (inner, vectors) = s.flat()?;
            if inner.d != header.d || inner.ntotal != header.ntotal {
                return Err(corrupt("HNSW storage does not match its index"));
            }
            let ids = (0..header.ntotal as u64).collect();
            Parsed { header, layout: Layout::Hnsw, ids, vectors }
        }
        _ => return Ok(None),
    };
    Ok(Some(parsed))
}

fn put_header(out: &mut Vec<u8>, fourcc: &[u8; 4], d: usize, ntotal: usize, metric: i32) {
    out.extend_from_slice(fourcc);
    out.extend_from_slice(&(d as i32).to_le_bytes());
    out.extend_from_slice(&(ntotal as i64).to_le_bytes());
    out.extend_from_slice(&DUMMY.to_le_bytes());
    out.extend_from_slice(&DUMMY.to_le_bytes());
    out.push(1); // is_trained: flat indexes always are
    out.extend_from_slice(&metric.to_le_bytes());
}

fn put_flat(out: &mut Vec<u8>, d: usize, metric: i32, vectors: &[f32]) {
    let fourcc = if metric == METRIC_IP { b"IxFI" } else { b"IxF2" };
    put_header(out, fourcc, d, vectors.len() / d.max(1), metric);
    out.extend_from_slice(&(vectors.len() as u64).to_le_bytes());
    for v in vectors {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// An IxF2 / IxFI file.
pub fn write_flat(d: usize, metric: i32, vectors: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + 8 + vectors.len() * 4);
    put_flat(&mut out, d, metric, vectors);
    out
}

/// An IxMp file over an IxF2 / IxFI index.
pub fn write_idmap(d: usize, metric: i32, ids: &[u64], vectors: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * HEADER_LEN + 16 + vectors.len() * 4 + ids.len() * 8);
    put_header(&mut out, b"IxMp", d, ids.len(), metric);
    put_flat(&mut out, d, metric, vectors);
    out.extend_from_slice(&(ids.len() as u64).to_le_bytes());
    for id in ids {
        out.extend_from_slice(&(*id as i64).to_le_bytes());
    }
    out
}
