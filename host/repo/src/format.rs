//! Object names, ids and the repository config: the fixed vocabulary of FORMAT.md.

use serde::{Deserialize, Serialize};
use std::fmt;
use vdr_model::{Error, Result};

/// Bumped on any incompatible change to FORMAT.md; new repositories get it.
pub const FORMAT_VERSION: u32 = 3;
/// Versions this vdr opens. It writes into each only what that version
/// allows (version 2: no Huffman parts), so an older vdr can keep reading
/// the repositories it made.
pub const READABLE_VERSIONS: [u32; 2] = [2, 3];

pub const CONFIG: &str = "config";
pub const KEYS: &str = "keys/";
pub const DATA: &str = "data/";
pub const INDEX: &str = "index/";
pub const SNAPSHOTS: &str = "snapshots/";
pub const LOCKS: &str = "locks/";

/// A 32-byte identifier, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub [u8; 32]);

impl Id {
    pub fn random() -> Id {
        Id(rand::random())
    }
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
    pub fn short(&self) -> String {
        self.hex()[..8].to_string()
    }
    pub fn parse(s: &str) -> Result<Id> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map_err(|_| Error::invalid(format!("{s:?} is not a 64-digit hex id")))?;
        Ok(Id(out))
    }
    /// Parse the id at the end of an object name (`snapshots/<id>`).
    pub fn from_key(key: &str) -> Option<Id> {
        Id::parse(key.rsplit('/').next()?).ok()
    }
}

/// A fast hasher for maps keyed by [`Id`]: ids are BLAKE3 outputs (keyed
/// with the repository's secret for blobs) or random, so they need mixing,
/// not SipHash's resistance to chosen keys.
#[derive(Default)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
}

/// A map from blob ids.
pub type IdMap<V> = std::collections::HashMap<Id, V, std::hash::BuildHasherDefault<IdHasher>>;
/// A set of blob ids.
pub type IdSet = std::collections::HashSet<Id, std::hash::BuildHasherDefault<IdHasher>>;

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.short())
    }
}

impl Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Id, D::Error> {
        let s = String::deserialize(d)?;
        Id::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Packs are spread over 256 directories, as restic does, to keep listings small.
pub fn pack_key(id: &Id) -> String {
    let h = id.hex();
    format!("{DATA}{}/{h}", &h[..2])
}
pub fn index_key(id: &Id) -> String {
    format!("{INDEX}{id}")
}
pub fn snapshot_key(id: &Id) -> String {
    format!("{SNAPSHOTS}{id}")
}
pub fn lock_key(id: &Id) -> String {
    format!("{LOCKS}{id}")
}
pub fn key_key(id: &Id) -> String {
    format!("{KEYS}{id}")
}
/// The data-key-encrypted description of key `id` (kind, host, time, digest of the key file).
pub fn key_info_key(id: &Id) -> String {
    format!("{KEYS}{id}.info")
}

/// The repository's parameters, fixed at init (`config`, encrypted with the data key).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Config {
    pub format_version: u32,
    pub repository_id: Id,
    pub created: chrono::DateTime<chrono::Utc>,
    pub chunker: crate::chunker::ChunkerParams,
    pub pack_target_size: u64,
    pub compression_level: i32,
}

pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// JSON for an object body.
pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("repository types serialise")
}

pub fn from_json<T: for<'de> Deserialize<'de>>(what: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| corrupt(what, format!("malformed JSON: {e}")))
}

/// An object that exists but does not hold what the format says.
pub fn corrupt(what: impl fmt::Display, msg: impl fmt::Display) -> Error {
    Error::new(
        vdr_model::ErrorKind::Protocol,
        format!("repository object {what} is damaged: {msg}"),
    )
}
