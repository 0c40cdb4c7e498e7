//! `vdr terraform` run as Terraform's `external` data source runs it: a JSON
//! object of strings on stdin, one on stdout and nothing else there, errors
//! on stderr with a non-zero exit.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn hook(dir: &Path, op: &str, query: &str, identity: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vdr"));
    cmd.args(["terraform", op])
        .current_dir(dir)
        .env("VDR_CACHE_DIR", dir.join("cache"))
        .env_remove("VDR_IDENTITY")
        .env_remove("VDR_PASSPHRASE_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(id) = identity {
        cmd.env("VDR_IDENTITY", id);
    }
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(query.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn vdr(dir: &Path, identity: &Path, args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_vdr"))
        .args(args)
        .current_dir(dir)
        .env("VDR_IDENTITY", identity)
        .env("VDR_CACHE_DIR", dir.join("cache"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn identity(path: &Path) -> String {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    std::fs::write(path, format!("{}\n", id.to_string().expose_secret())).unwrap();
    id.to_public().to_string()
}

/// Only a JSON object whose values are all strings.
fn strings_only(out: &Output) -> serde_json::Map<String, serde_json::Value> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is exactly one JSON document");
    let obj = v.as_object().expect("an object").clone();
    assert!(obj.values().all(|v| v.is_string()), "non-string values: {obj:?}");
    obj
}

#[test]
fn the_hook_answers_with_strings_only_and_refuses_bad_queries() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = d.join("key.txt");
    let recipient = identity(&key);
    vdr(
        d,
        &key,
        &[
            "collection",
            "create",
            "--db",
            "local://./store",
            "-c",
            "docs",
            "--sample",
            "500",
            "--dim",
            "16",
        ],
    );
    vdr(d, &key, &["init", "--repo", "fs://./repo", "--recipient", &recipient]);

    // An empty repository: a clear message, non-zero, nothing on stdout.
    let out =
        hook(d, "latest-snapshot", r#"{"repo":"fs://./repo","collection":"docs"}"#, Some(&key));
    assert_ne!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no snapshot"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    vdr(d, &key, &["backup", "--repo", "fs://./repo", "--db", "local://./store"]);
    let latest = strings_only(&hook(
        d,
        "latest-snapshot",
        r#"{"repo":"fs://./repo","collection":"docs"}"#,
        Some(&key),
    ));
    assert_eq!(latest["records"], "500");
    assert_eq!(latest["verified"], "true");
    assert_eq!(latest["snapshot_id"].as_str().unwrap().len(), 64);
    let repo = strings_only(&hook(d, "repository", r#"{"repo":"fs://./repo"}"#, Some(&key)));
    assert_eq!(repo["snapshot_count"], "1");
    let snap = latest["snapshot_id"].as_str().unwrap();
    let one = strings_only(&hook(
        d,
        "snapshot",
        &format!(r#"{{"repo":"fs://./repo","snapshot":"{snap}"}}"#),
        Some(&key),
    ));
    assert_eq!(one["collections"], "docs");
    let plan = strings_only(&hook(
        d,
        "plan-restore",
        &format!(r#"{{"repo":"fs://./repo","snapshot":"{snap}","db":"local://./store"}}"#),
        Some(&key),
    ));
    assert_eq!(plan["needs_force"], "true");

    // Unknown keys are refused with the valid ones; non-strings too.
    let out =
        hook(d, "latest-snapshot", r#"{"repo":"fs://./repo","colection":"docs"}"#, Some(&key));
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("colection") && err.contains("valid keys: repo, collection"), "{err}");
    let out = hook(d, "repository", r#"{"repo":5}"#, Some(&key));
    assert_eq!(out.status.code(), Some(2));

    // A wrong key: unauthorized on stderr, non-zero.
    let other = d.join("other.txt");
    identity(&other);
    let out = hook(d, "repository", r#"{"repo":"fs://./repo"}"#, Some(&other));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unauthorized"));

    // Unreachable storage: a clear message naming where, non-zero.
    let out =
        hook(d, "repository", r#"{"repo":"s3://b/p?endpoint=http://127.0.0.1:9"}"#, Some(&key));
    assert_ne!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("127.0.0.1:9"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
