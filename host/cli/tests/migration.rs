//! Cross-engine migration through the `vdr` binary: a snapshot of engine A
//! restored into engine B, then `vdr verify` on B. Real Chroma and Milvus
//! and the Qdrant stand-in come from `scripts/test-servers.sh`
//! (`VDR_TEST_CHROMA`, `VDR_TEST_MILVUS`, `VDR_TEST_QDRANT`); a missing one
//! skips loudly (fails under CI).

mod common;
use common::Vdr;

use vdr_model::{
    CollectionSchema, Database, Metric, NamedVector, Point, PointId, VectorData, VectorField,
    VectorKind,
};
use vdr_runtime::Grant;

/// Steps this file repeats, on the shared harness.
impl Vdr {
    /// A passphrase repository at fs://./repo.
    fn with_repo() -> Vdr {
        let mut v = Vdr::with_passphrase("migration test");
        if let Ok(k) = std::env::var("VDR_TEST_QDRANT_API_KEY") {
            v = v.env("QDRANT_API_KEY", &k);
        }
        v.ok(&["init", "--repo", "fs://./repo"]);
        v
    }
    /// Back up `collection` of `db`; the snapshot id.
    fn backup(&self, db: &str, collection: &str) -> String {
        let out = self.ok(&[
            "--json",
            "backup",
            "--repo",
            "fs://./repo",
            "--db",
            db,
            "-c",
            collection,
            "--golden-queries",
            "20",
        ]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["snapshot"].as_str().unwrap().to_string()
    }
    /// Restore `collection` of `snap` into `db` as `target`, then verify it there.
    fn migrate(&self, snap: &str, collection: &str, db: &str, target: &str, extra: &[&str]) {
        let mut args = vec!["restore", snap, "--repo", "fs://./repo", "--db", db, "-c", collection];
        args.extend_from_slice(&["--as", target]);
        args.extend_from_slice(extra);
        self.ok(&args);
        let mut args = vec![
            "--json",
            "verify",
            snap,
            "--repo",
            "fs://./repo",
            "--db",
            db,
            "-c",
            collection,
            "--as",
            target,
            "--tolerance",
            "1e-5",
        ];
        args.extend_from_slice(extra);
        let report: serde_json::Value = serde_json::from_str(&self.ok(&args)).unwrap();
        let r = &report[0];
        assert_eq!(r["ok"], true, "{report:#}");
        let status = |name: &str| {
            r["checks"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap()["status"]
                .clone()
        };
        assert_eq!(status("content"), "pass", "{report:#}");
        assert_eq!(status("schema"), "pass", "{report:#}");
    }
}

fn open(plugin: &str, grant: Grant) -> Box<dyn Database> {
    vdr_tests::runtime().open_database(plugin, &grant, plugin.into()).unwrap()
}

fn field(name: &str, metric: Metric) -> VectorField {
    VectorField::new(name, VectorKind::Dense, 8, metric)
}

/// A collection with two named dense vectors and nested payloads.
fn fill_two_vectors(db: &mut dyn Database, name: &str, engine: &str, ids: fn(u64) -> PointId) {
    let vectors = vec![field("text", Metric::Cosine), field("image", Metric::Euclidean)];
    db.create_collection(&CollectionSchema {
        engine: engine.into(),
        ..CollectionSchema::new(name, vectors)
    })
    .unwrap();
    // Distinct pseudo-random vectors: ties would make recall ambiguous.
    let v = |i: u64, s: f32| -> Vec<f32> {
        (0..8u64)
            .map(|j| {
                let h = (i * 8 + j).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 40;
                (h % 10_007) as f32 / 10_007.0 * s - 0.5
            })
            .collect()
    };
    let points = (1..=150u64)
        .map(|i| Point {
            id: ids(i),
            vectors: vec![
                NamedVector { name: "text".into(), data: VectorData::Dense(v(i, 0.25)) },
                NamedVector { name: "image".into(), data: VectorData::Dense(v(i + 3, 0.5)) },
            ],
            payload: Some(format!(
                r#"{{"n":{i},"tags":["a","ü"],"meta":{{"even":{}}}}}"#,
                i % 2 == 0
            )),
        })
        .collect();
    db.import_batch(name, points).unwrap();
    db.flush(name).unwrap();
}

fn chroma_url(endpoint: &str) -> String {
    format!("chroma+{endpoint}")
}

fn milvus_url(endpoint: &str) -> String {
    format!("milvus+{endpoint}")
}

/// local -> chroma -> milvus -> local, verifying on every target.
#[test]
fn local_to_chroma_to_milvus_to_local_verifies_on_every_target() {
    let Some(chroma) = vdr_tests::servers::endpoint("CHROMA") else { return };
    let Some(milvus) = vdr_tests::servers::endpoint("MILVUS") else { return };
    let run = Vdr::with_repo();
    for (metric, name) in [("cosine", "docs_cos"), ("euclidean", "docs_l2")] {
        run.ok(&[
            "collection",
            "create",
            "--db",
            "local://./src",
            "--collection",
            name,
            "--sample",
            "300",
            "--dim",
            "16",
            "--metric",
            metric,
        ]);
        let snap = run.backup("local://./src", name);
        let in_chroma = vdr_tests::unique("mig_");
        run.migrate(&snap, name, &chroma_url(&chroma), &in_chroma, &[]);

        let snap = run.backup(&chroma_url(&chroma), &in_chroma);
        let in_milvus = vdr_tests::unique("mig_");
        run.migrate(&snap, &in_chroma, &milvus_url(&milvus), &in_milvus, &[]);

        let snap = run.backup(&milvus_url(&milvus), &in_milvus);
        run.migrate(&snap, &in_milvus, "local://./back", name, &[]);
    }
}

/// Named vectors and payloads from the Qdrant stand-in, backed up through
/// `vdr backup --db qdrant+http://...`, restored into local and verified.
#[test]
fn qdrant_named_vectors_migrate_to_local() {
    let Some(endpoint) = vdr_tests::servers::endpoint("QDRANT") else { return };
    let mut grant = Grant::endpoint(&endpoint).unwrap();
    grant.secrets = vec![("api-key".into(), vdr_tests::servers::required("QDRANT_API_KEY"))];
    let name = vdr_tests::unique("mig");
    fill_two_vectors(open("qdrant", grant).as_mut(), &name, "qdrant", PointId::Num);
    let run = Vdr::with_repo();
    let snap = run.backup(&format!("qdrant+{endpoint}"), &name);
    run.migrate(&snap, &name, "local://./back", "from_qdrant", &[]);
    // One of the two vectors, chosen, also migrates.
    run.migrate(&snap, &name, "local://./back", "text_only", &["--vector", "text"]);
}

/// Two named dense vectors into Chroma: without `--vector` the restore
/// names the options and leaves Chroma untouched; with it, it verifies.
#[test]
fn two_named_vectors_into_chroma_need_a_choice() {
    let Some(chroma) = vdr_tests::servers::endpoint("CHROMA") else { return };
    let run = Vdr::with_repo();
    let src = run.path("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut local = open("local", Grant::directory(src.canonicalize().unwrap(), true));
    let str_id = |i: u64| PointId::Str(format!("p{i}"));
    fill_two_vectors(local.as_mut(), "two", "local", str_id);
    drop(local);
    let snap = run.backup("local://./src", "two");

    let target = vdr_tests::unique("mig_");
    let mut chroma_db = open("chroma", Grant::endpoint(&chroma).unwrap());
    let before = chroma_db.list_collections().unwrap();
    let db = chroma_url(&chroma);
    let out = run.vdr(&[
        "restore",
        &snap,
        "--repo",
        "fs://./repo",
        "--db",
        &db,
        "-c",
        "two",
        "--as",
        &target,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dense vectors text, image; choose one with --vector"), "{err}");
    assert_eq!(chroma_db.list_collections().unwrap(), before, "chroma was touched");

    let out = run.vdr(&[
        "restore",
        &snap,
        "--repo",
        "fs://./repo",
        "--db",
        &db,
        "-c",
        "two",
        "--as",
        &target,
        "--vector",
        "nope",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("its dense vectors: text, image"));

    run.migrate(&snap, "two", &db, &target, &["--vector", "image"]);
    let live = chroma_db.fetch(&target, &[str_id(7)]).unwrap();
    assert_eq!(live[0].vectors.len(), 1);
    assert_eq!(live[0].vectors[0].name, "");
}

/// A sparse vector Milvus cannot hold: named in the error, dropped on request,
/// and `verify` with the same flag passes.
#[test]
fn sparse_vectors_into_milvus_are_dropped_only_on_request() {
    let Some(milvus) = vdr_tests::servers::endpoint("MILVUS") else { return };
    let run = Vdr::with_repo();
    let src = run.path("src");
    std::fs::create_dir_all(&src).unwrap();
    let mut local = open("local", Grant::directory(src.canonicalize().unwrap(), true));
    let sparse = VectorField { kind: VectorKind::Sparse, ..field("terms", Metric::Dot) };
    local
        .create_collection(&CollectionSchema {
            name: "hybrid".into(),
            engine: "local".into(),
            engine_version: String::new(),
            vectors: vec![field("", Metric::Euclidean), sparse],
            payload_indexes: vec![],
            shards: 1,
            replicas: 1,
            engine_config: None,
        })
        .unwrap();
    let points = (1..=60u64)
        .map(|i| Point {
            id: PointId::Num(i),
            vectors: vec![
                NamedVector {
                    name: String::new(),
                    data: VectorData::Dense((0..8).map(|j| ((i * 13 + j) % 29) as f32).collect()),
                },
                NamedVector {
                    name: "terms".into(),
                    data: VectorData::Sparse(vdr_model::SparseVector {
                        indices: vec![i as u32, 1000 + i as u32],
                        values: vec![0.5, 1.5],
                    }),
                },
            ],
            payload: Some(format!(r#"{{"i":{i}}}"#)),
        })
        .collect();
    local.import_batch("hybrid", points).unwrap();
    local.flush("hybrid").unwrap();
    drop(local);
    let snap = run.backup("local://./src", "hybrid");
    let db = milvus_url(&milvus);
    let target = vdr_tests::unique("mig_");
    let out = run.vdr(&[
        "restore",
        &snap,
        "--repo",
        "fs://./repo",
        "--db",
        &db,
        "-c",
        "hybrid",
        "--as",
        &target,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("sparse vector terms") && err.contains("--drop-unsupported-vectors"));
    run.migrate(&snap, "hybrid", &db, &target, &["--drop-unsupported-vectors"]);
}

/// The disaster on one engine: back up a collection of the real server,
/// drop it there, restore it under its own name, verify it there.
#[test]
fn chroma_and_milvus_survive_backup_drop_restore_verify() {
    let Some(chroma) = vdr_tests::servers::endpoint("CHROMA") else { return };
    let Some(milvus) = vdr_tests::servers::endpoint("MILVUS") else { return };
    let run = Vdr::with_repo();
    for db in [chroma_url(&chroma), milvus_url(&milvus)] {
        let name = vdr_tests::unique("dr_");
        run.create_sample(&db, &name, "400", "16");
        let snap = run.backup(&db, &name);
        run.ok(&["collection", "drop", "--db", &db, "-c", &name]);
        assert!(
            !run.ok(&["collection", "list", "--db", &db]).lines().any(|l| l == name),
            "{name} dropped"
        );
        run.migrate(&snap, &name, &db, &name, &[]);
        let count: serde_json::Value = serde_json::from_str(&run.ok(&[
            "--json",
            "collection",
            "count",
            "--db",
            &db,
            "-c",
            &name,
        ]))
        .unwrap();
        assert_eq!(count["count"], 400, "{db}");
    }
}
