//! The chroma and milvus plugins against their real servers (Chroma 1.5,
//! Milvus 2.3.5 REST v1, started by `scripts/test-servers.sh`): the database
//! conformance suite, plus an ignored benchmark beside the vendors' Python
//! clients.

use vdr_model::{Database, Metric};
use vdr_runtime::Grant;
use vdr_tests::conformance::database::{self, DbCaps};

fn open(plugin: &str, url: &str, options: serde_json::Value) -> Box<dyn Database> {
    let mut grant = Grant::endpoint(url).unwrap();
    grant.options = options;
    vdr_tests::runtime()
        .open_database(plugin, &grant, format!("{plugin} test"))
        .unwrap_or_else(|e| panic!("opening {plugin} at {url}: {e:#}"))
}

/// Chroma: string ids natively, numeric ids through the `#n:` marker; one
/// unnamed dense vector. Cosine vectors come back within ~1e-7.
fn chroma_caps(metric: Metric) -> DbCaps {
    DbCaps {
        num_ids: true,
        string_ids: true,
        sparse: false,
        multi: false,
        named_vectors: false,
        tolerance: if metric == Metric::Cosine { 1e-6 } else { 0.0 },
        metric,
        vector: String::new(),
    }
}

/// Milvus REST v1: ids of both kinds (kept in the `vdr_id` dynamic field,
/// the primary key is Milvus' auto id); one unnamed dense vector.
fn milvus_caps() -> DbCaps {
    DbCaps {
        num_ids: true,
        string_ids: true,
        sparse: false,
        multi: false,
        named_vectors: false,
        tolerance: 0.0,
        metric: Metric::Euclidean,
        vector: String::new(),
    }
}

#[test]
fn chroma_passes_the_database_conformance_suite() {
    let Some(url) = vdr_tests::servers::endpoint("CHROMA") else { return };
    let mut db = open("chroma", &url, serde_json::json!({}));
    database::run(db.as_mut(), &chroma_caps(Metric::Euclidean), &vdr_tests::unique("conf"));
}

#[test]
fn chroma_passes_with_cosine_in_its_own_tenant_and_database() {
    let Some(url) = vdr_tests::servers::endpoint("CHROMA") else { return };
    let options = serde_json::json!({
        "tenant": vdr_tests::unique("tenant"),
        "database": vdr_tests::unique("db"),
    });
    let mut db = open("chroma", &url, options);
    database::run(db.as_mut(), &chroma_caps(Metric::Cosine), &vdr_tests::unique("cos"));
}

#[test]
fn chroma_refuses_short_names_clearly() {
    let Some(url) = vdr_tests::servers::endpoint("CHROMA") else { return };
    let mut db = open("chroma", &url, serde_json::json!({}));
    let e = db.create_collection(&database::schema("ab", &chroma_caps(Metric::Euclidean)));
    let e = e.unwrap_err();
    assert_eq!(e.kind, vdr_model::ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("3-512"), "{e}");
}

#[test]
fn milvus_passes_the_database_conformance_suite() {
    let Some(url) = vdr_tests::servers::endpoint("MILVUS") else { return };
    let mut db = open("milvus", &url, serde_json::json!({}));
    database::run(db.as_mut(), &milvus_caps(), &vdr_tests::unique("conf"));
}
