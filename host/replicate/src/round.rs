//! One anti-entropy round: scan both sides, compare bucket summaries,
//! compare records only in differing buckets, write only what differs.

use crate::compare::equivalent;
use crate::digest::{Scan, record_digest, scan};
use crate::error::{follower, leader};
use crate::state::{CollectionState, State, now_unix};
use serde::Serialize;
use std::collections::HashMap;
use std::time::Instant;
use vdr_model::{Database, Point, PointId};

#[derive(Clone, Debug)]
pub struct Options {
    /// Buckets per collection (leaves of the comparison tree).
    pub buckets: u32,
    /// Records per export call.
    pub export_batch: u32,
    /// Records per fetch / import / delete call.
    pub write_batch: usize,
    /// Absolute tolerance for vector components; 0 compares exactly. Set it
    /// for followers that round vectors, or every round re-sends them.
    pub tolerance: f32,
}

impl Default for Options {
    fn default() -> Self {
        Options { buckets: 4096, export_batch: 1000, write_batch: 500, tolerance: 0.0 }
    }
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CollectionReport {
    pub collection: String,
    /// The follower had no such collection; it was created from the leader's schema.
    pub created: bool,
    /// The follower was empty: this round was the initial full copy.
    pub full_copy: bool,
    pub leader_records: u64,
    pub follower_records_before: u64,
    pub buckets: u32,
    pub buckets_differing: u64,
    /// Records missing, changed or extra on the follower at the start.
    pub records_differing: u64,
    /// Records upserted into the follower.
    pub records_moved: u64,
    /// Follower-only records deleted.
    pub records_deleted: u64,
    /// Records that differ bit-wise but are equal within the tolerance.
    pub records_equivalent: u64,
    /// records_differing / records on either side, at the start of the round.
    pub lag_ratio: f64,
    /// Seconds since the follower last matched, measured at the start.
    pub lag_seconds: f64,
    /// Unix time the follower last matched the leader (now: the round's start).
    pub last_matched: f64,
    pub leader_root: String,
    pub follower_root: String,
    pub scan_seconds: f64,
    pub write_seconds: f64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RoundReport {
    pub from: String,
    pub to: String,
    pub round: u64,
    pub started_at: f64,
    pub duration_seconds: f64,
    pub records_moved: u64,
    pub records_deleted: u64,
    pub records_differing: u64,
    pub buckets_differing: u64,
    pub collections: Vec<CollectionReport>,
}

/// Make the follower's `collections` (all of the leader's when empty) equal
/// to the leader's. `state` carries lag and equivalences between rounds;
/// the caller saves it.
pub fn round(
    leader_db: &mut dyn Database,
    follower_db: &mut dyn Database,
    collections: &[String],
    state: &mut State,
    opts: &Options,
) -> crate::Result<RoundReport> {
    state.ensure_not_promoted()?;
    let started = Instant::now();
    let mut report = RoundReport {
        from: state.from.clone(),
        to: state.to.clone(),
        round: state.rounds + 1,
        started_at: now_unix(),
        ..RoundReport::default()
    };
    let names = if collections.is_empty() {
        leader_db.list_collections().map_err(leader("listing collections"))?
    } else {
        collections.to_vec()
    };
    for name in &names {
        let cs = state.collections.entry(name.clone()).or_insert_with(|| CollectionState {
            first_round: report.started_at,
            ..CollectionState::default()
        });
        let c = replicate_collection(leader_db, follower_db, name, cs, opts)?;
        tracing::info!(
            collection = %name, moved = c.records_moved, deleted = c.records_deleted,
            buckets_differing = c.buckets_differing, "replication round"
        );
        report.records_moved += c.records_moved;
        report.records_deleted += c.records_deleted;
        report.records_differing += c.records_differing;
        report.buckets_differing += c.buckets_differing;
        report.collections.push(c);
    }
    state.rounds += 1;
    report.duration_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn replicate_collection(
    leader_db: &mut dyn Database,
    follower_db: &mut dyn Database,
    name: &str,
    cs: &mut CollectionState,
    opts: &Options,
) -> crate::Result<CollectionReport> {
    let t0 = Instant::now();
    let started = now_unix();
    let mut r = CollectionReport {
        collection: name.into(),
        buckets: opts.buckets.max(1),
        ..CollectionReport::default()
    };
    let schema =
        leader_db.describe_collection(name).map_err(leader(format!("describing {name}")))?;
    let existing = follower_db.list_collections().map_err(follower("listing collections"))?;
    if !existing.iter().any(|c| c == name) {
        follower_db.create_collection(&schema).map_err(follower(format!("creating {name}")))?;
        r.created = true;
    }
    let mut equiv = cs.equivalents_map();
    // An empty follower gets the initial copy: the leader is read once, while copying.
    let empty = follower_db.count(name).map_err(follower(format!("counting {name}")))? == 0;
    if empty {
        let t1 = Instant::now();
        r.full_copy = true;
        r.records_moved = full_copy(leader_db, follower_db, name, opts)?;
        r.leader_records = r.records_moved;
        r.records_differing = r.records_moved;
        r.buckets_differing = if r.records_moved > 0 { u64::from(r.buckets) } else { 0 };
        r.lag_ratio = if r.records_moved > 0 { 1.0 } else { 0.0 };
        r.write_seconds = t1.elapsed().as_secs_f64();
        r.scan_seconds = t0.elapsed().as_secs_f64() - r.write_seconds;
        equiv.clear();
        return Ok(finish(r, cs, started, &equiv));
    }
    // Both sides are read at once: exports wait on plugins and servers.
    let substitute = |id: &PointId, d: u128| match equiv.get(id) {
        Some((l, f)) if *f == d => *l,
        _ => d,
    };
    let (lscan, fscan) = std::thread::scope(|s| {
        let l =
            s.spawn(|| scan(leader_db, "leader", name, opts.buckets, opts.export_batch, &|_, d| d));
        let f = scan(follower_db, "follower", name, opts.buckets, opts.export_batch, &substitute);
        (l.join().expect("the leader scan does not panic"), f)
    });
    let (lscan, fscan) = (lscan?, fscan?);
    r.follower_records_before = fscan.total;
    r.leader_records = lscan.total;
    r.leader_root = lscan.root();
    r.follower_root = fscan.root();
    let diff = diff(&lscan, &fscan);
    r.buckets_differing = diff.buckets;
    r.scan_seconds = t0.elapsed().as_secs_f64();

    let t1 = Instant::now();
    // Changed records may only look changed (the follower rounds vectors).
    let mut upsert: Vec<Point> = Vec::new();
    let mut upsert_ids = diff.missing;
    if opts.tolerance > 0.0 && !diff.changed.is_empty() {
        for ids in diff.changed.chunks(opts.write_batch.max(1)) {
            let ours = fetch_map(leader_db, "leader", name, ids)?;
            let theirs = fetch_map(follower_db, "follower", name, ids)?;
            for id in ids {
                let Some((lp, ld)) = ours.get(id) else { continue };
                match theirs.get(id) {
                    Some((fp, fd)) if equivalent(lp, fp, opts.tolerance) => {
                        equiv.insert(id.clone(), (*ld, *fd));
                        r.records_equivalent += 1;
                    }
                    _ => upsert.push(lp.clone()),
                }
            }
        }
    } else {
        upsert_ids.extend(diff.changed);
    }
    r.records_differing = (upsert.len() + upsert_ids.len() + diff.extra.len()) as u64;
    let union = lscan.total + diff.extra.len() as u64;
    r.lag_ratio = r.records_differing as f64 / union.max(1) as f64;

    for p in &upsert {
        equiv.remove(&p.id);
    }
    r.records_moved += write(follower_db, name, upsert, opts)?;
    for ids in upsert_ids.chunks(opts.write_batch.max(1)) {
        let points: Vec<Point> =
            fetch_map(leader_db, "leader", name, ids)?.into_values().map(|(p, _)| p).collect();
        for id in ids {
            equiv.remove(id);
        }
        r.records_moved += write(follower_db, name, points, opts)?;
    }
    for ids in diff.extra.chunks(opts.write_batch.max(1)) {
        follower_db.delete_points(name, ids).map_err(follower(format!("deleting from {name}")))?;
        for id in ids {
            equiv.remove(id);
        }
        r.records_deleted += ids.len() as u64;
    }
    if r.records_moved + r.records_deleted > 0 {
        follower_db.flush(name).map_err(follower(format!("flushing {name}")))?;
    }
    r.write_seconds = t1.elapsed().as_secs_f64();
    Ok(finish(r, cs, started, &equiv))
}

/// Record the round in the state: the follower now holds the leader as it
/// was when the round started reading it.
fn finish(
    mut r: CollectionReport,
    cs: &mut CollectionState,
    started: f64,
    equiv: &HashMap<PointId, (u128, u128)>,
) -> CollectionReport {
    r.lag_seconds = if r.records_differing == 0 {
        0.0
    } else {
        (started - cs.last_matched.unwrap_or(cs.first_round)).max(0.0)
    };
    cs.last_matched = Some(started);
    cs.last_round = started;
    cs.leader_records = r.leader_records;
    cs.follower_records = r.leader_records;
    cs.last_diff_ratio = r.lag_ratio;
    cs.set_equivalents(equiv);
    r.last_matched = started;
    r
}

struct Diff {
    buckets: u64,
    /// On the leader only.
    missing: Vec<PointId>,
    /// On both, with different digests.
    changed: Vec<PointId>,
    /// On the follower only.
    extra: Vec<PointId>,
}

/// Compare summaries; only differing buckets are compared record by record.
fn diff(l: &Scan, f: &Scan) -> Diff {
    let mut d = Diff { buckets: 0, missing: vec![], changed: vec![], extra: vec![] };
    for (b, (ls, fs)) in l.summaries.iter().zip(&f.summaries).enumerate() {
        if ls == fs {
            continue;
        }
        d.buckets += 1;
        let theirs: HashMap<&PointId, u128> = f.records[b].iter().map(|(i, x)| (i, *x)).collect();
        for (id, ld) in &l.records[b] {
            match theirs.get(id) {
                None => d.missing.push(id.clone()),
                Some(fd) if fd != ld => d.changed.push(id.clone()),
                Some(_) => {}
            }
        }
        let ours: std::collections::HashSet<&PointId> =
            l.records[b].iter().map(|(i, _)| i).collect();
        d.extra
            .extend(f.records[b].iter().filter(|(i, _)| !ours.contains(i)).map(|(i, _)| i.clone()));
    }
    d
}

fn fetch_map(
    db: &mut dyn Database,
    side: &'static str,
    name: &str,
    ids: &[PointId],
) -> crate::Result<HashMap<PointId, (Point, u128)>> {
    let wrap =
        |source| crate::Error::Database { side, what: format!("fetching from {name}"), source };
    let mut out = HashMap::with_capacity(ids.len());
    for mut p in db.fetch(name, ids).map_err(wrap)? {
        let d = record_digest(&mut p).map_err(wrap)?;
        out.insert(p.id.clone(), (p, d));
    }
    Ok(out)
}

fn write(
    db: &mut dyn Database,
    name: &str,
    mut points: Vec<Point>,
    opts: &Options,
) -> crate::Result<u64> {
    let n = points.len() as u64;
    while !points.is_empty() {
        let tail = points.split_off(points.len().saturating_sub(opts.write_batch.max(1)));
        db.import_batch(name, tail).map_err(follower(format!("importing into {name}")))?;
    }
    Ok(n)
}

/// The initial copy into an empty follower: stream the export into imports.
fn full_copy(
    leader_db: &mut dyn Database,
    follower_db: &mut dyn Database,
    name: &str,
    opts: &Options,
) -> crate::Result<u64> {
    let mut n = 0;
    let mut cursor =
        leader_db.open_export(name, None).map_err(leader(format!("exporting {name}")))?;
    loop {
        let batch =
            cursor.next_batch(opts.export_batch).map_err(leader(format!("exporting {name}")))?;
        if batch.is_empty() {
            break;
        }
        n += write(follower_db, name, batch, opts)?;
    }
    if n > 0 {
        follower_db.flush(name).map_err(follower(format!("flushing {name}")))?;
    }
    Ok(n)
}
