//! `vdr replicate`: keep a follower database equal to its leader with
//! anti-entropy rounds (vdr-replicate), once or every `--interval`, and
//! promote the follower for failover.

use super::Ctx;
use crate::cli::ReplicateArgs;
use crate::exit::usage;
use crate::output::table;
use anyhow::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use vdr_replicate::{Options, RoundReport, State, now_unix};

pub fn run(ctx: &Ctx, a: ReplicateArgs) -> Result<()> {
    if let Some(repo) = &a.from_repo {
        return super::ship::run(ctx, &a, repo);
    }
    let from = a.from.clone().ok_or_else(|| usage("pass --from DB or --from-repo REPO"))?;
    let dir = a.state_dir.clone().unwrap_or_else(|| default_state_dir(&from, &a.to));
    if a.promote {
        return promote(ctx, &a, &from, &dir);
    }
    let opts = Options { tolerance: tolerance(&from, &a), ..Options::default() };
    let stale = || record_stale(ctx, &dir, &from, &a.to);
    let opened = ctx.database(&from, false).and_then(|l| Ok((l, ctx.database(&a.to, true)?)));
    let (mut leader, mut follower) = opened.inspect_err(|_| stale())?;
    let one = || -> Result<RoundReport> {
        let mut state = State::load(&dir, &from, &a.to)?;
        let r = vdr_replicate::round(
            leader.as_mut(),
            follower.as_mut(),
            &a.collections,
            &mut state,
            &opts,
        )
        .map_err(|e| match e {
            vdr_replicate::Error::Promoted { .. } => usage(e.to_string()),
            e => anyhow::Error::new(e),
        })?;
        state.save(&dir)?;
        record(ctx, &r);
        Ok(r)
    };
    repeat(ctx, &a, one, print, stale)
}

/// Run `one` round (`--once`), or one every `--interval` until SIGINT/SIGTERM;
/// a failed round is logged and counted, and the next one repairs it.
/// `stale` records the follower's lag after a failed round: the time since
/// it last matched keeps growing, so lag alerts fire while rounds fail.
pub(super) fn repeat<R>(
    ctx: &Ctx,
    a: &ReplicateArgs,
    mut one: impl FnMut() -> Result<R>,
    print: impl Fn(&Ctx, &R) -> Result<()>,
    stale: impl Fn(),
) -> Result<()> {
    let interval = parse_interval(&a.interval)?;
    let mut one = || one().inspect_err(|_| stale());
    if a.once {
        let r = one()?;
        return print(ctx, &r);
    }
    install_stop_handlers();
    loop {
        let started = Instant::now();
        match one() {
            Ok(r) => print(ctx, &r)?,
            // A promoted follower stops replication for good.
            Err(e) if crate::exit::code_of(&e) == crate::exit::Code::Usage => return Err(e),
            // A replica keeps trying: the next round repairs a failed one.
            Err(e) => {
                let kind = crate::metrics::failure_kind(&e);
                ctx.metrics.job("replicate", &a.to, started.elapsed(), Some(kind));
                tracing::error!("replication round failed: {e:#}");
            }
        }
        let deadline = Instant::now() + interval;
        while Instant::now() < deadline {
            if STOP.load(Ordering::SeqCst) {
                tracing::info!("stopping replication between rounds");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if STOP.load(Ordering::SeqCst) {
            return Ok(());
        }
    }
}

/// Exact between databases of one engine; across engines, vectors may come
/// back rounded (Chroma's stored floats differ in the last bits), and an
/// exact comparison would re-send those records every round.
fn tolerance(from: &str, a: &ReplicateArgs) -> f32 {
    let engine = |db: &str| db.split_once("://").map(|(s, _)| s.to_string());
    match (a.tolerance, engine(from), engine(&a.to)) {
        (Some(t), _, _) => t,
        (None, Some(x), Some(y)) if x == y => 0.0,
        _ => 1e-5,
    }
}

/// `.vdr/replicate/<hash of from, to>`: one state per pair of databases.
pub fn default_state_dir(from: &str, to: &str) -> PathBuf {
    let h = blake3::hash(format!("{from}\0{to}").as_bytes());
    Path::new(".vdr").join("replicate").join(&h.to_hex()[..16])
}

/// `30s`, `5m`, `1h`; a bare number is seconds.
pub fn parse_interval(s: &str) -> Result<Duration> {
    if let Ok(n) = s.trim().parse::<f64>() {
        if n > 0.0 && n.is_finite() {
            return Ok(Duration::from_secs_f64(n));
        }
        return Err(usage(format!("interval {s:?} must be positive")));
    }
    let d = super::repo::parse_duration(s.trim())?;
    if d.is_zero() {
        return Err(usage(format!("interval {s:?} must be positive")));
    }
    Ok(d)
}

fn record(ctx: &Ctx, r: &RoundReport) {
    for c in &r.collections {
        let l = [("from", r.from.as_str()), ("to", r.to.as_str()), ("collection", &c.collection)];
        ctx.metrics.set("vdr_replication_lag_seconds", &l, c.lag_seconds);
        ctx.metrics.set("vdr_replication_lag_ratio", &l, c.lag_ratio);
    }
}

/// A failed round leaves the follower as stale as it was, and older: its lag
/// is the time since it last matched the leader, so that alerts on
/// `vdr_replication_lag_seconds` fire while replication is broken instead
/// of showing the last good round's figure forever.
fn record_stale(ctx: &Ctx, dir: &Path, from: &str, to: &str) {
    let Ok(state) = State::load(dir, from, to) else { return };
    let now = now_unix();
    for (name, c) in &state.collections {
        let since = c.last_matched.unwrap_or(c.first_round);
        let l = [("from", state.from.as_str()), ("to", state.to.as_str()), ("collection", name)];
        ctx.metrics.set("vdr_replication_lag_seconds", &l, (now - since).max(0.0));
    }
}

fn print(ctx: &Ctx, r: &RoundReport) -> Result<()> {
    if ctx.out.json {
        // One line per round, so continuous mode is a stream of documents.
        println!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = r
        .collections
        .iter()
        .map(|c| {
            vec![
                c.collection.clone(),
                c.leader_records.to_string(),
                format!("{}/{}", c.buckets_differing, c.buckets),
                c.records_moved.to_string(),
                c.records_deleted.to_string(),
                format!("{:.4}", c.lag_ratio),
                format!("{:.1}", c.lag_seconds),
            ]
        })
        .collect();
    ctx.out.emit(r, || {
        format!(
            "round {} {} -> {} in {:.2}s\n{}",
            r.round,
            r.from,
            r.to,
            r.duration_seconds,
            table(
                &[
                    "COLLECTION",
                    "RECORDS",
                    "BUCKETS DIFF",
                    "MOVED",
                    "DELETED",
                    "LAG RATIO",
                    "LAG S"
                ],
                &rows
            )
        )
    })
}

#[derive(Serialize)]
struct Promoted {
    from: String,
    to: String,
    promoted_at: f64,
    rounds: u64,
    collections: Vec<PromotedCollection>,
}

#[derive(Serialize)]
struct PromotedCollection {
    collection: String,
    /// Unix time the follower last matched the leader; writes to the leader
    /// after it may be missing from the follower.
    last_matched: Option<f64>,
    seconds_since_match: Option<f64>,
    leader_records_at_match: u64,
    follower_records_now: Option<u64>,
    last_lag_ratio: f64,
}

/// Stop replication into the follower for good and say how current it is.
fn promote(ctx: &Ctx, a: &ReplicateArgs, from: &str, dir: &Path) -> Result<()> {
    let mut state = State::load(dir, from, &a.to)?;
    if state.rounds == 0 {
        return Err(usage(format!(
            "no replication state in {}: nothing was replicated into {} (pass the --state-dir replication used)",
            dir.display(),
            a.to
        )));
    }
    let now = now_unix();
    state.promoted_at.get_or_insert(now);
    state.save(dir)?;
    let mut db = ctx.database(&a.to, false).ok();
    let collections = state
        .collections
        .iter()
        .filter(|(n, _)| a.collections.is_empty() || a.collections.contains(n))
        .map(|(n, c)| PromotedCollection {
            collection: n.clone(),
            last_matched: c.last_matched,
            seconds_since_match: c.last_matched.map(|t| (now - t).max(0.0)),
            leader_records_at_match: c.leader_records,
            follower_records_now: db.as_mut().and_then(|d| d.count(n).ok()),
            last_lag_ratio: c.last_diff_ratio,
        })
        .collect();
    let p = Promoted {
        from: from.to_string(),
        to: a.to.clone(),
        promoted_at: state.promoted_at.unwrap_or(now),
        rounds: state.rounds,
        collections,
    };
    ctx.out.emit(&p, || {
        let rows: Vec<Vec<String>> = p
            .collections
            .iter()
            .map(|c| {
                vec![
                    c.collection.clone(),
                    c.seconds_since_match.map_or("never".into(), |s| format!("{s:.0}s ago")),
                    c.leader_records_at_match.to_string(),
                    c.follower_records_now.map_or("?".into(), |n| n.to_string()),
                ]
            })
            .collect();
        format!(
            "promoted {}: replication from {} stopped after {} rounds\n{}",
            p.to,
            p.from,
            p.rounds,
            table(&["COLLECTION", "LAST MATCHED", "RECORDS AT MATCH", "RECORDS NOW"], &rows)
        )
    })
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // A second signal stops at once, mid-round (the next run repairs it).
    if STOP.swap(true, Ordering::SeqCst) {
        unsafe { libc::_exit(130) };
    }
}

/// SIGINT/SIGTERM end continuous mode between rounds, not mid-write.
fn install_stop_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only touches an atomic and calls _exit, both async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}
