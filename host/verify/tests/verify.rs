//! Verification catches each way a restore can be wrong, and passes a right one.

mod common;

use common::*;
use vdr_model::testing::MemoryDatabase;
use vdr_model::{
    ByteReader, ByteWriter, CollectionSchema, Database, ExportCursor, Metric, Point, PointId,
    Result, ScoredPoint, VectorData,
};
use vdr_repo::CollectionEntry;
use vdr_verify::{BaselineOptions, Status, VerifyOptions, VerifyReport, measure_source, verify};

const DIM: usize = 16;
const N: usize = 300;

struct Fixture {
    entry: CollectionEntry,
    points: Vec<Point>,
    schema: CollectionSchema,
}

/// A backed-up collection: baseline computed, source measured (MemoryDatabase
/// searches by dot product, so the schema says dot).
fn fixture() -> Fixture {
    let schema = schema("docs", DIM as u32, Metric::Dot);
    let points = points(N, DIM, 9);
    let mut source = MemoryDatabase::new();
    source.insert_collection(schema.clone(), points.clone());
    let mut b =
        baseline(&schema, &points, BaselineOptions { queries: 30, k: 10, ..Default::default() });
    let m = measure_source(&mut source, "docs", &mut b).unwrap();
    assert!(m.recall_at_k > 0.999, "the source's exact search finds the truth: {m:?}");
    Fixture { entry: entry(&schema, N as u64, &b), points, schema }
}

fn restored(schema: CollectionSchema, points: Vec<Point>) -> MemoryDatabase {
    let mut db = MemoryDatabase::new();
    db.insert_collection(CollectionSchema { name: "live".into(), ..schema }, points);
    db
}

fn run(db: &mut dyn Database, f: &Fixture, opts: &VerifyOptions) -> VerifyReport {
    let mut it = f.points.clone().into_iter();
    verify(db, "live", &f.entry, Some(&mut it), opts)
}

fn status(r: &VerifyReport, name: &str) -> Status {
    r.check(name).unwrap_or_else(|| panic!("no check {name}")).status
}

fn dense_mut(p: &mut Point) -> &mut Vec<f32> {
    match &mut p.vectors[0].data {
        VectorData::Dense(v) => v,
        _ => unreachable!(),
    }
}

#[test]
fn a_faithful_restore_passes_every_check() {
    let f = fixture();
    let mut db = restored(f.schema.clone(), f.points.clone());
    let r = run(&mut db, &f, &VerifyOptions::default());
    assert!(r.ok, "{}", r.to_table());
    for name in ["count", "schema", "content", "recall", "recall-vs-source"] {
        assert_eq!(status(&r, name), Status::Pass, "{name}\n{}", r.to_table());
    }
    assert_eq!(status(&r, "latency"), Status::Skip, "no latency limit by default");
    assert_eq!(r.records_checked, N as u64);
    assert!(r.recall.unwrap() > 0.999);
    assert!(r.latency.is_some());
}

#[test]
fn a_wrong_metric_fails_the_schema_check() {
    let f = fixture();
    let mut db = restored(schema("x", DIM as u32, Metric::Euclidean), f.points.clone());
    let r = run(&mut db, &f, &VerifyOptions::default());
    assert!(!r.ok);
    let c = r.check("schema").unwrap();
    assert_eq!(c.status, Status::Fail);
    assert!(c.message.contains("metric euclidean, expected dot"), "{}", c.message);
}

#[test]
fn a_missing_record_fails_count_and_content_and_is_named() {
    let f = fixture();
    let mut pts = f.points.clone();
    pts.remove(17);
    let mut db = restored(f.schema.clone(), pts);
    let r = run(&mut db, &f, &VerifyOptions::default());
    assert!(!r.ok);
    assert_eq!(status(&r, "count"), Status::Fail);
    let c = r.check("content").unwrap();
    assert_eq!(c.status, Status::Fail);
    assert!(c.message.contains("1 missing (e.g. 17)"), "{}", c.message);
}

#[test]
fn a_changed_payload_fails_content() {
    let f = fixture();
    let mut pts = f.points.clone();
    pts[5].payload = Some(r#"{"n":5,"tag":"tampered"}"#.into());
    // Same payload, other key order and number spelling: not a change.
    pts[6].payload = Some(r#"{ "tag": "t1", "n": 6.0 }"#.into());
    let mut db = restored(f.schema.clone(), pts);
    let r = run(&mut db, &f, &VerifyOptions::default());
    let c = r.check("content").unwrap();
    assert_eq!(c.status, Status::Fail);
    assert!(c.message.contains("1 changed (e.g. 5: payload differs)"), "{}", c.message);
}

#[test]
fn a_truncated_vector_fails_content() {
    let f = fixture();
    let mut pts = f.points.clone();
    dense_mut(&mut pts[40]).truncate(DIM - 1);
    let mut db = restored(f.schema.clone(), pts);
    let r = run(&mut db, &f, &VerifyOptions::default());
    let c = r.check("content").unwrap();
    assert_eq!(c.status, Status::Fail);
    assert!(c.message.contains("40: vector \"\": dimension 15, expected 16"), "{}", c.message);
}

#[test]
fn a_perturbed_vector_fails_content_but_rounding_does_not() {
    let f = fixture();
    let mut rounded = f.points.clone();
    for p in &mut rounded {
        for x in dense_mut(p).iter_mut() {
            *x *= 1.0 + 2e-7; // what an engine rounding its storage does
        }
    }
    let mut db = restored(f.schema.clone(), rounded.clone());
    assert_eq!(status(&run(&mut db, &f, &VerifyOptions::default()), "content"), Status::Pass);

    let mut perturbed = rounded;
    dense_mut(&mut perturbed[99])[3] += 0.01;
    let mut db = restored(f.schema.clone(), perturbed);
    let r = run(&mut db, &f, &VerifyOptions::default());
    let c = r.check("content").unwrap();
    assert_eq!(c.status, Status::Fail);
    assert!(c.message.contains("99: vector \"\": element 3"), "{}", c.message);
}

#[test]
fn a_low_recall_index_fails_recall_against_truth_and_source() {
    let f = fixture();
    let mut db = Degraded(restored(f.schema.clone(), f.points.clone()));
    let r = run(&mut db, &f, &VerifyOptions::default());
    assert!(!r.ok);
    assert_eq!(status(&r, "content"), Status::Pass, "the data itself is intact");
    assert_eq!(status(&r, "recall"), Status::Fail, "{}", r.to_table());
    assert_eq!(status(&r, "recall-vs-source"), Status::Fail);
    assert!(r.recall.unwrap() < 0.5);
    // A lenient threshold still compares with the source.
    let lenient = VerifyOptions { min_recall: 0.1, ..Default::default() };
    let r = run(&mut db, &f, &lenient);
    assert_eq!(status(&r, "recall"), Status::Pass);
    assert_eq!(status(&r, "recall-vs-source"), Status::Fail);
}

#[test]
fn a_latency_limit_is_checked_when_set() {
    let f = fixture();
    let mut db = restored(f.schema.clone(), f.points.clone());
    let generous = VerifyOptions { max_latency_factor: 1e9, ..Default::default() };
    assert_eq!(status(&run(&mut db, &f, &generous), "latency"), Status::Pass);
    let impossible = VerifyOptions { max_latency_factor: 1e-12, ..Default::default() };
    assert_eq!(status(&run(&mut db, &f, &impossible), "latency"), Status::Fail);
}

#[test]
fn a_sample_checks_that_many_records() {
    let f = fixture();
    let mut db = restored(f.schema.clone(), f.points.clone());
    let r = run(&mut db, &f, &VerifyOptions { sample: 50, ..Default::default() });
    assert_eq!(r.records_checked, 50);
    assert_eq!(status(&r, "content"), Status::Pass);
}

#[test]
fn without_baseline_or_points_those_checks_are_skipped() {
    let mut f = fixture();
    f.entry.baseline = None;
    let mut db = restored(f.schema.clone(), f.points.clone());
    let r = verify(&mut db, "live", &f.entry, None, &VerifyOptions::default());
    assert!(r.ok, "{}", r.to_table());
    for name in ["content", "recall", "recall-vs-source", "latency"] {
        assert_eq!(status(&r, name), Status::Skip, "{name}");
    }
}

#[test]
fn a_missing_collection_fails_without_panicking() {
    let f = fixture();
    let mut db = MemoryDatabase::new();
    let r = run(&mut db, &f, &VerifyOptions::default());
    assert!(!r.ok);
    assert!(r.failed().count() >= 3, "{}", r.to_table());
}

#[test]
fn the_table_and_json_name_every_check() {
    let f = fixture();
    let mut pts = f.points.clone();
    pts.pop();
    let mut db = restored(f.schema.clone(), pts);
    let r = run(&mut db, &f, &VerifyOptions::default());
    let table = r.to_table();
    assert!(table.contains("FAILED"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("count") && l.contains("FAIL")), "{table}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["checks"][0]["name"], "count");
    assert_eq!(json["checks"][0]["status"], "fail");
}

/// A restore into an index with poor recall: search answers with far
/// neighbours instead of the nearest.
struct Degraded(MemoryDatabase);

impl Database for Degraded {
    fn describe(&self) -> String {
        "degraded".into()
    }
    fn list_collections(&mut self) -> Result<Vec<String>> {
        self.0.list_collections()
    }
    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        self.0.describe_collection(name)
    }
    fn open_export<'a>(
        &'a mut self,
        c: &str,
        resume: Option<String>,
    ) -> Result<Box<dyn ExportCursor + 'a>> {
        self.0.open_export(c, resume)
    }
    fn create_collection(&mut self, schema: &CollectionSchema) -> Result<()> {
        self.0.create_collection(schema)
    }
    fn import_batch(&mut self, c: &str, points: Vec<Point>) -> Result<()> {
        self.0.import_batch(c, points)
    }
    fn flush(&mut self, c: &str) -> Result<()> {
        self.0.flush(c)
    }
    fn fetch(&mut self, c: &str, ids: &[PointId]) -> Result<Vec<Point>> {
        self.0.fetch(c, ids)
    }
    fn delete_points(&mut self, c: &str, ids: &[PointId]) -> Result<()> {
        self.0.delete_points(c, ids)
    }
    fn count(&mut self, c: &str) -> Result<u64> {
        self.0.count(c)
    }
    fn search(&mut self, c: &str, v: &str, q: &[f32], k: u32) -> Result<Vec<ScoredPoint>> {
        let all = self.0.search(c, v, q, k * 4)?;
        Ok(all.into_iter().step_by(4).collect()) // every fourth: ~1/4 recall
    }
    fn drop_collection(&mut self, name: &str) -> Result<()> {
        self.0.drop_collection(name)
    }
    fn open_native_snapshot<'a>(&'a mut self, c: &str) -> Result<Box<dyn ByteReader + 'a>> {
        self.0.open_native_snapshot(c)
    }
    fn restore_native_snapshot<'a>(
        &'a mut self,
        c: &str,
        size: u64,
    ) -> Result<Box<dyn ByteWriter + 'a>> {
        self.0.restore_native_snapshot(c, size)
    }
}
