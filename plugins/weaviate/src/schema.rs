//! Collections between the contract and Weaviate classes.
//!
//! A class keeps no vector dimensions, so the plugin records them in the
//! class description (`[vdr:dimensions={"name":8}]`, appended to any
//! description the class had); classes made elsewhere get them from their
//! first object. The whole class definition travels in `engine-config` and
//! is reused on a same-engine restore (HNSW, quantisation, inverted index,
//! sharding and replication settings, properties).

use serde_json::{Map, Value, json};
use vdr_plugin_sdk::prelude::*;

use crate::objects::PAYLOAD_PROPERTY;

const MARKER: &str = "[vdr:dimensions=";

/// The class for a collection: Weaviate class names start with a capital.
pub fn class_name(collection: &str) -> Result<String> {
    let mut chars = collection.chars();
    let first = chars.next().filter(char::is_ascii_alphabetic);
    let rest_ok = chars.clone().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match first {
        Some(f) if rest_ok => Ok(format!("{}{}", f.to_ascii_uppercase(), chars.as_str())),
        _ => Err(Error::InvalidInput(format!(
            "{collection:?} cannot be a Weaviate class name (a letter, then letters, digits or _)"
        ))),
    }
}

fn distance(metric: Metric) -> &'static str {
    match metric {
        Metric::Cosine => "cosine",
        Metric::Euclidean => "l2-squared",
        Metric::Dot => "dot",
        Metric::Manhattan => "manhattan",
    }
}

fn metric(distance: &str) -> Result<Metric> {
    Ok(match distance {
        "cosine" | "" => Metric::Cosine,
        "l2-squared" => Metric::Euclidean,
        "dot" => Metric::Dot,
        "manhattan" => Metric::Manhattan,
        other => {
            return Err(Error::Unsupported(format!(
                "Weaviate distance {other:?} has no vdr metric"
            )));
        }
    })
}

/// Weaviate property types a payload index can be declared as.
fn data_type(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "keyword" | "text" => "text",
        "integer" | "int" => "int",
        "float" | "number" => "number",
        "bool" | "boolean" => "boolean",
        "datetime" | "date" => "date",
        "uuid" => "uuid",
        _ => return None,
    })
}

fn index_config(f: &VectorField) -> Value {
    let mut c = json!({ "distance": distance(f.metric) });
    if f.kind == VectorKind::Multi {
        c["multivector"] = json!({ "enabled": true });
    }
    c
}

/// The body of `POST /v1/schema`.
pub fn class_body(schema: &CollectionSchema, class: &str, tenant: bool) -> Result<Value> {
    let saved: Value = match (&schema.engine_config, schema.engine.as_str()) {
        (Some(t), "weaviate") => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let mut body = saved.as_object().cloned().unwrap_or_default();
    body.insert("class".into(), json!(class));
    let mut dims = Map::new();
    let (single, named): (Vec<&VectorField>, Vec<&VectorField>) =
        schema.vectors.iter().partition(|f| f.name.is_empty());
    for f in &schema.vectors {
        if f.kind == VectorKind::Sparse {
            return Err(Error::Unsupported(format!(
                "Weaviate has no sparse vectors (field {:?})",
                f.name
            )));
        }
        dims.insert(f.name.clone(), json!(f.dimension));
    }
    if !single.is_empty() && !named.is_empty() {
        return Err(Error::InvalidInput(
            "a Weaviate class has either one unnamed vector or named vectors, not both; \
             name the vector \"\""
                .into(),
        ));
    }
    if let Some(f) = single.first() {
        body.insert("vectorizer".into(), json!("none"));
        body.entry("vectorIndexType").or_insert(json!("hnsw"));
        let cfg = body.entry("vectorIndexConfig").or_insert(json!({}));
        merge(cfg, index_config(f));
        body.remove("vectorConfig");
    } else {
        let mut configs = Map::new();
        for f in named {
            let mut c =
                saved.pointer(&format!("/vectorConfig/{}", f.name)).cloned().unwrap_or(json!({}));
            c["vectorizer"] = json!({ "none": {} });
            if c.get("vectorIndexType").is_none() {
                c["vectorIndexType"] = json!("hnsw");
            }
            let cfg =
                c.as_object_mut().expect("object").entry("vectorIndexConfig").or_insert(json!({}));
            merge(cfg, index_config(f));
            configs.insert(f.name.clone(), c);
        }
        body.insert("vectorConfig".into(), Value::Object(configs));
        body.remove("vectorIndexConfig");
        body.remove("vectorIndexType");
        body.remove("vectorizer");
    }
    let original =
        body.get("description").and_then(Value::as_str).map(strip_marker).unwrap_or_default();
    let sep = if original.is_empty() { "" } else { " " };
    body.insert(
        "description".into(),
        json!(format!("{original}{sep}{MARKER}{}]", Value::Object(dims))),
    );
    if saved.get("properties").is_none() {
        let mut props = vec![json!({
            "name": PAYLOAD_PROPERTY, "dataType": ["text"],
            "description": "the record's payload as JSON text (vdr)",
            "indexFilterable": false, "indexSearchable": false,
        })];
        for i in &schema.payload_indexes {
            if let Some(t) = data_type(&i.kind) {
                props.push(json!({ "name": i.field, "dataType": [t], "indexFilterable": true }));
            }
        }
        body.insert("properties".into(), Value::Array(props));
    }
    body.insert("shardingConfig".into(), {
        let mut s = saved.get("shardingConfig").cloned().unwrap_or(json!({}));
        s["desiredCount"] = json!(schema.shards.max(1));
        s
    });
    body.insert("replicationConfig".into(), {
        let mut r = saved.get("replicationConfig").cloned().unwrap_or(json!({}));
        r["factor"] = json!(schema.replicas.max(1));
        r
    });
    if tenant {
        body.insert("multiTenancyConfig".into(), json!({ "enabled": true }));
    }
    Ok(Value::Object(body))
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(i), Value::Object(f)) = (into.as_object_mut(), from) {
        i.extend(f);
    }
}

fn strip_marker(d: &str) -> String {
    match d.find(MARKER) {
        Some(at) => d[..at].trim_end().to_string(),
        None => d.to_string(),
    }
}

/// Dimensions recorded in the class description.
fn recorded_dims(class: &Value) -> Map<String, Value> {
    let d = class.get("description").and_then(Value::as_str).unwrap_or("");
    d.find(MARKER)
        .and_then(|at| d[at + MARKER.len()..].strip_suffix(']'))
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
}

/// The schema of a class; `first` is the class's first object (with its
/// vectors), for dimensions the description does not record.
pub fn from_class(
    collection: &str,
    class: &Value,
    first: Option<&Point>,
    version: &str,
) -> Result<CollectionSchema> {
    let dims = recorded_dims(class);
    let dimension = |name: &str| -> u32 {
        if let Some(d) = dims.get(name).and_then(Value::as_u64) {
            return d as u32;
        }
        let data = first.and_then(|p| p.vectors.iter().find(|v| v.name == name)).map(|v| &v.data);
        match data {
            Some(VectorData::Dense(v)) => v.len() as u32,
            Some(VectorData::Multi(rows)) => rows.first().map_or(0, |r| r.len() as u32),
            _ => 0,
        }
    };
    let field = |name: &str, cfg: &Value| -> Result<VectorField> {
        let multi = cfg.pointer("/multivector/enabled").and_then(Value::as_bool).unwrap_or(false);
        Ok(VectorField {
            name: name.to_string(),
            kind: if multi { VectorKind::Multi } else { VectorKind::Dense },
            dimension: dimension(name),
            metric: metric(cfg.get("distance").and_then(Value::as_str).unwrap_or("cosine"))?,
            element_type: ElementType::Float32,
        })
    };
    let mut vectors = Vec::new();
    match class.get("vectorConfig").and_then(Value::as_object).filter(|m| !m.is_empty()) {
        Some(named) => {
            for (name, c) in named {
                vectors.push(field(name, c.get("vectorIndexConfig").unwrap_or(&Value::Null))?);
            }
        }
        None => vectors.push(field("", class.get("vectorIndexConfig").unwrap_or(&Value::Null))?),
    }
    let payload_indexes = class
        .get("properties")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .filter(|p| p.get("name").and_then(Value::as_str) != Some(PAYLOAD_PROPERTY))
                .filter(|p| p.get("indexFilterable").and_then(Value::as_bool) != Some(false))
                .filter_map(|p| {
                    Some(PayloadIndex {
                        field: p.get("name")?.as_str()?.to_string(),
                        kind: p.pointer("/dataType/0")?.as_str()?.to_string(),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let count = |ptr: &str| class.pointer(ptr).and_then(Value::as_u64).unwrap_or(1).max(1) as u32;
    Ok(CollectionSchema {
        name: collection.to_string(),
        engine: "weaviate".into(),
        engine_version: version.to_string(),
        vectors,
        payload_indexes,
        shards: count("/shardingConfig/desiredCount"),
        replicas: count("/replicationConfig/factor"),
        engine_config: Some(class.to_string()),
    })
}
