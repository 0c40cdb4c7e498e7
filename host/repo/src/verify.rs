//! Basic verification: a live collection against a snapshot, record by record.

use serde::Serialize;
use std::collections::HashMap;
use vdr_model::canonical;
use vdr_model::{Database, PointId, Result};

use crate::index;
use crate::repository::Repository;

#[derive(Clone, Debug, Serialize)]
pub struct VerifyReport {
    pub snapshot: crate::format::Id,
    pub collection: String,
    pub live_collection: String,
    pub records_expected: u64,
    pub records_live: u64,
    /// Differences in vector names, dimensions or metrics; empty when equal.
    pub schema_differences: Vec<String>,
    pub missing: u64,
    pub extra: u64,
    pub changed: u64,
    pub ok: bool,
}

impl Repository {
    /// Compare `live` (default: `collection`) in `db` with `collection` in `snapshot`.
    pub fn verify_basic(
        &self,
        snapshot: &str,
        db: &mut dyn Database,
        collection: &str,
        live: Option<&str>,
    ) -> Result<VerifyReport> {
        let live = live.unwrap_or(collection);
        let _lock = self.lock(false, "verify")?;
        let snap = self.load_snapshot(snapshot, Some(collection))?;
        let entry = snap.entry(collection)?;
        let (index, _) = index::load(self.store.as_ref(), &self.key)?;
        let mut expected: HashMap<PointId, [u8; 32]> =
            HashMap::with_capacity(entry.records as usize);
        self.for_each_points(&index, entry, |d| {
            for p in d.points {
                let digest = canonical::digest(&p);
                expected.insert(p.id, digest);
            }
            Ok(())
        })?;

        let schema = db.describe_collection(live)?;
        let schema_differences = entry.schema.vector_differences(&schema);
        let (mut extra, mut changed, mut seen) = (0u64, 0u64, 0u64);
        {
            let mut cursor = db.open_export(live, None)?;
            loop {
                let batch = cursor.next_batch(1000)?;
                if batch.is_empty() {
                    break;
                }
                for mut p in batch {
                    canonical::normalize(&mut p)?;
                    match expected.get(&p.id) {
                        None => extra += 1,
                        Some(d) => {
                            seen += 1;
                            if *d != canonical::digest(&p) {
                                changed += 1;
                            }
                        }
                    }
                }
            }
        }
        let missing = expected.len() as u64 - seen;
        let records_live = db.count(live)?;
        let ok = schema_differences.is_empty()
            && missing == 0
            && extra == 0
            && changed == 0
            && records_live == entry.records;
        Ok(VerifyReport {
            snapshot: snap.id,
            collection: collection.into(),
            live_collection: live.into(),
            records_expected: entry.records,
            records_live,
            schema_differences,
            missing,
            extra,
            changed,
            ok,
        })
    }
}
