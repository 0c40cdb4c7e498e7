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

/// The local store reopens from its checkpoint (`live.bin`, written at a
/// flush) plus the log frames after it. A checkpoint that is damaged, of
/// another log epoch, or whose length does not fall on a frame boundary is
/// ignored and the whole log scanned: the collection reads the same in
/// every case, and a writable open never cuts the log at such a length.
#[test]
fn local_database_reopens_from_its_checkpoint_or_else_the_whole_log() {
    use vdr_model::PointId;
    let dir = tempfile::tempdir().unwrap();
    let rt = vdr_tests::runtime();
    let caps = database::DbCaps::default();
    let open = |write: bool| {
        rt.open_database("local", &Grant::directory(dir.path(), write), "local".into()).unwrap()
    };
    let mut expected = database::points(&caps, 0..80);
    {
        let mut db = open(true);
        db.create_collection(&database::schema("kept", &caps)).unwrap();
        db.import_batch("kept", expected[..60].to_vec()).unwrap();
        db.flush("kept").unwrap();
        // After the checkpoint: new points, replaced points, deletes.
        db.import_batch("kept", expected[60..].to_vec()).unwrap();
        for p in &mut expected[10..20] {
            p.payload = Some(format!(r#"{{"replaced":"{}"}}"#, p.id.to_string().len()));
        }
        db.import_batch("kept", expected[10..20].to_vec()).unwrap();
        let gone: Vec<PointId> = expected.drain(..5).map(|p| p.id).collect();
        db.delete_points("kept", &gone).unwrap();
    }
    let checkpoint = dir.path().join("kept/live.bin");
    let original = std::fs::read(&checkpoint).expect("flush writes live.bin");
    let reads_as_expected = |write: bool, case: &str| {
        let mut db = open(write);
        let got = database::export_all(db.as_mut(), "kept", 1000);
        assert_eq!(got.len(), expected.len(), "{case}");
        database::assert_same_points(&expected, &got, 0.0);
    };
    reads_as_expected(false, "checkpoint and the frames after it");

    let reseal = |mut body: Vec<u8>| {
        body.truncate(body.len() - 4);
        let crc = crc32fast::hash(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        body
    };
    let with_word = |at: usize, f: &dyn Fn(u64) -> u64| {
        let mut b = original.clone();
        let v = u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
        b[at..at + 8].copy_from_slice(&f(v).to_le_bytes());
        reseal(b)
    };
    let mut flipped = original.clone();
    flipped[original.len() / 2] ^= 0x40;
    let cases: [(&str, Vec<u8>); 4] = [
        ("a flipped byte", flipped),
        ("another epoch", with_word(8, &|e| e ^ 1)),
        ("a length inside a frame", with_word(16, &|len| len + 3)),
        ("a length past the log", with_word(16, &|len| len + (1 << 30))),
    ];
    for (case, bytes) in cases {
        std::fs::write(&checkpoint, bytes).unwrap();
        reads_as_expected(true, case);
        reads_as_expected(false, case);
    }
}
