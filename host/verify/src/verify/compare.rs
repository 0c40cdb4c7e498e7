//! Comparing one record from the snapshot with the live one, tolerating the
//! rounding some engines apply (Chroma's cosine space, float16 storage) and
//! the normalisation others apply to cosine vectors.

use vdr_model::canonical::canonical_json;
use vdr_model::{CollectionSchema, Metric, Point, VectorData};

use crate::distance;

/// The first difference between `want` (snapshot) and `have` (live), if any.
pub fn difference(
    schema: &CollectionSchema,
    want: &Point,
    have: &Point,
    tolerance: f32,
) -> Option<String> {
    for w in &want.vectors {
        let Some(h) = have.vectors.iter().find(|h| h.name == w.name) else {
            return Some(format!("vector {:?} is missing", w.name));
        };
        let cosine = schema.vector(&w.name).is_some_and(|f| f.metric == Metric::Cosine);
        let diff = match (&w.data, &h.data) {
            (VectorData::Dense(a), VectorData::Dense(b)) => dense(a, b, cosine, tolerance),
            (VectorData::Sparse(a), VectorData::Sparse(b)) => {
                let (mut a, mut b) = (a.clone(), b.clone());
                sort_sparse(&mut a);
                sort_sparse(&mut b);
                if a.indices != b.indices {
                    Some("sparse indices differ".to_string())
                } else {
                    dense(&a.values, &b.values, false, tolerance)
                }
            }
            (VectorData::Multi(a), VectorData::Multi(b)) => {
                if a.len() != b.len() {
                    Some(format!("{} rows, expected {}", b.len(), a.len()))
                } else {
                    a.iter().zip(b).enumerate().find_map(|(i, (x, y))| {
                        dense(x, y, cosine, tolerance).map(|d| format!("row {i}: {d}"))
                    })
                }
            }
            _ => Some("vector kind differs".to_string()),
        };
        if let Some(d) = diff {
            return Some(format!("vector {:?}: {d}", w.name));
        }
    }
    if let Some(extra) =
        have.vectors.iter().find(|h| !want.vectors.iter().any(|w| w.name == h.name))
    {
        return Some(format!("unexpected vector {:?}", extra.name));
    }
    if !payload_eq(want.payload.as_deref(), have.payload.as_deref()) {
        return Some("payload differs".to_string());
    }
    None
}

fn dense(want: &[f32], have: &[f32], cosine: bool, tolerance: f32) -> Option<String> {
    if want.len() != have.len() {
        return Some(format!("dimension {}, expected {}", have.len(), want.len()));
    }
    let (mut a, mut b) = (want.to_vec(), have.to_vec());
    if cosine {
        // Engines may store cosine vectors normalised: compare directions.
        distance::normalize(&mut a);
        distance::normalize(&mut b);
    }
    a.iter().zip(&b).enumerate().find_map(|(i, (x, y))| {
        let close = (x - y).abs() <= tolerance * (1.0 + x.abs()) || x == y;
        (!close).then(|| format!("element {i} is {y}, expected {x}"))
    })
}

fn sort_sparse(s: &mut vdr_model::SparseVector) {
    let mut pairs: Vec<(u32, f32)> =
        s.indices.iter().copied().zip(s.values.iter().copied()).collect();
    pairs.sort_by_key(|p| p.0);
    s.indices = pairs.iter().map(|p| p.0).collect();
    s.values = pairs.iter().map(|p| p.1).collect();
}

/// Payloads equal as canonical JSON; numbers compared by value (1 == 1.0),
/// and no payload equal to an empty object (engines differ on which they return).
fn payload_eq(want: Option<&str>, have: Option<&str>) -> bool {
    let parse = |p: Option<&str>| -> Option<serde_json::Value> {
        match p {
            None => Some(serde_json::Value::Object(Default::default())),
            Some(t) => serde_json::from_str(t).ok(),
        }
    };
    if let (Some(a), Some(b)) = (want, have)
        && let (Ok(a), Ok(b)) = (canonical_json(a), canonical_json(b))
        && a == b
    {
        return true;
    }
    match (parse(want), parse(have)) {
        (Some(a), Some(b)) => json_eq(&a, &b),
        _ => want == have,
    }
}

fn json_eq(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value::*;
    match (a, b) {
        (Number(x), Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Array(x), Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q)),
        (Object(x), Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_compare_canonically() {
        assert!(payload_eq(Some(r#"{"a":1,"b":[1,2]}"#), Some(r#"{ "b": [1, 2], "a": 1.0 }"#)));
        assert!(payload_eq(None, Some("{}")));
        assert!(!payload_eq(Some(r#"{"a":1}"#), Some(r#"{"a":2}"#)));
    }

    #[test]
    fn cosine_vectors_compare_by_direction() {
        assert!(dense(&[3.0, 4.0], &[0.6, 0.8], true, 1e-6).is_none());
        assert!(dense(&[3.0, 4.0], &[0.6, 0.8], false, 1e-6).is_some());
        assert!(dense(&[1.0, 2.0], &[1.0 + 1e-7, 2.0], false, 1e-6).is_none());
        assert!(dense(&[1.0, 2.0], &[1.0], false, 1e-6).unwrap().contains("dimension"));
    }
}
