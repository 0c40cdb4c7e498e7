//! `vdr serve`: run scheduled jobs (playbooks, backups, verifications,
//! replication, retention) and serve `/metrics` and `/healthz`.
//!
//! Jobs are vdr commands run in-process on blocking threads (plugin calls
//! are synchronous), each with a fresh `Ctx` sharing one `Metrics`. One job
//! of a kind runs at a time per target: a tick that finds the previous run
//! still going is skipped and counted (`vdr_job_skipped_total`). SIGTERM or
//! SIGINT stops scheduling, waits for running jobs (bounded by
//! `--shutdown-timeout`), then exits 0.

mod cron;
mod http;
mod jobs;

use super::Ctx;
use crate::cli::ServeArgs;
use crate::exit::usage;
use anyhow::{Context, Result};
use chrono::{DateTime, TimeZone, Utc};
use jobs::{Job, When};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

pub fn run(ctx: Ctx, a: ServeArgs) -> Result<()> {
    let addr: SocketAddr = a.listen.parse().map_err(|_| {
        usage(format!("--listen {:?}: expected IP:PORT, e.g. 127.0.0.1:9464", a.listen))
    })?;
    if !addr.ip().is_loopback() && !a.allow_remote {
        return Err(usage(format!(
            "--listen {addr} is not a loopback address; metrics would be reachable from the network \
             (pass --allow-remote if that is intended)"
        )));
    }
    let grace = super::replicate::parse_interval(&a.shutdown_timeout)?;
    let jobs = match &a.schedules {
        Some(p) => jobs::load(p)?,
        None => Vec::new(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = rt.block_on(serve(ctx, addr, jobs, grace));
    // Jobs still running after the grace period are abandoned, not awaited.
    rt.shutdown_timeout(Duration::from_millis(100));
    result
}

struct Scheduler {
    ctx: Ctx,
    jobs: Vec<Job>,
    running: Arc<Mutex<HashSet<(&'static str, String)>>>,
    handles: Vec<JoinHandle<()>>,
    started: Instant,
}

async fn serve(ctx: Ctx, addr: SocketAddr, jobs: Vec<Job>, grace: Duration) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;
    // The bound address (port 0 picks one) on stderr, for scripts and tests.
    eprintln!("vdr serve: listening on http://{local} ({} jobs)", jobs.len());
    let http = tokio::spawn(http::serve(listener, ctx.metrics.clone()));
    let mut s = Scheduler {
        ctx,
        jobs,
        running: Arc::default(),
        handles: Vec::new(),
        started: Instant::now(),
    };
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut last = Utc::now().timestamp();
    loop {
        tokio::select! {
            _ = tick.tick() => {
                // Every whole second since the last check, none twice or skipped.
                let now = Utc::now().timestamp();
                for second in (last + 1)..=now {
                    if let Some(t) = Utc.timestamp_opt(second, 0).single() {
                        s.fire_due(t);
                    }
                }
                last = now.max(last);
                s.handles.retain(|h| !h.is_finished());
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    eprintln!(
        "vdr serve: shutting down, waiting up to {grace:?} for {} running job(s)",
        s.handles.len()
    );
    let deadline = tokio::time::Instant::now() + grace;
    for h in s.handles.drain(..) {
        if tokio::time::timeout_at(deadline, h).await.is_err() {
            eprintln!("vdr serve: a job did not finish within {grace:?}; abandoning it");
            break;
        }
    }
    http.abort();
    Ok(())
}

impl Scheduler {
    fn fire_due(&mut self, t: DateTime<Utc>) {
        let elapsed = self.started.elapsed().as_secs();
        for i in 0..self.jobs.len() {
            let due = match &self.jobs[i].when {
                When::Cron(c) => c.matches(t),
                When::Every(d) => elapsed > 0 && elapsed.is_multiple_of(d.as_secs().max(1)),
            };
            if due {
                self.start(i);
            }
        }
    }

    fn start(&mut self, i: usize) {
        let job = &self.jobs[i];
        let key = (job.kind, job.target.clone());
        if !self.running.lock().unwrap().insert(key.clone()) {
            tracing::warn!(job = %job.name, "previous run still going; skipping this tick");
            let l = [("job", job.kind), ("target", job.target.as_str())];
            self.ctx.metrics.inc("vdr_job_skipped_total", &l, 1.0);
            return;
        }
        let (command, name) = (job.command(), job.name.clone());
        let (globals, metrics) = (self.ctx.globals.clone(), self.ctx.metrics.clone());
        let running = self.running.clone();
        eprintln!("vdr serve: starting {name}");
        self.handles.push(tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let result = Ctx::with(globals, metrics).and_then(|ctx| super::execute(ctx, command));
            match result {
                Ok(()) => {
                    eprintln!("vdr serve: {name} done in {:.1}s", started.elapsed().as_secs_f64())
                }
                Err(e) => eprintln!("vdr serve: {name} failed: {e:#}"),
            }
            running.lock().unwrap().remove(&key);
        }));
    }
}
