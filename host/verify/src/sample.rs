//! Deterministic, seeded sampling by id.
//!
//! Keeping the `n` points whose seeded id hash is smallest ("bottom-n") is a
//! uniform sample without replacement, like reservoir sampling, but it
//! depends only on the ids and the seed — not on the export order — so two
//! engines holding the same collection pick the same golden queries.

use std::collections::BinaryHeap;
use vdr_model::PointId;

/// A 64-bit hash of `id` under `seed`, stable across builds and platforms
/// (std's hasher makes no such promise).
pub fn id_hash(id: &PointId, seed: u64) -> u64 {
    let key = mix(seed ^ 0x9e37_79b9_7f4a_7c15);
    match id {
        PointId::Num(n) => mix(key ^ mix(*n)),
        PointId::Str(s) => {
            // FNV-1a over the bytes, then a strong finaliser; tag 1 keeps
            // Str("1") apart from Num(1).
            let mut h = 0xcbf2_9ce4_8422_2325u64 ^ key ^ 1;
            for b in s.as_bytes() {
                h = (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3);
            }
            mix(h)
        }
    }
}

/// splitmix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

struct Entry<T> {
    hash: u64,
    id: PointId,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.id == other.id
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.hash, &self.id).cmp(&(other.hash, &other.id))
    }
}

/// The `n` items with the smallest seeded id hash seen so far.
pub struct BottomN<T> {
    n: usize,
    seed: u64,
    heap: BinaryHeap<Entry<T>>,
}

impl<T> BottomN<T> {
    pub fn new(n: usize, seed: u64) -> Self {
        BottomN { n, seed, heap: BinaryHeap::with_capacity(n.min(1 << 16)) }
    }

    /// Would `id` enter the sample now? Lets callers avoid building `item`.
    pub fn wants(&self, id: &PointId) -> bool {
        self.n > 0 && (self.heap.len() < self.n || self.beats_top(id_hash(id, self.seed), id))
    }

    pub fn offer(&mut self, id: &PointId, item: impl FnOnce() -> T) {
        if self.n == 0 {
            return;
        }
        let hash = id_hash(id, self.seed);
        if self.heap.len() < self.n {
            self.heap.push(Entry { hash, id: id.clone(), item: item() });
        } else if self.beats_top(hash, id) {
            self.heap.pop();
            self.heap.push(Entry { hash, id: id.clone(), item: item() });
        }
    }

    fn beats_top(&self, hash: u64, id: &PointId) -> bool {
        self.heap.peek().is_some_and(|top| (hash, id) < (top.hash, &top.id))
    }

    /// The sample in hash order (deterministic for a seed).
    pub fn into_sorted(self) -> Vec<(PointId, T)> {
        self.heap.into_sorted_vec().into_iter().map(|e| (e.id, e.item)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_ignores_arrival_order() {
        let ids: Vec<PointId> = (0..1000u64).map(PointId::Num).collect();
        let mut a = BottomN::new(10, 7);
        let mut b = BottomN::new(10, 7);
        for id in &ids {
            a.offer(id, || ());
        }
        for id in ids.iter().rev() {
            b.offer(id, || ());
        }
        let a: Vec<_> = a.into_sorted().into_iter().map(|x| x.0).collect();
        let b: Vec<_> = b.into_sorted().into_iter().map(|x| x.0).collect();
        assert_eq!(a, b);
        assert_eq!(a.len(), 10);
    }

    #[test]
    fn seeds_change_the_sample_and_kinds_differ() {
        let id = PointId::Num(1);
        assert_ne!(id_hash(&id, 1), id_hash(&id, 2));
        assert_ne!(id_hash(&id, 1), id_hash(&PointId::Str("1".into()), 1));
    }
}
