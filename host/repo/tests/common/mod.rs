#![allow(dead_code)]
use std::sync::Arc;
use vdr_model::testing::{MemoryDatabase, MemoryStore};
use vdr_model::*;
use vdr_repo::*;

pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 11
    }
    pub fn f32(&mut self) -> f32 {
        (self.next() % 2_000_000) as f32 / 1_000_000.0 - 1.0
    }
}

pub fn schema(name: &str, dim: u32) -> CollectionSchema {
    CollectionSchema {
        engine: "memory".into(),
        engine_version: "1".into(),
        engine_config: Some(r#"{"hnsw":{"m":16}}"#.into()),
        ..CollectionSchema::new(name, vec![VectorField::dense(dim, Metric::Cosine)])
    }
}

pub fn dense_points(n: usize, dim: usize, seed: u64) -> Vec<Point> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| Point {
            id: PointId::Num(i as u64),
            vectors: vec![NamedVector {
                name: "".into(),
                data: VectorData::Dense((0..dim).map(|_| rng.f32()).collect()),
            }],
            payload: Some(format!(r#"{{"doc":{i},"title":"item {}"}}"#, rng.next() % 1000)),
        })
        .collect()
}

/// Points with every id kind, vector kind and awkward payloads.
pub fn mixed_points(n: usize) -> Vec<Point> {
    let mut rng = Rng(7);
    (0..n)
        .map(|i| {
            let id = if i % 2 == 0 {
                PointId::Num(i as u64 * 7919)
            } else {
                PointId::Str(format!("doc-ü-{i}-🚀"))
            };
            let mut vectors = vec![
                NamedVector {
                    name: "text".into(),
                    data: VectorData::Dense((0..32).map(|_| rng.f32()).collect()),
                },
                NamedVector {
                    name: "sparse".into(),
                    data: VectorData::Sparse(SparseVector {
                        indices: vec![(i % 50) as u32 + 3, 1, 1000],
                        values: vec![rng.f32(), -0.0, f32::MIN_POSITIVE],
                    }),
                },
            ];
            if i % 3 == 0 {
                vectors.push(NamedVector {
                    name: "colbert".into(),
                    data: VectorData::Multi(vec![vec![1.5, -2.5], vec![rng.f32(); 4]]),
                });
            }
            let payload = match i % 4 {
                0 => None,
                1 => Some(format!(
                    r#"{{"z":1,"a":{{"nested":["日本語",{i},null,true]}},"emoji":"😀"}}"#
                )),
                2 => Some(r#"{"quote":"\"esc\"\n\t","num":1.25e-7}"#.into()),
                _ => Some("{}".into()),
            };
            Point { id, vectors, payload }
        })
        .collect()
}

pub fn mixed_schema(name: &str) -> CollectionSchema {
    let mut s = schema(name, 32);
    s.vectors[0].name = "text".into();
    s.vectors.push(VectorField::new("sparse", VectorKind::Sparse, 0, Metric::Dot));
    s.vectors.push(VectorField::new("colbert", VectorKind::Multi, 2, Metric::Dot));
    s
}

pub fn normalized(mut points: Vec<Point>) -> Vec<Point> {
    for p in &mut points {
        canonical::normalize(p).unwrap();
    }
    points.sort_by(|a, b| a.id.cmp(&b.id));
    points
}

pub fn small_options() -> InitOptions {
    InitOptions {
        chunker: ChunkerParams { min_size: 4 << 10, avg_size: 16 << 10, max_size: 64 << 10 },
        pack_target_size: 1 << 20,
        compression_level: 1,
    }
}

pub struct Fixture {
    pub store: Arc<MemoryStore>,
    pub repo: Repository,
    pub identity: String,
}

pub fn fixture(options: InitOptions) -> Fixture {
    let id = age::x25519::Identity::generate();
    use age::secrecy::ExposeSecret;
    let identity = id.to_string().expose_secret().to_string();
    let store = Arc::new(MemoryStore::new());
    let repo = Repository::init(
        store.clone(),
        KeySpec::Recipients(vec![id.to_public().to_string()]),
        options,
    )
    .unwrap();
    Fixture { store, repo, identity }
}

impl Fixture {
    /// The object holding the (only) key file.
    pub fn key_file_name(&self) -> String {
        self.store
            .keys()
            .into_iter()
            .find(|k| k.starts_with("keys/") && !k.ends_with(".info"))
            .expect("a repository has a key file")
    }
    pub fn reopen(&self) -> Result<Repository> {
        Repository::open(
            self.store.clone(),
            &Credentials::from_identity_text(&self.identity, "id.txt")?,
        )
    }
}

pub fn db_with(name: &str, schema: CollectionSchema, points: Vec<Point>) -> MemoryDatabase {
    let mut db = MemoryDatabase::new();
    let mut s = schema;
    s.name = name.into();
    db.insert_collection(s, points);
    db
}

pub fn source() -> SourceInfo {
    SourceInfo {
        plugin_name: "memory".into(),
        plugin_version: "0.1.0".into(),
        ..Default::default()
    }
}

pub fn backup(repo: &Repository, db: &mut MemoryDatabase) -> BackupSummary {
    repo.backup(db, &[], &[], &source(), BackupOptions::default()).unwrap()
}
