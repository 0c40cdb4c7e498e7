//! Per-chunk compression: raw, zstd, or zstd over byte planes.
//!
//! Embeddings barely compress as bytes (~7 %), but split into the four byte
//! planes of their f32 values the sign/exponent plane compresses well while
//! the mantissa planes are noise. So each plane is compressed only when a
//! sample of it pays, and a chunk is stored raw when nothing does: zstd never
//! runs over the incompressible bulk, which keeps the backup fast.

use vdr_model::Result;

use crate::format::corrupt;

pub const RAW: u8 = 0;
pub const ZSTD: u8 = 1;
pub const PLANES: u8 = 2;

const SAMPLE: usize = 16 << 10;
/// A stream (or plane) is compressed only if its sample shrinks below this fraction.
const WORTH_IT: f64 = 0.92;

/// Encode a chunk; `level` 0 disables compression.
pub fn encode(data: &[u8], level: i32) -> Vec<u8> {
    if level == 0 || data.len() < 4 * SAMPLE {
        return with_codec(RAW, data);
    }
    let plain_ratio = sample_ratio(data, level);
    let planes = split_planes(data);
    let plane_ratios: Vec<f64> = planes.iter().map(|p| sample_ratio(p, level)).collect();
    let planes_estimate: f64 = plane_ratios.iter().map(|r| r.min(1.0) / 4.0).sum();
    if plain_ratio.min(planes_estimate) > WORTH_IT {
        return with_codec(RAW, data);
    }
    if plain_ratio <= planes_estimate {
        return match zstd::bulk::compress(data, level) {
            Ok(z) if z.len() < data.len() => with_codec(ZSTD, &z),
            _ => with_codec(RAW, data),
        };
    }
    let mut out = Vec::with_capacity(data.len());
    out.push(PLANES);
    let mut bodies: Vec<(u8, Vec<u8>)> = Vec::with_capacity(4);
    for (plane, ratio) in planes.into_iter().zip(&plane_ratios) {
        let body = if *ratio <= WORTH_IT {
            match zstd::bulk::compress(&plane, level) {
                Ok(z) if z.len() < plane.len() => (ZSTD, z),
                _ => (RAW, plane),
            }
        } else {
            (RAW, plane)
        };
        bodies.push(body);
    }
    for (mode, body) in &bodies {
        out.push(*mode);
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    }
    for (_, body) in &bodies {
        out.extend_from_slice(body);
    }
    out.extend_from_slice(&data[data.len() / 4 * 4..]);
    if out.len() >= data.len() {
        return with_codec(RAW, data);
    }
    out
}

/// Decode a chunk of `raw_len` bytes; `what` names the blob in errors.
pub fn decode(what: &str, stored: &[u8], raw_len: usize) -> Result<Vec<u8>> {
    let (&codec, body) = stored.split_first().ok_or_else(|| corrupt(what, "empty blob"))?;
    let out = match codec {
        RAW => body.to_vec(),
        ZSTD => unzstd(what, body, raw_len)?,
        PLANES => {
            if body.len() < 20 {
                return Err(corrupt(what, "truncated plane header"));
            }
            let plane_len = raw_len / 4;
            let mut out = vec![0u8; raw_len];
            let mut pos = 20;
            for k in 0..4 {
                let mode = body[k * 5];
                let len =
                    u32::from_le_bytes(body[k * 5 + 1..k * 5 + 5].try_into().unwrap()) as usize;
                let stored =
                    body.get(pos..pos + len).ok_or_else(|| corrupt(what, "truncated plane"))?;
                pos += len;
                let plane = match mode {
                    RAW => stored.to_vec(),
                    ZSTD => unzstd(what, stored, plane_len)?,
                    m => return Err(corrupt(what, format!("unknown plane mode {m}"))),
                };
                if plane.len() != plane_len {
                    return Err(corrupt(what, "plane has the wrong length"));
                }
                for (i, b) in plane.iter().enumerate() {
                    out[i * 4 + k] = *b;
                }
            }
            let tail = &body[pos..];
            if tail.len() != raw_len - plane_len * 4 {
                return Err(corrupt(what, "wrong tail length"));
            }
            out[plane_len * 4..].copy_from_slice(tail);
            out
        }
        c => return Err(corrupt(what, format!("unknown codec {c}"))),
    };
    if out.len() != raw_len {
        return Err(corrupt(what, format!("decodes to {} bytes, index says {raw_len}", out.len())));
    }
    Ok(out)
}

fn unzstd(what: &str, data: &[u8], raw_len: usize) -> Result<Vec<u8>> {
    zstd::bulk::decompress(data, raw_len).map_err(|e| corrupt(what, format!("zstd: {e}")))
}

fn with_codec(codec: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(codec);
    out.extend_from_slice(body);
    out
}

/// Compressed/original size of a sample from the middle of `data`.
fn sample_ratio(data: &[u8], level: i32) -> f64 {
    let start = (data.len().saturating_sub(SAMPLE)) / 2;
    let sample = &data[start..(start + SAMPLE).min(data.len())];
    match zstd::bulk::compress(sample, level) {
        Ok(z) => z.len() as f64 / sample.len().max(1) as f64,
        Err(_) => 1.0,
    }
}

fn split_planes(data: &[u8]) -> [Vec<u8>; 4] {
    let n = data.len() / 4;
    let mut planes = [vec![0u8; n], vec![0u8; n], vec![0u8; n], vec![0u8; n]];
    for (i, quad) in data.chunks_exact(4).enumerate() {
        planes[0][i] = quad[0];
        planes[1][i] = quad[1];
        planes[2][i] = quad[2];
        planes[3][i] = quad[3];
    }
    planes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn floats(n: usize) -> Vec<u8> {
        let mut x = 12345u64;
        let mut out = Vec::new();
        for _ in 0..n {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2;
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&[1, 2, 3]);
        out
    }

    #[test]
    fn every_codec_round_trips() {
        let f = floats(300_000);
        let text: Vec<u8> = b"{\"title\":\"hello\"}".repeat(50_000);
        let noise: Vec<u8> =
            (0..500_000u32).map(|i| (i.wrapping_mul(2654435761) >> 7) as u8).collect();
        for data in [f, text, noise, vec![7u8; 10]] {
            let enc = encode(&data, 1);
            assert!(enc.len() <= data.len() + 1);
            assert_eq!(decode("t", &enc, data.len()).unwrap(), data);
        }
    }

    #[test]
    fn floats_use_planes_and_shrink() {
        let f = floats(300_000);
        let enc = encode(&f, 1);
        assert_eq!(enc[0], PLANES);
        assert!(enc.len() < f.len() * 9 / 10, "{} vs {}", enc.len(), f.len());
    }
}
