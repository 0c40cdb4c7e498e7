//! Conversions between the 0.1.0 WIT types and the model. Lists move, they
//! are not copied: the batches are large.

use super::db::vdr::plugin::types as w;
use vdr_model as m;
use vdr_model::{Error, ErrorKind};

/// A call's outcome: a trap stays the outer error, the plugin's own
/// classified error becomes the model's.
pub fn wit<T>(r: wasmtime::Result<Result<T, w::Error>>) -> wasmtime::Result<Result<T, Error>> {
    r.map(|x| x.map_err(error_from_wit))
}

pub fn error_from_wit(e: w::Error) -> Error {
    let (kind, msg) = match e {
        w::Error::NotFound(s) => (ErrorKind::NotFound, s),
        w::Error::AlreadyExists(s) => (ErrorKind::AlreadyExists, s),
        w::Error::Unauthorized(s) => (ErrorKind::Unauthorized, s),
        w::Error::Unavailable(s) => (ErrorKind::Unavailable, s),
        w::Error::InvalidInput(s) => (ErrorKind::InvalidInput, s),
        w::Error::Unsupported(s) => (ErrorKind::Unsupported, s),
        w::Error::Internal(s) => (ErrorKind::Internal, s),
    };
    Error::new(kind, msg)
}

pub fn error_to_wit(e: Error) -> w::Error {
    let msg = e.message;
    match e.kind {
        ErrorKind::NotFound => w::Error::NotFound(msg),
        ErrorKind::AlreadyExists => w::Error::AlreadyExists(msg),
        ErrorKind::Unauthorized | ErrorKind::Denied => w::Error::Unauthorized(msg),
        ErrorKind::Unavailable => w::Error::Unavailable(msg),
        ErrorKind::InvalidInput => w::Error::InvalidInput(msg),
        ErrorKind::Unsupported => w::Error::Unsupported(msg),
        _ => w::Error::Internal(msg),
    }
}

pub fn metric_from_wit(x: w::Metric) -> m::Metric {
    match x {
        w::Metric::Cosine => m::Metric::Cosine,
        w::Metric::Euclidean => m::Metric::Euclidean,
        w::Metric::Dot => m::Metric::Dot,
        w::Metric::Manhattan => m::Metric::Manhattan,
    }
}

fn metric_to_wit(x: m::Metric) -> w::Metric {
    match x {
        m::Metric::Cosine => w::Metric::Cosine,
        m::Metric::Euclidean => w::Metric::Euclidean,
        m::Metric::Dot => w::Metric::Dot,
        m::Metric::Manhattan => w::Metric::Manhattan,
    }
}

pub fn id_from_wit(id: w::PointId) -> m::PointId {
    match id {
        w::PointId::Num(n) => m::PointId::Num(n),
        w::PointId::Str(s) => m::PointId::Str(s),
    }
}

pub fn id_to_wit(id: &m::PointId) -> w::PointId {
    match id {
        m::PointId::Num(n) => w::PointId::Num(*n),
        m::PointId::Str(s) => w::PointId::Str(s.clone()),
    }
}

/// Convert a point, checking the shapes the type system cannot.
pub fn point_from_wit(p: w::Point) -> Result<m::Point, Error> {
    let mut vectors = Vec::with_capacity(p.vectors.len());
    for v in p.vectors {
        let data = match v.data {
            w::VectorData::Dense(d) => m::VectorData::Dense(d),
            w::VectorData::Sparse(s) => {
                if s.indices.len() != s.values.len() {
                    return Err(protocol(format!(
                        "point {}: sparse vector {:?} has {} indices but {} values",
                        id_from_wit(p.id),
                        v.name,
                        s.indices.len(),
                        s.values.len()
                    )));
                }
                m::VectorData::Sparse(m::SparseVector { indices: s.indices, values: s.values })
            }
            w::VectorData::Multi(rows) => m::VectorData::Multi(rows),
        };
        vectors.push(m::NamedVector { name: v.name, data });
    }
    Ok(m::Point { id: id_from_wit(p.id), vectors, payload: p.payload })
}

pub fn point_to_wit(p: m::Point) -> w::Point {
    w::Point {
        id: match p.id {
            m::PointId::Num(n) => w::PointId::Num(n),
            m::PointId::Str(s) => w::PointId::Str(s),
        },
        vectors: p
            .vectors
            .into_iter()
            .map(|v| w::NamedVector {
                name: v.name,
                data: match v.data {
                    m::VectorData::Dense(d) => w::VectorData::Dense(d),
                    m::VectorData::Sparse(s) => w::VectorData::Sparse(w::SparseVector {
                        indices: s.indices,
                        values: s.values,
                    }),
                    m::VectorData::Multi(r) => w::VectorData::Multi(r),
                },
            })
            .collect(),
        payload: p.payload,
    }
}

pub fn schema_from_wit(s: w::CollectionSchema) -> m::CollectionSchema {
    m::CollectionSchema {
        name: s.name,
        engine: s.engine,
        engine_version: s.engine_version,
        vectors: s
            .vectors
            .into_iter()
            .map(|f| m::VectorField {
                name: f.name,
                kind: match f.kind {
                    w::VectorKind::Dense => m::VectorKind::Dense,
                    w::VectorKind::Sparse => m::VectorKind::Sparse,
                    w::VectorKind::Multi => m::VectorKind::Multi,
                },
                dimension: f.dimension,
                metric: metric_from_wit(f.metric),
                element_type: match f.element_type {
                    w::ElementType::Float32 => m::ElementType::Float32,
                    w::ElementType::Float16 => m::ElementType::Float16,
                    w::ElementType::Int8 => m::ElementType::Int8,
                    w::ElementType::Binary => m::ElementType::Binary,
                },
            })
            .collect(),
        payload_indexes: s
            .payload_indexes
            .into_iter()
            .map(|i| m::PayloadIndex { field: i.field, kind: i.kind })
            .collect(),
        shards: s.shards,
        replicas: s.replicas,
        engine_config: s.engine_config,
    }
}

pub fn schema_to_wit(s: &m::CollectionSchema) -> w::CollectionSchema {
    w::CollectionSchema {
        name: s.name.clone(),
        engine: s.engine.clone(),
        engine_version: s.engine_version.clone(),
        vectors: s
            .vectors
            .iter()
            .map(|f| w::VectorField {
                name: f.name.clone(),
                kind: match f.kind {
                    m::VectorKind::Dense => w::VectorKind::Dense,
                    m::VectorKind::Sparse => w::VectorKind::Sparse,
                    m::VectorKind::Multi => w::VectorKind::Multi,
                },
                dimension: f.dimension,
                metric: metric_to_wit(f.metric),
                element_type: match f.element_type {
                    m::ElementType::Float32 => w::ElementType::Float32,
                    m::ElementType::Float16 => w::ElementType::Float16,
                    m::ElementType::Int8 => w::ElementType::Int8,
                    m::ElementType::Binary => w::ElementType::Binary,
                },
            })
            .collect(),
        payload_indexes: s
            .payload_indexes
            .iter()
            .map(|i| w::PayloadIndex { field: i.field.clone(), kind: i.kind.clone() })
            .collect(),
        shards: s.shards,
        replicas: s.replicas,
        engine_config: s.engine_config.clone(),
    }
}

fn protocol(msg: String) -> Error {
    Error::new(ErrorKind::Protocol, msg)
}
