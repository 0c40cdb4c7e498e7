//! The SDK for vdr plugins: WebAssembly components (wasm32-wasip2) that the
//! `vdr` host loads in a sandbox through the WIT contract `vdr:plugin@0.1.0`.
//!
//! A plugin implements one trait, [`StoragePlugin`] or [`DatabasePlugin`],
//! and exports it with [`export_storage_plugin!`] or
//! [`export_database_plugin!`], naming its manifest file. Everything else
//! (the global plugin state, WIT resources, the `plugin` interface) is done
//! here. See the crate README for a walk-through.

extern crate self as vdr_plugin_sdk;

pub mod changes;
pub mod config;
pub mod database;
pub mod fresh;
pub mod http;
pub mod io;
pub mod log;
pub mod progress;
mod state;
pub mod storage;
pub mod string_ids;
pub mod time;

/// Generated bindings of both worlds. The `types` and `host` interfaces are
/// generated once (in the storage bindings) and shared by the database ones.
pub mod bindings {
    pub use vdr_plugin_sdk_storage_bindings as storage;

    /// Bindings of the `database-plugin` world.
    pub mod database {
        wit_bindgen::generate!({
            path: "../../wit/v0.1.0",
            world: "database-plugin",
            pub_export_macro: true,
            export_macro_name: "export_database_world",
            default_bindings_module: "vdr_plugin_sdk::bindings::database",
            with: {
                "vdr:plugin/types@0.1.0": vdr_plugin_sdk_storage_bindings::vdr::plugin::types,
                "vdr:plugin/host@0.1.0": vdr_plugin_sdk_storage_bindings::vdr::plugin::host,
            },
        });
    }

    /// Bindings of the optional change feed (`vdr:changes@0.1.0`).
    pub mod changes {
        wit_bindgen::generate!({
            path: ["../../wit/v0.1.0", "../../wit/changes-v0.1.0"],
            world: "vdr:changes/changes-plugin@0.1.0",
            pub_export_macro: true,
            export_macro_name: "export_changes_world",
            default_bindings_module: "vdr_plugin_sdk::bindings::changes",
            with: {
                "vdr:plugin/types@0.1.0": vdr_plugin_sdk_storage_bindings::vdr::plugin::types,
            },
        });
    }
}

pub use changes::{Change, ChangeCursor, ChangeFeed};
pub use config::{Config, Secrets};
pub use database::{ByteReader, ByteWriter, DatabasePlugin, ExportCursor};
pub use io::io_error;
pub use storage::{MultipartUpload, StoragePlugin};

/// The contract's shared types (`vdr:plugin/types@0.1.0`).
pub use bindings::storage::vdr::plugin::types::{
    CollectionSchema, ElementType, Error, Metric, NamedVector, PayloadIndex, Point, PointId,
    ScoredPoint, SparseVector, VectorData, VectorField, VectorKind,
};

/// Records of the storage interface.
pub use bindings::storage::exports::vdr::plugin::storage::{
    ByteRange, ListPage, ObjectMeta, ObjectVersion, VersionPage,
};

/// The host's native HNSW index (`vdr:plugin/vector-index@0.1.0`), for
/// database plugins whose manifest declares `vector-index = true`.
pub use bindings::database::vdr::plugin::vector_index::Index as VectorIndex;

/// Result with the contract's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `Error::Unsupported` naming the operation, the default of every trait method.
pub fn unsupported<T>(operation: &str) -> Result<T> {
    Err(Error::Unsupported(format!("{operation} is not supported by this plugin")))
}

/// Everything a plugin usually needs, in one `use`.
pub mod prelude {
    pub use crate::{
        ByteRange, ByteReader, ByteWriter, Change, ChangeCursor, ChangeFeed, CollectionSchema,
        Config, DatabasePlugin, ElementType, Error, ExportCursor, ListPage, Metric,
        MultipartUpload, NamedVector, ObjectMeta, ObjectVersion, PayloadIndex, Point, PointId,
        Result, ScoredPoint, SparseVector, StoragePlugin, VectorData, VectorField, VectorKind,
        VersionPage, io_error, unsupported,
    };
}

#[doc(hidden)]
pub mod __private {
    pub use crate::changes::ChangesAdapter;
    pub use crate::database::DatabaseAdapter;
    pub use crate::state::Manifest;
    pub use crate::storage::StorageAdapter;
}

/// Export a [`StoragePlugin`] implementation as the component's
/// `storage-plugin` world. The manifest path is relative to the plugin
/// crate's `Cargo.toml`:
///
/// ```ignore
/// vdr_plugin_sdk::export_storage_plugin!(MyStore, "vdr-plugin.toml");
/// ```
#[macro_export]
macro_rules! export_storage_plugin {
    ($ty:ty, $manifest:literal) => {
        const _: () = {
            impl $crate::__private::Manifest for $ty {
                const TEXT: &'static str =
                    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $manifest));
            }
            type __VdrStorageExports = $crate::__private::StorageAdapter<$ty>;
            $crate::bindings::storage::export_storage_world!(
                __VdrStorageExports with_types_in $crate::bindings::storage
            );
        };
    };
}

/// Export a [`DatabasePlugin`] implementation as the component's
/// `database-plugin` world. The manifest path is relative to the plugin
/// crate's `Cargo.toml`:
///
/// ```ignore
/// vdr_plugin_sdk::export_database_plugin!(MyEngine, "vdr-plugin.toml");
/// ```
#[macro_export]
macro_rules! export_database_plugin {
    ($ty:ty, $manifest:literal) => {
        const _: () = {
            impl $crate::__private::Manifest for $ty {
                const TEXT: &'static str =
                    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $manifest));
            }
            type __VdrDatabaseExports = $crate::__private::DatabaseAdapter<$ty>;
            $crate::bindings::database::export_database_world!(
                __VdrDatabaseExports with_types_in $crate::bindings::database
            );
        };
    };
}

/// Also export a database plugin's change feed ([`ChangeFeed`]), after
/// [`export_database_plugin!`] for the same type:
///
/// ```ignore
/// vdr_plugin_sdk::export_database_plugin!(MyEngine, "vdr-plugin.toml");
/// vdr_plugin_sdk::export_change_feed!(MyEngine);
/// ```
#[macro_export]
macro_rules! export_change_feed {
    ($ty:ty) => {
        const _: () = {
            type __VdrChangesExports = $crate::__private::ChangesAdapter<$ty>;
            $crate::bindings::changes::export_changes_world!(
                __VdrChangesExports with_types_in $crate::bindings::changes
            );
        };
    };
}
