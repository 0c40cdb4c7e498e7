//! The anti-entropy algorithm against in-memory databases: convergence,
//! minimal transfer, lag, interrupted rounds, rounding followers.

use vdr_model::testing::MemoryDatabase;
use vdr_model::*;
use vdr_replicate::{Options, State, round};

fn schema(name: &str) -> CollectionSchema {
    CollectionSchema {
        engine: "memory".into(),
        engine_version: "0".into(),
        ..CollectionSchema::new(name, vec![VectorField::dense(4, Metric::Cosine)])
    }
}

fn point(i: u64, salt: f32) -> Point {
    let x = i as f32;
    Point {
        id: PointId::Num(i),
        vectors: vec![NamedVector {
            name: String::new(),
            data: VectorData::Dense(vec![x.sin() + salt, x.cos(), 0.3 * salt, 0.123_456_7]),
        }],
        payload: Some(format!("{{\"i\":{i},\"tag\":\"t{}\"}}", i % 7)),
    }
}

fn leader(n: u64) -> MemoryDatabase {
    let mut db = MemoryDatabase::new();
    db.insert_collection(schema("docs"), (0..n).map(|i| point(i, 0.0)).collect());
    db
}

fn state() -> State {
    State { from: "a".into(), to: "b".into(), ..State::default() }
}

fn run(l: &mut MemoryDatabase, f: &mut dyn Database, s: &mut State) -> vdr_replicate::RoundReport {
    round(l, f, &[], s, &Options::default()).unwrap()
}

#[test]
fn copies_then_moves_only_changes_and_propagates_deletes() {
    let mut l = leader(5000);
    let mut f = MemoryDatabase::new();
    let mut s = state();
    let r1 = run(&mut l, &mut f, &mut s);
    assert!(r1.collections[0].created && r1.collections[0].full_copy);
    assert_eq!(r1.records_moved, 5000);
    assert_eq!(f.points("docs"), l.points("docs"));

    let r2 = run(&mut l, &mut f, &mut s);
    assert_eq!((r2.records_moved, r2.records_deleted, r2.buckets_differing), (0, 0, 0));
    assert_eq!(r2.collections[0].lag_ratio, 0.0);
    assert_eq!(r2.collections[0].lag_seconds, 0.0);

    // 10 inserts, 5 updates, 3 deletes on the leader.
    let c = &mut l.collections.get_mut("docs").unwrap().1;
    for i in 5000..5010 {
        c.insert(PointId::Num(i), point(i, 0.0));
    }
    for i in [1, 100, 1000, 2000, 4999] {
        c.insert(PointId::Num(i), point(i, 0.5));
    }
    for i in [7, 77, 777] {
        c.remove(&PointId::Num(i));
    }
    let r3 = run(&mut l, &mut f, &mut s);
    assert_eq!(r3.records_moved, 15, "{r3:?}");
    assert_eq!(r3.records_deleted, 3);
    assert_eq!(r3.records_differing, 18);
    assert!(r3.buckets_differing <= 18 && r3.buckets_differing > 0);
    let c3 = &r3.collections[0];
    assert!(c3.lag_ratio > 0.003 && c3.lag_ratio < 0.004, "{}", c3.lag_ratio);
    assert!(c3.lag_seconds > 0.0);
    assert_eq!(f.points("docs"), l.points("docs"));

    let r4 = run(&mut l, &mut f, &mut s);
    assert_eq!((r4.records_moved, r4.records_deleted), (0, 0));
    assert_eq!((r4.collections[0].lag_ratio, r4.collections[0].lag_seconds), (0.0, 0.0));
    assert_eq!(r4.collections[0].leader_root, r4.collections[0].follower_root);
}

/// A follower that fails after some writes, or rounds every vector component.
struct Wrapped {
    inner: MemoryDatabase,
    writes_left: Option<u32>,
    round_to: Option<f32>,
}

impl Database for Wrapped {
    fn describe(&self) -> String {
        "wrapped".into()
    }
    fn list_collections(&mut self) -> Result<Vec<String>> {
        self.inner.list_collections()
    }
    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        self.inner.describe_collection(name)
    }
    fn open_export<'a>(
        &'a mut self,
        c: &str,
        r: Option<String>,
    ) -> Result<Box<dyn ExportCursor + 'a>> {
        self.inner.open_export(c, r)
    }
    fn create_collection(&mut self, s: &CollectionSchema) -> Result<()> {
        self.inner.create_collection(s)
    }
    fn import_batch(&mut self, c: &str, mut points: Vec<Point>) -> Result<()> {
        if let Some(n) = &mut self.writes_left {
            if *n == 0 {
                return Err(Error::unavailable("killed mid-round"));
            }
            *n -= 1;
        }
        if let Some(q) = self.round_to {
            for p in &mut points {
                for v in &mut p.vectors {
                    if let VectorData::Dense(d) = &mut v.data {
                        d.iter_mut().for_each(|x| *x = (*x / q).round() * q);
                    }
                }
            }
        }
        self.inner.import_batch(c, points)
    }
    fn flush(&mut self, c: &str) -> Result<()> {
        self.inner.flush(c)
    }
    fn fetch(&mut self, c: &str, ids: &[PointId]) -> Result<Vec<Point>> {
        self.inner.fetch(c, ids)
    }
    fn delete_points(&mut self, c: &str, ids: &[PointId]) -> Result<()> {
        self.inner.delete_points(c, ids)
    }
    fn count(&mut self, c: &str) -> Result<u64> {
        self.inner.count(c)
    }
    fn search(&mut self, c: &str, v: &str, q: &[f32], k: u32) -> Result<Vec<ScoredPoint>> {
        self.inner.search(c, v, q, k)
    }
    fn drop_collection(&mut self, n: &str) -> Result<()> {
        self.inner.drop_collection(n)
    }
    fn open_native_snapshot<'a>(&'a mut self, c: &str) -> Result<Box<dyn ByteReader + 'a>> {
        self.inner.open_native_snapshot(c)
    }
    fn restore_native_snapshot<'a>(
        &'a mut self,
        c: &str,
        s: u64,
    ) -> Result<Box<dyn ByteWriter + 'a>> {
        self.inner.restore_native_snapshot(c, s)
    }
}

#[test]
fn a_killed_round_is_repaired_by_the_next() {
    let mut l = leader(3000);
    let mut f = Wrapped { inner: MemoryDatabase::new(), writes_left: Some(2), round_to: None };
    let mut s = state();
    let err = round(&mut l, &mut f, &[], &mut s, &Options::default()).unwrap_err();
    assert!(err.to_string().contains("killed mid-round"), "{err}");
    let partial = f.inner.points("docs").len();
    assert!(partial > 0 && partial < 3000, "{partial}");
    f.writes_left = None;
    let r = round(&mut l, &mut f, &[], &mut s, &Options::default()).unwrap();
    assert_eq!(r.records_moved as usize, 3000 - partial);
    assert!(!r.collections[0].full_copy);
    assert_eq!(f.inner.points("docs"), l.points("docs"));
}

#[test]
fn a_rounding_follower_converges_with_a_tolerance_and_without_resending() {
    let mut l = leader(2000);
    let mut f = Wrapped { inner: MemoryDatabase::new(), writes_left: None, round_to: Some(1e-4) };
    let mut s = state();
    let opts = Options { tolerance: 1e-3, ..Options::default() };
    assert_eq!(round(&mut l, &mut f, &[], &mut s, &opts).unwrap().records_moved, 2000);
    let r2 = round(&mut l, &mut f, &[], &mut s, &opts).unwrap();
    assert_eq!(r2.records_moved, 0);
    assert_eq!(r2.collections[0].records_equivalent, 2000);
    assert_eq!(r2.collections[0].lag_ratio, 0.0);
    // Remembered equivalences: the buckets now compare equal outright.
    let r3 = round(&mut l, &mut f, &[], &mut s, &opts).unwrap();
    assert_eq!((r3.records_moved, r3.buckets_differing), (0, 0));
    // A real change on the leader is still sent.
    l.collections.get_mut("docs").unwrap().1.insert(PointId::Num(5), point(5, 0.5));
    let r4 = round(&mut l, &mut f, &[], &mut s, &opts).unwrap();
    assert_eq!(r4.records_moved, 1);
    // Exact comparison re-sends every rounded record, every round.
    let exact = round(&mut l, &mut f, &[], &mut state(), &Options::default()).unwrap();
    assert!(exact.records_moved > 1000);
}

#[test]
fn a_promoted_follower_is_not_written() {
    let mut l = leader(10);
    let mut f = MemoryDatabase::new();
    let mut s = state();
    s.promoted_at = Some(1.0);
    assert!(matches!(
        round(&mut l, &mut f, &[], &mut s, &Options::default()),
        Err(vdr_replicate::Error::Promoted { .. })
    ));
    assert_eq!(f.writes, 0);
}

#[test]
fn state_round_trips_through_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = leader(100);
    let mut f = Wrapped { inner: MemoryDatabase::new(), writes_left: None, round_to: Some(1e-3) };
    let mut s = state();
    let opts = Options { tolerance: 1e-2, ..Options::default() };
    round(&mut l, &mut f, &[], &mut s, &opts).unwrap();
    round(&mut l, &mut f, &[], &mut s, &opts).unwrap();
    s.save(dir.path()).unwrap();
    let mut back = State::load(dir.path(), "a", "b").unwrap();
    assert_eq!(back.rounds, 2);
    assert_eq!(back.collections["docs"].equivalents.len(), s.collections["docs"].equivalents.len());
    let r = round(&mut l, &mut f, &[], &mut back, &opts).unwrap();
    assert_eq!(r.buckets_differing, 0);
}

/// Host-side cost of a round (hashing, bucketing, diff) on in-memory
/// databases, where export and import cost nothing:
/// `cargo test -p vdr-replicate --release -- --ignored --nocapture host_cost`.
#[test]
#[ignore]
fn host_cost_of_a_round() {
    let n = 200_000;
    let mut l = leader(n);
    let mut f = MemoryDatabase::new();
    let mut s = state();
    let t = std::time::Instant::now();
    round(&mut l, &mut f, &[], &mut s, &Options::default()).unwrap();
    let copy = t.elapsed().as_secs_f64();
    let c = &mut l.collections.get_mut("docs").unwrap().1;
    for i in (0..n).step_by(1000) {
        c.insert(PointId::Num(i), point(i, 0.5));
    }
    let t = std::time::Instant::now();
    let r = round(&mut l, &mut f, &[], &mut s, &Options::default()).unwrap();
    let ae = t.elapsed().as_secs_f64();
    eprintln!(
        "{n} records in memory: copy {copy:.2}s, round {ae:.2}s ({:.2} us/record on each side), moved {}",
        ae * 1e6 / n as f64 / 2.0,
        r.records_moved
    );
    assert_eq!(r.records_moved, 200);
}
