//! The database contract, checked against any `Database`.

use std::collections::BTreeMap;
use vdr_model::canonical::canonical_json;
use vdr_model::{
    CollectionSchema, Database, ErrorKind, Metric, NamedVector, Point, PointId, SparseVector,
    VectorData, VectorField, VectorKind,
};

/// What the engine under test supports and how exactly it stores vectors.
#[derive(Clone, Debug)]
pub struct DbCaps {
    pub num_ids: bool,
    pub string_ids: bool,
    pub sparse: bool,
    pub multi: bool,
    /// More than one dense vector per record, by name.
    pub named_vectors: bool,
    /// Largest absolute difference allowed between a stored and a returned
    /// vector component (0 for bit-exact engines).
    pub tolerance: f32,
    /// Metric used by the checks (engines normalise cosine vectors).
    pub metric: Metric,
    /// Dense vector name for engines with one unnamed vector ("").
    pub vector: String,
}

impl Default for DbCaps {
    fn default() -> Self {
        DbCaps {
            num_ids: true,
            string_ids: true,
            sparse: true,
            multi: true,
            named_vectors: true,
            tolerance: 0.0,
            metric: Metric::Euclidean,
            vector: String::new(),
        }
    }
}

pub const DIM: u32 = 8;

pub fn schema(name: &str, caps: &DbCaps) -> CollectionSchema {
    let field = VectorField::new;
    let mut vectors = vec![field(&caps.vector, VectorKind::Dense, DIM, caps.metric)];
    if caps.named_vectors {
        vectors.push(field("second", VectorKind::Dense, 4, Metric::Dot));
    }
    if caps.sparse {
        vectors.push(field("sparse", VectorKind::Sparse, 0, Metric::Dot));
    }
    if caps.multi {
        vectors.push(field("multi", VectorKind::Multi, 4, Metric::Cosine));
    }
    CollectionSchema::new(name, vectors)
}

/// Deterministic points: ids of the kinds the engine supports, every vector
/// kind it supports, payloads with nesting and unicode.
pub fn points(caps: &DbCaps, range: std::ops::Range<u64>) -> Vec<Point> {
    range
        .map(|n| {
            let id = if caps.string_ids && (!caps.num_ids || n % 2 == 1) {
                PointId::Str(format!("00000000-0000-4000-8000-{n:012x}"))
            } else {
                PointId::Num(n + 1)
            };
            let f = n as f32;
            let mut dense: Vec<f32> =
                (0..DIM).map(|i| (f * 0.37 + i as f32 * 1.3).sin() * 10.0 + f * 0.01).collect();
            if caps.metric == Metric::Cosine {
                let norm = dense.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                dense.iter_mut().for_each(|x| *x /= norm);
            }
            let mut vectors =
                vec![NamedVector { name: caps.vector.clone(), data: VectorData::Dense(dense) }];
            if caps.named_vectors {
                vectors.push(NamedVector {
                    name: "second".into(),
                    data: VectorData::Dense(vec![f, 1.0, -2.5, 0.125]),
                });
            }
            if caps.sparse {
                vectors.push(NamedVector {
                    name: "sparse".into(),
                    data: VectorData::Sparse(SparseVector {
                        // Distinct indices for every n: engines such as
                        // Qdrant reject a sparse vector with a repeated index.
                        indices: vec![1, 7 + (n % 900) as u32, 1000],
                        values: vec![0.5, 1.5, -2.0],
                    }),
                });
            }
            if caps.multi {
                vectors.push(NamedVector {
                    name: "multi".into(),
                    data: VectorData::Multi(vec![
                        vec![1.0, 0.0, 0.0, 0.0],
                        vec![0.0, 0.6, 0.8, 0.0],
                    ]),
                });
            }
            let payload = serde_json::json!({
                "n": n,
                "title": format!("Dokument Nr. {n} — ünïcödé ✓ 日本"),
                "nested": { "tags": ["a", "b"], "depth": { "level": 2, "ok": true } },
                "score": 0.5,
            });
            Point { id, vectors, payload: Some(payload.to_string()) }
        })
        .collect()
}

/// One conformance check: database, capabilities, collection name.
type Check = fn(&mut dyn Database, &DbCaps, &str);

/// Run every check with collections named `{prefix}_*`.
pub fn run(db: &mut dyn Database, caps: &DbCaps, prefix: &str) {
    let checks: Vec<(&str, Check)> = vec![
        ("a created collection describes its schema", create_and_describe),
        ("creating an existing collection is already-exists", create_twice),
        ("an empty collection counts 0 and exports nothing", empty),
        ("every imported point exports faithfully across pages", export_everything),
        ("an export resumes from its token", export_resumes),
        ("fetch returns the asked ids and leaves out missing ones", fetch),
        ("import upserts and delete removes", upsert_and_delete),
        ("search finds a point from its own vector", search),
        ("an interrupted import can simply be re-run", rerun_import),
        ("a dropped collection is gone", drop),
    ];
    for (name, check) in checks {
        eprintln!("database conformance [{}]: {name}", db.describe());
        let collection = format!("{prefix}_{}", name.split(' ').nth(1).unwrap_or("x"));
        check(db, caps, &collection);
    }
}

fn fresh(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    match db.drop_collection(name) {
        Ok(()) => {}
        Err(e) if e.kind == ErrorKind::NotFound => {}
        Err(e) => panic!("dropping {name}: {e}"),
    }
    db.create_collection(&schema(name, caps)).unwrap_or_else(|e| panic!("creating {name}: {e}"));
}

fn import(db: &mut dyn Database, name: &str, points: Vec<Point>) {
    for chunk in points.chunks(500) {
        db.import_batch(name, chunk.to_vec())
            .unwrap_or_else(|e| panic!("importing into {name}: {e}"));
    }
    db.flush(name).unwrap_or_else(|e| panic!("flushing {name}: {e}"));
}

/// Every point of `name`, exported in batches of at most `batch`.
pub fn export_all(db: &mut dyn Database, name: &str, batch: u32) -> Vec<Point> {
    let mut out = Vec::new();
    let mut cursor = db.open_export(name, None).unwrap();
    loop {
        let b = cursor.next_batch(batch).unwrap();
        assert!(b.len() <= batch as usize, "batch of {} exceeds max {batch}", b.len());
        if b.is_empty() {
            return out;
        }
        out.extend(b);
    }
}

/// Compare points as sets, allowing the engine's documented rounding.
pub fn assert_same_points(expected: &[Point], actual: &[Point], tolerance: f32) {
    let by_id = |ps: &[Point]| -> BTreeMap<PointId, Point> {
        ps.iter().map(|p| (p.id.clone(), p.clone())).collect()
    };
    let (e, a) = (by_id(expected), by_id(actual));
    assert_eq!(actual.len(), a.len(), "export returned duplicate ids");
    assert_eq!(e.keys().collect::<Vec<_>>(), a.keys().collect::<Vec<_>>(), "the same ids");
    for (id, want) in &e {
        let got = &a[id];
        let payload = |p: &Point| p.payload.as_deref().map(|t| canonical_json(t).unwrap());
        assert_eq!(payload(got), payload(want), "payload of {id}");
        for wv in &want.vectors {
            let gv = got
                .vectors
                .iter()
                .find(|v| v.name == wv.name)
                .unwrap_or_else(|| panic!("{id} lost vector {:?}", wv.name));
            assert_vector_close(&wv.data, &gv.data, tolerance, &format!("{id}/{}", wv.name));
        }
    }
}

fn assert_vector_close(want: &VectorData, got: &VectorData, tol: f32, what: &str) {
    let close = |w: &[f32], g: &[f32]| {
        assert_eq!(w.len(), g.len(), "{what}: length");
        for (x, y) in w.iter().zip(g) {
            if tol == 0.0 {
                assert_eq!(x.to_bits(), y.to_bits(), "{what}: {w:?} vs {g:?}");
            } else {
                assert!((x - y).abs() <= tol, "{what}: {x} vs {y}");
            }
        }
    };
    match (want, got) {
        (VectorData::Dense(w), VectorData::Dense(g)) => close(w, g),
        (VectorData::Sparse(w), VectorData::Sparse(g)) => {
            let mut wp: Vec<_> = w.indices.iter().zip(&w.values).collect();
            let mut gp: Vec<_> = g.indices.iter().zip(&g.values).collect();
            wp.sort_by_key(|p| p.0);
            gp.sort_by_key(|p| p.0);
            assert_eq!(
                wp.iter().map(|p| p.0).collect::<Vec<_>>(),
                gp.iter().map(|p| p.0).collect::<Vec<_>>(),
                "{what}"
            );
            close(
                &wp.iter().map(|p| *p.1).collect::<Vec<_>>(),
                &gp.iter().map(|p| *p.1).collect::<Vec<_>>(),
            );
        }
        (VectorData::Multi(w), VectorData::Multi(g)) => {
            assert_eq!(w.len(), g.len(), "{what}: rows");
            for (a, b) in w.iter().zip(g) {
                close(a, b);
            }
        }
        _ => panic!("{what}: vector kind changed"),
    }
}

fn create_and_describe(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    fresh(db, caps, name);
    let got = db.describe_collection(name).unwrap();
    let want = schema(name, caps);
    assert_eq!(got.name, name);
    for f in &want.vectors {
        let g = got
            .vector(&f.name)
            .unwrap_or_else(|| panic!("schema lost vector field {:?}: {got:?}", f.name));
        assert_eq!(g.kind, f.kind, "{}", f.name);
        if f.kind == VectorKind::Dense {
            assert_eq!(g.dimension, f.dimension, "{}", f.name);
            assert_eq!(g.metric, f.metric, "{}", f.name);
        }
    }
    assert!(db.list_collections().unwrap().contains(&name.to_string()));
}

fn create_twice(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    fresh(db, caps, name);
    let e = db.create_collection(&schema(name, caps)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::AlreadyExists, "{e}");
}

fn empty(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    fresh(db, caps, name);
    assert_eq!(db.count(name).unwrap(), 0);
    assert!(export_all(db, name, 100).is_empty());
}

fn export_everything(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    fresh(db, caps, name);
    let pts = points(caps, 0..1234);
    import(db, name, pts.clone());
    assert_eq!(db.count(name).unwrap(), 1234);
    let got = export_all(db, name, 100);
    assert_same_points(&pts, &got, caps.tolerance);
}

fn export_resumes(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    fresh(db, caps, name);
    let pts = points(caps, 0..250);
    import(db, name, pts.clone());
    let (first, token) = {
        let mut c = db.open_export(name, None).unwrap();
        let first = c.next_batch(100).unwrap();
        (first, c.resume_token().unwrap())
    };
    assert!(token.is_some(), "a cursor that returned points has a resume token");
    let mut rest = Vec::new();
    let mut c = db.open_export(name, token).unwrap();
    loop {
        let b = c.next_batch(100).unwrap();
        if b.is_empty() {
            break;
        }
        rest.extend(b);
    }
    std::mem::drop(c);
    let mut all = first;
    all.extend(rest);
    assert_same_points(&pts, &all, caps.tolerance);
}

fn fetch(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    fresh(db, caps, name);
    let pts = points(caps, 0..20);
    import(db, name, pts.clone());
    let mut ids: Vec<PointId> = vec![pts[3].id.clone(), pts[11].id.clone()];
    ids.push(if caps.num_ids {
        PointId::Num(999_999)
    } else {
        PointId::Str("00000000-0000-4000-8000-ffffffffffff".into())
    });
    let got = db.fetch(name, &ids).unwrap();
    assert_same_points(&[pts[3].clone(), pts[11].clone()], &got, caps.tolerance);
}

fn upsert_and_delete(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    fresh(db, caps, name);
    let mut pts = points(caps, 0..10);
    import(db, name, pts.clone());
    pts[2].payload = Some(r#"{"changed":true}"#.into());
    import(db, name, vec![pts[2].clone()]);
    assert_eq!(db.count(name).unwrap(), 10);
    db.delete_points(name, &[pts[5].id.clone()]).unwrap();
    db.flush(name).unwrap();
    assert_eq!(db.count(name).unwrap(), 9);
    pts.remove(5);
    assert_same_points(&pts, &export_all(db, name, 100), caps.tolerance);
}

fn search(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    fresh(db, caps, name);
    let pts = points(caps, 0..300);
    import(db, name, pts.clone());
    for p in [&pts[0], &pts[150], &pts[299]] {
        let v = p.dense(&caps.vector).unwrap().to_vec();
        let hits = db.search(name, &caps.vector, &v, 5).unwrap();
        assert!(!hits.is_empty() && hits.len() <= 5, "{} hits", hits.len());
        assert_eq!(hits[0].id, p.id, "nearest to its own vector");
    }
}

fn rerun_import(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    fresh(db, caps, name);
    let pts = points(caps, 0..600);
    import(db, name, pts[..250].to_vec());
    import(db, name, pts.clone());
    assert_eq!(db.count(name).unwrap(), 600);
    assert_same_points(&pts, &export_all(db, name, 200), caps.tolerance);
}

fn drop(db: &mut dyn Database, caps: &DbCaps, name: &str) {
    fresh(db, caps, name);
    db.drop_collection(name).unwrap();
    assert_eq!(db.describe_collection(name).unwrap_err().kind, ErrorKind::NotFound);
    assert_eq!(db.drop_collection(name).unwrap_err().kind, ErrorKind::NotFound);
    assert!(!db.list_collections().unwrap().contains(&name.to_string()));
}
