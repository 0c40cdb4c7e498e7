//! Points between the contract and Pinecone vectors.
//!
//! - ids are strings (an integer id is stored as its decimal text and comes
//!   back as a string id);
//! - the dense vector is the field `""` (`values`), the sparse one the field
//!   `"sparse"` (`sparseValues`, dotproduct indexes only);
//! - Pinecone metadata is flat (string, number, boolean, list of strings):
//!   the payload's top-level fields of those types are copied for filtering,
//!   and the whole payload is kept exactly as JSON text in `__vdr_payload`.

use serde_json::{Map, Value, json};
use vdr_plugin_sdk::prelude::*;

pub const PAYLOAD_KEY: &str = "__vdr_payload";
pub const SPARSE: &str = "sparse";

pub fn id_text(id: &PointId) -> String {
    match id {
        PointId::Num(n) => n.to_string(),
        PointId::Str(s) => s.clone(),
    }
}

fn filterable(v: &Value) -> bool {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => true,
        Value::Array(items) => items.iter().all(Value::is_string),
        _ => false,
    }
}

pub fn to_json(point: &Point) -> Result<Value> {
    let id = id_text(&point.id);
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    for v in &point.vectors {
        match (&v.data, v.name.as_str()) {
            (VectorData::Dense(d), "") => {
                out.insert("values".into(), json!(d));
            }
            (VectorData::Sparse(s), _) => {
                out.insert(
                    "sparseValues".into(),
                    json!({ "indices": s.indices, "values": s.values }),
                );
            }
            _ => {
                return Err(Error::InvalidInput(format!(
                    "Pinecone holds one dense vector \"\" and one sparse vector per record; \
                     {id} has {:?}",
                    v.name
                )));
            }
        }
    }
    if let Some(text) = &point.payload {
        let payload: Value = serde_json::from_str(text)
            .map_err(|e| Error::InvalidInput(format!("payload of {id} is not JSON: {e}")))?;
        let Value::Object(fields) = payload else {
            return Err(Error::InvalidInput(format!("payload of {id} must be a JSON object")));
        };
        let mut metadata: Map<String, Value> =
            fields.into_iter().filter(|(k, v)| k != PAYLOAD_KEY && filterable(v)).collect();
        metadata.insert(PAYLOAD_KEY.into(), json!(text));
        out.insert("metadata".into(), Value::Object(metadata));
    }
    Ok(Value::Object(out))
}

fn floats(v: &Value) -> Result<Vec<f32>> {
    v.as_array()
        .and_then(|a| a.iter().map(|x| x.as_f64().map(|f| f as f32)).collect())
        .ok_or_else(|| Error::Internal(format!("expected numbers, got {v}")))
}

pub fn from_json(v: &Value) -> Result<Point> {
    let id = v
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Internal(format!("vector without id: {v}")))?;
    let mut vectors = Vec::new();
    if let Some(values) = v.get("values").filter(|x| x.as_array().is_some_and(|a| !a.is_empty())) {
        vectors.push(NamedVector { name: String::new(), data: VectorData::Dense(floats(values)?) });
    }
    if let Some(s) = v.get("sparseValues").filter(|s| !s.is_null()) {
        let indices = s
            .get("indices")
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter().map(|i| i.as_u64().and_then(|i| u32::try_from(i).ok())).collect()
            })
            .ok_or_else(|| Error::Internal(format!("bad sparse indices: {s}")))?;
        let values = floats(s.get("values").unwrap_or(&Value::Null))?;
        vectors.push(NamedVector {
            name: SPARSE.into(),
            data: VectorData::Sparse(SparseVector { indices, values }),
        });
    }
    let payload = match v.get("metadata") {
        Some(Value::Object(m)) => match m.get(PAYLOAD_KEY).and_then(Value::as_str) {
            Some(text) => Some(text.to_string()),
            None if m.is_empty() => None,
            None => Some(Value::Object(m.clone()).to_string()),
        },
        _ => None,
    };
    Ok(Point { id: PointId::Str(id.to_string()), vectors, payload })
}
