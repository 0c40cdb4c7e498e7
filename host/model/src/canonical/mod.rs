//! The canonical encoding of a point: the bytes vdr stores, hashes and
//! compares, the same whichever engine the point came from.
//!
//! Normalisation: vectors sorted by name; sparse vectors sorted by index;
//! the payload re-serialised as JSON with object keys sorted and no
//! whitespace. Floats keep their exact bits (little-endian IEEE 754).
//!
//! Layout (all integers little-endian):
//! ```text
//! point   := id vcount:u32 vector* payload
//! id      := 0x00 u64 | 0x01 len:u32 utf8
//! vector  := len:u32 name-utf8 kind:u8 body
//!   kind 0 dense  : n:u32 f32*n
//!   kind 1 sparse : n:u32 u32*n f32*n
//!   kind 2 multi  : m:u32 (n:u32 f32*n)*m
//! payload := 0x00 | 0x01 len:u32 canonical-json-utf8
//! ```
//! A stream of points is a sequence of frames `len:u32 point`.

mod json_check;

use crate::{Error, NamedVector, Point, PointId, Result, SparseVector, VectorData};

/// Bring a point to canonical form in place.
pub fn normalize(point: &mut Point) -> Result<()> {
    point.vectors.sort_by(|a, b| a.name.cmp(&b.name));
    for v in &mut point.vectors {
        if let VectorData::Sparse(s) = &mut v.data {
            sort_sparse(s);
        }
    }
    if let Some(p) = &point.payload
        && !json_check::is_canonical(p)
    {
        point.payload = Some(canonical_json(p)?);
    }
    Ok(())
}

/// JSON text with sorted keys and no whitespace.
pub fn canonical_json(text: &str) -> Result<String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| Error::invalid(format!("payload is not valid JSON: {e}")))?;
    // serde_json's Map is a BTreeMap (no preserve_order feature): keys sorted.
    Ok(value.to_string())
}

fn sort_sparse(s: &mut SparseVector) {
    if s.indices.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    let mut pairs: Vec<(u32, f32)> =
        s.indices.iter().copied().zip(s.values.iter().copied()).collect();
    pairs.sort_by_key(|p| p.0);
    s.indices = pairs.iter().map(|p| p.0).collect();
    s.values = pairs.iter().map(|p| p.1).collect();
}

/// Append the canonical bytes of an id (how every point's bytes begin):
/// `0x00 u64` or `0x01 len:u32 utf8`.
pub fn encode_id(id: &PointId, out: &mut Vec<u8>) {
    match id {
        PointId::Num(n) => {
            out.push(0);
            out.extend_from_slice(&n.to_le_bytes());
        }
        PointId::Str(s) => {
            out.push(1);
            put_bytes(out, s.as_bytes());
        }
    }
}

/// The id whose canonical bytes are exactly `bytes`.
pub fn decode_id(bytes: &[u8]) -> Result<PointId> {
    let mut r = Reader { bytes, pos: 0 };
    let id = r.id()?;
    if r.pos != bytes.len() {
        return Err(corrupt("trailing bytes after a point id".into()));
    }
    Ok(id)
}

/// Append the canonical bytes of an already-normalised point.
pub fn encode(point: &Point, out: &mut Vec<u8>) {
    encode_id(&point.id, out);
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

/// Append one frame (`len:u32 point`) to a stream.
pub fn encode_frame(point: &Point, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    encode(point, out);
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

/// BLAKE3 of the canonical bytes of a normalised point.
pub fn digest(point: &Point) -> [u8; 32] {
    let mut buf = Vec::with_capacity(256);
    encode(point, &mut buf);
    *blake3::hash(&buf).as_bytes()
}

/// An order-independent digest of a set of points: the lane-wise wrapping sum
/// of their BLAKE3 digests (a multiset hash), so that engines returning
/// points in different orders agree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetDigest {
    lanes: [u64; 4],
    count: u64,
}

impl SetDigest {
    pub fn add(&mut self, point_digest: &[u8; 32]) {
        for (i, lane) in self.lanes.iter_mut().enumerate() {
            let v = u64::from_le_bytes(point_digest[i * 8..i * 8 + 8].try_into().unwrap());
            *lane = lane.wrapping_add(v);
        }
        self.count += 1;
    }
    pub fn count(&self) -> u64 {
        self.count
    }
    pub fn hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for lane in self.lanes {
            for b in lane.to_le_bytes() {
                s.push_str(&format!("{b:02x}"));
            }
        }
        s
    }
}

/// Decode one point from canonical bytes.
pub fn decode(bytes: &[u8]) -> Result<Point> {
    let mut r = Reader { bytes, pos: 0 };
    let id = r.id()?;
    let n = r.u32()? as usize;
    let mut vectors = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        let name = r.string()?;
        let data = match r.u8()? {
            0 => VectorData::Dense(r.f32s()?),
            1 => {
                let n = r.u32()? as usize;
                let mut indices = Vec::with_capacity(n.min(1 << 20));
                for _ in 0..n {
                    indices.push(r.u32()?);
                }
                let mut values = Vec::with_capacity(n.min(1 << 20));
                for _ in 0..n {
                    values.push(r.f32()?);
                }
                VectorData::Sparse(SparseVector { indices, values })
            }
            2 => {
                let m = r.u32()? as usize;
                let mut rows = Vec::with_capacity(m.min(1 << 16));
                for _ in 0..m {
                    rows.push(r.f32s()?);
                }
                VectorData::Multi(rows)
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

/// Split a stream of frames into points. Fails on a truncated frame.
pub fn decode_frames(mut bytes: &[u8], mut f: impl FnMut(Point) -> Result<()>) -> Result<()> {
    while !bytes.is_empty() {
        if bytes.len() < 4 {
            return Err(corrupt("truncated frame header".into()));
        }
        let len = u32::from_le_bytes(bytes[..4].try_into().unwrap()) as usize;
        if bytes.len() < 4 + len {
            return Err(corrupt("truncated frame".into()));
        }
        f(decode(&bytes[4..4 + len])?)?;
        bytes = &bytes[4 + len..];
    }
    Ok(())
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

fn put_f32s(out: &mut Vec<u8>, v: &[f32]) {
    out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    out.reserve(v.len() * 4);
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

fn corrupt(msg: String) -> Error {
    Error::new(crate::ErrorKind::Protocol, format!("malformed point encoding: {msg}"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    /// A point id (`encode_id`'s bytes).
    fn id(&mut self) -> Result<PointId> {
        Ok(match self.u8()? {
            0 => PointId::Num(self.u64()?),
            1 => PointId::Str(self.string()?),
            t => return Err(corrupt(format!("unknown id tag {t}"))),
        })
    }
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| corrupt("unexpected end of point".into()))?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Point {
        Point {
            id: PointId::Str("a-b".into()),
            vectors: vec![
                NamedVector {
                    name: "z".into(),
                    data: VectorData::Dense(vec![1.0, -0.5, f32::MIN_POSITIVE]),
                },
                NamedVector {
                    name: "a".into(),
                    data: VectorData::Sparse(SparseVector {
                        indices: vec![9, 2],
                        values: vec![0.9, 0.2],
                    }),
                },
                NamedVector {
                    name: "m".into(),
                    data: VectorData::Multi(vec![vec![1.0], vec![2.0, 3.0]]),
                },
            ],
            payload: Some(r#"{"b": 1, "a": {"y": "ü", "x": [1, 2]}}"#.into()),
        }
    }

    #[test]
    fn round_trips_a_normalised_point_exactly() {
        let mut p = sample();
        normalize(&mut p).unwrap();
        let mut buf = Vec::new();
        encode(&p, &mut buf);
        assert_eq!(decode(&buf).unwrap(), p);
    }

    #[test]
    fn normalisation_makes_digest_independent_of_order_and_key_order() {
        let mut a = sample();
        let mut b = sample();
        b.vectors.reverse();
        b.payload = Some(r#"{"a":{"x":[1,2],"y":"ü"},"b":1}"#.into());
        normalize(&mut a).unwrap();
        normalize(&mut b).unwrap();
        assert_eq!(digest(&a), digest(&b));
        assert_eq!(a.payload.as_deref(), Some(r#"{"a":{"x":[1,2],"y":"ü"},"b":1}"#));
        let VectorData::Sparse(s) = &a.vectors[0].data else { panic!("sparse first") };
        assert_eq!(s.indices, vec![2, 9]);
        assert_eq!(s.values, vec![0.2, 0.9]);
    }

    #[test]
    fn set_digest_ignores_order_but_not_content() {
        let (d1, d2) = ([1u8; 32], [2u8; 32]);
        let (mut x, mut y, mut z) =
            (SetDigest::default(), SetDigest::default(), SetDigest::default());
        x.add(&d1);
        x.add(&d2);
        y.add(&d2);
        y.add(&d1);
        z.add(&d1);
        z.add(&d1);
        assert_eq!(x, y);
        assert_ne!(x, z);
    }

    #[test]
    fn truncated_frames_are_errors() {
        let mut p = sample();
        normalize(&mut p).unwrap();
        let mut buf = Vec::new();
        encode_frame(&p, &mut buf);
        for cut in [1, 3, 5, buf.len() - 1] {
            assert!(decode_frames(&buf[..cut], |_| Ok(())).is_err(), "cut at {cut}");
        }
        let mut n = 0;
        decode_frames(&buf, |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 1);
    }
}
