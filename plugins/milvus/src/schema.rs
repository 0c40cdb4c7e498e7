//! A Milvus collection's layout (primary key, vector fields, metric) read from
//! `describe`, as a vdr schema; and the `create` body for a vdr schema.

use serde_json::{Value, json};
use vdr_plugin_sdk::prelude::*;

use crate::client::Version;

/// Field names vdr gives the collections it creates.
pub const PK: &str = "id";
pub const VECTOR: &str = "vector";

/// How a collection's rows are shaped.
#[derive(Clone, Debug)]
pub struct Layout {
    pub pk: String,
    /// (vdr vector name, Milvus field, dimension, metric); the single vector
    /// of a one-vector collection is named "" in vdr.
    pub vectors: Vec<(String, String, u32, Metric)>,
    pub describe: Value,
}

impl Layout {
    /// Fields a row carries besides its payload.
    pub fn is_structural(&self, key: &str) -> bool {
        key == self.pk || self.vectors.iter().any(|v| v.1 == key)
    }
}

pub fn layout(describe: Value) -> Result<Layout> {
    let fields = describe["fields"].as_array().cloned().unwrap_or_default();
    let pk = fields
        .iter()
        .find(|f| f["primaryKey"].as_bool() == Some(true))
        .and_then(|f| f["name"].as_str())
        .ok_or_else(|| Error::Internal(format!("no primary key in {describe}")))?
        .to_string();
    let pk_type = fields.iter().find(|f| f["name"] == pk.as_str()).map(|f| f["type"].clone());
    if pk_type.as_ref().and_then(Value::as_str).is_some_and(|t| t != "Int64") {
        return Err(Error::Unsupported(format!(
            "primary key {pk} is {}: this plugin exports Int64 primary keys only",
            pk_type.unwrap_or_default()
        )));
    }
    let metric_of = |field: &str| -> Result<Metric> {
        let index = describe["indexes"].as_array().and_then(|ix| {
            ix.iter().find(|i| i["fieldName"] == field).and_then(|i| i["metricType"].as_str())
        });
        match index.unwrap_or("L2") {
            "L2" => Ok(Metric::Euclidean),
            "IP" => Ok(Metric::Dot),
            "COSINE" => Ok(Metric::Cosine),
            other => Err(Error::Unsupported(format!("Milvus metric {other} on {field}"))),
        }
    };
    let mut vectors = Vec::new();
    for f in &fields {
        let (Some(name), Some(ty)) = (f["name"].as_str(), f["type"].as_str()) else { continue };
        if let Some(dim) = float_vector_dim(ty, f) {
            vectors.push((name.to_string(), name.to_string(), dim, metric_of(name)?));
        } else if ty.contains("Vector") {
            return Err(Error::Unsupported(format!("Milvus vector field {name} of type {ty}")));
        }
    }
    if vectors.len() == 1 {
        vectors[0].0 = String::new();
    }
    Ok(Layout { pk, vectors, describe })
}

/// `FloatVector(384)` (v1), or `FloatVector` with a `dim` param (v2).
fn float_vector_dim(ty: &str, field: &Value) -> Option<u32> {
    if let Some(dim) = ty.strip_prefix("FloatVector(").and_then(|r| r.strip_suffix(')')) {
        return dim.parse().ok();
    }
    if ty != "FloatVector" {
        return None;
    }
    let params = field["params"].as_array()?;
    let dim = params.iter().find(|p| p["key"] == "dim")?;
    match &dim["value"] {
        Value::String(s) => s.parse().ok(),
        v => v.as_u64().map(|d| d as u32),
    }
}

pub fn schema(name: &str, layout: &Layout, version: Version) -> CollectionSchema {
    CollectionSchema {
        name: name.to_string(),
        engine: "milvus".into(),
        engine_version: match version {
            Version::V1 => "REST v1 (2.3)".into(),
            Version::V2 => "REST v2 (2.4+)".into(),
        },
        vectors: layout
            .vectors
            .iter()
            .map(|(vdr, _, dim, metric)| VectorField {
                name: vdr.clone(),
                kind: VectorKind::Dense,
                dimension: *dim,
                metric: *metric,
                element_type: ElementType::Float32,
            })
            .collect(),
        payload_indexes: vec![],
        shards: layout.describe["shardsNum"].as_u64().unwrap_or(1) as u32,
        replicas: 1,
        engine_config: Some(layout.describe.to_string()),
    }
}

/// The `create` body: an auto-id Int64 key `id`, one float vector `vector`,
/// dynamic fields on (both REST versions' quick-create form).
pub fn create_body(schema: &CollectionSchema, version: Version) -> Result<Value> {
    let field = match schema.vectors.as_slice() {
        [f] if f.kind == VectorKind::Dense => f,
        fields => {
            return Err(Error::Unsupported(format!(
                "this plugin creates Milvus collections with one dense vector; {} has {}: {}",
                schema.name,
                fields.len(),
                fields
                    .iter()
                    .map(|f| format!("{:?} ({:?})", f.name, f.kind))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let metric = match field.metric {
        Metric::Euclidean => "L2",
        Metric::Dot => "IP",
        Metric::Cosine => "COSINE",
        Metric::Manhattan => {
            return Err(Error::Unsupported(
                "Milvus has no manhattan metric for float vectors".into(),
            ));
        }
    };
    Ok(match version {
        Version::V1 => json!({
            "collectionName": schema.name, "dimension": field.dimension, "metricType": metric,
            "primaryField": PK, "vectorField": VECTOR, "description": "created by vdr",
        }),
        Version::V2 => json!({
            "collectionName": schema.name, "dimension": field.dimension, "metricType": metric,
            "primaryFieldName": PK, "vectorFieldName": VECTOR, "idType": "Int64", "autoID": true,
        }),
    })
}
