//! `vdr collection create|list|count|search|drop|mutate`: work with
//! collections of any database plugin.

use super::Ctx;
use crate::cli::{CollectionCmd, CreateArgs, MutateArgs, SearchArgs};
use crate::exit::usage;
use crate::output::table;
use crate::sample::{self, Generator, SampleSpec};
use anyhow::{Context, Result};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::time::Instant;
use vdr_model::{Database, Metric, Point, PointId};

/// Records per import call, sized to keep batches near 4 MiB.
pub fn batch_size(dim: u32) -> usize {
    ((4 << 20) / (dim as usize * 4 + 256)).clamp(16, 10_000)
}

pub fn run(ctx: &Ctx, cmd: CollectionCmd) -> Result<()> {
    match cmd {
        CollectionCmd::Create(a) => create(ctx, a),
        CollectionCmd::List(a) => {
            let mut db = ctx.database(&a.db, false)?;
            let names = db.list_collections()?;
            ctx.out.emit(&names, || names.join("\n"))
        }
        CollectionCmd::Count(a) => {
            let mut db = ctx.database(&a.db.db, false)?;
            let count = db.count(&a.collection)?;
            ctx.out.emit(&serde_json::json!({ "collection": a.collection, "count": count }), || {
                count.to_string()
            })
        }
        CollectionCmd::Search(a) => search(ctx, a),
        CollectionCmd::Drop(a) => {
            let mut db = ctx.database(&a.db.db, true)?;
            db.drop_collection(&a.collection)?;
            ctx.out.emit(&serde_json::json!({ "dropped": a.collection }), || {
                format!("dropped {}", a.collection)
            })
        }
        CollectionCmd::Mutate(a) => mutate(ctx, a),
    }
}

#[derive(Serialize)]
struct Created {
    collection: String,
    records: u64,
    dimension: u32,
    metric: String,
    seconds: f64,
}

/// A metric by any of its usual names, or a usage error listing them.
pub fn parse_metric(name: &str) -> Result<Metric> {
    Metric::parse(name).ok_or_else(|| {
        usage(format!("unknown metric {name:?}; use cosine, euclidean (l2) or dot (ip)"))
    })
}

/// Create `name` from the sample schema of `spec` and fill it with `total`
/// generated records.
pub fn create_sampled(
    ctx: &Ctx,
    db: &mut dyn Database,
    name: &str,
    spec: SampleSpec,
    total: u64,
) -> Result<()> {
    db.create_collection(&sample::schema(name, &spec))?;
    if total > 0 {
        fill(ctx, db, name, Generator::new(spec), total)?;
    }
    Ok(())
}

fn create(ctx: &Ctx, a: CreateArgs) -> Result<()> {
    let metric = parse_metric(&a.metric)?;
    let spec = SampleSpec {
        dim: a.dim,
        metric,
        seed: a.seed,
        sparse: a.sparse,
        multi: a.multi,
        string_ids: a.string_ids,
    };
    let mut db = ctx.database(&a.target.db.db, true)?;
    let started = Instant::now();
    let total = a.sample.unwrap_or(0);
    create_sampled(ctx, db.as_mut(), &a.target.collection, spec, total)?;
    let done = Created {
        collection: a.target.collection.clone(),
        records: total,
        dimension: a.dim,
        metric: metric.to_string(),
        seconds: started.elapsed().as_secs_f64(),
    };
    ctx.out.emit(&done, || {
        format!(
            "created {} ({} records, {} dimensions, {}) in {:.1}s",
            done.collection, done.records, done.dimension, done.metric, done.seconds
        )
    })
}

/// Import `total` generated records in batches, then flush.
pub fn fill(
    ctx: &Ctx,
    db: &mut dyn Database,
    collection: &str,
    generator: Generator,
    total: u64,
) -> Result<()> {
    let bar = ctx.out.progress(Some(total), "sampling");
    let per = batch_size(generator.dim()) as u64;
    let mut n = 0;
    while n < total {
        let end = (n + per).min(total);
        let batch: Vec<Point> = (n..end).map(|i| generator.point(i)).collect();
        db.import_batch(collection, batch)
            .with_context(|| format!("importing records {n}..{end}"))?;
        bar.set_position(end);
        n = end;
    }
    bar.set_message("indexing");
    db.flush(collection)?;
    bar.finish_and_clear();
    Ok(())
}

fn parse_id(s: &str) -> PointId {
    s.parse::<u64>().map(PointId::Num).unwrap_or_else(|_| PointId::Str(s.to_string()))
}

#[derive(Serialize)]
struct Hit {
    id: PointId,
    score: f32,
}

fn search(ctx: &Ctx, a: SearchArgs) -> Result<()> {
    let mut db = ctx.database(&a.target.db.db, false)?;
    let collection = &a.target.collection;
    let query: Vec<f32> = match (&a.query_id, &a.query) {
        (Some(id), _) => {
            let found = db.fetch(collection, &[parse_id(id)])?;
            let point = found
                .first()
                .ok_or_else(|| usage(format!("no record with id {id} in {collection}")))?;
            point
                .dense(&a.vector)
                .ok_or_else(|| usage(format!("record {id} has no dense vector {:?}", a.vector)))?
                .to_vec()
        }
        (None, Some(q)) => q
            .split(',')
            .map(|x| {
                x.trim()
                    .parse::<f32>()
                    .map_err(|_| usage(format!("{x:?} in --query is not a number")))
            })
            .collect::<Result<_>>()?,
        (None, None) => return Err(usage("give --query-id ID or --query 0.1,0.2,...")),
    };
    let started = Instant::now();
    let hits = db.search(collection, &a.vector, &query, a.k)?;
    let took = started.elapsed();
    let hits: Vec<Hit> = hits.into_iter().map(|h| Hit { id: h.id, score: h.score }).collect();
    ctx.out.emit(&hits, || {
        let rows: Vec<Vec<String>> = hits
            .iter()
            .enumerate()
            .map(|(i, h)| vec![(i + 1).to_string(), h.id.to_string(), format!("{:.6}", h.score)])
            .collect();
        format!(
            "{}({} hits in {:.1} ms)",
            table(&["#", "ID", "SCORE"], &rows),
            hits.len(),
            took.as_secs_f64() * 1e3
        )
    })
}

#[derive(Serialize)]
struct Mutated {
    collection: String,
    total: u64,
    changed: u64,
}

fn mutate(ctx: &Ctx, a: MutateArgs) -> Result<()> {
    if !(0.0..=1.0).contains(&a.fraction) {
        return Err(usage(format!("--fraction {} must be within 0..=1", a.fraction)));
    }
    let mut db = ctx.database(&a.target.db.db, true)?;
    let collection = a.target.collection.clone();
    let total = db.count(&collection)?;
    let changed = mutate_records(db.as_mut(), &collection, a.fraction, a.seed)?;
    let m = Mutated { collection, total, changed };
    ctx.out.emit(&m, || format!("changed {} of {} records in {}", m.changed, m.total, m.collection))
}

/// Change a seeded random `fraction` of the records; returns how many.
pub fn mutate_records(
    db: &mut dyn Database,
    collection: &str,
    fraction: f64,
    seed: u64,
) -> Result<u64> {
    if !(0.0..=1.0).contains(&fraction) {
        return Err(usage(format!("fraction {fraction} must be within 0..=1")));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut chosen = Vec::new();
    {
        let mut cursor = db.open_export(collection, None)?;
        loop {
            let batch = cursor.next_batch(1000)?;
            if batch.is_empty() {
                break;
            }
            for p in batch {
                if rng.random_bool(fraction) {
                    chosen.push(p);
                }
            }
        }
    }
    for p in &mut chosen {
        sample::mutate(p, &mut rng);
    }
    let changed = chosen.len() as u64;
    let dim = chosen.first().and_then(|p| p.dense("")).map_or(128, |d| d.len() as u32);
    let mut rest = chosen;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().saturating_sub(batch_size(dim)));
        db.import_batch(collection, tail)?;
    }
    db.flush(collection)?;
    Ok(changed)
}
