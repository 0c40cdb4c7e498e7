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
