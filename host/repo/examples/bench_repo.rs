//! Backup/restore throughput on ~1 GiB of 384-d embeddings through a
//! directory-backed store, against restic on the same record bytes (if
//! installed), plus the incremental after a scattered 1 % change. Prints
//! figures; not a test.
//!
//! `cargo run -p vdr-repo --release --example bench_repo`
//! (VDR_BENCH_MB=1024, VDR_BENCH_DIR=/tmp, VDR_BENCH_VECTORS=path/to/vectors.f32:
//! default ../shared/data/minilm-man/vectors.f32 when present, else synthetic
//! clustered vectors; VDR_BENCH_RESTIC=0 skips restic; VDR_BENCH_STOP=backup
//! or =restore ends after that phase, for `perf record`; VDR_BENCH_WARM=0: see
//! `warm`)

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use vdr_model::testing::MemoryDatabase;
use vdr_model::*;
use vdr_repo::*;

/// The source database, timing its `fetch` and change feed: an incremental
/// reads the changes and the unchanged neighbours of changed records from
/// the database, and how fast that is belongs to the database, not to vdr.
struct TimedDatabase {
    inner: MemoryDatabase,
    db_secs: f64,
}

impl Database for TimedDatabase {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list_collections(&mut self) -> Result<Vec<String>> {
        self.inner.list_collections()
    }
    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        self.inner.describe_collection(name)
    }
    fn open_export<'a>(
        &'a mut self,
        collection: &str,
        resume_from: Option<String>,
    ) -> Result<Box<dyn ExportCursor + 'a>> {
        self.inner.open_export(collection, resume_from)
    }
    fn create_collection(&mut self, schema: &CollectionSchema) -> Result<()> {
        self.inner.create_collection(schema)
    }
    fn import_batch(&mut self, collection: &str, points: Vec<Point>) -> Result<()> {
        self.inner.import_batch(collection, points)
    }
    fn flush(&mut self, collection: &str) -> Result<()> {
        self.inner.flush(collection)
    }
    fn fetch(&mut self, collection: &str, ids: &[PointId]) -> Result<Vec<Point>> {
        let t = Instant::now();
        let r = self.inner.fetch(collection, ids);
        self.db_secs += t.elapsed().as_secs_f64();
        r
    }
    fn delete_points(&mut self, collection: &str, ids: &[PointId]) -> Result<()> {
        self.inner.delete_points(collection, ids)
    }
    fn count(&mut self, collection: &str) -> Result<u64> {
        self.inner.count(collection)
    }
    fn search(
        &mut self,
        collection: &str,
        vector: &str,
        query: &[f32],
        k: u32,
    ) -> Result<Vec<ScoredPoint>> {
        self.inner.search(collection, vector, query, k)
    }
    fn drop_collection(&mut self, name: &str) -> Result<()> {
        self.inner.drop_collection(name)
    }
    fn open_native_snapshot<'a>(
        &'a mut self,
        collection: &str,
    ) -> Result<Box<dyn ByteReader + 'a>> {
        self.inner.open_native_snapshot(collection)
    }
    fn restore_native_snapshot<'a>(
        &'a mut self,
        collection: &str,
        size: u64,
    ) -> Result<Box<dyn ByteWriter + 'a>> {
        self.inner.restore_native_snapshot(collection, size)
    }
    fn current_token(&mut self, collection: &str) -> Result<Option<String>> {
        self.inner.current_token(collection)
    }
    fn open_changes<'a>(
        &'a mut self,
        collection: &str,
        since: &str,
    ) -> Result<Option<Box<dyn ChangeCursor + 'a>>> {
        let t = Instant::now();
        let TimedDatabase { inner, db_secs } = self;
        let cursor = inner.open_changes(collection, since);
        *db_secs += t.elapsed().as_secs_f64();
        Ok(cursor?.map(|inner| Box::new(TimedCursor { inner, db_secs }) as Box<dyn ChangeCursor>))
    }
}

struct TimedCursor<'a> {
    inner: Box<dyn ChangeCursor + 'a>,
    db_secs: &'a mut f64,
}

impl ChangeCursor for TimedCursor<'_> {
    fn next_batch(&mut self, max: u32) -> Result<Vec<Change>> {
        let t = Instant::now();
        let r = self.inner.next_batch(max);
        *self.db_secs += t.elapsed().as_secs_f64();
        r
    }
    fn end_token(&mut self) -> Result<String> {
        self.inner.end_token()
    }
    fn count(&mut self) -> Result<u64> {
        self.inner.count()
    }
}

/// A plain directory as an object store.
struct DirStore(PathBuf);

impl DirStore {
    fn path(&self, key: &str) -> PathBuf {
        self.0.join(key)
    }
}

fn mtime_ms(m: &std::fs::Metadata) -> u64 {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

fn io(e: std::io::Error, key: &str) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::not_found(format!("{key}: {e}"))
    } else {
        Error::internal(format!("{key}: {e}"))
    }
}

impl ObjectStore for DirStore {
    fn describe(&self) -> String {
        format!("dir {}", self.0.display())
    }
    fn put(&self, key: &str, data: &[u8], _if_absent: bool) -> Result<()> {
        let p = self.path(key);
        std::fs::create_dir_all(p.parent().unwrap()).map_err(|e| io(e, key))?;
        let tmp = p.with_extension(format!("tmp{}", rand_suffix()));
        let mut f = std::fs::File::create(&tmp).map_err(|e| io(e, key))?;
        f.write_all(data).map_err(|e| io(e, key))?;
        std::fs::rename(&tmp, &p).map_err(|e| io(e, key))
    }
    fn get(&self, key: &str, range: Option<ByteRange>, _: Option<&str>) -> Result<Vec<u8>> {
        let mut f = std::fs::File::open(self.path(key)).map_err(|e| io(e, key))?;
        match range {
            None => {
                let mut v = Vec::new();
                f.read_to_end(&mut v).map_err(|e| io(e, key))?;
                Ok(v)
            }
            Some(r) => {
                f.seek(SeekFrom::Start(r.start)).map_err(|e| io(e, key))?;
                let mut v = vec![0; r.length as usize];
                let n = f.read(&mut v).map_err(|e| io(e, key))?;
                let mut got = n;
                while got < v.len() {
                    let n = f.read(&mut v[got..]).map_err(|e| io(e, key))?;
                    if n == 0 {
                        break;
                    }
                    got += n;
                }
                v.truncate(got);
                Ok(v)
            }
        }
    }
    fn stat(&self, key: &str) -> Result<ObjectMeta> {
        let m = std::fs::metadata(self.path(key)).map_err(|e| io(e, key))?;
        Ok(ObjectMeta { key: key.into(), size: m.len(), modified_ms: mtime_ms(&m), version: None })
    }
    fn list(&self, prefix: &str, _: Option<String>, _: u32) -> Result<ListPage> {
        let mut objects = Vec::new();
        let mut stack = vec![self.0.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                let p = e.path();
                let rel = p.strip_prefix(&self.0).unwrap().to_string_lossy().to_string();
                if p.is_dir() {
                    if prefix.starts_with(&format!("{rel}/"))
                        || rel.starts_with(prefix.trim_end_matches('/'))
                    {
                        stack.push(p);
                    }
                } else if rel.starts_with(prefix) && !rel.contains(".tmp") {
                    let m = e.metadata().map_err(|e| io(e, &rel))?;
                    objects.push(ObjectMeta {
                        key: rel,
                        size: m.len(),
                        modified_ms: mtime_ms(&m),
                        version: None,
                    });
                }
            }
        }
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(ListPage { objects, next_token: None })
    }
    fn delete(&self, key: &str) -> Result<()> {
        match std::fs::remove_file(self.path(key)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e, key)),
            _ => Ok(()),
        }
    }
    fn start_multipart<'a>(&'a self, _: &str) -> Result<Box<dyn MultipartUpload + 'a>> {
        Err(Error::unsupported("dir store writes whole files"))
    }
    fn list_versions(&self, _: &str, _: Option<String>, _: u32) -> Result<VersionPage> {
        Err(Error::unsupported("no versions"))
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

fn schema(name: &str, dim: u32) -> CollectionSchema {
    CollectionSchema {
        engine: "memory".into(),
        engine_version: "1".into(),
        ..CollectionSchema::new(name, vec![VectorField::dense(dim, Metric::Cosine)])
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 11
    }
    /// Roughly normal, mean 0, sd ~0.5.
    fn noise(&mut self) -> f32 {
        let u = |r: &mut Rng| (r.next() % (1 << 24)) as f32 / (1u64 << 24) as f32 - 0.5;
        u(self) + u(self) + u(self)
    }
}

/// Base embeddings: real ones (12k x 384 MiniLM) when available, else
/// synthetic clustered unit vectors.
fn base_vectors(dim: usize) -> (Vec<Vec<f32>>, String) {
    let path = std::env::var("VDR_BENCH_VECTORS").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/minilm-man/vectors.f32").into()
    });
    if let Ok(bytes) = std::fs::read(&path)
        && bytes.len() >= dim * 4 * 100
    {
        let v: Vec<Vec<f32>> = bytes
            .chunks_exact(dim * 4)
            .map(|r| r.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect())
            .collect();
        return (v, format!("real embeddings from {path}"));
    }
    let mut rng = Rng(1);
    let centroids: Vec<Vec<f32>> =
        (0..64).map(|_| (0..dim).map(|_| rng.noise() * 0.1).collect()).collect();
    let v = (0..12_000)
        .map(|i| {
            let mut v: Vec<f32> =
                centroids[i % 64].iter().map(|c| c + rng.noise() * 0.03).collect();
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= n);
            v
        })
        .collect();
    (v, "synthetic clustered vectors".into())
}

/// `n` points: base vectors scaled up with small perturbations, renormalised.
fn points(n: usize, base: &[Vec<f32>], seed: u64) -> Vec<Point> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let b = &base[i % base.len()];
            let mut v: Vec<f32> = if i < base.len() {
                b.clone()
            } else {
                b.iter().map(|x| x + rng.noise() * 0.01).collect()
            };
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            Point {
                id: PointId::Num(i as u64),
                vectors: vec![NamedVector { name: "".into(), data: VectorData::Dense(v) }],
                payload: Some(format!(
                    r#"{{"doc":"man-{}","lang":"en","chunk":{},"rev":1}}"#,
                    i / 17,
                    i % 17
                )),
            }
        })
        .collect()
}

/// Like `vdr collection mutate --fraction`: random records, vectors nudged,
/// payload revision bumped.
/// Change a random `fraction` of the points through the database (so its
/// change feed sees them): vectors nudged, payload revision bumped.
fn mutate(db: &mut MemoryDatabase, fraction: f64, seed: u64) -> usize {
    let mut rng = Rng(seed);
    let points = &db.collections["docs"].1;
    let want = (points.len() as f64 * fraction) as usize;
    let mut picked = std::collections::BTreeSet::new();
    while picked.len() < want {
        picked.insert((rng.next() % points.len() as u64) as usize);
    }
    let mut changed: Vec<Point> = Vec::with_capacity(want);
    for (i, p) in points.values().enumerate() {
        if picked.contains(&i) {
            let mut p = p.clone();
            if let VectorData::Dense(v) = &mut p.vectors[0].data {
                for x in v.iter_mut() {
                    *x += rng.noise() * 0.001;
                }
            }
            p.payload = p.payload.as_ref().map(|s| s.replace(r#""rev":1"#, r#""rev":2"#));
            changed.push(p);
        }
    }
    db.import_batch("docs", changed).unwrap();
    want
}

fn run(cmd: &mut std::process::Command) -> f64 {
    let t = Instant::now();
    let out = cmd.output().expect("run restic");
    assert!(out.status.success(), "{:?}: {}", cmd, String::from_utf8_lossy(&out.stderr));
    t.elapsed().as_secs_f64()
}

/// CPU seconds (user + system) used so far by this process, or by its
/// waited-for children.
fn cpu(children: bool) -> f64 {
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    let who = if children { libc::RUSAGE_CHILDREN } else { libc::RUSAGE_SELF };
    // SAFETY: r is a valid rusage for getrusage to fill.
    unsafe { libc::getrusage(who, &mut r) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(r.ru_utime) + t(r.ru_stime)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn peak_rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Write and delete `bytes` of page cache, so the timed phase after it gets
/// memory the guest has touched before. On this project's VM, the first
/// touch of a guest page costs ~2.4 CPU-s per GiB in the kernel (`dd` of
/// 1 GiB to a new file: 2.5 s of system time; again after `rm`: 0.3 s);
/// untreated, whichever tool happens to get cold pages loses up to a
/// third of its speed. VDR_BENCH_WARM=0 skips it.
fn warm(dir: &std::path::Path, bytes: usize) {
    if std::env::var("VDR_BENCH_WARM").is_ok_and(|v| v == "0") {
        return;
    }
    let path = dir.join("warm");
    let block = vec![1u8; 16 << 20];
    let mut f = std::fs::File::create(&path).unwrap();
    for _ in 0..bytes.div_ceil(block.len()) {
        f.write_all(&block).unwrap();
    }
    drop(f);
    std::fs::remove_file(&path).unwrap();
}

fn dir_size(p: &std::path::Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
        let m = e.metadata().unwrap();
        total += if m.is_dir() { dir_size(&e.path()) } else { m.len() };
    }
    total
}

fn main() {
    let mb: usize = std::env::var("VDR_BENCH_MB").ok().and_then(|s| s.parse().ok()).unwrap_or(1024);
    let base = PathBuf::from(std::env::var("VDR_BENCH_DIR").unwrap_or_else(|_| "/tmp".into()));
    let dir = base.join(format!("vdr-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let repo_dir = dir.join("vdr");
    let dim = 384;
    let (base_vecs, origin) = base_vectors(dim);
    let n = (mb << 20) / (dim * 4 + 80);
    let mut db = TimedDatabase { inner: MemoryDatabase::new(), db_secs: 0.0 };
    db.inner.insert_collection(schema("docs", dim as u32), points(n, &base_vecs, 7));
    let rss_source = rss_mib();
    println!("source   : {n} x {dim}-d points ({origin}); load {}", load());

    let store: Arc<dyn ObjectStore> = Arc::new(DirStore(repo_dir.clone()));
    let repo = Repository::init(
        store.clone(),
        KeySpec::Recipients(vec![age::x25519::Identity::generate().to_public().to_string()]),
        InitOptions::default(),
    )
    .unwrap();
    let source = SourceInfo::default();

    warm(&dir, (mb + 512) << 20);
    let (t, c0) = (Instant::now(), cpu(false));
    let level = std::env::var("VDR_BENCH_LEVEL").ok().and_then(|s| s.parse().ok());
    let first = repo
        .backup(
            &mut db,
            &[],
            &[],
            &source,
            BackupOptions { compression_level: level, ..Default::default() },
        )
        .unwrap();
    let secs = t.elapsed().as_secs_f64();
    let bcpu = cpu(false) - c0;
    if std::env::var("TMP_BACKUP_ONLY").is_ok() {
        eprintln!("backup {secs:.2}s {bcpu:.2} CPU-s");
        std::process::exit(0);
    }
    let pipeline_peak = peak_rss_mib() - rss_source;
    let input = first.bytes_read as f64;
    let stored = dir_size(&repo_dir);
    println!(
        "vdr backup    : {:.0} MB in {secs:.2} s = {:.0} MB/s, {bcpu:.2} CPU-s ({:.0} MB per CPU-s); stored {:.1} % of input ({} chunks, avg {:.0} B); load {}",
        input / 1e6,
        input / 1e6 / secs,
        input / 1e6 / bcpu,
        100.0 * stored as f64 / input,
        first.chunks_total,
        input / first.chunks_total as f64,
        load()
    );
    let stop = |after: &str| std::env::var("VDR_BENCH_STOP").is_ok_and(|v| v == after);
    if stop("backup") {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }

    let mut target = MemoryDatabase::new();
    warm(&dir, (mb + 512) << 20);
    let (t, c0) = (Instant::now(), cpu(false));
    let r = repo.restore("latest", &mut target, RestoreOptions::default()).unwrap();
    let rsecs = t.elapsed().as_secs_f64();
    let rcpu = cpu(false) - c0;
    println!(
        "vdr restore   : {:.0} MB in {rsecs:.2} s = {:.0} MB/s, {rcpu:.2} CPU-s ({:.0} MB per CPU-s), into an in-memory database; load {}",
        r.bytes as f64 / 1e6,
        r.bytes as f64 / 1e6 / rsecs,
        r.bytes as f64 / 1e6 / rcpu,
        load()
    );
    drop(target);
    if stop("restore") {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }

    // restic on the same record bytes (the canonical stream as one file).
    let restic = std::env::var("VDR_BENCH_RESTIC").map_or(true, |v| v != "0")
        && std::process::Command::new("restic").arg("version").output().is_ok();
    let mut restic_figures = None;
    if restic {
        let input_dir = dir.join("input");
        std::fs::create_dir_all(&input_dir).unwrap();
        let mut stream = Vec::with_capacity(first.bytes_read as usize);
        for p in db.inner.collections["docs"].1.values() {
            let mut p = p.clone();
            canonical::normalize(&mut p).unwrap();
            canonical::encode_frame(&p, &mut stream);
        }
        std::fs::write(input_dir.join("docs.records"), &stream).unwrap();
        drop(stream);
        let rrepo = dir.join("restic");
        let env = |c: &mut std::process::Command| {
            c.env("RESTIC_PASSWORD", "bench")
                .env("RESTIC_REPOSITORY", &rrepo)
                .env("RESTIC_CACHE_DIR", dir.join("restic-cache"));
        };
        let mut c = std::process::Command::new("restic");
        c.args(["init", "--quiet"]);
        env(&mut c);
        run(&mut c);
        let mut c = std::process::Command::new("restic");
        c.args(["backup", "--quiet"]).arg(&input_dir);
        env(&mut c);
        warm(&dir, (mb + 512) << 20);
        let c0 = cpu(true);
        let bsecs = run(&mut c);
        let rbcpu = cpu(true) - c0;
        let rstored = dir_size(&rrepo);
        let mut c = std::process::Command::new("restic");
        c.args(["restore", "latest", "--quiet", "--target"]).arg(dir.join("restic-out"));
        env(&mut c);
        warm(&dir, (mb + 512) << 20);
        let c0 = cpu(true);
        let rs = run(&mut c);
        let rrcpu = cpu(true) - c0;
        println!(
            "restic backup : {:.0} MB/s, {rbcpu:.2} CPU-s ({:.0} MB per CPU-s); stored {:.1} % of input; restore {:.0} MB/s, {rrcpu:.2} CPU-s (to a file); load {}",
            input / 1e6 / bsecs,
            input / 1e6 / rbcpu,
            100.0 * rstored as f64 / input,
            input / 1e6 / rs,
            load()
        );
        restic_figures = Some((bsecs, rstored, rs));
        let _ = std::fs::remove_dir_all(dir.join("restic-out"));
        let _ = std::fs::remove_dir_all(&input_dir);
    }

    // Scattered 1 % changes, each backed up from the change feed (the
    // default) over several rounds (one ~0.2 s run is at the mercy of the
    // scheduler), then once as a full export (what a database without a feed
    // gets).
    let rounds: u64 =
        std::env::var("VDR_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let mut times = Vec::new();
    for (round, full) in (0..rounds).map(|r| (r, false)).chain([(rounds, true)]) {
        let changed = mutate(&mut db.inner, 0.01, 11 + round);
        db.db_secs = 0.0;
        let before = dir_size(&repo_dir);
        warm(&dir, 256 << 20);
        let (t, c0) = (Instant::now(), cpu(false));
        let opts = BackupOptions { full, ..Default::default() };
        let inc = repo.backup(&mut db, &[], &[], &source, opts).unwrap();
        let isecs = t.elapsed().as_secs_f64();
        let icpu = cpu(false) - c0;
        let grown = dir_size(&repo_dir) - before;
        println!(
            "vdr increment : {changed} random records changed, {} -> read {:.1} MB, {:.2} MB stored ({:.2} % of the first backup; {} of {} chunks new) in {isecs:.3} s ({:.3} s of it in the database's fetch and feed), {icpu:.2} CPU-s ({:.1} % of the first backup's time, {:.1} % of its CPU)",
            if full { "full export" } else { "change feed" },
            inc.bytes_read as f64 / 1e6,
            grown as f64 / 1e6,
            100.0 * grown as f64 / before as f64,
            inc.chunks_new,
            inc.chunks_total,
            db.db_secs,
            100.0 * isecs / secs,
            100.0 * icpu / bcpu
        );
        if !full {
            assert_eq!(inc.collections[0].mode, "changes", "{:?}", inc.collections[0]);
            times.push((isecs, db.db_secs));
        }
    }
    if !times.is_empty() {
        times.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (median, fetch) = times[times.len() / 2];
        println!(
            "vdr increment : median of {} from the change feed {median:.3} s = {:.1} % of the first backup's time; without the database's fetch and feed {:.3} s = {:.1} %",
            times.len(),
            100.0 * median / secs,
            median - fetch,
            100.0 * (median - fetch) / secs
        );
    }
    drop(db);

    let t = Instant::now();
    let c = repo.check(&CheckOptions { read_data: ReadData::All }).unwrap();
    println!(
        "check --read-data: {} packs in {:.2} s, ok = {}",
        c.packs_read,
        t.elapsed().as_secs_f64(),
        c.ok()
    );
    if let Some((bsecs, rstored, rs)) = restic_figures {
        println!(
            "vdr/restic    : backup {:.2}x faster, restore {:.2}x faster, stored size {:.3}x",
            bsecs / secs,
            rs / rsecs,
            stored as f64 / rstored as f64
        );
    }
    println!(
        "peak RSS (VmHWM): {:.0} MiB overall (includes the in-memory source and target databases); the backup pipeline added at most {pipeline_peak:.0} MiB above the {rss_source:.0} MiB source",
        peak_rss_mib()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
