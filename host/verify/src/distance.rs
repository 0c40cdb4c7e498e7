//! Brute-force distance kernels, written so the compiler vectorises them
//! (one point at a time, 16 accumulator lanes: measured fastest),
//! compiled three times (baseline x86-64, AVX2, AVX-512) and picked at run
//! time. Only the order of distances matters for ground truth, so cosine is
//! a dot product over vectors normalised beforehand, and dot is negated.

use vdr_model::Metric;

/// How one pair of coordinates contributes to a distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// `-sum(a*b)`: dot product, and cosine over unit vectors.
    NegDot,
    /// `sum((a-b)^2)`
    L2sq,
    /// `sum(|a-b|)`
    L1,
}

impl Kernel {
    pub fn for_metric(metric: Metric) -> Kernel {
        match metric {
            Metric::Cosine | Metric::Dot => Kernel::NegDot,
            Metric::Euclidean => Kernel::L2sq,
            Metric::Manhattan => Kernel::L1,
        }
    }
}

/// Scale `v` to unit length in place (zero vectors stay zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Vector preparation a metric needs before its kernel applies.
pub fn prepare(metric: Metric, v: &mut [f32]) {
    if metric == Metric::Cosine {
        normalize(v);
    }
}

trait Term {
    fn term(a: f32, b: f32) -> f32;
    fn finish(sum: f32) -> f32 {
        sum
    }
}
struct Dot;
struct Sq;
struct Abs;
impl Term for Dot {
    #[inline(always)]
    fn term(a: f32, b: f32) -> f32 {
        a * b
    }
    #[inline(always)]
    fn finish(sum: f32) -> f32 {
        -sum
    }
}
impl Term for Sq {
    #[inline(always)]
    fn term(a: f32, b: f32) -> f32 {
        (a - b) * (a - b)
    }
}
impl Term for Abs {
    #[inline(always)]
    fn term(a: f32, b: f32) -> f32 {
        (a - b).abs()
    }
}

const LANES: usize = 16;

/// Distance of `q` to one point, with `LANES` independent accumulators.
#[inline(always)]
fn one<T: Term>(q: &[f32], p: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (qc, pc) = (q.chunks_exact(LANES), p.chunks_exact(LANES));
    let (qr, pr) = (qc.remainder(), pc.remainder());
    for (a, b) in qc.zip(pc) {
        for l in 0..LANES {
            acc[l] += T::term(a[l], b[l]);
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (a, b) in qr.iter().zip(pr) {
        sum += T::term(*a, *b);
    }
    T::finish(sum)
}

#[inline(always)]
fn many_generic<T: Term>(q: &[f32], points: &[f32], out: &mut [f32]) {
    let dim = q.len();
    for (o, p) in out.iter_mut().zip(points.chunks_exact(dim)) {
        *o = one::<T>(q, p);
    }
}

#[inline(always)]
fn many_kernel(kernel: Kernel, q: &[f32], points: &[f32], out: &mut [f32]) {
    match kernel {
        Kernel::NegDot => many_generic::<Dot>(q, points, out),
        Kernel::L2sq => many_generic::<Sq>(q, points, out),
        Kernel::L1 => many_generic::<Abs>(q, points, out),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn many_avx512(kernel: Kernel, q: &[f32], points: &[f32], out: &mut [f32]) {
    many_kernel(kernel, q, points, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn many_avx2(kernel: Kernel, q: &[f32], points: &[f32], out: &mut [f32]) {
    many_kernel(kernel, q, points, out)
}

/// Distances from `q` to each of the `out.len()` points packed in `points`
/// (`q.len()` floats each), with the widest SIMD the CPU has.
pub fn many(kernel: Kernel, q: &[f32], points: &[f32], out: &mut [f32]) {
    assert_eq!(points.len(), q.len() * out.len(), "points must hold out.len() vectors of q.len()");
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports the feature the function was compiled for.
            return unsafe { many_avx512(kernel, q, points, out) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: as above.
            return unsafe { many_avx2(kernel, q, points, out) };
        }
    }
    many_kernel(kernel, q, points, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(kernel: Kernel, a: &[f32], b: &[f32]) -> f32 {
        let pairs = a.iter().zip(b);
        match kernel {
            Kernel::NegDot => -pairs.map(|(x, y)| x * y).sum::<f32>(),
            Kernel::L2sq => pairs.map(|(x, y)| (x - y) * (x - y)).sum(),
            Kernel::L1 => pairs.map(|(x, y)| (x - y).abs()).sum(),
        }
    }

    #[test]
    fn kernels_match_the_naive_formulas_for_odd_sizes() {
        for dim in [1, 3, 16, 17, 40] {
            let q: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.37).sin()).collect();
            let pts: Vec<f32> = (0..dim * 7).map(|i| (i as f32 * 0.11).cos()).collect();
            for kernel in [Kernel::NegDot, Kernel::L2sq, Kernel::L1] {
                let mut out = vec![0.0; 7];
                many(kernel, &q, &pts, &mut out);
                for (j, d) in out.iter().enumerate() {
                    let want = naive(kernel, &q, &pts[j * dim..(j + 1) * dim]);
                    assert!((d - want).abs() <= 1e-4 * (1.0 + want.abs()), "{kernel:?} {dim} {j}");
                }
            }
        }
    }
}
