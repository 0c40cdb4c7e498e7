//! Support for vdr's end-to-end tests: the conformance suites every plugin
//! must pass, and access to the real servers started by
//! `scripts/test-servers.sh` (their endpoints arrive in `VDR_TEST_*`
//! environment variables).

pub mod conformance;
pub mod faultproxy;
pub mod servers;

use std::path::PathBuf;
use vdr_runtime::{Runtime, RuntimeOptions};

/// A runtime with every first-party plugin, plus the components in
/// `VDR_TEST_PLUGIN_DIR` (e.g. `plugins/target/wasm32-wasip2/release`, to
/// test a plugin change without rebuilding the host).
pub fn runtime() -> Runtime {
    let plugin_dirs =
        std::env::var_os("VDR_TEST_PLUGIN_DIR").map(PathBuf::from).into_iter().collect();
    Runtime::new(RuntimeOptions { plugin_dirs, ..Default::default() }).expect("plugin runtime")
}

/// A short random suffix so parallel and repeated runs never collide.
pub fn unique(prefix: &str) -> String {
    use rand::Rng;
    format!("{prefix}{:08x}", rand::rng().random::<u32>())
}
