//! An encrypted, already-unlinked temporary file holding blocks of
//! (id, vector) pairs, for collections larger than the memory budget.
//!
//! vdr keeps data encrypted everywhere it stores it, so the spill is XORed
//! with a ChaCha20 keystream under a random key that lives only in this
//! process: a crash leaves nothing readable (and on Unix, no file at all).

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use vdr_model::PointId;

pub struct Spill {
    file: File,
    key: [u8; 32],
    stream: ChaCha20Rng,
    pub blocks: u64,
    pub bytes: u64,
}

impl Spill {
    pub fn create(dir: &Path) -> io::Result<Spill> {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let path = dir.join(format!("vdr-verify-spill-{:016x}", rand::rng().next_u64()));
        let mut opts = std::fs::OpenOptions::new();
        opts.read(true).write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let file = opts.open(&path)?;
        // Unlinked at once on Unix: the open handle keeps it alive until drop.
        #[cfg(unix)]
        std::fs::remove_file(&path)?;
        Ok(Spill { file, key, stream: ChaCha20Rng::from_seed(key), blocks: 0, bytes: 0 })
    }

    /// Append a block of `ids.len()` vectors of dimension `vectors.len() / ids.len()`.
    pub fn write_block(&mut self, ids: &[PointId], vectors: &[f32]) -> io::Result<()> {
        let mut body = Vec::with_capacity(4 + ids.len() * 9 + vectors.len() * 4);
        body.extend_from_slice(&(ids.len() as u32).to_le_bytes());
        for id in ids {
            match id {
                PointId::Num(n) => {
                    body.push(0);
                    body.extend_from_slice(&n.to_le_bytes());
                }
                PointId::Str(s) => {
                    body.push(1);
                    body.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    body.extend_from_slice(s.as_bytes());
                }
            }
        }
        for x in vectors {
            body.extend_from_slice(&x.to_le_bytes());
        }
        let len = body.len() as u64;
        // Whole keystream words per block, so reading back reproduces it exactly.
        body.resize(body.len().next_multiple_of(4), 0);
        xor_keystream(&mut self.stream, &mut body);
        self.file.write_all(&len.to_le_bytes())?;
        self.file.write_all(&body)?;
        self.blocks += 1;
        self.bytes += 8 + body.len() as u64;
        Ok(())
    }

    /// Read every block back, in order, once.
    pub fn read_blocks(
        mut self,
        dim: usize,
        mut f: impl FnMut(&[PointId], &[f32]),
    ) -> io::Result<()> {
        self.file.flush()?;
        self.file.seek(SeekFrom::Start(0))?;
        let mut stream = ChaCha20Rng::from_seed(self.key);
        let mut reader = io::BufReader::with_capacity(1 << 20, &self.file);
        let (mut ids, mut vectors, mut body) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..self.blocks {
            let mut len = [0u8; 8];
            reader.read_exact(&mut len)?;
            let len = u64::from_le_bytes(len) as usize;
            body.resize(len.next_multiple_of(4), 0);
            reader.read_exact(&mut body)?;
            xor_keystream(&mut stream, &mut body);
            decode_block(&body[..len], dim, &mut ids, &mut vectors)?;
            f(&ids, &vectors);
        }
        Ok(())
    }
}

fn xor_keystream(stream: &mut ChaCha20Rng, data: &mut [u8]) {
    let mut pad = [0u8; 4096];
    for chunk in data.chunks_mut(pad.len()) {
        let pad = &mut pad[..chunk.len()];
        stream.fill_bytes(pad);
        chunk.iter_mut().zip(pad.iter()).for_each(|(b, k)| *b ^= k);
    }
}

fn decode_block(
    body: &[u8],
    dim: usize,
    ids: &mut Vec<PointId>,
    vectors: &mut Vec<f32>,
) -> io::Result<()> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "spill block is malformed");
    let mut pos = 0usize;
    let mut take = |n: usize| -> io::Result<&[u8]> {
        let s = body.get(pos..pos + n).ok_or_else(bad)?;
        pos += n;
        Ok(s)
    };
    let n = u32::from_le_bytes(take(4)?.try_into().unwrap()) as usize;
    ids.clear();
    vectors.clear();
    for _ in 0..n {
        let id = match take(1)?[0] {
            0 => PointId::Num(u64::from_le_bytes(take(8)?.try_into().unwrap())),
            _ => {
                let len = u32::from_le_bytes(take(4)?.try_into().unwrap()) as usize;
                PointId::Str(String::from_utf8(take(len)?.to_vec()).map_err(|_| bad())?)
            }
        };
        ids.push(id);
    }
    let raw = take(n * dim * 4)?;
    vectors.extend(raw.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_round_trip_and_are_not_plaintext() {
        let mut s = Spill::create(&std::env::temp_dir()).unwrap();
        let ids = vec![PointId::Num(7), PointId::Str("abc".into())];
        s.write_block(&ids, &[1.0, 2.0, 3.0, 4.0]).unwrap();
        s.write_block(&ids[..1], &[5.0, 6.0]).unwrap();
        let mut raw = Vec::new();
        s.file.seek(SeekFrom::Start(0)).unwrap();
        s.file.read_to_end(&mut raw).unwrap();
        assert!(!raw.windows(3).any(|w| w == b"abc"), "spill must not hold plaintext");
        let mut seen = Vec::new();
        s.read_blocks(2, |i, v| seen.push((i.to_vec(), v.to_vec()))).unwrap();
        assert_eq!(seen[0], (ids.clone(), vec![1.0, 2.0, 3.0, 4.0]));
        assert_eq!(seen[1], (ids[..1].to_vec(), vec![5.0, 6.0]));
    }
}
