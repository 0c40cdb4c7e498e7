//! The `local` store's index files are usearch's own format: PyPI usearch
//! opens them with `Index.restore` and finds the same neighbours as vdr.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn vdr(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vdr")).args(args).output().unwrap();
    assert!(out.status.success(), "vdr {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `index-keys.bin`: `count:u64` then one slot per usearch key: a canonical
/// id (0x00 u64 | 0x01 len:u32 utf8) or 0x02, a key freed by a delete
/// (`None`: the index never returns it).
fn slot_ids(path: &Path) -> Vec<Option<String>> {
    let b = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
    let mut pos = 8;
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        match b[pos] {
            0 => {
                ids.push(Some(
                    u64::from_le_bytes(b[pos + 1..pos + 9].try_into().unwrap()).to_string(),
                ));
                pos += 9;
            }
            1 => {
                let len = u32::from_le_bytes(b[pos + 1..pos + 5].try_into().unwrap()) as usize;
                ids.push(Some(String::from_utf8(b[pos + 5..pos + 5 + len].to_vec()).unwrap()));
                pos += 5 + len;
            }
            _ => {
                ids.push(None);
                pos += 1;
            }
        }
    }
    assert_eq!(pos, b.len(), "trailing bytes in index-keys.bin");
    ids
}

/// The ids of the `k` records of `docs` nearest to `query` by cosine, exactly.
fn exact_top(db: &mut dyn vdr_model::Database, query: &[f32], k: usize) -> Vec<String> {
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let mut scored = Vec::new();
    let mut cursor = db.open_export("docs", None).unwrap();
    loop {
        let batch = cursor.next_batch(1000).unwrap();
        if batch.is_empty() {
            break;
        }
        for p in batch {
            let v = p.dense("").unwrap();
            let dot: f32 = v.iter().zip(query).map(|(a, b)| a * b).sum();
            let id = match &p.id {
                vdr_model::PointId::Num(n) => n.to_string(),
                vdr_model::PointId::Str(s) => format!("{s:?}"),
            };
            scored.push((1.0 - dot / (norm(v) * norm(query)), id));
        }
    }
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    scored.into_iter().take(k).map(|(_, id)| id).collect()
}

#[test]
fn usearch_from_pypi_opens_the_index_and_finds_the_same_neighbours() {
    let Some(py) = vdr_tests::python_with("usearch") else { return };
    let dir = tempfile::tempdir().unwrap();
    let db = format!("local://{}", dir.path().display());
    vdr(&[
        "collection",
        "create",
        "--db",
        &db,
        "--collection",
        "docs",
        "--sample",
        "3000",
        "--dim",
        "64",
    ]);

    // Change the index incrementally (replaced points keep their keys,
    // deleted ones leave freed keys behind) before comparing.
    vdr(&["collection", "mutate", "--db", &db, "-c", "docs", "--fraction", "0.05"]);
    {
        let rt = vdr_tests::runtime();
        let mut local = rt
            .open_database(
                "local",
                &vdr_runtime::Grant::directory(dir.path(), true),
                "local".into(),
            )
            .unwrap();
        let doomed: Vec<_> = (100..110).map(vdr_model::PointId::Num).collect();
        local.delete_points("docs", &doomed).unwrap();
        local.flush("docs").unwrap();
    }
    let slots = slot_ids(&dir.path().join("docs/index-keys.bin"));
    assert_eq!(slots.len(), 3000, "keys are kept, not renumbered, by an incremental flush");
    assert_eq!(slots.iter().filter(|s| s.is_none()).count(), 10, "deleted keys are freed");

    let hits: serde_json::Value = serde_json::from_str(&vdr(&[
        "--json",
        "collection",
        "search",
        "--db",
        &db,
        "-c",
        "docs",
        "--query-id",
        "17",
        "-k",
        "10",
    ]))
    .unwrap();
    let vdr_ids: Vec<String> =
        hits.as_array().unwrap().iter().map(|h| h["id"].to_string()).collect();

    // The query vector of record 17, read back through the plugin.
    let rt = vdr_tests::runtime();
    let mut local = rt
        .open_database("local", &vdr_runtime::Grant::directory(dir.path(), false), "local".into())
        .unwrap();
    let point = local.fetch("docs", &[vdr_model::PointId::Num(17)]).unwrap().remove(0);
    let query = serde_json::to_string(point.dense("").unwrap()).unwrap();

    // The index really answers the query: HNSW is approximate (and built by
    // several threads, so not byte-for-byte the same every run), so ask for
    // most of the exact top 10, not for every one of them.
    let exact = exact_top(local.as_mut(), point.dense("").unwrap(), 10);
    let found = vdr_ids.iter().filter(|id| exact.contains(id)).count();
    assert!(found >= 8, "vdr found {found} of the exact top 10: {vdr_ids:?} vs {exact:?}");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/usearch_search.py");
    let index = dir.path().join("docs/default.usearch");
    let mut child = Command::new(py)
        .arg(&script)
        .arg(&index)
        .arg("10")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(query.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["size"], 2990, "{result}");
    assert_eq!(result["dimensions"], 64, "{result}");

    let slots = slot_ids(&dir.path().join("docs/index-keys.bin"));
    let py_ids: Vec<String> = result["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| slots[k.as_u64().unwrap() as usize].clone().expect("a live key"))
        .collect();
    assert_eq!(py_ids, vdr_ids, "PyPI usearch and vdr disagree on the neighbours");
}
