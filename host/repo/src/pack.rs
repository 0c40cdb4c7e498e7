//! Packs: one standard age file (one X25519 wrap per pack) whose plaintext is
//! the pack's blobs back to back, then a table listing them, then a trailer.
//! `age -d` of any pack with the data key yields that plaintext, and a lost
//! index can be rebuilt from the packs alone.
//!
//! One blob is read without fetching the pack: age's STREAM format
//! authenticates each 64 KiB plaintext chunk on its own, so a reader fetches
//! the age header, the pack's last ciphertext chunk (which authenticates the
//! length) and the ciphertext chunks covering the wanted plaintext range.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};
use vdr_model::{ByteRange, Error, ObjectStore, Result};

use crate::crypto::DataKey;
use crate::format::{Id, corrupt, pack_key};

pub const TABLE_MAGIC: &[u8; 8] = b"VDRPACK2";
pub const TRAILER_MAGIC: &[u8; 4] = b"vdrp";
pub const TRAILER_LEN: usize = 8;
pub const ENTRY_LEN: usize = 44;
/// age STREAM: plaintext chunk size and ciphertext chunk size (+16-byte tag).
pub const CHUNK: u64 = 64 << 10;
pub const ENC_CHUNK: u64 = CHUNK + 16;

/// Where one blob lives inside its pack's plaintext.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackEntry {
    pub id: Id,
    pub offset: u64,
    /// Stored length (codec byte and body).
    pub length: u32,
    /// Length of the chunk before compression.
    pub raw_length: u32,
}

pub struct FinishedPack {
    pub id: Id,
    pub bytes: Vec<u8>,
    pub entries: Vec<PackEntry>,
    /// Offset of the first STREAM chunk: age header plus the 16-byte nonce.
    pub payload_offset: u32,
}

pub struct PackWriter {
    writer: age::stream::StreamWriter<Vec<u8>>,
    entries: Vec<PackEntry>,
    plain_len: u64,
}

impl PackWriter {
    pub fn new(key: &DataKey, capacity: usize) -> Self {
        PackWriter {
            writer: key.stream_writer(Vec::with_capacity(capacity)),
            entries: Vec::new(),
            plain_len: 0,
        }
    }
    /// Append one stored blob (codec byte and body).
    pub fn add(&mut self, id: Id, stored: &[u8], raw_length: u32) {
        self.entries.push(PackEntry {
            id,
            offset: self.plain_len,
            length: stored.len() as u32,
            raw_length,
        });
        self.writer.write_all(stored).expect("writing to a Vec");
        self.plain_len += stored.len() as u64;
    }
    pub fn len(&self) -> usize {
        self.plain_len as usize
    }
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Append table and trailer and finish the age file; the pack's id is the
    /// BLAKE3 hash of its bytes.
    pub fn finish(mut self) -> FinishedPack {
        let mut table = Vec::with_capacity(12 + self.entries.len() * ENTRY_LEN + TRAILER_LEN);
        table.extend_from_slice(TABLE_MAGIC);
        table.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in &self.entries {
            table.extend_from_slice(&e.id.0);
            table.extend_from_slice(&(e.offset as u32).to_le_bytes());
            table.extend_from_slice(&e.length.to_le_bytes());
            table.extend_from_slice(&e.raw_length.to_le_bytes());
        }
        let table_len = table.len() as u32;
        table.extend_from_slice(&table_len.to_le_bytes());
        table.extend_from_slice(TRAILER_MAGIC);
        self.writer.write_all(&table).expect("writing to a Vec");
        let plain = self.plain_len + table.len() as u64;
        let bytes = self.writer.finish().expect("writing to a Vec");
        let chunks = plain.div_ceil(CHUNK).max(1);
        let payload_offset = (bytes.len() as u64 - plain - 16 * chunks) as u32;
        let id = Id(*blake3::hash(&bytes).as_bytes());
        FinishedPack { id, bytes, entries: self.entries, payload_offset }
    }
}

/// Parse the table at the end of a pack's plaintext.
pub fn parse_table(what: &str, plain: &[u8]) -> Result<Vec<PackEntry>> {
    if plain.len() < TRAILER_LEN || &plain[plain.len() - 4..] != TRAILER_MAGIC {
        return Err(corrupt(what, "pack trailer missing or damaged"));
    }
    let table_len =
        u32::from_le_bytes(plain[plain.len() - 8..plain.len() - 4].try_into().unwrap()) as usize;
    let start = (plain.len() - TRAILER_LEN)
        .checked_sub(table_len)
        .ok_or_else(|| corrupt(what, "pack table length exceeds the pack"))?;
    let table = &plain[start..plain.len() - TRAILER_LEN];
    if table.len() < 12 || &table[..8] != TABLE_MAGIC {
        return Err(corrupt(what, "pack table has no magic"));
    }
    let n = u32::from_le_bytes(table[8..12].try_into().unwrap()) as usize;
    if table.len() != 12 + n * ENTRY_LEN {
        return Err(corrupt(what, "pack table has the wrong length"));
    }
    let mut entries = Vec::with_capacity(n);
    for e in table[12..].chunks_exact(ENTRY_LEN) {
        let entry = PackEntry {
            id: Id(e[..32].try_into().unwrap()),
            offset: u32::from_le_bytes(e[32..36].try_into().unwrap()) as u64,
            length: u32::from_le_bytes(e[36..40].try_into().unwrap()),
            raw_length: u32::from_le_bytes(e[40..44].try_into().unwrap()),
        };
        if entry.offset + entry.length as u64 > start as u64 {
            return Err(corrupt(what, "pack table points past the blobs"));
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Decode and authenticate one blob from its stored bytes: its keyed id must match.
pub fn open_blob(key: &DataKey, what: &str, entry: &PackEntry, stored: &[u8]) -> Result<Vec<u8>> {
    let data = crate::compress::decode(what, stored, entry.raw_length as usize)?;
    if key.chunk_id(&data) != entry.id {
        return Err(corrupt(what, "content does not match its id"));
    }
    Ok(data)
}

/// The bytes of a pack a reader has fetched; everything else is unreadable.
#[derive(Default)]
struct Fetched {
    size: u64,
    pos: u64,
    parts: Vec<(u64, Vec<u8>)>,
}

#[derive(Clone)]
struct Sparse(Arc<Mutex<Fetched>>);

impl Read for Sparse {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut f = self.0.lock().unwrap();
        let pos = f.pos;
        if pos >= f.size {
            return Ok(0);
        }
        for (start, bytes) in &f.parts {
            if pos >= *start && pos < start + bytes.len() as u64 {
                let from = (pos - start) as usize;
                let n = buf.len().min(bytes.len() - from);
                buf[..n].copy_from_slice(&bytes[from..from + n]);
                f.pos += n as u64;
                return Ok(n);
            }
        }
        Err(std::io::Error::other(format!("pack byte {pos} was not fetched")))
    }
}

impl Seek for Sparse {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let mut f = self.0.lock().unwrap();
        f.pos = match to {
            SeekFrom::Start(p) => p,
            SeekFrom::End(d) => (f.size as i64 + d) as u64,
            SeekFrom::Current(d) => (f.pos as i64 + d) as u64,
        };
        Ok(f.pos)
    }
}

/// The age header and last encrypted chunk of packs, fetched once and
/// shared by every worker's readers: a reader needs both before its first
/// read, and without sharing each worker would fetch them again for every
/// pack it touches (two requests per pack per worker).
/// The most recently opened packs are kept (a stream is read roughly in
/// pack order, so this bounds memory at about 64 chunks of 64 KiB).
#[derive(Default)]
pub struct PackEnds(Mutex<RecentPacks>);

#[derive(Default)]
struct RecentPacks {
    slots: HashMap<Id, Arc<Mutex<Option<Arc<Parts>>>>>,
    order: VecDeque<Id>,
}

const RECENT_PACKS: usize = 64;

type Parts = Vec<(u64, Vec<u8>)>;

impl PackEnds {
    fn get(
        &self,
        store: &dyn ObjectStore,
        name: &str,
        pack: Id,
        size: u64,
        payload_offset: u64,
    ) -> Result<Arc<Parts>> {
        let slot = {
            let mut recent = self.0.lock().unwrap();
            if !recent.slots.contains_key(&pack) {
                recent.order.push_back(pack);
                if recent.order.len() > RECENT_PACKS
                    && let Some(old) = recent.order.pop_front()
                {
                    recent.slots.remove(&old);
                }
            }
            recent.slots.entry(pack).or_default().clone()
        };
        // Only this pack's slot is held while fetching: other packs proceed.
        let mut slot = slot.lock().unwrap();
        if let Some(parts) = slot.as_ref() {
            return Ok(parts.clone());
        }
        let parts = Arc::new(fetch_ends(store, name, size, payload_offset)?);
        *slot = Some(parts.clone());
        Ok(parts)
    }
}

/// The header and the last chunk of a pack (the whole pack when it is only
/// one or two chunks long).
fn fetch_ends(
    store: &dyn ObjectStore,
    name: &str,
    size: u64,
    payload_offset: u64,
) -> Result<Parts> {
    let last_start = payload_offset + (size - payload_offset - 1) / ENC_CHUNK * ENC_CHUNK;
    if last_start - payload_offset <= ENC_CHUNK {
        Ok(vec![(0, get(store, name, 0, size)?)])
    } else {
        Ok(vec![
            (0, get(store, name, 0, payload_offset)?),
            (last_start, get(store, name, last_start, size - last_start)?),
        ])
    }
}

/// Ranged, authenticated reads of one pack's plaintext.
pub struct PackReader {
    pub pack: Id,
    name: String,
    payload_offset: u64,
    size: u64,
    fetched: Sparse,
    reader: age::stream::StreamReader<Sparse>,
}

impl PackReader {
    pub fn open(
        store: &dyn ObjectStore,
        key: &DataKey,
        pack: Id,
        size: u64,
        payload_offset: u32,
        ends: &PackEnds,
    ) -> Result<PackReader> {
        let name = format!("pack {}", pack_key(&pack));
        let payload_offset = payload_offset as u64;
        if size <= payload_offset {
            return Err(corrupt(&name, "shorter than its age header"));
        }
        let parts = ends.get(store, &name, pack, size, payload_offset)?.as_ref().clone();
        let fetched = Sparse(Arc::new(Mutex::new(Fetched { size, pos: 0, parts })));
        let reader = key.stream_reader(&name, fetched.clone())?;
        Ok(PackReader { pack, name, payload_offset, size, fetched, reader })
    }

    /// Read plaintext bytes `[start, start + len)`: one ranged GET (unless
    /// already held), then decryption of the covering chunks.
    pub fn read(&mut self, store: &dyn ObjectStore, start: u64, len: u64) -> Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let c0 = start / CHUNK;
        let c1 = (start + len - 1) / CHUNK;
        let from = self.payload_offset + c0 * ENC_CHUNK;
        let to = (self.payload_offset + (c1 + 1) * ENC_CHUNK).min(self.size);
        if from >= self.size {
            return Err(corrupt(&self.name, "the index points past the end of the pack"));
        }
        let covered = {
            let f = self.fetched.0.lock().unwrap();
            f.parts.iter().any(|(s, b)| *s <= from && s + b.len() as u64 >= to)
        };
        if !covered {
            let bytes = get(store, &self.name, from, to - from)?;
            let mut f = self.fetched.0.lock().unwrap();
            // Keep the header and the last chunk; replace the data range.
            f.parts.retain(|(s, b)| *s == 0 || s + b.len() as u64 == self.size);
            f.parts.push((from, bytes));
        }
        let what = &self.name;
        let fail = |e: std::io::Error| corrupt(what, format!("authentication failed: {e}"));
        self.reader.seek(SeekFrom::Start(start)).map_err(fail)?;
        let mut out = vec![0u8; len as usize];
        self.reader.read_exact(&mut out).map_err(fail)?;
        Ok(out)
    }
}

/// Ranged reads of a pack whose answer is shorter than asked are fetched
/// again before the pack is called damaged: a proxy or a dropped connection
/// can deliver a short body that looks complete.
const SHORT_READ_ATTEMPTS: u32 = 3;

fn get(store: &dyn ObjectStore, name: &str, start: u64, length: u64) -> Result<Vec<u8>> {
    let name = name.strip_prefix("pack ").unwrap_or(name);
    for attempt in 1..=SHORT_READ_ATTEMPTS {
        let bytes = store.get(name, Some(ByteRange { start, length }), None)?;
        if bytes.len() as u64 == length {
            return Ok(bytes);
        }
        tracing::warn!(
            "{name}: asked for {length} bytes at {start}, got {} (attempt {attempt} of {SHORT_READ_ATTEMPTS})",
            bytes.len()
        );
    }
    Err(Error::new(
        vdr_model::ErrorKind::Protocol,
        format!(
            "repository object {name} is damaged: pack is shorter than the index says \
             ({SHORT_READ_ATTEMPTS} reads); run `vdr check --read-data`"
        ),
    ))
}
