//! Adapter for contract `vdr:plugin@0.1.0`: bindings, the host imports, and
//! conversions to and from the version-independent model. A future contract
//! version gets a sibling module that converts to the same model.

pub mod changes;
pub mod convert;
pub mod database;
pub mod imports;
pub mod storage;

pub const VERSION: &str = "0.1.0";

/// Bindings of the database world (generated once; the storage world reuses
/// its shared interfaces).
pub mod db {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.1.0",
        world: "database-plugin",
        imports: { default: trappable },
        with: {
            "vdr:plugin/vector-index.index": crate::vector_index::NativeIndex,
        },
    });
}

/// Bindings of the storage world.
pub mod st {
    wasmtime::component::bindgen!({
        path: "../../wit/v0.1.0",
        world: "storage-plugin",
        imports: { default: trappable },
        with: {
            "vdr:plugin/types": super::db::vdr::plugin::types,
            "vdr:plugin/host": super::db::vdr::plugin::host,
        },
    });
}

/// The interface names a component of this version exports.
pub const DATABASE_EXPORT: &str = "vdr:plugin/database@0.1.0";
pub const STORAGE_EXPORT: &str = "vdr:plugin/storage@0.1.0";
pub const PLUGIN_EXPORT: &str = "vdr:plugin/plugin@0.1.0";
