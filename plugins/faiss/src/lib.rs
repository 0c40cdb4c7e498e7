//! `faiss`: faiss index files in the directory the host lends the plugin
//! (`faiss:///dir`, seen at the endpoint, e.g. `/data`). Each `*.index` or
//! `*.faissindex` file is a collection named after its stem. See README.md.

mod collection;
mod export;
mod files;
mod format;

use std::collections::HashMap;
use std::fs;
use std::path::PathBuf;

use serde::Deserialize;
use vdr_plugin_sdk::prelude::*;

use crate::collection::{Collection, faiss_metric};
use crate::format::Layout;

const EXTENSIONS: &[&str] = &["index", "faissindex"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// Extension of files this plugin creates: "index" (default) or "faissindex".
    extension: Option<String>,
}

struct Faiss {
    root: PathBuf,
    extension: String,
    open: HashMap<String, Collection>,
}

fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!("bad faiss collection name {name:?}")))
    }
}

impl Faiss {
    /// The file holding collection `name`, if any.
    fn file_of(&self, name: &str) -> Option<String> {
        EXTENSIONS.iter().map(|e| format!("{name}.{e}")).find(|f| self.root.join(f).is_file())
    }

    fn collection(&mut self, name: &str) -> Result<&mut Collection> {
        validate_name(name)?;
        if !self.open.contains_key(name) {
            let file = self
                .file_of(name)
                .ok_or_else(|| Error::NotFound(format!("collection {name} (no {name}.index)")))?;
            self.open.insert(name.to_string(), Collection::load(&self.root, &file)?);
        }
        Ok(self.open.get_mut(name).expect("just opened"))
    }
}

impl DatabasePlugin for Faiss {
    fn configure(config: Config) -> Result<Self> {
        let options: Options = config.options()?;
        let extension = options.extension.unwrap_or_else(|| "index".into());
        if !EXTENSIONS.contains(&extension.as_str()) {
            return Err(Error::InvalidInput(format!("extension must be one of {EXTENSIONS:?}")));
        }
        let root = PathBuf::from(&config.endpoint);
        if !config.endpoint.starts_with('/') || !root.is_dir() {
            return Err(Error::InvalidInput(format!(
                "faiss endpoint must be a granted directory (e.g. /data), got {:?}",
                config.endpoint
            )));
        }
        Ok(Faiss { root, extension, open: HashMap::new() })
    }

    fn list_collections(&mut self) -> Result<Vec<String>> {
        let entries =
            fs::read_dir(&self.root).map_err(|e| io_error("listing the directory", &e))?;
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| io_error("listing the directory", &e))?;
            let Ok(file) = entry.file_name().into_string() else { continue };
            if let Some((stem, ext)) = file.rsplit_once('.')
                && EXTENSIONS.contains(&ext)
                && validate_name(stem).is_ok()
            {
                names.push(stem.to_string());
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        Ok(self.collection(name)?.schema(name))
    }

    fn open_export(
        &mut self,
        collection: &str,
        resume_from: Option<String>,
    ) -> Result<Box<dyn ExportCursor>> {
        Ok(Box::new(export::Cursor::open(self.collection(collection)?, resume_from)?))
    }

    fn create_collection(&mut self, schema: CollectionSchema) -> Result<()> {
        validate_name(&schema.name)?;
        if self.file_of(&schema.name).is_some() {
            return Err(Error::AlreadyExists(format!("collection {}", schema.name)));
        }
        let field = match schema.vectors.as_slice() {
            [f] if f.kind == VectorKind::Dense && f.dimension > 0 => f,
            _ => {
                return Err(Error::InvalidInput(format!(
                    "a faiss index holds one dense vector field; {} has {:?}",
                    schema.name,
                    schema.vectors.iter().map(|v| &v.name).collect::<Vec<_>>()
                )));
            }
        };
        // Same-engine restores keep the original file name and id-map kind.
        let saved: serde_json::Value = match (&schema.engine_config, schema.engine.as_str()) {
            (Some(t), "faiss") => serde_json::from_str(t).unwrap_or_default(),
            _ => serde_json::Value::Null,
        };
        let file = saved
            .get("file")
            .and_then(|f| f.as_str())
            .filter(|f| {
                f.rsplit_once('.').is_some_and(|(s, e)| s == schema.name && EXTENSIONS.contains(&e))
            })
            .map_or_else(|| format!("{}.{}", schema.name, self.extension), str::to_string);
        let layout = match saved.get("kind").and_then(|k| k.as_str()) {
            Some("IxMp") => Layout::IdMap,
            _ => Layout::Flat,
        };
        let metric = faiss_metric(field.metric)?;
        let mut c = Collection::create(file, field.dimension as usize, metric, layout);
        c.save(&self.root)?;
        self.open.insert(schema.name, c);
        Ok(())
    }

    fn import_batch(&mut self, collection: &str, points: Vec<Point>) -> Result<()> {
        self.collection(collection)?.upsert(points)
    }

    fn fetch(&mut self, collection: &str, ids: Vec<PointId>) -> Result<Vec<Point>> {
        let c = self.collection(collection)?;
        c.readable()?;
        Ok(ids.iter().filter_map(|id| c.position(id)).map(|at| c.point(at)).collect())
    }

    fn delete_points(&mut self, collection: &str, ids: Vec<PointId>) -> Result<()> {
        self.collection(collection)?.delete(&ids)
    }

    fn flush(&mut self, collection: &str) -> Result<()> {
        let root = self.root.clone();
        self.collection(collection)?.save(&root)
    }

    fn count(&mut self, collection: &str) -> Result<u64> {
        Ok(self.collection(collection)?.count())
    }

    /// Exact (brute-force) search over the flat vectors.
    fn search(
        &mut self,
        collection: &str,
        vector: &str,
        query: Vec<f32>,
        k: u32,
    ) -> Result<Vec<ScoredPoint>> {
        let c = self.collection(collection)?;
        c.readable()?;
        let d = c.header.d;
        if !vector.is_empty() || query.len() != d {
            return Err(Error::InvalidInput(format!(
                "faiss collections have one vector \"\" of dimension {d}"
            )));
        }
        let ip = c.header.metric == format::METRIC_IP;
        let mut scored: Vec<(f32, usize)> = c
            .vectors
            .chunks_exact(d.max(1))
            .enumerate()
            .map(|(i, v)| {
                let s = if ip {
                    -v.iter().zip(&query).map(|(a, b)| a * b).sum::<f32>()
                } else {
                    v.iter().zip(&query).map(|(a, b)| (a - b) * (a - b)).sum::<f32>()
                };
                (s, i)
            })
            .collect();
        scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        Ok(scored
            .into_iter()
            .take(k as usize)
            .map(|(s, i)| ScoredPoint {
                id: PointId::Num(c.ids[i]),
                score: if ip { -s } else { s },
            })
            .collect())
    }

    fn drop_collection(&mut self, name: &str) -> Result<()> {
        validate_name(name)?;
        let file =
            self.file_of(name).ok_or_else(|| Error::NotFound(format!("collection {name}")))?;
        self.open.remove(name);
        fs::remove_file(self.root.join(&file))
            .map_err(|e| io_error(&format!("removing {file}"), &e))
    }

    fn open_native_snapshot(&mut self, collection: &str) -> Result<Box<dyn ByteReader>> {
        let root = self.root.clone();
        let c = self.collection(collection)?;
        c.save(&root)?;
        Ok(Box::new(files::FileReader::open(&root.join(&c.file))?))
    }

    /// The stream is the original index file; it becomes `<collection>.<extension>`.
    fn restore_native_snapshot(
        &mut self,
        collection: &str,
        _size: u64,
    ) -> Result<Box<dyn ByteWriter>> {
        validate_name(collection)?;
        if self.file_of(collection).is_some() {
            return Err(Error::AlreadyExists(format!("collection {collection}")));
        }
        self.open.remove(collection);
        let file = format!("{collection}.{}", self.extension);
        Ok(Box::new(files::FileWriter::create(&self.root, &file)?))
    }
}

vdr_plugin_sdk::export_database_plugin!(Faiss, "vdr-plugin.toml");
