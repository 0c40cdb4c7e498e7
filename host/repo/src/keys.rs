//! Key files: the data key encrypted to the operator's recipients, plus a
//! data-key-encrypted description of each (kind, host, time, and a digest
//! of the key file so `check` can detect damage to keys it cannot open).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vdr_model::{Error, ErrorKind, ObjectStore, Result, list_all};

use crate::crypto::{DataKey, KeySpec};
use crate::format::{self, Id, from_json, key_info_key, key_key, to_json};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyInfoFile {
    pub kind: String,
    pub created: DateTime<Utc>,
    pub host: String,
    /// BLAKE3 hex of the key file's bytes.
    pub key_file_digest: String,
}

/// A key as listed for the operator.
#[derive(Clone, Debug, Serialize)]
pub struct KeyInfo {
    pub id: Id,
    pub kind: String,
    pub created: Option<DateTime<Utc>>,
    pub host: String,
    /// The key this session opened the repository with.
    pub current: bool,
}

pub fn write(store: &dyn ObjectStore, data_key: &DataKey, spec: &KeySpec) -> Result<Id> {
    let sealed = spec.encrypt(data_key.key_file_text().as_bytes())?;
    let id = Id::random();
    let info = KeyInfoFile {
        kind: spec.kind(),
        created: Utc::now(),
        host: format::hostname(),
        key_file_digest: blake3::hash(&sealed).to_hex().to_string(),
    };
    // The description first: a key file without one is still usable, the reverse is not.
    store.put(&key_info_key(&id), &data_key.seal(&to_json(&info)), true)?;
    store.put(&key_key(&id), &sealed, true)?;
    Ok(id)
}

/// Ids of the key files (not their `.info` companions).
pub fn list_ids(store: &dyn ObjectStore) -> Result<Vec<Id>> {
    Ok(list_all(store, format::KEYS)?
        .iter()
        .filter(|o| !o.key.ends_with(".info"))
        .filter_map(|o| Id::from_key(&o.key))
        .collect())
}

pub fn read_info(store: &dyn ObjectStore, key: &DataKey, id: &Id) -> Result<KeyInfoFile> {
    let name = key_info_key(id);
    from_json(&name, &key.open(&name, &store.get(&name, None, None)?)?)
}

pub fn list(store: &dyn ObjectStore, key: &DataKey, current: &Id) -> Result<Vec<KeyInfo>> {
    let mut out = Vec::new();
    for id in list_ids(store)? {
        let info = match read_info(store, key, &id) {
            Ok(i) => KeyInfo {
                id,
                kind: i.kind,
                created: Some(i.created),
                host: i.host,
                current: id == *current,
            },
            Err(e) if e.kind == ErrorKind::Unavailable => return Err(e),
            Err(_) => KeyInfo {
                id,
                kind: "unknown".into(),
                created: None,
                host: String::new(),
                current: id == *current,
            },
        };
        out.push(info);
    }
    out.sort_by_key(|k| (k.created, k.id));
    Ok(out)
}

pub fn remove(store: &dyn ObjectStore, id: &Id, current: &Id) -> Result<()> {
    let ids = list_ids(store)?;
    if !ids.contains(id) {
        return Err(Error::not_found(format!("no key {id}")));
    }
    if ids.len() == 1 {
        return Err(Error::invalid(
            "refusing to remove the last key: the repository would be unreadable",
        ));
    }
    if id == current {
        return Err(Error::invalid(
            "refusing to remove the key this session opened the repository with; open with another key to remove it",
        ));
    }
    store.delete(&key_key(id))?;
    store.delete(&key_info_key(id))
}

/// Resolve a full id or unique prefix among the key ids.
pub fn resolve(store: &dyn ObjectStore, spec: &str) -> Result<Id> {
    let spec = spec.to_ascii_lowercase();
    let ids: Vec<Id> =
        list_ids(store)?.into_iter().filter(|i| i.hex().starts_with(&spec)).collect();
    match ids.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::not_found(format!("no key with id {spec:?}"))),
        _ => Err(Error::invalid(format!("key id prefix {spec:?} is ambiguous"))),
    }
}
