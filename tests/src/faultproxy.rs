//! A fault-injecting HTTP/1.1 proxy on loopback, for reliability tests: a
//! fraction of requests is dropped, answered 500, answered slowly or (GETs)
//! has its response body cut short (Content-Length kept, so the client must
//! notice). In [`FaultProxy::relabelling`] mode, the first answer to every
//! ranged GET is cut in half under a rewritten Content-Length instead: a
//! short body that looks complete, as a broken middlebox would send it.
//!
//! One request per connection: the proxy asks the upstream to close after
//! answering (`Connection: close`), reads the whole answer and tells the
//! client to close too, so no HTTP framing beyond the request is needed.
//! Bounded: at most `MAX_CONNS` connections at once, and it stops when
//! dropped or after `LIFETIME`.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MAX_CONNS: usize = 64;
const LIFETIME: Duration = Duration::from_secs(30 * 60);
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// What happened to requests so far.
#[derive(Default, Debug)]
pub struct Counts {
    pub requests: AtomicU64,
    pub dropped: AtomicU64,
    pub errors_500: AtomicU64,
    pub slow: AtomicU64,
    pub truncated: AtomicU64,
    /// Short bodies under a rewritten Content-Length (relabelling mode).
    pub relabelled: AtomicU64,
    /// Request plus response bytes relayed.
    pub bytes: AtomicU64,
}

pub struct FaultProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    pub counts: Arc<Counts>,
}

#[derive(Clone, Copy)]
enum Fault {
    None,
    Drop,
    Error500,
    Slow,
    Truncate,
    Relabel,
}

impl FaultProxy {
    /// Proxy to `upstream` (`127.0.0.1:8333`); `fraction` of requests get a
    /// fault (see `choose`).
    pub fn start(upstream: &str, fraction: f64, seed: u64) -> FaultProxy {
        FaultProxy::spawn(upstream, fraction, seed, None)
    }

    /// Proxy to `upstream` that answers the first request for each ranged
    /// GET (method, path and range) with half the body under a matching
    /// Content-Length; repeats of the same request pass untouched.
    pub fn relabelling(upstream: &str) -> FaultProxy {
        FaultProxy::spawn(upstream, 0.0, 1, Some(Arc::new(Mutex::new(HashSet::new()))))
    }

    fn spawn(
        upstream: &str,
        fraction: f64,
        seed: u64,
        seen: Option<Arc<Mutex<HashSet<String>>>>,
    ) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let upstream: SocketAddr = upstream.parse().expect("upstream host:port");
        let (stop2, counts2) = (stop.clone(), counts.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            let live = Arc::new(AtomicUsize::new(0));
            let mut rng = seed | 1;
            for conn in listener.incoming() {
                if stop2.load(Ordering::Relaxed) || started.elapsed() > LIFETIME {
                    break;
                }
                let Ok(client) = conn else { continue };
                while live.load(Ordering::Relaxed) >= MAX_CONNS {
                    std::thread::sleep(Duration::from_millis(5));
                }
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let roll = (rng >> 11) as f64 / (1u64 << 53) as f64;
                let (live2, counts3, seen2) = (live.clone(), counts2.clone(), seen.clone());
                live.fetch_add(1, Ordering::Relaxed);
                std::thread::spawn(move || {
                    let _ = serve(client, upstream, roll, fraction, &counts3, seen2.as_deref());
                    live2.fetch_sub(1, Ordering::Relaxed);
                });
            }
        });
        FaultProxy { addr, stop, counts }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn faults(&self) -> u64 {
        let c = &self.counts;
        c.dropped.load(Ordering::Relaxed)
            + c.errors_500.load(Ordering::Relaxed)
            + c.slow.load(Ordering::Relaxed)
            + c.truncated.load(Ordering::Relaxed)
            + c.relabelled.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
    }
}

/// Head (through the blank line) and body of one HTTP message from `r`;
/// the body by Content-Length or chunked framing (kept raw), or none.
fn read_request(r: &mut BufReader<TcpStream>) -> std::io::Result<(String, Vec<u8>)> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let lower = head.to_ascii_lowercase();
    let mut body = Vec::new();
    if lower.contains("transfer-encoding: chunked") {
        loop {
            let mut size = String::new();
            r.read_line(&mut size)?;
            body.extend_from_slice(size.as_bytes());
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk)?;
            body.extend_from_slice(&chunk);
            if n == 0 {
                break;
            }
        }
    } else if let Some(len) = header(&lower, "content-length") {
        body.resize(len.parse().map_err(|_| std::io::Error::other("bad length"))?, 0);
        r.read_exact(&mut body)?;
    }
    Ok((head, body))
}

/// The head with its Content-Length replaced by `len`.
fn with_length(head: &str, len: usize) -> String {
    let lines: Vec<String> = head
        .trim_end_matches("\r\n")
        .split("\r\n")
        .map(|l| match l.split_once(':') {
            Some((k, _)) if k.trim().eq_ignore_ascii_case("content-length") => {
                format!("Content-Length: {len}")
            }
            _ => l.to_string(),
        })
        .collect();
    format!("{}\r\n\r\n", lines.join("\r\n"))
}

fn header<'a>(lower_head: &'a str, name: &str) -> Option<&'a str> {
    lower_head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then_some(v.trim())
    })
}

/// The head with any `Connection` header replaced by `Connection: close`.
fn closing(head: &str) -> String {
    let mut out: Vec<&str> = head
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    out.push("Connection: close");
    format!("{}\r\n\r\n", out.join("\r\n"))
}

/// The fault for a request that rolled `roll` in [0, 1). Only GETs carry
/// bodies worth cutting, so half their faults are truncations.
fn choose(roll: f64, fraction: f64, is_get: bool) -> Fault {
    if roll >= fraction {
        return Fault::None;
    }
    let kinds: &[Fault] = if is_get {
        &[
            Fault::Drop,
            Fault::Error500,
            Fault::Slow,
            Fault::Truncate,
            Fault::Truncate,
            Fault::Truncate,
        ]
    } else {
        &[Fault::Drop, Fault::Error500, Fault::Slow]
    };
    kinds[((roll / fraction) * kinds.len() as f64) as usize % kinds.len()]
}

fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    roll: f64,
    fraction: f64,
    counts: &Counts,
    seen: Option<&Mutex<HashSet<String>>>,
) -> std::io::Result<()> {
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    client.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let (head, body) = read_request(&mut reader)?;
    let lower = head.to_ascii_lowercase();
    let first_ranged_get = |seen: &Mutex<HashSet<String>>| {
        let range = header(&lower, "range").filter(|_| head.starts_with("GET "));
        let line = head.lines().next().unwrap_or("");
        range.is_some_and(|r| seen.lock().unwrap().insert(format!("{line} {r}")))
    };
    let fault = match seen {
        Some(seen) if first_ranged_get(seen) => Fault::Relabel,
        Some(_) => Fault::None,
        None => choose(roll, fraction, head.starts_with("GET ")),
    };
    counts.requests.fetch_add(1, Ordering::Relaxed);
    let mut client = client;
    match fault {
        Fault::Drop => {
            counts.dropped.fetch_add(1, Ordering::Relaxed);
            return client.shutdown(Shutdown::Both);
        }
        Fault::Error500 => {
            counts.errors_500.fetch_add(1, Ordering::Relaxed);
            let msg = "<Error><Code>InternalError</Code><Message>injected</Message></Error>";
            write!(
                client,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/xml\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{msg}",
                msg.len()
            )?;
            return client.flush();
        }
        Fault::Slow => {
            counts.slow.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(800));
        }
        Fault::None | Fault::Truncate | Fault::Relabel => {}
    }
    let mut up = TcpStream::connect_timeout(&upstream, IO_TIMEOUT)?;
    up.set_read_timeout(Some(IO_TIMEOUT))?;
    up.write_all(closing(&head).as_bytes())?;
    up.write_all(&body)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    counts.bytes.fetch_add((head.len() + body.len() + answer.len()) as u64, Ordering::Relaxed);
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").map_or(answer.len(), |p| p + 4);
    let (rhead, rbody) = answer.split_at(split);
    let mut rhead = closing(&String::from_utf8_lossy(rhead));
    let mut rbody = rbody;
    if let Fault::Relabel = fault
        && rbody.len() > 1
    {
        counts.relabelled.fetch_add(1, Ordering::Relaxed);
        rbody = &rbody[..rbody.len() / 2];
        rhead = with_length(&rhead, rbody.len());
    }
    client.write_all(rhead.as_bytes())?;
    match fault {
        // Half the body under the original Content-Length, then close.
        Fault::Truncate if rbody.len() > 1 => {
            counts.truncated.fetch_add(1, Ordering::Relaxed);
            client.write_all(&rbody[..rbody.len() / 2])?;
        }
        _ => client.write_all(rbody)?,
    }
    client.flush()?;
    client.shutdown(Shutdown::Both)
}
