//! Packs: one standard age file (one X25519 wrap per pack) whose plaintext is
//! the pack's blobs back to back, then a table listing them, then a trailer.
//! `age -d` of any pack with the data key yields that plaintext, and a lost
//! index can be rebuilt from the packs alone.
//!
//! One blob is read without fetching the pack: age's STREAM format
//! authenticates each 64 KiB plaintext chunk on its own (its position is in
//! the nonce), so a reader fetches the age header and the ciphertext chunks
//! covering the wanted plaintext range — the header together with the first
//! range when that range begins the pack.

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
    /// For a chunk of whole frames: the lane-wise sum of its frames' digests
    /// (its share of a collection's content digest). Kept in the index only
    /// (not in pack tables), so an incremental backup can take a replaced
    /// chunk's records out of the digest without reading the chunk.
    pub lanes: Option<[u64; 4]>,
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
    pub fn add(&mut self, id: Id, stored: &[u8], raw_length: u32, lanes: Option<[u64; 4]>) {
        self.entries.push(PackEntry {
            id,
            offset: self.plain_len,
            length: stored.len() as u32,
            raw_length,
            lanes,
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
            lanes: None,
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
    let data = crate::compress::decode(&what, stored, entry.raw_length as usize)?;
    let mut frames = Vec::new();
    let (id, lanes) = if crate::crypto::frame_digests(&data, &mut frames) {
        let mut lanes = [0u64; 4];
        frames.iter().for_each(|(_, d)| crate::backup::add_digest(&mut lanes, d));
        (key.frames_id(&frames), Some(lanes))
    } else {
        (key.bytes_id(&data), None)
    };
    if id != entry.id {
        return Err(corrupt(what, "content does not match its id"));
    }
    if entry.lanes.is_some() && entry.lanes != lanes {
        return Err(corrupt(what, "the index gives the wrong digest for its records"));
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

/// The age headers of packs, fetched once and shared by every worker's
/// readers: a reader needs its pack's header before its first read, and
/// without sharing each worker would fetch it again for every pack it
/// touches. The most recently opened packs are kept (a stream is read
/// roughly in pack order).
#[derive(Default)]
pub struct PackHeaders(Mutex<RecentPacks>);

#[derive(Default)]
struct RecentPacks {
    slots: HashMap<Id, Arc<Mutex<Option<Arc<Parts>>>>>,
    order: VecDeque<Id>,
}

const RECENT_PACKS: usize = 64;

/// Fetched byte ranges of a pack: (offset, bytes).
type Parts = Vec<Part>;
type Part = (u64, Vec<u8>);

/// Data before this far into a pack is fetched with its header in one request.
const WITH_HEADER: u64 = 256 << 10;

impl PackHeaders {
    /// The header (the whole pack when it is at most two chunks long) and,
    /// when this call fetched it together with the header, ciphertext
    /// `[from, to)`.
    fn get(
        &self,
        store: &dyn ObjectStore,
        name: &str,
        pack: Id,
        (size, payload_offset): (u64, u64),
        (from, to): (u64, u64),
    ) -> Result<(Arc<Parts>, Option<Part>)> {
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
            return Ok((parts.clone(), None));
        }
        let (parts, data) = if size - payload_offset <= 2 * ENC_CHUNK {
            (vec![(0, get(store, name, 0, size)?)], None)
        } else if from <= payload_offset + WITH_HEADER {
            // The cache keeps a copy of the header alone, not the whole
            // allocation; the run's bytes move to the front of the buffer.
            let mut data = get(store, name, 0, to)?;
            let header = data[..payload_offset as usize].to_vec();
            data.drain(..from as usize);
            (vec![(0, header)], Some((from, data)))
        } else {
            (vec![(0, get(store, name, 0, payload_offset)?)], None)
        };
        let parts = Arc::new(parts);
        *slot = Some(parts.clone());
        Ok((parts, data))
    }
}

/// Ranged, authenticated reads of one pack's plaintext.
pub struct PackReader {
    pub pack: Id,
    name: String,
    payload_offset: u64,
    size: u64,
    fetched: Sparse,
    reader: Option<age::stream::StreamReader<Sparse>>,
}

impl PackReader {
    pub fn new(pack: Id, size: u64, payload_offset: u32) -> PackReader {
        PackReader {
            pack,
            name: format!("pack {}", pack_key(&pack)),
            payload_offset: payload_offset as u64,
            size,
            fetched: Sparse(Arc::new(Mutex::new(Fetched { size, pos: 0, parts: Vec::new() }))),
            reader: None,
        }
    }

    /// Read plaintext bytes `[start, start + len)`: one ranged GET (unless
    /// already held; with the header when this is the pack's first read and
    /// the range begins the pack), then decryption of the covering chunks.
    pub fn read(
        &mut self,
        store: &dyn ObjectStore,
        key: &DataKey,
        headers: &PackHeaders,
        start: u64,
        len: u64,
    ) -> Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        if self.size <= self.payload_offset {
            return Err(corrupt(&self.name, "shorter than its age header"));
        }
        // age's reader, seeking to a chunk boundary other than the start,
        // reads the pack's last chunk to learn the length; seeking to the
        // byte before it instead needs only the previous chunk.
        let seek_to = if start > 0 && start.is_multiple_of(CHUNK) { start - 1 } else { start };
        let c0 = seek_to / CHUNK;
        let c1 = (start + len - 1) / CHUNK;
        let from = self.payload_offset + c0 * ENC_CHUNK;
        let to = (self.payload_offset + (c1 + 1) * ENC_CHUNK).min(self.size);
        if from >= self.size {
            return Err(corrupt(&self.name, "the index points past the end of the pack"));
        }
        if self.reader.is_none() {
            let (header, data) = headers.get(
                store,
                &self.name,
                self.pack,
                (self.size, self.payload_offset),
                (from, to),
            )?;
            let mut f = self.fetched.0.lock().unwrap();
            f.parts = header.as_ref().clone();
            f.parts.extend(data);
        }
        let covered = {
            let f = self.fetched.0.lock().unwrap();
            f.parts.iter().any(|(s, b)| *s <= from && s + b.len() as u64 >= to)
        };
        if !covered {
            let bytes = get(store, &self.name, from, to - from)?;
            self.fetched.0.lock().unwrap().parts.push((from, bytes));
        }
        // A reader positioned in a later chunk cannot seek back to 0
        // without the length either: begin a new one (it starts at 0).
        if self.reader.is_none() || seek_to == 0 {
            self.fetched.0.lock().unwrap().pos = 0;
            self.reader = Some(key.stream_reader(&self.name, self.fetched.clone())?);
        }
        let what = &self.name;
        let fail = |e: std::io::Error| corrupt(what, format!("authentication failed: {e}"));
        let reader = self.reader.as_mut().unwrap();
        reader.seek(SeekFrom::Start(seek_to)).map_err(fail)?;
        if seek_to < start {
            reader.read_exact(&mut [0u8]).map_err(fail)?;
        }
        let mut out = vec![0u8; len as usize];
        reader.read_exact(&mut out).map_err(fail)?;
        // Restore units end on run breaks, so the next read rarely wants
        // these bytes again: keep only the header between reads (a worker
        // holds several readers).
        self.fetched.0.lock().unwrap().parts.retain(|(s, _)| *s == 0);
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

#[cfg(test)]
mod tests {
    use super::*;
    use vdr_model::testing::MemoryStore;
    use vdr_model::{ListPage, MultipartUpload, ObjectMeta, VersionPage};

    /// A store that records the range of every GET.
    struct Recording(MemoryStore, Mutex<Vec<(u64, u64)>>);

    impl ObjectStore for Recording {
        fn describe(&self) -> String {
            self.0.describe()
        }
        fn put(&self, key: &str, data: &[u8], if_absent: bool) -> Result<()> {
            self.0.put(key, data, if_absent)
        }
        fn get(
            &self,
            key: &str,
            range: Option<ByteRange>,
            version: Option<&str>,
        ) -> Result<Vec<u8>> {
            let r = range.expect("packs are read by range");
            self.1.lock().unwrap().push((r.start, r.start + r.length));
            self.0.get(key, range, version)
        }
        fn stat(&self, key: &str) -> Result<ObjectMeta> {
            self.0.stat(key)
        }
        fn list(&self, prefix: &str, token: Option<String>, size: u32) -> Result<ListPage> {
            self.0.list(prefix, token, size)
        }
        fn delete(&self, key: &str) -> Result<()> {
            self.0.delete(key)
        }
        fn start_multipart<'a>(&'a self, key: &str) -> Result<Box<dyn MultipartUpload + 'a>> {
            self.0.start_multipart(key)
        }
        fn list_versions(
            &self,
            prefix: &str,
            token: Option<String>,
            size: u32,
        ) -> Result<VersionPage> {
            self.0.list_versions(prefix, token, size)
        }
    }

    /// Blobs that start exactly on, just before and just after 64 KiB chunk
    /// boundaries, read in an order that seeks back to 0 and to boundaries:
    /// every read is exact, and none fetches the pack's last chunk (age
    /// would for a seek to a chunk boundary) or the header twice.
    #[test]
    fn ranged_reads_are_exact_and_never_fetch_the_last_chunk() {
        let key = DataKey::generate();
        let c = CHUNK as usize;
        // The last blob is never read: it keeps the others off the last chunk.
        let sizes = [c, 1, c - 1, 2 * c, 5000, 3 * c, 2 * c];
        let blobs: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|k| (k * 31 + i * 7) as u8).collect())
            .collect();
        let mut writer = PackWriter::new(&key, 1 << 20);
        for (i, b) in blobs.iter().enumerate() {
            writer.add(Id([i as u8; 32]), b, b.len() as u32, None);
        }
        let pack = writer.finish();
        let store = Recording(MemoryStore::new(), Mutex::new(Vec::new()));
        store.put("p", &pack.bytes, false).unwrap();
        let size = pack.bytes.len() as u64;
        let last_chunk = pack.payload_offset as u64
            + (size - pack.payload_offset as u64 - 1) / ENC_CHUNK * ENC_CHUNK;

        let headers = PackHeaders::default();
        let mut reader = PackReader::new(pack.id, size, pack.payload_offset);
        reader.name = "pack p".into();
        for i in [3, 0, 1, 5, 2, 0, 4, 3] {
            let e = &pack.entries[i];
            let got = reader.read(&store, &key, &headers, e.offset, e.length as u64).unwrap();
            assert!(got == blobs[i], "blob {i} at {} read back wrong", e.offset);
        }
        let gets = store.1.lock().unwrap();
        assert!(gets.iter().all(|&(_, end)| end <= last_chunk), "fetched the last chunk: {gets:?}");
        assert_eq!(gets.iter().filter(|&&(start, _)| start == 0).count(), 1, "{gets:?}");
    }
}
