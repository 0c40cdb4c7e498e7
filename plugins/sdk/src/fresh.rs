//! Ids written by this instance into collections it created itself. A
//! batch of ids never written there cannot replace anything, so the import
//! skips the work that makes a write a replacement (the first restore into
//! a new collection, the usual case). Anything else is treated as before.

use std::collections::{HashMap, HashSet};

#[derive(Default)]
pub struct Fresh {
    written: HashMap<String, HashSet<String>>,
}

impl Fresh {
    /// `collection` was just created by this instance: empty.
    pub fn created(&mut self, collection: &str) {
        self.written.insert(collection.to_string(), HashSet::new());
    }

    /// Forget `collection` (dropped, or changed in ways not tracked).
    pub fn forget(&mut self, collection: &str) {
        self.written.remove(collection);
    }

    /// Record `ids` as written; `None` when the collection is not known to
    /// be fresh (every id may exist), else the ids that were written before.
    pub fn write<'a>(&mut self, collection: &str, ids: &'a [String]) -> Option<Vec<&'a String>> {
        let seen = self.written.get_mut(collection)?;
        Some(ids.iter().filter(|id| !seen.insert((*id).clone())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rewritten_ids_come_back() {
        let mut f = Fresh::default();
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(f.write("c", &ids(&["a"])).is_none());
        f.created("c");
        assert!(f.write("c", &ids(&["a", "b"])).unwrap().is_empty());
        assert_eq!(f.write("c", &ids(&["b", "x"])).unwrap(), vec!["b"]);
        f.forget("c");
        assert!(f.write("c", &ids(&["a"])).is_none());
    }
}
