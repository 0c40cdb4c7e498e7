//! One side of a comparison: every record of a collection reduced to its id
//! and a digest, grouped into buckets by a hash of the id.

use crate::error::Error;
use vdr_model::{Database, Point, PointId, canonical};

/// Sum and count of the record digests in one bucket. The wrapping sum is
/// order-independent, so engines exporting in different orders agree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BucketSummary {
    pub sum: u128,
    pub count: u64,
}

impl BucketSummary {
    fn add(&mut self, digest: u128) {
        self.sum = self.sum.wrapping_add(digest);
        self.count += 1;
    }
}

/// A collection reduced to bucketed `(id, digest)` pairs and summaries.
/// 1M records take about 60 MB here: the price of reading each side once.
pub struct Scan {
    pub summaries: Vec<BucketSummary>,
    pub records: Vec<Vec<(PointId, u128)>>,
    pub total: u64,
}

impl Scan {
    /// The top of the tree: equal roots mean equal collections.
    pub fn root(&self) -> String {
        let mut h = blake3::Hasher::new();
        for s in &self.summaries {
            h.update(&s.sum.to_le_bytes());
            h.update(&s.count.to_le_bytes());
        }
        h.finalize().to_hex()[..16].to_string()
    }
}

/// The bucket of a record, from its id alone (never its content, so a
/// changed record stays in its bucket). FNV-1a over the id's kind and bytes,
/// then a splitmix64 finaliser to spread it: stable across runs and
/// machines, and a fraction of the cost of a cryptographic hash per record.
pub fn bucket_of(id: &PointId, buckets: u32) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    match id {
        PointId::Num(n) => {
            feed(&[0]);
            feed(&n.to_le_bytes());
        }
        PointId::Str(s) => {
            feed(&[1]);
            feed(s.as_bytes());
        }
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h % u64::from(buckets.max(1))) as usize
}

/// The first 128 bits of the canonical digest: plenty against accidental
/// collisions, half the memory.
pub(crate) fn record_digest(point: &mut Point) -> vdr_model::Result<u128> {
    canonical::normalize(point)?;
    let d = canonical::digest(point);
    Ok(u128::from_le_bytes(d[..16].try_into().unwrap()))
}

/// Export a collection through its cursor and reduce it. `substitute` maps
/// a record's digest to the one it is known to be equivalent to (see the
/// tolerance in [`crate::Options`]).
pub fn scan(
    db: &mut dyn Database,
    side: &'static str,
    collection: &str,
    buckets: u32,
    batch: u32,
    substitute: &dyn Fn(&PointId, u128) -> u128,
) -> crate::Result<Scan> {
    let n = buckets.max(1) as usize;
    let mut out = Scan {
        summaries: vec![BucketSummary::default(); n],
        records: vec![Vec::new(); n],
        total: 0,
    };
    let wrap = |what: &str| {
        let what = format!("{what} {collection}");
        move |source| Error::Database { side, what, source }
    };
    let mut cursor = db.open_export(collection, None).map_err(wrap("exporting"))?;
    loop {
        let points = cursor.next_batch(batch).map_err(wrap("exporting"))?;
        if points.is_empty() {
            break;
        }
        for mut p in points {
            let d = record_digest(&mut p).map_err(wrap("normalising a record of"))?;
            let d = substitute(&p.id, d);
            let b = bucket_of(&p.id, buckets);
            out.summaries[b].add(d);
            out.records[b].push((p.id, d));
            out.total += 1;
        }
    }
    Ok(out)
}
