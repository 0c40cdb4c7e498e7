//! The two embedded reference plugins pass the conformance suites.

use vdr_runtime::Grant;
use vdr_tests::conformance::{database, storage};

#[test]
fn fs_storage_passes_the_storage_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let rt = vdr_tests::runtime();
    let store = rt.open_store("fs", &Grant::directory(dir.path(), true), "fs test".into()).unwrap();
    storage::run(
        store.as_ref(),
        storage::StorageCaps { multipart: true, versions: false, if_absent: true },
        "conf",
    );
}

#[test]
fn fs_storage_refuses_keys_that_would_escape_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("repo");
    std::fs::create_dir(&inner).unwrap();
    let rt = vdr_tests::runtime();
    let store = rt.open_store("fs", &Grant::directory(&inner, true), "fs test".into()).unwrap();
    for key in ["../escaped", "a/../../escaped", "/abs", "a//b", ""] {
        assert!(store.put(key, b"x", false).is_err(), "{key:?} must be refused");
    }
    assert!(!dir.path().join("escaped").exists());
}

#[test]
fn local_database_passes_the_database_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let rt = vdr_tests::runtime();
    let mut db = rt
        .open_database("local", &Grant::directory(dir.path(), true), "local test".into())
        .unwrap();
    database::run(db.as_mut(), &database::DbCaps::default(), "conf");
}

#[test]
fn local_database_keeps_collections_across_instances() {
    let dir = tempfile::tempdir().unwrap();
    let rt = vdr_tests::runtime();
    let caps = database::DbCaps::default();
    let pts = database::points(&caps, 0..50);
    {
        let mut db =
            rt.open_database("local", &Grant::directory(dir.path(), true), "local".into()).unwrap();
        db.create_collection(&database::schema("kept", &caps)).unwrap();
        db.import_batch("kept", pts.clone()).unwrap();
        db.flush("kept").unwrap();
    }
    let mut db =
        rt.open_database("local", &Grant::directory(dir.path(), false), "local".into()).unwrap();
    assert_eq!(db.count("kept").unwrap(), 50);
    let hits = db.search("kept", "", pts[7].dense("").unwrap(), 1).unwrap();
    assert_eq!(hits[0].id, pts[7].id);
}
