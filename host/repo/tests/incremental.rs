//! Incremental backups from a database's change feed (the memory database
//! keeps one): they must hold exactly what a full export would.

mod common;
use common::*;
use vdr_model::testing::MemoryDatabase;
use vdr_model::{Change, Database, Point, PointId, VectorData};
use vdr_repo::*;

/// ~1 KiB chunks: a few records each, as real collections have with the
/// default ~6 KiB chunks and ~1.5 KiB records.
fn fine_chunks() -> InitOptions {
    InitOptions {
        chunker: ChunkerParams { min_size: 512, avg_size: 1024, max_size: 64 << 10 },
        ..small_options()
    }
}

fn read_all() -> CheckOptions {
    CheckOptions { read_data: ReadData::All }
}

fn run(repo: &Repository, db: &mut MemoryDatabase, full: bool) -> BackupSummary {
    let opts = BackupOptions { full, ..Default::default() };
    repo.backup(db, &[], &[], &source(), opts).unwrap()
}

/// Change `n` records' vectors (every `step`-th id), delete `deleted`
/// others, insert `inserted` new ones (numeric and string ids).
fn mutate(db: &mut MemoryDatabase, seed: u64, n: usize, deleted: usize, inserted: usize) {
    let points = db.points("docs");
    let step = points.len() / (n + deleted).max(1);
    let mut changed: Vec<Point> = Vec::new();
    let mut doomed: Vec<PointId> = Vec::new();
    for (i, mut p) in points.into_iter().step_by(step.max(1)).enumerate() {
        if i < n {
            if let VectorData::Dense(d) = &mut p.vectors[0].data {
                d[0] += seed as f32;
            }
            p.payload = Some(format!(r#"{{"changed":{seed}}}"#));
            changed.push(p);
        } else if i < n + deleted {
            doomed.push(p.id);
        }
    }
    for (i, mut p) in mixed_points(inserted).into_iter().enumerate() {
        p.id = if i % 2 == 0 {
            PointId::Num(1_000_000_000 + seed * 1000 + i as u64)
        } else {
            PointId::Str(format!("new-{seed}-{i}"))
        };
        changed.push(p);
    }
    db.import_batch("docs", changed).unwrap();
    db.delete_points("docs", &doomed).unwrap();
}

fn restored(repo: &Repository, snapshot: &str) -> Vec<Point> {
    let mut target = MemoryDatabase::new();
    repo.restore(snapshot, &mut target, RestoreOptions::default()).unwrap();
    target.points("docs")
}

fn entry(repo: &Repository, id: &Id) -> CollectionEntry {
    let snap = repo.snapshot(&id.hex(), Some("docs")).unwrap();
    snap.entry("docs").unwrap().clone()
}

#[test]
fn an_incremental_from_the_change_feed_holds_exactly_what_a_full_export_would() {
    let f = fixture(fine_chunks());
    let mut db = db_with("docs", mixed_schema("docs"), mixed_points(3000));
    let first = run(&f.repo, &mut db, false);
    assert_eq!(first.collections[0].mode, "full");

    mutate(&mut db, 1, 30, 10, 20);
    let incremental = run(&f.repo, &mut db, false);
    let c = &incremental.collections[0];
    assert_eq!((c.mode, c.changed), ("changes", Some(60)), "{c:?}");
    assert_eq!(c.records, 3010);
    assert!(
        c.bytes_read * 10 < first.bytes_read,
        "read {} of {} bytes",
        c.bytes_read,
        first.bytes_read
    );
    let full = run(&f.repo, &mut db, true);
    assert_eq!(full.collections[0].mode, "full");

    let (a, b) = (entry(&f.repo, &incremental.snapshot), entry(&f.repo, &full.snapshot));
    assert_eq!((a.records, &a.content_digest), (b.records, &b.content_digest));
    let live = normalized(db.points("docs"));
    assert_eq!(restored(&f.repo, &incremental.snapshot.hex()), live);
    let report = f.repo.check(&read_all()).unwrap();
    assert!(report.ok(), "{report:?}");
    let verify = f.repo.verify_basic(&incremental.snapshot.hex(), &mut db, "docs", None).unwrap();
    assert!(verify.ok, "{verify:?}");
}

#[test]
fn incrementals_chain_and_survive_forget_and_prune_of_their_parents() {
    let f = fixture(small_options());
    let mut db = db_with("docs", mixed_schema("docs"), mixed_points(2000));
    run(&f.repo, &mut db, false);
    for seed in 1..=3 {
        mutate(&mut db, seed, 15, 5, 5);
        let s = run(&f.repo, &mut db, false);
        assert_eq!(s.collections[0].mode, "changes", "round {seed}: {:?}", s.collections[0]);
        assert_eq!(restored(&f.repo, "latest"), normalized(db.points("docs")), "round {seed}");
    }
    // Only the newest snapshot stays: its record map must survive prune.
    f.repo.forget(&KeepPolicy { last: Some(1), ..Default::default() }, false).unwrap();
    let pruned = f.repo.prune().unwrap();
    assert!(pruned.packs_deleted > 0, "{pruned:?}");
    mutate(&mut db, 9, 15, 5, 5);
    let s = run(&f.repo, &mut db, false);
    assert_eq!(s.collections[0].mode, "changes", "{:?}", s.collections[0]);
    assert_eq!(restored(&f.repo, "latest"), normalized(db.points("docs")));
    let report = f.repo.check(&read_all()).unwrap();
    assert!(report.ok(), "{report:?}");
}

#[test]
fn a_feed_that_no_longer_knows_the_position_or_a_forced_run_reads_everything() {
    let f = fixture(small_options());
    let mut db = db_with("docs", mixed_schema("docs"), mixed_points(1000));
    run(&f.repo, &mut db, false);

    // Re-created (as a restore over it would): same name, new incarnation.
    let points = db.points("docs");
    db.insert_collection(mixed_schema("docs"), points);
    let s = run(&f.repo, &mut db, false);
    let c = &s.collections[0];
    assert_eq!(c.mode, "full");
    assert!(c.full_because.as_deref().unwrap_or("").contains("no longer knows"), "{c:?}");

    mutate(&mut db, 1, 5, 0, 0);
    let forced = run(&f.repo, &mut db, true);
    assert_eq!(forced.collections[0].mode, "full");
    assert_eq!(forced.collections[0].full_because, None);
    // A forced run records a position too: the next one is incremental.
    mutate(&mut db, 2, 5, 0, 0);
    let next = run(&f.repo, &mut db, false);
    assert_eq!(next.collections[0].mode, "changes");
    assert_eq!(restored(&f.repo, "latest"), normalized(db.points("docs")));
}

#[test]
fn an_update_only_incremental_stores_only_the_rebuilt_chunks() {
    let f = fixture(fine_chunks());
    let mut db = db_with("docs", schema("docs", 64), dense_points(5000, 64, 1));
    let first = run(&f.repo, &mut db, false);
    mutate(&mut db, 1, 50, 0, 0);
    let s = run(&f.repo, &mut db, false);
    let c = &s.collections[0];
    assert_eq!(c.mode, "changes");
    // 1 % of the records, in 50 rebuilt regions (a grown record may add a
    // cut in its region); the record map (same ids) is stored already.
    assert!(s.chunks_new <= 100, "{} new chunks", s.chunks_new);
    assert!(s.bytes_new * 10 < first.bytes_new, "{} of {}", s.bytes_new, first.bytes_new);
}

#[test]
fn an_empty_collection_grows_incrementally_and_shrinks_to_empty_again() {
    let f = fixture(fine_chunks());
    let mut db = db_with("docs", mixed_schema("docs"), Vec::new());
    let first = run(&f.repo, &mut db, false);
    assert_eq!(first.collections[0].records, 0);
    db.import_batch("docs", mixed_points(300)).unwrap();
    let grown = run(&f.repo, &mut db, false);
    assert_eq!((grown.collections[0].mode, grown.collections[0].records), ("changes", 300));
    assert_eq!(restored(&f.repo, "latest"), normalized(mixed_points(300)));
    let ids: Vec<PointId> = mixed_points(300).into_iter().map(|p| p.id).collect();
    db.delete_points("docs", &ids).unwrap();
    let emptied = run(&f.repo, &mut db, false);
    assert_eq!((emptied.collections[0].mode, emptied.collections[0].records), ("changes", 0));
    assert_eq!(emptied.collections[0].chunks, 0);
    assert!(restored(&f.repo, "latest").is_empty());
    assert!(f.repo.check(&read_all()).unwrap().ok());
}

#[test]
fn an_incremental_killed_at_any_moment_leaves_a_consistent_repository() {
    let f = fixture(fine_chunks());
    let mut db = db_with("docs", mixed_schema("docs"), mixed_points(2000));
    let first = run(&f.repo, &mut db, false);
    mutate(&mut db, 1, 40, 10, 10);
    let mut failed = 0;
    for n in [0, 1, 2, 3, 5, 8, 13, 21] {
        f.store.fail_after(n);
        let opts = BackupOptions { index_batch_packs: 1, ..Default::default() };
        let r = f.repo.backup(&mut db, &[], &[], &source(), opts);
        f.store.heal();
        failed += usize::from(r.is_err());
        f.repo.unlock(true).unwrap();
        let report = f.repo.check(&read_all()).unwrap();
        assert!(report.ok(), "after a failure at write {n}: {:?}", report.problems);
        assert_eq!(restored(&f.repo, &first.snapshot.hex()), normalized(mixed_points(2000)));
    }
    assert!(failed > 0, "fault injection never hit");
    let last = run(&f.repo, &mut db, false);
    assert_eq!(last.collections[0].mode, "changes");
    assert_eq!(restored(&f.repo, "latest"), normalized(db.points("docs")));
}

/// One chunk holds the whole (small) collection: every unchanged record is
/// a neighbour the rebuild of a change must fetch.
fn one_chunk() -> InitOptions {
    InitOptions {
        chunker: ChunkerParams { min_size: 4 << 20, avg_size: 8 << 20, max_size: 16 << 20 },
        ..small_options()
    }
}

/// Change record 500's payload through the database; returns its id.
fn change_one(db: &mut MemoryDatabase) -> PointId {
    let mut p = db.points("docs")[500].clone();
    p.payload = Some(r#"{"changed":true}"#.into());
    db.import_batch("docs", vec![p.clone()]).unwrap();
    p.id
}

#[test]
fn a_database_that_loses_a_neighbour_gets_a_full_export_not_a_short_snapshot() {
    let f = fixture(one_chunk());
    // 12,000 records in one chunk: the rebuild has sent a segment to the
    // workers before the loss shows, and that attempt must leave no trace.
    let mut db = db_with("docs", mixed_schema("docs"), mixed_points(12_000));
    let mut other = mixed_schema("other");
    other.name = "other".into();
    db.insert_collection(other, mixed_points(50));
    run(&f.repo, &mut db, false);
    let changed = change_one(&mut db);
    let lost = db.points("docs")[10].id.clone();
    assert_ne!(lost, changed);
    db.hidden_from_fetch = vec![lost];
    let s = run(&f.repo, &mut db, false);
    let c = &s.collections[0];
    assert_eq!(c.mode, "full", "{c:?}");
    assert!(c.full_because.as_deref().unwrap().contains("did not return 1"), "{c:?}");
    assert_eq!(c.records, 12_000);
    let stream = entry(&f.repo, &s.snapshot).stream_length;
    assert_eq!(c.bytes_read, stream, "the abandoned attempt's bytes are not counted");
    db.hidden_from_fetch.clear();
    let mut target = MemoryDatabase::new();
    f.repo.restore("latest", &mut target, RestoreOptions::default()).unwrap();
    assert_eq!(target.points("docs"), normalized(db.points("docs")));
    assert_eq!(target.points("other"), normalized(db.points("other")));
    assert!(f.repo.check(&read_all()).unwrap().ok());
    // Nothing wrong with the database after all: the next one is incremental.
    change_one(&mut db);
    assert_eq!(run(&f.repo, &mut db, false).collections[0].mode, "changes");
}

#[test]
fn a_neighbour_deleted_while_the_backup_reads_is_confirmed_by_the_feed_and_left_out() {
    let f = fixture(one_chunk());
    let mut db = db_with("docs", mixed_schema("docs"), mixed_points(1000));
    run(&f.repo, &mut db, false);
    change_one(&mut db);
    db.before_fetch = vec![Change::Delete(db.points("docs")[10].id.clone())];
    let s = run(&f.repo, &mut db, false);
    let c = &s.collections[0];
    assert_eq!((c.mode, c.records), ("changes", 999), "{c:?}");
    assert_eq!(restored(&f.repo, "latest"), normalized(db.points("docs")));
    // The next incremental hears of the delete, finds nothing to remove.
    let next = run(&f.repo, &mut db, false);
    assert_eq!((next.collections[0].mode, next.collections[0].records), ("changes", 999));
    assert_eq!(restored(&f.repo, "latest"), normalized(db.points("docs")));
}
