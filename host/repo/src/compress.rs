//! Per-chunk compression: raw, zstd, or record-aware float planes.
//!
//! Embeddings barely compress as bytes (~7 %), but the four byte planes of
//! their f32 values differ: the sign/exponent plane compresses well, the
//! mantissa planes are noise. Chunks hold whole point frames, so the codec
//! `RECORDS` pulls every dense/multi vector's f32s out of the frames (exact
//! alignment, whatever the payload lengths), splits them into planes and
//! compresses only the parts a sample showed to pay; the rest (ids, headers,
//! payload JSON) is compressed as one "meta" stream.
//!
//! What pays is decided once per backup segment of the stream (~8 MiB) from a
//! sample ([`Plan`]), so no coder runs over incompressible bulk. Planes that
//! pay get a Huffman code of their own (`huffman`), the meta stream zstd.

use std::cell::RefCell;
use vdr_model::Result;

use crate::format::corrupt;

pub const RAW: u8 = 0;
pub const ZSTD: u8 = 1;
pub const RECORDS: u8 = 2;
/// Part mode of the record codec: a `huffman` part (0 raw, 1 zstd).
const PART_HUFFMAN: u8 = 2;

/// A part is compressed only if its sample shrinks below this fraction.
const WORTH_IT: f64 = 0.95;
const SAMPLE: usize = 64 << 10;

/// Which parts of a segment's chunks are worth compressing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Plan {
    pub level: i32,
    /// Planes get `huffman` parts (repository format 3), else zstd.
    pub huffman: bool,
    /// Whole-chunk zstd, for chunks that are not whole frames.
    pub plain: bool,
    pub meta: bool,
    pub planes: [bool; 4],
}

impl Plan {
    pub fn raw() -> Plan {
        Plan::default()
    }
    /// Sample up to 64 KiB of whole chunks of a segment.
    pub fn sample(chunks: &[&[u8]], level: i32, huffman: bool) -> Plan {
        if level == 0 {
            return Plan::raw();
        }
        let mut split = Split::default();
        let mut plain = Vec::new();
        for c in chunks {
            if plain.len() >= SAMPLE {
                break;
            }
            plain.extend_from_slice(c);
            let _ = split_records(c, &mut split);
        }
        let kinds = Kinds { level, huffman };
        let pays = |data: &[u8], kind| data.len() >= 64 && kinds.ratio(data, kind) <= WORTH_IT;
        let planes = if split.floats() >= 64 {
            let p = &split.planes;
            if std::env::var("VDR_TRACE_PLAN").is_ok() {
                eprintln!(
                    "plan sample: meta {} B ratio {:.3}; planes {:.3} {:.3} {:.3} {:.3}",
                    split.meta.len(),
                    kinds.ratio(&split.meta, Kind::Bytes),
                    kinds.ratio(&p[0], Kind::Plane),
                    kinds.ratio(&p[1], Kind::Plane),
                    kinds.ratio(&p[2], Kind::Plane),
                    kinds.ratio(&p[3], Kind::Plane)
                );
            }
            p.each_ref().map(|p| pays(p, Kind::Plane))
        } else {
            [false; 4]
        };
        Plan {
            level,
            huffman,
            plain: pays(&plain, Kind::Bytes),
            meta: pays(&split.meta, Kind::Bytes),
            planes,
        }
    }
}

/// What a part holds, which decides its coder.
///
/// Float byte planes are bytes with a skewed histogram and few repeats: an
/// order-0 Huffman code (`huffman`) stores less of them than zstd, faster.
/// Repositories of format 2 cannot hold Huffman parts; there planes get
/// zstd with a minimum match of 7 (short matches cost more than the literals
/// they replace: 0.385 of MiniLM's sign/exponent plane instead of 0.436).
///
/// Small parts (a chunk's meta stream: ids, headers, short payloads) are
/// zstd's, but building a literal table costs more than it saves there. On
/// ~230 B metas, zstd's level -1 (no Huffman literals) stores 0.489 instead
/// of level 1's 0.460 in a third of the time. Used at the default levels
/// only; a level above 3 asks for size over speed. (Figures: `bench` at the
/// end of this file.)
#[derive(Clone, Copy)]
enum Kind {
    Bytes,
    Small,
    Plane,
}

const SMALL_PART: usize = 1 << 10;
const SMALL_LEVEL: i32 = -1;

impl Kind {
    fn of_bytes(data: &[u8], level: i32) -> Kind {
        if data.len() < SMALL_PART && (1..=3).contains(&level) { Kind::Small } else { Kind::Bytes }
    }
}

/// How a plan compresses each kind of part.
#[derive(Clone, Copy)]
struct Kinds {
    level: i32,
    huffman: bool,
}

impl Kinds {
    /// `(part mode, stored)` if compressing `data` pays at all.
    fn compress(&self, data: &[u8], kind: Kind) -> Option<(u8, Vec<u8>)> {
        match kind {
            Kind::Plane if self.huffman => crate::huffman::encode(data).map(|h| (PART_HUFFMAN, h)),
            _ => zstd(data, self.level, kind).map(|z| (ZSTD, z)),
        }
    }
    fn ratio(&self, data: &[u8], kind: Kind) -> f64 {
        match self.compress(data, kind) {
            Some((_, z)) => z.len() as f64 / data.len().max(1) as f64,
            None => 1.0,
        }
    }
}

thread_local! {
    /// Per `Kind`, a compressor and its level.
    static COMPRESSORS: RefCell<[Option<(i32, zstd::bulk::Compressor<'static>)>; 3]> =
        const { RefCell::new([None, None, None]) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

fn zstd(data: &[u8], level: i32, kind: Kind) -> Option<Vec<u8>> {
    let level = if let Kind::Small = kind { SMALL_LEVEL } else { level };
    COMPRESSORS.with(|c| {
        let slot = &mut c.borrow_mut()[kind as usize];
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            let mut c = zstd::bulk::Compressor::new(level).ok()?;
            if let Kind::Plane = kind {
                c.set_parameter(zstd::zstd_safe::CParameter::MinMatch(7)).ok()?;
            }
            *slot = Some((level, c));
        }
        let z = slot.as_mut().unwrap().1.compress(data).ok()?;
        (z.len() < data.len()).then_some(z)
    })
}

fn unzstd(what: &dyn std::fmt::Display, data: &[u8], raw_len: usize) -> Result<Vec<u8>> {
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = Some(
                zstd::bulk::Decompressor::new().map_err(|e| corrupt(what, format!("zstd: {e}")))?,
            );
        }
        let out = d
            .as_mut()
            .unwrap()
            .decompress(data, raw_len)
            .map_err(|e| corrupt(what, format!("zstd: {e}")))?;
        if out.len() != raw_len {
            return Err(corrupt(what, "zstd part has the wrong length"));
        }
        Ok(out)
    })
}

/// Encode a chunk following `plan`, appending `codec body` to `out`.
pub fn encode_into(data: &[u8], plan: &Plan, out: &mut Vec<u8>) {
    let start = out.len();
    if plan.meta || plan.planes.iter().any(|p| *p) {
        let mut split = Split::for_chunk(data.len());
        if split_records(data, &mut split).is_some() {
            out.push(RECORDS);
            out.extend_from_slice(&(split.floats() as u32).to_le_bytes());
            let meta_kind = Kind::of_bytes(&split.meta, plan.level);
            let parts = std::iter::once((&split.meta, plan.meta, meta_kind))
                .chain(split.planes.iter().zip(plan.planes).map(|(p, on)| (p, on, Kind::Plane)));
            let bodies: Vec<(u8, std::borrow::Cow<[u8]>)> = parts
                .map(|(data, on, kind)| {
                    let kinds = Kinds { level: plan.level, huffman: plan.huffman };
                    match on.then(|| kinds.compress(data, kind)).flatten() {
                        Some((mode, z)) => (mode, std::borrow::Cow::Owned(z)),
                        None => (RAW, std::borrow::Cow::Borrowed(&data[..])),
                    }
                })
                .collect();
            for (mode, body) in &bodies {
                out.push(*mode);
                out.extend_from_slice(&(body.len() as u32).to_le_bytes());
            }
            for (_, body) in &bodies {
                out.extend_from_slice(body);
            }
            if out.len() - start < data.len() + 1 {
                return;
            }
            out.truncate(start);
        }
    } else if plan.plain
        && let Some(z) = zstd(data, plan.level, Kind::Bytes)
    {
        out.push(ZSTD);
        out.extend_from_slice(&z);
        return;
    }
    out.push(RAW);
    out.extend_from_slice(data);
}

/// Decode a chunk of `raw_len` bytes; `what` names the blob in errors.
pub fn decode(what: &dyn std::fmt::Display, stored: &[u8], raw_len: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(raw_len);
    decode_into(what, stored, raw_len, &mut out)?;
    Ok(out)
}

/// [`decode`], appending the chunk to `out` (restore decodes a unit's
/// chunks back to back, without a buffer each). On error `out` is as it was.
pub fn decode_into(
    what: &dyn std::fmt::Display,
    stored: &[u8],
    raw_len: usize,
    out: &mut Vec<u8>,
) -> Result<()> {
    let start = out.len();
    let decoded = (|| {
        let (&codec, body) = stored.split_first().ok_or_else(|| corrupt(what, "empty blob"))?;
        match codec {
            RAW => out.extend_from_slice(body),
            ZSTD => out.extend_from_slice(&unzstd(what, body, raw_len)?),
            RECORDS => decode_records(what, body, raw_len, out)?,
            c => return Err(corrupt(what, format!("unknown codec {c}"))),
        }
        let got = out.len() - start;
        if got != raw_len {
            return Err(corrupt(what, format!("decodes to {got} bytes, index says {raw_len}")));
        }
        Ok(())
    })();
    if decoded.is_err() {
        out.truncate(start);
    }
    decoded
}

fn decode_records(
    what: &dyn std::fmt::Display,
    body: &[u8],
    raw_len: usize,
    out: &mut Vec<u8>,
) -> Result<()> {
    let bad = || corrupt(what, "truncated record codec header");
    let n = u32::from_le_bytes(body.get(..4).ok_or_else(bad)?.try_into().unwrap()) as usize;
    let meta_len = raw_len.checked_sub(n * 4).ok_or_else(bad)?;
    let head = body.get(4..29).ok_or_else(bad)?;
    let mut pos = 29;
    let mut parts = Vec::with_capacity(5);
    for k in 0..5 {
        let mode = head[k * 5];
        let len = u32::from_le_bytes(head[k * 5 + 1..k * 5 + 5].try_into().unwrap()) as usize;
        let stored = body.get(pos..pos + len).ok_or_else(|| corrupt(what, "truncated part"))?;
        pos += len;
        let want = if k == 0 { meta_len } else { n };
        parts.push(match mode {
            RAW if stored.len() == want => std::borrow::Cow::Borrowed(stored),
            RAW => return Err(corrupt(what, "raw part has the wrong length")),
            ZSTD => std::borrow::Cow::Owned(unzstd(what, stored, want)?),
            PART_HUFFMAN => std::borrow::Cow::Owned(
                crate::huffman::decode(stored, want)
                    .ok_or_else(|| corrupt(what, "Huffman part does not decode"))?,
            ),
            m => return Err(corrupt(what, format!("unknown part mode {m}"))),
        });
    }
    if pos != body.len() {
        return Err(corrupt(what, "trailing bytes after the parts"));
    }
    out.reserve(raw_len);
    let mut m = Merge {
        meta: &parts[0],
        planes: [&parts[1], &parts[2], &parts[3], &parts[4]],
        mpos: 0,
        fpos: 0,
        base: out.len(),
        out,
    };
    walk(&mut m).ok_or_else(|| corrupt(what, "record codec does not reassemble"))?;
    if m.mpos != m.meta.len() || m.fpos != n {
        return Err(corrupt(what, "record codec parts not consumed exactly"));
    }
    Ok(())
}

/// A chunk's structural bytes, and its f32s as four byte planes.
#[derive(Default)]
struct Split {
    meta: Vec<u8>,
    planes: [Vec<u8>; 4],
}

impl Split {
    fn for_chunk(len: usize) -> Split {
        Split {
            meta: Vec::with_capacity(len / 8),
            planes: std::array::from_fn(|_| Vec::with_capacity(len / 4)),
        }
    }
    /// The number of f32s split out.
    fn floats(&self) -> usize {
        self.planes[0].len()
    }
}

/// The walker's view of a chunk: structural bytes, and runs of f32s.
trait Frames {
    /// The next `k` structural bytes (copied to the output as a side effect).
    fn take(&mut self, k: usize) -> Option<&[u8]>;
    fn floats(&mut self, n: usize) -> Option<()>;
    fn at_end(&self) -> bool;
    fn position(&self) -> usize;
}

fn u32_of(b: &[u8]) -> u32 {
    u32::from_le_bytes(b[..4].try_into().unwrap())
}

/// Walk whole frames (`len:u32 point`, canonical.rs) to the end of the chunk.
fn walk(f: &mut impl Frames) -> Option<()> {
    while !f.at_end() {
        let len = u32_of(f.take(4)?) as usize;
        let start = f.position();
        match f.take(1)?[0] {
            0 => {
                f.take(8)?;
            }
            1 => {
                let l = u32_of(f.take(4)?) as usize;
                f.take(l)?;
            }
            _ => return None,
        }
        let vcount = u32_of(f.take(4)?);
        for _ in 0..vcount {
            let l = u32_of(f.take(4)?) as usize;
            f.take(l)?;
            match f.take(1)?[0] {
                0 => {
                    let n = u32_of(f.take(4)?) as usize;
                    f.floats(n)?;
                }
                1 => {
                    let n = u32_of(f.take(4)?) as usize;
                    f.take(n.checked_mul(8)?)?;
                }
                2 => {
                    let m = u32_of(f.take(4)?);
                    for _ in 0..m {
                        let n = u32_of(f.take(4)?) as usize;
                        f.floats(n)?;
                    }
                }
                _ => return None,
            }
        }
        match f.take(1)?[0] {
            0 => {}
            1 => {
                let l = u32_of(f.take(4)?) as usize;
                f.take(l)?;
            }
            _ => return None,
        }
        if f.position() - start != len {
            return None;
        }
    }
    Some(())
}

struct Splitter<'a> {
    data: &'a [u8],
    pos: usize,
    split: &'a mut Split,
}

impl Frames for Splitter<'_> {
    fn take(&mut self, k: usize) -> Option<&[u8]> {
        let b = self.data.get(self.pos..self.pos.checked_add(k)?)?;
        self.pos += k;
        self.split.meta.extend_from_slice(b);
        Some(b)
    }
    fn floats(&mut self, n: usize) -> Option<()> {
        let b = self.data.get(self.pos..self.pos.checked_add(n.checked_mul(4)?)?)?;
        self.pos += b.len();
        let [p0, p1, p2, p3] = &mut self.split.planes;
        for q in b.chunks_exact(4) {
            p0.push(q[0]);
            p1.push(q[1]);
            p2.push(q[2]);
            p3.push(q[3]);
        }
        Some(())
    }
    fn at_end(&self) -> bool {
        self.pos == self.data.len()
    }
    fn position(&self) -> usize {
        self.pos
    }
}

/// Split a chunk of whole frames into meta and float bytes; None if it is
/// not whole frames (the split may then hold a partial result).
fn split_records(data: &[u8], split: &mut Split) -> Option<()> {
    let (m0, f0) = (split.meta.len(), split.floats());
    let r = walk(&mut Splitter { data, pos: 0, split });
    if r.is_none() {
        split.meta.truncate(m0);
        split.planes.iter_mut().for_each(|p| p.truncate(f0));
    }
    r
}

struct Merge<'a> {
    meta: &'a [u8],
    planes: [&'a [u8]; 4],
    mpos: usize,
    fpos: usize,
    /// The chunk is appended to `out` from `base` on.
    base: usize,
    out: &'a mut Vec<u8>,
}

impl Frames for Merge<'_> {
    fn take(&mut self, k: usize) -> Option<&[u8]> {
        let b = self.meta.get(self.mpos..self.mpos.checked_add(k)?)?;
        self.mpos += k;
        let at = self.out.len();
        self.out.extend_from_slice(b);
        Some(&self.out[at..])
    }
    fn floats(&mut self, n: usize) -> Option<()> {
        let end = self.fpos.checked_add(n)?;
        if end > self.planes[0].len() {
            return None;
        }
        let [p0, p1, p2, p3] = self.planes;
        let at = self.out.len();
        self.out.resize(at + n * 4, 0);
        let dst = &mut self.out[at..];
        let r = self.fpos..end;
        for ((((q, a), b), c), d) in dst
            .chunks_exact_mut(4)
            .zip(&p0[r.clone()])
            .zip(&p1[r.clone()])
            .zip(&p2[r.clone()])
            .zip(&p3[r])
        {
            q.copy_from_slice(&[*a, *b, *c, *d]);
        }
        self.fpos = end;
        Some(())
    }
    fn at_end(&self) -> bool {
        self.mpos == self.meta.len()
    }
    fn position(&self) -> usize {
        self.out.len() - self.base
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vdr_model::{NamedVector, Point, PointId, SparseVector, VectorData};

    fn frames(n: usize) -> Vec<u8> {
        let mut x = 12345u64;
        let mut out = Vec::new();
        for i in 0..n {
            let v: Vec<f32> = (0..96)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
                })
                .collect();
            let p = Point {
                id: if i % 2 == 0 { PointId::Num(i as u64) } else { PointId::Str(format!("d{i}")) },
                vectors: vec![
                    NamedVector { name: "a".into(), data: VectorData::Dense(v.clone()) },
                    NamedVector {
                        name: "s".into(),
                        data: VectorData::Sparse(SparseVector {
                            indices: vec![1, 5],
                            values: vec![0.5, 0.25],
                        }),
                    },
                    NamedVector {
                        name: "m".into(),
                        data: VectorData::Multi(vec![v[..3].to_vec()]),
                    },
                ],
                payload: (i % 3 != 0).then(|| format!(r#"{{"doc":{i},"rev":{}}}"#, i * 7)),
            };
            vdr_model::canonical::encode_frame(&p, &mut out);
        }
        out
    }

    #[test]
    fn every_codec_round_trips() {
        let f = frames(40);
        let text: Vec<u8> = b"{\"title\":\"hello\"}".repeat(500);
        let noise: Vec<u8> =
            (0..50_000u32).map(|i| (i.wrapping_mul(2654435761) >> 7) as u8).collect();
        for data in [f, text, noise, vec![7u8; 10], vec![]] {
            for plan in
                [Plan::sample(&[&data], 1, true), Plan::sample(&[&data], 1, false), Plan::raw()]
            {
                let mut enc = Vec::new();
                encode_into(&data, &plan, &mut enc);
                assert!(enc.len() <= data.len() + 1);
                assert_eq!(decode(&"t", &enc, data.len()).unwrap(), data);
            }
        }
    }

    #[test]
    fn decode_into_appends_and_leaves_the_buffer_alone_on_error() {
        let f = frames(50);
        let mut enc = Vec::new();
        encode_into(&f, &Plan::sample(&[&f], 1, true), &mut enc);
        let mut out = b"before".to_vec();
        decode_into(&"t", &enc, f.len(), &mut out).unwrap();
        assert_eq!(&out[..6], b"before");
        assert_eq!(&out[6..], &f[..]);
        // The chunk decodes whole, then fails the length check: undone.
        let len = out.len();
        assert!(decode_into(&"t", &enc, f.len() + 1, &mut out).is_err());
        assert_eq!(out.len(), len);
    }

    #[test]
    fn planes_get_huffman_parts_only_where_the_format_allows() {
        let f = frames(400);
        for (huffman, mode) in [(true, PART_HUFFMAN), (false, ZSTD)] {
            let plan = Plan::sample(&[&f], 1, huffman);
            let mut enc = Vec::new();
            encode_into(&f, &plan, &mut enc);
            // codec, n:u32, then (mode, len) for meta and planes 0..3
            assert_eq!(enc[1 + 4 + 4 * 5], mode, "plane 3 with huffman = {huffman}");
            assert_eq!(decode(&"test", &enc, f.len()).unwrap(), f);
        }
    }

    #[test]
    fn frames_use_the_record_codec_and_shrink() {
        let f = frames(400);
        let plan = Plan::sample(&[&f], 1, true);
        assert!(plan.planes[3], "{plan:?}");
        let mut enc = Vec::new();
        encode_into(&f, &plan, &mut enc);
        assert_eq!(enc[0], RECORDS);
        assert!(enc.len() < f.len() * 9 / 10, "{} vs {}", enc.len(), f.len());
    }
}

/// Figures behind the coder choices above (prints; not a timed test):
/// `cargo test -p vdr-repo --release --lib bench_part_coders -- --ignored --nocapture`
/// (VDR_BENCH_VECTORS: f32 vectors, default the MiniLM set in ../shared/data).
#[cfg(test)]
mod bench {
    use super::*;
    use std::time::Instant;
    use vdr_model::*;
    use zstd::zstd_safe::CParameter;

    /// `(stored fraction, µs to encode, µs to decode)` of `parts`.
    fn measure(
        parts: &[&[u8]],
        encode: &mut dyn FnMut(&[u8]) -> Vec<u8>,
        decode: &mut dyn FnMut(&[u8], usize) -> Vec<u8>,
    ) -> (f64, f64, f64) {
        let t = Instant::now();
        let stored: Vec<Vec<u8>> = parts.iter().map(|p| encode(p)).collect();
        let enc = t.elapsed().as_secs_f64();
        let t = Instant::now();
        for (s, p) in stored.iter().zip(parts) {
            assert_eq!(decode(s, p.len()), *p);
        }
        let dec = t.elapsed().as_secs_f64();
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let n = parts.len() as f64;
        let size = stored.iter().map(|s| s.len()).sum::<usize>() as f64 / total as f64;
        (size, enc * 1e6 / n, dec * 1e6 / n)
    }

    fn zstd_with(level: i32, min_match: Option<u32>) -> impl FnMut(&[u8]) -> Vec<u8> {
        let mut c = zstd::bulk::Compressor::new(level).unwrap();
        if let Some(m) = min_match {
            c.set_parameter(CParameter::MinMatch(m)).unwrap();
        }
        move |p| c.compress(p).unwrap()
    }

    fn unzstd_any() -> impl FnMut(&[u8], usize) -> Vec<u8> {
        let mut d = zstd::bulk::Decompressor::new().unwrap();
        move |s, n| d.decompress(s, n).unwrap()
    }

    #[test]
    #[ignore]
    fn bench_part_coders() {
        let path = std::env::var("VDR_BENCH_VECTORS").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/minilm-man/vectors.f32")
                .into()
        });
        let Ok(raw) = std::fs::read(&path) else {
            eprintln!("no vectors at {path}: set VDR_BENCH_VECTORS");
            return;
        };
        // The sign/exponent plane, in parts of three 384-d points (a chunk's).
        let plane: Vec<u8> = raw.chunks_exact(4).map(|q| q[3]).take(20 << 20).collect();
        let parts: Vec<&[u8]> = plane.chunks_exact(1152).collect();
        let huffman = measure(&parts, &mut |p| crate::huffman::encode(p).unwrap(), &mut |s, n| {
            crate::huffman::decode(s, n).unwrap()
        });
        let plain = measure(&parts, &mut zstd_with(1, None), &mut unzstd_any());
        let mm7 = measure(&parts, &mut zstd_with(1, Some(7)), &mut unzstd_any());
        println!("sign/exponent plane of {path}, {} parts of 1152 B:", parts.len());
        for (name, (size, enc, dec)) in
            [("huffman", huffman), ("zstd 1", plain), ("zstd 1, min match 7", mm7)]
        {
            println!("  {name:20} stored {size:.3}, encode {enc:.2} µs, decode {dec:.2} µs");
        }

        // Meta streams of three-point chunks with the bench's payloads.
        let mut metas = Vec::new();
        for i in 0..60_000u64 {
            let p = Point {
                id: PointId::Num(i),
                vectors: vec![NamedVector {
                    name: "".into(),
                    data: VectorData::Dense(vec![0.1; 384]),
                }],
                payload: Some(format!(
                    r#"{{"doc":"man-{}","lang":"en","chunk":{},"rev":1}}"#,
                    i / 17,
                    i % 17
                )),
            };
            if i % 3 == 0 {
                metas.push(Vec::new());
            }
            let mut frame = Vec::new();
            canonical::encode_frame(&p, &mut frame);
            let mut split = Split::default();
            split_records(&frame, &mut split).unwrap();
            metas.last_mut().unwrap().extend_from_slice(&split.meta);
        }
        let parts: Vec<&[u8]> = metas.iter().map(|m| m.as_slice()).collect();
        println!("meta streams of three points, {} B each:", parts[0].len());
        for level in [1, SMALL_LEVEL] {
            let (size, enc, dec) = measure(&parts, &mut zstd_with(level, None), &mut unzstd_any());
            println!(
                "  zstd {level:2}              stored {size:.3}, encode {enc:.2} µs, decode {dec:.2} µs"
            );
        }
    }
}
