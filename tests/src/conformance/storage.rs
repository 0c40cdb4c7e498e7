//! The storage contract, checked against any `ObjectStore`.

use rand::RngCore;
use vdr_model::{ByteRange, ErrorKind, ObjectStore, list_all, put_object};

/// What the store under test is expected to support.
#[derive(Clone, Copy, Debug)]
pub struct StorageCaps {
    /// Multipart uploads (`start-multipart`).
    pub multipart: bool,
    /// Object versions (`list-versions`, `get` by version).
    pub versions: bool,
    /// `put(if_absent)` refuses an existing key.
    pub if_absent: bool,
}

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::rng().fill_bytes(&mut v);
    v
}

/// One conformance check: store, capabilities, key prefix.
type Check = fn(&dyn ObjectStore, StorageCaps, &str);

/// Run every check under `prefix` (a fresh, unique key prefix).
pub fn run(store: &dyn ObjectStore, caps: StorageCaps, prefix: &str) {
    let checks: Vec<(&str, Check)> = vec![
        ("objects round-trip byte-exactly", round_trip),
        ("absent objects are not-found", absent),
        ("stat reports the size", stat),
        ("ranged reads return exactly the range", ranged),
        ("listing pages through every key in order", listing),
        ("put replaces an object", overwrite),
        ("put if-absent refuses an existing key", if_absent),
        ("delete removes, and deleting an absent key succeeds", delete),
        ("multipart uploads assemble their parts and abort cleanly", multipart),
        ("old versions stay readable", versions),
    ];
    for (name, check) in checks {
        eprintln!("storage conformance [{}]: {name}", store.describe());
        check(store, caps, &format!("{prefix}/{}", name.split(' ').next().unwrap()));
    }
}

fn round_trip(s: &dyn ObjectStore, _: StorageCaps, p: &str) {
    for (i, size) in [0usize, 1, 4096, 3 << 20].into_iter().enumerate() {
        let data = random(size);
        let key = format!("{p}/obj-{i}");
        s.put(&key, &data, false).unwrap_or_else(|e| panic!("put {key} ({size} bytes): {e}"));
        assert_eq!(s.get(&key, None, None).unwrap(), data, "{key}");
    }
    let key = format!("{p}/nested/dirs/0f/ab-cd_ef.pack");
    s.put(&key, b"x", false).unwrap();
    assert_eq!(s.get(&key, None, None).unwrap(), b"x");
}

fn absent(s: &dyn ObjectStore, _: StorageCaps, p: &str) {
    let e = s.get(&format!("{p}/never-written"), None, None).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    let e = s.stat(&format!("{p}/never-written")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
}

fn stat(s: &dyn ObjectStore, _: StorageCaps, p: &str) {
    let key = format!("{p}/sized");
    s.put(&key, &random(12_345), false).unwrap();
    let meta = s.stat(&key).unwrap();
    assert_eq!(meta.size, 12_345);
    assert_eq!(meta.key, key);
}

fn ranged(s: &dyn ObjectStore, _: StorageCaps, p: &str) {
    let key = format!("{p}/ranged");
    let data = random(100_000);
    s.put(&key, &data, false).unwrap();
    for (start, length) in [(0u64, 10u64), (4096, 8192), (99_990, 10), (0, 100_000)] {
        let got = s.get(&key, Some(ByteRange { start, length }), None).unwrap();
        assert_eq!(got, &data[start as usize..(start + length) as usize], "range {start}+{length}");
    }
}

fn listing(s: &dyn ObjectStore, _: StorageCaps, p: &str) {
    let mut keys: Vec<String> = (0..25).map(|i| format!("{p}/in/{i:03x}")).collect();
    for k in &keys {
        s.put(k, k.as_bytes(), false).unwrap();
    }
    s.put(&format!("{p}/out/x"), b"x", false).unwrap();
    s.put(&format!("{p}/inner-not-under-prefix"), b"x", false).unwrap();
    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = s.list(&format!("{p}/in/"), token, 10).unwrap();
        assert!(page.objects.len() <= 10, "page of {} exceeds page size 10", page.objects.len());
        pages += 1;
        seen.extend(page.objects.iter().map(|o| o.key.clone()));
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
        assert!(pages < 10, "listing does not terminate");
    }
    keys.sort();
    assert_eq!(seen, keys, "every key under the prefix, once, in order");
    assert!(pages >= 3, "25 keys in pages of 10 take 3 pages, took {pages}");
    assert_eq!(list_all(s, &format!("{p}/in/")).unwrap().len(), 25);
}

fn overwrite(s: &dyn ObjectStore, _: StorageCaps, p: &str) {
    let key = format!("{p}/twice");
    s.put(&key, b"first", false).unwrap();
    s.put(&key, b"second", false).unwrap();
    assert_eq!(s.get(&key, None, None).unwrap(), b"second");
}

fn if_absent(s: &dyn ObjectStore, caps: StorageCaps, p: &str) {
    let key = format!("{p}/once");
    s.put(&key, b"first", true).unwrap();
    if caps.if_absent {
        let e = s.put(&key, b"second", true).unwrap_err();
        assert_eq!(e.kind, ErrorKind::AlreadyExists, "{e}");
        assert_eq!(s.get(&key, None, None).unwrap(), b"first");
    }
}

fn delete(s: &dyn ObjectStore, _: StorageCaps, p: &str) {
    let key = format!("{p}/doomed");
    s.put(&key, b"x", false).unwrap();
    s.delete(&key).unwrap();
    assert_eq!(s.get(&key, None, None).unwrap_err().kind, ErrorKind::NotFound);
    s.delete(&key).unwrap();
    assert!(list_all(s, &format!("{p}/")).unwrap().is_empty());
}

fn multipart(s: &dyn ObjectStore, caps: StorageCaps, p: &str) {
    if !caps.multipart {
        return;
    }
    let data = random((5 << 20) * 2 + 1234);
    let key = format!("{p}/big");
    put_object(s, &key, &data, 5 << 20).unwrap();
    assert_eq!(s.stat(&key).unwrap().size, data.len() as u64);
    assert_eq!(s.get(&key, None, None).unwrap(), data);
    let aborted = format!("{p}/aborted");
    let mut up = s.start_multipart(&aborted).unwrap();
    up.put_part(1, &random(5 << 20)).unwrap();
    up.abort().unwrap();
    assert_eq!(s.get(&aborted, None, None).unwrap_err().kind, ErrorKind::NotFound);
}

fn versions(s: &dyn ObjectStore, caps: StorageCaps, p: &str) {
    if !caps.versions {
        return;
    }
    let key = format!("{p}/versioned");
    s.put(&key, b"v1", false).unwrap();
    s.put(&key, b"v2", false).unwrap();
    s.delete(&key).unwrap();
    let mut all = Vec::new();
    let mut token = None;
    loop {
        let page = s.list_versions(&key, token, 100).unwrap();
        all.extend(page.versions);
        match page.next_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    let data: Vec<_> = all.iter().filter(|v| v.key == key && !v.deleted).collect();
    assert_eq!(data.len(), 2, "two data versions: {all:?}");
    let mut contents: Vec<Vec<u8>> =
        data.iter().map(|v| s.get(&key, None, Some(&v.version)).unwrap()).collect();
    contents.sort();
    assert_eq!(contents, vec![b"v1".to_vec(), b"v2".to_vec()]);
}
