//! One index file as a collection: its vectors in memory, changes written
//! back (whole file, temp + rename) on `flush`.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;
use vdr_plugin_sdk::prelude::*;

use crate::format::{self, Header, Layout, METRIC_IP, METRIC_L2};

/// Why some kinds are backed up as files only.
pub const OPAQUE_NOTE: &str = "the vectors of this faiss index kind cannot be read back \
     exactly (it stores compressed or clustered codes): it is backed up as an opaque file \
     through the native snapshot stream and restored byte for byte";

pub struct Collection {
    pub file: String,
    pub header: Header,
    /// `None` for kinds that are opaque here.
    pub layout: Option<Layout>,
    pub ids: Vec<u64>,
    pub vectors: Vec<f32>,
    pub dirty: bool,
}

fn read_error(path: &Path, e: &std::io::Error) -> Error {
    io_error(&format!("reading {}", path.display()), e)
}

impl Collection {
    pub fn load(root: &Path, file: &str) -> Result<Self> {
        let path = root.join(file);
        let bytes = fs::read(&path).map_err(|e| read_error(&path, &e))?;
        let header = format::header(&bytes)?;
        let collection = match format::parse(&bytes)? {
            Some(p) => Collection {
                file: file.to_string(),
                header: p.header,
                layout: Some(p.layout),
                ids: p.ids,
                vectors: p.vectors,
                dirty: false,
            },
            None => Collection {
                file: file.to_string(),
                header,
                layout: None,
                ids: vec![],
                vectors: vec![],
                dirty: false,
            },
        };
        Ok(collection)
    }

    /// A new, empty collection (written by the caller's `save`).
    pub fn create(file: String, d: usize, metric: i32, layout: Layout) -> Self {
        let fourcc = if metric == METRIC_IP { *b"IxFI" } else { *b"IxF2" };
        let header = Header { fourcc, d, ntotal: 0, metric };
        Collection { file, header, layout: Some(layout), ids: vec![], vectors: vec![], dirty: true }
    }

    pub fn kind(&self) -> String {
        String::from_utf8_lossy(&self.header.fourcc).into_owned()
    }

    pub fn count(&self) -> u64 {
        if self.layout.is_some() { self.ids.len() as u64 } else { self.header.ntotal as u64 }
    }

    /// The layout of a collection whose vectors can be read and changed.
    pub fn readable(&self) -> Result<&Layout> {
        self.layout.as_ref().ok_or_else(|| {
            Error::Unsupported(format!("{} ({}): {OPAQUE_NOTE}", self.file, self.kind()))
        })
    }

    fn writable(&mut self) -> Result<()> {
        match self.readable()? {
            Layout::Hnsw => Err(Error::Unsupported(format!(
                "{} is an HNSW index: vdr does not rebuild faiss HNSW graphs; restore it from \
                 its native snapshot (the original file) instead",
                self.file
            ))),
            _ => Ok(()),
        }
    }

    pub fn schema(&self, name: &str) -> CollectionSchema {
        let metric = if self.header.metric == METRIC_IP { Metric::Dot } else { Metric::Euclidean };
        let config = json!({
            "file": self.file,
            "kind": self.kind(),
            "metric_type": self.header.metric,
            "vectors_recoverable": self.layout.is_some(),
            "note": if self.layout.is_none() { OPAQUE_NOTE } else { "" },
        });
        CollectionSchema {
            name: name.to_string(),
            engine: "faiss".into(),
            engine_version: String::new(),
            vectors: vec![VectorField {
                name: String::new(),
                kind: VectorKind::Dense,
                dimension: self.header.d as u32,
                metric,
                element_type: ElementType::Float32,
            }],
            payload_indexes: vec![],
            shards: 1,
            replicas: 1,
            engine_config: Some(config.to_string()),
        }
    }

    pub fn point(&self, position: usize) -> Point {
        let d = self.header.d;
        Point {
            id: PointId::Num(self.ids[position]),
            vectors: vec![NamedVector {
                name: String::new(),
                data: VectorData::Dense(self.vectors[position * d..(position + 1) * d].to_vec()),
            }],
            payload: None,
        }
    }

    pub fn position(&self, id: &PointId) -> Option<usize> {
        match id {
            PointId::Num(n) => self.ids.iter().position(|i| i == n),
            PointId::Str(_) => None,
        }
    }

    /// Upsert by id. Faiss keys are integers and it keeps no payload.
    pub fn upsert(&mut self, points: Vec<Point>) -> Result<()> {
        self.writable()?;
        let d = self.header.d;
        for p in points {
            let PointId::Num(id) = p.id else {
                return Err(Error::InvalidInput(format!(
                    "faiss ids are integers; {:?} cannot be stored",
                    p.id
                )));
            };
            if id > i64::MAX as u64 {
                return Err(Error::InvalidInput(format!("id {id} exceeds faiss's int64 ids")));
            }
            let vector = match p.vectors.as_slice() {
                [NamedVector { data: VectorData::Dense(v), .. }] => v,
                _ => {
                    return Err(Error::InvalidInput(format!(
                        "a faiss index holds exactly one dense vector per point; point {id} has {}",
                        p.vectors.len()
                    )));
                }
            };
            if vector.len() != d {
                return Err(Error::InvalidInput(format!(
                    "point {id}: dimension {} but the index has {d}",
                    vector.len()
                )));
            }
            match self.position(&PointId::Num(id)) {
                Some(at) => self.vectors[at * d..(at + 1) * d].copy_from_slice(vector),
                None => {
                    // A flat index keys by position: any other id needs an id map.
                    if id != self.ids.len() as u64 {
                        self.layout = Some(Layout::IdMap);
                    }
                    self.ids.push(id);
                    self.vectors.extend_from_slice(vector);
                }
            }
        }
        self.dirty = true;
        Ok(())
    }

    /// Delete by id; the remaining ids stay as they were (an id map).
    pub fn delete(&mut self, ids: &[PointId]) -> Result<()> {
        self.writable()?;
        let d = self.header.d;
        for id in ids {
            if let Some(at) = self.position(id) {
                self.ids.remove(at);
                self.vectors.drain(at * d..(at + 1) * d);
                self.layout = Some(Layout::IdMap);
                self.dirty = true;
            }
        }
        Ok(())
    }

    /// Write the file if changed: IxF2 / IxFI when ids are positions, else IxMp.
    pub fn save(&mut self, root: &Path) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let (d, metric) = (self.header.d, self.header.metric);
        let bytes = match self.readable()? {
            Layout::Flat => format::write_flat(d, metric, &self.vectors),
            _ => format::write_idmap(d, metric, &self.ids, &self.vectors),
        };
        write_atomic(root, &self.file, &bytes)?;
        self.header.ntotal = self.ids.len();
        self.dirty = false;
        Ok(())
    }
}

/// Faiss's metric for a contract metric. Faiss has no cosine: a cosine
/// field becomes inner product (cosine over unit vectors).
pub fn faiss_metric(metric: Metric) -> Result<i32> {
    match metric {
        Metric::Euclidean => Ok(METRIC_L2),
        Metric::Dot | Metric::Cosine => Ok(METRIC_IP),
        Metric::Manhattan => {
            Err(Error::Unsupported("vdr writes faiss L2 and inner-product indexes only".into()))
        }
    }
}

pub fn temp_path(root: &Path, file: &str) -> PathBuf {
    root.join(format!(".{file}.vdr-tmp"))
}

/// Write `file` under `root` through a temporary file and a rename.
pub fn write_atomic(root: &Path, file: &str, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(root, file);
    fs::write(&tmp, bytes).map_err(|e| io_error(&format!("writing {}", tmp.display()), &e))?;
    fs::rename(&tmp, root.join(file)).map_err(|e| io_error(&format!("renaming to {file}"), &e))
}
