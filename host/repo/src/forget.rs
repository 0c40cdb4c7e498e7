//! Retention policies with restic's semantics: snapshots are grouped by host
//! and collection set; within a group, each `keep_*` rule keeps the newest
//! snapshot of each of the N most recent time buckets (local time).

use chrono::{Datelike, Duration, TimeZone, Timelike};
use serde::Serialize;
use std::collections::BTreeMap;
use vdr_model::{Error, Result};

use crate::repository::Repository;
use crate::snapshot::{self, SnapshotInfo};

/// Maps a local time to its bucket (hour, day, ISO week, ...).
type BucketFn = fn(&chrono::NaiveDateTime) -> i64;

#[derive(Clone, Debug, Default)]
pub struct KeepPolicy {
    pub last: Option<u32>,
    pub hourly: Option<u32>,
    pub daily: Option<u32>,
    pub weekly: Option<u32>,
    pub monthly: Option<u32>,
    pub yearly: Option<u32>,
    /// Keep every snapshot this close to the group's newest one.
    pub within: Option<Duration>,
    /// Only snapshots carrying all these tags are considered; others are left alone.
    pub tags: Vec<String>,
}

impl KeepPolicy {
    fn is_empty(&self) -> bool {
        [self.last, self.hourly, self.daily, self.weekly, self.monthly, self.yearly]
            .iter()
            .all(Option::is_none)
            && self.within.is_none()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
    Within,
}

#[derive(Clone, Debug, Serialize)]
pub struct SnapshotVerdict {
    pub snapshot: SnapshotInfo,
    /// Why it is kept; empty for removed snapshots (no rule keeps them).
    pub reasons: Vec<Reason>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ForgetResult {
    pub keep: Vec<SnapshotVerdict>,
    pub remove: Vec<SnapshotVerdict>,
}

/// Decide, without touching the repository, which snapshots a policy keeps.
pub fn plan_forget<Tz: TimeZone>(
    snapshots: &[SnapshotInfo],
    policy: &KeepPolicy,
    tz: &Tz,
) -> Result<ForgetResult> {
    if policy.is_empty() {
        return Err(Error::invalid("no keep rule given; refusing to forget every snapshot"));
    }
    let mut groups: BTreeMap<(String, Vec<String>), Vec<&SnapshotInfo>> = BTreeMap::new();
    for s in snapshots {
        if !policy.tags.iter().all(|t| s.tags.contains(t)) {
            continue;
        }
        let mut names: Vec<String> = s.collections.iter().map(|c| c.0.clone()).collect();
        names.sort();
        groups.entry((s.hostname.clone(), names)).or_default().push(s);
    }
    let mut result = ForgetResult::default();
    for (_, mut group) in groups {
        group.sort_by_key(|s| std::cmp::Reverse((s.time, s.id)));
        let mut reasons: Vec<Vec<Reason>> = vec![Vec::new(); group.len()];
        let bucket_rules: [(Option<u32>, Reason, BucketFn); 6] = [
            (policy.last, Reason::Last, |_| 0),
            (policy.hourly, Reason::Hourly, |t| {
                (t.date().num_days_from_ce() as i64) * 24 + t.hour() as i64
            }),
            (policy.daily, Reason::Daily, |t| t.date().num_days_from_ce() as i64),
            (policy.weekly, Reason::Weekly, |t| {
                let w = t.date().iso_week();
                w.year() as i64 * 100 + w.week() as i64
            }),
            (policy.monthly, Reason::Monthly, |t| t.year() as i64 * 100 + t.month() as i64),
            (policy.yearly, Reason::Yearly, |t| t.year() as i64),
        ];
        for (count, reason, bucket) in bucket_rules {
            let Some(mut left) = count else { continue };
            let mut last_bucket = None;
            for (i, s) in group.iter().enumerate() {
                if left == 0 {
                    break;
                }
                let local = s.time.with_timezone(tz).naive_local();
                // keep-last: every snapshot is its own bucket.
                let b = if reason == Reason::Last { i as i64 } else { bucket(&local) };
                if last_bucket != Some(b) {
                    last_bucket = Some(b);
                    reasons[i].push(reason);
                    left -= 1;
                }
            }
        }
        if let Some(within) = policy.within {
            let newest = group[0].time;
            for (i, s) in group.iter().enumerate() {
                if newest - s.time <= within {
                    reasons[i].push(Reason::Within);
                }
            }
        }
        for (s, reasons) in group.into_iter().zip(reasons) {
            let v = SnapshotVerdict { snapshot: s.clone(), reasons };
            if v.reasons.is_empty() { result.remove.push(v) } else { result.keep.push(v) }
        }
    }
    Ok(result)
}

impl Repository {
    /// Every snapshot, oldest first.
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>> {
        let (snaps, _) = snapshot::load_all(self.store.as_ref(), &self.key)?;
        Ok(snaps.iter().map(|s| s.info()).collect())
    }

    /// How many snapshot objects the repository holds (a listing; none is read).
    pub fn snapshot_count(&self) -> Result<usize> {
        Ok(snapshot::list_ids(self.store.as_ref())?.len())
    }

    /// The full manifest of a snapshot (id, prefix or `latest`, optionally holding `collection`).
    pub fn snapshot(&self, spec: &str, collection: Option<&str>) -> Result<snapshot::Snapshot> {
        self.load_snapshot(spec, collection)
    }

    /// Apply a retention policy (buckets in local time); deletes the removed
    /// snapshots unless `dry_run`. Data goes only with `prune`.
    pub fn forget(&self, policy: &KeepPolicy, dry_run: bool) -> Result<ForgetResult> {
        let _lock = self.lock(false, "forget")?;
        let plan = plan_forget(&self.snapshots()?, policy, &chrono::Local)?;
        if !dry_run {
            for v in &plan.remove {
                self.store.delete(&crate::format::snapshot_key(&v.snapshot.id))?;
            }
        }
        Ok(plan)
    }
}
