//! `vdr plugin list|inspect`.

use super::Ctx;
use crate::cli::PluginCmd;
use crate::output::table;
use anyhow::Result;
use serde::Serialize;
use std::path::Path;
use vdr_runtime::LoadedPlugin;

#[derive(Serialize)]
struct Summary {
    name: String,
    kind: String,
    version: String,
    contract: String,
    description: String,
    source: String,
}

fn summary(p: &LoadedPlugin) -> Summary {
    Summary {
        name: p.manifest.name.clone(),
        kind: p.manifest.kind.to_string(),
        version: p.manifest.version.clone(),
        contract: p.contract.to_string(),
        description: p.manifest.description.clone(),
        source: p.source.describe(),
    }
}

pub fn run(ctx: &Ctx, cmd: PluginCmd) -> Result<()> {
    let rt = ctx.runtime()?;
    match cmd {
        PluginCmd::List => {
            let mut plugins = Vec::new();
            let mut failures = Vec::new();
            for name in rt.names() {
                match rt.load(&name) {
                    Ok(p) => plugins.push(summary(&p)),
                    Err(e) => failures.push(format!("{name}: {e:#}")),
                }
            }
            ctx.out.emit(&plugins, || {
                let rows: Vec<Vec<String>> = plugins
                    .iter()
                    .map(|p| {
                        vec![
                            p.name.clone(),
                            p.kind.clone(),
                            p.version.clone(),
                            p.contract.clone(),
                            p.source.clone(),
                        ]
                    })
                    .collect();
                table(&["NAME", "KIND", "VERSION", "CONTRACT", "SOURCE"], &rows)
            })?;
            for f in &failures {
                eprintln!("vdr: warning: plugin not loadable: {f}");
            }
            Ok(())
        }
        PluginCmd::Inspect { name } => {
            let plugin = if name.ends_with(".wasm") || Path::new(&name).is_file() {
                rt.load_file(Path::new(&name))?
            } else {
                rt.load(&name)?
            };
            #[derive(Serialize)]
            struct Inspect<'a> {
                #[serde(flatten)]
                summary: Summary,
                manifest: &'a vdr_runtime::Manifest,
            }
            let doc = Inspect { summary: summary(&plugin), manifest: &plugin.manifest };
            ctx.out.emit(&doc, || {
                let m = &plugin.manifest;
                let c = &m.capabilities;
                format!(
                    "{} {} ({} plugin, contract {})\n{}\nsource:        {}\nmemory cap:    {} MiB\ncall deadline: {} ms\n\
                     http:          {}\nfilesystem:    {:?}\nvector index:  {}\nsecrets:       {}\n",
                    m.name,
                    m.version,
                    m.kind,
                    plugin.contract,
                    m.description,
                    plugin.source.describe(),
                    m.limits.memory_mib,
                    m.limits.call_timeout_ms,
                    if c.http { "declared (only the configured endpoint is ever granted)" } else { "no" },
                    c.filesystem,
                    if c.vector_index { "yes" } else { "no" },
                    if c.secrets.is_empty() { "none".into() } else { c.secrets.join(", ") },
                )
            })
        }
    }
}
