#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vdr_model::{CollectionSchema, Metric, NamedVector, Point, PointId, VectorData, VectorField};
use vdr_repo::{CollectionEntry, PointObserver, SourceInfo};
use vdr_verify::{Baseline, BaselineObserver, BaselineOptions};

pub fn schema(name: &str, dim: u32, metric: Metric) -> CollectionSchema {
    CollectionSchema {
        engine: "memory".into(),
        engine_version: "0".into(),
        ..CollectionSchema::new(name, vec![VectorField::dense(dim, metric)])
    }
}

/// Clustered random vectors (realistic neighbourhoods) with small payloads.
pub fn points(n: usize, dim: usize, seed: u64) -> Vec<Point> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<Vec<f32>> =
        (0..8).map(|_| (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect()).collect();
    (0..n)
        .map(|i| {
            let c = &centres[i % centres.len()];
            let v = c.iter().map(|x| x + rng.random_range(-0.3..0.3)).collect();
            Point {
                id: PointId::Num(i as u64),
                vectors: vec![NamedVector { name: "".into(), data: VectorData::Dense(v) }],
                payload: Some(format!(r#"{{"n":{i},"tag":"t{}"}}"#, i % 5)),
            }
        })
        .collect()
}

pub fn observe_all(
    obs: &mut BaselineObserver<'_>,
    schema: &CollectionSchema,
    pts: &[Point],
) -> Baseline {
    for p in pts {
        obs.observe(&schema.name, schema, p);
    }
    let v = obs.finish(&schema.name).expect("a baseline");
    serde_json::from_value(v).unwrap()
}

pub fn baseline(schema: &CollectionSchema, pts: &[Point], opts: BaselineOptions) -> Baseline {
    observe_all(&mut BaselineObserver::new(opts), schema, pts)
}

pub fn entry(schema: &CollectionSchema, records: u64, baseline: &Baseline) -> CollectionEntry {
    CollectionEntry {
        name: schema.name.clone(),
        schema: schema.clone(),
        source: SourceInfo::default(),
        records,
        content_digest: String::new(),
        stream_length: 0,
        blobs: vec![],
        baseline: Some(serde_json::to_value(baseline).unwrap()),
        changes: None,
    }
}

/// Brute-force top-k ids of `query` over `points` (nearest first, ties by id).
pub fn exact_top(metric: Metric, query: &[f32], points: &[Point], k: usize) -> Vec<PointId> {
    let mut all: Vec<(f64, &PointId)> = points
        .iter()
        .map(|p| (naive_distance(metric, query, p.dense("").unwrap()), &p.id))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
    all.into_iter().take(k).map(|x| x.1.clone()).collect()
}

/// Reference distances, straight from the definitions.
pub fn naive_distance(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    match metric {
        Metric::Dot => -dot,
        Metric::Cosine => {
            let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
            let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
            1.0 - dot / (na * nb)
        }
        Metric::Euclidean => a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum(),
        Metric::Manhattan => a.iter().zip(b).map(|(x, y)| (*x as f64 - *y as f64).abs()).sum(),
    }
}
