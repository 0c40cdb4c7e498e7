//! Endpoints of the real test servers. Under CI (`CI` set) a missing server
//! is a failure; on a developer machine the test says loudly that it skipped.

/// The value of `VDR_TEST_<name>`, or `None` after a loud skip notice.
pub fn endpoint(name: &str) -> Option<String> {
    let var = format!("VDR_TEST_{name}");
    match std::env::var(&var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ if std::env::var_os("CI").is_some() => {
            panic!(
                "{var} is not set: CI must run this test against its real server (scripts/test-servers.sh start)"
            )
        }
        _ => {
            eprintln!(
                "SKIPPED: {var} is not set; start the servers with `scripts/test-servers.sh start` and source target/test-run/servers.env"
            );
            None
        }
    }
}

/// Another `VDR_TEST_*` value that must be present when the endpoint is.
pub fn required(name: &str) -> String {
    let var = format!("VDR_TEST_{name}");
    std::env::var(&var)
        .unwrap_or_else(|_| panic!("{var} must be set alongside its server endpoint"))
}
