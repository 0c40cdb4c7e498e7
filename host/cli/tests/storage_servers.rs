//! Repository round trips through each object-store plugin on its real
//! server (scripts/test-servers.sh), driven through the `vdr` binary with
//! `s3://`, `gs://` and `az://` URLs and credentials in the usual variables;
//! and the point-in-time backstop after every object was deleted.

mod common;
use common::Vdr;
use common::public_key;

use std::sync::Arc;
use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;
use vdr_model::{ObjectStore, list_all};
use vdr_runtime::Grant;
use vdr_tests::faultproxy::FaultProxy;
use vdr_tests::servers::{cpu_secs, endpoint, required, server_cpu_secs};
use vdr_tests::unique;

/// Steps this file repeats, on the shared harness.
impl Vdr {
    fn with_env(env: Vec<(&'static str, String)>) -> Vdr {
        env.iter().fold(Vdr::with_identity(), |v, (k, val)| v.env(k, val))
    }

    /// init, backup of a sample `local` collection; returns the snapshot id.
    fn init_and_back_up(&self, repo: &str) -> String {
        self.create_sample("local://./store", "docs", "1200", "32");
        let recipient = public_key(&self.path("key.txt"));
        self.ok(&["init", "--repo", repo, "--recipient", &recipient]);
        let b = self.json(&["backup", "--repo", repo, "--db", "local://./store"]);
        b["snapshot"].as_str().unwrap().to_string()
    }

    /// restore into a new store, then verify; `extra` e.g. `--point-in-time T`.
    fn restore_and_verify(&self, repo: &str, snapshot: &str, into: &str, extra: &[&str]) {
        let db = format!("local://./{into}");
        let mut args = vec!["restore", "latest", "--repo", repo, "--db", &db];
        args.extend_from_slice(extra);
        self.ok(&args);
        let mut args = vec!["verify", snapshot, "--repo", repo, "--db", &db];
        args.extend_from_slice(extra);
        let reports = self.json(&args);
        assert_eq!(reports[0]["ok"], true, "{reports}");
        let n = self.json(&["collection", "count", "--db", &db, "-c", "docs"]);
        assert_eq!(n["count"], 1200);
    }
}

fn seaweed_env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", required("S3_SEAWEED_ACCESS_KEY")),
        ("AWS_SECRET_ACCESS_KEY", required("S3_SEAWEED_SECRET_KEY")),
    ]
}

/// The same bucket and prefix opened directly, to play the attacker.
fn open_store(
    plugin: &str,
    url: &str,
    options: serde_json::Value,
    secrets: Vec<(&str, String)>,
) -> Arc<dyn ObjectStore> {
    let mut grant = Grant::endpoint(url).unwrap();
    grant.options = options;
    grant.secrets = secrets.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    vdr_tests::runtime().open_store(plugin, &grant, format!("{plugin} attacker")).unwrap()
}

/// Records T, then deletes every object under the prefix (and overwrites
/// the config first), each well after T: S3 times have second precision.
fn destroy_after_t(store: &dyn ObjectStore) -> String {
    std::thread::sleep(Duration::from_millis(1100));
    let t = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::thread::sleep(Duration::from_millis(1100));
    store.put("config", b"ransom note", false).unwrap();
    let all = list_all(store, "").unwrap();
    assert!(all.len() > 5, "{all:?}");
    for o in &all {
        store.delete(&o.key).unwrap();
    }
    assert!(list_all(store, "").unwrap().is_empty());
    t
}

#[test]
fn s3_round_trip_and_point_in_time_restore_on_seaweedfs() {
    let Some(url) = endpoint("S3_SEAWEED") else { return };
    let bucket = unique("vdr-rt-");
    let repo = format!(
        "s3://{bucket}/team/vdr?endpoint={url}&region=us-east-1&create_bucket=true&enable_versioning=true"
    );
    let run = Vdr::with_env(seaweed_env());
    let snap = run.init_and_back_up(&repo);
    run.restore_and_verify(&repo, &snap, "restored", &[]);
    let check = run.json(&["check", "--repo", &repo, "--read-data"]);
    assert_eq!(check["problems"].as_array().map(|p| p.len()), Some(0), "{check}");

    let options =
        serde_json::json!({ "bucket": bucket, "prefix": "team/vdr", "region": "us-east-1" });
    let secrets = vec![
        ("access-key-id", required("S3_SEAWEED_ACCESS_KEY")),
        ("secret-access-key", required("S3_SEAWEED_SECRET_KEY")),
    ];
    let t = destroy_after_t(open_store("s3", &url, options, secrets).as_ref());
    assert_eq!(run.vdr(&["snapshots", "--repo", &repo]).status.code(), Some(1));

    let pit = ["--point-in-time", t.as_str()];
    let list = run.json(&["snapshots", "--repo", &repo, "--point-in-time", &t]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    run.restore_and_verify(&repo, &snap, "recovered", &pit);
    let check = run.json(&["check", "--repo", &repo, "--read-data", "--point-in-time", &t]);
    assert_eq!(check["problems"].as_array().map(|p| p.len()), Some(0), "{check}");
}

#[test]
fn s3_wrong_secret_is_a_clear_unauthorized_error_without_retries() {
    let Some(url) = endpoint("S3_SEAWEED") else { return };
    let repo = format!("s3://{}/p?endpoint={url}", unique("vdr-wrong-"));
    let run = Vdr::with_env(vec![
        ("AWS_ACCESS_KEY_ID", required("S3_SEAWEED_ACCESS_KEY")),
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret".into()),
    ]);
    let t0 = Instant::now();
    let out = run.vdr(&["snapshots", "--repo", &repo]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("unauthorized"), "{err}");
    assert!(!err.contains("not-the-secret"), "{err}");
    assert!(t0.elapsed() < Duration::from_secs(10), "no retry loop: {:?}", t0.elapsed());
}

#[test]
fn s3_round_trip_on_moto() {
    let Some(url) = endpoint("S3_MOTO") else { return };
    let repo = format!("s3://{}/vdr?endpoint={url}&create_bucket=true", unique("vdr-rt-"));
    // moto checks no signatures; any credentials do.
    let run = Vdr::with_env(vec![
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
    ]);
    let snap = run.init_and_back_up(&repo);
    run.restore_and_verify(&repo, &snap, "restored", &[]);
}

#[test]
fn gcs_round_trip_and_point_in_time_restore_on_fake_gcs_server() {
    let Some(url) = endpoint("GCS") else { return };
    let bucket = unique("vdr-rt-");
    let repo =
        format!("gs://{bucket}/vdr?endpoint={url}&create_bucket=true&enable_versioning=true");
    let run = Vdr::with_env(vec![]);
    let snap = run.init_and_back_up(&repo);
    run.restore_and_verify(&repo, &snap, "restored", &[]);

    let options = serde_json::json!({ "bucket": bucket, "prefix": "vdr" });
    let t = destroy_after_t(open_store("gcs", &url, options, vec![]).as_ref());
    let pit = ["--point-in-time", t.as_str()];
    run.restore_and_verify(&repo, &snap, "recovered", &pit);
}

/// A stand-in for Google's OAuth 2.0 token endpoint
/// (tests/standins/google_token.py) that verifies the RS256 assertions and
/// wrote the service-account key files naming it as their token_uri.
struct TokenEndpoint {
    child: std::process::Child,
    addr: String,
}

impl TokenEndpoint {
    fn start(dir: &std::path::Path) -> Option<TokenEndpoint> {
        use std::io::BufRead;
        let python = vdr_tests::python_with("cryptography")?;
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/standins/google_token.py");
        let mut child = std::process::Command::new(python)
            .arg(script)
            .arg("--key-file")
            .arg(dir.join("sa.json"))
            .arg("--foreign-key-file")
            .arg(dir.join("foreign.json"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("starting the token stand-in");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.trim().strip_prefix("listening on http://").expect("address line").into();
        Some(TokenEndpoint { child, addr })
    }

    /// Assertions accepted and refused so far.
    fn stats(&self) -> (u64, u64) {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&self.addr).unwrap();
        write!(s, "GET /stats HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let body: serde_json::Value =
            serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        (body["issued"].as_u64().unwrap(), body["refused"].as_u64().unwrap())
    }
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GOOGLE_APPLICATION_CREDENTIALS: the plugin signs a JWT with the key,
/// exchanges it for a token once per instance and reuses it; a key the token
/// endpoint does not know is refused with a clear message that never quotes
/// the key file.
#[test]
fn gcs_exchanges_a_service_account_key_for_tokens() {
    let Some(url) = endpoint("GCS") else { return };
    let run = Vdr::with_env(vec![]);
    let Some(tokens) = TokenEndpoint::start(&run.path("")) else { return };
    let key_file = run.path("sa.json").to_string_lossy().into_owned();
    let run = run.env("GOOGLE_APPLICATION_CREDENTIALS", &key_file);
    let repo = format!("gs://{}/vdr?endpoint={url}&create_bucket=true", unique("vdr-sa-"));
    let snap = run.init_and_back_up(&repo);
    run.restore_and_verify(&repo, &snap, "restored", &[]);
    let (issued, refused) = tokens.stats();
    assert_eq!(refused, 0, "every assertion was well formed and correctly signed");
    assert!(issued >= 1, "the key was exchanged for a token");
    // One exchange per plugin instance (four commands, a few instances
    // each), not one per request (dozens per command).
    assert!(issued <= 12, "{issued} token exchanges");

    let foreign = run.path("foreign.json").to_string_lossy().into_owned();
    let run = run.env("GOOGLE_APPLICATION_CREDENTIALS", &foreign);
    let out = run.vdr(&["snapshots", "--repo", &repo]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("service-account key") && stderr.contains("HTTP 400"), "{stderr}");
    assert!(!stderr.contains("PRIVATE KEY"), "the key file is never quoted: {stderr}");
    assert_eq!(tokens.stats().1, 1, "the foreign key's assertion was refused");
}

#[test]
fn azure_round_trip_on_azurite() {
    let Some(url) = endpoint("AZURE") else { return };
    let repo = format!("az://{}/vdr?endpoint={url}&create_bucket=true", unique("vdr-rt-"));
    let run = Vdr::with_env(vec![
        ("AZURE_STORAGE_KEY", required("AZURE_KEY")),
        ("AZURE_STORAGE_ACCOUNT", required("AZURE_ACCOUNT")),
    ]);
    let snap = run.init_and_back_up(&repo);
    run.restore_and_verify(&repo, &snap, "restored", &[]);
}

/// Through `proxy` in front of SeaweedFS, on a fresh bucket: init, backup,
/// restore, verify and `check --read-data` all succeed. Returns the proxy
/// for its counts.
fn round_trip_through(url: &str, proxy: FaultProxy) -> FaultProxy {
    let bucket = unique("vdr-proxied-");
    let options = serde_json::json!({
        "bucket": bucket, "prefix": "p", "region": "us-east-1", "create-bucket": "true",
    });
    let secrets = vec![
        ("access-key-id", required("S3_SEAWEED_ACCESS_KEY")),
        ("secret-access-key", required("S3_SEAWEED_SECRET_KEY")),
    ];
    open_store("s3", url, options, secrets).list("", None, 1).expect("bucket made");
    let repo = format!("s3://{bucket}/p?endpoint={}", proxy.url());
    let run = Vdr::with_env(seaweed_env());
    let snap = run.init_and_back_up(&repo);
    run.restore_and_verify(&repo, &snap, "restored", &[]);
    let check = run.json(&["check", "--repo", &repo, "--read-data"]);
    assert_eq!(check["problems"].as_array().map(|p| p.len()), Some(0), "{check}");
    proxy
}

/// s3 plugin -> fault proxy -> SeaweedFS: drops, 500s, slow answers and
/// bodies cut short under their Content-Length, all retried by the host.
#[test]
fn backup_restore_and_check_survive_a_faulty_network() {
    let Some(url) = endpoint("S3_SEAWEED") else { return };
    let proxy = FaultProxy::start(url.trim_start_matches("http://"), 0.2, 42);
    let proxy = round_trip_through(&url, proxy);
    let c = &proxy.counts;
    eprintln!("fault proxy: {c:?}");
    for (what, n) in [
        ("dropped", &c.dropped),
        ("500", &c.errors_500),
        ("slow", &c.slow),
        ("truncated", &c.truncated),
    ] {
        assert!(n.load(Ordering::Relaxed) > 0, "no {what} fault injected: {c:?}");
    }
}

/// A body cut short under a rewritten Content-Length looks complete to
/// HTTP: the repository sees a pack read shorter than its index entry and
/// fetches it again, so restore, verify and `check --read-data` succeed.
#[test]
fn short_bodies_that_look_complete_are_fetched_again() {
    let Some(url) = endpoint("S3_SEAWEED") else { return };
    let proxy =
        round_trip_through(&url, FaultProxy::relabelling(url.trim_start_matches("http://")));
    let relabelled = proxy.counts.relabelled.load(Ordering::Relaxed);
    assert!(relabelled > 0, "no short body was sent: {:?}", proxy.counts);
}

/// CPU seconds spent by this test's finished children (the `vdr` runs) and
/// by the SeaweedFS server.
#[derive(Clone, Copy, Default)]
struct CpuUse {
    vdr: f64,
    server: Option<f64>,
}

impl CpuUse {
    fn now() -> CpuUse {
        CpuUse { vdr: cpu_secs(false), server: server_cpu_secs("seaweedfs") }
    }
    /// `self` plus the CPU used since `start`.
    fn plus_since(self, start: CpuUse) -> CpuUse {
        let now = CpuUse::now();
        CpuUse {
            vdr: self.vdr + now.vdr - start.vdr,
            server: now.server.zip(start.server).map(|(n, s)| self.server.unwrap_or(0.0) + n - s),
        }
    }
    fn per_gb(&self, gb: f64) -> String {
        let server = self.server.map_or("-".into(), |s| format!("{:.1}", s / gb));
        format!("{:.1} / {server}", self.vdr / gb)
    }
}

/// Backup and restore throughput to SeaweedFS against the `fs` repository
/// in the same run (restore as `--dry-run`: read, decrypt and check all,
/// no engine import), requests per GiB (counted by a fault-free proxy), and
/// the CPU seconds per GB of stream that vdr and the server spent: both
/// share this machine's cores, so the server's share is what the `s3` rows
/// lose against `fs`.
/// `VDR_BENCH_POINTS` (default 120000 points of dim 384, ~200 MB of stream).
/// Run: `cargo test --workspace --test storage_servers -- --ignored bench --nocapture`.
#[test]
#[ignore = "benchmark: prints figures"]
fn bench_seaweedfs_against_fs() {
    let Some(url) = endpoint("S3_SEAWEED") else { return };
    let points = std::env::var("VDR_BENCH_POINTS").unwrap_or_else(|_| "120000".into());
    let run = Vdr::with_env(seaweed_env());
    let t0 = Instant::now();
    run.create_sample("local://./store", "docs", &points, "384");
    eprintln!("sample of {points} points made in {:.1}s", t0.elapsed().as_secs_f64());
    let recipient = public_key(&run.path("key.txt"));
    let mut figures = Vec::new();
    let proxy = FaultProxy::start(url.trim_start_matches("http://"), 0.0, 1);
    let bucket = unique("vdr-bench-");
    let make = "&create_bucket=true&enable_versioning=true";
    // `{k}`: a fresh repository per attempt, so every backup is a first one.
    let repos = [
        ("fs", "fs://./fsrepo{k}".to_string(), 3),
        ("s3", format!("s3://{bucket}/direct{{k}}?endpoint={url}{make}"), 3),
        (
            "s3 via counting proxy",
            format!("s3://{bucket}/counted{{k}}?endpoint={}", proxy.url()),
            1,
        ),
    ];
    for (i, (name, template, attempts)) in repos.iter().enumerate() {
        let repo = template.replace("{k}", "0");
        let (mut backup_cpu, mut restore_cpu) = (CpuUse::default(), CpuUse::default());
        let mut backup = |repo: &str| {
            run.ok(&["init", "--repo", repo, "--recipient", &recipient]);
            let start = CpuUse::now();
            let summary = run.json(&[
                "backup",
                "--repo",
                repo,
                "--db",
                "local://./store",
                "--golden-queries",
                "0",
            ]);
            backup_cpu = backup_cpu.plus_since(start);
            summary
        };
        let before = proxy.counts.requests.load(Ordering::Relaxed);
        let b = backup(&repo);
        let mid = proxy.counts.requests.load(Ordering::Relaxed);
        // A dry run reads, decrypts and checks everything but writes nothing:
        // the storage's share of a restore, without the engine's import.
        std::fs::create_dir(run.path(&format!("restored{i}"))).unwrap();
        let into = format!("local://./restored{i}");
        let mut restore = || {
            let start = CpuUse::now();
            let summary =
                run.json(&["restore", "latest", "--repo", &repo, "--db", &into, "--dry-run"]);
            restore_cpu = restore_cpu.plus_since(start);
            summary
        };
        let r = restore();
        let after = proxy.counts.requests.load(Ordering::Relaxed);
        // The best of three attempts (dry runs repeat exactly; backups go
        // into fresh repositories) damps the noise of a server sharing this
        // machine's two cores.
        let secs = |v: &serde_json::Value| v["duration_secs"].as_f64().unwrap();
        let rs = (1..*attempts).map(|_| secs(&restore())).fold(secs(&r), f64::min);
        let bs = (1..*attempts)
            .map(|k| secs(&backup(&template.replace("{k}", &k.to_string()))))
            .fold(secs(&b), f64::min);
        let gib = b["bytes_read"].as_f64().unwrap() / (1u64 << 30) as f64;
        let mb = b["bytes_read"].as_f64().unwrap() / 1e6;
        let gb_run = mb / 1e3 * *attempts as f64;
        figures.push((
            name.to_string(),
            mb / bs,
            mb / rs,
            (mid - before) as f64 / gib,
            (after - mid) as f64 / gib,
            backup_cpu.per_gb(gb_run),
            restore_cpu.per_gb(gb_run),
        ));
    }
    eprintln!(
        "\n{:<22} {:>11} {:>12} {:>14} {:>15} {:>13} {:>13}",
        "repository",
        "backup MB/s",
        "restore MB/s",
        "backup req/GiB",
        "restore req/GiB",
        "backup CPU-s",
        "restore CPU-s"
    );
    for (n, b, r, bq, rq, bc, rc) in &figures {
        eprintln!("{n:<22} {b:>11.1} {r:>12.1} {bq:>14.0} {rq:>15.0} {bc:>13} {rc:>13}");
    }
    eprintln!("(CPU-s: per GB of stream, vdr / SeaweedFS server)");
    let (fs, s3) = (&figures[0], &figures[1]);
    eprintln!(
        "s3/fs: backup {:.0} %, restore {:.0} % (goal >= 80 %)",
        100.0 * s3.1 / fs.1,
        100.0 * s3.2 / fs.2
    );
}
