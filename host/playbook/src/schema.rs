//! The typed playbook: what a rendered YAML document must look like, and
//! every check that can be made before anything runs.

use crate::error::{ErrorKind, PlaybookError};
use crate::refs::{StepRef, list_or_none, refs_in_value};
use crate::render::{Rendered, top_level_block};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// A validated playbook, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Playbook {
    pub name: String,
    pub description: Option<String>,
    /// Effective variables (defaults < vars file < `--var`), for reports.
    pub vars: Map<String, Value>,
    pub steps: Vec<Step>,
    /// Template file name, for reports and messages.
    pub file: String,
}

/// One step: common fields plus exactly one kind.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Optional id; needed to refer to the step's outputs (`steps.ID.FIELD`).
    pub id: Option<String>,
    pub name: Option<String>,
    /// A failure is recorded but does not stop the run or change its exit code.
    pub continue_on_error: bool,
    pub kind: StepKind,
    /// 0-based position in `steps`.
    pub index: usize,
    /// Template line where the step starts, when known.
    pub line: Option<usize>,
}

impl Step {
    /// The name reports use: the id, else `N-kind` (1-based).
    pub fn key(&self) -> String {
        match &self.id {
            Some(id) => id.clone(),
            None => format!("{}-{}", self.index + 1, self.kind.name()),
        }
    }
}

/// Every step kind; the YAML key is the snake_case variant name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Init(InitStep),
    Collection(CollectionStep),
    Backup(BackupStep),
    Restore(RestoreStep),
    Verify(VerifyStep),
    Check(CheckStep),
    Forget(ForgetStep),
    Replicate(ReplicateStep),
    Chaos(ChaosStep),
    Wait(WaitStep),
    Assert(AssertStep),
    Terraform(TerraformStep),
    Report(ReportStep),
}

/// YAML keys of the step kinds, in documentation order.
pub const STEP_KINDS: &[&str] = &[
    "init",
    "collection",
    "backup",
    "restore",
    "verify",
    "check",
    "forget",
    "replicate",
    "chaos",
    "wait",
    "assert",
    "terraform",
    "report",
];

/// Fields every step may have besides its kind.
pub const STEP_FIELDS: &[&str] = &["id", "name", "continue_on_error"];

impl StepKind {
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Init(_) => "init",
            StepKind::Collection(_) => "collection",
            StepKind::Backup(_) => "backup",
            StepKind::Restore(_) => "restore",
            StepKind::Verify(_) => "verify",
            StepKind::Check(_) => "check",
            StepKind::Forget(_) => "forget",
            StepKind::Replicate(_) => "replicate",
            StepKind::Chaos(_) => "chaos",
            StepKind::Wait(_) => "wait",
            StepKind::Assert(_) => "assert",
            StepKind::Terraform(_) => "terraform",
            StepKind::Report(_) => "report",
        }
    }

    /// Checks that types alone cannot express.
    fn validate(&self) -> Result<(), String> {
        match self {
            StepKind::Collection(c) => c.validate(),
            StepKind::Forget(f) => f.validate(),
            StepKind::Chaos(c) => c.validate(),
            StepKind::Wait(w) => w.validate(),
            StepKind::Verify(v) => v.validate(),
            StepKind::Assert(a) => {
                crate::expr::parse(&a.that).map(|_| ()).map_err(|e| format!("`that`: {e}"))
            }
            StepKind::Report(r) if r.formats.is_empty() => {
                Err("`formats` is empty; use some of json, junit, markdown".into())
            }
            StepKind::Check(CheckStep { read_data: Some(ReadData::Percent(p)), .. })
                if !(*p > 0.0 && *p <= 100.0) =>
            {
                Err(format!("`read_data: {p}%` must be in (0, 100]"))
            }
            _ => Ok(()),
        }
    }
}

/// Creates a repository (`vdr init`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitStep {
    pub repo: String,
    /// age recipients (public keys) that can open the repository.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recipients: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recipients_file: Option<String>,
    /// Protect the repository with the passphrase in this file instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passphrase_file: Option<String>,
    /// Write a new age identity to this path unless it already exists, and
    /// add its recipient; later steps use it as the identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_identity: Option<String>,
    /// Succeed without doing anything when the repository already exists.
    #[serde(default)]
    pub if_missing: bool,
}

/// Creates, fills, mutates or drops a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionStep {
    pub db: String,
    /// Name of a collection to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<String>,
    /// With `create`: drop an existing collection of that name first.
    #[serde(default)]
    pub replace: bool,
    /// With `create`: fill with N realistic clustered vectors and payloads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dim: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Existing collection to mutate (defaults to `create`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// Change this fraction of records (payloads and vectors), in (0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutate_fraction: Option<f64>,
    /// Name of a collection to drop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop: Option<String>,
}

impl CollectionStep {
    fn validate(&self) -> Result<(), String> {
        if self.create.is_none() && self.mutate_fraction.is_none() && self.drop.is_none() {
            return Err("a collection step needs `create`, `mutate_fraction` or `drop`".into());
        }
        if self.create.is_none() {
            for (set, f) in [
                (self.sample.is_some(), "sample"),
                (self.dim.is_some(), "dim"),
                (self.metric.is_some(), "metric"),
                (self.replace, "replace"),
            ] {
                if set {
                    return Err(format!("`{f}` only applies with `create`"));
                }
            }
        }
        if self.sample.is_some() && self.dim.is_none() {
            return Err("`sample` needs `dim`".into());
        }
        if let Some(f) = self.mutate_fraction {
            fraction("mutate_fraction", f)?;
            if self.collection.is_none() && self.create.is_none() {
                return Err("`mutate_fraction` needs `collection` (or `create`)".into());
            }
        }
        Ok(())
    }
}

/// One snapshot of the listed collections (all when empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupStep {
    pub repo: String,
    pub db: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collections: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Number of golden queries for the verification baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub golden_queries: Option<u32>,
    /// k of recall@k for the baseline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<u32>,
    /// Export every record even where the database's change feed could
    /// say what changed since the last snapshot.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreStep {
    pub repo: String,
    /// Snapshot id or `latest`.
    pub snapshot: String,
    pub db: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// Restore `collection` under this name.
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub as_name: Option<String>,
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyStep {
    pub repo: String,
    pub snapshot: String,
    pub db: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// The collection was restored under this name.
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub as_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_recall: Option<f64>,
    /// Records whose content digests are compared (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<u64>,
    /// Per-component tolerance for engines that round vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<f64>,
    /// Fail when p95 latency exceeds the baseline by this factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_factor: Option<f64>,
}

impl VerifyStep {
    fn validate(&self) -> Result<(), String> {
        if let Some(r) = self.min_recall
            && !(0.0..=1.0).contains(&r)
        {
            return Err(format!("`min_recall: {r}` must be between 0 and 1"));
        }
        if self.as_name.is_some() && self.collection.is_none() {
            return Err("`as` needs `collection`".into());
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckStep {
    pub repo: String,
    /// `true` reads every pack, `"N%"` or `"n/t"` a subset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_data: Option<ReadData>,
}

/// How much pack data `check` reads back.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadData {
    /// `false`: structure only.
    Off,
    /// `true`: every pack.
    All,
    /// `"N%"`
    Percent(f64),
    /// `"n/t"`: the n-th of t parts.
    Subset { n: u32, t: u32 },
}

impl Serialize for ReadData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ReadData::Off => s.serialize_bool(false),
            ReadData::All => s.serialize_bool(true),
            ReadData::Percent(p) => s.serialize_str(&format!("{p}%")),
            ReadData::Subset { n, t } => s.serialize_str(&format!("{n}/{t}")),
        }
    }
}

impl<'de> Deserialize<'de> for ReadData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ReadData;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("true, false, \"N%\" or \"n/t\"")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<ReadData, E> {
                Ok(if b { ReadData::All } else { ReadData::Off })
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<ReadData, E> {
                let bad = || {
                    E::custom(format!("read_data `{s}`: expected true, false, \"N%\" or \"n/t\""))
                };
                if let Some(p) = s.strip_suffix('%') {
                    return p.trim().parse().map(ReadData::Percent).map_err(|_| bad());
                }
                let (n, t) = s.split_once('/').ok_or_else(bad)?;
                let (n, t): (u32, u32) =
                    (n.trim().parse().map_err(|_| bad())?, t.trim().parse().map_err(|_| bad())?);
                if n == 0 || n > t {
                    return Err(E::custom(format!("read_data `{s}`: n/t needs 1 <= n <= t")));
                }
                Ok(ReadData::Subset { n, t })
            }
        }
        d.deserialize_any(V)
    }
}

/// Retention; at least one `keep_*` is required so a typo cannot delete
/// every snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForgetStep {
    pub repo: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_hourly: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_daily: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_weekly: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_monthly: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_yearly: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep_tags: Vec<String>,
    #[serde(default)]
    pub prune: bool,
}

impl ForgetStep {
    fn validate(&self) -> Result<(), String> {
        let keeps = [
            self.keep_last,
            self.keep_hourly,
            self.keep_daily,
            self.keep_weekly,
            self.keep_monthly,
            self.keep_yearly,
        ];
        if keeps.iter().all(Option::is_none) && self.keep_tags.is_empty() {
            return Err("forget needs at least one of keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly, keep_tags".into());
        }
        Ok(())
    }
}

/// One anti-entropy round from leader to follower.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicateStep {
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collections: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChaosKind {
    DropCollection,
    DeleteRecords,
    CorruptFile,
    DeleteFile,
    StopProcess,
    FailStorage,
}

/// Breaks something on purpose. Required fields depend on `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaosStep {
    pub kind: ChaosKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection: Option<String>,
    /// delete-records: fraction of records; fail-storage: fraction of calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<f64>,
    /// corrupt-file / delete-file: the file (else one the executor picks in the local store `db`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl ChaosStep {
    fn validate(&self) -> Result<(), String> {
        let need = |ok: bool, what: &str| {
            if ok { Ok(()) } else { Err(format!("chaos `{}` needs {what}", kind_name(self.kind))) }
        };
        match self.kind {
            ChaosKind::DropCollection => {
                need(self.db.is_some() && self.collection.is_some(), "`db` and `collection`")
            }
            ChaosKind::DeleteRecords => {
                need(
                    self.db.is_some() && self.collection.is_some() && self.fraction.is_some(),
                    "`db`, `collection` and `fraction`",
                )?;
                fraction("fraction", self.fraction.unwrap_or(0.0))
            }
            ChaosKind::CorruptFile | ChaosKind::DeleteFile => {
                need(self.path.is_some() || self.db.is_some(), "`path` (or `db`, a local store)")
            }
            ChaosKind::StopProcess => need(self.pid_file.is_some(), "`pid_file`"),
            ChaosKind::FailStorage => {
                need(self.repo.is_some() && self.fraction.is_some(), "`repo` and `fraction`")?;
                fraction("fraction", self.fraction.unwrap_or(0.0))
            }
        }
    }
}

fn kind_name(k: ChaosKind) -> String {
    serde_json::to_value(k).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn fraction(name: &str, f: f64) -> Result<(), String> {
    if f > 0.0 && f <= 1.0 { Ok(()) } else { Err(format!("`{name}: {f}` must be in (0, 1]")) }
}

/// Sleeps, or waits for a file to appear. Run by the runner itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_file: Option<String>,
    /// With `until_file`: give up (fail) after this long; default 300.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
}

impl WaitStep {
    fn validate(&self) -> Result<(), String> {
        match (self.seconds, &self.until_file) {
            (Some(s), None) if s >= 0.0 => Ok(()),
            (Some(s), None) => Err(format!("`seconds: {s}` must not be negative")),
            (None, Some(_)) => Ok(()),
            _ => Err("wait needs exactly one of `seconds` or `until_file`".into()),
        }
    }
}

/// Fails the run with `message` unless `that` is true. Run by the runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssertStep {
    pub that: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TerraformOperation {
    Plan,
    Apply,
    Destroy,
}

/// Runs terraform in a directory (e.g. to bring up a restore target).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformStep {
    pub dir: String,
    pub operation: TerraformOperation,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Json,
    Junit,
    Markdown,
}

/// Writes the reports of the run so far. Always runs, even after a failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportStep {
    #[serde(default = "all_formats")]
    pub formats: Vec<ReportFormat>,
}

fn all_formats() -> Vec<ReportFormat> {
    vec![ReportFormat::Json, ReportFormat::Junit, ReportFormat::Markdown]
}

// A hand-written visitor rather than `#[serde(flatten)]` (which cannot be
// combined with deny_unknown_fields): it streams from the YAML parser, so
// errors keep their line, and an unknown key lists kinds and fields apart.
impl<'de> Deserialize<'de> for Step {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(StepVisitor)
    }
}

struct StepVisitor;

impl<'de> Visitor<'de> for StepVisitor {
    type Value = Step;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a step: a mapping with one of {}", STEP_KINDS.join(", "))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Step, A::Error> {
        let (mut id, mut name, mut continue_on_error, mut kind) =
            (None, None, false, None::<StepKind>);
        while let Some(key) = map.next_key::<String>()? {
            let k = match key.as_str() {
                "id" => {
                    id = Some(map.next_value::<String>()?);
                    continue;
                }
                "name" => {
                    name = Some(map.next_value::<String>()?);
                    continue;
                }
                "continue_on_error" => {
                    continue_on_error = map.next_value()?;
                    continue;
                }
                "init" => StepKind::Init(map.next_value()?),
                "collection" => StepKind::Collection(map.next_value()?),
                "backup" => StepKind::Backup(map.next_value()?),
                "restore" => StepKind::Restore(map.next_value()?),
                "verify" => StepKind::Verify(map.next_value()?),
                "check" => StepKind::Check(map.next_value()?),
                "forget" => StepKind::Forget(map.next_value()?),
                "replicate" => StepKind::Replicate(map.next_value()?),
                "chaos" => StepKind::Chaos(map.next_value()?),
                "wait" => StepKind::Wait(map.next_value()?),
                "assert" => StepKind::Assert(map.next_value()?),
                "terraform" => StepKind::Terraform(map.next_value()?),
                "report" => StepKind::Report(map.next_value()?),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown step kind or field `{other}`; step kinds: {}; step fields: {}",
                        STEP_KINDS.join(", "),
                        STEP_FIELDS.join(", ")
                    )));
                }
            };
            if let Some(prev) = &kind {
                return Err(de::Error::custom(format!(
                    "a step has exactly one kind, found both `{}` and `{}`",
                    prev.name(),
                    k.name()
                )));
            }
            kind = Some(k);
        }
        let kind = kind.ok_or_else(|| {
            de::Error::custom(format!(
                "step has no kind; expected one of: {}",
                STEP_KINDS.join(", ")
            ))
        })?;
        Ok(Step { id, name, continue_on_error, kind, index: 0, line: None })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlaybook {
    name: String,
    #[serde(default)]
    description: Option<String>,
    // Defaults were already applied while rendering; accepted here so the
    // document stays self-describing.
    #[serde(default)]
    #[allow(dead_code)]
    vars: Option<Value>,
    steps: Vec<Step>,
}

/// Validates rendered YAML into a [`Playbook`]. Every error names the
/// template file and line.
pub fn parse(r: &Rendered) -> Result<Playbook, PlaybookError> {
    let raw: RawPlaybook = serde_yaml_ng::from_str(&r.text).map_err(|e| {
        let msg = crate::vars::strip_location(&e.to_string());
        let kind = if e.location().is_some() && is_data_error(&msg) {
            ErrorKind::Validation
        } else {
            ErrorKind::Yaml
        };
        r.error_at(kind, e.location().map(|l| l.line()), msg)
    })?;
    if raw.steps.is_empty() {
        return Err(r.error_at(
            ErrorKind::Validation,
            steps_line(r),
            "a playbook needs at least one step",
        ));
    }
    let lines = step_lines(r, raw.steps.len());
    let mut steps = raw.steps;
    for (i, s) in steps.iter_mut().enumerate() {
        s.index = i;
        s.line = lines.get(i).copied().flatten().and_then(|l| r.template_line(l));
    }
    let err = |s: &Step, msg: String| {
        PlaybookError::new(
            ErrorKind::Validation,
            &r.file,
            format!("step {} ({}): {msg}", s.index + 1, s.kind.name()),
        )
        .at(s.line, None)
        .with_source_line(&r.source)
    };
    let mut earlier: Vec<&str> = Vec::new();
    for s in &steps {
        if let Some(id) = &s.id {
            if !crate::vars::is_identifier(id) {
                return Err(err(
                    s,
                    format!(
                        "id `{id}` must be letters, digits and _ (not starting with a digit), so `steps.{id}.FIELD` parses"
                    ),
                ));
            }
            if earlier.contains(&id.as_str()) {
                return Err(err(s, format!("id `{id}` is used twice")));
            }
        }
        s.kind.validate().map_err(|m| err(s, m))?;
        for (step, path) in references(s).map_err(|m| err(s, m))? {
            if !earlier.contains(&step.as_str()) {
                let later = steps
                    .iter()
                    .any(|o| o.id.as_deref() == Some(step.as_str()) && o.index >= s.index);
                let why = if later {
                    "is not an earlier step (outputs exist only once a step has run)"
                } else {
                    "is not a step id"
                };
                return Err(err(
                    s,
                    format!(
                        "`steps.{step}.{}`: `{step}` {why}; earlier step ids: {}",
                        path.join("."),
                        list_or_none(&earlier)
                    ),
                ));
            }
        }
        if let Some(id) = &s.id {
            earlier.push(id);
        }
    }
    Ok(Playbook {
        name: raw.name,
        description: raw.description,
        vars: r.vars.clone(),
        steps,
        file: r.file.clone(),
    })
}

/// Every (step id, field path) a step refers to: `{{ steps.… }}` in its
/// strings, and paths in an assert expression.
fn references(s: &Step) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut refs: Vec<StepRef> = Vec::new();
    let v = serde_json::to_value(&s.kind).map_err(|e| e.to_string())?;
    refs_in_value(&v, &mut refs)?;
    let mut out: Vec<_> = refs.into_iter().map(|r| (r.step, r.path)).collect();
    if let StepKind::Assert(a) = &s.kind
        && let Ok(e) = crate::expr::parse(&a.that)
    {
        out.extend(e.paths());
    }
    Ok(out)
}

fn is_data_error(msg: &str) -> bool {
    [
        "unknown field",
        "missing field",
        "invalid type",
        "unknown variant",
        "invalid value",
        "step",
        "read_data",
        "duplicate field",
    ]
    .iter()
    .any(|w| msg.contains(w))
}

fn steps_line(r: &Rendered) -> Option<usize> {
    let lines: Vec<&str> = r.text.lines().collect();
    top_level_block(&lines, "steps").map(|(s, _)| s + 1)
}

/// Rendered line (1-based) where each block-style list item under
/// `steps:` starts; empty when the layout is not the usual one.
fn step_lines(r: &Rendered, count: usize) -> Vec<Option<usize>> {
    let lines: Vec<&str> = r.text.lines().collect();
    let Some((start, end)) = top_level_block(&lines, "steps") else { return Vec::new() };
    let items: Vec<(usize, usize)> = (start + 1..end)
        .filter_map(|i| {
            let l = lines[i];
            let indent = l.len() - l.trim_start().len();
            let t = l.trim_start();
            (t == "-" || t.starts_with("- ")).then_some((i, indent))
        })
        .collect();
    let Some(min) = items.iter().map(|(_, ind)| *ind).min() else { return Vec::new() };
    let starts: Vec<Option<usize>> =
        items.iter().filter(|(_, ind)| *ind == min).map(|(i, _)| Some(i + 1)).collect();
    if starts.len() == count { starts } else { vec![None; count] }
}
