//! Asynchronous leader -> follower replication between any two
//! [`Database`](vdr_model::Database)s, of the same engine or not.
//!
//! A round ([`round`]) makes the follower equal to the leader as the leader
//! was when the round read it:
//!
//! 1. both sides are exported in full (the plugin contract has no
//!    server-side hashing, so reads are unavoidable; writes are what a round
//!    saves, and writes dominate a copy: index builds, WAL, fsync);
//! 2. every point is normalised and hashed ([`vdr_model::canonical`]) and
//!    sorted into one of N buckets by a hash of its id; a bucket's summary is
//!    the wrapping sum of its record digests plus a count (order-independent);
//! 3. only buckets whose summaries differ are compared record by record
//!    (a two-level Merkle comparison: root, then buckets);
//! 4. only differing records are transferred (fetched from the leader by id,
//!    upserted into the follower) and follower-only records are deleted.
//!
//! The first round against an empty (or absent) follower is the initial full
//! copy. Upserts and deletes are idempotent, so a round killed mid-way is
//! repaired by the next one. Engines that round vectors (e.g. cosine spaces
//! that normalise) are handled by a tolerance: a differing record whose
//! vectors are within the tolerance is not transferred, and the pair of
//! digests is remembered in the [`State`] so later rounds see the bucket as
//! equal without comparing it again.

mod compare;
mod digest;
mod error;
mod round;
mod state;

pub use digest::{BucketSummary, Scan, bucket_of, scan};
pub use error::{Error, Result};
pub use round::{CollectionReport, Options, RoundReport, round};
pub use state::{CollectionState, State, now_unix};
