//! Are two versions of a record the same within a tolerance? For engines
//! that store vectors with rounding (normalised cosine spaces, float16).

use vdr_model::{Point, VectorData};

/// Same id, same canonical payload, same vector names and shapes, and every
/// component within `tol` (absolute). Both points must be normalised.
pub(crate) fn equivalent(a: &Point, b: &Point, tol: f32) -> bool {
    if a.id != b.id || a.payload != b.payload || a.vectors.len() != b.vectors.len() {
        return false;
    }
    a.vectors.iter().zip(&b.vectors).all(|(x, y)| {
        x.name == y.name
            && match (&x.data, &y.data) {
                (VectorData::Dense(p), VectorData::Dense(q)) => close(p, q, tol),
                (VectorData::Sparse(p), VectorData::Sparse(q)) => {
                    p.indices == q.indices && close(&p.values, &q.values, tol)
                }
                (VectorData::Multi(p), VectorData::Multi(q)) => {
                    p.len() == q.len() && p.iter().zip(q).all(|(r, s)| close(r, s, tol))
                }
                _ => false,
            }
    })
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vdr_model::{NamedVector, PointId};

    fn p(v: Vec<f32>) -> Point {
        Point {
            id: PointId::Num(1),
            vectors: vec![NamedVector { name: String::new(), data: VectorData::Dense(v) }],
            payload: Some("{\"a\":1}".into()),
        }
    }

    #[test]
    fn within_tolerance_only() {
        assert!(equivalent(&p(vec![0.5, 0.25]), &p(vec![0.500001, 0.25]), 1e-5));
        assert!(!equivalent(&p(vec![0.5, 0.25]), &p(vec![0.51, 0.25]), 1e-5));
        assert!(!equivalent(&p(vec![0.5]), &p(vec![0.5, 0.25]), 1e-5));
    }
}
