//! `schema.json`: the collection schema as JSON, and its validation.
//!
//! ```json
//! {"name":"docs","engine":"local","engine_version":"0.1.0",
//!  "vectors":[{"name":"","kind":"dense","dimension":384,"metric":"cosine","element_type":"float32"}],
//!  "payload_indexes":[{"field":"lang","kind":"keyword"}],
//!  "shards":1,"replicas":1,"engine_config":null}
//! ```

use serde::{Deserialize, Serialize};
use vdr_plugin_sdk::{
    CollectionSchema, ElementType, Error, Metric, PayloadIndex, Result, VectorField, VectorKind,
};

/// The engine name this store reports in schemas it describes.
pub const ENGINE: &str = "local";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchemaFile {
    name: String,
    engine: String,
    engine_version: String,
    vectors: Vec<FieldFile>,
    payload_indexes: Vec<PayloadIndexFile>,
    shards: u32,
    replicas: u32,
    engine_config: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldFile {
    name: String,
    kind: String,
    dimension: u32,
    metric: String,
    element_type: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayloadIndexFile {
    field: String,
    kind: String,
}

pub fn to_json(schema: &CollectionSchema) -> String {
    let file = SchemaFile {
        name: schema.name.clone(),
        engine: schema.engine.clone(),
        engine_version: schema.engine_version.clone(),
        vectors: schema
            .vectors
            .iter()
            .map(|v| FieldFile {
                name: v.name.clone(),
                kind: kind_name(v.kind).into(),
                dimension: v.dimension,
                metric: metric_name(v.metric).into(),
                element_type: element_name(v.element_type).into(),
            })
            .collect(),
        payload_indexes: schema
            .payload_indexes
            .iter()
            .map(|p| PayloadIndexFile { field: p.field.clone(), kind: p.kind.clone() })
            .collect(),
        shards: schema.shards,
        replicas: schema.replicas,
        engine_config: schema.engine_config.clone(),
    };
    serde_json::to_string_pretty(&file).expect("schema serialises")
}

pub fn from_json(text: &str) -> Result<CollectionSchema> {
    let bad = |what: String| Error::Internal(format!("schema.json: {what}"));
    let file: SchemaFile = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
    let vectors = file
        .vectors
        .into_iter()
        .map(|v| {
            Ok(VectorField {
                kind: parse(&v.kind, kind_name, &KINDS).ok_or_else(|| bad(v.kind.clone()))?,
                metric: parse(&v.metric, metric_name, &METRICS)
                    .ok_or_else(|| bad(v.metric.clone()))?,
                element_type: parse(&v.element_type, element_name, &ELEMENTS)
                    .ok_or_else(|| bad(v.element_type.clone()))?,
                name: v.name,
                dimension: v.dimension,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CollectionSchema {
        name: file.name,
        engine: file.engine,
        engine_version: file.engine_version,
        vectors,
        payload_indexes: file
            .payload_indexes
            .into_iter()
            .map(|p| PayloadIndex { field: p.field, kind: p.kind })
            .collect(),
        shards: file.shards,
        replicas: file.replicas,
        engine_config: file.engine_config,
    })
}

/// The schema as this store keeps it: engine "local"; another engine's
/// opaque configuration means nothing here and is dropped.
pub fn adopt(mut schema: CollectionSchema) -> CollectionSchema {
    if schema.engine != ENGINE {
        schema.engine_config = None;
    }
    schema.engine = ENGINE.into();
    schema.engine_version = env!("CARGO_PKG_VERSION").into();
    schema.shards = 1;
    schema.replicas = 1;
    schema
}

/// Collection names: 1-64 characters of `[A-Za-z0-9_.-]`, not `.` or `..`
/// (they become directory names).
pub fn validate_collection_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && name != "."
        && name != "..";
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(format!(
            "invalid collection name {name:?}: use 1-64 characters of A-Z a-z 0-9 _ . -"
        )))
    }
}

/// Check the vector fields: unique names, usable as index file names, dense
/// and multi fields with a dimension.
pub fn validate_fields(schema: &CollectionSchema) -> Result<()> {
    let bad = |msg: String| Err(Error::InvalidInput(format!("collection {}: {msg}", schema.name)));
    let mut files = Vec::new();
    for (i, field) in schema.vectors.iter().enumerate() {
        if schema.vectors[..i].iter().any(|f| f.name == field.name) {
            return bad(format!("duplicate vector field {:?}", field.name));
        }
        let n = &field.name;
        if n == "." || n == ".." || n.contains(['/', '\\', '\0']) || n.len() > 200 {
            return bad(format!("vector field name {n:?} cannot name an index file"));
        }
        if field.kind != VectorKind::Sparse && field.dimension == 0 {
            return bad(format!("vector field {n:?} needs a dimension"));
        }
        if field.kind == VectorKind::Dense {
            let file = index_file_name(n);
            if files.contains(&file) {
                return bad(format!("vector fields \"\" and \"default\" share {file}"));
            }
            files.push(file);
        }
    }
    Ok(())
}

/// The usearch file of a dense field: `<field>.usearch`, `default.usearch`
/// for the unnamed field.
pub fn index_file_name(field: &str) -> String {
    let stem = if field.is_empty() { "default" } else { field };
    format!("{stem}.usearch")
}

const KINDS: [VectorKind; 3] = [VectorKind::Dense, VectorKind::Sparse, VectorKind::Multi];
const METRICS: [Metric; 4] = [Metric::Cosine, Metric::Euclidean, Metric::Dot, Metric::Manhattan];
const ELEMENTS: [ElementType; 4] =
    [ElementType::Float32, ElementType::Float16, ElementType::Int8, ElementType::Binary];

fn parse<T: Copy>(text: &str, name: fn(T) -> &'static str, all: &[T]) -> Option<T> {
    all.iter().copied().find(|v| name(*v) == text)
}

fn kind_name(k: VectorKind) -> &'static str {
    match k {
        VectorKind::Dense => "dense",
        VectorKind::Sparse => "sparse",
        VectorKind::Multi => "multi",
    }
}

fn metric_name(m: Metric) -> &'static str {
    match m {
        Metric::Cosine => "cosine",
        Metric::Euclidean => "euclidean",
        Metric::Dot => "dot",
        Metric::Manhattan => "manhattan",
    }
}

fn element_name(e: ElementType) -> &'static str {
    match e {
        ElementType::Float32 => "float32",
        ElementType::Float16 => "float16",
        ElementType::Int8 => "int8",
        ElementType::Binary => "binary",
    }
}
