//! What can go wrong in a round, with where it happened.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A database call failed; `side` is `leader` or `follower`.
    #[error("{side} {what}: {source}")]
    Database {
        side: &'static str,
        what: String,
        #[source]
        source: vdr_model::Error,
    },
    #[error("replication state {}: {message}", path.display())]
    State { path: PathBuf, message: String },
    /// The follower was promoted: replication into it must not resume.
    #[error(
        "the follower was promoted at {at}; replicating into it again would overwrite writes it took since (use another --state-dir to start over)"
    )]
    Promoted { at: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn leader(what: impl Into<String>) -> impl FnOnce(vdr_model::Error) -> Error {
    let what = what.into();
    move |source| Error::Database { side: "leader", what, source }
}

pub(crate) fn follower(what: impl Into<String>) -> impl FnOnce(vdr_model::Error) -> Error {
    let what = what.into();
    move |source| Error::Database { side: "follower", what, source }
}
