//! vdr's shared data model.
//!
//! Every backend — a WebAssembly plugin of any contract version, or a native
//! test double — is driven through the [`Database`] and [`ObjectStore`]
//! traits over the types defined here. The repository, verification and
//! replication code depend only on this crate, never on wasmtime.

pub mod canonical;
pub mod error;
pub mod pit;
pub mod point;
pub mod resilient;
pub mod schema;
pub mod scratch;
#[cfg(feature = "testing")]
pub mod testing;
pub mod traits;

pub use error::{Error, ErrorKind, Result};
pub use point::{NamedVector, Point, PointId, ScoredPoint, SparseVector, VectorData};
pub use schema::{CollectionSchema, ElementType, Metric, PayloadIndex, VectorField, VectorKind};
pub use traits::{
    ByteRange, ByteReader, ByteWriter, Change, ChangeCursor, Database, ExportCursor, ListPage,
    MultipartUpload, ObjectMeta, ObjectStore, ObjectVersion, VersionPage, list_all, put_object,
};
