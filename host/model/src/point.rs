//! Records ("points") as every engine sees them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A record's primary key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PointId {
    Num(u64),
    Str(String),
}

impl fmt::Display for PointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PointId::Num(n) => write!(f, "{n}"),
            PointId::Str(s) => f.write_str(s),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VectorData {
    Dense(Vec<f32>),
    Sparse(SparseVector),
    Multi(Vec<Vec<f32>>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamedVector {
    /// Field name; "" for an engine's single unnamed vector.
    pub name: String,
    pub data: VectorData,
}

/// One record: id, named vectors and a JSON payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub id: PointId,
    pub vectors: Vec<NamedVector>,
    /// A JSON object as text, or `None`.
    pub payload: Option<String>,
}

impl Point {
    /// The dense vector of field `name`, if the point has one.
    pub fn dense(&self, name: &str) -> Option<&[f32]> {
        self.vectors.iter().find(|v| v.name == name).and_then(|v| match &v.data {
            VectorData::Dense(d) => Some(d.as_slice()),
            _ => None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScoredPoint {
    pub id: PointId,
    pub score: f32,
}
