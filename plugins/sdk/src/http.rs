//! HTTP through the host's `http-send`, the only way out of the sandbox. The
//! host retries connection failures and timeouts; status codes come back as
//! they are and [`classify_status`] turns them into the contract's errors.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::storage::vdr::plugin::host::{self, HttpError, HttpRequest, HttpResponse};
use crate::{Error, Result};

/// Percent-encode a path segment or query value (RFC 3986): every byte but
/// the unreserved `A-Z a-z 0-9 - _ . ~` becomes `%XX` with upper-case hex,
/// which is also the encoding AWS SigV4 signs.
pub fn percent_encode(text: &str) -> String {
    encode_except(text, b"")
}

/// [`percent_encode`] that keeps `/`: object keys used as URL paths.
pub fn percent_encode_path(text: &str) -> String {
    encode_except(text, b"/")
}

fn encode_except(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Longest excerpt of a response body quoted in an error message.
const BODY_EXCERPT_CHARS: usize = 300;

/// A request under construction.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout_ms: u32,
}

impl Request {
    /// A request with any method (`GET`, `PUT`, ...).
    pub fn new(method: &str, url: impl Into<String>) -> Self {
        Request {
            method: method.to_string(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout_ms: 0,
        }
    }

    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    pub fn put(url: impl Into<String>) -> Self {
        Self::new("PUT", url)
    }

    pub fn delete(url: impl Into<String>) -> Self {
        Self::new("DELETE", url)
    }

    /// Add a header (repeatable).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    /// A raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// A JSON body, with `content-type: application/json`.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Result<Self> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Error::Internal(format!("cannot encode request body: {e}")))?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Per-request timeout (the host's default when not set).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout_ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX).max(1);
        self
    }

    /// Send the request. Any status code is a [`Response`]; only the absence
    /// of a response is an error (see [`http_error`]).
    pub fn send(self) -> Result<Response> {
        let request = HttpRequest {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
            timeout_ms: self.timeout_ms,
        };
        host::http_send(&request).map(Response::from).map_err(http_error)
    }
}

/// An HTTP response (any status).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl From<HttpResponse> for Response {
    fn from(r: HttpResponse) -> Self {
        Response { status: r.status, headers: r.headers, body: r.body }
    }
}

impl Response {
    /// True for 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            Error::Internal(format!(
                "unexpected response body (HTTP {}): {e}: {}",
                self.status,
                excerpt(&self.body)
            ))
        })
    }

    /// The server's own error message: the first string at one of the JSON
    /// `pointers` (`"/error/message"`) in the body, else the body itself.
    pub fn message_at(&self, pointers: &[&str]) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| pointers.iter().find_map(|p| v.pointer(p)?.as_str().map(str::to_string)))
            .unwrap_or_else(|| self.text())
    }

    /// The response itself if 2xx, else the classified error quoting the
    /// server's message found at `pointers` (see [`Response::message_at`]).
    pub fn error_for_status_at(self, context: &str, pointers: &[&str]) -> Result<Self> {
        if self.is_success() {
            return Ok(self);
        }
        Err(prefix_error(context, status_error(self.status, &self.message_at(pointers))))
    }

    /// The response itself if 2xx, else the classified error; `context` says
    /// what was being done ("create collection docs").
    pub fn error_for_status(self, context: &str) -> Result<Self> {
        match classify_status(self.status, &self.body) {
            None => Ok(self),
            Some(e) => Err(prefix_error(context, e)),
        }
    }
}

/// The contract error for an HTTP status, or `None` for 1xx-3xx.
/// 401/403 unauthorized, 404 not-found, 409 already-exists,
/// 408/429/5xx unavailable (retried by the host), other 4xx invalid-input.
/// The message carries the status and an excerpt of the body.
pub fn classify_status(status: u16, body: &[u8]) -> Option<Error> {
    if status < 400 {
        return None;
    }
    let message = format!("HTTP {status}: {}", excerpt(body));
    Some(match status {
        401 | 403 => Error::Unauthorized(message),
        404 => Error::NotFound(message),
        409 => Error::AlreadyExists(message),
        408 | 429 | 500..=599 => Error::Unavailable(message),
        400..=499 => Error::InvalidInput(message),
        _ => Error::Internal(message),
    })
}

/// The contract error for a failed response with `message` (the server's
/// words): as [`classify_status`], and a 3xx is internal.
pub fn status_error(status: u16, message: &str) -> Error {
    classify_status(status, message.as_bytes()).unwrap_or_else(|| {
        Error::Internal(format!("HTTP {status}: {}", excerpt(message.as_bytes())))
    })
}

/// The contract error for a request that got no response. A denial is a
/// configuration problem (not retryable); timeouts and connection failures
/// were already retried by the host but may succeed later.
pub fn http_error(error: HttpError) -> Error {
    match error {
        HttpError::Denied(m) => Error::InvalidInput(format!("request denied by the sandbox: {m}")),
        HttpError::Timeout(m) => Error::Unavailable(format!("request timed out: {m}")),
        HttpError::Connection(m) => Error::Unavailable(format!("connection failed: {m}")),
        HttpError::TooLarge(m) => Error::InvalidInput(format!("response too large: {m}")),
        HttpError::Invalid(m) => Error::InvalidInput(format!("invalid request: {m}")),
    }
}

/// The same error with `context: ` in front of its message.
pub fn prefix_error(context: &str, error: Error) -> Error {
    let p = |m: String| format!("{context}: {m}");
    match error {
        Error::NotFound(m) => Error::NotFound(p(m)),
        Error::AlreadyExists(m) => Error::AlreadyExists(p(m)),
        Error::Unauthorized(m) => Error::Unauthorized(p(m)),
        Error::Unavailable(m) => Error::Unavailable(p(m)),
        Error::InvalidInput(m) => Error::InvalidInput(p(m)),
        Error::Unsupported(m) => Error::Unsupported(p(m)),
        Error::Internal(m) => Error::Internal(p(m)),
    }
}

/// The start of a body as text, for error messages.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".into();
    }
    match text.char_indices().nth(BODY_EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}
