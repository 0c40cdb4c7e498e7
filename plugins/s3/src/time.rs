//! SigV4's timestamp format, on top of the SDK's date helpers.

pub use vdr_plugin_sdk::time::{http_date_ms, now_secs, rfc3339_ms};

/// `(YYYYMMDDTHHMMSSZ, YYYYMMDD)` for a Unix time.
pub fn amz_date(secs: u64) -> (String, String) {
    let (y, m, d, h, mi, s) = vdr_plugin_sdk::time::utc(secs);
    let date = format!("{y:04}{m:02}{d:02}");
    (format!("{date}T{h:02}{mi:02}{s:02}Z"), date)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_the_sigv4_timestamp() {
        assert_eq!(super::amz_date(1_440_938_160).0, "20150830T123600Z");
    }
}
