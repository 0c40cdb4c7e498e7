//! Points as Milvus rows and back. A row vdr writes holds the vector field,
//! the id in `vdr_id` (see `ids`) and the payload's canonical JSON text in
//! `vdr_payload`, both dynamic fields: Milvus' JSON storage turns `2.0` into
//! `2` and integers beyond i64 into 0, so only text keeps payloads exact.
//! Rows written by other clients export their dynamic and scalar fields as
//! the payload and their primary key as a numeric id.

use serde_json::{Map, Value};
use vdr_plugin_sdk::prelude::*;

use crate::client::pk_of;
use crate::schema::Layout;
use vdr_plugin_sdk::string_ids as ids;

pub const ID_FIELD: &str = "vdr_id";
pub const PAYLOAD_FIELD: &str = "vdr_payload";

pub fn row(point: Point, layout: &Layout) -> Result<Value> {
    let mut row = Map::new();
    let id = ids::encode(&point.id);
    for v in point.vectors {
        let field =
            layout.vectors.iter().find(|f| f.0 == v.name).or(match layout.vectors.as_slice() {
                [only] => Some(only),
                _ => None,
            });
        match (field, v.data) {
            (Some((_, milvus, _, _)), VectorData::Dense(d)) => {
                row.insert(milvus.clone(), Value::from(d));
            }
            (_, data) => {
                return Err(Error::InvalidInput(format!(
                    "record {id}: vector {:?} ({}) has no dense field in this Milvus collection",
                    v.name,
                    kind_name(&data)
                )));
            }
        }
    }
    if let Some(text) = point.payload {
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| Error::InvalidInput(format!("record {id}: payload is not JSON: {e}")))?;
        row.insert(PAYLOAD_FIELD.into(), Value::String(value.to_string()));
    }
    row.insert(ID_FIELD.into(), Value::String(id));
    Ok(Value::Object(row))
}

fn kind_name(data: &VectorData) -> &'static str {
    match data {
        VectorData::Dense(_) => "dense",
        VectorData::Sparse(_) => "sparse",
        VectorData::Multi(_) => "multi",
    }
}

/// The primary key and the point of a row read with every field.
pub fn point(row: Value, layout: &Layout) -> Result<(i64, Point)> {
    let Value::Object(mut row) = row else {
        return Err(Error::Internal(format!("Milvus returned a row that is not an object: {row}")));
    };
    let pk = row
        .get(&layout.pk)
        .and_then(pk_of)
        .ok_or_else(|| Error::Internal(format!("row without primary key {}", layout.pk)))?;
    let id = match row.remove(ID_FIELD) {
        Some(Value::String(s)) => ids::decode(s),
        _ => PointId::Num(pk as u64),
    };
    let mut vectors = Vec::with_capacity(layout.vectors.len());
    for (vdr, milvus, _, _) in &layout.vectors {
        let data: Vec<f32> = serde_json::from_value(row.remove(milvus).unwrap_or(Value::Null))
            .map_err(|e| Error::Internal(format!("row {pk}: vector {milvus}: {e}")))?;
        vectors.push(NamedVector { name: vdr.clone(), data: VectorData::Dense(data) });
    }
    let payload = match row.remove(PAYLOAD_FIELD) {
        Some(Value::String(text)) => Some(text),
        _ => {
            row.retain(|k, _| !layout.is_structural(k));
            (!row.is_empty()).then(|| Value::Object(row).to_string())
        }
    };
    Ok((pk, Point { id, vectors, payload }))
}

/// `vdr_id in ["..", ..]`
pub fn id_filter(ids: &[PointId]) -> String {
    let list: Vec<String> = ids.iter().map(|id| crate::client::literal(&ids::encode(id))).collect();
    format!("{ID_FIELD} in [{}]", list.join(", "))
}
