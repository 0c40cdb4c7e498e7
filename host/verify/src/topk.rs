//! Exact top-k of many queries over a stream of point blocks, with one
//! bounded max-heap of the k best (distance, id) per query.

use std::collections::BinaryHeap;
use vdr_model::PointId;

use crate::distance::{self, Kernel};

/// Points per tile: a tile of 384-d vectors (24 KiB) stays in L1 while every
/// query of a thread's share runs over it.
const TILE: usize = 16;

#[derive(Clone, Debug)]
struct Neighbour {
    dist: f32,
    id: PointId,
}

impl PartialEq for Neighbour {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for Neighbour {}
impl PartialOrd for Neighbour {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Neighbour {
    // Ties broken by id, so the truth does not depend on export order.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.dist.total_cmp(&other.dist).then_with(|| self.id.cmp(&other.id))
    }
}

/// Running top-k for a fixed set of (prepared) queries.
pub struct TopK {
    k: usize,
    dim: usize,
    kernel: Kernel,
    queries: Vec<f32>,
    heaps: Vec<BinaryHeap<Neighbour>>,
    threads: usize,
}

impl TopK {
    /// `queries` packs `queries.len() / dim` vectors, already prepared for the metric.
    pub fn new(kernel: Kernel, dim: usize, queries: Vec<f32>, k: usize, threads: usize) -> TopK {
        let n = queries.len().checked_div(dim).unwrap_or(0);
        TopK {
            k,
            dim,
            kernel,
            queries,
            heaps: (0..n).map(|_| BinaryHeap::with_capacity(k + 1)).collect(),
            threads: threads.max(1),
        }
    }

    /// Fold one block of points (`ids.len()` vectors packed in `vectors`) in.
    pub fn scan(&mut self, ids: &[PointId], vectors: &[f32]) {
        if self.heaps.is_empty() || ids.is_empty() || self.k == 0 {
            return;
        }
        debug_assert_eq!(vectors.len(), ids.len() * self.dim);
        // Threads split the queries; each scans the whole block for its share.
        let per = self.heaps.len().div_ceil(self.threads);
        let (k, dim, kernel) = (self.k, self.dim, self.kernel);
        let shares = self.heaps.chunks_mut(per).zip(self.queries.chunks(per * dim));
        std::thread::scope(|s| {
            let mut shares = shares.peekable();
            while let Some((heaps, queries)) = shares.next() {
                let mut work = move || scan_share(kernel, k, dim, heaps, queries, ids, vectors);
                if shares.peek().is_some() {
                    s.spawn(work);
                } else {
                    work(); // the calling thread takes the last share
                }
            }
        });
    }

    /// Each query's neighbours, nearest first, with their distances.
    pub fn into_results(self) -> Vec<Vec<(PointId, f32)>> {
        self.heaps
            .into_iter()
            .map(|h| h.into_sorted_vec().into_iter().map(|n| (n.id, n.dist)).collect())
            .collect()
    }
}

fn scan_share(
    kernel: Kernel,
    k: usize,
    dim: usize,
    heaps: &mut [BinaryHeap<Neighbour>],
    queries: &[f32],
    ids: &[PointId],
    vectors: &[f32],
) {
    let mut dists = [0f32; TILE];
    for (tile_ids, tile) in ids.chunks(TILE).zip(vectors.chunks(TILE * dim)) {
        let out = &mut dists[..tile_ids.len()];
        for (heap, q) in heaps.iter_mut().zip(queries.chunks_exact(dim)) {
            distance::many(kernel, q, tile, out);
            for (d, id) in out.iter().zip(tile_ids) {
                offer(heap, k, *d, id);
            }
        }
    }
}

#[inline]
fn offer(heap: &mut BinaryHeap<Neighbour>, k: usize, dist: f32, id: &PointId) {
    if heap.len() < k {
        heap.push(Neighbour { dist, id: id.clone() });
        return;
    }
    let worst = heap.peek().expect("k > 0");
    // Cheap float test first; the full comparison (with the id) only on ties.
    if dist < worst.dist || (dist == worst.dist && Neighbour { dist, id: id.clone() } < *worst) {
        heap.pop();
        heap.push(Neighbour { dist, id: id.clone() });
    }
}
