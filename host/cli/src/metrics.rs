//! Prometheus metrics (text exposition format 0.0.4). Commands record into
//! the `Metrics` in `Ctx`; one-shot commands write them as a textfile at
//! exit (`--metrics-file`), `vdr serve` renders them on `/metrics`.
//! Names and labels are the contract in templates/monitoring/README.md.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// (name, type, help) of every metric vdr emits.
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "vdr_job_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the last successful run of a job.",
    ),
    ("vdr_job_last_duration_seconds", "gauge", "Wall-clock duration of the last run of the job."),
    ("vdr_job_failures_total", "counter", "Failed runs of a job, by kind of failure."),
    (
        "vdr_job_skipped_total",
        "counter",
        "Scheduled runs skipped because the previous run of the job was still going.",
    ),
    (
        "vdr_backup_bytes_read_total",
        "counter",
        "Bytes read from databases by backups into this repository.",
    ),
    ("vdr_backup_bytes_stored_total", "counter", "Bytes newly written to the repository."),
    (
        "vdr_backup_dedup_ratio",
        "gauge",
        "Bytes read / bytes stored by the last backup into the repository.",
    ),
    ("vdr_repository_snapshots", "gauge", "Snapshots in the repository."),
    ("vdr_repository_check_ok", "gauge", "1 when the last check passed, 0 when it failed."),
    ("vdr_verify_recall", "gauge", "Recall@k of the golden queries in the last verification."),
    ("vdr_replication_lag_seconds", "gauge", "Seconds since the follower last matched the leader."),
    (
        "vdr_replication_lag_ratio",
        "gauge",
        "Fraction of records differing between leader and follower.",
    ),
    ("vdr_drill_rto_seconds", "gauge", "Measured recovery time of the last drill of the playbook."),
    (
        "vdr_drill_rpo_seconds",
        "gauge",
        "Measured recovery point of the last drill of the playbook.",
    ),
];

type Labels = Vec<(String, String)>;

#[derive(Default)]
pub struct Metrics {
    samples: Mutex<BTreeMap<&'static str, BTreeMap<Labels, f64>>>,
}

fn family(name: &str) -> &'static str {
    FAMILIES.iter().find(|f| f.0 == name).map(|f| f.0).expect("metric listed in FAMILIES")
}

fn labels(l: &[(&str, &str)]) -> Labels {
    l.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

impl Metrics {
    pub fn set(&self, name: &str, l: &[(&str, &str)], v: f64) {
        let mut s = self.samples.lock().unwrap();
        s.entry(family(name)).or_default().insert(labels(l), v);
    }

    pub fn inc(&self, name: &str, l: &[(&str, &str)], by: f64) {
        let mut s = self.samples.lock().unwrap();
        *s.entry(family(name)).or_default().entry(labels(l)).or_insert(0.0) += by;
    }

    /// The end of a job run: duration always, success time or a failure.
    pub fn job(&self, job: &str, target: &str, took: Duration, failure: Option<&str>) {
        let l = [("job", job), ("target", target)];
        self.set("vdr_job_last_duration_seconds", &l, took.as_secs_f64());
        match failure {
            None => self.set("vdr_job_last_success_timestamp_seconds", &l, now()),
            Some(kind) => self.inc(
                "vdr_job_failures_total",
                &[("job", job), ("target", target), ("kind", kind)],
                1.0,
            ),
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let s = self.samples.lock().unwrap();
        let mut out = String::new();
        for (name, kind, help) in FAMILIES {
            let Some(samples) = s.get(name) else { continue };
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for (l, v) in samples {
                out.push_str(name);
                if !l.is_empty() {
                    let inner: Vec<String> =
                        l.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
                    out.push_str(&format!("{{{}}}", inner.join(",")));
                }
                out.push_str(&format!(" {}\n", value(*v)));
            }
        }
        out
    }

    /// Write the textfile atomically (temp + rename), so node_exporter's
    /// textfile collector never reads half a file.
    pub fn write_textfile(&self, path: &Path) -> std::io::Result<()> {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, self.render())?;
        std::fs::rename(&tmp, path)
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The `kind` label of a failure: config, verification, plugin, lock,
/// storage, database or other.
pub fn failure_kind(e: &anyhow::Error) -> &'static str {
    use crate::exit::{Code, code_of};
    use vdr_model::ErrorKind as K;
    match code_of(e) {
        Code::Usage => return "config",
        Code::Verification => return "verification",
        Code::Failed => {}
    }
    for c in e.chain() {
        if let Some(m) = c.downcast_ref::<vdr_model::Error>()
            && matches!(m.kind, K::Trap | K::LimitExceeded | K::Denied | K::Protocol)
        {
            return "plugin";
        }
    }
    let text = format!("{e:#}").to_ascii_lowercase();
    if text.contains("lock") {
        "lock"
    } else if text.contains("repository") || text.contains("storage") {
        "storage"
    } else if text.contains("database") || text.contains("leader") || text.contains("follower") {
        "database"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are the contract with the alert rules and the dashboard.
    #[test]
    fn families_match_the_monitoring_contract() {
        let readme = include_str!("../../../templates/monitoring/README.md");
        let listed: Vec<&str> = readme
            .lines()
            .filter_map(|l| l.strip_prefix("| `vdr_"))
            .filter_map(|l| l.split('`').next())
            .collect();
        assert_eq!(listed.len(), 13, "{listed:?}");
        for name in &listed {
            assert!(
                FAMILIES.iter().any(|f| f.0 == format!("vdr_{name}")),
                "vdr_{name} not emitted"
            );
        }
        for (name, _, _) in FAMILIES {
            // Extra, not used by any rule: skipped scheduler ticks of `vdr serve`.
            if *name != "vdr_job_skipped_total" {
                assert!(listed.contains(&&name[4..]), "{name} is not in the README table");
            }
        }
    }

    #[test]
    fn renders_the_exposition_format() {
        let m = Metrics::default();
        m.job("backup", "local://./s", Duration::from_millis(1500), None);
        m.job("backup", "local://./s", Duration::from_millis(10), Some("storage"));
        m.set(
            "vdr_replication_lag_ratio",
            &[("from", "a"), ("to", "b\"x"), ("collection", "c")],
            0.25,
        );
        m.set("vdr_backup_dedup_ratio", &[("repo", "r")], f64::INFINITY);
        let text = m.render();
        assert!(text.contains("# TYPE vdr_job_failures_total counter\n"));
        assert!(text.contains(
            "vdr_job_failures_total{job=\"backup\",target=\"local://./s\",kind=\"storage\"} 1\n"
        ));
        assert!(text.contains(
            "vdr_job_last_duration_seconds{job=\"backup\",target=\"local://./s\"} 0.01\n"
        ));
        assert!(text.contains("to=\"b\\\"x\""));
        assert!(text.contains("vdr_backup_dedup_ratio{repo=\"r\"} +Inf\n"));
    }
}
