//! The host side of the `host` and `vector-index` imports.

use super::db::vdr::plugin::{host, types, vector_index};
use crate::http;
use crate::state::State;
use crate::vector_index::{NativeIndex, resolve_guest_path};
use std::time::Duration;
use wasmtime::component::Resource;

impl types::Host for State {}

impl host::Host for State {
    fn http_send(
        &mut self,
        request: host::HttpRequest,
    ) -> wasmtime::Result<Result<host::HttpResponse, host::HttpError>> {
        if let Err(why) = self.perms.check_url(&request.url) {
            tracing::warn!("{why}");
            return Ok(Err(host::HttpError::Denied(why)));
        }
        let timeout =
            (request.timeout_ms > 0).then(|| Duration::from_millis(request.timeout_ms as u64));
        let req = http::Request {
            method: &request.method,
            url: &request.url,
            headers: &request.headers,
            body: request.body,
            timeout,
        };
        Ok(match http::send(&self.http, req) {
            Ok(r) => Ok(host::HttpResponse { status: r.status, headers: r.headers, body: r.body }),
            Err(http::SendError::Timeout(m)) => Err(host::HttpError::Timeout(m)),
            Err(http::SendError::Connection(m)) => Err(host::HttpError::Connection(m)),
            Err(http::SendError::TooLarge(m)) => Err(host::HttpError::TooLarge(m)),
            Err(http::SendError::Invalid(m)) => Err(host::HttpError::Invalid(m)),
        })
    }

    fn log(&mut self, level: host::Level, message: String) -> wasmtime::Result<()> {
        let who = &self.perms.label;
        match level {
            host::Level::Trace => tracing::trace!(plugin = %who, "{message}"),
            host::Level::Debug => tracing::debug!(plugin = %who, "{message}"),
            host::Level::Info => tracing::info!(plugin = %who, "{message}"),
            host::Level::Warn => tracing::warn!(plugin = %who, "{message}"),
            host::Level::Error => tracing::error!(plugin = %who, "{message}"),
        }
        Ok(())
    }

    fn progress(&mut self, done: u64, total: Option<u64>) -> wasmtime::Result<()> {
        if let Some(p) = &self.progress {
            p(done, total);
        }
        Ok(())
    }
}

impl vector_index::Host for State {}

impl State {
    fn index_allowed(&self) -> Result<(), types::Error> {
        if self.perms.vector_index {
            Ok(())
        } else {
            Err(types::Error::Unsupported(format!(
                "{}: the plugin manifest does not declare capability 'vector-index'",
                self.perms.label
            )))
        }
    }

    fn index_path(&self, guest: &str, write: bool) -> Result<std::path::PathBuf, types::Error> {
        resolve_guest_path(self.perms.directory.as_ref(), guest, write).map_err(to_wit)
    }
}

fn to_wit(e: vdr_model::Error) -> types::Error {
    super::convert::error_to_wit(e)
}

impl vector_index::HostIndex for State {
    fn new(
        &mut self,
        dimension: u32,
        metric: types::Metric,
    ) -> wasmtime::Result<Resource<NativeIndex>> {
        // A constructor cannot return an error in WIT 0.1.0: an invalid
        // request traps the plugin with a clear message.
        if let Err(e) = self.index_allowed() {
            return Err(wasmtime::Error::msg(format!("{e:?}")));
        }
        let index = NativeIndex::new(dimension, super::convert::metric_from_wit(metric))
            .map_err(|e| wasmtime::Error::msg(format!("creating a vector index: {e}")))?;
        Ok(self.table.push(index)?)
    }

    fn load(
        &mut self,
        path: String,
    ) -> wasmtime::Result<Result<Resource<NativeIndex>, types::Error>> {
        let loaded = self
            .index_allowed()
            .and_then(|_| self.index_path(&path, false))
            .and_then(|p| NativeIndex::load(&p).map_err(to_wit));
        Ok(match loaded {
            Ok(index) => Ok(self.table.push(index)?),
            Err(e) => Err(e),
        })
    }

    fn add(
        &mut self,
        this: Resource<NativeIndex>,
        keys: Vec<u64>,
        vectors: Vec<f32>,
    ) -> wasmtime::Result<Result<(), types::Error>> {
        Ok(self.table.get(&this)?.add(&keys, &vectors).map_err(to_wit))
    }

    fn remove(
        &mut self,
        this: Resource<NativeIndex>,
        keys: Vec<u64>,
    ) -> wasmtime::Result<Result<(), types::Error>> {
        Ok(self.table.get(&this)?.remove(&keys).map_err(to_wit))
    }

    fn search(
        &mut self,
        this: Resource<NativeIndex>,
        query: Vec<f32>,
        k: u32,
    ) -> wasmtime::Result<Result<Vec<(u64, f32)>, types::Error>> {
        Ok(self.table.get(&this)?.search(&query, k).map_err(to_wit))
    }

    fn size(&mut self, this: Resource<NativeIndex>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&this)?.size())
    }

    fn save(
        &mut self,
        this: Resource<NativeIndex>,
        path: String,
    ) -> wasmtime::Result<Result<(), types::Error>> {
        let target = match self.index_path(&path, true) {
            Ok(p) => p,
            Err(e) => return Ok(Err(e)),
        };
        Ok(self.table.get(&this)?.save(&target).map_err(to_wit))
    }

    fn drop(&mut self, this: Resource<NativeIndex>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}
