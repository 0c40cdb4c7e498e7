//! Support for vdr's end-to-end tests: the conformance suites every plugin
//! must pass, and access to the real servers started by
//! `scripts/test-servers.sh` (their endpoints arrive in `VDR_TEST_*`
//! environment variables).

pub mod conformance;
pub mod faultproxy;
pub mod servers;

use std::path::{Path, PathBuf};
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

/// The test venv's python (`VDR_VENV`, default `<repo>/.venv`, made by
/// scripts/install-test-deps.sh) when it can import `module`; otherwise a
/// loud skip notice and `None`, or a failure under CI.
pub fn python_with(module: &str) -> Option<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the repo");
    let venv = std::env::var_os("VDR_VENV").map_or_else(|| repo.join(".venv"), PathBuf::from);
    let python = venv.join("bin/python");
    let ok = std::process::Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    let why =
        format!("{} cannot import {module} (run scripts/install-test-deps.sh)", python.display());
    if std::env::var_os("CI").is_some() {
        panic!("{why}");
    }
    eprintln!("SKIPPED: {why}");
    None
}
