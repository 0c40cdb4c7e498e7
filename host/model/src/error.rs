//! One classified error type for every backend call.

use std::fmt;

/// What kind of failure happened. The first seven mirror the WIT `error`
/// variant a plugin returns; the rest are raised by the host around a plugin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    NotFound,
    AlreadyExists,
    Unauthorized,
    /// Transient: timeouts, 429, 5xx, resets. The only kind worth retrying.
    Unavailable,
    InvalidInput,
    Unsupported,
    Internal,
    /// The plugin trapped (panic, unreachable, bad memory access).
    Trap,
    /// The plugin hit a sandbox limit: memory cap or call deadline.
    LimitExceeded,
    /// The host refused something the plugin asked for (a host, a path).
    Denied,
    /// The plugin broke the contract (malformed data, wrong shapes).
    Protocol,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Internal => "internal error",
            ErrorKind::Trap => "plugin trapped",
            ErrorKind::LimitExceeded => "sandbox limit exceeded",
            ErrorKind::Denied => "denied by the sandbox",
            ErrorKind::Protocol => "contract violation",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A classified error with the backend it came from (`"plugin fs@0.1.0"`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Which backend raised it, e.g. `plugin s3@0.1.0`; empty when unknown.
    pub origin: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, message: message.into(), origin: String::new() }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
    /// Attach the backend's name unless one is already set.
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        if self.origin.is_empty() {
            self.origin = origin.into();
        }
        self
    }
    pub fn is_retryable(&self) -> bool {
        self.kind == ErrorKind::Unavailable
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.origin.is_empty() {
            write!(f, "{}: {}", self.kind, self.message)
        } else {
            write!(f, "{}: {}: {}", self.origin, self.kind, self.message)
        }
    }
}

impl std::error::Error for Error {}
