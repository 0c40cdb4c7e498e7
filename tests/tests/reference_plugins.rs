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
/// another log, of another epoch, whose length does not fall on a frame
/// boundary, or whose last frame is not the one at that length is ignored
/// and the whole log scanned: the collection reads the same in every case,
/// read-only or writable, and a writable open never cuts the log short.
#[test]
fn local_database_reopens_from_its_checkpoint_or_else_the_whole_log() {
    use vdr_model::{Point, PointId};
    let dir = tempfile::tempdir().unwrap();
    let rt = vdr_tests::runtime();
    let caps = database::DbCaps::default();
    let open = |write: bool| {
        rt.open_database("local", &Grant::directory(dir.path(), write), "local".into()).unwrap()
    };
    let log = dir.path().join("kept/points.log");
    let checkpoint = dir.path().join("kept/live.bin");
    let mut expected = database::points(&caps, 0..6200);
    {
        let mut db = open(true);
        db.create_collection(&database::schema("kept", &caps)).unwrap();
        db.import_batch("kept", expected[..6000].to_vec()).unwrap();
        db.flush("kept").unwrap();
        // After the checkpoint: new points, replaced points, deletes.
        db.import_batch("kept", expected[6000..].to_vec()).unwrap();
        for p in &mut expected[10..20] {
            p.payload = Some(format!(r#"{{"replaced":"{}"}}"#, p.id.to_string().len()));
        }
        db.import_batch("kept", expected[10..20].to_vec()).unwrap();
        let gone: Vec<PointId> = expected.drain(..5).map(|p| p.id).collect();
        db.delete_points("kept", &gone).unwrap();
        // Another collection's checkpoint: valid, but of another log.
        db.create_collection(&database::schema("other", &caps)).unwrap();
        db.import_batch("other", database::points(&caps, 100..200)).unwrap();
        db.flush("other").unwrap();
    }
    // The log is read through a 1 MiB buffer: a scan that lost its place
    // after looking at the checkpoint would show only beyond it.
    assert!(std::fs::metadata(&log).unwrap().len() > 3 << 19);
    let original = std::fs::read(&checkpoint).expect("flush writes live.bin");
    // `trusted`: whether the checkpoint must be used; a writable open
    // deletes one it ignores, so the path taken shows.
    let reads_as_expected =
        |expected: &[Point], checkpoint_bytes: &[u8], trusted: bool, case: &str| {
            for write in [false, true] {
                std::fs::write(&checkpoint, checkpoint_bytes).unwrap();
                let mut db = open(write);
                let got = database::export_all(db.as_mut(), "kept", 1000);
                assert_eq!(got.len(), expected.len(), "{case} (writable: {write})");
                database::assert_same_points(expected, &got, 0.0);
                if write {
                    assert_eq!(checkpoint.exists(), trusted, "{case}: checkpoint used or not");
                }
            }
        };
    reads_as_expected(&expected, &original, true, "checkpoint and the frames after it");

    let reseal = |mut body: Vec<u8>| {
        body.truncate(body.len() - 4);
        let crc = crc32fast::hash(&body);
        body.extend_from_slice(&crc.to_le_bytes());
        body
    };
    // live.bin words after the magic: epoch, log_len, last, last_crc, ...
    let with_word = |word: usize, f: &dyn Fn(u64) -> u64| {
        let (mut b, at) = (original.clone(), 8 + 8 * word);
        let v = u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
        b[at..at + 8].copy_from_slice(&f(v).to_le_bytes());
        reseal(b)
    };
    let mut flipped = original.clone();
    flipped[original.len() / 2] ^= 0x40;
    let cases: [(&str, Vec<u8>); 7] = [
        ("a flipped byte", flipped),
        (
            "another collection's checkpoint",
            std::fs::read(dir.path().join("other/live.bin")).unwrap(),
        ),
        ("another epoch", with_word(0, &|e| e ^ 1)),
        ("a length inside a frame", with_word(1, &|len| len + 3)),
        ("a length past the log", with_word(1, &|len| len + (1 << 30))),
        ("another last frame", with_word(2, &|last| last - 1)),
        ("another last checksum", with_word(3, &|crc| crc ^ 1)),
    ];
    for (case, bytes) in cases {
        reads_as_expected(&expected, &bytes, false, case);
    }

    // A crash while appending: a torn frame right at the checkpoint's
    // length, then one after newer frames. Reads stop at it; a writable
    // open cuts it off; the checkpoint stays good.
    open(true).flush("kept").unwrap();
    let flushed = std::fs::read(&checkpoint).unwrap();
    let tear = |expected: &[Point], case: &str| {
        let length = std::fs::metadata(&log).unwrap().len();
        let mut torn = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        std::io::Write::write_all(&mut torn, &[200, 3, 0, 0, 1, 2, 3, 4, 1, 0]).unwrap();
        reads_as_expected(expected, &flushed, true, case);
        assert_eq!(std::fs::metadata(&log).unwrap().len(), length, "{case}: torn frame cut off");
    };
    tear(&expected, "a torn frame at the checkpoint's length");
    let newer = database::points(&caps, 7000..7050);
    open(true).import_batch("kept", newer.clone()).unwrap();
    expected.extend(newer);
    tear(&expected, "a torn frame after newer frames");
}

#[test]
fn local_database_passes_the_change_feed_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let rt = vdr_tests::runtime();
    let mut db = rt
        .open_database("local", &Grant::directory(dir.path(), true), "local test".into())
        .unwrap();
    vdr_tests::conformance::changes::run(db.as_mut(), &database::DbCaps::default(), "conf");
}

/// Points with ~2 KB payloads, so a few hundred make compaction worthwhile.
fn heavy_points(caps: &database::DbCaps, range: std::ops::Range<u64>) -> Vec<vdr_model::Point> {
    let mut pts = database::points(caps, range);
    for p in &mut pts {
        p.payload = Some(format!(r#"{{"text":"{}"}}"#, "x".repeat(2000)));
    }
    pts
}

#[test]
fn local_change_positions_do_not_survive_a_compaction_or_a_rewritten_tail() {
    let dir = tempfile::tempdir().unwrap();
    let rt = vdr_tests::runtime();
    let caps = database::DbCaps::default();
    let open =
        || rt.open_database("local", &Grant::directory(dir.path(), true), "l".into()).unwrap();

    // Compaction: the log is rewritten under a new epoch.
    let mut db = open();
    db.create_collection(&database::schema("c", &caps)).unwrap();
    db.import_batch("c", heavy_points(&caps, 0..600)).unwrap();
    db.flush("c").unwrap();
    let before = db.current_token("c").unwrap().unwrap();
    let size = || std::fs::metadata(dir.path().join("c/points.log")).unwrap().len();
    let full = size();
    // Rewritten twice: the dead bytes outweigh the live ones.
    db.import_batch("c", heavy_points(&caps, 0..600)).unwrap();
    db.import_batch("c", heavy_points(&caps, 0..600)).unwrap();
    db.flush("c").unwrap();
    assert!(size() < full * 3 / 2, "the flush compacted the log ({} of {full} bytes)", size());
    assert!(db.open_changes("c", &before).unwrap().is_none(), "compacted since the position");
    let after = db.current_token("c").unwrap().unwrap();
    assert!(db.open_changes("c", &after).unwrap().is_some());

    // A crash tears the frame ending at the position off, and later writes
    // cover that offset again: same epoch, but not the history it named.
    db.import_batch("c", heavy_points(&caps, 700..701)).unwrap();
    db.flush("c").unwrap();
    let at = db.current_token("c").unwrap().unwrap();
    drop(db);
    let log = dir.path().join("c/points.log");
    let len = size();
    std::fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(len - 5).unwrap();
    let mut db = open();
    db.import_batch("c", heavy_points(&caps, 800..802)).unwrap();
    db.flush("c").unwrap();
    assert!(size() > len);
    assert!(db.open_changes("c", &at).unwrap().is_none(), "the torn position is refused");
    // A position before the tear still holds, and its feed is exact.
    let mut cursor = db.open_changes("c", &after).unwrap().expect("intact history");
    let mut ids = Vec::new();
    loop {
        let batch = cursor.next_batch(100).unwrap();
        if batch.is_empty() {
            break;
        }
        ids.extend(batch.into_iter().map(|c| match c {
            vdr_model::Change::Upsert(p) => p.id,
            vdr_model::Change::Delete(id) => id,
        }));
    }
    let want: Vec<vdr_model::PointId> =
        heavy_points(&caps, 800..802).into_iter().map(|p| p.id).collect();
    assert!(want.iter().all(|id| ids.contains(id)), "{ids:?}");
    assert_eq!(cursor.count().unwrap(), 602, "the torn point 700 is gone, 800 and 801 came");
}
