//! Database plugins for engines that cannot run on this machine, tested
//! against the stand-ins in `tests/standins/` (built from each vendor's
//! published API reference, started by `scripts/test-servers.sh`), and the
//! faiss plugin against index files written by real faiss-cpu.

use vdr_model::{Database, ErrorKind, Metric};
use vdr_runtime::Grant;
use vdr_tests::conformance::database::{self, DbCaps};

/// A database plugin at a stand-in's endpoint, with its API key.
fn open(
    plugin: &str,
    endpoint: &str,
    key_var: &str,
    options: serde_json::Value,
) -> Box<dyn Database> {
    let mut grant = Grant::endpoint(endpoint).unwrap();
    grant.options = options;
    grant.secrets = vec![("api-key".into(), vdr_tests::servers::required(key_var))];
    vdr_tests::runtime()
        .open_database(plugin, &grant, format!("{plugin} stand-in"))
        .unwrap_or_else(|e| panic!("opening {plugin}: {e:#}"))
}

/// Every byte of a native snapshot.
fn read_snapshot(db: &mut dyn Database, collection: &str) -> Vec<u8> {
    let mut reader = db.open_native_snapshot(collection).unwrap();
    let mut out = Vec::new();
    loop {
        // Small reads: the snapshot streams out in several ranges.
        let chunk = reader.read(4096).unwrap();
        if chunk.is_empty() {
            return out;
        }
        out.extend(chunk);
    }
}

fn export_all(db: &mut dyn Database, collection: &str) -> Vec<vdr_model::Point> {
    let mut cursor = db.open_export(collection, None).unwrap();
    let mut out = Vec::new();
    loop {
        let batch = cursor.next_batch(500).unwrap();
        if batch.is_empty() {
            return out;
        }
        out.extend(batch);
    }
}

// --- qdrant ------------------------------------------------------------------------

fn qdrant_caps() -> DbCaps {
    // The stand-in, like Qdrant, normalises cosine vectors: the suite's
    // cosine points are unit vectors already, so they return within f32
    // rounding of the normalisation.
    DbCaps { metric: Metric::Cosine, tolerance: 1e-6, ..DbCaps::default() }
}

#[test]
fn qdrant_passes_the_database_conformance_suite() {
    let Some(endpoint) = vdr_tests::servers::endpoint("QDRANT") else { return };
    let mut db = open("qdrant", &endpoint, "QDRANT_API_KEY", serde_json::json!({}));
    database::run(db.as_mut(), &qdrant_caps(), &vdr_tests::unique("conf"));
}

#[test]
fn qdrant_refuses_a_wrong_api_key() {
    let Some(endpoint) = vdr_tests::servers::endpoint("QDRANT") else { return };
    let mut grant = Grant::endpoint(&endpoint).unwrap();
    grant.secrets = vec![("api-key".into(), "wrong".into())];
    let mut db = vdr_tests::runtime().open_database("qdrant", &grant, "qdrant".into()).unwrap();
    assert_eq!(db.list_collections().unwrap_err().kind, ErrorKind::Unauthorized);
}

#[test]
fn qdrant_keeps_engine_config_and_payload_indexes() {
    let Some(endpoint) = vdr_tests::servers::endpoint("QDRANT") else { return };
    let mut db = open("qdrant", &endpoint, "QDRANT_API_KEY", serde_json::json!({}));
    let name = vdr_tests::unique("cfg");
    let mut schema = database::schema(&name, &qdrant_caps());
    schema.shards = 2;
    schema.replicas = 1;
    schema.payload_indexes =
        vec![vdr_model::PayloadIndex { field: "title".into(), kind: "keyword".into() }];
    schema.engine = "qdrant".into();
    schema.engine_config = Some(
        serde_json::json!({
            "params": { "vectors": {
                "": { "size": 8, "distance": "Cosine", "on_disk": true,
                      "hnsw_config": { "m": 32 } },
                "second": { "size": 4, "distance": "Dot",
                            "quantization_config": { "scalar": { "type": "int8" } } }
            }, "on_disk_payload": false },
            "hnsw_config": { "m": 24, "ef_construct": 200 },
            "quantization_config": { "scalar": { "type": "int8", "always_ram": true } },
            "payload_schema": { "title": { "data_type": "text",
                "params": { "type": "text", "tokenizer": "word", "lowercase": true } } }
        })
        .to_string(),
    );
    db.create_collection(&schema).unwrap();
    let got = db.describe_collection(&name).unwrap();
    assert_eq!((got.shards, got.replicas), (2, 1));
    assert_eq!(got.engine, "qdrant");
    assert_eq!(got.payload_indexes[0].field, "title");
    let config: serde_json::Value =
        serde_json::from_str(got.engine_config.as_deref().unwrap()).unwrap();
    assert_eq!(config.pointer("/params/vectors//on_disk"), Some(&serde_json::json!(true)));
    assert_eq!(config.pointer("/params/vectors//hnsw_config/m"), Some(&serde_json::json!(32)));
    assert_eq!(config.pointer("/hnsw_config/m"), Some(&serde_json::json!(24)));
    assert_eq!(
        config.pointer("/quantization_config/scalar/always_ram"),
        Some(&serde_json::json!(true))
    );
    assert_eq!(config.pointer("/params/on_disk_payload"), Some(&serde_json::json!(false)));
    assert_eq!(
        config.pointer("/payload_schema/title/params/tokenizer"),
        Some(&serde_json::json!("word"))
    );
    // A same-engine restore from the described schema is exact.
    let copy = vdr_tests::unique("cfgcopy");
    db.create_collection(&vdr_model::CollectionSchema { name: copy.clone(), ..got.clone() })
        .unwrap();
    let again = db.describe_collection(&copy).unwrap();
    assert_eq!(again.engine_config, got.engine_config);
    assert_eq!(again.payload_indexes, got.payload_indexes);
    db.drop_collection(&name).unwrap();
    db.drop_collection(&copy).unwrap();
}

#[test]
fn qdrant_native_snapshot_streams_out_and_recovers_by_upload() {
    let Some(endpoint) = vdr_tests::servers::endpoint("QDRANT") else { return };
    let mut db = open("qdrant", &endpoint, "QDRANT_API_KEY", serde_json::json!({}));
    let caps = qdrant_caps();
    let name = vdr_tests::unique("snap");
    db.create_collection(&database::schema(&name, &caps)).unwrap();
    let pts = database::points(&caps, 0..300);
    db.import_batch(&name, pts.clone()).unwrap();
    let bytes = read_snapshot(db.as_mut(), &name);
    assert!(bytes.len() > 4096, "a snapshot of 300 points spans several ranges");
    db.drop_collection(&name).unwrap();
    let mut writer = db.restore_native_snapshot(&name, bytes.len() as u64).unwrap();
    for chunk in bytes.chunks(10_000) {
        writer.write(chunk).unwrap();
    }
    writer.finish().unwrap();
    assert_eq!(db.count(&name).unwrap(), 300);
    database::assert_same_points(&pts, &export_all(db.as_mut(), &name), caps.tolerance);
    db.drop_collection(&name).unwrap();
}

// --- faiss ---------------------------------------------------------------------------

use std::path::{Path, PathBuf};

/// Run tests/standins/faiss_fixtures.py; its JSON output, if any.
fn faiss_helper(python: &Path, args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("standins/faiss_fixtures.py");
    let out = std::process::Command::new(python).arg(script).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "faiss_fixtures {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    if text.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

/// Fixtures written by faiss-cpu into a fresh directory, and the plugin on it.
fn faiss_fixtures() -> Option<(PathBuf, tempfile::TempDir, Box<dyn Database>)> {
    let python = vdr_tests::python_with("faiss")?;
    let dir = tempfile::tempdir().unwrap();
    faiss_helper(&python, &["write", dir.path().to_str().unwrap()]);
    let db = vdr_tests::runtime()
        .open_database("faiss", &Grant::directory(dir.path(), true), "faiss test".into())
        .unwrap();
    Some((python, dir, db))
}

/// The exported points hold exactly the vectors and ids faiss itself reconstructs.
fn assert_points_match_faiss(points: &[vdr_model::Point], faiss: &serde_json::Value) {
    let ids: Vec<u64> = serde_json::from_value(faiss["ids"].clone()).unwrap();
    let bits: Vec<Vec<u32>> = serde_json::from_value(faiss["vectors"].clone()).unwrap();
    assert_eq!(points.len(), ids.len());
    for (p, (id, want)) in points.iter().zip(ids.iter().zip(&bits)) {
        assert_eq!(p.id, vdr_model::PointId::Num(*id));
        let got: Vec<u32> = p.dense("").unwrap().iter().map(|x| x.to_bits()).collect();
        assert_eq!(&got, want, "vector of {id} bit-exact");
    }
}

#[test]
fn faiss_flat_and_idmap_files_survive_export_drop_import_and_search_identically() {
    let Some((python, dir, mut db)) = faiss_fixtures() else { return };
    let names = db.list_collections().unwrap();
    assert_eq!(names, ["empty_l2", "flat_ip", "flat_l2", "hnsw", "idmap", "ivfpq"]);
    for (name, file) in [
        ("flat_l2", "flat_l2.index"),
        ("flat_ip", "flat_ip.faissindex"),
        ("idmap", "idmap.index"),
        ("empty_l2", "empty_l2.index"),
    ] {
        let path = dir.path().join(file);
        let path = path.to_str().unwrap();
        let neighbours = faiss_helper(&python, &["search", path, "5"]);
        let vectors = faiss_helper(&python, &["vectors", path]);
        let original = std::fs::read(path).unwrap();
        let schema = db.describe_collection(name).unwrap();
        let points = export_all(db.as_mut(), name);
        assert_points_match_faiss(&points, &vectors);
        assert_eq!(db.count(name).unwrap(), points.len() as u64);

        db.drop_collection(name).unwrap();
        assert!(!Path::new(path).exists());
        db.create_collection(&schema).unwrap();
        for chunk in points.chunks(128) {
            db.import_batch(name, chunk.to_vec()).unwrap();
        }
        db.flush(name).unwrap();

        assert_eq!(
            faiss_helper(&python, &["search", path, "5"]),
            neighbours,
            "{name}: same neighbours"
        );
        assert_eq!(faiss_helper(&python, &["vectors", path]), vectors, "{name}: same vectors");
        assert_eq!(std::fs::read(path).unwrap(), original, "{name}: the same bytes as faiss wrote");
    }
    // The plugin's own search agrees: a point is nearest to itself.
    let pts = export_all(db.as_mut(), "idmap");
    let hits = db.search("idmap", "", pts[42].dense("").unwrap(), 3).unwrap();
    assert_eq!(hits[0].id, pts[42].id);
}

#[test]
fn faiss_hnsw_exports_its_vectors_and_restores_exactly_from_its_native_snapshot() {
    let Some((python, dir, mut db)) = faiss_fixtures() else { return };
    let path = dir.path().join("hnsw.index");
    let path = path.to_str().unwrap();
    let neighbours = faiss_helper(&python, &["search", path, "5"]);
    let original = std::fs::read(path).unwrap();
    let points = export_all(db.as_mut(), "hnsw");
    assert_points_match_faiss(&points, &faiss_helper(&python, &["vectors", path]));
    let e = db.import_batch("hnsw", points[..1].to_vec()).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unsupported, "{e}");

    let bytes = read_snapshot(db.as_mut(), "hnsw");
    assert_eq!(bytes, original, "the native snapshot is the file itself");
    db.drop_collection("hnsw").unwrap();
    let mut writer = db.restore_native_snapshot("hnsw", bytes.len() as u64).unwrap();
    for chunk in bytes.chunks(5000) {
        writer.write(chunk).unwrap();
    }
    writer.finish().unwrap();
    assert_eq!(std::fs::read(path).unwrap(), original);
    assert_eq!(faiss_helper(&python, &["search", path, "5"]), neighbours);
}

#[test]
fn faiss_ivfpq_is_backed_up_as_an_opaque_file_with_a_note() {
    let Some((python, dir, mut db)) = faiss_fixtures() else { return };
    let path = dir.path().join("ivfpq.index");
    let path = path.to_str().unwrap();
    let neighbours = faiss_helper(&python, &["search", path, "5"]);
    let schema = db.describe_collection("ivfpq").unwrap();
    assert_eq!(schema.vectors[0].dimension, 16);
    let config: serde_json::Value =
        serde_json::from_str(schema.engine_config.as_deref().unwrap()).unwrap();
    assert_eq!(config["kind"], "IwPQ");
    assert_eq!(config["vectors_recoverable"], false);
    assert!(config["note"].as_str().unwrap().contains("opaque file"));
    let e = db.open_export("ivfpq", None).err().unwrap();
    assert_eq!(e.kind, ErrorKind::Unsupported);
    assert!(e.to_string().contains("native snapshot"), "{e}");
    assert_eq!(db.count("ivfpq").unwrap(), 300);

    let bytes = read_snapshot(db.as_mut(), "ivfpq");
    db.drop_collection("ivfpq").unwrap();
    let mut writer = db.restore_native_snapshot("ivfpq", bytes.len() as u64).unwrap();
    writer.write(&bytes).unwrap();
    writer.finish().unwrap();
    assert_eq!(faiss_helper(&python, &["search", path, "5"]), neighbours);
}

// --- pinecone ------------------------------------------------------------------------

/// The stand-in serves one cosine index of dimension 8 (`database::DIM`).
fn pinecone_caps() -> DbCaps {
    // Pinecone ids are strings; a cosine index keeps dense values only
    // (sparse values need a dotproduct index), one vector per record.
    DbCaps {
        num_ids: false,
        sparse: false,
        multi: false,
        named_vectors: false,
        metric: Metric::Cosine,
        ..DbCaps::default()
    }
}

fn pinecone(options: serde_json::Value) -> Option<Box<dyn Database>> {
    let endpoint = vdr_tests::servers::endpoint("PINECONE")?;
    Some(open("pinecone", &endpoint, "PINECONE_API_KEY", options))
}

#[test]
fn pinecone_passes_the_database_conformance_suite() {
    let Some(mut db) = pinecone(serde_json::json!({})) else { return };
    database::run(db.as_mut(), &pinecone_caps(), &vdr_tests::unique("conf"));
}

#[test]
fn pinecone_describes_its_index_through_the_control_plane() {
    let Some(endpoint) = vdr_tests::servers::endpoint("PINECONE") else { return };
    let options = serde_json::json!({ "control-plane": endpoint, "index": "vdr-test" });
    let mut db = open("pinecone", &endpoint, "PINECONE_API_KEY", options);
    let name = vdr_tests::unique("cp");
    db.create_collection(&database::schema(&name, &pinecone_caps())).unwrap();
    let schema = db.describe_collection(&name).unwrap();
    let config: serde_json::Value =
        serde_json::from_str(schema.engine_config.as_deref().unwrap()).unwrap();
    assert_eq!(config.pointer("/index/spec/serverless/cloud"), Some(&serde_json::json!("aws")));
    assert_eq!(config.pointer("/index/dimension"), Some(&serde_json::json!(8)));
    // A schema the index cannot hold is refused with the reason.
    let mut wrong = database::schema(&vdr_tests::unique("cpdim"), &pinecone_caps());
    wrong.vectors[0].dimension = 3;
    let e = db.create_collection(&wrong).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidInput, "{e}");
    db.drop_collection(&name).unwrap();
}

#[test]
fn pinecone_refuses_a_wrong_api_key() {
    let Some(endpoint) = vdr_tests::servers::endpoint("PINECONE") else { return };
    let mut grant = Grant::endpoint(&endpoint).unwrap();
    grant.secrets = vec![("api-key".into(), "wrong".into())];
    let mut db = vdr_tests::runtime().open_database("pinecone", &grant, "pinecone".into()).unwrap();
    assert_eq!(db.list_collections().unwrap_err().kind, ErrorKind::Unauthorized);
}

// --- weaviate ------------------------------------------------------------------------

fn weaviate_caps() -> DbCaps {
    // Object ids are UUIDs; no sparse vectors; a class has either one
    // unnamed vector or named ones, so the suite's main vector is named.
    DbCaps { num_ids: false, sparse: false, vector: "main".into(), ..DbCaps::default() }
}

#[test]
fn weaviate_passes_the_database_conformance_suite() {
    let Some(endpoint) = vdr_tests::servers::endpoint("WEAVIATE") else { return };
    let mut db = open("weaviate", &endpoint, "WEAVIATE_API_KEY", serde_json::json!({}));
    // Weaviate class names start with a capital letter.
    database::run(db.as_mut(), &weaviate_caps(), &vdr_tests::unique("Conf"));
}

#[test]
fn weaviate_keeps_tenants_apart() {
    let Some(endpoint) = vdr_tests::servers::endpoint("WEAVIATE") else { return };
    let caps = weaviate_caps();
    let name = vdr_tests::unique("Tenanted");
    let mut a = open("weaviate", &endpoint, "WEAVIATE_API_KEY", serde_json::json!({"tenant": "a"}));
    a.create_collection(&database::schema(&name, &caps)).unwrap();
    let pts = database::points(&caps, 0..30);
    a.import_batch(&name, pts.clone()).unwrap();
    assert_eq!(a.count(&name).unwrap(), 30);
    database::assert_same_points(&pts, &export_all(a.as_mut(), &name), 0.0);
    let hits = a.search(&name, "main", pts[4].dense("main").unwrap(), 2).unwrap();
    assert_eq!(hits[0].id, pts[4].id);
    let schema = a.describe_collection(&name).unwrap();
    assert_eq!(schema.vector("main").unwrap().dimension, database::DIM);
    // Without a tenant, a multi-tenant class refuses object access.
    let mut none = open("weaviate", &endpoint, "WEAVIATE_API_KEY", serde_json::json!({}));
    assert!(none.count(&name).is_err());
    a.drop_collection(&name).unwrap();
}

#[test]
fn weaviate_refuses_a_wrong_api_key() {
    let Some(endpoint) = vdr_tests::servers::endpoint("WEAVIATE") else { return };
    let mut grant = Grant::endpoint(&endpoint).unwrap();
    grant.secrets = vec![("api-key".into(), "wrong".into())];
    let mut db = vdr_tests::runtime().open_database("weaviate", &grant, "weaviate".into()).unwrap();
    assert_eq!(db.list_collections().unwrap_err().kind, ErrorKind::Unauthorized);
}
