//! Realistic sample data: vectors clustered around topic centres (real
//! embeddings cluster; uniform random vectors make HNSW recall look
//! misleadingly bad) with payloads that look like documents.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use vdr_model::{
    CollectionSchema, Metric, NamedVector, Point, PointId, SparseVector, VectorData, VectorField,
    VectorKind,
};

pub struct SampleSpec {
    pub dim: u32,
    pub metric: Metric,
    pub seed: u64,
    pub sparse: bool,
    pub multi: bool,
    pub string_ids: bool,
}

const TOPICS: &[&str] = &[
    "backup",
    "restore",
    "replication",
    "indexing",
    "networking",
    "storage",
    "security",
    "billing",
    "search",
    "monitoring",
    "scheduling",
    "compression",
];
const WORDS: &[&str] = &[
    "fast",
    "durable",
    "encrypted",
    "vector",
    "cluster",
    "shard",
    "replica",
    "snapshot",
    "query",
    "latency",
    "recall",
    "bucket",
    "region",
    "failover",
    "drill",
    "schema",
    "payload",
    "ü-umlaut",
    "日本語",
    "emoji-🚀",
];

pub fn schema(name: &str, spec: &SampleSpec) -> CollectionSchema {
    let mut vectors = vec![VectorField::dense(spec.dim, spec.metric)];
    if spec.sparse {
        vectors.push(VectorField::new("sparse", VectorKind::Sparse, 0, Metric::Dot));
    }
    if spec.multi {
        vectors.push(VectorField::new("multi", VectorKind::Multi, 16, Metric::Cosine));
    }
    CollectionSchema::new(name, vectors)
}

/// Generates records `start..start+count` deterministically from the seed.
pub struct Generator {
    spec: SampleSpec,
    centres: Vec<Vec<f32>>,
}

impl Generator {
    pub fn new(spec: SampleSpec) -> Generator {
        let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
        let clusters = 64;
        let centres =
            (0..clusters).map(|_| unit(gaussian_vec(&mut rng, spec.dim as usize))).collect();
        Generator { spec, centres }
    }

    /// Dimension of the dense vectors.
    pub fn dim(&self) -> u32 {
        self.spec.dim
    }

    pub fn point(&self, n: u64) -> Point {
        // One RNG stream per record: any record can be regenerated alone.
        let mut rng =
            ChaCha8Rng::seed_from_u64(self.spec.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let cluster = rng.random_range(0..self.centres.len());
        let spread = 0.35 / (self.spec.dim as f32).sqrt() * 4.0;
        let centre = &self.centres[cluster];
        let mut v: Vec<f32> = centre.iter().map(|c| c + spread * gauss(&mut rng)).collect();
        if self.spec.metric == Metric::Cosine {
            v = unit(v);
        }
        let mut vectors = vec![NamedVector { name: String::new(), data: VectorData::Dense(v) }];
        if self.spec.sparse {
            let nnz = rng.random_range(3..12);
            let mut indices: Vec<u32> = (0..nnz).map(|_| rng.random_range(0..30_000)).collect();
            indices.sort_unstable();
            indices.dedup();
            let values = indices.iter().map(|_| rng.random_range(0.01f32..1.0)).collect();
            vectors.push(NamedVector {
                name: "sparse".into(),
                data: VectorData::Sparse(SparseVector { indices, values }),
            });
        }
        if self.spec.multi {
            let rows = (0..4).map(|_| unit(gaussian_vec(&mut rng, 16))).collect();
            vectors.push(NamedVector { name: "multi".into(), data: VectorData::Multi(rows) });
        }
        let topic = TOPICS[cluster % TOPICS.len()];
        let words: Vec<&str> =
            (0..rng.random_range(3..8)).map(|_| WORDS[rng.random_range(0..WORDS.len())]).collect();
        let payload = serde_json::json!({
            "title": format!("{topic}: {}", words.join(" ")),
            "topic": topic,
            "cluster": cluster,
            "rank": rng.random_range(0..1000),
            "score": (rng.random_range(0.0f64..1.0) * 1000.0).round() / 1000.0,
            "published": rng.random_bool(0.8),
            "meta": { "source": "vdr-sample", "revision": 0, "tags": words.iter().take(2).collect::<Vec<_>>() },
        });
        Point { id: self.id(n), vectors, payload: Some(payload.to_string()) }
    }

    pub fn id(&self, n: u64) -> PointId {
        if self.spec.string_ids {
            let h = blake3::hash(&n.to_le_bytes());
            let x = h.to_hex();
            PointId::Str(format!(
                "{}-{}-{}-{}-{}",
                &x[0..8],
                &x[8..12],
                &x[12..16],
                &x[16..20],
                &x[20..32]
            ))
        } else {
            PointId::Num(n)
        }
    }
}

/// Change a record in place: nudge its dense vectors, bump the payload revision.
pub fn mutate(point: &mut Point, rng: &mut impl Rng) {
    for v in &mut point.vectors {
        if let VectorData::Dense(d) = &mut v.data {
            for x in d.iter_mut() {
                *x += 0.01 * gauss(rng);
            }
        }
    }
    if let Some(p) = &point.payload
        && let Ok(mut value) = serde_json::from_str::<serde_json::Value>(p)
    {
        if let Some(obj) = value.as_object_mut() {
            let rev = obj
                .get("meta")
                .and_then(|m| m.get("revision"))
                .and_then(|r| r.as_u64())
                .unwrap_or(0);
            obj.insert(
                "meta".into(),
                serde_json::json!({ "source": "vdr-sample", "revision": rev + 1 }),
            );
        }
        point.payload = Some(value.to_string());
    }
}

fn gauss(rng: &mut impl Rng) -> f32 {
    // Box-Muller.
    let u1: f32 = rng.random_range(f32::EPSILON..1.0);
    let u2: f32 = rng.random_range(0.0..1.0);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

fn gaussian_vec(rng: &mut impl Rng, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| gauss(rng)).collect()
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SampleSpec {
        SampleSpec {
            dim: 32,
            metric: Metric::Cosine,
            seed: 1,
            sparse: true,
            multi: true,
            string_ids: false,
        }
    }

    #[test]
    fn same_seed_same_records_and_vectors_are_unit_length() {
        let (a, b) = (Generator::new(spec()), Generator::new(spec()));
        for n in [0, 1, 999] {
            assert_eq!(a.point(n), b.point(n));
            let d = a.point(n).dense("").unwrap().to_vec();
            let norm: f32 = d.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4);
        }
        assert_ne!(a.point(1), a.point(2));
    }

    #[test]
    fn records_cluster_around_their_centres() {
        let g = Generator::new(spec());
        let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(a, b)| a * b).sum::<f32>();
        let p = g.point(5);
        let cluster = serde_json::from_str::<serde_json::Value>(p.payload.as_ref().unwrap())
            .unwrap()["cluster"]
            .as_u64()
            .unwrap() as usize;
        let own = dot(p.dense("").unwrap(), &g.centres[cluster]);
        let other = dot(p.dense("").unwrap(), &g.centres[(cluster + 1) % g.centres.len()]);
        assert!(own > 0.5 && own > other + 0.3, "own {own} other {other}");
    }
}
