//! Conformance suites: what every storage and every database plugin must do,
//! runnable against the reference plugins offline and against each real
//! server. A failure names the check that failed.

pub mod changes;
pub mod database;
pub mod storage;
