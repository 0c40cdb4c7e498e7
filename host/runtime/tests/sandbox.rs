//! A hostile guest (plugins/testing/misbehave) tries everything a plugin
//! must not do; each attempt is contained with the right typed error and the
//! host goes on using fresh instances.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use vdr_model::{Database, ErrorKind};
use vdr_runtime::{Grant, Runtime, RuntimeOptions};

struct Guest {
    _plugins: tempfile::TempDir,
    runtime: Runtime,
}

fn guest() -> Guest {
    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(vdr_runtime::artifacts::MISBEHAVE_PATH, plugins.path().join("misbehave.wasm"))
        .unwrap();
    std::fs::copy(
        vdr_runtime::artifacts::BAD_MANIFEST_PATH,
        plugins.path().join("bad-manifest.wasm"),
    )
    .unwrap();
    let runtime = Runtime::new(RuntimeOptions {
        plugin_dirs: vec![plugins.path().to_path_buf()],
        cache_dir: None,
        ..Default::default()
    })
    .unwrap();
    Guest { _plugins: plugins, runtime }
}

fn open(g: &Guest, grant: &Grant) -> Box<dyn Database> {
    g.runtime.open_database("misbehave", grant, "misbehave test".into()).unwrap()
}

fn dir_grant(dir: &Path) -> Grant {
    Grant::directory(dir, true)
}

/// A one-shot HTTP server on loopback answering 200 to every request.
fn http_server() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (port, handle)
}

#[test]
fn reads_inside_the_granted_directory_but_nothing_outside_it() {
    let g = guest();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("inside.txt"), b"hello").unwrap();
    let mut db = open(&g, &dir_grant(dir.path()));
    assert_eq!(db.count("read:/data/inside.txt").unwrap(), 5);
    for outside in ["read:/etc/passwd", "read:/data/../../../etc/passwd", "read:/proc/self/environ"]
    {
        let e = db.count(outside).unwrap_err();
        assert!(!matches!(e.kind, ErrorKind::Trap), "{outside}: {e}");
        assert!(e.origin.contains("misbehave"), "error names the plugin: {e}");
    }
}

#[test]
fn cannot_write_into_a_read_only_grant() {
    let g = guest();
    let dir = tempfile::tempdir().unwrap();
    // The manifest declares read-only: a writable grant is narrowed.
    let mut db = open(&g, &dir_grant(dir.path()));
    assert!(db.count("write:/data/planted.txt").is_err());
    assert!(!dir.path().join("planted.txt").exists());
}

#[test]
fn sees_no_environment_variables() {
    // SAFETY: set before any thread of this test reads the environment.
    unsafe { std::env::set_var("VDR_TEST_SECRET_SHOULD_NOT_LEAK", "x") };
    let g = guest();
    let mut db = open(&g, &Grant::default());
    assert_eq!(db.count("env").unwrap(), 0);
}

#[test]
fn reaches_its_granted_host_and_is_denied_any_other() {
    let g = guest();
    let (port, server) = http_server();
    let grant = Grant::endpoint(&format!("http://127.0.0.1:{port}")).unwrap();
    let mut db = open(&g, &grant);
    assert_eq!(db.count(&format!("http:http://127.0.0.1:{port}/x")).unwrap(), 200);
    server.join().unwrap();
    let other = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = db.count(&format!("http:http://127.0.0.1:{other}/")).unwrap_err();
    assert!(e.message.contains("is not an allowed host"), "{e}");
    assert!(
        e.message.contains(&format!("granted by configuration: http://127.0.0.1:{port}")),
        "{e}"
    );
    let e = db.count("http:http://169.254.169.254/latest/meta-data").unwrap_err();
    assert!(e.message.contains("is not an allowed host"), "{e}");
}

#[test]
fn memory_cap_allows_just_under_and_stops_just_over() {
    let g = guest();
    let grant = Grant { memory_mib: Some(64), ..Grant::default() };
    let mut db = open(&g, &grant);
    assert_eq!(db.count("alloc:48").unwrap(), 48, "48 MiB fits under a 64 MiB cap");
    let e = db.count("alloc:72").unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded, "{e}");
    assert!(e.message.contains("memory cap of 64 MiB"), "{e}");
    // The instance was discarded; the next call gets a fresh one.
    assert_eq!(db.count("ok").unwrap(), 42);
}

#[test]
fn an_endless_loop_is_stopped_at_its_deadline() {
    let g = guest();
    let grant = Grant { call_timeout_ms: Some(300), ..Grant::default() };
    let mut db = open(&g, &grant);
    let e = db.count("loop").unwrap_err();
    assert_eq!(e.kind, ErrorKind::LimitExceeded, "{e}");
    assert!(e.message.contains("deadline of 300 ms"), "{e}");
    assert_eq!(db.count("ok").unwrap(), 42);
}

#[test]
fn a_panic_is_a_trap_naming_the_plugin_and_the_host_goes_on() {
    let g = guest();
    let mut db = open(&g, &Grant::default());
    let e = db.count("panic").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Trap, "{e}");
    assert!(e.to_string().starts_with("plugin misbehave@"), "{e}");
    assert!(
        e.message.contains("panicked at") && e.message.contains("misbehave: panic on request"),
        "{e}"
    );
    assert_eq!(db.count("ok").unwrap(), 42);
}

#[test]
fn malformed_records_are_contract_violations() {
    let g = guest();
    let mut db = open(&g, &Grant::default());
    let mut cursor = db.open_export("anything", None).unwrap();
    let e = cursor.next_batch(10).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Protocol, "{e}");
    assert!(e.message.contains("sparse vector"), "{e}");
}

#[test]
fn a_manifest_with_unknown_fields_is_refused_with_the_field_named() {
    let g = guest();
    let e = g.runtime.load("bad-manifest").err().expect("bad manifest must not load");
    let msg = format!("{e:#}");
    assert!(msg.contains("colour"), "{msg}");
}

#[test]
fn compiled_components_are_cached_and_reused() {
    let cache = tempfile::tempdir().unwrap();
    let opts =
        || RuntimeOptions { cache_dir: Some(cache.path().to_path_buf()), ..Default::default() };
    let first = Runtime::new(opts()).unwrap().load("fs").unwrap();
    assert_eq!(first.provenance, vdr_runtime::engine::Provenance::Compiled);
    let second = Runtime::new(opts()).unwrap().load("fs").unwrap();
    assert_eq!(second.provenance, vdr_runtime::engine::Provenance::Cached);
    let files: Vec<PathBuf> =
        std::fs::read_dir(cache.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
}
