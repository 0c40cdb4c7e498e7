//! Chroma collections as vdr schemas and back: one dense vector field named
//! "", its metric from the HNSW space, the dimension from the collection (or
//! vdr's `vdr:dimension` metadata for a collection still empty), and the
//! collection's configuration and metadata kept as engine-config JSON.

use serde::Deserialize;
use serde_json::{Map, Value, json};
use vdr_plugin_sdk::prelude::*;

/// Collection metadata key recording the dimension of a collection created
/// by vdr (Chroma learns it only from the first record).
pub const DIMENSION_KEY: &str = "vdr:dimension";

/// The fields of Chroma's collection model that vdr reads.
#[derive(Deserialize)]
pub struct ChromaCollection {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub configuration_json: Value,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub dimension: Option<u32>,
}

/// Chroma's rule for collection names, checked here for a clear message.
pub fn validate_name(name: &str) -> Result<()> {
    let len = name.chars().count();
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !(3..=512).contains(&len)
        || !name.chars().all(ok_char)
        || !edge(name.chars().next())
        || !edge(name.chars().last())
    {
        return Err(Error::InvalidInput(format!(
            "invalid Chroma collection name {name:?}: Chroma needs 3-512 characters from \
             [a-zA-Z0-9._-], starting and ending with a letter or digit"
        )));
    }
    Ok(())
}

fn space_of(c: &ChromaCollection) -> String {
    let config = &c.configuration_json;
    ["hnsw", "spann"]
        .iter()
        .find_map(|k| config.get(k).and_then(|v| v.get("space")).and_then(Value::as_str))
        .or_else(|| c.metadata.as_ref()?.get("hnsw:space")?.as_str())
        .unwrap_or("l2")
        .to_string()
}

fn metric_of(space: &str) -> Result<Metric> {
    match space {
        "l2" => Ok(Metric::Euclidean),
        "ip" => Ok(Metric::Dot),
        "cosine" => Ok(Metric::Cosine),
        other => Err(Error::Internal(format!("unknown Chroma space {other:?}"))),
    }
}

fn space_for(metric: Metric) -> Result<&'static str> {
    match metric {
        Metric::Euclidean => Ok("l2"),
        Metric::Dot => Ok("ip"),
        Metric::Cosine => Ok("cosine"),
        Metric::Manhattan => Err(Error::Unsupported(
            "Chroma has no manhattan distance (spaces: l2, ip, cosine)".into(),
        )),
    }
}

/// The vdr schema of a collection; `dimension_hint` is the length of a
/// stored vector when neither Chroma nor vdr's metadata knows the dimension.
pub fn describe(
    c: &ChromaCollection,
    version: &str,
    dimension_hint: impl FnOnce() -> Result<Option<u32>>,
) -> Result<CollectionSchema> {
    let recorded = c.metadata.as_ref().and_then(|m| m.get(DIMENSION_KEY)).and_then(Value::as_u64);
    let dimension = match c.dimension.or(recorded.map(|d| d as u32)) {
        Some(d) => d,
        None => dimension_hint()?.unwrap_or(0),
    };
    let mut metadata = c.metadata.clone().unwrap_or_default();
    metadata.remove(DIMENSION_KEY);
    let engine_config = json!({ "configuration": c.configuration_json, "metadata": metadata });
    Ok(CollectionSchema {
        name: c.name.clone(),
        engine: "chroma".into(),
        engine_version: version.to_string(),
        vectors: vec![VectorField {
            name: String::new(),
            kind: VectorKind::Dense,
            dimension,
            metric: metric_of(&space_of(c))?,
            element_type: ElementType::Float32,
        }],
        payload_indexes: vec![],
        shards: 1,
        replicas: 1,
        engine_config: Some(engine_config.to_string()),
    })
}

/// The body of `POST .../collections` for a vdr schema. A schema that came
/// from Chroma keeps its configuration (HNSW settings) and metadata.
pub fn create_body(schema: &CollectionSchema) -> Result<Value> {
    let field = single_dense_field(schema)?;
    let space = space_for(field.metric)?;
    let saved: Option<Value> = match (&schema.engine_config, schema.engine.as_str()) {
        (Some(text), "chroma") => serde_json::from_str(text).ok(),
        _ => None,
    };
    let mut configuration =
        saved.as_ref().and_then(|s| s.get("configuration")).cloned().unwrap_or(Value::Null);
    if !configuration.is_object() {
        configuration = json!({ "hnsw": { "space": space } });
    }
    // The schema's metric wins over a saved configuration's space.
    for key in ["hnsw", "spann"] {
        if let Some(Value::Object(index)) = configuration.get_mut(key) {
            index.insert("space".into(), Value::String(space.into()));
        }
    }
    let mut metadata: Map<String, Value> = saved
        .as_ref()
        .and_then(|s| s.get("metadata"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    // Legacy metadata spaces would contradict the configuration.
    metadata.remove("hnsw:space");
    metadata.insert(DIMENSION_KEY.into(), json!(field.dimension));
    Ok(json!({ "name": schema.name, "configuration": configuration, "metadata": metadata }))
}

fn single_dense_field(schema: &CollectionSchema) -> Result<&VectorField> {
    match schema.vectors.as_slice() {
        [f] if f.kind == VectorKind::Dense => Ok(f),
        fields => Err(Error::Unsupported(format!(
            "a Chroma collection holds exactly one dense vector; {} has {}: {}",
            schema.name,
            fields.len(),
            fields
                .iter()
                .map(|f| format!("{:?} ({:?}, {})", f.name, f.kind, f.dimension))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
