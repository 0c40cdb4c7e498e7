//! age encryption: the repository data key, sealing objects, and the
//! operator credentials that unlock the data key.
//!
//! The data key is an age X25519 identity generated at init. Every object is
//! an ordinary age file encrypted to its recipient, so anyone holding the
//! decrypted key file can read any object with the `age` CLI. The chunk-id
//! secret is derived from it, so there is one secret to protect.

use age::secrecy::{ExposeSecret, SecretString};
use std::io::{Read, Write};
use std::iter;
use std::str::FromStr;
use vdr_model::{Error, ErrorKind, Result};

use crate::format::Id;

/// Derivation context for the chunk-id MAC key (BLAKE3 `derive_key`).
const CHUNK_ID_CONTEXT: &str = "vdr repository v1 chunk id key";
/// Derivation context for the id key of chunks made of whole frames.
const FRAMES_ID_CONTEXT: &str = "vdr repository v2 frames chunk id key";
/// Derivation context for the chunk-boundary key (keyed hash of point ids).
const BOUNDARY_CONTEXT: &str = "vdr repository v2 chunk boundary key";

pub struct DataKey {
    identity: age::x25519::Identity,
    recipient: age::x25519::Recipient,
    chunk_key: [u8; 32],
    frames_key: [u8; 32],
    pub(crate) boundary_key: [u8; 32],
}

impl DataKey {
    pub fn generate() -> DataKey {
        Self::from_identity(age::x25519::Identity::generate())
    }
    fn from_identity(identity: age::x25519::Identity) -> DataKey {
        let secret = identity.to_string();
        let chunk_key = blake3::derive_key(CHUNK_ID_CONTEXT, secret.expose_secret().as_bytes());
        let boundary_key = blake3::derive_key(BOUNDARY_CONTEXT, secret.expose_secret().as_bytes());
        let frames_key = blake3::derive_key(FRAMES_ID_CONTEXT, secret.expose_secret().as_bytes());
        let recipient = identity.to_public();
        DataKey { identity, recipient, chunk_key, frames_key, boundary_key }
    }
    /// Parse the plaintext of a key file: an age identity file (comments allowed).
    pub fn from_key_file_text(text: &str) -> Result<DataKey> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .ok_or_else(|| crate::format::corrupt("key file", "no AGE-SECRET-KEY line"))?;
        let identity = age::x25519::Identity::from_str(line)
            .map_err(|e| crate::format::corrupt("key file", e))?;
        Ok(Self::from_identity(identity))
    }
    /// The plaintext of a key file: an age identity file the `age` CLI accepts.
    pub fn key_file_text(&self) -> String {
        format!(
            "# vdr repository data key (age X25519 identity).\n\
             # Every object of the repository is an age file encrypted to this key:\n\
             # age -d -i <this file> <object>\n\
             {}\n",
            self.identity.to_string().expose_secret()
        )
    }
    /// The keyed BLAKE3 id of a chunk: reveals nothing across repositories.
    /// A chunk that is exactly a sequence of whole frames is identified by its
    /// frames' lengths and BLAKE3 digests (computed anyway for the content
    /// digest, so the chunk is hashed once); any other chunk by its bytes.
    pub fn chunk_id(&self, data: &[u8]) -> Id {
        let mut frames = Vec::new();
        if frame_digests(data, &mut frames) { self.frames_id(&frames) } else { self.bytes_id(data) }
    }
    pub fn bytes_id(&self, data: &[u8]) -> Id {
        Id(*blake3::keyed_hash(&self.chunk_key, data).as_bytes())
    }
    /// `BLAKE3.keyed(frames_key, (len:u32 digest:[32])*)`.
    pub fn frames_id(&self, frames: &[(u32, [u8; 32])]) -> Id {
        let mut h = blake3::Hasher::new_keyed(&self.frames_key);
        for (len, d) in frames {
            h.update(&len.to_le_bytes());
            h.update(d);
        }
        Id(*h.finalize().as_bytes())
    }
    /// Encrypt `plaintext` into an age file for the data key.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(plaintext.len() + plaintext.len() / 4096 + 256);
        let encryptor =
            age::Encryptor::with_recipients(iter::once(&self.recipient as &dyn age::Recipient))
                .expect("an X25519 recipient always wraps");
        let mut writer = encryptor.wrap_output(&mut out).expect("writing to a Vec");
        writer.write_all(plaintext).expect("writing to a Vec");
        writer.finish().expect("writing to a Vec");
        out
    }
    /// A streaming age encryptor to the data key (packs).
    pub fn stream_writer<W: Write>(&self, out: W) -> age::stream::StreamWriter<W> {
        age::Encryptor::with_recipients(iter::once(&self.recipient as &dyn age::Recipient))
            .expect("an X25519 recipient always wraps")
            .wrap_output(out)
            .expect("writing the age header")
    }
    /// A seekable age decryptor over `input` (packs, read by range).
    pub fn stream_reader<R: Read + std::io::Seek>(
        &self,
        what: &str,
        input: R,
    ) -> Result<age::stream::StreamReader<R>> {
        let decryptor = age::Decryptor::new(input)
            .map_err(|e| crate::format::corrupt(what, format!("not a valid age file: {e}")))?;
        decryptor
            .decrypt(iter::once(&self.identity as &dyn age::Identity))
            .map_err(|e| crate::format::corrupt(what, format!("age header rejected: {e}")))
    }
    /// Decrypt and authenticate an age file; `what` names the object in errors.
    pub fn open(&self, what: &str, ciphertext: &[u8]) -> Result<Vec<u8>> {
        decrypt_with(
            what,
            ciphertext,
            iter::once(&self.identity as &dyn age::Identity),
            ciphertext.len(),
        )
        .map_err(|e| match e.kind {
            ErrorKind::Unauthorized => {
                crate::format::corrupt(what, "not encrypted to this repository's key")
            }
            _ => e,
        })
    }
}

fn decrypt_with<'a>(
    what: &str,
    ciphertext: &[u8],
    identities: impl Iterator<Item = &'a dyn age::Identity>,
    size_hint: usize,
) -> Result<Vec<u8>> {
    let decryptor = age::Decryptor::new(ciphertext)
        .map_err(|e| crate::format::corrupt(what, format!("not a valid age file: {e}")))?;
    let mut reader = decryptor.decrypt(identities).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => {
            Error::new(ErrorKind::Unauthorized, format!("no identity given can decrypt {what}"))
        }
        age::DecryptError::DecryptionFailed | age::DecryptError::KeyDecryptionFailed => {
            Error::new(ErrorKind::Unauthorized, format!("wrong passphrase or key for {what}"))
        }
        e => crate::format::corrupt(what, format!("age header rejected: {e}")),
    })?;
    let mut out = Vec::with_capacity(size_hint);
    reader
        .read_to_end(&mut out)
        .map_err(|e| crate::format::corrupt(what, format!("authentication failed: {e}")))?;
    Ok(out)
}

/// What the operator presents to open a repository.
pub enum Credentials {
    /// age identities (X25519 or SSH private keys), from identity files.
    Identities(Vec<Box<dyn age::Identity + Send + Sync>>),
    Passphrase(SecretString),
}

impl Credentials {
    /// Parse an identity file: age identities (`AGE-SECRET-KEY-1...`, one or
    /// more) or an unencrypted OpenSSH / PEM private key.
    pub fn from_identity_text(text: &str, name: &str) -> Result<Credentials> {
        if text.contains("PRIVATE KEY-----") {
            let identity = age::ssh::Identity::from_buffer(text.as_bytes(), Some(name.into()))
                .map_err(|e| {
                    Error::invalid(format!("{name}: not a usable SSH private key: {e}"))
                })?;
            if let age::ssh::Identity::Unsupported(k) = &identity {
                return Err(Error::unsupported(format!("{name}: unsupported SSH key: {k:?}")));
            }
            if let age::ssh::Identity::Encrypted(_) = &identity {
                return Err(Error::unsupported(format!(
                    "{name}: passphrase-protected SSH keys are not supported; decrypt a copy with ssh-keygen -p"
                )));
            }
            return Ok(Credentials::Identities(vec![Box::new(identity)]));
        }
        let file = age::IdentityFile::from_buffer(text.as_bytes())
            .map_err(|e| Error::invalid(format!("{name}: not an age identity file: {e}")))?;
        let identities = file
            .into_identities()
            .map_err(|e| Error::invalid(format!("{name}: unusable identity: {e}")))?;
        if identities.is_empty() {
            return Err(Error::invalid(format!("{name}: holds no identity")));
        }
        Ok(Credentials::Identities(identities))
    }
    pub fn from_identity_file(path: &std::path::Path) -> Result<Credentials> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::invalid(format!("cannot read identity file {}: {e}", path.display()))
        })?;
        Self::from_identity_text(&text, &path.display().to_string())
    }
    pub fn passphrase(passphrase: impl Into<String>) -> Credentials {
        Credentials::Passphrase(SecretString::from(passphrase.into()))
    }

    /// Decrypt a key file; `Unauthorized` when these credentials don't fit it.
    pub(crate) fn decrypt_key_file(&self, what: &str, ciphertext: &[u8]) -> Result<Vec<u8>> {
        match self {
            Credentials::Identities(ids) => decrypt_with(
                what,
                ciphertext,
                ids.iter().map(|i| i.as_ref() as &dyn age::Identity),
                256,
            ),
            Credentials::Passphrase(p) => {
                let mut identity = age::scrypt::Identity::new(p.clone());
                identity.set_max_work_factor(30);
                decrypt_with(what, ciphertext, iter::once(&identity as &dyn age::Identity), 256)
            }
        }
    }
}

/// Who may unlock the data key through a new key file.
pub enum KeySpec {
    /// age recipients: `age1...` X25519, `ssh-ed25519 ...` or `ssh-rsa ...` public keys.
    Recipients(Vec<String>),
    /// A passphrase, stretched with scrypt. `work_factor` is log2(N); `None`
    /// lets age calibrate (about one second).
    Passphrase { passphrase: String, work_factor: Option<u8> },
}

impl KeySpec {
    pub fn passphrase(passphrase: impl Into<String>) -> KeySpec {
        KeySpec::Passphrase { passphrase: passphrase.into(), work_factor: None }
    }
    /// The kind recorded in the key list.
    pub(crate) fn kind(&self) -> String {
        match self {
            KeySpec::Passphrase { .. } => "passphrase".into(),
            KeySpec::Recipients(rs) => {
                let mut kinds: Vec<&str> = rs
                    .iter()
                    .map(|r| {
                        if r.starts_with("age1") {
                            "x25519"
                        } else {
                            r.split_whitespace().next().unwrap_or("?")
                        }
                    })
                    .collect();
                kinds.sort();
                kinds.dedup();
                kinds.join("+")
            }
        }
    }
    /// Encrypt a key file's plaintext to these recipients.
    pub(crate) fn encrypt(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let encryptor = match self {
            KeySpec::Passphrase { passphrase, work_factor } => {
                if passphrase.is_empty() {
                    return Err(Error::invalid("the passphrase is empty"));
                }
                let mut r = age::scrypt::Recipient::new(SecretString::from(passphrase.clone()));
                if let Some(f) = work_factor {
                    r.set_work_factor(*f);
                }
                age::Encryptor::with_recipients(iter::once(&r as &dyn age::Recipient))
            }
            KeySpec::Recipients(list) => {
                if list.is_empty() {
                    return Err(Error::invalid("no recipient given"));
                }
                let recipients =
                    list.iter().map(|r| parse_recipient(r)).collect::<Result<Vec<_>>>()?;
                age::Encryptor::with_recipients(
                    recipients.iter().map(|r| r.as_ref() as &dyn age::Recipient),
                )
            }
        }
        .map_err(|e| Error::invalid(format!("cannot encrypt to these recipients: {e}")))?;
        let mut out = Vec::new();
        let mut w = encryptor.wrap_output(&mut out).map_err(|e| Error::internal(e.to_string()))?;
        w.write_all(plaintext).map_err(|e| Error::internal(e.to_string()))?;
        w.finish().map_err(|e| Error::internal(e.to_string()))?;
        Ok(out)
    }
}

fn parse_recipient(text: &str) -> Result<Box<dyn age::Recipient>> {
    let text = text.trim();
    if text.starts_with("age1") {
        let r = age::x25519::Recipient::from_str(text)
            .map_err(|e| Error::invalid(format!("{text:?} is not an age recipient: {e}")))?;
        Ok(Box::new(r))
    } else if text.starts_with("ssh-") {
        let r = age::ssh::Recipient::from_str(text).map_err(|e| {
            Error::invalid(format!("{text:?} is not a usable SSH public key: {e:?}"))
        })?;
        Ok(Box::new(r))
    } else {
        Err(Error::invalid(format!(
            "{text:?} is not a recipient: expected age1... or an ssh-ed25519/ssh-rsa public key"
        )))
    }
}

/// If `data` is exactly a non-empty sequence of frames (`len:u32 body`),
/// append each frame's body length and BLAKE3 digest to `out` and return true.
pub fn frame_digests(data: &[u8], out: &mut Vec<(u32, [u8; 32])>) -> bool {
    let frames = ChunkFrames::of([data]);
    match frames.get(0) {
        Some(f) => {
            out.extend_from_slice(f);
            true
        }
        None => false,
    }
}

/// `frame_digests` of many chunks, hashed in one batch (far faster than one
/// frame at a time: see `batch_hash`).
pub struct ChunkFrames {
    frames: Vec<(u32, [u8; 32])>,
    /// Per chunk, its frames' range in `frames`; `None` if it is not whole frames.
    spans: Vec<Option<std::ops::Range<usize>>>,
}

impl ChunkFrames {
    pub fn of<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> ChunkFrames {
        let mut bodies: Vec<&[u8]> = Vec::new();
        let mut lens = Vec::new();
        let mut spans = Vec::new();
        for data in chunks {
            let from = bodies.len();
            if frame_bodies(data, &mut bodies) {
                spans.push(Some(from..bodies.len()));
            } else {
                bodies.truncate(from);
                spans.push(None);
            }
        }
        lens.extend(bodies.iter().map(|b| b.len() as u32));
        let mut digests = Vec::with_capacity(bodies.len());
        crate::batch_hash::hash_each(&bodies, &mut digests);
        ChunkFrames { frames: lens.into_iter().zip(digests).collect(), spans }
    }

    /// [`ChunkFrames::of`] the chunks of `data` that end at `ends`.
    pub fn of_cuts(data: &[u8], ends: &[usize]) -> ChunkFrames {
        ChunkFrames::of(ends.iter().scan(0, |from, &end| {
            let c = &data[*from..end];
            *from = end;
            Some(c)
        }))
    }

    /// The frames of chunk `i` (lengths and digests), if it is whole frames.
    pub fn get(&self, i: usize) -> Option<&[(u32, [u8; 32])]> {
        self.spans[i].clone().map(|r| &self.frames[r])
    }
}

/// Push the bodies of `data`'s frames; false if it is not exactly a
/// non-empty sequence of whole frames (what was pushed is then garbage).
fn frame_bodies<'a>(data: &'a [u8], bodies: &mut Vec<&'a [u8]>) -> bool {
    let mut rest = data;
    while rest.len() >= 4 {
        let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        let Some(body) = rest.get(4..4 + len) else { return false };
        bodies.push(body);
        rest = &rest[4 + len..];
    }
    rest.is_empty() && !data.is_empty()
}
