//! vdr's backup repository: encrypted (age), compressed (zstd), content-defined
//! deduplicated (FastCDC + keyed BLAKE3) snapshots of vector collections.
//!
//! The byte layout is documented in `FORMAT.md` beside this crate. The entry
//! point is [`Repository`]: `init` / `open`, then `backup`, `restore`,
//! `snapshots`, `changed_points` (log shipping), `verify_basic`, `check`,
//! `forget`, `prune`, key management and `unlock`.

mod backup;
mod batch_hash;
mod check;
mod chunker;
mod compress;
mod crypto;
mod forget;
mod format;
mod huffman;
mod incremental;
mod index;
mod keys;
mod lock;
mod pack;
mod prune;
mod read;
mod recmap;
mod repository;
mod restore;
mod ship;
mod snapshot;
mod verify;

pub use backup::{
    BackupOptions, BackupProgress, BackupSummary, CollectionBackup, PointObserver, SourceInfo,
};
pub use check::{CheckOptions, CheckReport, Problem, ReadData};
pub use chunker::ChunkerParams;
pub use crypto::{Credentials, KeySpec};
pub use forget::{ForgetResult, KeepPolicy, Reason, SnapshotVerdict, plan_forget};
pub use format::{FORMAT_VERSION, Id};
pub use keys::KeyInfo;
pub use lock::{LockInfo, LockOptions};
pub use prune::{PruneOptions, PruneReport};
pub use repository::{InitOptions, Repository};
pub use restore::{CollectionRestore, RestoreOptions, RestoreProgress, RestoreSummary};
pub use ship::ShipSummary;
pub use snapshot::{BlobRef, CollectionEntry, NEWEST_BATCH, Snapshot, SnapshotInfo};
pub use verify::VerifyReport;

pub use vdr_model::{Error, ErrorKind, Result};
