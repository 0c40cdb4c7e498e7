//! End to end through the repository: the observer's baseline lands in the
//! manifest, `read_points` streams the snapshot back, and `verify` passes a
//! real restore and fails a damaged one.

mod common;

use common::*;
use std::sync::Arc;
use vdr_model::testing::{MemoryDatabase, MemoryStore};
use vdr_model::{Database, Metric, Point};
use vdr_repo::{BackupOptions, InitOptions, KeySpec, Repository, RestoreOptions, SourceInfo};
use vdr_verify::{Baseline, BaselineObserver, BaselineOptions, Status, VerifyOptions, verify};

fn repository(options: InitOptions) -> Repository {
    let key = KeySpec::Passphrase { passphrase: "pw".into(), work_factor: Some(4) };
    Repository::init(Arc::new(MemoryStore::new()), key, options).unwrap()
}

/// A backup whose observer records `queries` golden queries of `k`.
fn backup_with_baseline(
    repo: &Repository,
    source: &mut MemoryDatabase,
    queries: usize,
    k: usize,
) -> vdr_repo::BackupSummary {
    let observer = BaselineObserver::new(BaselineOptions { queries, k, ..Default::default() });
    let opts = BackupOptions { observers: vec![Box::new(observer)], ..Default::default() };
    repo.backup(source, &[], &[], &SourceInfo::default(), opts).unwrap()
}

#[test]
fn backup_baseline_restore_and_verify() {
    let repo = repository(InitOptions::default());
    let s = schema("docs", 12, Metric::Dot);
    let pts = points(500, 12, 11);
    let mut source = MemoryDatabase::new();
    source.insert_collection(s.clone(), pts.clone());
    let mut second_handle = MemoryDatabase::new();
    second_handle.insert_collection(s.clone(), pts.clone());

    let observer =
        BaselineObserver::new(BaselineOptions { queries: 20, k: 5, ..Default::default() })
            .measure_with(&mut second_handle);
    let opts = BackupOptions { observers: vec![Box::new(observer)], ..Default::default() };
    let summary = repo.backup(&mut source, &[], &[], &SourceInfo::default(), opts).unwrap();
    let id = summary.snapshot.hex();
    let snap = repo.snapshot(&id, None).unwrap();
    let entry = snap.collection("docs").unwrap().clone();
    let b: Baseline = Baseline::from_entry(&entry).unwrap().unwrap();
    assert_eq!(b.queries.len(), 20);
    assert!(b.source.as_ref().unwrap().recall_at_k > 0.999);

    let mut target = MemoryDatabase::new();
    let restore =
        RestoreOptions { collections: vec![("docs".into(), "live".into())], ..Default::default() };
    repo.restore(&id, &mut target, restore).unwrap();

    let mut snapshot_points: Vec<Point> = Vec::new();
    repo.read_points(&id, "docs", |p| {
        snapshot_points.push(p);
        Ok(())
    })
    .unwrap();
    assert_eq!(snapshot_points.len(), 500);

    let opts = VerifyOptions::default();
    let mut it = snapshot_points.clone().into_iter();
    let r = verify(&mut target, "live", &entry, Some(&mut it), &opts);
    assert!(r.ok, "{}", r.to_table());

    target.delete_points("live", &[snapshot_points[7].id.clone()]).unwrap();
    let mut it = snapshot_points.into_iter();
    let r = verify(&mut target, "live", &entry, Some(&mut it), &opts);
    assert!(!r.ok);
    assert_eq!(r.check("content").unwrap().status, Status::Fail);
}

#[test]
fn an_incremental_backup_carries_the_baseline_and_the_restore_verifies() {
    let repo = repository(InitOptions::default());
    // Dot: the metric the memory database searches by.
    let s = schema("docs", 12, Metric::Dot);
    let mut source = MemoryDatabase::new();
    source.insert_collection(s.clone(), points(3000, 12, 11));
    let backup = |source: &mut MemoryDatabase| backup_with_baseline(&repo, source, 20, 5);
    backup(&mut source);
    // 1 % of the records move, through the database (its change feed sees it).
    let mut moved = source.points("docs");
    moved.retain(|p| matches!(p.id, vdr_model::PointId::Num(n) if n % 100 == 3));
    for p in &mut moved {
        let vdr_model::VectorData::Dense(v) = &mut p.vectors[0].data else { unreachable!() };
        v.iter_mut().for_each(|x| *x = -*x);
    }
    source.import_batch("docs", moved).unwrap();
    let summary = backup(&mut source);
    assert_eq!(summary.collections[0].mode, "changes", "{:?}", summary.collections[0]);

    let id = summary.snapshot.hex();
    let entry = repo.snapshot(&id, None).unwrap().collection("docs").unwrap().clone();
    let b: Baseline = Baseline::from_entry(&entry).unwrap().unwrap();
    assert_eq!((b.queries.len(), b.points), (20, 3000));
    let live = source.points("docs");
    for q in &b.queries {
        assert_eq!(q.truth, exact_top(Metric::Dot, &q.vector, &live, 5));
    }
    let mut target = MemoryDatabase::new();
    let restore =
        RestoreOptions { collections: vec![("docs".into(), "live".into())], ..Default::default() };
    repo.restore(&id, &mut target, restore).unwrap();
    let r = verify(&mut target, "live", &entry, None, &VerifyOptions::default());
    assert!(r.ok, "{}", r.to_table());
    assert_eq!(r.check("recall").unwrap().status, Status::Pass, "{}", r.to_table());
}

#[test]
fn a_truth_member_deleted_while_the_backup_reads_leaves_the_carried_truth() {
    // One chunk holds the collection: every record is a neighbour the
    // rebuild fetches, so a racing delete is seen and confirmed.
    let chunker =
        vdr_repo::ChunkerParams { min_size: 4 << 20, avg_size: 8 << 20, max_size: 16 << 20 };
    let repo = repository(InitOptions { chunker, ..InitOptions::default() });
    let s = schema("docs", 12, Metric::Dot);
    let mut source = MemoryDatabase::new();
    source.insert_collection(s.clone(), points(1000, 12, 5));
    let backup = |source: &mut MemoryDatabase| backup_with_baseline(&repo, source, 10, 5);
    let first = backup(&mut source);
    let entry = repo.snapshot(&first.snapshot.hex(), None).unwrap().collections[0].clone();
    let doomed = Baseline::from_entry(&entry).unwrap().unwrap().queries[0].truth[0].clone();
    let mut p = source.points("docs")[3].clone();
    p.payload = Some(r#"{"changed":true}"#.into());
    source.import_batch("docs", vec![p]).unwrap();
    source.before_fetch = vec![vdr_model::Change::Delete(doomed.clone())];
    let second = backup(&mut source);
    assert_eq!(second.collections[0].mode, "changes", "{:?}", second.collections[0]);
    let entry = repo.snapshot(&second.snapshot.hex(), None).unwrap().collections[0].clone();
    let b = Baseline::from_entry(&entry).unwrap().unwrap();
    assert_eq!((entry.records, b.points), (999, 999));
    let live = source.points("docs");
    for q in &b.queries {
        assert!(!q.truth.contains(&doomed));
        assert_eq!(q.truth, exact_top(Metric::Dot, &q.vector, &live, 5));
    }
}

/// A collection in one chunk (so every record is a neighbour the rebuild
/// reads) backed up with a baseline, then record 3 changed: returns the
/// repository, the database, and record 700 moved right onto golden
/// query 0 (not applied yet).
fn one_change_and_a_racing_move() -> (Repository, MemoryDatabase, Point) {
    let chunker =
        vdr_repo::ChunkerParams { min_size: 4 << 20, avg_size: 8 << 20, max_size: 16 << 20 };
    let repo = repository(InitOptions { chunker, ..InitOptions::default() });
    let mut source = MemoryDatabase::new();
    source.insert_collection(schema("docs", 12, Metric::Dot), points(1000, 12, 5));
    let first = backup_with_baseline(&repo, &mut source, 10, 5);
    let entry = repo.snapshot(&first.snapshot.hex(), None).unwrap().collections[0].clone();
    let query = Baseline::from_entry(&entry).unwrap().unwrap().queries[0].vector.clone();
    let mut p = source.points("docs")[3].clone();
    p.payload = Some(r#"{"changed":true}"#.into());
    source.import_batch("docs", vec![p]).unwrap();
    let mut racing = source.points("docs")[700].clone();
    racing.vectors[0].data = vdr_model::VectorData::Dense(query.iter().map(|x| x * 3.0).collect());
    (repo, source, racing)
}

/// An incremental backup's baseline and stream.
fn incremental(repo: &Repository, source: &mut MemoryDatabase) -> (Baseline, Vec<Point>) {
    let summary = backup_with_baseline(repo, source, 10, 5);
    assert_eq!(summary.collections[0].mode, "changes", "{:?}", summary.collections[0]);
    let id = summary.snapshot.hex();
    let entry = repo.snapshot(&id, None).unwrap().collections[0].clone();
    let mut stream: Vec<Point> = Vec::new();
    repo.read_points(&id, "docs", |p| {
        stream.push(p);
        Ok(())
    })
    .unwrap();
    (Baseline::from_entry(&entry).unwrap().unwrap(), stream)
}

#[test]
fn a_neighbour_changed_while_the_backup_reads_is_carried_as_read() {
    let (repo, mut source, racing) = one_change_and_a_racing_move();
    // It moves right after the backup has read it: the snapshot holds it
    // where it was, and so must the truth.
    source.after_fetch = vec![vdr_model::Change::Upsert(racing.clone())];
    let (b, stream) = incremental(&repo, &mut source);
    assert_ne!(stream.iter().find(|p| p.id == racing.id), Some(&racing), "read before it moved");
    for q in &b.queries {
        assert_eq!(q.truth, exact_top(Metric::Dot, &q.vector, &stream, 5));
    }
    // The next incremental hears of the move, and its truth follows.
    let (b, _) = incremental(&repo, &mut source);
    assert_eq!(b.queries[0].truth[0], racing.id, "the moved record is nearest now");
}

#[test]
fn a_neighbour_changed_before_the_backup_reads_it_is_carried_with_its_new_vector() {
    let (repo, mut source, racing) = one_change_and_a_racing_move();
    // It moves after the feed ended but before the backup reads it: the
    // snapshot holds it moved, and so must the truth.
    source.before_fetch = vec![vdr_model::Change::Upsert(racing.clone())];
    let (b, stream) = incremental(&repo, &mut source);
    assert_eq!(b.queries[0].truth[0], racing.id);
    for q in &b.queries {
        assert_eq!(q.truth, exact_top(Metric::Dot, &q.vector, &stream, 5));
    }
}
