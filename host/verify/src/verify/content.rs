//! The content check: snapshot records fetched from the live database by id,
//! in batches, and compared one by one.

use vdr_model::{CollectionSchema, Database, Error, Point, PointId};

use super::compare;
use super::report::Check;
use crate::sample::BottomN;

/// Ids or differences named in the check's message.
const EXAMPLES: usize = 5;

/// Push-style content check, for callers that receive the snapshot's points
/// in a callback (`Repository::read_points`) rather than as an iterator.
pub struct ContentChecker<'a> {
    db: &'a mut dyn Database,
    live: String,
    schema: CollectionSchema,
    tolerance: f32,
    batch: usize,
    /// `Some` when checking a seeded sample instead of every record.
    sample: Option<BottomN<Point>>,
    pending: Vec<Point>,
    checked: u64,
    missing: u64,
    changed: u64,
    missing_ids: Vec<PointId>,
    changes: Vec<String>,
    error: Option<Error>,
}

impl<'a> ContentChecker<'a> {
    /// `sample` = 0 checks every record; otherwise a seeded uniform sample of that many.
    pub fn new(
        db: &'a mut dyn Database,
        live: &str,
        schema: &CollectionSchema,
        sample: usize,
        seed: u64,
        tolerance: f32,
    ) -> Self {
        ContentChecker {
            db,
            live: live.to_string(),
            schema: schema.clone(),
            tolerance,
            batch: 256,
            sample: (sample > 0).then(|| BottomN::new(sample, seed)),
            pending: Vec::new(),
            checked: 0,
            missing: 0,
            changed: 0,
            missing_ids: Vec::new(),
            changes: Vec::new(),
            error: None,
        }
    }

    /// One snapshot record.
    pub fn push(&mut self, point: Point) {
        if self.error.is_some() {
            return;
        }
        match &mut self.sample {
            Some(s) => {
                if s.wants(&point.id) {
                    let id = point.id.clone();
                    s.offer(&id, || point);
                }
            }
            None => {
                self.pending.push(point);
                if self.pending.len() >= self.batch {
                    self.flush();
                }
            }
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() || self.error.is_some() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        let ids: Vec<PointId> = batch.iter().map(|p| p.id.clone()).collect();
        let live = match self.db.fetch(&self.live, &ids) {
            Ok(l) => l,
            Err(e) => {
                self.error = Some(e);
                return;
            }
        };
        let live: std::collections::HashMap<&PointId, &Point> =
            live.iter().map(|p| (&p.id, p)).collect();
        for want in &batch {
            self.checked += 1;
            match live.get(&want.id) {
                None => {
                    self.missing += 1;
                    if self.missing_ids.len() < EXAMPLES {
                        self.missing_ids.push(want.id.clone());
                    }
                }
                Some(have) => {
                    if let Some(d) = compare::difference(&self.schema, want, have, self.tolerance) {
                        self.changed += 1;
                        if self.changes.len() < EXAMPLES {
                            self.changes.push(format!("{}: {d}", want.id));
                        }
                    }
                }
            }
        }
    }

    /// The check's verdict, and how many records were compared.
    pub fn finish(mut self) -> (Check, u64) {
        if let Some(sample) = self.sample.take() {
            for (_, p) in sample.into_sorted() {
                self.pending.push(p);
                if self.pending.len() >= self.batch {
                    self.flush();
                }
            }
        }
        self.flush();
        if let Some(e) = self.error {
            return (Check::fail("content", format!("fetching records failed: {e}")), self.checked);
        }
        let bad = self.missing + self.changed;
        let mut notes = Vec::new();
        if self.missing > 0 {
            let ids: Vec<String> = self.missing_ids.iter().map(|i| i.to_string()).collect();
            notes.push(format!("{} missing (e.g. {})", self.missing, ids.join(", ")));
        }
        if self.changed > 0 {
            notes.push(format!("{} changed (e.g. {})", self.changed, self.changes.join("; ")));
        }
        let check = Check::new(
            "content",
            bad == 0,
            format!("{} records equal", self.checked),
            format!("{} equal", self.checked - bad),
        )
        .with_message(notes.join("; "));
        (check, self.checked)
    }
}
