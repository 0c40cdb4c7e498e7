//! The `vector-index` host import: usearch HNSW indexes kept native in the
//! host and lent to plugins as resources. usearch is C++ and would not build
//! for wasm32-wasip2; keeping it here keeps the plugin sandboxed (it never
//! touches a file the host did not resolve inside its granted directory)
//! and gives it native speed and SIMD.

use crate::grant::DirGrant;
use std::path::{Component, Path, PathBuf};
use usearch::{Index, IndexOptions, MetricKind, ScalarKind};
use vdr_model::{Error, Metric, Result};

/// One native index, owned by a plugin instance's resource table.
pub struct NativeIndex {
    pub(crate) index: Index,
    dimension: usize,
}

pub fn metric_kind(metric: Metric) -> Result<MetricKind> {
    Ok(match metric {
        Metric::Cosine => MetricKind::Cos,
        Metric::Euclidean => MetricKind::L2sq,
        Metric::Dot => MetricKind::IP,
        Metric::Manhattan => {
            return Err(Error::unsupported("usearch has no Manhattan (L1) metric"));
        }
    })
}

fn native(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("usearch: {e}"))
}

impl NativeIndex {
    pub fn new(dimension: u32, metric: Metric) -> Result<NativeIndex> {
        if dimension == 0 || dimension > 65_536 {
            return Err(Error::invalid(format!("dimension {dimension} must be within 1..=65536")));
        }
        let options = IndexOptions {
            dimensions: dimension as usize,
            metric: metric_kind(metric)?,
            quantization: ScalarKind::F32,
            connectivity: 16,
            expansion_add: 128,
            expansion_search: 64,
            multi: false,
        };
        let index = Index::new(&options).map_err(native)?;
        Ok(NativeIndex { index, dimension: dimension as usize })
    }

    pub fn load(path: &Path) -> Result<NativeIndex> {
        let p = path.to_str().ok_or_else(|| Error::invalid("index path is not UTF-8"))?;
        if !path.exists() {
            return Err(Error::not_found(format!("no index file at {}", path.display())));
        }
        let index = Index::restore(p).map_err(native)?;
        index.change_expansion_search(64);
        let dimension = index.dimensions();
        Ok(NativeIndex { index, dimension })
    }

    /// Add `keys.len()` vectors laid out back to back, on every core.
    pub fn add(&self, keys: &[u64], vectors: &[f32]) -> Result<()> {
        if vectors.len() != keys.len() * self.dimension {
            return Err(Error::invalid(format!(
                "{} keys need {} components of dimension {}, got {}",
                keys.len(),
                keys.len() * self.dimension,
                self.dimension,
                vectors.len()
            )));
        }
        let needed = self.index.size() + keys.len();
        if needed > self.index.capacity() {
            self.index.reserve(needed.max(self.index.capacity() * 2)).map_err(native)?;
        }
        for &k in keys {
            if self.index.contains(k) {
                self.index.remove(k).map_err(native)?;
            }
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
        let per = keys.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = keys
                .chunks(per)
                .zip(vectors.chunks(per * self.dimension))
                .map(|(ks, vs)| {
                    s.spawn(move || -> Result<()> {
                        for (k, v) in ks.iter().zip(vs.chunks_exact(self.dimension)) {
                            self.index.add(*k, v).map_err(native)?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles.into_iter().try_for_each(|h| h.join().map_err(|_| native("add panicked"))?)
        })
    }

    pub fn remove(&self, keys: &[u64]) -> Result<()> {
        for &k in keys {
            self.index.remove(k).map_err(native)?;
        }
        Ok(())
    }

    pub fn search(&self, query: &[f32], k: u32) -> Result<Vec<(u64, f32)>> {
        if query.len() != self.dimension {
            return Err(Error::invalid(format!(
                "query has {} components, the index has dimension {}",
                query.len(),
                self.dimension
            )));
        }
        let m = self.index.search(query, k as usize).map_err(native)?;
        Ok(m.keys.into_iter().zip(m.distances).collect())
    }

    pub fn size(&self) -> u64 {
        self.index.size() as u64
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension("usearch.tmp");
        let t = tmp.to_str().ok_or_else(|| Error::invalid("index path is not UTF-8"))?;
        self.index.save(t).map_err(native)?;
        std::fs::rename(&tmp, path).map_err(|e| native(format!("renaming {}: {e}", tmp.display())))
    }
}

/// Resolve a guest path (`/data/docs/v.usearch`) inside the granted
/// directory, refusing anything that would leave it.
pub fn resolve_guest_path(grant: Option<&DirGrant>, guest: &str, write: bool) -> Result<PathBuf> {
    let denied = |m: String| Error::new(vdr_model::ErrorKind::Denied, m);
    let grant = grant.ok_or_else(|| denied("no directory is granted to this plugin".into()))?;
    if write && !grant.writable {
        return Err(denied(format!("{} is granted read-only", grant.guest_path)));
    }
    let rel = Path::new(guest).strip_prefix(&grant.guest_path).map_err(|_| {
        denied(format!("{guest:?} is outside the granted directory {}", grant.guest_path))
    })?;
    let mut out = grant.host_path.clone();
    for c in rel.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return Err(denied(format!("{guest:?} escapes the granted directory"))),
        }
    }
    // A symlink planted inside the directory must not lead out of it.
    if let Some(parent) = out.parent()
        && let (Ok(real_parent), Ok(real_root)) =
            (parent.canonicalize(), grant.host_path.canonicalize())
        && !real_parent.starts_with(&real_root)
    {
        return Err(denied(format!("{guest:?} resolves outside the granted directory")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_paths_cannot_escape_the_granted_directory() {
        let dir = tempfile::tempdir().unwrap();
        let grant =
            DirGrant { host_path: dir.path().into(), guest_path: "/data".into(), writable: true };
        assert_eq!(
            resolve_guest_path(Some(&grant), "/data/a/b.usearch", true).unwrap(),
            dir.path().join("a/b.usearch")
        );
        for bad in ["/data/../etc/passwd", "/etc/passwd", "/data/a/../../x", "data/x"] {
            assert!(resolve_guest_path(Some(&grant), bad, false).is_err(), "{bad}");
        }
        std::os::unix::fs::symlink("/etc", dir.path().join("link")).unwrap();
        assert!(resolve_guest_path(Some(&grant), "/data/link/passwd", false).is_err());
        let ro = DirGrant { writable: false, ..grant };
        assert!(resolve_guest_path(Some(&ro), "/data/x", true).is_err());
        assert!(resolve_guest_path(None, "/data/x", false).is_err());
    }

    #[test]
    fn finds_the_nearest_vectors_and_survives_save_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let idx = NativeIndex::new(4, Metric::Euclidean).unwrap();
        let keys: Vec<u64> = (0..100).collect();
        let vectors: Vec<f32> = (0..400).map(|i| (i / 4) as f32 + (i % 4) as f32 * 0.01).collect();
        idx.add(&keys, &vectors).unwrap();
        let hits = idx.search(&[42.0, 42.01, 42.02, 42.03], 3).unwrap();
        assert_eq!(hits[0].0, 42);
        let path = dir.path().join("x.usearch");
        idx.save(&path).unwrap();
        let again = NativeIndex::load(&path).unwrap();
        assert_eq!(again.size(), 100);
        assert_eq!(again.search(&[7.0, 7.01, 7.02, 7.03], 1).unwrap()[0].0, 7);
    }
}
