//! The `http-send` host import: the only way out of the sandbox. The origin
//! check happens in the caller (`Effective::check_url`); this module sends,
//! with timeouts, a response-size cap, no redirects (a redirect could lead
//! to a host that was not granted) and retries with backoff for failures
//! that produced no response.

use rand::Rng;
use std::io::Read;
use std::sync::OnceLock;
use std::time::Duration;

/// Settings of the shared HTTP client.
#[derive(Clone, Debug)]
pub struct HttpPolicy {
    pub default_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_response_bytes: u64,
    /// Attempts for a request that got no response (1 = no retry).
    pub attempts: u32,
    pub backoff_base: Duration,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        HttpPolicy {
            default_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            max_response_bytes: 512 << 20,
            attempts: 4,
            backoff_base: Duration::from_millis(100),
        }
    }
}

pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: Vec<u8>,
    pub timeout: Option<Duration>,
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SendError {
    Timeout(String),
    Connection(String),
    TooLarge(String),
    Invalid(String),
}

fn client(policy: &HttpPolicy) -> &'static reqwest::blocking::Client {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(policy.connect_timeout)
            .timeout(None)
            .pool_max_idle_per_host(16)
            .user_agent(concat!("vdr/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("building the HTTP client")
    })
}

/// Send a request, retrying failures that produced no response. Requests
/// that may have reached the server (timeouts) are retried only when the
/// method is idempotent.
pub fn send(policy: &HttpPolicy, req: Request<'_>) -> Result<Response, SendError> {
    let method = reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|_| SendError::Invalid(format!("invalid HTTP method {:?}", req.method)))?;
    let idempotent = matches!(req.method, "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS");
    let timeout = req.timeout.unwrap_or(policy.default_timeout);
    // Shared, not copied, by every attempt: pack uploads are megabytes.
    let body = bytes::Bytes::from(req.body);
    let mut last = SendError::Connection("no attempt made".into());
    for attempt in 0..policy.attempts.max(1) {
        if attempt > 0 {
            std::thread::sleep(backoff(policy.backoff_base, attempt));
        }
        let mut builder = client(policy).request(method.clone(), req.url).timeout(timeout);
        for (k, v) in req.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let built = builder
            .body(body.clone())
            .build()
            .map_err(|e| SendError::Invalid(format!("invalid request: {e}")))?;
        match client(policy).execute(built) {
            Ok(resp) => return read_response(resp, policy.max_response_bytes),
            Err(e) if e.is_timeout() => {
                last = SendError::Timeout(format!(
                    "{} {}: timed out after {timeout:?}",
                    req.method, req.url
                ));
                if !idempotent {
                    break;
                }
            }
            Err(e) if e.is_connect() || e.is_request() => {
                last = SendError::Connection(format!("{} {}: {}", req.method, req.url, chain(&e)));
            }
            Err(e) => {
                return Err(SendError::Connection(format!(
                    "{} {}: {}",
                    req.method,
                    req.url,
                    chain(&e)
                )));
            }
        }
    }
    Err(last)
}

fn read_response(resp: reqwest::blocking::Response, cap: u64) -> Result<Response, SendError> {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    if let Some(len) = resp.content_length().filter(|&l| l > cap) {
        return Err(SendError::TooLarge(format!(
            "response of {len} bytes exceeds the cap of {cap} bytes"
        )));
    }
    // Sized up front: growing a multi-MiB pack body by doubling copies it twice.
    let mut body = Vec::with_capacity(resp.content_length().unwrap_or(0).min(cap) as usize);
    resp.take(cap + 1)
        .read_to_end(&mut body)
        .map_err(|e| SendError::Connection(format!("reading the response body: {e}")))?;
    if body.len() as u64 > cap {
        return Err(SendError::TooLarge(format!("response exceeds the cap of {cap} bytes")));
    }
    Ok(Response { status, headers, body })
}

/// Exponential backoff with full jitter.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(1 << attempt.min(10));
    let ms = rand::rng().random_range(ceiling.as_millis() as u64 / 2..=ceiling.as_millis() as u64);
    Duration::from_millis(ms)
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
