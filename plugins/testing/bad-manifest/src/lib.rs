//! `bad-manifest`: a storage plugin that is fine except for its manifest,
//! which carries an unknown field (`colour = "red"`). The host's manifest
//! parsing must refuse it; every storage call is `unsupported`.

use vdr_plugin_sdk::prelude::*;

struct BadManifest;

impl StoragePlugin for BadManifest {
    fn configure(_config: Config) -> Result<Self> {
        Ok(BadManifest)
    }
}

vdr_plugin_sdk::export_storage_plugin!(BadManifest, "vdr-plugin.toml");
