//! `misbehave`: a deliberately hostile database plugin for the host's sandbox
//! tests. `count(collection)` treats the collection name as a command:
//!
//! | command      | does                                                    | returns        |
//! |--------------|---------------------------------------------------------|----------------|
//! | `alloc:N`    | allocates and touches N MiB                             | N              |
//! | `loop`       | spins forever                                           | -              |
//! | `panic`      | panics                                                  | -              |
//! | `read:PATH`  | `std::fs::read(PATH)` (io errors mapped with their text)| bytes read     |
//! | `write:PATH` | writes a 9-byte file at PATH                            | 9              |
//! | `http:URL`   | GET URL through the host's `http-send`                  | HTTP status    |
//! | `env`        | counts the environment variables it sees                | the count      |
//! | `ok`         | nothing                                                 | 42             |
//!
//! Its data is malformed on purpose: `open-export` yields a sparse vector
//! whose indices and values differ in length and a payload that is not
//! JSON; `describe-collection` says dimension 3 while `fetch` returns two
//! components.

use std::hint::black_box;

use vdr_plugin_sdk::http::Request;
use vdr_plugin_sdk::prelude::*;

struct Misbehave;

const PAGE: usize = 4096;

impl DatabasePlugin for Misbehave {
    fn configure(_config: Config) -> Result<Self> {
        Ok(Misbehave)
    }

    fn list_collections(&mut self) -> Result<Vec<String>> {
        Ok(vec!["ok".into()])
    }

    fn count(&mut self, collection: &str) -> Result<u64> {
        let (command, argument) = collection.split_once(':').unwrap_or((collection, ""));
        match command {
            "alloc" => alloc(argument),
            "loop" => spin(),
            "panic" => panic!("misbehave: panic on request"),
            "read" => {
                let data = std::fs::read(argument).map_err(|e| io_error("read", &e))?;
                Ok(data.len() as u64)
            }
            "write" => {
                std::fs::write(argument, b"misbehave").map_err(|e| io_error("write", &e))?;
                Ok(9)
            }
            "http" => Ok(Request::get(argument).send()?.status as u64),
            "env" => Ok(std::env::vars().count() as u64),
            "ok" => Ok(42),
            _ => Err(Error::InvalidInput(format!("unknown misbehave command {collection:?}"))),
        }
    }

    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        Ok(CollectionSchema {
            name: name.to_string(),
            engine: "misbehave".into(),
            engine_version: String::new(),
            vectors: vec![VectorField {
                name: String::new(),
                kind: VectorKind::Dense,
                dimension: 3,
                metric: Metric::Cosine,
                element_type: ElementType::Float32,
            }],
            payload_indexes: Vec::new(),
            shards: 1,
            replicas: 1,
            engine_config: None,
        })
    }

    fn fetch(&mut self, _collection: &str, ids: Vec<PointId>) -> Result<Vec<Point>> {
        // Two components for a field the schema says has three.
        Ok(ids
            .into_iter()
            .map(|id| Point {
                id,
                vectors: vec![NamedVector {
                    name: String::new(),
                    data: VectorData::Dense(vec![1.0, 2.0]),
                }],
                payload: None,
            })
            .collect())
    }

    fn open_export(
        &mut self,
        _collection: &str,
        _resume_from: Option<String>,
    ) -> Result<Box<dyn ExportCursor>> {
        Ok(Box::new(MalformedCursor { sent: false }))
    }
}

/// Allocate `mib` MiB and write to every page so the memory is really used.
fn alloc(mib: &str) -> Result<u64> {
    let mib: u64 = mib
        .parse()
        .map_err(|_| Error::InvalidInput(format!("alloc:N needs a number, got {mib:?}")))?;
    let mut block = vec![0u8; (mib as usize) * 1024 * 1024];
    for i in (0..block.len()).step_by(PAGE) {
        block[i] = 1;
    }
    black_box(&block);
    Ok(mib)
}

/// Spin until the host interrupts us; `black_box` keeps the loop alive.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// One batch of malformed points, then the end.
struct MalformedCursor {
    sent: bool,
}

impl ExportCursor for MalformedCursor {
    fn next_batch(&mut self, _max: u32) -> Result<Vec<Point>> {
        if std::mem::replace(&mut self.sent, true) {
            return Ok(Vec::new());
        }
        Ok(vec![
            Point {
                id: PointId::Num(1),
                vectors: vec![NamedVector {
                    name: "sparse".into(),
                    data: VectorData::Sparse(SparseVector {
                        indices: vec![1, 2, 3],
                        values: vec![0.5],
                    }),
                }],
                payload: None,
            },
            Point { id: PointId::Num(2), vectors: Vec::new(), payload: Some("{not json".into()) },
        ])
    }

    fn resume_token(&self) -> Option<String> {
        self.sent.then(|| "2".to_string())
    }
}

vdr_plugin_sdk::export_database_plugin!(Misbehave, "vdr-plugin.toml");
