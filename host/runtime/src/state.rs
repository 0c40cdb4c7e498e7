//! Per-instance store state: an empty WASI context plus granted
//! directories, the memory limiter, and the permissions the host imports
//! check against.

use crate::grant::Effective;
use crate::http::HttpPolicy;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Store};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Receives `progress` reports from a plugin call.
pub type ProgressFn = Arc<dyn Fn(u64, Option<u64>) + Send + Sync>;

pub struct State {
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) perms: Arc<Effective>,
    pub(crate) http: Arc<HttpPolicy>,
    pub(crate) progress: Option<ProgressFn>,
    /// What the plugin last wrote to stderr (for trap messages).
    pub(crate) stderr: crate::stderr::StderrTail,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Caps linear memory and remembers when it refused, so that the trap that
/// follows (usually `unreachable` from the guest's allocator) is reported as
/// the limit it really is.
pub struct MemoryLimiter {
    cap_bytes: usize,
    pub(crate) refused: Option<String>,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap_bytes {
            self.refused = Some(format!(
                "memory cap of {} MiB reached (had {} MiB, asked for {} MiB)",
                self.cap_bytes >> 20,
                current >> 20,
                desired.div_ceil(1 << 20)
            ));
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

impl State {
    pub fn new(
        perms: Arc<Effective>,
        http: Arc<HttpPolicy>,
        memory_mib: u32,
    ) -> wasmtime::Result<State> {
        // No environment, no arguments, no inherited stdio, no sockets: the
        // builder's defaults, plus only the granted directory.
        let mut b = WasiCtxBuilder::new();
        b.allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false);
        // Plugins run synchronously: file calls may block this thread instead
        // of hopping to tokio's blocking pool and back for every (at most
        // 64 KiB) read. Set before the preopen, which captures it.
        b.allow_blocking_current_thread(true);
        let stderr = crate::stderr::StderrTail::default();
        b.stderr(stderr.clone());
        if let Some(dir) = &perms.directory {
            let perms = if dir.writable { FsPerms::ReadWrite } else { FsPerms::ReadOnly };
            b.preopened_dir(&dir.host_path, &dir.guest_path, perms)?;
        }
        Ok(State {
            wasi: b.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter { cap_bytes: (memory_mib as usize) << 20, refused: None },
            perms,
            http,
            progress: None,
            stderr,
        })
    }
}

/// A store with the limiter installed.
pub fn new_store(engine: &wasmtime::Engine, state: State) -> Store<State> {
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.limiter);
    store
}
