//! The chroma and milvus plugins against their real servers (Chroma 1.5,
//! Milvus 2.3.5 REST v1, started by `scripts/test-servers.sh`): the database
//! conformance suite, plus an ignored benchmark beside the vendors' Python
//! clients.

use vdr_model::{Database, Metric};
use vdr_runtime::Grant;
use vdr_tests::conformance::database::{self, DbCaps};

fn open(plugin: &str, url: &str, options: serde_json::Value) -> Box<dyn Database> {
    let mut grant = Grant::endpoint(url).unwrap();
    grant.options = options;
    vdr_tests::runtime()
        .open_database(plugin, &grant, format!("{plugin} test"))
        .unwrap_or_else(|e| panic!("opening {plugin} at {url}: {e:#}"))
}

/// Chroma: string ids natively, numeric ids through the `#n:` marker; one
/// unnamed dense vector. Cosine vectors come back within ~1e-7.
fn chroma_caps(metric: Metric) -> DbCaps {
    DbCaps {
        num_ids: true,
        string_ids: true,
        sparse: false,
        multi: false,
        named_vectors: false,
        tolerance: if metric == Metric::Cosine { 1e-6 } else { 0.0 },
        metric,
        vector: String::new(),
    }
}

/// Milvus REST v1: ids of both kinds (kept in the `vdr_id` dynamic field,
/// the primary key is Milvus' auto id); one unnamed dense vector.
fn milvus_caps() -> DbCaps {
    DbCaps {
        num_ids: true,
        string_ids: true,
        sparse: false,
        multi: false,
        named_vectors: false,
        tolerance: 0.0,
        metric: Metric::Euclidean,
        vector: String::new(),
    }
}

#[test]
fn chroma_passes_the_database_conformance_suite() {
    let Some(url) = vdr_tests::servers::endpoint("CHROMA") else { return };
    let mut db = open("chroma", &url, serde_json::json!({}));
    database::run(db.as_mut(), &chroma_caps(Metric::Euclidean), &vdr_tests::unique("conf"));
}

#[test]
fn chroma_passes_with_cosine_in_its_own_tenant_and_database() {
    let Some(url) = vdr_tests::servers::endpoint("CHROMA") else { return };
    let options = serde_json::json!({
        "tenant": vdr_tests::unique("tenant"),
        "database": vdr_tests::unique("db"),
    });
    let mut db = open("chroma", &url, options);
    database::run(db.as_mut(), &chroma_caps(Metric::Cosine), &vdr_tests::unique("cos"));
}

#[test]
fn chroma_refuses_short_names_clearly() {
    let Some(url) = vdr_tests::servers::endpoint("CHROMA") else { return };
    let mut db = open("chroma", &url, serde_json::json!({}));
    let e = db.create_collection(&database::schema("ab", &chroma_caps(Metric::Euclidean)));
    let e = e.unwrap_err();
    assert_eq!(e.kind, vdr_model::ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("3-512"), "{e}");
}

#[test]
fn milvus_passes_the_database_conformance_suite() {
    let Some(url) = vdr_tests::servers::endpoint("MILVUS") else { return };
    let mut db = open("milvus", &url, serde_json::json!({}));
    database::run(db.as_mut(), &milvus_caps(), &vdr_tests::unique("conf"));
}

/// Records and dimension of the benchmark.
const BENCH_N: u64 = 20_000;
const BENCH_DIM: usize = 384;

fn bench_points(n: u64) -> Vec<vdr_model::Point> {
    use vdr_model::{NamedVector, Point, PointId, VectorData};
    (0..n)
        .map(|i| Point {
            id: PointId::Num(i + 1),
            vectors: vec![NamedVector {
                name: String::new(),
                data: VectorData::Dense(
                    (0..BENCH_DIM).map(|d| ((i as f32) * 0.013 + d as f32 * 0.7).sin()).collect(),
                ),
            }],
            payload: Some(format!(r#"{{"n":{i},"text":"record number {i}"}}"#)),
        })
        .collect()
}

/// Bytes of vectors moved (what MB/s counts): n x dim x 4.
fn bench_mb(n: u64) -> f64 {
    (n as usize * BENCH_DIM * 4) as f64 / 1e6
}

fn report(who: &str, what: &str, n: u64, secs: f64) {
    eprintln!(
        "BENCH {who:<22} {what:<7} {n} records in {secs:6.2} s: {:8.0} records/s {:7.1} MB/s",
        n as f64 / secs,
        bench_mb(n) / secs
    );
}

/// Import then export BENCH_N records through a plugin; returns nothing, prints figures.
fn bench_plugin(plugin: &str, db: &mut dyn Database) {
    let name = vdr_tests::unique("bench");
    let mut schema = database::schema(&name, &chroma_caps(Metric::Euclidean));
    schema.vectors[0].dimension = BENCH_DIM as u32;
    db.create_collection(&schema).unwrap();
    let pts = bench_points(BENCH_N);
    let t = std::time::Instant::now();
    for chunk in pts.chunks(1000) {
        db.import_batch(&name, chunk.to_vec()).unwrap();
    }
    db.flush(&name).unwrap();
    report(&format!("vdr {plugin}"), "import", BENCH_N, t.elapsed().as_secs_f64());
    let t = std::time::Instant::now();
    let mut cursor = db.open_export(&name, None).unwrap();
    let mut got = 0;
    loop {
        let b = cursor.next_batch(1000).unwrap();
        if b.is_empty() {
            break;
        }
        got += b.len() as u64;
    }
    std::mem::drop(cursor);
    report(&format!("vdr {plugin}"), "export", got, t.elapsed().as_secs_f64());
    assert_eq!(got, BENCH_N, "every record exported");
    db.drop_collection(&name).unwrap();
}

/// The same work through the vendor's Python client (prints its own BENCH lines).
fn bench_python(script: &str, url: &str) {
    let venv = std::env::var("VDR_VENV")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv").to_string());
    let status = std::process::Command::new(format!("{venv}/bin/python"))
        .args(["-c", script, url, &BENCH_N.to_string(), &BENCH_DIM.to_string()])
        .status()
        .expect("running the vendor client benchmark");
    assert!(status.success(), "vendor client benchmark failed");
}

const PY_COMMON: &str = r##"
import sys, time, math
url, n, dim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
host, port = url.split("//")[1].split(":")
def report(who, what, count, secs):
    mb = count * dim * 4 / 1e6
    print(f"BENCH {who:<22} {what:<7} {count} records in {secs:6.2f} s: {count/secs:8.0f} records/s {mb/secs:7.1f} MB/s", file=sys.stderr)
def vec(i):
    return [math.sin(i * 0.013 + d * 0.7) for d in range(dim)]
"##;

const PY_CHROMA: &str = r##"
import chromadb
client = chromadb.HttpClient(host=host, port=int(port))
name = f"pybench{int(time.time())}"
c = client.create_collection(name, metadata={"hnsw:space": "l2"})
t = time.time()
for s in range(0, n, 1000):
    ids = range(s, min(n, s + 1000))
    c.add(ids=[f"#n:{i+1}" for i in ids], embeddings=[vec(i) for i in ids],
          metadatas=[{"n": i, "text": f"record number {i}"} for i in ids])
report("chromadb (python)", "import", n, time.time() - t)
t = time.time(); got = 0
while True:
    page = c.get(limit=1000, offset=got, include=["embeddings", "metadatas", "documents"])
    if not page["ids"]: break
    got += len(page["ids"])
report("chromadb (python)", "export", got, time.time() - t)
client.delete_collection(name)
"##;

const PY_MILVUS: &str = r##"
from pymilvus import MilvusClient, connections, Collection
client = MilvusClient(uri=url)
name = f"pybench{int(time.time())}"
client.create_collection(name, dimension=dim, metric_type="L2", auto_id=True)
t = time.time()
for s in range(0, n, 1000):
    ids = range(s, min(n, s + 1000))
    client.insert(name, [{"vector": vec(i), "vdr_id": f"#n:{i+1}", "n": i, "text": f"record number {i}"} for i in ids])
client.flush(name) if hasattr(client, "flush") else None
connections.connect(uri=url)
coll = Collection(name)
coll.flush()
while coll.query(expr="id > 0", output_fields=["count(*)"])[0]["count(*)"] < n: time.sleep(0.05)
report("pymilvus (python)", "import", n, time.time() - t)
t = time.time(); got = 0
it = coll.query_iterator(batch_size=1000, expr="id > 0", output_fields=["*"])
while True:
    rows = it.next()
    if not rows: break
    got += len(rows)
it.close()
report("pymilvus (python)", "export", got, time.time() - t)
client.drop_collection(name)
"##;

/// Prints throughput of vdr's plugins beside the vendors' Python clients:
/// `cargo test --workspace --test db_chroma_milvus bench -- --ignored --nocapture`
#[test]
#[ignore = "benchmark: prints figures, takes a minute"]
fn bench_export_import_against_vendor_clients() {
    if let Some(url) = vdr_tests::servers::endpoint("CHROMA") {
        with_cpu("vdr chroma", "chroma", true, || {
            bench_plugin("chroma", open("chroma", &url, serde_json::json!({})).as_mut())
        });
        with_cpu("chromadb (python)", "chroma", false, || {
            bench_python(&format!("{PY_COMMON}{PY_CHROMA}"), &url)
        });
    }
    if let Some(url) = vdr_tests::servers::endpoint("MILVUS") {
        with_cpu("vdr milvus", "milvus", true, || {
            bench_plugin("milvus", open("milvus", &url, serde_json::json!({})).as_mut())
        });
        with_cpu("pymilvus (python)", "milvus", false, || {
            bench_python(&format!("{PY_COMMON}{PY_MILVUS}"), &url)
        });
    }
}

/// Run `work` and print the CPU seconds the client (this process, or the
/// child it ran) and the server spent on it: both share this machine's
/// cores, so a client can only be faster where the server has room.
fn with_cpu(who: &str, server: &str, in_process: bool, work: impl FnOnce()) {
    use vdr_tests::servers::{cpu_secs, server_cpu_secs};
    let (client, on_server) = (cpu_secs(in_process), server_cpu_secs(server));
    work();
    let on_server = on_server
        .zip(server_cpu_secs(server))
        .map_or("unknown".into(), |(a, b)| format!("{:.2} s", b - a));
    eprintln!(
        "BENCH {who:<22} CPU     client {:.2} s, {server} server {on_server} (import + export)",
        cpu_secs(in_process) - client
    );
}
