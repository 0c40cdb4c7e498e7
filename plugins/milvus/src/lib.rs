//! `milvus`: Milvus over REST — v1 (`/v1/vector`, Milvus 2.3, tested) or v2
//! (`/v2/vectordb`, Milvus 2.4+, detected on first use, untested here).
//! What each can and cannot do is in README.md.

mod client;
mod export;
mod flush;
use vdr_plugin_sdk::{fresh, string_ids as ids};
mod records;
mod schema;

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Value, json};
use vdr_plugin_sdk::prelude::*;

use crate::client::{Api, Op, Version, pk_of};
use crate::export::{MilvusCursor, QUERY_CAP, keys_of};
use crate::flush::Pending;
use crate::schema::Layout;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    /// `v1`, `v2` or `auto` (default: v2 when the server has it).
    #[serde(default)]
    api: Option<String>,
}

struct Milvus {
    api: Api,
    layouts: HashMap<String, Layout>,
    pending: HashMap<String, Pending>,
    fresh: fresh::Fresh,
}

/// Ids per `vdr_id in [...]` lookup.
const LOOKUP_CHUNK: usize = 1000;

impl Milvus {
    fn describe(&mut self, name: &str) -> Result<Value> {
        let body = json!({ "collectionName": name });
        self.api.call(Op::Describe, body, &format!("describe {name}"))
    }

    fn layout(&mut self, name: &str) -> Result<Layout> {
        if let Some(l) = self.layouts.get(name) {
            return Ok(l.clone());
        }
        let layout = schema::layout(self.describe(name)?)?;
        self.layouts.insert(name.to_string(), layout.clone());
        Ok(layout)
    }

    /// Primary keys of the rows holding these vdr ids.
    fn keys_for(&mut self, name: &str, pk: &str, ids: &[PointId]) -> Result<Vec<i64>> {
        let mut keys = Vec::new();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let body = json!({
                "collectionName": name, "filter": records::id_filter(chunk),
                "outputFields": [pk], "limit": QUERY_CAP,
            });
            keys.extend(keys_of(
                &self.api.call(Op::Query, body, &format!("look up ids in {name}"))?,
                pk,
            ));
        }
        Ok(keys)
    }

    fn delete_keys(&mut self, name: &str, pk: &str, keys: &[i64]) -> Result<()> {
        let version = self.api.version()?;
        for chunk in keys.chunks(LOOKUP_CHUNK) {
            let body = match version {
                Version::V1 => json!({ "collectionName": name, "id": chunk }),
                Version::V2 => {
                    let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
                    json!({ "collectionName": name, "filter": format!("{pk} in [{}]", list.join(",")) })
                }
            };
            self.api.call(Op::Delete, body, &format!("delete from {name}"))?;
        }
        self.pending.entry(name.to_string()).or_default().deleted.extend_from_slice(keys);
        Ok(())
    }

    /// Wait until a newly created collection is loaded and queryable.
    fn wait_loaded(&mut self, name: &str) -> Result<()> {
        let mut wait = std::time::Duration::from_millis(25);
        for _ in 0..200 {
            let d = self.describe(name)?;
            match d.get("load").and_then(Value::as_str) {
                None | Some("LoadStateLoaded") => return Ok(()),
                Some(_) => std::thread::sleep(wait),
            }
            wait = (wait * 2).min(std::time::Duration::from_millis(500));
        }
        Err(Error::Unavailable(format!("collection {name} did not finish loading")))
    }
}

impl DatabasePlugin for Milvus {
    fn configure(config: Config) -> Result<Self> {
        let options: Options = config.options()?;
        let forced = match options.api.as_deref() {
            None | Some("auto") => None,
            Some("v1") => Some(Version::V1),
            Some("v2") => Some(Version::V2),
            Some(other) => {
                return Err(Error::InvalidInput(format!(
                    "option api must be v1, v2 or auto, got {other:?}"
                )));
            }
        };
        if !config.endpoint.starts_with("http://") && !config.endpoint.starts_with("https://") {
            return Err(Error::InvalidInput(format!(
                "milvus endpoint must be an http(s) URL, got {:?}",
                config.endpoint
            )));
        }
        let token = config.secret("token").map(String::from);
        let api = Api::new(&config.endpoint, token, forced);
        Ok(Milvus {
            api,
            layouts: HashMap::new(),
            pending: HashMap::new(),
            fresh: Default::default(),
        })
    }

    fn list_collections(&mut self) -> Result<Vec<String>> {
        let data = self.api.call(Op::List, json!({}), "list collections")?;
        let mut names: Vec<String> = serde_json::from_value(data)
            .map_err(|e| Error::Internal(format!("list collections: {e}")))?;
        names.sort();
        Ok(names)
    }

    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        self.layouts.remove(name);
        let layout = self.layout(name)?;
        let version = self.api.version()?;
        Ok(schema::schema(name, &layout, version))
    }

    fn open_export(
        &mut self,
        collection: &str,
        resume_from: Option<String>,
    ) -> Result<Box<dyn ExportCursor>> {
        let layout = self.layout(collection)?;
        let after = resume_from.as_deref().map(export::parse_token).transpose()?;
        Ok(Box::new(MilvusCursor::new(self.api.clone(), collection, layout, after)))
    }

    fn create_collection(&mut self, schema: CollectionSchema) -> Result<()> {
        let version = self.api.version()?;
        let body = schema::create_body(&schema, version)?;
        // Milvus answers a repeated create with the same parameters as a
        // success: ask first.
        match self.describe(&schema.name) {
            Ok(_) => return Err(Error::AlreadyExists(format!("collection {}", schema.name))),
            Err(Error::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        self.api.call(Op::Create, body, &format!("create collection {}", schema.name))?;
        self.layouts.remove(&schema.name);
        self.pending.remove(&schema.name);
        self.fresh.created(&schema.name);
        self.wait_loaded(&schema.name)
    }

    /// Upsert by vdr id: rows already holding these ids are deleted, then the
    /// points inserted (the primary keys are Milvus' auto ids).
    fn import_batch(&mut self, collection: &str, points: Vec<Point>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let layout = self.layout(collection)?;
        let ids: Vec<PointId> = points.iter().map(|p| p.id.clone()).collect();
        // Look up rows to replace only for ids that may exist: in a
        // collection this instance created, the ids it wrote before.
        let encoded: Vec<String> = ids.iter().map(ids::encode).collect();
        let maybe: Vec<PointId> = match self.fresh.write(collection, &encoded) {
            None => ids,
            Some(old) => {
                let old: std::collections::HashSet<&String> = old.into_iter().collect();
                ids.into_iter()
                    .zip(&encoded)
                    .filter(|(_, e)| old.contains(e))
                    .map(|p| p.0)
                    .collect()
            }
        };
        let old = if maybe.is_empty() {
            Vec::new()
        } else {
            self.keys_for(collection, &layout.pk, &maybe)?
        };
        if !old.is_empty() {
            self.delete_keys(collection, &layout.pk, &old)?;
        }
        let rows =
            points.into_iter().map(|p| records::row(p, &layout)).collect::<Result<Vec<_>>>()?;
        let body = json!({ "collectionName": collection, "data": rows });
        let data = self.api.call(Op::Insert, body, &format!("import into {collection}"))?;
        let inserted: Vec<i64> =
            data["insertIds"].as_array().into_iter().flatten().filter_map(pk_of).collect();
        if let Some(&last) = inserted.last() {
            self.pending.entry(collection.to_string()).or_default().inserted.push(last);
        }
        Ok(())
    }

    fn fetch(&mut self, collection: &str, ids: Vec<PointId>) -> Result<Vec<Point>> {
        let layout = self.layout(collection)?;
        let mut points = Vec::new();
        for chunk in ids.chunks(LOOKUP_CHUNK) {
            let body = json!({
                "collectionName": collection, "filter": records::id_filter(chunk),
                "outputFields": ["*"], "limit": QUERY_CAP,
            });
            let rows = self.api.call(Op::Query, body, &format!("fetch from {collection}"))?;
            for row in rows.as_array().cloned().unwrap_or_default() {
                points.push(records::point(row, &layout)?.1);
            }
        }
        Ok(points)
    }

    fn delete_points(&mut self, collection: &str, ids: Vec<PointId>) -> Result<()> {
        let layout = self.layout(collection)?;
        let keys = self.keys_for(collection, &layout.pk, &ids)?;
        self.delete_keys(collection, &layout.pk, &keys)
    }

    fn flush(&mut self, collection: &str) -> Result<()> {
        let layout = self.layout(collection)?;
        let pending = self.pending.remove(collection).unwrap_or_default();
        if pending.is_empty() {
            return Ok(());
        }
        flush::wait_visible(&mut self.api, collection, &layout.pk, &pending)
    }

    fn count(&mut self, collection: &str) -> Result<u64> {
        let layout = self.layout(collection)?;
        let pk = &layout.pk;
        // `count(*)` refuses a limit; v1 applies none when it is 0.
        let body = json!({
            "collectionName": collection, "filter": format!("({pk} >= 0 or {pk} < 0)"),
            "outputFields": ["count(*)"], "limit": 0,
        });
        let rows = self.api.call(Op::Query, body, &format!("count {collection}"))?;
        let value = &rows[0]["count(*)"];
        pk_of(value)
            .map(|n| n as u64)
            .ok_or_else(|| Error::Internal(format!("count {collection}: unexpected answer {rows}")))
    }

    fn search(
        &mut self,
        collection: &str,
        vector: &str,
        query: Vec<f32>,
        k: u32,
    ) -> Result<Vec<ScoredPoint>> {
        let layout = self.layout(collection)?;
        let field = layout
            .vectors
            .iter()
            .find(|v| v.0 == vector)
            .ok_or_else(|| Error::NotFound(format!("vector {vector:?} in {collection}")))?;
        let body = match self.api.version()? {
            Version::V1 => json!({
                "collectionName": collection, "vector": query, "limit": k,
                "outputFields": [records::ID_FIELD],
            }),
            Version::V2 => json!({
                "collectionName": collection, "data": [query], "annsField": field.1, "limit": k,
                "outputFields": [records::ID_FIELD],
            }),
        };
        let rows = self.api.call(Op::Search, body, &format!("search {collection}"))?;
        let mut hits = Vec::new();
        for row in rows.as_array().cloned().unwrap_or_default() {
            let id = match &row[records::ID_FIELD] {
                Value::String(s) => ids::decode(s.clone()),
                _ => PointId::Num(pk_of(&row[layout.pk.as_str()]).unwrap_or_default() as u64),
            };
            let score = row["distance"].as_f64().unwrap_or(f64::NAN) as f32;
            hits.push(ScoredPoint { id, score });
        }
        Ok(hits)
    }

    fn drop_collection(&mut self, name: &str) -> Result<()> {
        self.layouts.remove(name);
        self.fresh.forget(name);
        self.pending.remove(name);
        // v1 answers dropping a missing collection with code 100 (not found).
        self.api.call(
            Op::Drop,
            json!({ "collectionName": name }),
            &format!("drop collection {name}"),
        )?;
        Ok(())
    }
}

vdr_plugin_sdk::export_database_plugin!(Milvus, "vdr-plugin.toml");
