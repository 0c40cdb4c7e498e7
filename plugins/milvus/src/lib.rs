use vdr_plugin_sdk::prelude::*; struct M; impl DatabasePlugin for M { fn configure(_c: Config) -> Result<Self> { Ok(M) } } vdr_plugin_sdk::export_database_plugin!(M, "vdr-plugin.toml");
