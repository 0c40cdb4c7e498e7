//! `vdr replicate --from-repo`: a standby fed only by the repository applies
//! each new snapshot, reading only the chunks that changed (log shipping).

mod common;
use common::Vdr;
use common::public_key;

use serde_json::Value;

use vdr_model::PointId;

/// Steps this file repeats, on the shared harness.
impl Vdr {
    /// A leader `local://./a` holding `records` sample points of `dim`, and
    /// an empty repository `fs://./repo` for it.
    fn with_leader(records: &str, dim: &str) -> Vdr {
        let r = Vdr::with_identity();
        r.create_sample("local://./a", "docs", records, dim);
        r.ok(&["init", "--repo", "fs://./repo", "--recipient", &public_key(&r.path("key.txt"))]);
        r
    }
    fn backup(&self) -> String {
        self.json(&["backup", "--repo", "fs://./repo", "--db", "local://./a"])["snapshot"]
            .as_str()
            .unwrap()
            .to_string()
    }
    /// One `--once` round; the report of collection `docs`.
    fn round(&self) -> Value {
        let r = self.json(&round_args("metrics.prom"));
        assert_eq!(r["from_repo"], "fs://./repo", "{r}");
        r["collections"][0].clone()
    }
    fn verify(&self, snapshot: &str) {
        let v = self.json(&["verify", snapshot, "--repo", "fs://./repo", "--db", "local://./b"]);
        assert_eq!(v[0]["ok"], true, "{v}");
        assert!(v[0]["checks"].as_array().is_some_and(|c| !c.is_empty()), "{v}");
    }
}

/// One shipping round `fs://./repo` -> `local://./b`, metrics to `metrics`.
fn round_args(metrics: &str) -> [&str; 8] {
    [
        "--metrics-file",
        metrics,
        "replicate",
        "--from-repo",
        "fs://./repo",
        "--to",
        "local://./b",
        "--once",
    ]
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} missing in {v}"))
}

#[test]
fn standby_applies_each_snapshot_reading_only_changed_chunks() {
    let r = Vdr::with_leader("3000", "384");
    let s1 = r.backup();

    let c1 = r.round();
    assert_eq!((c1["full"].as_bool(), c1["created"].as_bool()), (Some(true), Some(true)), "{c1}");
    assert_eq!(n(&c1, "points_upserted"), 3000);
    assert_eq!(n(&c1, "bytes_read"), n(&c1, "stream_length"));
    assert!(c1["lag_seconds"].as_f64().unwrap() >= 0.0);
    r.verify(&s1);
    let metrics = std::fs::read_to_string(r.path("metrics.prom")).unwrap();
    assert!(metrics.contains("vdr_replication_lag_seconds{"), "{metrics}");

    // Nothing new in the repository: nothing is read.
    let c2 = r.round();
    assert_eq!((n(&c2, "blobs_read"), n(&c2, "points_upserted")), (0, 0), "{c2}");

    // 1 % updated through the CLI, 4 records deleted through the plugin.
    let changed = r.json(&[
        "collection",
        "mutate",
        "--db",
        "local://./a",
        "--collection",
        "docs",
        "--fraction",
        "0.01",
    ])["changed"]
        .as_u64()
        .unwrap();
    {
        let mut db = r.database("a");
        let gone: Vec<PointId> = [3, 33, 333, 2999].map(PointId::Num).to_vec();
        db.delete_points("docs", &gone).unwrap();
        db.flush("docs").unwrap();
    }
    let s2 = r.backup();
    let c3 = r.round();
    eprintln!("incremental round: {c3}");
    assert_eq!(c3["full"], false, "{c3}");
    assert_eq!(c3["snapshot"].as_str(), Some(s2.as_str()));
    assert_eq!(c3["from"].as_str(), Some(s1.as_str()));
    assert_eq!(n(&c3, "points_deleted"), 4);
    let upserted = n(&c3, "points_upserted");
    // Only the changed points are written (deleted ones that were also changed are not).
    assert!(
        upserted <= changed && upserted + 4 >= changed,
        "upserted {upserted}, changed {changed}"
    );
    assert!(n(&c3, "points_unchanged") > 0, "{c3}");
    let (blobs, all_blobs) = (n(&c3, "blobs_read"), n(&c3, "stream_blobs"));
    let (bytes, stream) = (n(&c3, "bytes_read"), n(&c3, "stream_length"));
    assert!(blobs * 100 <= all_blobs * 15, "read {blobs} of {all_blobs} blobs");
    assert!(bytes * 100 <= stream * 15, "read {bytes} of {stream} stream bytes");
    r.verify(&s2);
    let gone = r.database("b").fetch("docs", &[PointId::Num(33), PointId::Num(34)]).unwrap();
    assert_eq!(gone.iter().map(|p| p.id.clone()).collect::<Vec<_>>(), [PointId::Num(34)]);

    // Human output, and a usage error without a leader.
    let text = r.ok(&["replicate", "--from-repo", "fs://./repo", "--to", "local://./b", "--once"]);
    assert!(text.contains("BYTES READ"), "{text}");
    let out = r.vdr(&["replicate", "--to", "local://./b", "--once"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn points_longer_than_a_chunk_are_applied_whole() {
    // 20000-d f32 vectors (80 KB) exceed the chunker's 64 KiB maximum, so each
    // point is split over two blobs and must be read as one record.
    let r = Vdr::with_leader("60", "20000");
    let s1 = r.backup();
    let c1 = r.round();
    assert_eq!(n(&c1, "points_upserted"), 60);
    assert!(n(&c1, "stream_blobs") >= 120, "{c1}");
    r.verify(&s1);

    let changed = r.json(&[
        "collection",
        "mutate",
        "--db",
        "local://./a",
        "--collection",
        "docs",
        "--fraction",
        "0.05",
    ])["changed"]
        .as_u64()
        .unwrap();
    {
        let mut db = r.database("a");
        db.delete_points("docs", &[PointId::Num(7)]).unwrap();
        db.flush("docs").unwrap();
    }
    let s2 = r.backup();
    let c2 = r.round();
    eprintln!("split points round: {c2}");
    assert_eq!((c2["full"].as_bool(), n(&c2, "points_deleted")), (Some(false), 1), "{c2}");
    let upserted = n(&c2, "points_upserted");
    assert!(
        upserted <= changed && upserted + 1 >= changed,
        "upserted {upserted}, changed {changed}"
    );
    assert!(n(&c2, "blobs_read") * 2 < n(&c2, "stream_blobs"), "{c2}");
    r.verify(&s2);
}

/// A shipping round killed while it writes leaves the standby behind the
/// new snapshot, never ahead of it: its state only advances once the
/// collection is applied, so running the round again converges.
#[test]
fn a_killed_shipping_round_converges_when_run_again() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let r = Vdr::with_leader("20000", "64");
    r.backup();
    r.round();
    r.ok(&["collection", "mutate", "--db", "local://./a", "-c", "docs", "--fraction", "0.3"]);
    {
        let mut db = r.database("a");
        db.delete_points("docs", &[PointId::Num(5), PointId::Num(19_999)]).unwrap();
        db.flush("docs").unwrap();
    }
    let s2 = r.backup();

    let log = r.path("b/docs/points.log");
    let before = std::fs::metadata(&log).unwrap().len();
    let mut child = r
        .cmd(&["replicate", "--from-repo", "fs://./repo", "--to", "local://./b", "--once"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill as soon as the standby's log grows: somewhere inside the apply.
    let deadline = Instant::now() + Duration::from_secs(120);
    while std::fs::metadata(&log).unwrap().len() == before && child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the round never wrote");
        std::thread::sleep(Duration::from_millis(2));
    }
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    child.wait().unwrap();
    eprintln!("killed {} the round finished", if finished { "after" } else { "before" });

    let again = r.round();
    assert_eq!(again["snapshot"].as_str(), Some(s2.as_str()), "{again}");
    // Unless the kill came after the state was saved, the round is redone
    // whole: from the last applied snapshot, deletes included.
    if n(&again, "blobs_read") > 0 {
        assert_eq!(n(&again, "points_deleted"), 2, "{again}");
    }
    r.verify(&s2);
    let idle = r.round();
    assert_eq!((n(&idle, "blobs_read"), n(&idle, "points_upserted")), (0, 0), "{idle}");
}

/// A failed shipping round reports the standby's real lag, the age of the
/// snapshot it applied last, so lag alerts fire while shipping is broken.
#[test]
fn shipping_lag_keeps_rising_while_rounds_fail() {
    let r = Vdr::with_leader("200", "16");
    r.backup();
    r.round();

    // The applied snapshot is an hour old; now the repository is gone.
    let state_dir = std::fs::read_dir(r.path(".vdr/replicate")).unwrap().next().unwrap().unwrap();
    let file = state_dir.path().join("ship.json");
    let mut state: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    state["collections"]["docs"]["snapshot_time"] = hour_ago.to_rfc3339().into();
    std::fs::write(&file, state.to_string()).unwrap();
    std::fs::rename(r.path("repo"), r.path("repo-gone")).unwrap();

    let out = r.vdr(&round_args("m/fail.prom"));
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(r.path("m/fail.prom")).unwrap();
    let lag: f64 = text
        .lines()
        .find(|l| l.starts_with("vdr_replication_lag_seconds{"))
        .and_then(|l| l.rsplit_once(' '))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or_else(|| panic!("no lag reported for the failed round: {text}"));
    assert!((3600.0..3700.0).contains(&lag), "lag {lag} s for an hour-old snapshot");
}
