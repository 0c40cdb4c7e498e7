//! The `vdr` binary driven as users and CI drive it: plugins, collections,
//! an encrypted repository round trip, tampering, wrong keys, exit codes.

mod common;
use common::Vdr;
use common::{public_key, write_identity};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Steps this file repeats, on the shared harness.
impl Vdr {
    fn sample(&self, store: &str, n: &str) {
        self.create_sample(store, "docs", n, "32");
    }
    fn repo_with_backup(&self) -> String {
        self.sample("local://./store", "1500");
        let recipient = public_key(&self.path("key.txt"));
        self.ok(&["init", "--repo", "fs://./repo", "--recipient", &recipient]);
        self.json(&["backup", "--repo", "fs://./repo", "--db", "local://./store"])["snapshot"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under `dir` with its contents, to prove nothing was written.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().to_path_buf(), std::fs::read(e.path()).unwrap()))
        .collect();
    v.sort();
    v
}

#[test]
fn plugin_list_shows_the_embedded_default_plugins_with_versions() {
    let run = Vdr::with_identity();
    let list = run.json(&["plugin", "list"]);
    let find = |name: &str| list.as_array().unwrap().iter().find(|p| p["name"] == name).cloned();
    let fs = find("fs").expect("fs is embedded");
    assert_eq!(fs["kind"], "storage");
    assert_eq!(fs["contract"], "0.1.0");
    assert!(fs["version"].as_str().unwrap().contains('.'));
    assert_eq!(find("local").expect("local is embedded")["kind"], "database");
}

#[test]
fn a_sample_collection_counts_and_finds_its_neighbours() {
    let run = Vdr::with_identity();
    run.sample("local://./store", "2000");
    assert_eq!(
        run.json(&["collection", "count", "--db", "local://./store", "-c", "docs"])["count"],
        2000
    );
    let hits = run.json(&[
        "collection",
        "search",
        "--db",
        "local://./store",
        "-c",
        "docs",
        "--query-id",
        "7",
        "-k",
        "5",
    ]);
    assert_eq!(hits.as_array().unwrap().len(), 5);
    assert_eq!(hits[0]["id"], 7);
    assert_eq!(
        run.json(&["collection", "list", "--db", "local://./store"]),
        serde_json::json!(["docs"])
    );
}

#[test]
fn backup_restore_verify_round_trip_and_no_overwrite_without_force() {
    let run = Vdr::with_identity();
    let snapshot = run.repo_with_backup();
    run.ok(&["restore", "latest", "--repo", "fs://./repo", "--db", "local://./restored"]);
    let reports =
        run.json(&["verify", &snapshot, "--repo", "fs://./repo", "--db", "local://./restored"]);
    assert_eq!(reports[0]["ok"], true, "{reports}");
    assert!(reports[0]["recall"].as_f64().unwrap() >= 0.9);

    let again =
        run.vdr(&["restore", "latest", "--repo", "fs://./repo", "--db", "local://./restored"]);
    assert_eq!(code(&again), 1);
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));
    run.ok(&[
        "restore",
        "latest",
        "--repo",
        "fs://./repo",
        "--db",
        "local://./restored",
        "--force",
    ]);
    run.ok(&[
        "restore",
        "latest",
        "--repo",
        "fs://./repo",
        "--db",
        "local://./restored",
        "-c",
        "docs",
        "--as",
        "copy",
    ]);
    assert_eq!(
        run.json(&["collection", "count", "--db", "local://./restored", "-c", "copy"])["count"],
        1500
    );
}

#[test]
fn key_files_open_with_the_standard_age_cli() {
    let run = Vdr::with_identity();
    run.repo_with_backup();
    if Command::new("age").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have the age CLI (scripts/install-test-deps.sh)"
        );
        eprintln!("SKIPPED: the age CLI is not installed");
        return;
    }
    let key = std::fs::read_dir(run.path("repo/keys"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_none())
        .unwrap();
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(run.path("key.txt"))
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success(), "age -d: {}", stderr(&out));
    assert!(!out.stdout.is_empty());
}

#[test]
fn a_wrong_identity_is_refused_clearly_and_writes_nothing() {
    let run = Vdr::with_identity();
    run.repo_with_backup();
    let before = tree(&run.path("repo"));
    write_identity(&run.path("wrong.txt"));
    for args in [
        vec!["--identity", "wrong.txt", "snapshots", "--repo", "fs://./repo"],
        vec![
            "--identity",
            "wrong.txt",
            "backup",
            "--repo",
            "fs://./repo",
            "--db",
            "local://./store",
        ],
        vec![
            "--identity",
            "wrong.txt",
            "restore",
            "latest",
            "--repo",
            "fs://./repo",
            "--db",
            "local://./other",
        ],
    ] {
        let out = run.vdr(&args);
        assert_eq!(code(&out), 1, "{args:?}");
        assert!(stderr(&out).contains("unauthorized"), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(tree(&run.path("repo")), before, "the repository changed");
    assert!(!run.path("other/docs").exists(), "nothing restored");
}

#[test]
fn a_flipped_byte_in_a_pack_fails_check_and_restore_until_the_file_is_repaired() {
    let run = Vdr::with_identity();
    run.repo_with_backup();
    run.ok(&["check", "--repo", "fs://./repo", "--read-data"]);
    // The largest pack holds records (a small one may hold only the record
    // map incremental backups use, which restore does not read).
    let pack = walkdir::WalkDir::new(run.path("repo/data"))
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .max_by_key(|e| e.metadata().unwrap().len())
        .unwrap()
        .into_path();
    let original = std::fs::read(&pack).unwrap();
    let mut broken = original.clone();
    let at = broken.len() / 2;
    broken[at] ^= 0x40;
    std::fs::write(&pack, &broken).unwrap();

    let check = run.vdr(&["check", "--repo", "fs://./repo", "--read-data"]);
    assert_eq!(code(&check), 3, "{}", stderr(&check));
    let restore =
        run.vdr(&["restore", "latest", "--repo", "fs://./repo", "--db", "local://./restored"]);
    assert_eq!(code(&restore), 1);
    assert!(!run.path("restored/docs").exists() || tree(&run.path("restored/docs")).is_empty());

    std::fs::write(&pack, &original).unwrap();
    run.ok(&["check", "--repo", "fs://./repo", "--read-data"]);
}

#[test]
fn init_without_any_key_is_a_usage_error_that_says_how() {
    let run = Vdr::with_identity();
    let out = run.vdr(&["init", "--repo", "fs://./repo"]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("--recipient"), "{}", stderr(&out));
}

#[test]
fn a_playbook_step_not_built_yet_says_so() {
    let run = Vdr::with_identity();
    let file = run.path("tf.yaml.tera");
    std::fs::write(&file, "name: t\nsteps:\n  - terraform: { dir: ., operation: plan }\n").unwrap();
    let out = run.vdr(&["playbook", "run", file.to_str().unwrap()]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("not built yet"), "{}", stderr(&out));
}

#[test]
fn json_output_is_one_document_even_on_failure() {
    let run = Vdr::with_identity();
    let out =
        run.vdr(&["--json", "collection", "count", "--db", "local://./nothing-here", "-c", "x"]);
    assert_ne!(code(&out), 0);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert!(doc["error"].as_str().unwrap().contains("x"), "{doc}");
}

#[test]
fn an_incremental_backup_of_the_local_store_reads_only_its_changes_and_restores_exactly() {
    let run = Vdr::with_identity();
    run.sample("local://./store", "3000");
    let recipient = public_key(&run.path("key.txt"));
    run.ok(&["init", "--repo", "fs://./repo", "--recipient", &recipient]);
    let backup = |extra: &[&str]| {
        let mut args = vec!["backup", "--repo", "fs://./repo", "--db", "local://./store"];
        args.extend_from_slice(extra);
        run.json(&args)
    };
    let first = backup(&[]);
    assert_eq!(first["collections"][0]["mode"], "full", "{first}");
    let mutated = run.json(&[
        "collection",
        "mutate",
        "--db",
        "local://./store",
        "-c",
        "docs",
        "--fraction",
        "0.01",
    ]);
    let changed = mutated["changed"].as_u64().unwrap();
    assert!(changed > 10, "{mutated}");

    let second = backup(&[]);
    let c = &second["collections"][0];
    assert_eq!(
        (c["mode"].as_str(), c["changed"].as_u64()),
        (Some("changes"), Some(changed)),
        "{c}"
    );
    assert!(
        c["bytes_read"].as_u64().unwrap() * 5 < first["bytes_read"].as_u64().unwrap(),
        "{second}"
    );
    // The incremental snapshot is the store, record for record, with a
    // baseline carried over the change.
    run.ok(&["restore", "latest", "--repo", "fs://./repo", "--db", "local://./restored"]);
    for db in ["local://./store", "local://./restored"] {
        let reports = run.json(&["verify", "latest", "--repo", "fs://./repo", "--db", db]);
        assert_eq!(reports[0]["ok"], true, "{db}: {reports}");
        assert!(reports[0]["recall"].as_f64().unwrap() >= 0.9, "{reports}");
    }
    let forced = backup(&["--full"]);
    assert_eq!(forced["collections"][0]["mode"], "full");
    let (new, stored) =
        (forced["bytes_new"].as_u64().unwrap(), first["bytes_new"].as_u64().unwrap());
    assert!(
        new * 10 < stored,
        "a full export of the same data is nearly all stored already: {forced}"
    );
}
