//! Backup/restore throughput on ~1 GiB of 384/768-d f32 points through a
//! directory-backed store. Prints figures; not a test.
//!
//! `cargo run -p vdr-repo --release --example bench_repo` (VDR_BENCH_MB=1024, VDR_BENCH_DIR=/tmp)

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use vdr_model::testing::MemoryDatabase;
use vdr_model::*;
use vdr_repo::*;

/// A plain directory as an object store.
struct DirStore(PathBuf);

impl DirStore {
    fn path(&self, key: &str) -> PathBuf {
        self.0.join(key)
    }
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
        Ok(ObjectMeta { key: key.into(), size: m.len(), modified_ms: 0, version: None })
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
                        modified_ms: 0,
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
        name: name.into(),
        engine: "memory".into(),
        engine_version: "1".into(),
        vectors: vec![VectorField {
            name: "".into(),
            kind: VectorKind::Dense,
            dimension: dim,
            metric: Metric::Cosine,
            element_type: ElementType::Float32,
        }],
        payload_indexes: vec![],
        shards: 1,
        replicas: 1,
        engine_config: None,
    }
}

/// Clustered, embedding-like vectors: a few centroids plus Gaussian-ish noise.
fn points(n: usize, dim: usize, seed: u64) -> Vec<Point> {
    let mut x = seed;
    let mut next = move || {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    let centroids: Vec<Vec<f32>> =
        (0..64).map(|_| (0..dim).map(|_| next() * 0.2).collect()).collect();
    (0..n)
        .map(|i| {
            let c = &centroids[i % 64];
            let v: Vec<f32> = c.iter().map(|c| c + (next() + next() + next()) * 0.02).collect();
            Point {
                id: PointId::Num(i as u64),
                vectors: vec![NamedVector { name: "".into(), data: VectorData::Dense(v) }],
                payload: Some(format!(r#"{{"doc":{i},"lang":"en","chunk":{}}}"#, i % 17)),
            }
        })
        .collect()
}

fn peak_rss_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
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
    let mut db = MemoryDatabase::new();
    let half = mb << 19; // bytes per collection
    let n384 = half / (384 * 4 + 60);
    let n768 = half / (768 * 4 + 60);
    db.insert_collection(schema("d384", 384), points(n384, 384, 1));
    db.insert_collection(schema("d768", 768), points(n768, 768, 2));
    println!(
        "source: {n384} x 384-d + {n768} x 768-d points (~{mb} MiB canonical); rss after generation {:.0} MiB",
        peak_rss_mib()
    );

    let store: Arc<dyn ObjectStore> = Arc::new(DirStore(dir.clone()));
    let repo = Repository::init(
        store.clone(),
        KeySpec::Recipients(vec![age::x25519::Identity::generate().to_public().to_string()]),
        InitOptions::default(),
    )
    .unwrap();
    let source = SourceInfo::default();

    let t = Instant::now();
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
    let mbs = first.bytes_read as f64 / 1e6;
    println!(
        "backup   : {:.0} MB in {secs:.2} s = {:.0} MB/s; stored {:.1} % of input ({} chunks)",
        mbs,
        mbs / secs,
        100.0 * dir_size(&dir) as f64 / first.bytes_read as f64,
        first.chunks_total
    );

    // 1 % of the records of each collection, as one burst of updates.
    for name in ["d384", "d768"] {
        let pts = &mut db.collections.get_mut(name).unwrap().1;
        let n = pts.len();
        for (_, p) in pts.iter_mut().skip(n / 2).take(n / 100) {
            p.payload = Some(r#"{"updated":true}"#.into());
        }
    }
    let before = dir_size(&dir);
    let t = Instant::now();
    let inc = repo.backup(&mut db, &[], &[], &source, BackupOptions::default()).unwrap();
    let isecs = t.elapsed().as_secs_f64();
    println!(
        "increment: 1 % changed -> {:.2} MB new ({:.2} % of the first backup) in {isecs:.2} s ({:.1} % of the first backup's time)",
        (dir_size(&dir) - before) as f64 / 1e6,
        100.0 * (dir_size(&dir) - before) as f64 / before as f64,
        100.0 * isecs / secs
    );
    let _ = inc;

    drop(db);
    let mut target = MemoryDatabase::new();
    let t = Instant::now();
    let r = repo.restore("latest", &mut target, RestoreOptions::default()).unwrap();
    let rsecs = t.elapsed().as_secs_f64();
    println!(
        "restore  : {:.0} MB in {rsecs:.2} s = {:.0} MB/s",
        r.bytes as f64 / 1e6,
        r.bytes as f64 / 1e6 / rsecs
    );
    drop(target);
    let t = Instant::now();
    let c = repo.check(&CheckOptions { read_data: ReadData::All }).unwrap();
    println!(
        "check --read-data: {} packs in {:.2} s, ok = {}",
        c.packs_read,
        t.elapsed().as_secs_f64(),
        c.ok()
    );
    println!(
        "peak RSS : {:.0} MiB (includes the in-memory source and target databases)",
        peak_rss_mib()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
