//! `vdr replicate --from-repo REPO --to DB`: a standby that sees only the
//! (replicated) repository bucket applies each new snapshot incrementally,
//! reading only the chunks that changed since the snapshot it applied last
//! (log shipping, as WAL-G and Litestream standbys do).

use super::Ctx;
use super::replicate::{default_state_dir, repeat};
use crate::cli::ReplicateArgs;
use crate::output::table;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;
use vdr_model::{Database, Point, PointId};
use vdr_repo::{Repository, ShipSummary};

const STATE_FILE: &str = "ship.json";
const BATCH: usize = 1000;

/// What the follower has applied, per collection.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ShipState {
    repo: String,
    to: String,
    rounds: u64,
    collections: BTreeMap<String, Applied>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Applied {
    /// Id of the last snapshot applied completely.
    snapshot: String,
    snapshot_time: DateTime<Utc>,
    applied_at: DateTime<Utc>,
}

impl ShipState {
    fn load(dir: &Path, repo: &str, to: &str) -> Result<ShipState> {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .with_context(|| format!("replication state {} is unreadable", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(ShipState { repo: repo.into(), to: to.into(), ..ShipState::default() })
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Write a temporary file and rename it: a crash leaves the old state.
    fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = dir.join(format!("{STATE_FILE}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, dir.join(STATE_FILE))
            .with_context(|| format!("writing {}", dir.join(STATE_FILE).display()))
    }
}

#[derive(Serialize)]
struct ShipRound {
    round: u64,
    from_repo: String,
    to: String,
    duration_seconds: f64,
    collections: Vec<ShipCollection>,
}

#[derive(Serialize)]
struct ShipCollection {
    collection: String,
    snapshot_time: DateTime<Utc>,
    /// The follower's collection was created this round.
    created: bool,
    /// Nothing to compare with (first round, or the last applied snapshot is
    /// gone from the repository): the whole snapshot was read into a fresh collection.
    full: bool,
    #[serde(flatten)]
    summary: ShipSummary,
    /// Now minus the applied snapshot's time.
    lag_seconds: f64,
}

pub fn run(ctx: &Ctx, a: &ReplicateArgs, repo_spec: &str) -> Result<()> {
    let dir: PathBuf = a.state_dir.clone().unwrap_or_else(|| default_state_dir(repo_spec, &a.to));
    let stale = || record_stale(ctx, &dir, repo_spec, &a.to);
    let mut follower = ctx.database(&a.to, true).inspect_err(|_| stale())?;
    let one = || -> Result<ShipRound> {
        let started = Instant::now();
        // Reopened every round: keys and config may change, a bucket may come back.
        let repo = ctx.repository(repo_spec)?;
        let mut state = ShipState::load(&dir, repo_spec, &a.to)?;
        let snapshots = repo.snapshots()?;
        let names: Vec<String> = if a.collections.is_empty() {
            let all: BTreeSet<&String> =
                snapshots.iter().flat_map(|s| s.collections.iter().map(|c| &c.0)).collect();
            all.into_iter().cloned().collect()
        } else {
            a.collections.clone()
        };
        let known: BTreeSet<String> = snapshots.iter().map(|s| s.id.hex()).collect();
        let mut done = Vec::new();
        for name in &names {
            let c = apply(&repo, follower.as_mut(), name, &known, &mut state)
                .with_context(|| format!("replicating collection {name:?} from {repo_spec}"))?;
            let l = [("from", repo_spec), ("to", a.to.as_str()), ("collection", name.as_str())];
            ctx.metrics.set("vdr_replication_lag_seconds", &l, c.lag_seconds);
            // Saved after each collection: a failure later keeps what was applied.
            state.save(&dir)?;
            done.push(c);
        }
        state.rounds += 1;
        state.save(&dir)?;
        Ok(ShipRound {
            round: state.rounds,
            from_repo: repo_spec.to_string(),
            to: a.to.clone(),
            duration_seconds: started.elapsed().as_secs_f64(),
            collections: done,
        })
    };
    repeat(ctx, a, one, print, stale)
}

/// Bring `name` in the follower to the newest snapshot holding it.
fn apply(
    repo: &Repository,
    db: &mut dyn Database,
    name: &str,
    known: &BTreeSet<String>,
    state: &mut ShipState,
) -> Result<ShipCollection> {
    let snap = repo.snapshot("latest", Some(name))?;
    let entry = snap.collection(name).expect("latest holds the collection");
    let previous = state.collections.get(name).map(|p| p.snapshot.clone());
    let exists = db.list_collections()?.iter().any(|c| c == name);
    if exists && previous.as_deref() == Some(snap.id.hex().as_str()) {
        let summary = ShipSummary {
            snapshot: Some(snap.id),
            from: Some(snap.id),
            stream_blobs: entry.blobs.len() as u64,
            stream_length: entry.stream_length,
            ..ShipSummary::default()
        };
        return Ok(ShipCollection {
            collection: name.into(),
            snapshot_time: snap.time,
            created: false,
            full: false,
            summary,
            lag_seconds: lag(snap.time),
        });
    }
    // Incremental only from a snapshot still in the repository, into the
    // collection it was applied to; otherwise start over from an empty one.
    let from = previous.filter(|p| exists && known.contains(p));
    let mut created = false;
    if from.is_none() && exists {
        db.drop_collection(name)?;
    }
    if from.is_none() || !exists {
        let mut schema = entry.schema.clone();
        schema.name = name.to_string();
        db.create_collection(&schema)?;
        created = true;
    }
    let mut batch: Vec<Point> = Vec::new();
    let mut gone: Vec<PointId> = Vec::new();
    let summary = repo.changed_points(
        from.as_deref(),
        &snap.id.hex(),
        name,
        |p| {
            batch.push(p);
            if batch.len() >= BATCH {
                db.import_batch(name, std::mem::take(&mut batch))?;
            }
            Ok(())
        },
        |id| {
            gone.push(id);
            Ok(())
        },
    )?;
    if !batch.is_empty() {
        db.import_batch(name, batch)?;
    }
    for ids in gone.chunks(BATCH) {
        db.delete_points(name, ids)?;
    }
    db.flush(name)?;
    state.collections.insert(
        name.to_string(),
        Applied { snapshot: snap.id.hex(), snapshot_time: snap.time, applied_at: Utc::now() },
    );
    Ok(ShipCollection {
        collection: name.into(),
        snapshot_time: snap.time,
        created,
        full: from.is_none(),
        summary,
        lag_seconds: lag(snap.time),
    })
}

/// Seconds since `t` (a snapshot's time): the standby's lag.
fn lag(t: DateTime<Utc>) -> f64 {
    ((Utc::now() - t).num_milliseconds() as f64 / 1000.0).max(0.0)
}

/// After a failed round the standby still holds the snapshot it applied
/// last: its lag is that snapshot's age, growing while rounds fail.
fn record_stale(ctx: &Ctx, dir: &Path, repo: &str, to: &str) {
    let Ok(state) = ShipState::load(dir, repo, to) else { return };
    for (name, applied) in &state.collections {
        let l = [("from", repo), ("to", to), ("collection", name.as_str())];
        ctx.metrics.set("vdr_replication_lag_seconds", &l, lag(applied.snapshot_time));
    }
}

fn print(ctx: &Ctx, r: &ShipRound) -> Result<()> {
    if ctx.out.json {
        // One line per round, so continuous mode is a stream of documents.
        println!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = r
        .collections
        .iter()
        .map(|c| {
            let s = &c.summary;
            vec![
                c.collection.clone(),
                s.snapshot.map_or("-".into(), |i| i.short()),
                if c.full { "full".into() } else { "incremental".into() },
                format!("{}/{}", s.blobs_read, s.stream_blobs),
                format!("{}/{}", s.bytes_read, s.stream_length),
                s.points_upserted.to_string(),
                s.points_deleted.to_string(),
                format!("{:.1}", c.lag_seconds),
            ]
        })
        .collect();
    ctx.out.emit(r, || {
        format!(
            "round {} {} -> {} in {:.2}s\n{}",
            r.round,
            r.from_repo,
            r.to,
            r.duration_seconds,
            table(
                &[
                    "COLLECTION",
                    "SNAPSHOT",
                    "MODE",
                    "BLOBS READ",
                    "BYTES READ",
                    "UPSERTED",
                    "DELETED",
                    "LAG S"
                ],
                &rows
            )
        )
    })
}
