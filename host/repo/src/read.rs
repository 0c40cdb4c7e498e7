//! Streaming a snapshot collection's points out of the repository, without
//! a database (verification compares them with a live collection).

use vdr_model::{Point, Result};

use crate::index;
use crate::repository::Repository;

impl Repository {
    /// Call `f` with every point of `collection` in `snapshot` (an id, prefix
    /// or `latest`), in stream order. The stream's count and content digest
    /// are checked against the manifest at the end: an error returned after
    /// points were delivered means the stream is damaged.
    pub fn read_points(
        &self,
        snapshot: &str,
        collection: &str,
        mut f: impl FnMut(Point) -> Result<()>,
    ) -> Result<()> {
        let _lock = self.lock(false, "read")?;
        let snap = self.load_snapshot(snapshot, Some(collection))?;
        let entry = snap.entry(collection)?;
        let (index, _) = index::load(self.store.as_ref(), &self.key)?;
        self.for_each_points(&index, entry, |d| d.points.into_iter().try_for_each(&mut f))?;
        Ok(())
    }
}
