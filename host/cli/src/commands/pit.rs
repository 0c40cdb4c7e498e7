//! `--point-in-time TIME`: open a repository as it stood at TIME, read from
//! object versions (docs/point-in-time.md).

use super::Ctx;
use crate::exit::usage;
use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDateTime, Utc};
use vdr_repo::Repository;

/// RFC 3339, or `YYYY-MM-DD HH:MM:SS` (optionally `T`-separated) in UTC.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s.trim(), f) {
            return Ok(t.and_utc());
        }
    }
    Err(usage(format!(
        "--point-in-time {s:?}: expected RFC 3339 (2026-11-26T23:00:00Z) or `YYYY-MM-DD HH:MM:SS` (UTC)"
    )))
}

impl Ctx {
    /// The repository now, or as it stood at `at` (read-only; its shared
    /// locks are kept in memory, so opening the past writes nothing).
    pub fn repository_at(&self, spec: &str, at: Option<&str>) -> Result<Repository> {
        let Some(at) = at else { return self.repository(spec) };
        let t = parse_time(at)?;
        let ms = u64::try_from(t.timestamp_millis())
            .map_err(|_| usage(format!("--point-in-time {at:?} is before 1970")))?;
        let store = vdr_model::pit::repository_view(self.storage(spec)?, ms, "locks/");
        let creds =
            super::repo::credentials(self.identity.as_deref(), self.passphrase_file.as_deref())?;
        Repository::open(store, &creds)
            .with_context(|| format!("opening repository {spec} as of {}", t.to_rfc3339()))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn both_time_forms_parse_as_utc() {
        let a = parse_time("2026-11-26T23:05:01Z").unwrap();
        let b = parse_time("2026-11-26 23:05:01").unwrap();
        let c = parse_time("2026-11-27T00:05:01+01:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert!(parse_time("yesterday").is_err());
    }
}
