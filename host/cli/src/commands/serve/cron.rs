//! Cron expressions: 5 fields (minute hour day-of-month month day-of-week)
//! or 6 with seconds first. `*`, `N`, `A-B`, lists and `/STEP`; day-of-week
//! 0-7 (0 and 7 are Sunday). When both day fields are restricted, a day
//! matching either runs (classic cron). Evaluated in UTC.

use chrono::{DateTime, Datelike, Timelike, Utc};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

impl Cron {
    pub fn parse(expr: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let (sec, rest) = match fields.len() {
            5 => ("0", &fields[..]),
            6 => (fields[0], &fields[1..]),
            n => return Err(format!("cron {expr:?}: expected 5 or 6 fields, found {n}")),
        };
        let f = |s: &str, lo: u32, hi: u32, what: &str| {
            field(s, lo, hi).map_err(|e| format!("cron {expr:?}, {what}: {e}"))
        };
        let mut weekdays = f(rest[4], 0, 7, "day of week")?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Cron {
            seconds: f(sec, 0, 59, "second")?,
            minutes: f(rest[0], 0, 59, "minute")?,
            hours: f(rest[1], 0, 23, "hour")?,
            days: f(rest[2], 1, 31, "day of month")?,
            months: f(rest[3], 1, 12, "month")?,
            weekdays,
            days_restricted: rest[2] != "*",
            weekdays_restricted: rest[4] != "*",
        })
    }

    /// Does the schedule fire in this second?
    pub fn matches(&self, t: DateTime<Utc>) -> bool {
        let bit = |set: u64, v: u32| set & (1 << v) != 0;
        let dom = bit(self.days, t.day());
        let dow = bit(self.weekdays, t.weekday().num_days_from_sunday());
        let day = match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            _ => dom && dow,
        };
        bit(self.seconds, t.second())
            && bit(self.minutes, t.minute())
            && bit(self.hours, t.hour())
            && bit(self.months, t.month())
            && day
    }
}

fn field(s: &str, lo: u32, hi: u32) -> Result<u64, String> {
    let mut set = 0u64;
    for part in s.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, st)) => (r, st.parse::<u32>().map_err(|_| format!("bad step {st:?}"))?),
            None => (part, 1),
        };
        if step == 0 {
            return Err("step 0".into());
        }
        let num = |x: &str| x.parse::<u32>().map_err(|_| format!("{x:?} is not a number"));
        let (a, b) = match range {
            "*" => (lo, hi),
            r => match r.split_once('-') {
                Some((a, b)) => (num(a)?, num(b)?),
                None if part.contains('/') => (num(r)?, hi),
                None => (num(r)?, num(r)?),
            },
        };
        if a < lo || b > hi || a > b {
            return Err(format!("{part:?} outside {lo}-{hi}"));
        }
        for v in (a..=b).step_by(step as usize) {
            set |= 1 << v;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        // 2026-11-26 is a Thursday.
        Utc.with_ymd_and_hms(2026, 11, 26, h, m, s).unwrap()
    }

    #[test]
    fn five_and_six_fields() {
        let c = Cron::parse("*/15 2 * * *").unwrap();
        assert!(c.matches(t(2, 30, 0)));
        assert!(!c.matches(t(2, 30, 1)));
        assert!(!c.matches(t(3, 30, 0)));
        let c = Cron::parse("*/2 * * * * *").unwrap();
        assert!(c.matches(t(5, 5, 4)) && !c.matches(t(5, 5, 5)));
        let c = Cron::parse("0 0 3 * * 1-5").unwrap();
        assert!(c.matches(t(3, 0, 0)));
        let c = Cron::parse("0 3 * * 0,7").unwrap();
        assert!(!c.matches(t(3, 0, 0)));
        assert!(Cron::parse("* * *").is_err());
        assert!(Cron::parse("61 * * * *").is_err());
        assert!(Cron::parse("*/0 * * * *").is_err());
    }

    #[test]
    fn restricted_day_fields_are_either() {
        let c = Cron::parse("0 0 1 * 4").unwrap();
        assert!(c.matches(t(0, 0, 0)), "a Thursday that is not the 1st");
    }
}
