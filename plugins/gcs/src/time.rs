//! Dates without a date crate: GCS reports times as RFC 3339 text that the
//! contract wants as Unix milliseconds; JWTs need the current Unix time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch (WASI wall clock).
pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `2024-01-02T03:04:05.678Z` (fraction and zone optional) to Unix ms; 0 if unparsable.
pub fn rfc3339_ms(text: &str) -> u64 {
    let num = |s: Option<&str>| s.and_then(|s| s.parse::<u64>().ok());
    let parse = || -> Option<u64> {
        let (date, time) = text.split_once('T')?;
        let mut d = date.split('-');
        let (y, m, day) = (num(d.next())?, num(d.next())?, num(d.next())?);
        let time = time.trim_end_matches('Z');
        let time = time.split(['+']).next()?;
        let mut t = time.split(':');
        let (h, min) = (num(t.next())?, num(t.next())?);
        let sec_text = t.next()?;
        let (whole, frac) = sec_text.split_once('.').unwrap_or((sec_text, "0"));
        let ms = num(Some(&format!("{frac:0<3}")[..3])).unwrap_or(0);
        let days = days_from_civil(y as i64, m as u32, day as u32);
        let secs = days as u64 * 86_400 + h * 3600 + min * 60 + num(Some(whole))?;
        Some(secs * 1000 + ms)
    };
    parse().unwrap_or(0)
}

// Howard Hinnant's civil calendar algorithms.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(rfc3339_ms("2015-08-30T12:36:00.500Z"), 1_440_938_160_500);
    }
}
