//! Progress of the current call, shown by the host.

use crate::bindings::storage::vdr::plugin::host;

/// Report that `done` of `total` units (if known) of the current call are done.
pub fn report(done: u64, total: Option<u64>) {
    host::progress(done, total);
}
