//! `weaviate`: Weaviate over REST and GraphQL (`weaviate+http://host:8080`).
//! A collection is a class (its name with a capital first letter). See
//! README.md for the mapping.

mod client;
mod export;
mod graphql;
mod objects;
mod schema;

use serde::Deserialize;
use serde_json::{Value, json};
use vdr_plugin_sdk::prelude::*;

use crate::client::Client;
use crate::schema::class_name;
use vdr_plugin_sdk::http::percent_encode;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Options {
    /// Tenant of multi-tenant classes: every read and write goes to it, and
    /// created classes have multi-tenancy on with this tenant.
    tenant: Option<String>,
    /// Objects per batch request (default 200).
    batch_size: Option<usize>,
}

struct Weaviate {
    client: Client,
    tenant: Option<String>,
    batch_size: usize,
}

impl Weaviate {
    /// The class definition; not-found if absent.
    fn class(&self, collection: &str) -> Result<(String, Value)> {
        let class = class_name(collection)?;
        let path = format!("/v1/schema/{}", percent_encode(&class));
        let def = self.client.call("GET", &path, None, &format!("collection {collection}"))?;
        Ok((class, def))
    }

    fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    fn object_path(&self, class: &str, id: &str) -> String {
        let mut p =
            format!("/v1/objects/{}/{}?include=vector", percent_encode(class), percent_encode(id));
        if let Some(t) = &self.tenant {
            p.push_str(&format!("&tenant={}", percent_encode(t)));
        }
        p
    }
}

impl DatabasePlugin for Weaviate {
    fn configure(config: Config) -> Result<Self> {
        let options: Options = config.options()?;
        let api_key = config.secret("api-key").map(str::to_string);
        Ok(Weaviate {
            client: Client::new(&config.endpoint, api_key),
            tenant: options.tenant,
            batch_size: options.batch_size.unwrap_or(200).max(1),
        })
    }

    fn list_collections(&mut self) -> Result<Vec<String>> {
        let s = self.client.call("GET", "/v1/schema", None, "list classes")?;
        let mut names: Vec<String> = s
            .get("classes")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter().filter_map(|c| c.get("class")?.as_str().map(str::to_string)).collect()
            })
            .unwrap_or_default();
        names.sort();
        Ok(names)
    }

    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        let (class, def) = self.class(name)?;
        let first = if self.tenant.is_some()
            || !def.pointer("/multiTenancyConfig/enabled").and_then(Value::as_bool).unwrap_or(false)
        {
            export::ObjectCursor::new(self.client.clone(), &class, self.tenant.clone(), None)
                .page(1)?
                .pop()
        } else {
            None
        };
        let meta = self.client.call("GET", "/v1/meta", None, "server version")?;
        let version = meta.get("version").and_then(Value::as_str).unwrap_or("");
        schema::from_class(name, &def, first.as_ref(), version)
    }

    fn open_export(
        &mut self,
        collection: &str,
        resume_from: Option<String>,
    ) -> Result<Box<dyn ExportCursor>> {
        let (class, _) = self.class(collection)?;
        let cursor = export::ObjectCursor::new(
            self.client.clone(),
            &class,
            self.tenant.clone(),
            resume_from,
        );
        Ok(Box::new(cursor))
    }

    fn create_collection(&mut self, schema: CollectionSchema) -> Result<()> {
        let class = class_name(&schema.name)?;
        let body = schema::class_body(&schema, &class, self.tenant.is_some())?;
        self.client.call("POST", "/v1/schema", Some(&body), &format!("create class {class}"))?;
        if let Some(t) = &self.tenant {
            let path = format!("/v1/schema/{}/tenants", percent_encode(&class));
            self.client.call("POST", &path, Some(&json!([{ "name": t }])), "add tenant")?;
        }
        Ok(())
    }

    /// `POST /v1/batch/objects`; Weaviate answers 200 and reports failures
    /// per object, so every result is checked.
    fn import_batch(&mut self, collection: &str, points: Vec<Point>) -> Result<()> {
        let class = class_name(collection)?;
        for chunk in points.chunks(self.batch_size) {
            let objects = chunk
                .iter()
                .map(|p| objects::to_json(&class, self.tenant(), p))
                .collect::<Result<Vec<_>>>()?;
            let results = self.client.call(
                "POST",
                "/v1/batch/objects",
                Some(&json!({ "objects": objects })),
                "batch import",
            )?;
            for r in results.as_array().map(Vec::as_slice).unwrap_or_default() {
                if let Some(m) = r.pointer("/result/errors/error/0/message").and_then(Value::as_str)
                {
                    let id = r.get("id").and_then(Value::as_str).unwrap_or("?");
                    return Err(Error::InvalidInput(format!("batch import of {id}: {m}")));
                }
            }
        }
        Ok(())
    }

    fn fetch(&mut self, collection: &str, ids: Vec<PointId>) -> Result<Vec<Point>> {
        let (class, _) = self.class(collection)?;
        let mut out = Vec::new();
        for id in &ids {
            let PointId::Str(uuid) = id else { continue }; // cannot exist in Weaviate
            let response = self.client.send("GET", &self.object_path(&class, uuid), None)?;
            if response.status == 404 {
                continue;
            }
            let v: Value = client::check(response, "fetch")?.json()?;
            out.push(objects::from_json(&v)?);
        }
        Ok(out)
    }

    fn delete_points(&mut self, collection: &str, ids: Vec<PointId>) -> Result<()> {
        let (class, _) = self.class(collection)?;
        for id in &ids {
            let PointId::Str(uuid) = id else { continue };
            let response = self.client.send("DELETE", &self.object_path(&class, uuid), None)?;
            if response.status != 404 {
                client::check(response, "delete")?;
            }
        }
        Ok(())
    }

    /// Batch writes are applied when the request returns.
    fn flush(&mut self, collection: &str) -> Result<()> {
        self.class(collection).map(|_| ())
    }

    fn count(&mut self, collection: &str) -> Result<u64> {
        let (class, _) = self.class(collection)?;
        graphql::count(&self.client, &class, self.tenant())
    }

    fn search(
        &mut self,
        collection: &str,
        vector: &str,
        query: Vec<f32>,
        k: u32,
    ) -> Result<Vec<ScoredPoint>> {
        let (class, _) = self.class(collection)?;
        graphql::near_vector(&self.client, &class, self.tenant(), vector, &query, k)
    }

    /// Weaviate deletes an absent class without complaint: look first.
    fn drop_collection(&mut self, name: &str) -> Result<()> {
        let (class, _) = self.class(name)?;
        let path = format!("/v1/schema/{}", percent_encode(&class));
        self.client.call("DELETE", &path, None, &format!("drop class {class}")).map(|_| ())
    }
}

vdr_plugin_sdk::export_database_plugin!(Weaviate, "vdr-plugin.toml");
