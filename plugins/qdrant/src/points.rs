//! Points between the contract and Qdrant's JSON: ids are unsigned integers
//! or UUIDs; vectors are a bare list (the single unnamed vector) or a map of
//! name -> dense list, list of lists (multivector) or {indices, values}.

use serde_json::{Map, Value, json};
use vdr_plugin_sdk::prelude::*;

pub fn id_to_json(id: &PointId) -> Value {
    match id {
        PointId::Num(n) => json!(n),
        PointId::Str(s) => json!(s),
    }
}

pub fn id_from_json(v: &Value) -> Result<PointId> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .map(PointId::Num)
            .ok_or_else(|| Error::Internal(format!("point id {n} is not an unsigned integer"))),
        Value::String(s) => Ok(PointId::Str(s.clone())),
        other => Err(Error::Internal(format!("unexpected point id {other}"))),
    }
}

fn data_to_json(data: &VectorData) -> Value {
    match data {
        VectorData::Dense(v) => json!(v),
        VectorData::Sparse(s) => json!({ "indices": s.indices, "values": s.values }),
        VectorData::Multi(rows) => json!(rows),
    }
}

/// A point as Qdrant's upsert takes it.
pub fn to_json(point: &Point) -> Result<Value> {
    let vector = match point.vectors.as_slice() {
        [NamedVector { name, data: VectorData::Dense(v) }] if name.is_empty() => json!(v),
        vectors => {
            Value::Object(vectors.iter().map(|v| (v.name.clone(), data_to_json(&v.data))).collect())
        }
    };
    let payload = match &point.payload {
        None => Value::Object(Map::new()),
        Some(text) => {
            let v: Value = serde_json::from_str(text).map_err(|e| {
                Error::InvalidInput(format!("payload of {:?} is not JSON: {e}", point.id))
            })?;
            if !v.is_object() {
                return Err(Error::InvalidInput(format!(
                    "payload of {:?} must be a JSON object",
                    point.id
                )));
            }
            v
        }
    };
    Ok(json!({ "id": id_to_json(&point.id), "vector": vector, "payload": payload }))
}

fn floats(v: &Value) -> Result<Vec<f32>> {
    v.as_array()
        .ok_or_else(|| Error::Internal(format!("expected a list of numbers, got {v}")))?
        .iter()
        .map(|x| x.as_f64().map(|f| f as f32))
        .collect::<Option<Vec<f32>>>()
        .ok_or_else(|| Error::Internal(format!("expected a list of numbers, got {v}")))
}

fn data_from_json(v: &Value) -> Result<VectorData> {
    if let Some(obj) = v.as_object() {
        let indices = obj
            .get("indices")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::Internal(format!("sparse vector without indices: {v}")))?
            .iter()
            .map(|i| i.as_u64().and_then(|i| u32::try_from(i).ok()))
            .collect::<Option<Vec<u32>>>()
            .ok_or_else(|| Error::Internal(format!("bad sparse indices: {v}")))?;
        let values = floats(obj.get("values").unwrap_or(&Value::Null))?;
        return Ok(VectorData::Sparse(SparseVector { indices, values }));
    }
    let list = v.as_array().ok_or_else(|| Error::Internal(format!("unexpected vector {v}")))?;
    if list.first().is_some_and(Value::is_array) {
        return Ok(VectorData::Multi(list.iter().map(floats).collect::<Result<_>>()?));
    }
    Ok(VectorData::Dense(floats(v)?))
}

/// A point as scroll and retrieve return it.
pub fn from_json(v: &Value) -> Result<Point> {
    let id = id_from_json(v.get("id").unwrap_or(&Value::Null))?;
    let vectors = match v.get("vector") {
        None | Some(Value::Null) => vec![],
        Some(Value::Object(map)) => map
            .iter()
            .map(|(name, data)| Ok(NamedVector { name: name.clone(), data: data_from_json(data)? }))
            .collect::<Result<_>>()?,
        Some(single) => vec![NamedVector { name: String::new(), data: data_from_json(single)? }],
    };
    // Qdrant keeps `{}` for a point without payload: the two cannot be told
    // apart, and an empty object comes back as no payload.
    let payload = match v.get("payload") {
        Some(Value::Object(m)) if !m.is_empty() => Some(Value::Object(m.clone()).to_string()),
        _ => None,
    };
    Ok(Point { id, vectors, payload })
}
