//! The canonical point encoding (a mirror of the host's
//! `vdr_model::canonical`), used as the record format of the log, plus the
//! ordered id type and the resume token.
//!
//! ```text
//! point   := id vcount:u32 vector* payload
//! id      := 0x00 u64 | 0x01 len:u32 utf8
//! vector  := len:u32 name-utf8 kind:u8 body
//!   kind 0 dense  : n:u32 f32*n
//!   kind 1 sparse : n:u32 u32*n f32*n
//!   kind 2 multi  : m:u32 (n:u32 f32*n)*m
//! payload := 0x00 | 0x01 len:u32 canonical-json-utf8
//! ```
//! All integers and floats little-endian.

use std::collections::BTreeMap;

use vdr_plugin_sdk::{Error, NamedVector, Point, PointId, Result, SparseVector, VectorData};

use crate::records::Location;

/// A point id with the store's order: numbers (ascending) before strings
/// (byte-wise). Export order and resume tokens follow it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IdKey {
    Num(u64),
    Str(String),
}

impl From<&PointId> for IdKey {
    fn from(id: &PointId) -> Self {
        match id {
            PointId::Num(n) => IdKey::Num(*n),
            PointId::Str(s) => IdKey::Str(s.clone()),
        }
    }
}

impl IdKey {
    pub fn to_point_id(&self) -> PointId {
        match self {
            IdKey::Num(n) => PointId::Num(*n),
            IdKey::Str(s) => PointId::Str(s.clone()),
        }
    }

    /// The resume token naming this id: `n:<decimal>` or `s:<string>`.
    pub fn to_token(&self) -> String {
        match self {
            IdKey::Num(n) => format!("n:{n}"),
            IdKey::Str(s) => format!("s:{s}"),
        }
    }

    pub fn from_token(token: &str) -> Result<Self> {
        let bad = || Error::InvalidInput(format!("invalid resume token {token:?}"));
        match token.split_once(':') {
            Some(("n", n)) => n.parse().map(IdKey::Num).map_err(|_| bad()),
            Some(("s", s)) => Ok(IdKey::Str(s.to_string())),
            _ => Err(bad()),
        }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            IdKey::Num(n) => {
                out.push(0);
                out.extend_from_slice(&n.to_le_bytes());
            }
            IdKey::Str(s) => {
                out.push(1);
                put_bytes(out, s.as_bytes());
            }
        }
    }
}

/// Bring a point to canonical form: vectors sorted by name, sparse vectors
/// sorted by index, payload as JSON with sorted keys and no whitespace.
pub fn normalize(point: &mut Point) -> Result<()> {
    point.vectors.sort_by(|a, b| a.name.cmp(&b.name));
    for v in &mut point.vectors {
        if let VectorData::Sparse(s) = &mut v.data {
            sort_sparse(s);
        }
    }
    if let Some(text) = &point.payload {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::InvalidInput(format!("payload is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(Error::InvalidInput("payload must be a JSON object".into()));
        }
        // serde_json's Map is a BTreeMap here: keys come out sorted.
        point.payload = Some(value.to_string());
    }
    Ok(())
}

fn sort_sparse(s: &mut SparseVector) {
    if s.indices.is_sorted() {
        return;
    }
    let mut pairs: Vec<(u32, f32)> =
        s.indices.iter().copied().zip(s.values.iter().copied()).collect();
    pairs.sort_by_key(|p| p.0);
    s.indices = pairs.iter().map(|p| p.0).collect();
    s.values = pairs.iter().map(|p| p.1).collect();
}

/// Append the canonical bytes of a normalised point.
pub fn encode_point(point: &Point, out: &mut Vec<u8>) {
    IdKey::from(&point.id).encode(out);
    out.extend_from_slice(&(point.vectors.len() as u32).to_le_bytes());
    for v in &point.vectors {
        put_bytes(out, v.name.as_bytes());
        match &v.data {
            VectorData::Dense(d) => {
                out.push(0);
                put_f32s(out, d);
            }
            VectorData::Sparse(s) => {
                out.push(1);
                out.extend_from_slice(&(s.indices.len() as u32).to_le_bytes());
                for i in &s.indices {
                    out.extend_from_slice(&i.to_le_bytes());
                }
                for x in &s.values {
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
            VectorData::Multi(m) => {
                out.push(2);
                out.extend_from_slice(&(m.len() as u32).to_le_bytes());
                for d in m {
                    put_f32s(out, d);
                }
            }
        }
    }
    match &point.payload {
        None => out.push(0),
        Some(p) => {
            out.push(1);
            put_bytes(out, p.as_bytes());
        }
    }
}

/// Decode a point written by [`encode_point`].
pub fn decode_point(bytes: &[u8]) -> Result<Point> {
    let mut r = Reader { bytes, pos: 0 };
    let id = r.id()?.to_point_id();
    let n = r.u32()? as usize;
    let mut vectors = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let name = r.string()?;
        let data = match r.u8()? {
            0 => VectorData::Dense(r.f32s()?),
            1 => {
                let n = r.u32()? as usize;
                let indices = (0..n).map(|_| r.u32()).collect::<Result<Vec<_>>>()?;
                let values = (0..n).map(|_| r.f32()).collect::<Result<Vec<_>>>()?;
                VectorData::Sparse(SparseVector { indices, values })
            }
            2 => {
                let m = r.u32()? as usize;
                VectorData::Multi((0..m).map(|_| r.f32s()).collect::<Result<Vec<_>>>()?)
            }
            k => return Err(corrupt(format!("unknown vector kind {k}"))),
        };
        vectors.push(NamedVector { name, data });
    }
    let payload = match r.u8()? {
        0 => None,
        1 => Some(r.string()?),
        t => return Err(corrupt(format!("unknown payload tag {t}"))),
    };
    if r.pos != bytes.len() {
        return Err(corrupt("trailing bytes after point".into()));
    }
    Ok(Point { id, vectors, payload })
}

/// Decode just the id at the start of an encoded point or id.
pub fn decode_id(bytes: &[u8]) -> Result<IdKey> {
    Reader { bytes, pos: 0 }.id()
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

fn put_f32s(out: &mut Vec<u8>, v: &[f32]) {
    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

fn corrupt(msg: String) -> Error {
    Error::Internal(format!("corrupt record in the local store: {msg}"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| corrupt("unexpected end of record".into()))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn f32s(&mut self) -> Result<Vec<f32>> {
        let n = self.u32()? as usize;
        let raw = self.take(n.checked_mul(4).ok_or_else(|| corrupt("length overflow".into()))?)?;
        Ok(raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect())
    }
    fn string(&mut self) -> Result<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| corrupt("invalid UTF-8".into()))
    }
    fn id(&mut self) -> Result<IdKey> {
        match self.u8()? {
            0 => Ok(IdKey::Num(self.u64()?)),
            1 => Ok(IdKey::Str(self.string()?)),
            t => Err(corrupt(format!("unknown id tag {t}"))),
        }
    }
}

/// `count:u64 slot*`, `slot := id | 0x02` (a freed key): the usearch key ->
/// id table of the vector indexes (key `k` is slot `k`).
pub fn encode_slot_list(slots: &[Option<IdKey>], out: &mut Vec<u8>) {
    out.extend_from_slice(&(slots.len() as u64).to_le_bytes());
    for slot in slots {
        match slot {
            Some(id) => id.encode(out),
            None => out.push(FREE_SLOT),
        }
    }
}

pub fn decode_slot_list(bytes: &[u8]) -> Result<Vec<Option<IdKey>>> {
    let mut r = Reader { bytes, pos: 0 };
    let n = r.u64()?;
    let mut slots = Vec::with_capacity(n.min(bytes.len() as u64) as usize);
    for _ in 0..n {
        if r.bytes.get(r.pos) == Some(&FREE_SLOT) {
            r.pos += 1;
            slots.push(None);
        } else {
            slots.push(Some(r.id()?));
        }
    }
    if r.pos != bytes.len() {
        return Err(corrupt("trailing bytes after the key table".into()));
    }
    Ok(slots)
}

const FREE_SLOT: u8 = 2;

/// Append `live` as `(id offset:u64 len:u32) × count` (the live map of a
/// log checkpoint, see `records`; [`decode_live_map`] reads it back).
pub fn encode_live_map(live: &BTreeMap<IdKey, Location>, out: &mut Vec<u8>) {
    for (id, at) in live {
        id.encode(out);
        out.extend_from_slice(&at.offset.to_le_bytes());
        out.extend_from_slice(&at.len.to_le_bytes());
    }
}

/// `(id offset:u64 len:u32) × count`: the live map of a log checkpoint
/// (see `records`). Every location must lie in `[min, max)`.
pub fn decode_live_map(
    bytes: &[u8],
    count: u64,
    min: u64,
    max: u64,
) -> Result<BTreeMap<IdKey, Location>> {
    let mut r = Reader { bytes, pos: 0 };
    let mut live = BTreeMap::new();
    for _ in 0..count {
        let id = r.id()?;
        let at = Location { offset: r.u64()?, len: r.u32()? };
        if at.offset < min || at.offset.saturating_add(at.len as u64) > max {
            return Err(corrupt(format!("checkpoint location {} past the log", at.offset)));
        }
        if live.insert(id, at).is_some() {
            return Err(corrupt("checkpoint names an id twice".into()));
        }
    }
    if r.pos != bytes.len() {
        return Err(corrupt("trailing bytes after the checkpoint".into()));
    }
    Ok(live)
}
