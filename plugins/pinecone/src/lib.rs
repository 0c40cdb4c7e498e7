//! `pinecone`: one Pinecone index (`pinecone+https://index-host`), whose
//! namespaces are the collections. See README.md for the mapping.

mod client;
mod export;
mod records;

use serde::Deserialize;
use serde_json::{Value, json};
use vdr_plugin_sdk::prelude::*;

use crate::client::Client;
use vdr_plugin_sdk::http::percent_encode;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Options {
    /// Control plane URL (e.g. https://api.pinecone.io); it must be granted
    /// to the plugin. With `index`, describe adds the index description to
    /// `engine-config` and create makes the index when it is missing.
    control_plane: Option<String>,
    /// The index's name on the control plane.
    index: Option<String>,
    /// Vectors per upsert request (default 100; Pinecone allows up to 1000 / 2 MB).
    batch_size: Option<usize>,
}

struct Pinecone {
    data: Client,
    control: Option<(Client, String)>,
    batch_size: usize,
}

/// Index-wide facts from `describe_index_stats`.
struct IndexStats {
    dimension: u32,
    metric: String,
}

fn metric_of(name: &str) -> Result<Metric> {
    Ok(match name {
        "cosine" => Metric::Cosine,
        "euclidean" => Metric::Euclidean,
        "dotproduct" => Metric::Dot,
        other => return Err(Error::Internal(format!("unknown Pinecone metric {other:?}"))),
    })
}

fn metric_name(metric: Metric) -> Result<&'static str> {
    Ok(match metric {
        Metric::Cosine => "cosine",
        Metric::Euclidean => "euclidean",
        Metric::Dot => "dotproduct",
        Metric::Manhattan => {
            return Err(Error::Unsupported("Pinecone has no manhattan metric".into()));
        }
    })
}

impl Pinecone {
    fn stats(&self) -> Result<IndexStats> {
        let s = self.data.call("POST", "/describe_index_stats", Some(&json!({})), "index stats")?;
        Ok(IndexStats {
            dimension: s.get("dimension").and_then(Value::as_u64).unwrap_or(0) as u32,
            metric: s.get("metric").and_then(Value::as_str).unwrap_or("cosine").to_string(),
        })
    }

    fn namespace(&self, name: &str) -> Result<Value> {
        let path = format!("/namespaces/{}", percent_encode(name));
        self.data.call("GET", &path, None, &format!("namespace {name}"))
    }

    /// The control plane's description of the index, if configured.
    fn describe_index(&self) -> Result<Option<Value>> {
        let Some((control, index)) = &self.control else { return Ok(None) };
        let path = format!("/indexes/{}", percent_encode(index));
        control.call("GET", &path, None, "describe index").map(Some)
    }

    /// Create the index through the control plane when it is missing.
    fn ensure_index(&self, field: &VectorField, saved: &Value) -> Result<()> {
        let Some((control, index)) = &self.control else { return Ok(()) };
        match self.describe_index() {
            Ok(_) => return Ok(()),
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let spec = saved
            .pointer("/index/spec")
            .cloned()
            .unwrap_or_else(|| json!({ "serverless": { "cloud": "aws", "region": "us-east-1" } }));
        let body = json!({
            "name": index,
            "dimension": field.dimension,
            "metric": metric_name(field.metric)?,
            "spec": spec,
            "deletion_protection": saved.pointer("/index/deletion_protection").cloned().unwrap_or(json!("disabled")),
        });
        control.call("POST", "/indexes", Some(&body), "create index")?;
        Ok(())
    }
}

impl DatabasePlugin for Pinecone {
    fn configure(config: Config) -> Result<Self> {
        let options: Options = config.options()?;
        let api_key = config.secret("api-key").map(str::to_string);
        let control = match (options.control_plane, options.index) {
            (Some(url), Some(index)) => Some((Client::new(&url, api_key.clone()), index)),
            (None, None) => None,
            _ => {
                return Err(Error::InvalidInput(
                    "options control-plane and index go together".into(),
                ));
            }
        };
        Ok(Pinecone {
            data: Client::new(&config.endpoint, api_key),
            control,
            batch_size: options.batch_size.unwrap_or(100).clamp(1, 1000),
        })
    }

    fn list_collections(&mut self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = "/namespaces?limit=100".to_string();
            if let Some(t) = &token {
                path.push_str(&format!("&paginationToken={}", percent_encode(t)));
            }
            let page = self.data.call("GET", &path, None, "list namespaces")?;
            if let Some(ns) = page.get("namespaces").and_then(Value::as_array) {
                names.extend(ns.iter().filter_map(|n| n.get("name")?.as_str().map(str::to_string)));
            }
            match page.pointer("/pagination/next").and_then(Value::as_str) {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        names.sort();
        Ok(names)
    }

    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        self.namespace(name)?;
        let stats = self.stats()?;
        let mut vectors = vec![VectorField {
            name: String::new(),
            kind: VectorKind::Dense,
            dimension: stats.dimension,
            metric: metric_of(&stats.metric)?,
            element_type: ElementType::Float32,
        }];
        if stats.metric == "dotproduct" {
            vectors.push(VectorField {
                name: records::SPARSE.into(),
                kind: VectorKind::Sparse,
                dimension: 0,
                metric: Metric::Dot,
                element_type: ElementType::Float32,
            });
        }
        let mut config = json!({ "namespace": name, "metric": stats.metric });
        if let Some(index) = self.describe_index()? {
            config["index"] = index;
        }
        Ok(CollectionSchema {
            name: name.to_string(),
            engine: "pinecone".into(),
            engine_version: client::API_VERSION.into(),
            vectors,
            payload_indexes: vec![],
            shards: 1,
            replicas: 1,
            engine_config: Some(config.to_string()),
        })
    }

    fn open_export(
        &mut self,
        collection: &str,
        resume_from: Option<String>,
    ) -> Result<Box<dyn ExportCursor>> {
        self.namespace(collection)?;
        Ok(Box::new(export::ListCursor::open(self.data.clone(), collection, resume_from)?))
    }

    /// A namespace in the configured index, whose dimension and metric must
    /// match the schema's dense field.
    fn create_collection(&mut self, schema: CollectionSchema) -> Result<()> {
        let dense: Vec<&VectorField> =
            schema.vectors.iter().filter(|f| f.kind != VectorKind::Sparse).collect();
        let [field] = dense.as_slice() else {
            return Err(Error::InvalidInput(format!(
                "a Pinecone index holds one dense vector per record; {} has {:?}",
                schema.name,
                dense.iter().map(|f| &f.name).collect::<Vec<_>>()
            )));
        };
        if field.kind != VectorKind::Dense {
            return Err(Error::Unsupported("Pinecone has no multi-vectors".into()));
        }
        let saved: Value = match (&schema.engine_config, schema.engine.as_str()) {
            (Some(t), "pinecone") => serde_json::from_str(t).unwrap_or_default(),
            _ => Value::Null,
        };
        self.ensure_index(field, &saved)?;
        let stats = self.stats()?;
        let want = metric_name(field.metric)?;
        if stats.dimension != field.dimension || stats.metric != want {
            return Err(Error::InvalidInput(format!(
                "the index has dimension {} and metric {}; collection {} needs {} and {want}",
                stats.dimension, stats.metric, schema.name, field.dimension
            )));
        }
        if schema.vectors.iter().any(|f| f.kind == VectorKind::Sparse) && want != "dotproduct" {
            return Err(Error::InvalidInput(
                "Pinecone keeps sparse values only in dotproduct indexes".into(),
            ));
        }
        let body = json!({ "name": schema.name });
        self.data.call(
            "POST",
            "/namespaces",
            Some(&body),
            &format!("create namespace {}", schema.name),
        )?;
        Ok(())
    }

    fn import_batch(&mut self, collection: &str, points: Vec<Point>) -> Result<()> {
        for chunk in points.chunks(self.batch_size) {
            let vectors = chunk.iter().map(records::to_json).collect::<Result<Vec<_>>>()?;
            let body = json!({ "namespace": collection, "vectors": vectors });
            self.data.call("POST", "/vectors/upsert", Some(&body), "upsert")?;
        }
        Ok(())
    }

    fn fetch(&mut self, collection: &str, ids: Vec<PointId>) -> Result<Vec<Point>> {
        let mut out = Vec::new();
        for chunk in ids.chunks(100) {
            let mut path = format!("/vectors/fetch?namespace={}", percent_encode(collection));
            for id in chunk {
                path.push_str(&format!("&ids={}", percent_encode(&records::id_text(id))));
            }
            let r = self.data.call("GET", &path, None, "fetch")?;
            if let Some(found) = r.get("vectors").and_then(Value::as_object) {
                for v in found.values() {
                    out.push(records::from_json(v)?);
                }
            }
        }
        Ok(out)
    }

    fn delete_points(&mut self, collection: &str, ids: Vec<PointId>) -> Result<()> {
        for chunk in ids.chunks(1000) {
            let ids: Vec<String> = chunk.iter().map(records::id_text).collect();
            let body = json!({ "namespace": collection, "ids": ids });
            self.data.call("POST", "/vectors/delete", Some(&body), "delete")?;
        }
        Ok(())
    }

    /// Pinecone applies writes asynchronously; the namespace must exist.
    fn flush(&mut self, collection: &str) -> Result<()> {
        self.namespace(collection).map(|_| ())
    }

    fn count(&mut self, collection: &str) -> Result<u64> {
        let ns = self.namespace(collection)?;
        ns.get("record_count")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::Internal(format!("{ns}")))
    }

    fn search(
        &mut self,
        collection: &str,
        vector: &str,
        query: Vec<f32>,
        k: u32,
    ) -> Result<Vec<ScoredPoint>> {
        if !vector.is_empty() {
            return Err(Error::InvalidInput(format!(
                "Pinecone records have one dense vector \"\", not {vector:?}"
            )));
        }
        let body = json!({ "namespace": collection, "topK": k, "vector": query,
                           "includeValues": false, "includeMetadata": false });
        let r = self.data.call("POST", "/query", Some(&body), "query")?;
        let matches = r.get("matches").and_then(Value::as_array).cloned().unwrap_or_default();
        matches
            .iter()
            .map(|m| {
                Ok(ScoredPoint {
                    id: PointId::Str(
                        m.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
                    ),
                    score: m.get("score").and_then(Value::as_f64).unwrap_or(0.0) as f32,
                })
            })
            .collect()
    }

    fn drop_collection(&mut self, name: &str) -> Result<()> {
        let path = format!("/namespaces/{}", percent_encode(name));
        self.data.call("DELETE", &path, None, &format!("delete namespace {name}")).map(|_| ())
    }
}

vdr_plugin_sdk::export_database_plugin!(Pinecone, "vdr-plugin.toml");
