//! vdr's WebAssembly plugin host.
//!
//! Plugins are components built for `wasm32-wasip2` against the
//! `vdr:plugin` WIT contract. Each instance runs with an empty WASI context
//! (no environment, no inherited stdio, no sockets) plus only the directory
//! it was granted, a memory cap, and a deadline per call. The only way out
//! is the `http-send` import, checked against the allowed hosts. A trap or
//! a limit hit becomes a typed [`vdr_model::Error`] naming the plugin; the
//! instance is discarded and the host goes on.

pub mod engine;
pub mod grant;
pub mod http;
pub mod instance;
pub mod manifest;
pub mod registry;
pub mod state;
pub mod stderr;
pub mod v0_1_0;
pub mod vector_index;

/// Plugin components built from `plugins/` by build.rs.
pub mod artifacts {
    include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));
}

pub use grant::{DirGrant, Grant, Origin};
pub use manifest::{Kind, Manifest};
pub use registry::{LoadedPlugin, Runtime, RuntimeOptions, Source};
