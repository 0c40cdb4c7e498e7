//! Points between the contract and Weaviate objects.
//!
//! - ids are UUIDs (Weaviate's only kind of id);
//! - the vector `""` is the class's single (legacy) vector (`vector`), any
//!   other name a named vector (`vectors`); multi-vectors are lists of lists;
//! - the payload's top-level fields that map onto Weaviate properties
//!   (text, number, boolean, text[]) are properties, for filtering, and the
//!   whole payload is kept exactly as JSON text in the property `vdrPayload`.

use serde_json::{Map, Value, json};
use vdr_plugin_sdk::prelude::*;

pub const PAYLOAD_PROPERTY: &str = "vdrPayload";

pub fn uuid(id: &PointId) -> Result<&str> {
    match id {
        PointId::Str(s) => Ok(s),
        PointId::Num(n) => Err(Error::InvalidInput(format!(
            "Weaviate object ids are UUIDs; the integer id {n} cannot be stored"
        ))),
    }
}

fn property(name: &str, v: &Value) -> bool {
    let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let value_ok = match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => true,
        Value::Array(items) => !items.is_empty() && items.iter().all(Value::is_string),
        _ => false,
    };
    name_ok && value_ok && name != PAYLOAD_PROPERTY
}

pub fn to_json(class: &str, tenant: Option<&str>, point: &Point) -> Result<Value> {
    let mut obj = Map::new();
    obj.insert("class".into(), json!(class));
    obj.insert("id".into(), json!(uuid(&point.id)?));
    let mut named = Map::new();
    for v in &point.vectors {
        let data = match &v.data {
            VectorData::Dense(d) => json!(d),
            VectorData::Multi(rows) => json!(rows),
            VectorData::Sparse(_) => {
                return Err(Error::Unsupported("Weaviate has no sparse vectors".into()));
            }
        };
        if v.name.is_empty() {
            obj.insert("vector".into(), data);
        } else {
            named.insert(v.name.clone(), data);
        }
    }
    if !named.is_empty() {
        obj.insert("vectors".into(), Value::Object(named));
    }
    let mut props = Map::new();
    if let Some(text) = &point.payload {
        let payload: Value = serde_json::from_str(text).map_err(|e| {
            Error::InvalidInput(format!("payload of {:?} is not JSON: {e}", point.id))
        })?;
        let Value::Object(fields) = payload else {
            return Err(Error::InvalidInput(format!(
                "payload of {:?} must be an object",
                point.id
            )));
        };
        props.extend(fields.into_iter().filter(|(k, v)| property(k, v)));
        props.insert(PAYLOAD_PROPERTY.into(), json!(text));
    }
    obj.insert("properties".into(), Value::Object(props));
    if let Some(t) = tenant {
        obj.insert("tenant".into(), json!(t));
    }
    Ok(Value::Object(obj))
}

fn floats(v: &Value) -> Option<Vec<f32>> {
    v.as_array()?.iter().map(|x| x.as_f64().map(|f| f as f32)).collect()
}

fn data(v: &Value) -> Result<VectorData> {
    let bad = || Error::Internal(format!("unexpected vector {v}"));
    let list = v.as_array().ok_or_else(bad)?;
    if list.first().is_some_and(Value::is_array) {
        let rows = list.iter().map(floats).collect::<Option<Vec<_>>>().ok_or_else(bad)?;
        return Ok(VectorData::Multi(rows));
    }
    Ok(VectorData::Dense(floats(v).ok_or_else(bad)?))
}

pub fn from_json(v: &Value) -> Result<Point> {
    let id = v.get("id").and_then(Value::as_str).ok_or_else(|| Error::Internal(format!("{v}")))?;
    let mut vectors = Vec::new();
    if let Some(single) = v.get("vector").filter(|x| x.as_array().is_some_and(|a| !a.is_empty())) {
        vectors.push(NamedVector { name: String::new(), data: data(single)? });
    }
    if let Some(Value::Object(named)) = v.get("vectors") {
        for (name, d) in named {
            vectors.push(NamedVector { name: name.clone(), data: data(d)? });
        }
    }
    let payload = match v.get("properties") {
        Some(Value::Object(p)) => match p.get(PAYLOAD_PROPERTY).and_then(Value::as_str) {
            Some(text) => Some(text.to_string()),
            None if p.is_empty() => None,
            None => Some(Value::Object(p.clone()).to_string()),
        },
        _ => None,
    };
    Ok(Point { id: PointId::Str(id.to_string()), vectors, payload })
}
