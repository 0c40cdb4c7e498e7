//! Collection configuration between the contract's schema and Qdrant's
//! `PUT /collections/{c}` body and `GET /collections/{c}` info.
//!
//! The contract carries names, kinds, sizes and metrics; everything else
//! Qdrant knows (per-vector `on_disk`, `hnsw_config`, `quantization_config`,
//! `datatype`, sparse `index`/`modifier`, the collection's HNSW, optimizer,
//! WAL and quantization settings, payload index parameters) travels verbatim
//! in `engine-config`, and is applied again when the schema comes from
//! Qdrant.

use serde_json::{Map, Value, json};
use vdr_plugin_sdk::prelude::*;

/// Per-vector keys that describe the field itself (rebuilt from the schema);
/// any other key of the vector's params is carried from `engine-config`.
const OWN_KEYS: &[&str] = &["size", "distance", "multivector_config"];

fn distance(metric: Metric) -> &'static str {
    match metric {
        Metric::Cosine => "Cosine",
        Metric::Euclidean => "Euclid",
        Metric::Dot => "Dot",
        Metric::Manhattan => "Manhattan",
    }
}

fn metric(distance: &str) -> Result<Metric> {
    Ok(match distance {
        "Cosine" => Metric::Cosine,
        "Euclid" => Metric::Euclidean,
        "Dot" => Metric::Dot,
        "Manhattan" => Metric::Manhattan,
        other => return Err(Error::Internal(format!("unknown Qdrant distance {other:?}"))),
    })
}

fn datatype(element: ElementType) -> Result<Option<&'static str>> {
    Ok(match element {
        ElementType::Float32 => None,
        ElementType::Float16 => Some("float16"),
        ElementType::Int8 => Some("uint8"),
        ElementType::Binary => {
            return Err(Error::Unsupported(
                "Qdrant stores binary vectors as float32 with binary quantization; \
                 convert the field to float32"
                    .into(),
            ));
        }
    })
}

fn element(datatype: Option<&str>) -> ElementType {
    match datatype {
        Some("float16") => ElementType::Float16,
        Some("uint8") => ElementType::Int8,
        _ => ElementType::Float32,
    }
}

/// The `engine-config` of a schema that came from Qdrant, if any.
fn engine_config(schema: &CollectionSchema) -> Value {
    match (&schema.engine_config, schema.engine.as_str()) {
        (Some(text), "qdrant") => serde_json::from_str(text).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

/// Keys of `from` other than `skip`, copied into `into`.
fn carry(into: &mut Map<String, Value>, from: Option<&Value>, skip: &[&str]) {
    if let Some(Value::Object(m)) = from {
        for (k, v) in m {
            if !skip.contains(&k.as_str()) && !v.is_null() {
                into.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The body of `PUT /collections/{name}`.
pub fn create_body(schema: &CollectionSchema) -> Result<Value> {
    let saved = engine_config(schema);
    let saved_vectors = saved.pointer("/params/vectors");
    let single_saved = saved_vectors.filter(|v| v.get("size").is_some());
    let mut dense = Map::new();
    let mut sparse = Map::new();
    for f in &schema.vectors {
        match f.kind {
            VectorKind::Sparse => {
                let mut p = Map::new();
                carry(
                    &mut p,
                    saved.pointer("/params/sparse_vectors").and_then(|s| s.get(&f.name)),
                    &[],
                );
                sparse.insert(f.name.clone(), Value::Object(p));
            }
            VectorKind::Dense | VectorKind::Multi => {
                if f.dimension == 0 {
                    return Err(Error::InvalidInput(format!(
                        "vector {:?} has dimension 0",
                        f.name
                    )));
                }
                let mut p = Map::new();
                p.insert("size".into(), json!(f.dimension));
                p.insert("distance".into(), json!(distance(f.metric)));
                if f.kind == VectorKind::Multi {
                    p.insert("multivector_config".into(), json!({ "comparator": "max_sim" }));
                }
                let saved_field = if f.name.is_empty() && single_saved.is_some() {
                    single_saved
                } else {
                    saved_vectors.and_then(|v| v.get(&f.name))
                };
                carry(&mut p, saved_field, OWN_KEYS);
                if let Some(multi) = saved_field.and_then(|s| s.get("multivector_config")) {
                    p.insert("multivector_config".into(), multi.clone());
                }
                if let Some(dt) = datatype(f.element_type)? {
                    p.insert("datatype".into(), json!(dt));
                }
                dense.insert(f.name.clone(), Value::Object(p));
            }
        }
    }
    // The single unnamed vector uses Qdrant's single-vector form.
    let vectors = match dense.get("") {
        Some(single) if dense.len() == 1 => single.clone(),
        _ => Value::Object(dense),
    };
    let mut body = Map::new();
    body.insert("vectors".into(), vectors);
    if !sparse.is_empty() {
        body.insert("sparse_vectors".into(), Value::Object(sparse));
    }
    body.insert("shard_number".into(), json!(schema.shards.max(1)));
    body.insert("replication_factor".into(), json!(schema.replicas.max(1)));
    for (from, to) in [
        ("/params/on_disk_payload", "on_disk_payload"),
        ("/params/write_consistency_factor", "write_consistency_factor"),
        ("/hnsw_config", "hnsw_config"),
        ("/optimizer_config", "optimizers_config"),
        ("/wal_config", "wal_config"),
        ("/quantization_config", "quantization_config"),
    ] {
        if let Some(v) = saved.pointer(from).filter(|v| !v.is_null()) {
            body.insert(to.into(), v.clone());
        }
    }
    Ok(Value::Object(body))
}

/// `PUT /collections/{c}/index` bodies for the schema's payload indexes
/// (with their saved parameters when the schema came from Qdrant).
pub fn index_bodies(schema: &CollectionSchema) -> Vec<Value> {
    let saved = engine_config(schema);
    schema
        .payload_indexes
        .iter()
        .map(|i| {
            let params = saved
                .pointer("/payload_schema")
                .and_then(|s| s.get(&i.field))
                .and_then(|s| s.get("params"))
                .filter(|p| p.is_object());
            let field_schema = params.cloned().unwrap_or_else(|| json!(i.kind));
            json!({ "field_name": i.field, "field_schema": field_schema })
        })
        .collect()
}

fn field(name: &str, params: &Value) -> Result<VectorField> {
    let size = params.get("size").and_then(Value::as_u64).unwrap_or(0);
    Ok(VectorField {
        name: name.to_string(),
        kind: if params.get("multivector_config").is_some_and(|m| !m.is_null()) {
            VectorKind::Multi
        } else {
            VectorKind::Dense
        },
        dimension: u32::try_from(size).map_err(|_| Error::Internal(format!("size {size}")))?,
        metric: metric(params.get("distance").and_then(Value::as_str).unwrap_or(""))?,
        element_type: element(params.get("datatype").and_then(Value::as_str)),
    })
}

/// The schema of a collection from `GET /collections/{name}`'s result.
pub fn from_info(name: &str, info: &Value, version: &str) -> Result<CollectionSchema> {
    let config = info.get("config").cloned().unwrap_or(Value::Null);
    let params = config.get("params").cloned().unwrap_or(Value::Null);
    let mut vectors = Vec::new();
    match params.get("vectors") {
        Some(single) if single.get("size").is_some() => vectors.push(field("", single)?),
        Some(Value::Object(named)) => {
            for (n, p) in named {
                vectors.push(field(n, p)?);
            }
        }
        _ => {}
    }
    if let Some(Value::Object(sparse)) = params.get("sparse_vectors") {
        for n in sparse.keys() {
            vectors.push(VectorField {
                name: n.clone(),
                kind: VectorKind::Sparse,
                dimension: 0,
                metric: Metric::Dot,
                element_type: ElementType::Float32,
            });
        }
    }
    let mut payload_indexes = Vec::new();
    let mut payload_schema = Map::new();
    if let Some(Value::Object(schema)) = info.get("payload_schema") {
        for (f, s) in schema {
            let kind = s.get("data_type").and_then(Value::as_str).unwrap_or("keyword");
            payload_indexes.push(PayloadIndex { field: f.clone(), kind: kind.to_string() });
            let mut kept = s.clone();
            if let Some(m) = kept.as_object_mut() {
                m.remove("points"); // a count, not configuration
            }
            payload_schema.insert(f.clone(), kept);
        }
    }
    let count = |key: &str| params.get(key).and_then(Value::as_u64).unwrap_or(1) as u32;
    let mut saved = config.clone();
    if let Some(m) = saved.as_object_mut() {
        m.insert("payload_schema".into(), Value::Object(payload_schema));
    }
    Ok(CollectionSchema {
        name: name.to_string(),
        engine: "qdrant".into(),
        engine_version: version.to_string(),
        vectors,
        payload_indexes,
        shards: count("shard_number"),
        replicas: count("replication_factor"),
        engine_config: Some(saved.to_string()),
    })
}
