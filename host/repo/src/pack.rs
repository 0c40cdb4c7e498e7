//! Pack files: blobs (each its own age file) followed by an encrypted header
//! listing them and a fixed trailer, so a pack describes itself and a lost
//! index can be rebuilt from the packs alone.

use serde::{Deserialize, Serialize};
use vdr_model::Result;

use crate::crypto::DataKey;
use crate::format::{Id, corrupt};

pub const HEADER_MAGIC: &[u8; 8] = b"VDRPACK1";
pub const TRAILER_MAGIC: &[u8; 4] = b"vdrp";
pub const TRAILER_LEN: usize = 8;
const ENTRY_LEN: usize = 48;

/// Where one blob lives inside its pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackEntry {
    pub id: Id,
    pub offset: u64,
    /// Stored (encrypted) length.
    pub length: u32,
    /// Length of the chunk before compression and encryption.
    pub raw_length: u32,
}

pub struct FinishedPack {
    pub id: Id,
    pub bytes: Vec<u8>,
    pub entries: Vec<PackEntry>,
}

#[derive(Default)]
pub struct PackWriter {
    buf: Vec<u8>,
    entries: Vec<PackEntry>,
}

impl PackWriter {
    pub fn with_capacity(bytes: usize) -> Self {
        PackWriter { buf: Vec::with_capacity(bytes), entries: Vec::new() }
    }
    pub fn add(&mut self, id: Id, sealed: &[u8], raw_length: u32) {
        self.entries.push(PackEntry {
            id,
            offset: self.buf.len() as u64,
            length: sealed.len() as u32,
            raw_length,
        });
        self.buf.extend_from_slice(sealed);
    }
    pub fn len(&self) -> usize {
        self.buf.len()
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Append header and trailer; the pack's id is the BLAKE3 hash of its bytes.
    pub fn finish(mut self, key: &DataKey) -> FinishedPack {
        let mut header = Vec::with_capacity(12 + self.entries.len() * ENTRY_LEN);
        header.extend_from_slice(HEADER_MAGIC);
        header.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in &self.entries {
            header.extend_from_slice(&e.id.0);
            header.extend_from_slice(&e.offset.to_le_bytes());
            header.extend_from_slice(&e.length.to_le_bytes());
            header.extend_from_slice(&e.raw_length.to_le_bytes());
        }
        let sealed = key.seal(&header);
        self.buf.extend_from_slice(&sealed);
        self.buf.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(TRAILER_MAGIC);
        let id = Id(*blake3::hash(&self.buf).as_bytes());
        FinishedPack { id, bytes: self.buf, entries: self.entries }
    }
}

/// The length of the sealed header, from the last 8 bytes of a pack.
pub fn header_length(what: &str, trailer: &[u8]) -> Result<usize> {
    if trailer.len() != TRAILER_LEN || &trailer[4..] != TRAILER_MAGIC {
        return Err(corrupt(what, "pack trailer missing or damaged"));
    }
    Ok(u32::from_le_bytes(trailer[..4].try_into().unwrap()) as usize)
}

/// Decrypt and parse a pack header. `blobs_end` is where the header starts
/// (every entry must lie before it).
pub fn parse_header(
    key: &DataKey,
    what: &str,
    sealed: &[u8],
    blobs_end: u64,
) -> Result<Vec<PackEntry>> {
    let plain = key.open(&format!("{what} (header)"), sealed)?;
    if plain.len() < 12 || &plain[..8] != HEADER_MAGIC {
        return Err(corrupt(what, "pack header has no magic"));
    }
    let n = u32::from_le_bytes(plain[8..12].try_into().unwrap()) as usize;
    if plain.len() != 12 + n * ENTRY_LEN {
        return Err(corrupt(what, "pack header has the wrong length"));
    }
    let mut entries = Vec::with_capacity(n);
    for e in plain[12..].chunks_exact(ENTRY_LEN) {
        let entry = PackEntry {
            id: Id(e[..32].try_into().unwrap()),
            offset: u64::from_le_bytes(e[32..40].try_into().unwrap()),
            length: u32::from_le_bytes(e[40..44].try_into().unwrap()),
            raw_length: u32::from_le_bytes(e[44..48].try_into().unwrap()),
        };
        if entry.offset + entry.length as u64 > blobs_end {
            return Err(corrupt(what, "pack header points past the blobs"));
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Parse the header of a whole pack held in memory.
pub fn read_header(key: &DataKey, what: &str, pack: &[u8]) -> Result<Vec<PackEntry>> {
    if pack.len() < TRAILER_LEN {
        return Err(corrupt(what, "shorter than a pack trailer"));
    }
    let header_len = header_length(what, &pack[pack.len() - TRAILER_LEN..])?;
    let header_start = (pack.len() - TRAILER_LEN)
        .checked_sub(header_len)
        .ok_or_else(|| corrupt(what, "pack header length exceeds the pack"))?;
    parse_header(key, what, &pack[header_start..pack.len() - TRAILER_LEN], header_start as u64)
}

/// Decrypt, decompress and authenticate one blob: its keyed id must match.
pub fn open_blob(key: &DataKey, what: &str, entry: &PackEntry, sealed: &[u8]) -> Result<Vec<u8>> {
    let stored = key.open(what, sealed)?;
    let data = crate::compress::decode(what, &stored, entry.raw_length as usize)?;
    if key.chunk_id(&data) != entry.id {
        return Err(corrupt(what, "content does not match its id"));
    }
    Ok(data)
}
