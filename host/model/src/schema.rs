//! Collection schemas.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    Cosine,
    Euclidean,
    Dot,
    Manhattan,
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::Euclidean => "euclidean",
            Metric::Dot => "dot",
            Metric::Manhattan => "manhattan",
        }
    }
    /// Parse the usual spellings (`cos`, `l2`, `ip`, ...).
    pub fn parse(s: &str) -> Option<Metric> {
        Some(match s.to_ascii_lowercase().as_str() {
            "cosine" | "cos" => Metric::Cosine,
            "euclidean" | "euclid" | "l2" | "l2sq" => Metric::Euclidean,
            "dot" | "ip" | "inner" | "inner_product" => Metric::Dot,
            "manhattan" | "l1" => Metric::Manhattan,
            _ => return None,
        })
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VectorKind {
    Dense,
    Sparse,
    Multi,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElementType {
    Float32,
    Float16,
    Int8,
    Binary,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VectorField {
    pub name: String,
    pub kind: VectorKind,
    pub dimension: u32,
    pub metric: Metric,
    pub element_type: ElementType,
}

impl VectorField {
    /// A field of float32 elements.
    pub fn new(name: &str, kind: VectorKind, dimension: u32, metric: Metric) -> VectorField {
        VectorField {
            name: name.to_string(),
            kind,
            dimension,
            metric,
            element_type: ElementType::Float32,
        }
    }

    /// The unnamed dense field of a single-vector collection.
    pub fn dense(dimension: u32, metric: Metric) -> VectorField {
        VectorField::new("", VectorKind::Dense, dimension, metric)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadIndex {
    pub field: String,
    pub kind: String,
}

/// Everything needed to recreate a collection in its engine or another one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionSchema {
    pub name: String,
    pub engine: String,
    pub engine_version: String,
    pub vectors: Vec<VectorField>,
    pub payload_indexes: Vec<PayloadIndex>,
    pub shards: u32,
    pub replicas: u32,
    /// Engine-specific JSON for exact same-engine restores.
    pub engine_config: Option<String>,
}

impl CollectionSchema {
    /// A collection of `vectors` and nothing engine-specific: no engine
    /// name or version, no payload indexes or engine config, one shard and
    /// one replica.
    pub fn new(name: &str, vectors: Vec<VectorField>) -> CollectionSchema {
        CollectionSchema {
            name: name.to_string(),
            engine: String::new(),
            engine_version: String::new(),
            vectors,
            payload_indexes: vec![],
            shards: 1,
            replicas: 1,
            engine_config: None,
        }
    }

    pub fn vector(&self, name: &str) -> Option<&VectorField> {
        self.vectors.iter().find(|v| v.name == name)
    }
    /// How `have` (a live collection) differs from this schema in its
    /// vector fields: one line per missing, extra or different field.
    pub fn vector_differences(&self, have: &CollectionSchema) -> Vec<String> {
        let mut diffs = Vec::new();
        for w in &self.vectors {
            let Some(h) = have.vector(&w.name) else {
                diffs.push(format!("vector {:?} is missing", w.name));
                continue;
            };
            if h.kind != w.kind {
                diffs
                    .push(format!("vector {:?}: kind {:?}, expected {:?}", w.name, h.kind, w.kind));
            }
            if h.dimension != w.dimension {
                diffs.push(format!(
                    "vector {:?}: dimension {}, expected {}",
                    w.name, h.dimension, w.dimension
                ));
            }
            if h.metric != w.metric {
                diffs.push(format!(
                    "vector {:?}: metric {}, expected {}",
                    w.name, h.metric, w.metric
                ));
            }
        }
        for h in &have.vectors {
            if self.vector(&h.name).is_none() {
                diffs.push(format!("vector {:?} is not in the snapshot", h.name));
            }
        }
        diffs
    }

    /// Dense fields, in schema order.
    pub fn dense_fields(&self) -> impl Iterator<Item = &VectorField> {
        self.vectors.iter().filter(|v| v.kind == VectorKind::Dense)
    }
}
