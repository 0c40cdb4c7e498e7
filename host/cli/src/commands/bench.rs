//! `vdr bench`: figures, not tests. Plugin-boundary throughput for batches
//! of f32 records both ways, and instantiate time with and without the
//! compile cache.

use super::Ctx;
use crate::cli::BenchArgs;
use crate::exit::usage;
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;
use std::time::Instant;
use vdr_model::{CollectionSchema, Metric, NamedVector, Point, PointId, VectorData, VectorField};
use vdr_runtime::{Grant, Runtime, RuntimeOptions};

#[derive(Serialize, Default)]
struct Figures {
    #[serde(skip_serializing_if = "Option::is_none")]
    boundary: Option<Boundary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instantiate: Option<Instantiate>,
}

#[derive(Serialize)]
struct Boundary {
    records: usize,
    dim: usize,
    batch_bytes: u64,
    host_to_plugin_gb_per_s: f64,
    plugin_to_host_gb_per_s: f64,
}

#[derive(Serialize)]
struct Instantiate {
    compile_ms: f64,
    load_cached_ms: f64,
    instantiate_cached_ms: f64,
}

pub fn run(ctx: &Ctx, a: BenchArgs) -> Result<()> {
    let mut f = Figures::default();
    match a.what.as_str() {
        "boundary" => f.boundary = Some(boundary(a.records, a.dim)?),
        "instantiate" => f.instantiate = Some(instantiate()?),
        "all" => {
            f.boundary = Some(boundary(a.records, a.dim)?);
            f.instantiate = Some(instantiate()?);
        }
        other => {
            return Err(usage(format!(
                "unknown benchmark {other:?}; use boundary, instantiate or all"
            )));
        }
    }
    ctx.out.emit(&f, || {
        let mut s = String::new();
        if let Some(b) = &f.boundary {
            s.push_str(&format!(
                "plugin boundary, {} x {}-d f32 records per batch ({:.1} MB):\n  host -> plugin {:.2} GB/s\n  plugin -> host {:.2} GB/s\n",
                b.records,
                b.dim,
                b.batch_bytes as f64 / 1e6,
                b.host_to_plugin_gb_per_s,
                b.plugin_to_host_gb_per_s
            ));
        }
        if let Some(i) = &f.instantiate {
            s.push_str(&format!(
                "instantiate `local`:\n  compile (no cache)       {:.1} ms\n  load from compile cache  {:.2} ms\n  instantiate + configure  {:.2} ms\n",
                i.compile_ms, i.load_cached_ms, i.instantiate_cached_ms
            ));
        }
        s
    })
}

/// Through the in-memory example database, so the figure is the boundary
/// (lifting and lowering records), not a storage engine.
fn boundary(records: usize, dim: usize) -> Result<Boundary> {
    let dir = Path::new(vdr_runtime::artifacts::EXAMPLE_DATABASE_PATH);
    let plugins = tempfile::tempdir()?;
    std::fs::copy(dir, plugins.path().join("example-database.wasm")).context(
        "the boundary benchmark needs the example-database plugin built from this source tree",
    )?;
    let rt = Runtime::new(RuntimeOptions {
        plugin_dirs: vec![plugins.path().to_path_buf()],
        ..Default::default()
    })?;
    let grant = Grant { memory_mib: Some(4096), ..Grant::default() };
    let mut db = rt.open_database("example-database", &grant, "bench".into())?;
    let schema =
        CollectionSchema::new("bench", vec![VectorField::dense(dim as u32, Metric::Cosine)]);
    db.create_collection(&schema)?;
    let batch: Vec<Point> = (0..records)
        .map(|i| Point {
            id: PointId::Num(i as u64),
            vectors: vec![NamedVector {
                name: String::new(),
                data: VectorData::Dense(vec![i as f32 * 1e-3; dim]),
            }],
            payload: None,
        })
        .collect();
    let bytes = (records * dim * 4) as u64;
    let rounds = 5;
    let mut down = f64::MAX;
    for _ in 0..rounds {
        let b = batch.clone();
        let t = Instant::now();
        db.import_batch("bench", b)?;
        down = down.min(t.elapsed().as_secs_f64());
    }
    let mut up = f64::MAX;
    for _ in 0..rounds {
        let mut cursor = db.open_export("bench", None)?;
        let t = Instant::now();
        let got = cursor.next_batch(records as u32)?;
        up = up.min(t.elapsed().as_secs_f64());
        anyhow::ensure!(got.len() == records, "export returned {} of {records} records", got.len());
    }
    Ok(Boundary {
        records,
        dim,
        batch_bytes: bytes,
        host_to_plugin_gb_per_s: bytes as f64 / down / 1e9,
        plugin_to_host_gb_per_s: bytes as f64 / up / 1e9,
    })
}

fn instantiate() -> Result<Instantiate> {
    let cache = tempfile::tempdir()?;
    let store = tempfile::tempdir()?;
    let opts =
        || RuntimeOptions { cache_dir: Some(cache.path().to_path_buf()), ..Default::default() };
    let t = Instant::now();
    Runtime::new(opts())?.load("local")?;
    let compile_ms = t.elapsed().as_secs_f64() * 1e3;
    let n = 20;
    let (mut load, mut inst) = (0.0, 0.0);
    for _ in 0..n {
        let rt = Runtime::new(opts())?;
        let t = Instant::now();
        rt.load("local")?;
        load += t.elapsed().as_secs_f64();
        let t = Instant::now();
        let db =
            rt.open_database("local", &Grant::directory(store.path(), true), "bench".into())?;
        inst += t.elapsed().as_secs_f64();
        drop(db);
    }
    Ok(Instantiate {
        compile_ms,
        load_cached_ms: load / n as f64 * 1e3,
        instantiate_cached_ms: inst / n as f64 * 1e3,
    })
}
