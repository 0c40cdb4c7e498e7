//! Live plugin instances: creation from a pre-instantiated component, calls
//! under a deadline, and turning traps into typed errors. An instance that
//! trapped is never entered again; the owner discards it and instantiates a
//! fresh one on the next call.

use crate::engine::EPOCH_TICK;
use crate::grant::Effective;
use crate::http::HttpPolicy;
use crate::state::{State, new_store};
use std::sync::Arc;
use vdr_model::{Error, ErrorKind};
use wasmtime::{Store, Trap};

/// What a configured instance is created from.
pub struct Config {
    pub endpoint: String,
    pub options: String,
    pub secrets: Vec<(String, String)>,
}

/// One contract version's bindings of one world.
pub trait World: Sized + Send + 'static {
    type Pre: Clone + Send + Sync + 'static;
    fn instantiate(pre: &Self::Pre, store: &mut Store<State>) -> wasmtime::Result<Self>;
    fn manifest(&self, store: &mut Store<State>) -> wasmtime::Result<String>;
    fn configure(
        &self,
        store: &mut Store<State>,
        config: &Config,
    ) -> wasmtime::Result<Result<(), Error>>;
}

/// Everything needed to create configured instances of one plugin.
pub struct Factory<W: World> {
    pub engine: wasmtime::Engine,
    pub pre: W::Pre,
    pub perms: Arc<Effective>,
    pub http: Arc<HttpPolicy>,
    pub config: Config,
    pub memory_mib: u32,
    pub call_timeout_ms: u64,
}

pub struct Live<W: World> {
    pub store: Store<State>,
    pub bindings: W,
}

impl<W: World> Factory<W> {
    pub fn label(&self) -> &str {
        &self.perms.label
    }

    /// A new instance, configured.
    pub fn instantiate(&self) -> Result<Live<W>, Error> {
        let state =
            State::new(self.perms.clone(), self.http.clone(), self.memory_mib).map_err(|e| {
                Error::new(ErrorKind::Denied, format!("preparing the sandbox: {e:#}"))
                    .with_origin(self.label())
            })?;
        let mut store = new_store(&self.engine, state);
        self.arm(&mut store);
        let bindings = match W::instantiate(&self.pre, &mut store) {
            Ok(b) => b,
            Err(e) => {
                return Err(classify(&mut store, e, "instantiate", self.call_timeout_ms)
                    .with_origin(self.label()));
            }
        };
        let mut live = Live { store, bindings };
        self.call(&mut live, "configure", |store, b| b.configure(store, &self.config))?;
        Ok(live)
    }

    fn arm(&self, store: &mut Store<State>) {
        let ticks = self.call_timeout_ms.div_ceil(EPOCH_TICK.as_millis() as u64).max(1);
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
    }

    /// Call into the instance under the deadline. A trap poisons the
    /// instance: the caller must drop it (see `is_poisoning`).
    pub fn call<R>(
        &self,
        live: &mut Live<W>,
        what: &str,
        f: impl FnOnce(&mut Store<State>, &W) -> wasmtime::Result<Result<R, Error>>,
    ) -> Result<R, Error> {
        self.arm(&mut live.store);
        live.store.data_mut().limiter.refused = None;
        live.store.data().stderr.clear();
        match f(&mut live.store, &live.bindings) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(e.with_origin(self.label())),
            Err(trap) => Err(classify(&mut live.store, trap, what, self.call_timeout_ms)
                .with_origin(self.label())),
        }
    }
}

/// Whether an error means the instance must be discarded.
pub fn is_poisoning(e: &Error) -> bool {
    matches!(e.kind, ErrorKind::Trap | ErrorKind::LimitExceeded)
}

/// Classify a trap by the limiter's record first (a refused memory grow
/// surfaces as an `unreachable` trap from the guest allocator), then by
/// the trap code.
fn classify(store: &mut Store<State>, err: wasmtime::Error, what: &str, timeout_ms: u64) -> Error {
    if let Some(why) = store.data_mut().limiter.refused.take() {
        return Error::new(ErrorKind::LimitExceeded, format!("{what}: {why}"));
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => Error::new(
            ErrorKind::LimitExceeded,
            format!("{what}: call exceeded its deadline of {timeout_ms} ms and was stopped"),
        ),
        Some(Trap::StackOverflow) => {
            Error::new(ErrorKind::LimitExceeded, format!("{what}: stack overflow"))
        }
        Some(trap) => Error::new(ErrorKind::Trap, format!("{what}: {trap}{}", said(store))),
        None => Error::new(ErrorKind::Trap, format!("{what}: {}{}", first_line(&err), said(store))),
    }
}

/// The plugin's last stderr line (its panic message), if it wrote one.
fn said(store: &Store<State>) -> String {
    let text = store.data().stderr.text();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with"))
        .collect();
    // A Rust panic is "thread '..' panicked at FILE:LINE:COL:" then the message.
    let from = lines
        .iter()
        .rposition(|l| l.contains("panicked at"))
        .unwrap_or(lines.len().saturating_sub(1));
    let said: String = lines.get(from..).unwrap_or_default().join(" ").chars().take(400).collect();
    if said.is_empty() { String::new() } else { format!("; the plugin said: {said}") }
}

fn first_line(e: &wasmtime::Error) -> String {
    format!("{e:#}").lines().next().unwrap_or("").to_string()
}
