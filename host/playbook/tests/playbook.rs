//! Render -> validate -> run, with a scripted executor and a fake clock.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};
use std::cell::Cell;
use std::path::PathBuf;
use std::rc::Rc;
use vdr_playbook::*;

fn templates() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../templates")
}

fn load_text(src: &str) -> Result<(Rendered, Playbook), PlaybookError> {
    load_str("test.yaml.tera", src, &VarInputs::default())
}

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-01-01T12:00:00Z").unwrap().with_timezone(&Utc)
}

/// Returns scripted outputs per step kind and advances the fake clock.
struct Fake {
    now: Rc<Cell<DateTime<Utc>>>,
    seen: Vec<ResolvedStep>,
    fail_verify: bool,
}

impl Fake {
    fn new(now: Rc<Cell<DateTime<Utc>>>) -> Self {
        Fake { now, seen: Vec::new(), fail_verify: false }
    }
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

impl StepExecutor for Fake {
    fn execute(&mut self, step: &ResolvedStep) -> Result<StepOutput, StepError> {
        self.seen.push(step.clone());
        let secs = match &step.kind {
            StepKind::Restore(_) => 40,
            StepKind::Verify(_) => 20,
            _ => 5,
        };
        self.now.set(self.now.get() + TimeDelta::seconds(secs));
        let snap_time = (t0() + TimeDelta::seconds(10)).to_rfc3339();
        Ok(match &step.kind {
            StepKind::Init(_) => Map::new(),
            StepKind::Collection(_) => obj(json!({"records": 20000})),
            StepKind::Backup(_) => obj(
                json!({"snapshot": "abc123", "snapshot_time": snap_time, "records": 20000, "bytes_new": 1}),
            ),
            StepKind::Chaos(_) => obj(json!({"records_before": 20000})),
            StepKind::Restore(r) => {
                obj(json!({"snapshot": r.snapshot, "snapshot_time": snap_time, "records": 19990}))
            }
            StepKind::Verify(_) if self.fail_verify => {
                return Err(StepError::verification("recall 0.50 < 0.95")
                    .with_outputs(obj(json!({"recall": 0.5}))));
            }
            StepKind::Verify(_) => {
                obj(json!({"ok": true, "recall": 0.97, "records": 20000, "snapshot": "abc123"}))
            }
            _ => Map::new(),
        })
    }
}

fn fake_opts(now: &Rc<Cell<DateTime<Utc>>>, dir: Option<PathBuf>) -> RunOptions {
    let c = now.clone();
    let s = now.clone();
    RunOptions {
        report_dir: dir,
        clock: Box::new(move || c.get()),
        sleep: Box::new(move |d| s.set(s.get() + TimeDelta::from_std(d).unwrap())),
        on_step: None,
    }
}

#[test]
fn every_template_renders_and_validates_with_defaults() {
    for name in ["drill", "backup", "restore", "migrate"] {
        let path = templates().join(format!("{name}.yaml.tera"));
        let (rendered, pb) = load(&path, &VarInputs::default()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pb.name, name);
        assert!(!pb.steps.is_empty());
        assert!(
            pb.steps.iter().all(|s| s.line.is_some()),
            "{name}: every step has a template line"
        );
        // The printed form is valid YAML too.
        let _: serde_yaml_ng::Value = serde_yaml_ng::from_str(&rendered.display_text()).unwrap();
    }
}

#[test]
fn drill_runs_end_to_end_and_measures_rto_rpo() {
    let path = templates().join("drill.yaml.tera");
    let inputs = VarInputs { vars: obj(json!({"records": 500})), ..Default::default() };
    let (_, pb) = load(&path, &inputs).unwrap();
    let now = Rc::new(Cell::new(t0()));
    let mut fake = Fake::new(now.clone());
    let dir = tempfile::tempdir().unwrap();
    let report = run(&pb, &mut fake, fake_opts(&now, Some(dir.path().to_path_buf())));
    assert_eq!(report.exit_code, 0, "{:#?}", report.first_failure());
    // The restore got the backup's snapshot id substituted.
    let restore = fake.seen.iter().find(|s| matches!(s.kind, StepKind::Restore(_))).unwrap();
    match &restore.kind {
        StepKind::Restore(r) => assert_eq!(r.snapshot, "abc123"),
        _ => unreachable!(),
    }
    match &fake.seen[1].kind {
        StepKind::Collection(c) => assert_eq!(c.sample, Some(500)),
        other => panic!("{other:?}"),
    }
    // init 5s, seed 5s, backup 5s: chaos starts at +15s; chaos 5s, restore
    // 40s, verify 20s: verified at +80s. RTO 65s. Snapshot at +10s: RPO 5s.
    let dr = &report.dr;
    assert_eq!(dr.rto_seconds, Some(65.0));
    assert_eq!(dr.rpo_seconds, Some(5.0));
    assert_eq!(dr.snapshot.as_deref(), Some("abc123"));
    assert_eq!(dr.disaster_step.as_deref(), Some("disaster"));
    assert_eq!(dr.recovered_step.as_deref(), Some("verify"));
    // No records_lost output: before (chaos) minus after (verify's records).
    assert_eq!(dr.records_lost, Some(0));
    for f in ["report.json", "report.xml", "report.md"] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("| RTO | **1m 5s**"), "{md}");
    assert!(md.contains("RPO (time) | **5.0s**"), "{md}");
    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(j["dr"]["rto_seconds"], json!(65.0));
    let xml = std::fs::read_to_string(dir.path().join("report.xml")).unwrap();
    check_xml(&xml);
    assert!(xml.contains("<property name=\"rto_seconds\" value=\"65.000\"/>"), "{xml}");
}

#[test]
fn records_lost_from_restore_counts_and_missing_recovery() {
    let src = r#"name: t
steps:
  - id: c
    chaos: { kind: drop-collection, db: "local://x", collection: docs }
  - id: r
    restore: { repo: "fs://r", snapshot: latest, db: "local://x" }
  - id: v
    verify: { repo: "fs://r", snapshot: "{{ steps.r.snapshot }}", db: "local://x" }
  - report: {}
"#;
    let (_, pb) = load_text(src).unwrap();
    let now = Rc::new(Cell::new(t0()));
    let mut fake = Fake::new(now.clone());
    fake.fail_verify = true;
    let report = run(&pb, &mut fake, fake_opts(&now, None));
    assert_eq!(report.exit_code, 3);
    assert_eq!(report.dr.rto_seconds, None);
    assert!(report.dr.note.as_deref().unwrap().contains("not proven"));
    // From the restore: 20000 before the disaster, 19990 restored.
    assert_eq!(report.dr.records_lost, Some(10));
    assert_eq!(
        report.steps[2].outputs["recall"],
        json!(0.5),
        "a failed verify keeps its measurements"
    );
    assert_eq!(report.steps[3].status, StepStatus::Passed, "report steps run after a failure");
}

#[test]
fn false_assertion_fails_the_run_naming_the_step() {
    let src = r#"name: t
steps:
  - id: v
    verify: { repo: "fs://r", snapshot: latest, db: "local://x" }
  - id: recall_gate
    assert: { that: "steps.v.recall >= 0.99", message: "recall regressed" }
  - id: after
    check: { repo: "fs://r" }
  - report: { formats: [junit] }
"#;
    let (_, pb) = load_text(src).unwrap();
    let now = Rc::new(Cell::new(t0()));
    let mut fake = Fake::new(now.clone());
    let report = run(&pb, &mut fake, fake_opts(&now, None));
    assert_eq!(report.exit_code, 3);
    let f = report.first_failure().unwrap();
    assert_eq!(f.key, "recall_gate");
    let err = f.error.as_deref().unwrap();
    assert!(err.contains("recall regressed") && err.contains("steps.v.recall = 0.97"), "{err}");
    assert_eq!(report.steps[2].status, StepStatus::Skipped);
    assert_eq!(report.steps[3].status, StepStatus::Passed);
    assert_eq!(fake.seen.len(), 1, "check was not executed");
    let xml = report::junit::render(&report);
    check_xml(&xml);
    assert!(xml.contains("<testcase name=\"recall_gate\" classname=\"assert\""), "{xml}");
    assert!(xml.contains("<failure message=\"recall regressed"), "{xml}");
    assert!(xml.contains("<skipped"), "{xml}");
    let md = report::markdown::render(&report);
    assert!(md.contains("Failed at step `recall_gate`"), "{md}");
}

#[test]
fn continue_on_error_keeps_going_and_exit_zero() {
    let src = r#"name: t
steps:
  - verify: { repo: "fs://r", snapshot: latest, db: "local://x" }
    continue_on_error: true
  - check: { repo: "fs://r" }
"#;
    let (_, pb) = load_text(src).unwrap();
    let now = Rc::new(Cell::new(t0()));
    let mut fake = Fake::new(now.clone());
    fake.fail_verify = true;
    let report = run(&pb, &mut fake, fake_opts(&now, None));
    assert_eq!(report.exit_code, 0);
    assert!(report.steps[0].allowed_failure);
    assert_eq!(report.steps[1].status, StepStatus::Passed);
}

#[test]
fn tera_syntax_error_reports_its_line() {
    let src = "name: t\nsteps:\n  - wait: { seconds: {{ vars.x + }} }\n";
    let e = load_text(src).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Template);
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.to_string().starts_with("test.yaml.tera:3:"), "{e}");
    assert!(e.to_string().contains("wait: { seconds"), "shows the line: {e}");
}

#[test]
fn undefined_variable_names_it_and_lists_vars() {
    let src = "name: t\nvars: { a: 1 }\nsteps:\n  - wait: { seconds: {{ vars.b }} }\n";
    let e = load_text(src).unwrap_err();
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.message.contains("vars.b") && e.message.contains("defined vars: a"), "{e}");
}

#[test]
fn bad_yaml_reports_the_template_line_even_after_loops() {
    // The loop expands to 3 lines, so rendered line numbers differ from the
    // template's; the error must still point at template line 7.
    let src = "name: t\nsteps:\n{% for i in [1, 2, 3] %}\n  - wait: { seconds: {{ i }} }\n{% endfor %}\n  - wait: { seconds: 1 }\n  - check: { repo: x } }\n";
    let e = load_text(src).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Yaml, "{e}");
    assert_eq!(e.line, Some(7), "{e}");
    assert!(e.message.contains("did not find expected"), "{e}");
}

#[test]
fn unknown_step_kind_lists_the_valid_ones() {
    let src = "name: t\nsteps:\n  - wait: { seconds: 1 }\n  - snapshot: { repo: x }\n";
    let e = load_text(src).unwrap_err();
    assert_eq!(e.line, Some(4), "{e}");
    for k in STEP_KINDS {
        assert!(e.message.contains(k), "{k} missing from {e}");
    }
    assert!(e.message.contains("continue_on_error"), "{e}");
}

#[test]
fn unknown_field_lists_the_valid_ones() {
    let src = "name: t\nsteps:\n  - backup:\n      repo: x\n      db: y\n      colections: [a]\n";
    let e = load_text(src).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Validation);
    assert_eq!(e.line, Some(6), "{e}");
    assert!(e.message.contains("colections") && e.message.contains("`collections`"), "{e}");
    let e = load_text("name: t\nstepz: []\n").unwrap_err();
    assert!(e.message.contains("`steps`"), "{e}");
    let e = load_text("name: t\nsteps:\n  - chaos: { kind: flood }\n").unwrap_err();
    assert!(e.message.contains("drop-collection") && e.message.contains("fail-storage"), "{e}");
}

#[test]
fn semantic_checks_point_at_the_step() {
    let cases = [
        ("  - forget: { repo: x }\n", "keep_last"),
        ("  - chaos: { kind: delete-records, db: x, collection: c }\n", "fraction"),
        ("  - wait: {}\n", "exactly one"),
        ("  - assert: { that: \"steps.a.b >\", message: m }\n", "ends too early"),
        ("  - check: { repo: x, read_data: \"3/2\" }\n", "n/t"),
        ("  - id: has-dash\n    wait: { seconds: 1 }\n", "letters, digits"),
    ];
    for (step, want) in cases {
        let e =
            load_text(&format!("name: t\nsteps:\n  - wait: {{ seconds: 0 }}\n{step}")).unwrap_err();
        assert!(e.message.contains(want), "{want}: {e}");
        assert_eq!(e.line, Some(4), "{e}");
    }
}

#[test]
fn references_must_point_to_earlier_steps() {
    let later = "name: t\nsteps:\n  - id: r\n    restore: { repo: x, snapshot: \"{{ steps.b.snapshot }}\", db: y }\n  - id: b\n    backup: { repo: x, db: y }\n";
    let e = load_text(later).unwrap_err();
    assert_eq!(e.line, Some(3), "{e}");
    assert!(
        e.message.contains("not an earlier step") && e.message.contains("earlier step ids: (none)"),
        "{e}"
    );
    let unknown = "name: t\nsteps:\n  - id: b\n    backup: { repo: x, db: y }\n  - assert: { that: \"steps.nope.x == 1\", message: m }\n";
    let e = load_text(unknown).unwrap_err();
    assert!(e.message.contains("`nope` is not a step id; earlier step ids: b"), "{e}");
    let filtered = "name: t\nsteps:\n  - id: b\n    backup: { repo: x, db: y }\n  - check: { repo: \"{{ steps.b.snapshot | upper }}\" }\n";
    assert!(load_text(filtered).unwrap_err().message.contains("plain path"));
}

#[test]
fn missing_output_field_fails_the_step_listing_fields() {
    let src = "name: t\nsteps:\n  - id: b\n    backup: { repo: x, db: y }\n  - check: { repo: \"{{ steps.b.snapshot_id }}\" }\n";
    let (_, pb) = load_text(src).unwrap();
    let now = Rc::new(Cell::new(t0()));
    let report = run(&pb, &mut Fake::new(now.clone()), fake_opts(&now, None));
    assert_eq!(report.exit_code, 1);
    let err = report.steps[1].error.as_deref().unwrap();
    assert!(
        err.contains("snapshot_id") && err.contains("bytes_new, records, snapshot, snapshot_time"),
        "{err}"
    );
}

#[test]
fn variable_precedence_and_environment() {
    let src = "name: t\nvars:\n  a: default\n  b: default\n  c: default\nsteps:\n  - check: { repo: \"{{ vars.a }}/{{ vars.b }}/{{ vars.c }}/{{ env.VDR_VAR_REGION }}\" }\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vars.yaml");
    std::fs::write(&file, "b: file\nc: file\n").unwrap();
    let mut vars = vars::read_vars_file(&file).unwrap();
    vars::merge(&mut vars, vars::parse_var_args(&["c=first".into(), "c=cli".into()]).unwrap());
    let env = vars::allowed_env([
        ("VDR_VAR_REGION".to_string(), "eu".to_string()),
        ("VDR_VAR_API_TOKEN".to_string(), "secret".to_string()),
        ("VDR_PASSPHRASE_FILE".to_string(), "/k".to_string()),
        ("HOME".to_string(), "/root".to_string()),
    ]);
    assert_eq!(env.keys().collect::<Vec<_>>(), ["VDR_VAR_REGION"]);
    let (r, pb) = load_str("t", src, &VarInputs { vars, env }).unwrap();
    match &pb.steps[0].kind {
        StepKind::Check(c) => assert_eq!(c.repo, "default/file/cli/eu"),
        other => panic!("{other:?}"),
    }
    assert_eq!(pb.vars["c"], json!("cli"));
    assert!(r.display_text().contains("c: cli"), "{}", r.display_text());
    let typed =
        vars::parse_var_args(&["n=20".into(), "f=0.5".into(), "b=true".into(), "z=0123".into()])
            .unwrap();
    assert_eq!(Value::Object(typed), json!({"n": 20, "f": 0.5, "b": true, "z": "0123"}));
    assert!(vars::parse_var_args(&["novalue".into()]).is_err());
}

#[test]
fn wait_is_run_by_the_runner() {
    let (_, pb) = load_text("name: t\nsteps:\n  - wait: { seconds: 30 }\n").unwrap();
    let now = Rc::new(Cell::new(t0()));
    let mut fake = Fake::new(now.clone());
    let report = run(&pb, &mut fake, fake_opts(&now, None));
    assert_eq!(report.exit_code, 0);
    assert_eq!(report.steps[0].duration_seconds, 30.0);
    assert!(fake.seen.is_empty());
}

/// A tiny well-formedness check: declaration, balanced tags, quoted
/// attributes, only the five entities.
fn check_xml(xml: &str) {
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"));
    let body = &xml[xml.find("?>").unwrap() + 2..];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        check_text(&rest[..lt]);
        let gt = rest[lt..].find('>').unwrap() + lt;
        let tag = &rest[lt + 1..gt];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "unbalanced </{name}>");
        } else {
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag.split_whitespace().next().unwrap().to_string();
            assert_eq!(
                tag[name.len()..].matches('"').count() % 2,
                0,
                "attribute quotes in <{tag}>"
            );
            check_text(&tag.replace('"', ""));
            if !self_closing {
                stack.push(name);
            }
        }
        rest = &rest[gt + 1..];
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert!(rest.trim().is_empty());
}

fn check_text(t: &str) {
    let mut s = t;
    while let Some(i) = s.find('&') {
        let end = s[i..].find(';').expect("entity ends") + i;
        let ent = &s[i + 1..end];
        assert!(["amp", "lt", "gt", "quot", "apos", "#10"].contains(&ent), "entity &{ent};");
        s = &s[end + 1..];
    }
}

#[test]
fn restore_without_chaos_measures_from_the_restore() {
    let path = templates().join("restore.yaml.tera");
    let (_, pb) = load(&path, &VarInputs::default()).unwrap();
    let now = Rc::new(Cell::new(t0() + TimeDelta::seconds(100)));
    let mut fake = Fake::new(now.clone());
    let report = run(&pb, &mut fake, fake_opts(&now, None));
    assert_eq!(report.exit_code, 0);
    let dr = &report.dr;
    assert!(!dr.injected);
    assert_eq!(dr.disaster_step.as_deref(), Some("restore"));
    // restore 40s + verify 20s; snapshot taken at +10s, restore began at +100s.
    assert_eq!(dr.rto_seconds, Some(60.0));
    assert_eq!(dr.rpo_seconds, Some(90.0));
    match &fake.seen[1].kind {
        StepKind::Verify(v) => {
            assert_eq!(v.snapshot, "latest", "verify uses the restore's snapshot output")
        }
        other => panic!("{other:?}"),
    }
    assert!(report::markdown::render(&report).contains("start of restore `restore`"));
}

#[test]
fn failed_verify_still_yields_rpo_from_the_backup() {
    // Restore reports nothing; verify fails but reports the snapshot and
    // counts; snapshot_time comes from the backup that made the snapshot.
    struct Sparse(Rc<Cell<DateTime<Utc>>>);
    impl StepExecutor for Sparse {
        fn execute(&mut self, s: &ResolvedStep) -> Result<StepOutput, StepError> {
            self.0.set(self.0.get() + TimeDelta::seconds(7));
            match &s.kind {
                StepKind::Backup(_) => {
                    Ok(obj(json!({"snapshot": "s1", "snapshot_time": t0().to_rfc3339()})))
                }
                StepKind::Chaos(_) => Ok(obj(json!({"records_before": 50}))),
                StepKind::Verify(_) => Err(StepError::verification("2 records missing")
                    .with_outputs(obj(json!({"snapshot": "s1", "records": 48})))),
                _ => Ok(Map::new()),
            }
        }
    }
    let src = "name: t\nsteps:\n  - id: b\n    backup: { repo: r, db: d }\n  - chaos: { kind: drop-collection, db: d, collection: c }\n  - restore: { repo: r, snapshot: \"{{ steps.b.snapshot }}\", db: d }\n  - verify: { repo: r, snapshot: \"{{ steps.b.snapshot }}\", db: d }\n";
    let (_, pb) = load_text(src).unwrap();
    let now = Rc::new(Cell::new(t0()));
    let report = run(&pb, &mut Sparse(now.clone()), fake_opts(&now, None));
    assert_eq!(report.exit_code, 3);
    assert_eq!(report.dr.rto_seconds, None);
    assert_eq!(report.dr.rpo_seconds, Some(7.0), "chaos started 7s after the snapshot");
    assert_eq!(report.dr.records_lost, Some(2));
}
