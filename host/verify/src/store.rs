//! Every backed-up vector of one field, held for the ground-truth pass:
//! in memory up to a budget, then in an encrypted spill file, so memory stays
//! bounded whatever the collection's size.

use std::path::PathBuf;
use vdr_model::PointId;

use crate::spill::Spill;

pub struct VectorStore {
    dim: usize,
    /// Vectors per in-memory block; a full block goes to the spill.
    cap: usize,
    ids: Vec<PointId>,
    vectors: Vec<f32>,
    spill: Option<Spill>,
    spill_dir: PathBuf,
    /// Most vectors ever held in memory at once (tests check the budget).
    pub peak_in_memory: usize,
    pub stored: u64,
}

impl VectorStore {
    /// Holds at most about `budget` bytes of vectors in memory.
    pub fn new(dim: usize, budget: usize, spill_dir: PathBuf) -> VectorStore {
        let per_vector = dim * 4 + std::mem::size_of::<PointId>();
        let cap = (budget / per_vector.max(1)).max(1);
        VectorStore {
            dim,
            cap,
            ids: Vec::new(),
            vectors: Vec::new(),
            spill: None,
            spill_dir,
            peak_in_memory: 0,
            stored: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.cap
    }

    pub fn spilled_bytes(&self) -> u64 {
        self.spill.as_ref().map_or(0, |s| s.bytes)
    }

    pub fn push(&mut self, id: &PointId, vector: &[f32]) -> std::io::Result<()> {
        debug_assert_eq!(vector.len(), self.dim);
        self.ids.push(id.clone());
        self.vectors.extend_from_slice(vector);
        self.stored += 1;
        self.peak_in_memory = self.peak_in_memory.max(self.ids.len());
        if self.ids.len() >= self.cap {
            self.spill_block()?;
        }
        Ok(())
    }

    fn spill_block(&mut self) -> std::io::Result<()> {
        if self.spill.is_none() {
            self.spill = Some(Spill::create(&self.spill_dir)?);
        }
        self.spill.as_mut().unwrap().write_block(&self.ids, &self.vectors)?;
        self.ids.clear();
        self.vectors.clear();
        Ok(())
    }

    /// Hand every vector over once, a block at a time, in arrival order.
    pub fn for_each_block(mut self, mut f: impl FnMut(&[PointId], &[f32])) -> std::io::Result<()> {
        match self.spill.take() {
            None => f(&self.ids, &self.vectors),
            Some(spill) => {
                // The in-memory tail is scanned first; then the spill, block by block.
                f(&self.ids, &self.vectors);
                let (ids, vectors) =
                    (std::mem::take(&mut self.ids), std::mem::take(&mut self.vectors));
                drop((ids, vectors));
                spill.read_blocks(self.dim, f)?;
            }
        }
        Ok(())
    }
}
