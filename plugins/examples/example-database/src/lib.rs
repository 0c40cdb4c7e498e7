//! An in-memory database plugin: the smallest complete example of a vdr
//! database plugin. Collections live in maps and vanish with the plugin
//! instance; search is an exact scan. A real plugin would talk to its engine
//! through `vdr_plugin_sdk::http` instead.

use std::collections::BTreeMap;
use std::ops::Bound;

use vdr_plugin_sdk::prelude::*;

/// A point id in export order: numbers before strings.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Num(u64),
    Str(String),
}

impl From<&PointId> for Key {
    fn from(id: &PointId) -> Self {
        match id {
            PointId::Num(n) => Key::Num(*n),
            PointId::Str(s) => Key::Str(s.clone()),
        }
    }
}

struct Collection {
    schema: CollectionSchema,
    points: BTreeMap<Key, Point>,
}

/// The plugin's state, built by `configure` and kept by the SDK.
struct MemoryDatabase {
    collections: BTreeMap<String, Collection>,
}

impl MemoryDatabase {
    fn get(&mut self, name: &str) -> Result<&mut Collection> {
        self.collections.get_mut(name).ok_or_else(|| Error::NotFound(format!("collection {name}")))
    }
}

impl DatabasePlugin for MemoryDatabase {
    fn configure(_config: Config) -> Result<Self> {
        Ok(MemoryDatabase { collections: BTreeMap::new() })
    }

    fn list_collections(&mut self) -> Result<Vec<String>> {
        Ok(self.collections.keys().cloned().collect())
    }

    fn describe_collection(&mut self, name: &str) -> Result<CollectionSchema> {
        Ok(self.get(name)?.schema.clone())
    }

    fn open_export(
        &mut self,
        collection: &str,
        resume_from: Option<String>,
    ) -> Result<Box<dyn ExportCursor>> {
        // Resume tokens are "n:<number>" or "s:<string>", the last id sent.
        let after = match resume_from.as_deref().map(|t| t.split_once(':')) {
            None => None,
            Some(Some(("n", n))) => Some(Key::Num(n.parse().map_err(|_| bad_token(n))?)),
            Some(Some(("s", s))) => Some(Key::Str(s.to_string())),
            Some(_) => return Err(bad_token(resume_from.as_deref().unwrap_or_default())),
        };
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let points = self.get(collection)?.points.range((start, Bound::Unbounded));
        // A snapshot: later writes do not change an export in progress.
        let remaining: Vec<Point> = points.map(|(_, p)| p.clone()).collect();
        Ok(Box::new(Cursor { remaining: remaining.into_iter(), last: resume_from }))
    }

    fn create_collection(&mut self, schema: CollectionSchema) -> Result<()> {
        if self.collections.contains_key(&schema.name) {
            return Err(Error::AlreadyExists(format!("collection {}", schema.name)));
        }
        let name = schema.name.clone();
        self.collections.insert(name, Collection { schema, points: BTreeMap::new() });
        Ok(())
    }

    fn import_batch(&mut self, collection: &str, points: Vec<Point>) -> Result<()> {
        let c = self.get(collection)?;
        for point in &points {
            check_dimensions(&c.schema, point)?;
        }
        for point in points {
            c.points.insert(Key::from(&point.id), point);
        }
        Ok(())
    }

    fn fetch(&mut self, collection: &str, ids: Vec<PointId>) -> Result<Vec<Point>> {
        let c = self.get(collection)?;
        Ok(ids.iter().filter_map(|id| c.points.get(&Key::from(id)).cloned()).collect())
    }

    fn delete_points(&mut self, collection: &str, ids: Vec<PointId>) -> Result<()> {
        let c = self.get(collection)?;
        for id in &ids {
            c.points.remove(&Key::from(id));
        }
        Ok(())
    }

    fn flush(&mut self, collection: &str) -> Result<()> {
        // Everything is visible as soon as it is imported.
        self.get(collection).map(drop)
    }

    fn count(&mut self, collection: &str) -> Result<u64> {
        Ok(self.get(collection)?.points.len() as u64)
    }

    fn search(
        &mut self,
        collection: &str,
        vector: &str,
        query: Vec<f32>,
        k: u32,
    ) -> Result<Vec<ScoredPoint>> {
        let c = self.get(collection)?;
        let field = c.schema.vectors.iter().find(|f| f.name == vector);
        let Some(field) = field.filter(|f| f.kind == VectorKind::Dense) else {
            return Err(Error::InvalidInput(format!("no dense vector field {vector:?}")));
        };
        // Exact scan: distance to every point that has the field.
        let mut hits: Vec<ScoredPoint> = c
            .points
            .values()
            .filter_map(|p| {
                let v = p.vectors.iter().find(|v| v.name == vector)?;
                let VectorData::Dense(d) = &v.data else { return None };
                Some(ScoredPoint { id: p.id.clone(), score: distance(field.metric, &query, d) })
            })
            .collect();
        hits.sort_by(|a, b| a.score.total_cmp(&b.score));
        hits.truncate(k as usize);
        Ok(hits)
    }

    fn drop_collection(&mut self, name: &str) -> Result<()> {
        self.collections
            .remove(name)
            .map(drop)
            .ok_or_else(|| Error::NotFound(format!("collection {name}")))
    }
}

/// Dense vectors must have the schema's dimension (`invalid-input` if not).
fn check_dimensions(schema: &CollectionSchema, point: &Point) -> Result<()> {
    for v in &point.vectors {
        let field = schema.vectors.iter().find(|f| f.name == v.name);
        if let (Some(field), VectorData::Dense(d)) = (field, &v.data)
            && d.len() != field.dimension as usize
        {
            return Err(Error::InvalidInput(format!(
                "vector {:?} has {} components, the schema says {}",
                v.name,
                d.len(),
                field.dimension
            )));
        }
    }
    Ok(())
}

/// Smaller is nearer, whatever the metric.
fn distance(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    match metric {
        Metric::Dot => -dot,
        Metric::Cosine => {
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            1.0 - dot / (norm(a) * norm(b)).max(f32::MIN_POSITIVE)
        }
        Metric::Euclidean => a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt(),
        Metric::Manhattan => a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum(),
    }
}

fn bad_token(token: &str) -> Error {
    Error::InvalidInput(format!("invalid resume token {token:?}"))
}

/// An export in progress: the points left to send.
struct Cursor {
    remaining: std::vec::IntoIter<Point>,
    last: Option<String>,
}

impl ExportCursor for Cursor {
    fn next_batch(&mut self, max: u32) -> Result<Vec<Point>> {
        let batch: Vec<Point> = self.remaining.by_ref().take(max.max(1) as usize).collect();
        if let Some(p) = batch.last() {
            self.last = Some(match &p.id {
                PointId::Num(n) => format!("n:{n}"),
                PointId::Str(s) => format!("s:{s}"),
            });
        }
        Ok(batch)
    }

    fn resume_token(&self) -> Option<String> {
        self.last.clone()
    }
}

vdr_plugin_sdk::export_database_plugin!(MemoryDatabase, "vdr-plugin.toml");
