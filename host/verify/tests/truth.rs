//! The streaming ground truth equals brute force, whatever the memory budget
//! or the export order, and respects its memory bound.

mod common;

use common::*;
use vdr_model::{Metric, NamedVector, Point, PointId, VectorData};
use vdr_repo::PointObserver;
use vdr_verify::{BaselineObserver, BaselineOptions};

fn opts(queries: usize, k: usize) -> BaselineOptions {
    BaselineOptions { queries, k, seed: 42, threads: 2, ..Default::default() }
}

#[test]
fn streaming_truth_equals_brute_force_for_every_metric() {
    let dim = 19; // not a multiple of the SIMD width
    let pts = points(600, dim, 1);
    for metric in [Metric::Dot, Metric::Cosine, Metric::Euclidean, Metric::Manhattan] {
        let s = schema("c", dim as u32, metric);
        let b = baseline(&s, &pts, opts(20, 7));
        assert_eq!(b.queries.len(), 20);
        assert_eq!((b.metric, b.k, b.points), (metric, 7, 600));
        for q in &b.queries {
            let mut all: Vec<(f64, &PointId)> = pts
                .iter()
                .map(|p| (naive_distance(metric, &q.vector, p.dense("").unwrap()), &p.id))
                .collect();
            all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
            let want: Vec<f64> = all.iter().take(7).map(|x| x.0).collect();
            let got: Vec<f64> = q
                .truth
                .iter()
                .map(|id| {
                    let p = pts.iter().find(|p| &p.id == id).unwrap();
                    naive_distance(metric, &q.vector, p.dense("").unwrap())
                })
                .collect();
            // Same neighbours; f32 summation order may swap exact near-ties only.
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{metric}: {got:?} vs {want:?}");
            }
            assert_eq!(q.truth.len(), 7);
            if metric != Metric::Dot {
                assert_eq!(q.truth[0], q.id, "{metric}: a query is its own nearest neighbour");
            }
        }
    }
}

#[test]
fn spilling_gives_the_same_truth_and_honours_the_memory_budget() {
    let dim = 24;
    let pts = points(1000, dim, 2);
    let s = schema("c", dim as u32, Metric::Euclidean);
    let in_memory = baseline(&s, &pts, opts(15, 10));
    let budget = 64 * (dim * 4 + std::mem::size_of::<PointId>()); // 64 vectors
    let mut obs = BaselineObserver::new(BaselineOptions { memory_budget: budget, ..opts(15, 10) });
    let spilled = observe_all(&mut obs, &s, &pts);
    let stats = obs.stats("c").unwrap();
    assert_eq!(stats.block_capacity, 64);
    assert!(stats.peak_in_memory <= 64, "{stats:?}");
    assert!(stats.spilled_bytes >= 900 * dim as u64 * 4, "{stats:?}");
    assert_eq!(spilled, in_memory);
    let unspilled = {
        let mut o = BaselineObserver::new(opts(15, 10));
        observe_all(&mut o, &s, &pts);
        o.stats("c").unwrap().clone()
    };
    assert_eq!(unspilled.spilled_bytes, 0);
}

#[test]
fn queries_and_truth_do_not_depend_on_export_order() {
    let pts = points(400, 8, 3);
    let s = schema("c", 8, Metric::Cosine);
    let forward = baseline(&s, &pts, opts(10, 5));
    let mut rev = pts.clone();
    rev.reverse();
    assert_eq!(baseline(&s, &rev, opts(10, 5)), forward);
    let other_seed = baseline(&s, &pts, BaselineOptions { seed: 43, ..opts(10, 5) });
    assert_ne!(other_seed.queries, forward.queries);
}

#[test]
fn points_without_a_usable_vector_are_skipped_and_counted() {
    let mut pts = points(50, 4, 4);
    pts[3].vectors[0].data = VectorData::Dense(vec![1.0, 2.0]); // wrong dimension
    pts[4].vectors.clear();
    pts.push(Point {
        id: PointId::Str("s-1".into()),
        vectors: vec![NamedVector { name: "".into(), data: VectorData::Dense(vec![0.5; 4]) }],
        payload: None,
    });
    let b = baseline(&schema("c", 4, Metric::Dot), &pts, opts(100, 3));
    assert_eq!((b.points, b.skipped), (49, 2));
    assert_eq!(b.queries.len(), 49, "fewer points than queries: every usable point is one");
    assert!(b.queries.iter().any(|q| q.id == PointId::Str("s-1".into())));
}

#[test]
fn a_collection_without_dense_vectors_gets_no_baseline() {
    let mut s = schema("c", 4, Metric::Dot);
    s.vectors.clear();
    let mut obs = BaselineObserver::new(opts(5, 3));
    obs.observe("c", &s, &points(3, 4, 5)[0]);
    assert!(obs.finish("c").is_none());
}

#[test]
fn a_carried_baseline_holds_the_exact_truth_over_the_changed_collection() {
    let dim = 16;
    for metric in [Metric::Cosine, Metric::Euclidean, Metric::Dot] {
        let s = schema("c", dim as u32, metric);
        let mut pts = points(2000, dim, 3);
        let parent = baseline(&s, &pts, opts(25, 5));
        // Move 2 % of the points (some right next to a query), delete 1 %,
        // add 1 % new ones.
        let fresh = points(20, dim, 99);
        let mut upserted = Vec::new();
        for (i, p) in pts.iter_mut().enumerate().filter(|(i, _)| i % 50 == 7) {
            let q = &parent.queries[i % parent.queries.len()].vector;
            let VectorData::Dense(v) = &mut p.vectors[0].data else { unreachable!() };
            v.iter_mut().zip(q).for_each(|(x, y)| *x = y + 0.001 * *x);
            upserted.push(p.clone());
        }
        let removed_by_delete: Vec<PointId> = pts
            .iter()
            .filter(|p| matches!(p.id, PointId::Num(n) if n % 100 == 11))
            .map(|p| p.id.clone())
            .collect();
        pts.retain(|p| !removed_by_delete.contains(&p.id));
        for (i, mut p) in fresh.into_iter().enumerate() {
            p.id = PointId::Num(10_000 + i as u64);
            upserted.push(p.clone());
            pts.push(p);
        }
        let mut removed: Vec<PointId> = upserted
            .iter()
            .filter(|p| matches!(p.id, PointId::Num(n) if n < 10_000))
            .map(|p| p.id.clone())
            .collect();
        removed.extend(removed_by_delete);

        let mut obs = BaselineObserver::new(opts(25, 5));
        let parent_json = serde_json::to_value(&parent).unwrap();
        let refs: Vec<&Point> = upserted.iter().collect();
        let carried = obs
            .carry("c", &s, Some(&parent_json), &removed, &refs)
            .unwrap_or_else(|why| panic!("{metric}: {why}"))
            .unwrap();
        let carried: vdr_verify::Baseline = serde_json::from_value(carried).unwrap();
        assert_eq!(carried.points, pts.len() as u64);
        assert_eq!(carried.queries.len(), parent.queries.len());
        for q in &carried.queries {
            let want = exact_top(metric, &q.vector, &pts, 5);
            let dist = |id: &PointId| {
                let p = pts.iter().find(|p| &p.id == id).unwrap();
                naive_distance(metric, &q.vector, p.dense("").unwrap())
            };
            for (g, w) in q.truth.iter().zip(&want) {
                let (g, w) = (dist(g), dist(w));
                assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{metric}: {g} vs {w}");
            }
            assert_eq!(q.truth.len(), 5);
        }
    }
}

#[test]
fn a_baseline_whose_nearest_points_all_changed_is_not_carried() {
    let dim = 8;
    let s = schema("c", dim as u32, Metric::Euclidean);
    let pts = points(500, dim, 5);
    let parent = baseline(&s, &pts, opts(10, 4));
    // Every listed neighbour of the first query moves far away.
    let gone: Vec<PointId> = parent.queries[0].nearest.iter().map(|n| n.0.clone()).collect();
    let moved: Vec<Point> = pts
        .iter()
        .filter(|p| gone.contains(&p.id))
        .map(|p| {
            let mut p = p.clone();
            p.vectors[0].data = VectorData::Dense(vec![1e3; dim]);
            p
        })
        .collect();
    let refs: Vec<&Point> = moved.iter().collect();
    let mut obs = BaselineObserver::new(opts(10, 4));
    let json = serde_json::to_value(&parent).unwrap();
    let why = obs.carry("c", &s, Some(&json), &gone, &refs).unwrap_err();
    assert!(why.contains("nearest points changed"), "{why}");
    // And a baseline without the margin (written before it existed) neither.
    let mut old = parent.clone();
    old.queries.iter_mut().for_each(|q| q.nearest.clear());
    let json = serde_json::to_value(&old).unwrap();
    let why = obs.carry("c", &s, Some(&json), &[], &[]).unwrap_err();
    assert!(why.contains("margin"), "{why}");
}
