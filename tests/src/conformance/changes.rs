//! The change-feed contract (`vdr:changes@0.1.0`), checked against any
//! `Database` that keeps one: what an incremental backup relies on.

use std::collections::BTreeSet;
use vdr_model::{Change, Database, ErrorKind, Point, PointId};

use super::database::{DbCaps, assert_same_points, points, schema};

type Check = fn(&mut dyn Database, &DbCaps, &str);

pub fn run(db: &mut dyn Database, caps: &DbCaps, prefix: &str) {
    let checks: Vec<(&str, Check)> = vec![
        ("a feed reports each changed id once, as it is now", each_change_once),
        ("a feed ends where the next one starts", feeds_chain),
        ("a re-created collection refuses the old position", recreated),
        ("a position of another collection or no position is refused", foreign),
    ];
    for (name, check) in checks {
        eprintln!("change feed conformance [{}]: {name}", db.describe());
        let collection = format!("{prefix}_feed_{}", name.split(' ').nth(1).unwrap_or("x"));
        check(db, caps, &collection);
    }
}

fn fresh(db: &mut dyn Database, caps: &DbCaps, name: &str, n: u64) -> Vec<Point> {
    match db.drop_collection(name) {
        Ok(()) => {}
        Err(e) if e.kind == ErrorKind::NotFound => {}
        Err(e) => panic!("dropping {name}: {e}"),
    }
    db.create_collection(&schema(name, caps)).unwrap();
    let pts = points(caps, 0..n);
    db.import_batch(name, pts.clone()).unwrap();
    db.flush(name).unwrap();
    pts
}

fn token(db: &mut dyn Database, name: &str) -> String {
    db.current_token(name).unwrap().expect("the plugin keeps a change feed")
}

/// The whole feed since `since`: changes, end token, count.
fn read(db: &mut dyn Database, name: &str, since: &str) -> Option<(Vec<Change>, String, u64)> {
    let mut cursor = db.open_changes(name, since).unwrap()?;
    let mut all = Vec::new();
    loop {
        let batch = cursor.next_batch(7).unwrap();
        assert!(batch.len() <= 7, "a batch of {} exceeds max 7", batch.len());
        if batch.is_empty() {
            break;
        }
        all.extend(batch);
    }
    Some((all, cursor.end_token().unwrap(), cursor.count().unwrap()))
}

fn id_of(c: &Change) -> &PointId {
    match c {
        Change::Upsert(p) => &p.id,
        Change::Delete(id) => id,
    }
}

fn each_change_once(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    let pts = fresh(db, caps, name, 40);
    let since = token(db, name);
    // Update 5 (one of them twice), delete 3 (one of them updated first),
    // insert 4.
    let mut updated: Vec<Point> = pts[..5].to_vec();
    for p in &mut updated {
        p.payload = Some(r#"{"changed":true}"#.into());
    }
    db.import_batch(name, updated.clone()).unwrap();
    db.import_batch(name, vec![updated[0].clone()]).unwrap();
    let deleted: Vec<PointId> = pts[4..7].iter().map(|p| p.id.clone()).collect();
    db.delete_points(name, &deleted).unwrap();
    let inserted = points(caps, 100..104);
    db.import_batch(name, inserted.clone()).unwrap();
    db.flush(name).unwrap();

    let (changes, end, count) = read(db, name, &since).expect("the feed knows its own position");
    let ids: Vec<&PointId> = changes.iter().map(id_of).collect();
    let unique: BTreeSet<&PointId> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "each id once: {ids:?}");
    assert_eq!(count, db.count(name).unwrap(), "the feed's count is the collection's");
    assert_eq!(count, 40 - 3 + 4);
    let upserts: Vec<Point> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Upsert(p) => Some(p.clone()),
            Change::Delete(_) => None,
        })
        .collect();
    let mut want: Vec<Point> = updated[..4].to_vec();
    want.extend(inserted);
    assert_same_points(&want, &upserts, caps.tolerance);
    let deletes: BTreeSet<&PointId> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Delete(id) => Some(id),
            Change::Upsert(_) => None,
        })
        .collect();
    assert_eq!(deletes, deleted.iter().collect(), "deleted ids, the updated-then-deleted too");
    assert_eq!(end, token(db, name), "nothing changed since the feed was read");
}

fn feeds_chain(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    fresh(db, caps, name, 10);
    let first = token(db, name);
    let (changes, end, _) = read(db, name, &first).unwrap();
    assert!(changes.is_empty(), "no change, no entry: {changes:?}");
    db.import_batch(name, points(caps, 50..52)).unwrap();
    db.flush(name).unwrap();
    let (changes, end2, count) = read(db, name, &end).unwrap();
    assert_eq!(changes.len(), 2);
    assert_eq!(count, 12);
    let (again, _, _) = read(db, name, &end2).unwrap();
    assert!(again.is_empty(), "a feed from its own end is empty");
}

fn recreated(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    fresh(db, caps, name, 10);
    let old = token(db, name);
    fresh(db, caps, name, 10);
    assert!(read(db, name, &old).is_none(), "a dropped and re-created collection is another one");
}

fn foreign(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    fresh(db, caps, name, 5);
    let other = format!("{name}_other");
    fresh(db, caps, &other, 5);
    let theirs = token(db, &other);
    assert!(read(db, name, &theirs).is_none(), "another collection's position");
    for junk in ["", "garbage", "local1:zz:1:2:3"] {
        assert!(read(db, name, junk).is_none(), "{junk:?} is no position");
    }
    db.drop_collection(&other).unwrap();
}
