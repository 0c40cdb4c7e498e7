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

/// CPU seconds used so far by a server `scripts/test-servers.sh` started:
/// its recorded process and all its descendants (Milvus runs under a
/// wrapper), from /proc. `None` when the server was started some other way.
/// Benchmarks print it beside their own figures: the servers share this
/// machine's cores with the client.
pub fn server_cpu_secs(name: &str) -> Option<f64> {
    let run = std::env::var("VDR_TEST_RUN").ok()?;
    let recorded = std::fs::read_to_string(format!("{run}/pids/{name}.pid")).ok()?;
    let root: u32 = recorded.split_whitespace().next()?.parse().ok()?;
    // (pid, parent, CPU ticks of the process and of its reaped children)
    let processes: Vec<(u32, u32, f64)> = std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
            let ticks = tick(11)? + tick(12)? + tick(13)? + tick(14)?;
            Some((pid, fields.get(1)?.parse().ok()?, ticks))
        })
        .collect();
    processes.iter().any(|p| p.0 == root).then_some(())?;
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(processes.iter().filter(|p| p.1 == parent).map(|p| p.0));
        i += 1;
    }
    let ticks: f64 = processes.iter().filter(|p| tree.contains(&p.0)).map(|p| p.2).sum();
    // SAFETY: sysconf only reads a system constant.
    Some(ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64)
}

/// CPU seconds used so far by this process (`own`) or by its finished,
/// waited-for children (`!own`).
pub fn cpu_secs(own: bool) -> f64 {
    let who = if own { libc::RUSAGE_SELF } else { libc::RUSAGE_CHILDREN };
    // SAFETY: getrusage fills the zeroed struct it is given.
    let u = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}
