//! Restoring a snapshot into another engine: which vectors, metrics and
//! collection names the target can hold, and the rewrite of schemas and
//! points on the way in ([`MappedDatabase`]) and for `vdr verify`
//! ([`Mapping::entry`], [`Mapping::point`]).
//!
//! What a target supports comes from a small table keyed by plugin name
//! ([`capabilities`]), not from trying `create-collection`: a trial create
//! would touch the target before the restore is known to be possible, and
//! the frozen WIT contract has no capability query. Engines missing from
//! the table are passed the schema unchanged and refuse what they cannot
//! hold themselves.

use crate::exit::usage;
use anyhow::Result;
use std::collections::HashMap;
use vdr_model::{
    ByteReader, ByteWriter, CollectionSchema, Database, ExportCursor, Metric, Point, PointId,
    ScoredPoint, VectorKind,
};
use vdr_repo::CollectionEntry;

/// What an engine's collections can hold.
#[derive(Clone, Copy, Debug)]
pub struct Capabilities {
    /// Several named vectors per collection (else one unnamed dense vector).
    pub named_vectors: bool,
    pub sparse: bool,
    pub multi: bool,
    pub metrics: &'static [Metric],
    /// Is a collection name valid, and what the rule is (for messages).
    pub valid_name: fn(&str) -> bool,
    pub name_rule: &'static str,
}

const ALL_METRICS: &[Metric] = &[Metric::Cosine, Metric::Euclidean, Metric::Dot, Metric::Manhattan];
const NO_MANHATTAN: &[Metric] = &[Metric::Cosine, Metric::Euclidean, Metric::Dot];

/// The table of engines vdr restores across (see each plugin's README).
pub fn capabilities(plugin: &str) -> Option<Capabilities> {
    Some(match plugin {
        "local" => Capabilities {
            named_vectors: true,
            sparse: true,
            multi: true,
            metrics: ALL_METRICS,
            valid_name: |n| {
                (1..=64).contains(&n.len())
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
            },
            name_rule: "1-64 characters of A-Z a-z 0-9 _ . -",
        },
        "qdrant" => Capabilities {
            named_vectors: true,
            sparse: true,
            multi: true,
            metrics: ALL_METRICS,
            valid_name: |n| !n.is_empty() && !n.contains(['/', '\0']),
            name_rule: "any non-empty name without '/'",
        },
        "chroma" => Capabilities {
            named_vectors: false,
            sparse: false,
            multi: false,
            metrics: NO_MANHATTAN,
            valid_name: |n| {
                let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
                (3..=512).contains(&n.len())
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                    && edge(n.chars().next())
                    && edge(n.chars().last())
            },
            name_rule: "3-512 characters of A-Z a-z 0-9 _ . -, starting and ending with a letter or digit",
        },
        "milvus" => Capabilities {
            named_vectors: false,
            sparse: false,
            multi: false,
            metrics: NO_MANHATTAN,
            valid_name: |n| {
                (1..=255).contains(&n.len())
                    && n.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            },
            name_rule: "1-255 characters of A-Z a-z 0-9 _, starting with a letter or _",
        },
        _ => return None,
    })
}

/// The operator's choices (`--vector`, `--drop-unsupported-vectors`).
#[derive(Clone, Debug, Default)]
pub struct MappingOptions {
    pub vector: Option<String>,
    pub drop_unsupported: bool,
}

/// How one snapshot collection is rewritten for its target.
#[derive(Clone, Debug)]
pub struct Mapping {
    /// The live collection's name.
    pub target: String,
    /// The schema created in the target (named `target`).
    pub schema: CollectionSchema,
    /// Source vector field -> target field; fields not listed are dropped.
    fields: Vec<(String, String)>,
    identity: bool,
}

impl Mapping {
    /// Plan the restore of `schema` into `plugin` as `requested` (the
    /// snapshot's name unless `explicit`, i.e. given with `--as`). Fails,
    /// listing the options, when the target cannot hold the collection.
    pub fn plan(
        schema: &CollectionSchema,
        requested: &str,
        explicit: bool,
        plugin: &str,
        opts: &MappingOptions,
    ) -> Result<Mapping> {
        let what = format!("collection {:?}", schema.name);
        let list = |kind: VectorKind| -> Vec<String> {
            schema.vectors.iter().filter(|v| v.kind == kind).map(|v| display(&v.name)).collect()
        };
        if let Some(v) = &opts.vector
            && !schema.vectors.iter().any(|f| &f.name == v && f.kind == VectorKind::Dense)
        {
            return Err(usage(format!(
                "--vector {v:?}: {what} has no such dense vector; its dense vectors: {}",
                list(VectorKind::Dense).join(", ")
            )));
        }
        let caps = capabilities(plugin);
        let target = target_name(requested, explicit, plugin, caps.as_ref())?;
        let single = caps.is_some_and(|c| !c.named_vectors);
        let dense = list(VectorKind::Dense);
        let chosen = match (&opts.vector, single, dense.len()) {
            (Some(v), _, _) => Some(v.clone()),
            (None, true, 1) => schema.dense_fields().next().map(|f| f.name.clone()),
            (None, true, n) if n > 1 => {
                return Err(usage(format!(
                    "{plugin} holds one vector per collection and {what} of the snapshot has dense vectors {}; choose one with --vector",
                    dense.join(", ")
                )));
            }
            _ => None,
        };
        let mut fields = Vec::new();
        let mut out = Vec::new();
        let mut unsupported = Vec::new();
        for f in &schema.vectors {
            let keep_as = match f.kind {
                VectorKind::Dense => match &chosen {
                    Some(c) if c != &f.name => None,
                    // The target's single vector is unnamed.
                    Some(_) if single => Some(String::new()),
                    _ => Some(f.name.clone()),
                },
                VectorKind::Sparse | VectorKind::Multi => {
                    let ok = caps.is_none_or(|c| match f.kind {
                        VectorKind::Sparse => c.sparse,
                        _ => c.multi,
                    });
                    if !ok {
                        unsupported.push(format!("{:?} vector {}", f.kind, display(&f.name)));
                    }
                    ok.then(|| f.name.clone())
                }
            };
            let Some(name) = keep_as else { continue };
            if let Some(c) = caps
                && !c.metrics.contains(&f.metric)
            {
                return Err(usage(format!(
                    "{plugin} does not support metric {} (vector {} of {what}); it supports {}",
                    f.metric,
                    display(&f.name),
                    c.metrics.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
            fields.push((f.name.clone(), name.clone()));
            out.push(vdr_model::VectorField { name, ..f.clone() });
        }
        if !unsupported.is_empty() && !opts.drop_unsupported {
            return Err(usage(format!(
                "{plugin} cannot hold the {} of {what}; restore without them with --drop-unsupported-vectors",
                unsupported.join(", ").to_lowercase()
            )));
        }
        if single && !out.iter().any(|f| f.kind == VectorKind::Dense) {
            return Err(usage(format!(
                "{plugin} needs one dense vector per collection and {what} has none to map"
            )));
        }
        let identity = out.len() == schema.vectors.len() && fields.iter().all(|(a, b)| a == b);
        let mut mapped = schema.clone();
        mapped.name = target.clone();
        mapped.vectors = out;
        Ok(Mapping { target, schema: mapped, fields, identity })
    }

    /// The point as the target holds it: vectors renamed, dropped ones gone.
    pub fn point(&self, mut p: Point) -> Point {
        if self.identity {
            return p;
        }
        p.vectors = p
            .vectors
            .into_iter()
            .filter_map(|mut v| {
                let (_, to) = self.fields.iter().find(|(from, _)| *from == v.name)?;
                v.name = to.clone();
                Some(v)
            })
            .collect();
        p
    }

    /// The manifest entry as verification must see it: the mapped schema,
    /// and the baseline's vector renamed (or the baseline dropped with it).
    pub fn entry(&self, entry: &CollectionEntry) -> CollectionEntry {
        let mut e = entry.clone();
        e.schema = CollectionSchema { name: entry.schema.name.clone(), ..self.schema.clone() };
        if let Some(b) = e.baseline.as_mut().and_then(|b| b.as_object_mut()) {
            let from = b.get("vector").and_then(|v| v.as_str()).unwrap_or_default().to_string();
            match self.fields.iter().find(|(f, _)| *f == from) {
                Some((_, to)) => {
                    b.insert("vector".into(), to.clone().into());
                }
                None => e.baseline = None,
            }
        }
        e
    }
}

/// The snapshot's name when the target accepts it; else, unless the
/// operator chose it, the name with every refused character made `_`.
fn target_name(
    requested: &str,
    explicit: bool,
    plugin: &str,
    caps: Option<&Capabilities>,
) -> Result<String> {
    let Some(c) = caps else { return Ok(requested.to_string()) };
    if (c.valid_name)(requested) {
        return Ok(requested.to_string());
    }
    let mut fixed: String =
        requested.chars().map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' }).collect();
    if !fixed.starts_with(|ch: char| ch.is_ascii_alphabetic()) {
        fixed.insert(0, 'c');
    }
    while fixed.len() < 3 {
        fixed.push('0');
    }
    if explicit || !(c.valid_name)(&fixed) {
        return Err(usage(format!(
            "collection name {requested:?} is not valid in {plugin} ({}); choose one with --as, e.g. {fixed:?}",
            c.name_rule
        )));
    }
    Ok(fixed)
}

fn display(name: &str) -> String {
    if name.is_empty() { "(unnamed)".into() } else { name.to_string() }
}

/// A target database whose collections are created and filled through
/// their [`Mapping`] (keyed by target name); everything else passes through.
pub struct MappedDatabase<'a> {
    pub inner: &'a mut dyn Database,
    pub mappings: HashMap<String, Mapping>,
}

impl Database for MappedDatabase<'_> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list_collections(&mut self) -> vdr_model::Result<Vec<String>> {
        self.inner.list_collections()
    }
    fn describe_collection(&mut self, name: &str) -> vdr_model::Result<CollectionSchema> {
        self.inner.describe_collection(name)
    }
    fn open_export<'b>(
        &'b mut self,
        collection: &str,
        resume_from: Option<String>,
    ) -> vdr_model::Result<Box<dyn ExportCursor + 'b>> {
        self.inner.open_export(collection, resume_from)
    }
    fn create_collection(&mut self, schema: &CollectionSchema) -> vdr_model::Result<()> {
        match self.mappings.get(&schema.name) {
            Some(m) => self.inner.create_collection(&m.schema),
            None => self.inner.create_collection(schema),
        }
    }
    fn import_batch(&mut self, collection: &str, points: Vec<Point>) -> vdr_model::Result<()> {
        let points = match self.mappings.get(collection) {
            Some(m) => points.into_iter().map(|p| m.point(p)).collect(),
            None => points,
        };
        self.inner.import_batch(collection, points)
    }
    fn flush(&mut self, collection: &str) -> vdr_model::Result<()> {
        self.inner.flush(collection)
    }
    fn fetch(&mut self, collection: &str, ids: &[PointId]) -> vdr_model::Result<Vec<Point>> {
        self.inner.fetch(collection, ids)
    }
    fn delete_points(&mut self, collection: &str, ids: &[PointId]) -> vdr_model::Result<()> {
        self.inner.delete_points(collection, ids)
    }
    fn count(&mut self, collection: &str) -> vdr_model::Result<u64> {
        self.inner.count(collection)
    }
    fn search(
        &mut self,
        collection: &str,
        vector: &str,
        query: &[f32],
        k: u32,
    ) -> vdr_model::Result<Vec<ScoredPoint>> {
        self.inner.search(collection, vector, query, k)
    }
    fn drop_collection(&mut self, name: &str) -> vdr_model::Result<()> {
        self.inner.drop_collection(name)
    }
    fn open_native_snapshot<'b>(
        &'b mut self,
        collection: &str,
    ) -> vdr_model::Result<Box<dyn ByteReader + 'b>> {
        self.inner.open_native_snapshot(collection)
    }
    fn restore_native_snapshot<'b>(
        &'b mut self,
        collection: &str,
        size: u64,
    ) -> vdr_model::Result<Box<dyn ByteWriter + 'b>> {
        self.inner.restore_native_snapshot(collection, size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vdr_model::{NamedVector, VectorData, VectorField};

    fn field(name: &str, kind: VectorKind, metric: Metric) -> VectorField {
        VectorField::new(name, kind, 2, metric)
    }

    fn schema(vectors: Vec<VectorField>) -> CollectionSchema {
        CollectionSchema { engine: "qdrant".into(), ..CollectionSchema::new("docs", vectors) }
    }

    fn two_dense() -> CollectionSchema {
        schema(vec![
            field("a", VectorKind::Dense, Metric::Cosine),
            field("b", VectorKind::Dense, Metric::Dot),
        ])
    }

    #[test]
    fn ambiguous_dense_vectors_list_the_options() {
        let e = Mapping::plan(&two_dense(), "docs", false, "chroma", &MappingOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("dense vectors a, b; choose one with --vector"), "{e}");
    }

    #[test]
    fn chosen_vector_becomes_the_unnamed_one() {
        let opts = MappingOptions { vector: Some("b".into()), ..Default::default() };
        let m = Mapping::plan(&two_dense(), "docs", false, "milvus", &opts).unwrap();
        assert_eq!(m.schema.vectors.len(), 1);
        assert_eq!(
            (m.schema.vectors[0].name.as_str(), m.schema.vectors[0].metric),
            ("", Metric::Dot)
        );
        let p = Point {
            id: PointId::Num(1),
            vectors: vec![
                NamedVector { name: "a".into(), data: VectorData::Dense(vec![1.0, 0.0]) },
                NamedVector { name: "b".into(), data: VectorData::Dense(vec![0.0, 1.0]) },
            ],
            payload: None,
        };
        let p = m.point(p);
        assert_eq!(p.vectors.len(), 1);
        assert_eq!((p.vectors[0].name.as_str(), p.dense("")), ("", Some(&[0.0, 1.0][..])));
    }

    #[test]
    fn sparse_needs_consent_and_metrics_must_exist() {
        let s = schema(vec![
            field("d", VectorKind::Dense, Metric::Cosine),
            field("s", VectorKind::Sparse, Metric::Dot),
        ]);
        let e = Mapping::plan(&s, "docs", false, "chroma", &MappingOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("sparse vector s") && e.contains("--drop-unsupported-vectors"), "{e}");
        let opts = MappingOptions { drop_unsupported: true, ..Default::default() };
        assert_eq!(
            Mapping::plan(&s, "docs", false, "chroma", &opts).unwrap().schema.vectors.len(),
            1
        );
        assert!(
            Mapping::plan(&s, "docs", false, "local", &MappingOptions::default()).unwrap().identity
        );
        let m = schema(vec![field("", VectorKind::Dense, Metric::Manhattan)]);
        let e = Mapping::plan(&m, "docs", false, "milvus", &MappingOptions::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("metric manhattan"), "{e}");
    }

    #[test]
    fn names_the_target_refuses_are_mapped_unless_chosen() {
        let s = schema(vec![field("", VectorKind::Dense, Metric::Euclidean)]);
        let o = MappingOptions::default();
        assert_eq!(Mapping::plan(&s, "my-docs", false, "milvus", &o).unwrap().target, "my_docs");
        assert_eq!(Mapping::plan(&s, "ab", false, "chroma", &o).unwrap().target, "ab0");
        assert!(Mapping::plan(&s, "my-docs", true, "milvus", &o).is_err());
    }
}
