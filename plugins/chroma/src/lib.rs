//! `chroma`: Chroma 1.x through its HTTP API v2 (`/api/v2`). Collections live
//! in a tenant and a database (options `tenant`, `database`); records are
//! mapped as README.md describes (ids in `ids`, payloads in `payload`).

mod base64;
mod client;
mod export;
use vdr_plugin_sdk::{fresh, string_ids as ids};
mod payload;
mod records;
mod schema;

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Value, json};
use vdr_plugin_sdk::prelude::*;

use crate::client::Api;
use crate::export::ChromaCursor;
use crate::records::{GetResponse, INCLUDE};
use crate::schema::ChromaCollection;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    #[serde(default = "default_tenant")]
    tenant: String,
    #[serde(default = "default_database")]
    database: String,
    /// `x-chroma-token` (default) or `authorization` (sent as `Bearer <key>`).
    #[serde(default, rename = "auth-header")]
    auth_header: Option<String>,
}

fn default_tenant() -> String {
    "default_tenant".into()
}

fn default_database() -> String {
    "default_database".into()
}

struct Chroma {
    api: Api,
    /// Collection name -> Chroma collection id, as last seen.
    ids: HashMap<String, String>,
    version: Option<String>,
    fresh: fresh::Fresh,
}

impl Chroma {
    /// The collection's model; `not-found` if absent.
    fn lookup(&mut self, name: &str) -> Result<ChromaCollection> {
        schema::validate_name(name)?;
        let url = self.api.db_url(&format!("collections/{name}"));
        let c: ChromaCollection = self.api.get(url, &format!("collection {name}"))?;
        self.ids.insert(name.to_string(), c.id.clone());
        Ok(c)
    }

    /// The Chroma id of a collection (looked up once per instance).
    fn id(&mut self, name: &str) -> Result<String> {
        match self.ids.get(name) {
            Some(id) => Ok(id.clone()),
            None => Ok(self.lookup(name)?.id),
        }
    }

    fn records_url(&mut self, name: &str, op: &str) -> Result<String> {
        let id = self.id(name)?;
        Ok(self.api.db_url(&format!("collections/{id}/{op}")))
    }

    fn version(&mut self) -> String {
        if self.version.is_none() {
            let v: Result<Value> = self.api.get(self.api.root_url("version"), "version");
            self.version =
                Some(v.ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default());
        }
        self.version.clone().unwrap_or_default()
    }

    /// Create the tenant and database if they are missing.
    fn ensure_namespace(&self) -> Result<()> {
        let (tenant, database) = (&self.api.tenant, &self.api.database);
        let tenant_url = self.api.root_url(&format!("tenants/{tenant}"));
        if let Err(e) = self.api.get::<Value>(tenant_url, "tenant") {
            if !client::is_not_found(&e) {
                return Err(e);
            }
            let body = json!({ "name": tenant });
            ignore_exists(self.api.post_unit(
                self.api.root_url("tenants"),
                &body,
                "create tenant",
            ))?;
        }
        let db_url = self.api.root_url(&format!("tenants/{tenant}/databases/{database}"));
        if let Err(e) = self.api.get::<Value>(db_url, "database") {
            if !client::is_not_found(&e) {
                return Err(e);
            }
            let url = self.api.root_url(&format!("tenants/{tenant}/databases"));
            ignore_exists(self.api.post_unit(
                url,
                &json!({ "name": database }),
                "create database",
            ))?;
        }
        Ok(())
    }

    fn get_page(&mut self, name: &str, body: Value) -> Result<GetResponse> {
        let url = self.records_url(name, "get")?;
        self.api.post(url, &body, &format!("get from {name}"))
    }
}

/// Another client creating the same tenant or database first is fine.
fn ignore_exists(result: Result<()>) -> Result<()> {
    match result {
        Err(Error::AlreadyExists(_)) => Ok(()),
        other => other,
    }
}

impl DatabasePlugin for Chroma {
    fn configure(config: Config) -> Result<Self> {
        let options: Options = config.options()?;
        let auth = match (config.secret("api-key"), options.auth_header.as_deref()) {
            (None, _) => None,
            (Some(key), None | Some("x-chroma-token")) => {
                Some(("x-chroma-token".to_string(), key.to_string()))
            }
            (Some(key), Some("authorization")) => {
                Some(("authorization".to_string(), format!("Bearer {key}")))
            }
            (Some(_), Some(other)) => {
                return Err(Error::InvalidInput(format!(
                    "option auth-header must be x-chroma-token or authorization, got {other:?}"
                )));
            }
        };
        if !config.endpoint.starts_with("http://") && !config.endpoint.starts_with("https://") {
            return Err(Error::InvalidInput(format!(
                "chroma endpoint must be an http(s) URL, got {:?}",
                config.endpoint
            )));
        }
        let api = Api::new(&config.endpoint, options.tenant, options.database, auth);
        Ok(Chroma { api, ids: HashMap::new(), version: None, fresh: Default::default() })
    }

    fn list_collections(&mut self) -> Result<Vec<String>> {
        const PAGE: usize = 1000;
        let mut names = Vec::new();
        loop {
            let url = self.api.db_url(&format!("collections?limit={PAGE}&offset={}", names.len()));
            let page: Vec<ChromaCollection> = match self.api.get(url, "list collections") {
                Ok(page) => page,
                // No such tenant or database yet: it holds no collections.
                Err(e) if client::is_not_found(&e) => return Ok(names),
                Err(e) => return Err(e),
            };
            let done = page.len() < PAGE;
            for c in page {
                self.ids.insert(c.name.clone(), c.id);
                names.push(c.name);
            }
            if done {
                names.sort();
                return Ok(names);
            }
        }
    }

    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        let c = self.lookup(name)?;
        let version = self.version();
        let api = self.api.clone();
        schema::describe(&c, &version, || {
            // An empty collection created by another client: no dimension yet.
            let body = json!({ "limit": 1, "include": ["embeddings"] });
            let url = api.db_url(&format!("collections/{}/get", c.id));
            let first: GetResponse = api.post(url, &body, &format!("first record of {name}"))?;
            Ok(first.into_points()?.first().and_then(|p| match &p.vectors[0].data {
                VectorData::Dense(d) => Some(d.len() as u32),
                _ => None,
            }))
        })
    }

    fn open_export(
        &mut self,
        collection: &str,
        resume_from: Option<String>,
    ) -> Result<Box<dyn ExportCursor>> {
        let collection_id = self.lookup(collection)?.id;
        let offset = resume_from.as_deref().map(export::parse_token).transpose()?;
        Ok(Box::new(ChromaCursor {
            api: self.api.clone(),
            collection_id,
            name: collection.to_string(),
            offset: offset.unwrap_or(0),
            started: offset.is_some(),
        }))
    }

    fn create_collection(&mut self, schema: CollectionSchema) -> Result<()> {
        schema::validate_name(&schema.name)?;
        let body = schema::create_body(&schema)?;
        self.ensure_namespace()?;
        let url = self.api.db_url("collections");
        let c: ChromaCollection =
            self.api.post(url, &body, &format!("create collection {}", schema.name))?;
        self.fresh.created(&schema.name);
        self.ids.insert(schema.name, c.id);
        Ok(())
    }

    fn import_batch(&mut self, collection: &str, points: Vec<Point>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let body = records::add_body(points)?;
        // Chroma's upsert merges metadata into the old record's, so a
        // replaced point would keep keys it no longer has: delete, then add
        // (only the ids that may exist, in a collection this instance made).
        let context = format!("import into {collection}");
        let old = match self.fresh.write(collection, &body.ids) {
            Some(old) => old.into_iter().cloned().collect(),
            None => body.ids.clone(),
        };
        if !old.is_empty() {
            let delete_url = self.records_url(collection, "delete")?;
            self.api.post_unit(delete_url, &json!({ "ids": old }), &context)?;
        }
        let add_url = self.records_url(collection, "add")?;
        let bytes = serde_json::to_vec(&body)
            .map_err(|e| Error::Internal(format!("cannot encode records: {e}")))?;
        self.api.post_raw(add_url, bytes, &context)
    }

    fn fetch(&mut self, collection: &str, ids: Vec<PointId>) -> Result<Vec<Point>> {
        let ids: Vec<String> = ids.iter().map(ids::encode).collect();
        self.get_page(collection, json!({ "ids": ids, "include": INCLUDE }))?.into_points()
    }

    fn delete_points(&mut self, collection: &str, ids: Vec<PointId>) -> Result<()> {
        let ids: Vec<String> = ids.iter().map(ids::encode).collect();
        let url = self.records_url(collection, "delete")?;
        self.api.post_unit(url, &json!({ "ids": ids }), &format!("delete from {collection}"))
    }

    /// A single Chroma server reads its own writes: only check the
    /// collection is there.
    fn flush(&mut self, collection: &str) -> Result<()> {
        self.lookup(collection).map(drop)
    }

    fn count(&mut self, collection: &str) -> Result<u64> {
        let url = self.records_url(collection, "count")?;
        let context = format!("count {collection}");
        client::as_count(&self.api.get::<Value>(url, &context)?, &context)
    }

    fn search(
        &mut self,
        collection: &str,
        _vector: &str,
        query: Vec<f32>,
        k: u32,
    ) -> Result<Vec<ScoredPoint>> {
        #[derive(Deserialize)]
        struct QueryResponse {
            ids: Vec<Vec<String>>,
            distances: Option<Vec<Vec<Option<f32>>>>,
        }
        let url = self.records_url(collection, "query")?;
        let body = json!({ "query_embeddings": [query], "n_results": k, "include": ["distances"] });
        let r: QueryResponse = self.api.post(url, &body, &format!("search {collection}"))?;
        let ids = r.ids.into_iter().next().unwrap_or_default();
        let distances = r.distances.and_then(|d| d.into_iter().next()).unwrap_or_default();
        Ok(ids
            .into_iter()
            .enumerate()
            .map(|(i, id)| ScoredPoint {
                id: ids::decode(id),
                // Chroma returns distances: smaller is nearer.
                score: distances.get(i).copied().flatten().unwrap_or(f32::NAN),
            })
            .collect())
    }

    fn drop_collection(&mut self, name: &str) -> Result<()> {
        schema::validate_name(name)?;
        self.ids.remove(name);
        self.fresh.forget(name);
        let url = self.api.db_url(&format!("collections/{name}"));
        self.api.delete(url, &format!("drop collection {name}"))
    }
}

vdr_plugin_sdk::export_database_plugin!(Chroma, "vdr-plugin.toml");
