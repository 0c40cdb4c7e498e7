//! Points as Chroma records (ids, embeddings, metadatas, documents) and back.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use vdr_plugin_sdk::prelude::*;

use crate::{base64, payload};
use vdr_plugin_sdk::string_ids as ids;

/// What `get` asks Chroma to return.
pub const INCLUDE: [&str; 3] = ["embeddings", "metadatas", "documents"];

/// The body of `add`/`upsert`. Embeddings travel base64-encoded (little-
/// endian f32, which Chroma accepts): exact and about half the size of text.
#[derive(Serialize)]
pub struct AddBody {
    pub ids: Vec<String>,
    embeddings: Vec<String>,
    metadatas: Vec<Option<Map<String, Value>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    documents: Option<Vec<Option<String>>>,
}

pub fn add_body(points: Vec<Point>) -> Result<AddBody> {
    let mut body = AddBody {
        ids: Vec::with_capacity(points.len()),
        embeddings: Vec::with_capacity(points.len()),
        metadatas: Vec::with_capacity(points.len()),
        documents: None,
    };
    let mut documents = Vec::with_capacity(points.len());
    for point in points {
        let id = ids::encode(&point.id);
        body.embeddings.push(base64::encode_f32(dense_of(&point, &id)?));
        let (metadata, document) = payload::split(point.payload.as_deref())?;
        body.ids.push(id);
        body.metadatas.push(metadata);
        documents.push(document);
    }
    if documents.iter().any(Option::is_some) {
        body.documents = Some(documents);
    }
    Ok(body)
}

/// The one dense vector of a point, whatever its name (a Chroma record has
/// exactly one).
fn dense_of<'a>(point: &'a Point, id: &str) -> Result<&'a [f32]> {
    let mut dense = point.vectors.iter().filter_map(|v| match &v.data {
        VectorData::Dense(d) => Some(d.as_slice()),
        _ => None,
    });
    match (dense.next(), dense.next(), point.vectors.len()) {
        (Some(d), None, 1) => Ok(d),
        _ => Err(Error::InvalidInput(format!(
            "record {id}: a Chroma record holds exactly one dense vector, got {}",
            point.vectors.len()
        ))),
    }
}

/// The response of `get`.
#[derive(Deserialize)]
pub struct GetResponse {
    ids: Vec<String>,
    #[serde(default)]
    embeddings: Option<Vec<Vec<f32>>>,
    #[serde(default)]
    metadatas: Option<Vec<Option<Map<String, Value>>>>,
    #[serde(default)]
    documents: Option<Vec<Option<String>>>,
}

impl GetResponse {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn into_points(self) -> Result<Vec<Point>> {
        let n = self.ids.len();
        let mut embeddings = self.embeddings.unwrap_or_default().into_iter();
        let mut metadatas = self.metadatas.unwrap_or_default().into_iter();
        let mut documents = self.documents.unwrap_or_default().into_iter();
        let mut points = Vec::with_capacity(n);
        for id in self.ids {
            let embedding = embeddings.next().ok_or_else(|| {
                Error::Internal(format!("Chroma returned record {id} without its embedding"))
            })?;
            let metadata = metadatas.next().flatten();
            let document = documents.next().flatten();
            points.push(Point {
                id: ids::decode(id),
                vectors: vec![NamedVector {
                    name: String::new(),
                    data: VectorData::Dense(embedding),
                }],
                payload: payload::join(metadata, document),
            });
        }
        Ok(points)
    }
}
