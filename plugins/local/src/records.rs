//! `points.log`: the append-only record log of one collection.
//!
//! ```text
//! log    := magic:"VDRLOCAL" version:u32(=1) epoch:u64 frame*
//! frame  := len:u32 crc:u32 tag:u8 body      len = 1 + |body|, crc = CRC-32 (IEEE) of tag+body
//!   tag 1 upsert : body = canonical point (see codec)
//!   tag 2 delete : body = canonical id
//! ```
//! The last frame for an id wins. A frame cut short by a crash (or with a
//! bad checksum) ends the log: it and anything after it are dropped when the
//! log is next opened for writing. The epoch is random per log file, so a
//! compacted log is never mistaken for the one it replaced (see `index`).
//!
//! `live.bin` beside it is a checkpoint of the id -> location map, so that
//! opening scans only the frames appended since (a 1M-record log takes
//! seconds to scan):
//! ```text
//! live   := magic:"VDRLIVE1" epoch:u64 log_len:u64 last:u64 last_crc:u64
//!           dead_bytes:u64 count:u64 (id offset:u64 len:u32)* crc:u32
//! ```
//! (`last`: where the frame ending at `log_len` starts; `last_crc`: that
//! frame's checksum; `crc`: CRC-32 of everything before it.) It is only a
//! cache: written atomically at flush (when there is none, or the frames
//! after it outgrow 1 MiB and an eighth of the log), and ignored (the whole log is
//! scanned) when missing, damaged, of another epoch, longer than the log,
//! or when the frame at `last` is no longer whole, with that checksum,
//! ending at `log_len`. A writable open deletes a checkpoint it ignored,
//! before anything is appended, so no later log can match it; and an append
//! that fails is cut off again, so a checkpoint never covers frames the map
//! lacks.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use vdr_plugin_sdk::{Error, Result, io_error};

use crate::codec::{IdKey, decode_id};

const MAGIC: &[u8; 8] = b"VDRLOCAL";
const VERSION: u32 = 1;
const HEADER_LEN: u64 = 8 + 4 + 8;
const FRAME_HEAD_LEN: u64 = 4 + 4;
pub const TAG_UPSERT: u8 = 1;
pub const TAG_DELETE: u8 = 2;

/// Where a point's canonical bytes are in the log.
#[derive(Clone, Copy, Debug)]
pub struct Location {
    pub offset: u64,
    pub len: u32,
}

/// The id -> location map rebuilt by scanning the log.
pub struct Scan {
    pub live: BTreeMap<IdKey, Location>,
    /// Bytes of frames that no longer matter (replaced or deleted).
    pub dead_bytes: u64,
    /// The log length the checkpoint read on opening covered (0: none).
    pub checkpointed: u64,
}

pub struct Log {
    path: PathBuf,
    file: File,
    len: u64,
    epoch: u64,
    /// The last frame (offset 0: none yet): a checkpoint records it, so
    /// opening can tell that the frame ending at its length is still the one
    /// it saw.
    last: FrameMark,
    /// A failed append could not be undone: the file may hold frames beyond
    /// `len`, so no checkpoint may vouch for this state.
    unsure_tail: bool,
}

impl Log {
    /// Create an empty log at `path` (replacing nothing: fails if it exists).
    pub fn create(path: &Path) -> Result<Log> {
        let epoch = RandomState::new().hash_one(path);
        let mut file = File::create_new(path).map_err(|e| io_error("creating points.log", &e))?;
        let mut header = Vec::with_capacity(HEADER_LEN as usize);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&epoch.to_le_bytes());
        file.write_all(&header)
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error("writing points.log", &e))?;
        Ok(Log {
            path: path.to_path_buf(),
            file,
            len: HEADER_LEN,
            epoch,
            last: FrameMark::default(),
            unsure_tail: false,
        })
    }

    /// Open the log at `path` and scan it.
    pub fn open(path: &Path) -> Result<(Log, Scan)> {
        let ctx = |e: &std::io::Error| io_error(&format!("opening {}", path.display()), e);
        // A read-only grant (backup, verify) opens the log read-only; writes
        // then fail with the sandbox's permission error.
        let (file, writable) = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(f) => (f, true),
            Err(_) => (OpenOptions::new().read(true).open(path).map_err(|e| ctx(&e))?, false),
        };
        let mut reader = BufReader::with_capacity(1 << 20, &file);
        let mut header = [0u8; HEADER_LEN as usize];
        reader.read_exact(&mut header).map_err(|e| ctx(&e))?;
        if &header[..8] != MAGIC || header[8..12] != VERSION.to_le_bytes() {
            return Err(Error::Internal(format!("{} is not a version 1 vdr log", path.display())));
        }
        let epoch = u64::from_le_bytes(header[12..20].try_into().unwrap());
        let file_len = file.metadata().map_err(|e| ctx(&e))?.len();

        let (mut scan, mut pos, mut last) = match read_checkpoint(path, epoch, file_len) {
            Some(found) => found,
            None => {
                // Rejected (or absent): a writable open removes it before
                // anything is appended, so that no later log can match it.
                let checkpoint = live_path(path);
                if writable && checkpoint.exists() {
                    fs::remove_file(&checkpoint)
                        .map_err(|e| io_error("removing a stale live.bin", &e))?;
                    if let Some(dir) = path.parent() {
                        crate::collection::sync_dir(dir);
                    }
                }
                let empty = Scan { live: BTreeMap::new(), dead_bytes: 0, checkpointed: 0 };
                (empty, HEADER_LEN, FrameMark::default())
            }
        };
        reader.seek(SeekFrom::Start(pos)).map_err(|e| ctx(&e))?;
        let mut frame = Vec::new();
        while let Some((tag, body_len, crc)) = read_frame(&mut reader, file_len - pos, &mut frame) {
            last = FrameMark { offset: pos, crc };
            let body_offset = pos + FRAME_HEAD_LEN + 1;
            let frame_len = FRAME_HEAD_LEN + 1 + body_len as u64;
            let id = decode_id(&frame[1..])?;
            let location = Location { offset: body_offset, len: body_len };
            let previous = match tag {
                TAG_UPSERT => scan.live.insert(id, location),
                TAG_DELETE => {
                    scan.dead_bytes += frame_len;
                    scan.live.remove(&id)
                }
                t => return Err(Error::Internal(format!("unknown log frame tag {t}"))),
            };
            if let Some(old) = previous {
                scan.dead_bytes += FRAME_HEAD_LEN + 1 + old.len as u64;
            }
            pos += frame_len;
        }
        drop(reader);
        let log = Log { path: path.to_path_buf(), file, len: pos, epoch, last, unsure_tail: false };
        if pos < file_len {
            // A torn or corrupt tail from an interrupted write: cut it off so
            // new frames follow the last good one (on a read-only grant this
            // fails, and the tail is simply ignored).
            let _ = log.file.set_len(pos);
        }
        Ok((log, scan))
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Length of the valid log in bytes (grows with every append).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Append encoded frames (see [`push_frame`]); returns the offset where
    /// they start.
    pub fn append(&mut self, frames: &[u8]) -> Result<u64> {
        let start = self.len;
        self.file
            .seek(SeekFrom::Start(start))
            .map_err(|e| io_error("appending to points.log", &e))?;
        self.file.write_all(frames).map_err(|e| io_error("appending to points.log", &e))?;
        self.len += frames.len() as u64;
        if let Some(last) = last_frame_in(frames) {
            self.last = FrameMark { offset: start + last.offset, crc: last.crc };
        }
        Ok(start)
    }

    /// Append and fsync, or leave the log as it was: on failure the frames
    /// are cut off again (or, if even that fails, no checkpoint is written
    /// by this instance), so the in-memory map and the file agree.
    pub fn append_durably(&mut self, frames: &[u8]) -> Result<u64> {
        let (len, last) = (self.len, self.last);
        let result = self.append(frames).and_then(|start| self.sync().map(|()| start));
        if result.is_err() {
            (self.len, self.last) = (len, last);
            if self.file.set_len(len).is_err() {
                self.unsure_tail = true;
            }
        }
        result
    }

    pub fn sync(&self) -> Result<()> {
        self.file.sync_data().map_err(|e| io_error("syncing points.log", &e))
    }

    /// The body bytes at each of `locations`, in that order (see [`read_many`]).
    pub fn read_many(&self, locations: &[Location]) -> Result<Vec<Vec<u8>>> {
        read_many(&self.file, locations)
    }

    /// The ids written by the frames in `start..end` of the log (both frame
    /// boundaries, e.g. an earlier `len()` and the current one), in id order.
    pub fn ids_between(&self, start: u64, end: u64) -> Result<BTreeSet<IdKey>> {
        let bad = || Error::Internal(format!("no frame boundary at {start} in points.log"));
        if start < HEADER_LEN || start > end || end > self.len {
            return Err(bad());
        }
        let mut file = &self.file;
        file.seek(SeekFrom::Start(start)).map_err(|e| io_error("reading points.log", &e))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut ids = BTreeSet::new();
        let mut pos = start;
        let mut frame = Vec::new();
        while pos < end {
            let Some((_, body_len, _)) = read_frame(&mut reader, end - pos, &mut frame) else {
                return Err(bad());
            };
            ids.insert(decode_id(&frame[1..])?);
            pos += FRAME_HEAD_LEN + 1 + body_len as u64;
        }
        Ok(ids)
    }

    /// Where the log ends now, with the fingerprint of the frame ending
    /// there: a position a later [`Log::still_holds`] can vouch for.
    pub fn position(&self) -> Position {
        Position { epoch: self.epoch, len: self.len, last: self.last.offset, crc: self.last.crc }
    }

    /// Whether `p` is still a frame boundary of this very log: same epoch,
    /// not past the end, and the frame it saw last still whole, with the
    /// same checksum, ending exactly at its length. Within an epoch the log
    /// only grows, except when a crash tears unsynced frames off its tail;
    /// frames written after that could straddle `p.len`, and the
    /// fingerprint tells.
    pub fn still_holds(&self, p: &Position) -> bool {
        if p.epoch != self.epoch || p.len < HEADER_LEN || p.len > self.len {
            return false;
        }
        p.len == HEADER_LEN || frame_ends_at(&self.file, p.last, p.crc, p.len)
    }

    /// A second handle on the same file, for cursors that outlive a call.
    pub fn reopen_read(&self) -> Result<File> {
        File::open(&self.path).map_err(|e| io_error("opening points.log", &e))
    }
}

/// Neighbouring records closer than this are read with one call, gap included:
/// every read is a trip out of the sandbox, which costs far more than 64 KiB.
const COALESCE_GAP: u64 = 64 << 10;
/// The largest single read when coalescing.
const MAX_SPAN: u64 = 8 << 20;

/// The body bytes at each of `locations` (in that order), read in as few
/// calls as their placement in the log allows.
pub fn read_many(mut file: &File, locations: &[Location]) -> Result<Vec<Vec<u8>>> {
    let end_of = |l: &Location| l.offset + u64::from(l.len);
    let mut order: Vec<usize> = (0..locations.len()).collect();
    order.sort_unstable_by_key(|&i| locations[i].offset);
    let mut out = vec![Vec::new(); locations.len()];
    let mut span = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let start = locations[order[i]].offset;
        let mut end = end_of(&locations[order[i]]);
        let mut j = i + 1;
        while let Some(l) = order.get(j).map(|&k| &locations[k]) {
            let extended = end.max(end_of(l));
            if l.offset > end + COALESCE_GAP || extended - start > MAX_SPAN {
                break;
            }
            end = extended;
            j += 1;
        }
        span.resize((end - start) as usize, 0);
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(&mut span))
            .map_err(|e| io_error("reading points.log", &e))?;
        for &k in &order[i..j] {
            let from = (locations[k].offset - start) as usize;
            out[k] = span[from..from + locations[k].len as usize].to_vec();
        }
        i = j;
    }
    Ok(out)
}

/// Append one frame to `out`; returns the offset of its body within `out`.
pub fn push_frame(out: &mut Vec<u8>, tag: u8, body: &[u8]) -> usize {
    let len = 1 + body.len() as u32;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&[tag]);
    crc.update(body);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.push(tag);
    let body_start = out.len();
    out.extend_from_slice(body);
    body_start
}

const LIVE_FILE: &str = "live.bin";
const LIVE_MAGIC: &[u8; 8] = b"VDRLIVE1";

/// Write the checkpoint of `scan` for `log` (see the module docs).
pub fn write_checkpoint(
    log: &Log,
    live: &BTreeMap<IdKey, Location>,
    dead_bytes: u64,
) -> Result<()> {
    if log.unsure_tail {
        return Err(Error::Internal("an append to points.log could not be undone".into()));
    }
    let mut out = Vec::with_capacity(56 + live.len() * 24);
    out.extend_from_slice(LIVE_MAGIC);
    let (last, last_crc) = (log.last.offset, u64::from(log.last.crc));
    for v in [log.epoch, log.len, last, last_crc, dead_bytes, live.len() as u64] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    crate::codec::encode_live_map(live, &mut out);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    crate::collection::write_atomically(&live_path(&log.path), &out)
}

/// The checkpoint beside the log at `path`, if it describes a prefix of
/// this log: its map, the length it covers and where the last frame before
/// that length starts. Checked through a handle of its own.
fn read_checkpoint(path: &Path, epoch: u64, file_len: u64) -> Option<(Scan, u64, FrameMark)> {
    let bytes = fs::read(live_path(path)).ok()?;
    let (body, crc) = bytes.split_at_checked(bytes.len().checked_sub(4)?)?;
    if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().ok()?)
        || body.get(..8)? != LIVE_MAGIC
    {
        return None;
    }
    let word =
        |i: usize| Some(u64::from_le_bytes(body.get(8 + i * 8..16 + i * 8)?.try_into().ok()?));
    let (log_len, last_frame, last_crc) = (word(1)?, word(2)?, word(3)?);
    let (dead_bytes, count) = (word(4)?, word(5)?);
    if word(0)? != epoch || log_len < HEADER_LEN || log_len > file_len {
        return None;
    }
    let live = crate::codec::decode_live_map(body.get(56..)?, count, HEADER_LEN, log_len).ok()?;
    // The frame it saw last must still be there, whole, with the same
    // checksum, ending exactly at log_len: the log is append-only within an
    // epoch, so anything else means it was cut and rewritten. That also
    // makes log_len a frame boundary, where the scan of the rest begins (a
    // torn frame there is simply the end of the log, cut off as usual).
    if log_len > HEADER_LEN
        && !frame_ends_at(
            &File::open(path).ok()?,
            last_frame,
            u32::try_from(last_crc).ok()?,
            log_len,
        )
    {
        return None;
    }
    let last = FrameMark { offset: last_frame, crc: last_crc as u32 };
    Some((Scan { live, dead_bytes, checkpointed: log_len }, log_len, last))
}

/// Whether a whole frame with checksum `crc` starts at `offset` in `file`
/// and ends exactly at `end`. Seeks `file`: every other reader of a shared
/// handle seeks before it reads.
fn frame_ends_at(mut file: &File, offset: u64, crc: u32, end: u64) -> bool {
    let Some(remaining) = end.checked_sub(offset) else { return false };
    if offset < HEADER_LEN || file.seek(SeekFrom::Start(offset)).is_err() {
        return false;
    }
    match read_frame(&mut BufReader::new(file), remaining, &mut Vec::new()) {
        Some((_, body_len, found)) => {
            found == crc && FRAME_HEAD_LEN + 1 + u64::from(body_len) == remaining
        }
        None => false,
    }
}

/// The last of the frames in `frames` (offset within it), if any.
fn last_frame_in(frames: &[u8]) -> Option<FrameMark> {
    let word = |at: usize| u32::from_le_bytes(frames[at..at + 4].try_into().unwrap());
    let (mut at, mut last) = (0usize, None);
    while at + FRAME_HEAD_LEN as usize <= frames.len() {
        last = Some(FrameMark { offset: at as u64, crc: word(at + 4) });
        at += FRAME_HEAD_LEN as usize + word(at) as usize;
    }
    last
}

/// A position in one log: its epoch and length, and the offset and
/// checksum of the frame ending there (offset 0 when the log is empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub epoch: u64,
    pub len: u64,
    pub last: u64,
    pub crc: u32,
}

/// A frame's offset in the log and its checksum.
#[derive(Clone, Copy, Default)]
struct FrameMark {
    offset: u64,
    crc: u32,
}

fn live_path(log: &Path) -> PathBuf {
    log.with_file_name(LIVE_FILE)
}

/// Read the next frame into `frame` (tag + body); its tag, body length and
/// checksum, or `None` at the end of the log or at a torn/corrupt frame.
/// `remaining` is the bytes left in the file.
fn read_frame(
    reader: &mut impl Read,
    remaining: u64,
    frame: &mut Vec<u8>,
) -> Option<(u8, u32, u32)> {
    let mut head = [0u8; FRAME_HEAD_LEN as usize];
    if remaining < FRAME_HEAD_LEN || reader.read_exact(&mut head).is_err() {
        return None;
    }
    let len = u32::from_le_bytes(head[..4].try_into().unwrap());
    let crc = u32::from_le_bytes(head[4..].try_into().unwrap());
    if len == 0 || len as u64 > remaining - FRAME_HEAD_LEN {
        return None;
    }
    frame.resize(len as usize, 0);
    reader.read_exact(frame).ok()?;
    let mut check = crc32fast::Hasher::new();
    check.update(frame);
    (check.finalize() == crc).then(|| (frame[0], len - 1, crc))
}

/// Write a new log holding `frames` at `path`, atomically replacing any log
/// there (temp file, fsync, rename).
pub fn replace_with(path: &Path, build: impl FnOnce(&mut Log) -> Result<()>) -> Result<()> {
    let temp = path.with_extension("log.compacting");
    let _ = fs::remove_file(&temp);
    let mut log = Log::create(&temp)?;
    build(&mut log)?;
    log.file.sync_all().map_err(|e| io_error("syncing compacted log", &e))?;
    fs::rename(&temp, path).map_err(|e| io_error("replacing points.log", &e))
}
