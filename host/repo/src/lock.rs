//! Repository locks: `locks/<id>` objects. Backups, restores and checks hold
//! shared locks; prune's short commit phase holds the only exclusive one.
//! A held lock is refreshed by writing a new object and deleting the old one
//! (nothing is rewritten in place).

use chrono::{DateTime, Utc};
use crossbeam_channel::{Sender, bounded};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use vdr_model::{Error, ErrorKind, ObjectStore, Result, list_all};

use crate::crypto::DataKey;
use crate::format::{self, Id, from_json, lock_key, to_json};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LockFile {
    pub host: String,
    pub pid: u32,
    pub exclusive: bool,
    pub created: DateTime<Utc>,
    pub refreshed: DateTime<Utc>,
    pub operation: String,
}

/// How locks are taken and judged.
#[derive(Clone, Debug)]
pub struct LockOptions {
    /// How long to wait for a conflicting lock to go away.
    pub wait: Duration,
    pub refresh_every: Duration,
    /// A lock not refreshed for this long is stale.
    pub stale_after: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            wait: Duration::from_secs(60),
            refresh_every: Duration::from_secs(5 * 60),
            stale_after: Duration::from_secs(30 * 60),
        }
    }
}

/// A lock as listed for the operator.
#[derive(Clone, Debug, Serialize)]
pub struct LockInfo {
    pub id: Id,
    pub lock: Option<LockFile>,
    /// Why the lock is considered stale, if it is.
    pub stale: Option<String>,
    /// Set when the object could not be read.
    pub error: Option<String>,
}

pub fn list(store: &dyn ObjectStore, key: &DataKey, opts: &LockOptions) -> Result<Vec<LockInfo>> {
    let mut out = Vec::new();
    for meta in list_all(store, format::LOCKS)? {
        let Some(id) = Id::from_key(&meta.key) else { continue };
        let read = store
            .get(&meta.key, None, None)
            .and_then(|s| key.open(&meta.key, &s))
            .and_then(|p| from_json::<LockFile>(&meta.key, &p));
        match read {
            Ok(lock) => {
                let stale = staleness(&lock, opts);
                out.push(LockInfo { id, lock: Some(lock), stale, error: None })
            }
            // Deleted between list and get: its holder just released it.
            Err(e) if e.kind == ErrorKind::NotFound => {}
            Err(e) if e.kind == ErrorKind::Unavailable => return Err(e),
            Err(e) => {
                out.push(LockInfo { id, lock: None, stale: None, error: Some(e.to_string()) })
            }
        }
    }
    Ok(out)
}

fn staleness(lock: &LockFile, opts: &LockOptions) -> Option<String> {
    let age = Utc::now().signed_duration_since(lock.refreshed);
    if age.to_std().is_ok_and(|a| a > opts.stale_after) {
        return Some(format!("not refreshed for {} minutes", age.num_minutes()));
    }
    if lock.host == format::hostname() && !process_alive(lock.pid) {
        return Some(format!("process {} on this host is gone", lock.pid));
    }
    None
}

fn process_alive(pid: u32) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid as i32, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A held lock; released on drop.
pub struct LockGuard {
    store: Arc<dyn ObjectStore>,
    current: Arc<Mutex<Id>>,
    stop: Option<Sender<()>>,
    refresher: Option<JoinHandle<()>>,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.refresher.take() {
            let _ = t.join();
        }
        let id = *self.current.lock().unwrap();
        if let Err(e) = self.store.delete(&lock_key(&id)) {
            tracing::warn!("could not remove lock {id}: {e}; `vdr unlock` removes it once stale");
        }
    }
}

pub fn acquire(
    store: &Arc<dyn ObjectStore>,
    key: &Arc<DataKey>,
    exclusive: bool,
    operation: &str,
    opts: &LockOptions,
) -> Result<LockGuard> {
    let deadline = std::time::Instant::now() + opts.wait;
    let mut pause = Duration::from_millis(50);
    loop {
        let now = Utc::now();
        let mine = LockFile {
            host: format::hostname(),
            pid: std::process::id(),
            exclusive,
            created: now,
            refreshed: now,
            operation: operation.into(),
        };
        let id = Id::random();
        store.put(&lock_key(&id), &key.seal(&to_json(&mine)), true)?;
        let conflicts: Vec<LockInfo> = list(store.as_ref(), key, opts)?
            .into_iter()
            .filter(|l| l.id != id && l.stale.is_none())
            .filter(|l| exclusive || l.lock.as_ref().is_some_and(|f| f.exclusive))
            .collect();
        if conflicts.is_empty() {
            return Ok(start_refresher(store.clone(), key.clone(), id, mine, opts.refresh_every));
        }
        let _ = store.delete(&lock_key(&id));
        if std::time::Instant::now() >= deadline {
            return Err(conflict_error(&conflicts, exclusive));
        }
        // Jitter so two would-be exclusive holders don't retry in lockstep.
        let jitter = Duration::from_millis(rand::random::<u64>() % 50);
        std::thread::sleep(pause + jitter);
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

fn conflict_error(conflicts: &[LockInfo], exclusive: bool) -> Error {
    let holders: Vec<String> = conflicts
        .iter()
        .map(|l| match &l.lock {
            Some(f) => format!(
                "{} ({} lock by {} pid {} on {}, refreshed {})",
                l.id.short(),
                if f.exclusive { "exclusive" } else { "shared" },
                f.operation,
                f.pid,
                f.host,
                f.refreshed.to_rfc3339()
            ),
            None => format!("{} (unreadable)", l.id.short()),
        })
        .collect();
    Error::new(
        ErrorKind::Unavailable,
        format!(
            "repository is locked{}: {}. Wait for it to finish; if its process is gone, \
             `vdr unlock` removes stale locks (`vdr unlock --remove-all` removes every lock)",
            if exclusive { " (an exclusive lock needs every other lock gone)" } else { "" },
            holders.join("; ")
        ),
    )
}

fn start_refresher(
    store: Arc<dyn ObjectStore>,
    key: Arc<DataKey>,
    id: Id,
    mut file: LockFile,
    every: Duration,
) -> LockGuard {
    let current = Arc::new(Mutex::new(id));
    let (stop, stopped) = bounded::<()>(0);
    let shared = current.clone();
    let store2 = store.clone();
    let refresher = std::thread::spawn(move || {
        while let Err(crossbeam_channel::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
            file.refreshed = Utc::now();
            let new_id = Id::random();
            if store2.put(&lock_key(&new_id), &key.seal(&to_json(&file)), true).is_ok() {
                let old = std::mem::replace(&mut *shared.lock().unwrap(), new_id);
                let _ = store2.delete(&lock_key(&old));
            }
        }
    });
    LockGuard { store, current, stop: Some(stop), refresher: Some(refresher) }
}

/// Remove stale locks (or all of them); returns the removed ids.
pub fn unlock(
    store: &dyn ObjectStore,
    key: &DataKey,
    remove_all: bool,
    opts: &LockOptions,
) -> Result<Vec<Id>> {
    let mut removed = Vec::new();
    for l in list(store, key, opts)? {
        if remove_all || l.stale.is_some() {
            store.delete(&lock_key(&l.id))?;
            removed.push(l.id);
        }
    }
    Ok(removed)
}
