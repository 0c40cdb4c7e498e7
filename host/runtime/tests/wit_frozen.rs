//! A released WIT version never changes: every file's BLAKE3 hash is pinned
//! in wit/released.txt. Blessing (VDR_BLESS_WIT=1) only adds new versions.

use std::collections::BTreeMap;
use std::path::Path;

fn hashes(wit: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for version in std::fs::read_dir(wit).unwrap() {
        let version = version.unwrap().path();
        if !version.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&version).unwrap() {
            let file = file.unwrap().path();
            let rel = file.strip_prefix(wit).unwrap().to_string_lossy().into_owned();
            out.insert(rel, blake3::hash(&std::fs::read(&file).unwrap()).to_hex().to_string());
        }
    }
    out
}

#[test]
fn released_wit_versions_are_unchanged() {
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit");
    let pinned_path = wit.join("released.txt");
    let pinned_text = std::fs::read_to_string(&pinned_path).unwrap_or_default();
    let pinned: BTreeMap<String, String> = pinned_text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (h, f) = l.split_once("  ").expect("lines are `HASH  FILE`");
            (f.to_string(), h.to_string())
        })
        .collect();
    let actual = hashes(&wit);
    for (file, hash) in &pinned {
        let now = actual.get(file).unwrap_or_else(|| panic!("released file {file} was deleted"));
        assert_eq!(
            now, hash,
            "released file {file} changed: add a new version instead (see wit/README.md)"
        );
    }
    let new: Vec<_> = actual.iter().filter(|(f, _)| !pinned.contains_key(*f)).collect();
    if std::env::var_os("VDR_BLESS_WIT").is_some() {
        let mut text = pinned_text;
        for (f, h) in new {
            text.push_str(&format!("{h}  {f}\n"));
        }
        std::fs::write(&pinned_path, text).unwrap();
    } else {
        assert!(
            new.is_empty(),
            "unreleased WIT files {new:?}: bless them with VDR_BLESS_WIT=1 once released"
        );
    }
}
