//! Ground-truth throughput: 100 golden queries, k = 10, over 200k × 384
//! vectors, through `BaselineObserver` (in memory, then forced to spill), and
//! usearch's `exact_search` over a block index for comparison.
//!
//! `cargo run -p vdr-verify --release --example bench_truth [-- N DIM]`

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use usearch::{IndexOptions, MetricKind, ScalarKind, new_index};
use vdr_model::{CollectionSchema, Metric, NamedVector, Point, PointId, VectorData, VectorField};
use vdr_repo::PointObserver;
use vdr_verify::truth::{Kernel, TopK};
use vdr_verify::{BaselineObserver, BaselineOptions};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let n = args.first().copied().unwrap_or(200_000);
    let dim = args.get(1).copied().unwrap_or(384);
    let (queries, k) = (100, 10);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let data: Vec<f32> = (0..n * dim).map(|_| rng.random_range(-1.0..1.0)).collect();
    let schema = CollectionSchema {
        engine: "bench".into(),
        engine_version: "0".into(),
        ..CollectionSchema::new("bench", vec![VectorField::dense(dim as u32, Metric::Cosine)])
    };
    println!("{queries} queries, k={k}, {n} x {dim} f32 (cosine), threads: all cores");
    for (label, budget) in [("in memory", 1usize << 34), ("spilled (64 MiB budget)", 64 << 20)] {
        let mut obs = BaselineObserver::new(BaselineOptions {
            queries,
            k,
            memory_budget: budget,
            ..Default::default()
        });
        let started = Instant::now();
        for (i, v) in data.chunks_exact(dim).enumerate() {
            let p = Point {
                id: PointId::Num(i as u64),
                vectors: vec![NamedVector { name: "".into(), data: VectorData::Dense(v.to_vec()) }],
                payload: None,
            };
            obs.observe("bench", &schema, &p);
        }
        let observed = started.elapsed().as_secs_f64();
        let t = Instant::now();
        let baseline = obs.finish("bench").expect("baseline");
        let scan = t.elapsed().as_secs_f64();
        let total = started.elapsed().as_secs_f64();
        assert_eq!(baseline["queries"].as_array().unwrap().len(), queries);
        println!(
            "{label:>24}: observe {observed:.2} s, truth scan {scan:.2} s -> {:.0} vectors/s scanned, {:.0} vectors/s end to end",
            n as f64 / scan,
            n as f64 / total
        );
    }

    // The same scan, single-threaded, straight on the kernel.
    let block = 20_000.min(n);
    let qs: Vec<f32> = data[..queries * dim].to_vec();
    let ids: Vec<PointId> = (0..block as u64).map(PointId::Num).collect();
    let t = Instant::now();
    let mut topk = TopK::new(Kernel::NegDot, dim, qs.clone(), k, 1);
    topk.scan(&ids, &data[..block * dim]);
    let loops = t.elapsed().as_secs_f64();
    println!(
        "{:>24}: {:.0} vectors/s (1 thread, {block}-vector block)",
        "loops",
        block as f64 / loops
    );

    // usearch: exact_search needs the vectors in an index, and add() builds HNSW.
    let opts = IndexOptions {
        dimensions: dim,
        metric: MetricKind::IP,
        quantization: ScalarKind::F32,
        connectivity: 0,
        expansion_add: 0,
        expansion_search: 0,
        multi: false,
    };
    let index = new_index(&opts).expect("usearch index");
    index.reserve(block).expect("reserve");
    let t = Instant::now();
    for (i, v) in data[..block * dim].chunks_exact(dim).enumerate() {
        index.add(i as u64, v).expect("add");
    }
    let add = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for q in qs.chunks_exact(dim) {
        index.exact_search(q, k).expect("search");
    }
    let search = t.elapsed().as_secs_f64();
    println!(
        "{:>24}: add {:.2} s + exact_search {:.3} s = {:.0} vectors/s (search alone {:.0} vectors/s)",
        "usearch",
        add,
        search,
        block as f64 / (add + search),
        block as f64 / search
    );
}
