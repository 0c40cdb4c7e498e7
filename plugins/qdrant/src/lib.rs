//! `qdrant`: Qdrant over its REST API (`qdrant+http://host:6333`). See
//! README.md for the mapping between the contract and Qdrant.

mod client;
mod export;
mod points;
mod schema;
mod snapshot;

use serde::Deserialize;
use serde_json::{Value, json};
use vdr_plugin_sdk::prelude::*;

use crate::client::Client;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Options {
    /// Points per upsert request (default 256).
    batch_size: Option<usize>,
}

struct Qdrant {
    client: Client,
    batch_size: usize,
    /// The server's version, asked once.
    version: Option<String>,
}

impl Qdrant {
    fn path(name: &str, rest: &str) -> String {
        format!("{}{rest}", Client::collection_path(name))
    }
}

impl DatabasePlugin for Qdrant {
    fn configure(config: Config) -> Result<Self> {
        let options: Options = config.options()?;
        if !config.endpoint.starts_with("http://") && !config.endpoint.starts_with("https://") {
            return Err(Error::InvalidInput(format!(
                "qdrant endpoint must be an http(s) URL, got {:?}",
                config.endpoint
            )));
        }
        let api_key = config.secret("api-key").map(str::to_string);
        Ok(Qdrant {
            client: Client::new(&config.endpoint, api_key),
            batch_size: options.batch_size.unwrap_or(256).max(1),
            version: None,
        })
    }

    fn list_collections(&mut self) -> Result<Vec<String>> {
        let r = self.client.call("GET", "/collections", None, "list collections")?;
        let mut names: Vec<String> = r
            .get("collections")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter().filter_map(|c| c.get("name")?.as_str().map(str::to_string)).collect()
            })
            .unwrap_or_default();
        names.sort();
        Ok(names)
    }

    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        let info = self.client.call("GET", &Self::path(name, ""), None, "describe collection")?;
        if self.version.is_none() {
            self.version = Some(self.client.version()?);
        }
        schema::from_info(name, &info, self.version.as_deref().unwrap_or(""))
    }

    fn open_export(
        &mut self,
        collection: &str,
        resume_from: Option<String>,
    ) -> Result<Box<dyn ExportCursor>> {
        Ok(Box::new(export::ScrollCursor::open(self.client.clone(), collection, resume_from)?))
    }

    fn create_collection(&mut self, schema: CollectionSchema) -> Result<()> {
        let body = schema::create_body(&schema)?;
        let context = format!("create collection {}", schema.name);
        self.client.call("PUT", &Self::path(&schema.name, ""), Some(&body), &context)?;
        for index in schema::index_bodies(&schema) {
            let path = Self::path(&schema.name, "/index?wait=true");
            self.client.call("PUT", &path, Some(&index), "create payload index")?;
        }
        Ok(())
    }

    fn import_batch(&mut self, collection: &str, points: Vec<Point>) -> Result<()> {
        let path = Self::path(collection, "/points?wait=true");
        for chunk in points.chunks(self.batch_size) {
            let body =
                json!({ "points": chunk.iter().map(points::to_json).collect::<Result<Vec<_>>>()? });
            self.client.call("PUT", &path, Some(&body), "upsert points")?;
        }
        Ok(())
    }

    fn fetch(&mut self, collection: &str, ids: Vec<PointId>) -> Result<Vec<Point>> {
        let body = json!({
            "ids": ids.iter().map(points::id_to_json).collect::<Vec<_>>(),
            "with_payload": true,
            "with_vector": true,
        });
        let r =
            self.client.call("POST", &Self::path(collection, "/points"), Some(&body), "fetch")?;
        r.as_array().map(|ps| ps.iter().map(points::from_json).collect()).unwrap_or(Ok(vec![]))
    }

    fn delete_points(&mut self, collection: &str, ids: Vec<PointId>) -> Result<()> {
        let body = json!({ "points": ids.iter().map(points::id_to_json).collect::<Vec<_>>() });
        let path = Self::path(collection, "/points/delete?wait=true");
        self.client.call("POST", &path, Some(&body), "delete points")?;
        Ok(())
    }

    /// Every write used `wait=true`: applied and searchable already.
    fn flush(&mut self, collection: &str) -> Result<()> {
        self.client.call("GET", &Self::path(collection, ""), None, "flush")?;
        Ok(())
    }

    fn count(&mut self, collection: &str) -> Result<u64> {
        let body = json!({ "exact": true });
        let r = self.client.call(
            "POST",
            &Self::path(collection, "/points/count"),
            Some(&body),
            "count",
        )?;
        r.get("count").and_then(Value::as_u64).ok_or_else(|| Error::Internal(format!("count: {r}")))
    }

    fn search(
        &mut self,
        collection: &str,
        vector: &str,
        query: Vec<f32>,
        k: u32,
    ) -> Result<Vec<ScoredPoint>> {
        let mut body = json!({ "query": query, "limit": k, "with_payload": false });
        if !vector.is_empty() {
            body["using"] = json!(vector);
        }
        let r = self.client.call(
            "POST",
            &Self::path(collection, "/points/query"),
            Some(&body),
            "search",
        )?;
        let hits = r.get("points").and_then(Value::as_array).cloned().unwrap_or_default();
        hits.iter()
            .map(|h| {
                Ok(ScoredPoint {
                    id: points::id_from_json(h.get("id").unwrap_or(&Value::Null))?,
                    score: h.get("score").and_then(Value::as_f64).unwrap_or(0.0) as f32,
                })
            })
            .collect()
    }

    fn drop_collection(&mut self, name: &str) -> Result<()> {
        // Qdrant answers 200 with `result: false` for an absent collection.
        let r = self.client.call("DELETE", &Self::path(name, ""), None, "drop collection")?;
        if r == Value::Bool(false) {
            return Err(Error::NotFound(format!("collection {name}")));
        }
        Ok(())
    }

    fn open_native_snapshot(&mut self, collection: &str) -> Result<Box<dyn ByteReader>> {
        Ok(Box::new(snapshot::SnapshotReader::create(self.client.clone(), collection)?))
    }

    fn restore_native_snapshot(
        &mut self,
        collection: &str,
        size: u64,
    ) -> Result<Box<dyn ByteWriter>> {
        Ok(Box::new(snapshot::SnapshotWriter::new(self.client.clone(), collection, size)))
    }
}

vdr_plugin_sdk::export_database_plugin!(Qdrant, "vdr-plugin.toml");
