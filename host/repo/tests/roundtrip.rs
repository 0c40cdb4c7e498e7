mod common;
use common::*;
use vdr_model::testing::MemoryDatabase;
use vdr_model::{Database, ErrorKind};
use vdr_repo::*;

#[test]
fn restores_every_id_vector_and_payload_byte_exactly_under_a_new_name() {
    let f = fixture(small_options());
    let points = mixed_points(3000);
    let mut db = db_with("docs", mixed_schema("docs"), points.clone());
    let summary = backup(&f.repo, &mut db);
    assert_eq!(summary.collections[0].records, 3000);
    assert!(summary.chunks_total > 3, "small chunker params should give several chunks");

    let mut target = MemoryDatabase::new();
    let r = f
        .repo
        .restore(
            "latest",
            &mut target,
            RestoreOptions {
                collections: vec![("docs".into(), "docs2".into())],
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(r.collections[0].records, 3000);
    assert_eq!(target.points("docs2"), normalized(points));
    let schema = target.describe_collection("docs2").unwrap();
    assert_eq!(schema.vectors, mixed_schema("x").vectors);
    assert_eq!(schema.engine_config, mixed_schema("x").engine_config);

    let report = f
        .repo
        .verify_basic(&summary.snapshot.hex()[..6], &mut target, "docs", Some("docs2"))
        .unwrap();
    assert!(report.ok, "{report:?}");
}

#[test]
fn restore_refuses_a_non_empty_target_without_force_and_replaces_it_with_force() {
    let f = fixture(small_options());
    let mut db = db_with("docs", schema("docs", 16), dense_points(500, 16, 1));
    backup(&f.repo, &mut db);
    db.delete_points("docs", &[vdr_model::PointId::Num(3)]).unwrap();
    db.import_batch(
        "docs",
        dense_points(1, 16, 99)
            .into_iter()
            .map(|mut p| {
                p.id = vdr_model::PointId::Num(10_000);
                p
            })
            .collect(),
    )
    .unwrap();
    let err = f.repo.restore("latest", &mut db, RestoreOptions::default()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::AlreadyExists, "{err}");
    assert!(err.to_string().contains("--force"));
    f.repo
        .restore("latest", &mut db, RestoreOptions { force: true, ..Default::default() })
        .unwrap();
    assert_eq!(db.points("docs"), normalized(dense_points(500, 16, 1)));
    let v = f.repo.verify_basic("latest", &mut db, "docs", None).unwrap();
    assert!(v.ok);
}

#[test]
fn verify_counts_missing_extra_and_changed_records() {
    let f = fixture(small_options());
    let mut db = db_with("docs", schema("docs", 8), dense_points(100, 8, 1));
    backup(&f.repo, &mut db);
    db.delete_points("docs", &[vdr_model::PointId::Num(1), vdr_model::PointId::Num(2)]).unwrap();
    let mut changed = db.fetch("docs", &[vdr_model::PointId::Num(5)]).unwrap();
    changed[0].payload = Some(r#"{"changed":true}"#.into());
    let mut extra = changed.clone();
    extra[0].id = vdr_model::PointId::Str("new".into());
    db.import_batch("docs", changed).unwrap();
    db.import_batch("docs", extra).unwrap();
    let v = f.repo.verify_basic("latest", &mut db, "docs", None).unwrap();
    assert_eq!((v.missing, v.extra, v.changed, v.ok), (2, 1, 1, false));
}

#[test]
fn dry_run_reads_everything_and_writes_nothing() {
    let f = fixture(small_options());
    let mut db = db_with("docs", mixed_schema("docs"), mixed_points(800));
    backup(&f.repo, &mut db);
    let mut target = MemoryDatabase::new();
    let r = f
        .repo
        .restore("latest", &mut target, RestoreOptions { dry_run: true, ..Default::default() })
        .unwrap();
    assert_eq!(r.collections[0].records, 800);
    assert_eq!(target.writes, 0);
    assert!(target.collections.is_empty());
}

#[test]
fn snapshots_resolve_latest_per_collection_and_prefixes() {
    let f = fixture(small_options());
    let mut a = db_with("a", schema("a", 4), dense_points(10, 4, 1));
    let mut b = db_with("b", schema("b", 4), dense_points(10, 4, 2));
    let sa = backup(&f.repo, &mut a).snapshot;
    let sb = f
        .repo
        .backup(&mut b, &[], &["nightly".into()], &source(), BackupOptions::default())
        .unwrap()
        .snapshot;
    let list = f.repo.snapshots().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(f.repo.snapshot("latest", None).unwrap().id, sb);
    assert_eq!(f.repo.snapshot("latest", Some("a")).unwrap().id, sa);
    assert_eq!(f.repo.snapshot(&sa.hex()[..10], None).unwrap().id, sa);
    let full = f.repo.snapshot("latest", None).unwrap();
    assert_eq!(full.tags, vec!["nightly".to_string()]);
    assert_eq!(full.collections[0].source.plugin_name, "memory");
    assert_eq!(full.collections[0].records, 10);
    assert!(f.repo.snapshot("latest", Some("nope")).is_err());
}

struct CountingObserver(u64);
impl PointObserver for CountingObserver {
    fn observe(&mut self, _: &str, schema: &vdr_model::CollectionSchema, point: &vdr_model::Point) {
        assert_eq!(schema.name, "docs");
        assert!(point.dense("").is_some());
        self.0 += 1;
    }
    fn finish(&mut self, collection: &str) -> Option<serde_json::Value> {
        Some(serde_json::json!({ "collection": collection, "seen": self.0 }))
    }
}

#[test]
fn observers_see_every_point_and_fill_the_baseline() {
    let f = fixture(small_options());
    let mut db = db_with("docs", schema("docs", 8), dense_points(1234, 8, 1));
    let opts =
        BackupOptions { observers: vec![Box::new(CountingObserver(0))], ..Default::default() };
    f.repo.backup(&mut db, &[], &[], &source(), opts).unwrap();
    let snap = f.repo.snapshot("latest", None).unwrap();
    assert_eq!(
        snap.collections[0].baseline,
        Some(serde_json::json!({"collection": "docs", "seen": 1234}))
    );
}

#[test]
fn a_second_backup_after_changing_one_percent_stores_under_five_percent() {
    // 1 % of the records as one burst of updates (a scattered 1 % touches
    // every ~1 MiB chunk: see FORMAT.md, "Deduplication granularity").
    const N: usize = 60_000;
    let f = fixture(InitOptions::default());
    let mut points = dense_points(N, 384, 3);
    let mut db = db_with("docs", schema("docs", 384), points.clone());
    let first = backup(&f.repo, &mut db);
    let after_first = f.store.bytes_under("");
    for p in &mut points[N / 3..N / 3 + N / 100] {
        p.payload = Some(r#"{"mutated":true}"#.into());
        if let vdr_model::VectorData::Dense(d) = &mut p.vectors[0].data {
            d[0] += 1.0;
        }
    }
    let mut db = db_with("docs", schema("docs", 384), points);
    let second = backup(&f.repo, &mut db);
    let growth = f.store.bytes_under("") - after_first;
    assert!(
        (growth as f64) <= 0.05 * after_first as f64,
        "second backup grew the repository by {growth} of {after_first} bytes"
    );
    assert!(
        second.bytes_new * 20 <= first.bytes_new,
        "{} vs {}",
        second.bytes_new,
        first.bytes_new
    );
    assert!(second.chunks_new < second.chunks_total);
}

#[test]
fn concurrent_backups_from_two_threads_both_land() {
    let f = fixture(small_options());
    std::thread::scope(|s| {
        for seed in [1u64, 2] {
            let repo = &f.repo;
            s.spawn(move || {
                let name = format!("c{seed}");
                let mut db = db_with(&name, schema(&name, 32), dense_points(2000, 32, seed));
                backup(repo, &mut db);
            });
        }
    });
    assert_eq!(f.repo.snapshots().unwrap().len(), 2);
    assert!(f.repo.check(&CheckOptions { read_data: ReadData::All }).unwrap().ok());
    for seed in [1u64, 2] {
        let name = format!("c{seed}");
        let mut target = MemoryDatabase::new();
        f.repo
            .restore(
                "latest",
                &mut target,
                RestoreOptions {
                    collections: vec![(name.clone(), name.clone())],
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(target.points(&name), normalized(dense_points(2000, 32, seed)));
    }
}

#[test]
fn nothing_in_the_bucket_names_or_reveals_collections_ids_or_payloads() {
    let f = fixture(small_options());
    let mut db = db_with("secret-collection", mixed_schema("x"), mixed_points(300));
    backup(&f.repo, &mut db);
    for key in f.store.keys() {
        assert!(!key.contains("secret"), "{key}");
        let bytes = f.store.raw(&key).unwrap();
        for needle in [&b"secret-collection"[..], b"doc-\xc3\xbc-1", b"emoji"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle), "{key} leaks {needle:?}");
        }
    }
}

#[test]
fn a_scattered_one_percent_change_grows_the_repository_by_under_five_percent() {
    // Like `vdr collection mutate --fraction 0.01`: random records, vectors
    // nudged and payload revision bumped.
    const N: usize = 24_000;
    let f = fixture(InitOptions::default());
    let mut points = dense_points(N, 384, 5);
    for (i, p) in points.iter_mut().enumerate() {
        p.payload = Some(format!(r#"{{"doc":{i},"rev":1}}"#));
    }
    let mut db = db_with("docs", schema("docs", 384), points.clone());
    let first = backup(&f.repo, &mut db);
    let after_first = f.store.bytes_under("");
    let mut rng = Rng(99);
    let mut changed = std::collections::HashSet::new();
    while changed.len() < N / 100 {
        changed.insert((rng.next() % N as u64) as usize);
    }
    for &i in &changed {
        let p = &mut points[i];
        p.payload = Some(format!(r#"{{"doc":{i},"rev":2}}"#));
        if let vdr_model::VectorData::Dense(d) = &mut p.vectors[0].data {
            for x in d.iter_mut().take(8) {
                *x += 0.001;
            }
        }
    }
    let mut db = db_with("docs", schema("docs", 384), points.clone());
    let second = backup(&f.repo, &mut db);
    let growth = f.store.bytes_under("") - after_first;
    eprintln!(
        "first {after_first} bytes, growth {growth} ({:.2} %), chunks {} new of {}",
        100.0 * growth as f64 / after_first as f64,
        second.chunks_new,
        second.chunks_total
    );
    assert!(
        (growth as f64) <= 0.05 * after_first as f64,
        "second backup grew the repository by {growth} of {after_first} bytes"
    );
    assert!(second.bytes_new * 20 <= first.bytes_new);
    let mut target = MemoryDatabase::new();
    f.repo.restore("latest", &mut target, RestoreOptions::default()).unwrap();
    assert_eq!(target.points("docs"), normalized(points));
}
