//! The object-store plugins (s3, gcs, azure) pass the storage conformance
//! suite against their real servers (scripts/test-servers.sh). Each test
//! makes its own bucket or container through the plugin's `create-bucket`
//! option, so runs never share state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use vdr_model::{ErrorKind, ObjectStore};
use vdr_runtime::Grant;
use vdr_tests::conformance::storage::{self, StorageCaps};
use vdr_tests::servers::{endpoint, required};
use vdr_tests::unique;

fn open(
    plugin: &str,
    url: &str,
    options: serde_json::Value,
    secrets: &[(&str, String)],
) -> Arc<dyn ObjectStore> {
    let mut grant = Grant::endpoint(url).unwrap();
    grant.options = options;
    grant.secrets = secrets.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    vdr_tests::runtime()
        .open_store(plugin, &grant, format!("{plugin} test"))
        .unwrap_or_else(|e| panic!("opening {plugin} at {url}: {e:#}"))
}

fn seaweed_secrets() -> Vec<(&'static str, String)> {
    vec![
        ("access-key-id", required("S3_SEAWEED_ACCESS_KEY")),
        ("secret-access-key", required("S3_SEAWEED_SECRET_KEY")),
    ]
}

#[test]
fn s3_passes_the_storage_conformance_suite_on_seaweedfs() {
    let Some(url) = endpoint("S3_SEAWEED") else { return };
    let options = json!({
        "bucket": unique("vdr-conf-"), "prefix": "repo/one", "region": "us-east-1",
        "create-bucket": "true", "enable-versioning": "true",
    });
    let store = open("s3", &url, options, &seaweed_secrets());
    let caps = StorageCaps { multipart: true, versions: true, if_absent: true };
    storage::run(store.as_ref(), caps, "conf");
    store.put("timed", b"x", false).unwrap();
    assert!(store.stat("timed").unwrap().modified_ms > 1_600_000_000_000, "Last-Modified parsed");
}

#[test]
fn s3_passes_the_storage_conformance_suite_on_moto() {
    let Some(url) = endpoint("S3_MOTO") else { return };
    // moto checks no signatures; any credentials do.
    let secrets =
        [("access-key-id", "testing".to_string()), ("secret-access-key", "testing".to_string())];
    let options = json!({
        "bucket": unique("vdr-conf-"), "create-bucket": "true", "enable-versioning": "true",
    });
    let store = open("s3", &url, options, &secrets);
    let caps = StorageCaps { multipart: true, versions: true, if_absent: true };
    storage::run(store.as_ref(), caps, "conf");
}

#[test]
fn s3_refuses_a_wrong_secret_quickly_and_clearly() {
    let Some(url) = endpoint("S3_SEAWEED") else { return };
    let secrets = [
        ("access-key-id", required("S3_SEAWEED_ACCESS_KEY")),
        ("secret-access-key", "not-the-secret".to_string()),
    ];
    let store = open("s3", &url, json!({ "bucket": unique("vdr-wrong-") }), &secrets);
    let t0 = Instant::now();
    let e = store.list("", None, 10).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");
    assert!(e.to_string().contains("SignatureDoesNotMatch"), "{e}");
    assert!(!e.to_string().contains("not-the-secret"), "the secret must never appear: {e}");
    assert!(t0.elapsed() < Duration::from_secs(5), "no retry loop: {:?}", t0.elapsed());
}

#[test]
fn s3_without_credentials_says_which_variables_to_set() {
    let Some(url) = endpoint("S3_SEAWEED") else { return };
    let mut grant = Grant::endpoint(&url).unwrap();
    grant.options = json!({ "bucket": "any" });
    let e = vdr_tests::runtime().open_store("s3", &grant, "s3 test".into()).err().expect("refused");
    let text = format!("{e:#}");
    assert!(text.contains("AWS_ACCESS_KEY_ID") && text.contains("AWS_SECRET_ACCESS_KEY"), "{text}");
}

#[test]
fn gcs_passes_the_storage_conformance_suite_on_fake_gcs_server() {
    let Some(url) = endpoint("GCS") else { return };
    let options = json!({
        "bucket": unique("vdr-conf-"), "prefix": "repo", "create-bucket": "true",
        "enable-versioning": "true",
    });
    let store = open("gcs", &url, options, &[]);
    // fake-gcs-server does not enforce ifGenerationMatch (GCS does).
    let caps = StorageCaps { multipart: true, versions: true, if_absent: false };
    storage::run(store.as_ref(), caps, "conf");
}

#[test]
fn azure_passes_the_storage_conformance_suite_on_azurite() {
    let Some(url) = endpoint("AZURE") else { return };
    let options =
        json!({ "bucket": unique("vdr-conf-"), "prefix": "repo", "create-bucket": "true" });
    let store = open("azure", &url, options, &[("account-key", required("AZURE_KEY"))]);
    // Azurite keeps no blob versions, only explicit snapshots.
    let caps = StorageCaps { multipart: true, versions: false, if_absent: true };
    storage::run(store.as_ref(), caps, "conf");
}

#[test]
fn azure_refuses_a_wrong_key_clearly() {
    let Some(url) = endpoint("AZURE") else { return };
    let wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk=".to_string();
    let store =
        open("azure", &url, json!({ "bucket": unique("vdr-wrong-") }), &[("account-key", wrong)]);
    let e = store.list("", None, 10).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unauthorized, "{e}");
}
