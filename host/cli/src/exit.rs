//! Exit codes CI can act on, and errors that carry one.
//!
//! 0 success; 1 an operation failed; 2 usage or configuration error;
//! 3 verification or assertion failed (the data is readable but not right).

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    Failed = 1,
    Usage = 2,
    Verification = 3,
}

/// An error with a specific exit code; anything else exits 1.
#[derive(Debug)]
pub struct Exit {
    pub code: Code,
    pub message: String,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Exit { code: Code::Usage, message: message.into() }.into()
}

pub fn verification(message: impl Into<String>) -> anyhow::Error {
    Exit { code: Code::Verification, message: message.into() }.into()
}

/// The exit code for an error chain.
pub fn code_of(e: &anyhow::Error) -> Code {
    e.chain().find_map(|c| c.downcast_ref::<Exit>()).map_or(Code::Failed, |x| x.code)
}
