//! Dates without a date crate, for the formats storage APIs speak: the
//! current UTC time (WASI wall clock), RFC 1123 HTTP dates (`x-ms-date`,
//! `Last-Modified`) and RFC 3339 timestamps in listings, as Unix
//! milliseconds where the contract wants them.

use std::time::{SystemTime, UNIX_EPOCH};

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `(year, month, day, hour, minute, second)` in UTC for a Unix time.
pub fn utc(secs: u64) -> (i64, u32, u32, u64, u64, u64) {
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    (y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
}

/// `Sun, 30 Aug 2015 12:36:00 GMT` for a Unix time.
pub fn http_date(secs: u64) -> String {
    let (y, m, d, h, mi, s) = utc(secs);
    format!(
        "{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} GMT",
        DAYS[(secs / 86_400 % 7) as usize],
        MONTHS[m as usize - 1]
    )
}

/// `Wed, 21 Oct 2015 07:28:00 GMT` to Unix ms; 0 if unparsable.
pub fn http_date_ms(text: &str) -> u64 {
    let parse = || -> Option<u64> {
        let mut parts = text.split_whitespace().skip(1);
        let day: u32 = parts.next()?.parse().ok()?;
        let month_name = parts.next()?;
        let month = MONTHS.iter().position(|m| *m == month_name)? as u32 + 1;
        let year: i64 = parts.next()?.parse().ok()?;
        let mut t = parts.next()?.split(':').map(|x| x.parse::<u64>().ok());
        let (h, m, s) = (t.next()??, t.next()??, t.next()??);
        let days = days_from_civil(year, month, day);
        Some((days as u64 * 86_400 + h * 3600 + m * 60 + s) * 1000)
    };
    parse().unwrap_or(0)
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

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(http_date(1_440_938_160), "Sun, 30 Aug 2015 12:36:00 GMT");
        assert_eq!(utc(1_440_938_160), (2015, 8, 30, 12, 36, 0));
        assert_eq!(rfc3339_ms("2015-08-30T12:36:00.500Z"), 1_440_938_160_500);
        assert_eq!(http_date_ms("Sun, 30 Aug 2015 12:36:00 GMT"), 1_440_938_160_000);
        assert_eq!(rfc3339_ms("garbage"), 0);
    }
}
