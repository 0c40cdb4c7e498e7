//! Every template renders and runs against `local` + `fs`; failures give
//! the right exit codes and name the step or the template line.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn templates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates")
}

fn vdr(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vdr"))
        .args(args)
        .current_dir(dir)
        .env("VDR_CACHE_DIR", dir.join("cache"))
        .env_remove("VDR_IDENTITY")
        .env_remove("VDR_PASSPHRASE_FILE")
        .output()
        .unwrap()
}

fn template(name: &str) -> String {
    templates().join(name).display().to_string()
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A small drill run in `dir`, leaving ./drill/{store,repo,identity.txt}.
fn drill(dir: &Path) -> Output {
    vdr(
        dir,
        &[
            "playbook",
            "run",
            &template("drill.yaml.tera"),
            "--var",
            "records=1500",
            "--var",
            "dim=32",
        ],
    )
}

#[test]
fn every_template_renders_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    for t in ["drill.yaml.tera", "backup.yaml.tera", "restore.yaml.tera", "migrate.yaml.tera"] {
        let out = vdr(dir.path(), &["playbook", "render", &template(t)]);
        assert_ok(&out, t);
        assert!(String::from_utf8_lossy(&out.stdout).contains("steps:"), "{t}");
    }
}

#[test]
fn the_drill_restores_verifies_and_reports_rto_and_rpo() {
    let dir = tempfile::tempdir().unwrap();
    let out = drill(dir.path());
    assert_ok(&out, "drill");
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("RTO") && md.contains("RPO"), "{md}");
    for f in ["report.json", "report.xml", "report.md"] {
        assert!(dir.path().join("vdr-reports").join(f).exists(), "{f}");
    }
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("vdr-reports/report.json")).unwrap())
            .unwrap();
    assert!(report["dr"]["rto_seconds"].as_f64().unwrap() > 0.0, "{}", report["dr"]);
    assert_eq!(report["dr"]["records_lost"], 0, "{}", report["dr"]);
    let junit = std::fs::read_to_string(dir.path().join("vdr-reports/report.xml")).unwrap();
    assert!(junit.contains("<testsuite") && junit.contains("<testcase"), "{junit}");
    // A second run finds the repository and replaces the collection.
    assert_ok(&drill(dir.path()), "second drill");
}

#[test]
fn backup_restore_and_migrate_templates_run_against_the_drills_store() {
    let dir = tempfile::tempdir().unwrap();
    assert_ok(&drill(dir.path()), "drill");
    let id = dir.path().join("drill/identity.txt");
    let run = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_vdr"));
        cmd.args(args)
            .current_dir(dir.path())
            .env("VDR_IDENTITY", &id)
            .env("VDR_CACHE_DIR", dir.path().join("cache"));
        cmd.output().unwrap()
    };
    assert_ok(
        &run(&["playbook", "run", &template("backup.yaml.tera"), "--var", "collection=docs"]),
        "backup.yaml.tera",
    );
    assert_ok(
        &run(&[
            "playbook",
            "run",
            &template("restore.yaml.tera"),
            "--var",
            "db=local://./restored",
            "--var",
            "snapshot=latest",
        ]),
        "restore.yaml.tera",
    );
    assert_ok(&run(&["playbook", "run", &template("migrate.yaml.tera")]), "migrate.yaml.tera");
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

const SEED: &str = r#"name: t
vars:
  store: local://./s
steps:
  - id: seed
    collection: { db: "{{ vars.store }}", create: docs, sample: 300, dim: 16 }
"#;

#[test]
fn a_false_assertion_exits_3_naming_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "p.yaml.tera",
        &format!(
            "{SEED}  - id: enough\n    assert: {{ that: \"steps.seed.records > 1000\", message: \"too few records\" }}\n"
        ),
    );
    let out = vdr(dir.path(), &["playbook", "run", &file]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("enough") && err.contains("too few records"), "{err}");
}

#[test]
fn a_template_syntax_error_on_line_3_reports_line_3() {
    let dir = tempfile::tempdir().unwrap();
    let file =
        write(dir.path(), "bad.yaml.tera", "name: t\nsteps:\n  - wait: { seconds: {{ 1 + }} }\n");
    let out = vdr(dir.path(), &["playbook", "render", &file]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yaml.tera:3"), "{err}");
}

#[test]
fn bad_yaml_and_unknown_steps_are_refused_with_lines_and_choices() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = write(
        dir.path(),
        "y.yaml.tera",
        "name: t\nsteps:\n  - wait: { seconds: 1\n  - report: {}\n",
    );
    let out = vdr(dir.path(), &["playbook", "render", &yaml]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("y.yaml.tera:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let unknown = write(dir.path(), "u.yaml.tera", "name: t\nsteps:\n  - teleport: { to: mars }\n");
    let out = vdr(dir.path(), &["playbook", "render", &unknown]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("teleport") && err.contains("backup") && err.contains("chaos"), "{err}");
}

#[test]
fn chaos_really_breaks_things_verify_fails_when_the_restore_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "noop.yaml.tera",
        &format!(
            "{SEED}  - init: {{ repo: fs://./r, generate_identity: ./id.txt, if_missing: true }}\n\
             \x20 - id: b\n    backup: {{ repo: fs://./r, db: local://./s, collections: [docs] }}\n\
             \x20 - chaos: {{ kind: delete-records, db: local://./s, collection: docs, fraction: 0.2 }}\n\
             \x20 - id: v\n    verify: {{ repo: fs://./r, snapshot: \"{{{{ steps.b.snapshot }}}}\", db: local://./s, collection: docs }}\n"
        ),
    );
    let out = vdr(dir.path(), &["playbook", "run", &file]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("vdr-reports/report.json")).unwrap())
            .unwrap();
    let v = report["steps"].as_array().unwrap().iter().find(|s| s["key"] == "v").unwrap().clone();
    assert_eq!(v["status"], "failed", "{v}");
    assert!(v["outputs"]["records_lost"].as_u64().unwrap() > 0, "{v}");
}

#[test]
fn a_replicate_step_copies_the_leader_then_moves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "rep.yaml.tera",
        &format!(
            "{SEED}  - id: first\n    replicate: {{ from: local://./s, to: local://./f }}\n\
             \x20 - id: second\n    replicate: {{ from: local://./s, to: local://./f }}\n\
             \x20 - assert: {{ that: \"steps.first.records_moved == 300 and steps.second.records_moved == 0\", message: \"replication moved the wrong records\" }}\n"
        ),
    );
    let out = vdr(dir.path(), &["playbook", "run", &file]);
    assert_ok(&out, "replicate playbook");
}

#[test]
fn an_init_step_with_a_passphrase_file_opens_the_repository_for_the_rest_of_the_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pass"), "drill passphrase\n").unwrap();
    let file = write(
        dir.path(),
        "pass.yaml.tera",
        &format!(
            "{SEED}  - init: {{ repo: fs://./r, passphrase_file: ./pass }}\n\
             \x20 - id: b\n    backup: {{ repo: fs://./r, db: local://./s, collections: [docs] }}\n\
             \x20 - check: {{ repo: fs://./r, read_data: true }}\n"
        ),
    );
    assert_ok(&vdr(dir.path(), &["playbook", "run", &file]), "passphrase playbook");
    // The repository is a passphrase repository: no identity opens it, the passphrase does.
    let out = Command::new(env!("CARGO_BIN_EXE_vdr"))
        .args(["snapshots", "--repo", "fs://./r"])
        .current_dir(dir.path())
        .env("VDR_PASSPHRASE_FILE", dir.path().join("pass"))
        .env("VDR_CACHE_DIR", dir.path().join("cache"))
        .env_remove("VDR_IDENTITY")
        .output()
        .unwrap();
    assert_ok(&out, "snapshots with the passphrase");
}
