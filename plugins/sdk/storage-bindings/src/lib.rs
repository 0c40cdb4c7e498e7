//! Bindings of the `storage-plugin` world of `vdr:plugin@0.1.0`.
//!
//! They live in a crate of their own because wit-bindgen's public export
//! macros are placed at the crate root, and the `plugin` interface exported
//! by both worlds would otherwise define the same macro twice. Plugin authors
//! use `vdr-plugin-sdk`, which re-exports this crate and shares its `types`
//! and `host` modules with the database bindings.

wit_bindgen::generate!({
    path: "../../../wit/v0.1.0",
    world: "storage-plugin",
    pub_export_macro: true,
    export_macro_name: "export_storage_world",
    default_bindings_module: "vdr_plugin_sdk::bindings::storage",
});
