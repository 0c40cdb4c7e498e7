//! Mapping `std::io` errors (WASI files in a granted directory) to the
//! contract's errors.

use std::io::ErrorKind;

use crate::Error;

/// The contract error for an io error, with `context` (what was being done,
/// e.g. "reading data/ab/cd") and the io error text in the message.
pub fn io_error(context: &str, error: &std::io::Error) -> Error {
    let message = format!("{context}: {error}");
    match error.kind() {
        ErrorKind::NotFound => Error::NotFound(message),
        ErrorKind::AlreadyExists => Error::AlreadyExists(message),
        ErrorKind::TimedOut | ErrorKind::Interrupted | ErrorKind::WouldBlock => {
            Error::Unavailable(message)
        }
        ErrorKind::InvalidInput | ErrorKind::InvalidFilename => Error::InvalidInput(message),
        ErrorKind::Unsupported => Error::Unsupported(message),
        _ => Error::Internal(message),
    }
}
