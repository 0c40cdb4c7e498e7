//! Content-defined chunking of a byte stream that arrives in pieces.

use serde::{Deserialize, Serialize};

/// FastCDC (2020) parameters, fixed per repository so chunks line up across backups.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkerParams {
    pub min_size: u32,
    pub avg_size: u32,
    pub max_size: u32,
}

impl Default for ChunkerParams {
    fn default() -> Self {
        ChunkerParams { min_size: 256 << 10, avg_size: 1 << 20, max_size: 4 << 20 }
    }
}

/// Buffers the stream and emits a chunk as soon as its cut point can no longer
/// move: FastCDC decides a cut from at most `max_size` bytes after the chunk start.
pub struct StreamChunker {
    params: ChunkerParams,
    buf: Vec<u8>,
}

impl StreamChunker {
    pub fn new(params: ChunkerParams) -> Self {
        StreamChunker { params, buf: Vec::with_capacity(params.max_size as usize * 3) }
    }
    /// The buffer to append stream bytes to; call `take_ready` after.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
    /// Chunks whose boundaries are final. Runs only once enough is buffered
    /// to amortise the copy of the remainder.
    pub fn take_ready(&mut self, out: &mut Vec<Vec<u8>>) {
        if self.buf.len() >= 2 * self.params.max_size as usize {
            self.cut(false, out);
        }
    }
    /// Every remaining chunk, at the end of the stream.
    pub fn finish(&mut self, out: &mut Vec<Vec<u8>>) {
        self.cut(true, out);
    }
    fn cut(&mut self, last: bool, out: &mut Vec<Vec<u8>>) {
        let p = self.params;
        let max = p.max_size as usize;
        let mut consumed = 0;
        for c in
            fastcdc::v2020::FastCDC::new(&self.buf, p.min_size as usize, p.avg_size as usize, max)
        {
            if !last && c.offset + max > self.buf.len() {
                break;
            }
            out.push(self.buf[c.offset..c.offset + c.length].to_vec());
            consumed = c.offset + c.length;
        }
        self.buf.drain(..consumed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_do_not_depend_on_how_the_stream_was_fed() {
        let params = ChunkerParams { min_size: 1024, avg_size: 4096, max_size: 16384 };
        let data: Vec<u8> =
            (0..400_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        let whole: Vec<Vec<u8>> = {
            let mut c = StreamChunker::new(params);
            c.buffer().extend_from_slice(&data);
            let mut out = vec![];
            c.finish(&mut out);
            out
        };
        let mut c = StreamChunker::new(params);
        let mut pieces = vec![];
        for part in data.chunks(777) {
            c.buffer().extend_from_slice(part);
            c.take_ready(&mut pieces);
        }
        c.finish(&mut pieces);
        assert_eq!(whole, pieces);
        assert_eq!(pieces.concat(), data);
    }
}
