//! The command line (DESIGN.md section 9). Help text teaches; names and
//! meanings are the contract scripts rely on.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const AFTER_HELP: &str = "\
Databases (--db): local:///path | chroma+http://host:8000 | milvus+http://host:19530 |
  qdrant+http://host:6333 | weaviate+http://host:8080 | pinecone+https://index-host |
  faiss:///dir | a name from the config file
Repositories (--repo, VDR_REPO): fs:///path | s3://bucket/prefix?endpoint=..&region=.. |
  gs://bucket/prefix | az://container/prefix | a name from the config file

Secrets never go on the command line: VDR_IDENTITY (age identity file),
VDR_PASSPHRASE_FILE, AWS_*, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*.
Exit codes: 0 ok, 1 operation failed, 2 usage/configuration, 3 verification failed.

Quick start (no server needed):
  vdr collection create --db local://./store --collection docs --sample 10000 --dim 384
  vdr init --repo fs://./repo --recipient \"$(age-keygen -y key.txt)\"
  VDR_IDENTITY=key.txt vdr backup --repo fs://./repo --db local://./store
  vdr playbook run templates/drill.yaml.tera";

#[derive(Parser, Debug)]
#[command(
    name = "vdr",
    version,
    about = "Disaster recovery for vector databases: encrypted, deduplicated backups, verified restores, replication and drills.",
    after_help = AFTER_HELP
)]
pub struct Cli {
    /// Config file with named databases, repositories and plugin limits.
    #[arg(long, global = true, env = "VDR_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Extra directory of plugin components (NAME.wasm); repeatable. Also VDR_PLUGIN_PATH (colon-separated).
    #[arg(long = "plugin-dir", global = true, value_name = "DIR")]
    pub plugin_dirs: Vec<PathBuf>,
    /// Print one JSON document on stdout and nothing else there.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr; no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// age identity file (X25519 or SSH private key) that opens the repository.
    #[arg(long = "identity", global = true, env = "VDR_IDENTITY", value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Write Prometheus metrics of this run to FILE at exit (node_exporter textfile collector).
    #[arg(long = "metrics-file", global = true, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List and inspect plugins (embedded and from the plugin path).
    #[command(subcommand)]
    Plugin(PluginCmd),
    /// Create, inspect, search, change and drop collections in any database.
    #[command(subcommand)]
    Collection(CollectionCmd),
    /// Create a new encrypted repository.
    Init(InitArgs),
    /// Manage the keys that open a repository.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Back up collections of a database into the repository (one snapshot).
    Backup(BackupArgs),
    /// List the snapshots in a repository.
    Snapshots(SnapshotsArgs),
    /// Restore a snapshot into a database (same or another engine).
    Restore(RestoreArgs),
    /// Check a live database against a snapshot: counts, schema, content, recall, latency.
    Verify(VerifyArgs),
    /// Check the repository's structure, and optionally read the data back.
    Check(CheckArgs),
    /// Remove snapshots by a retention policy.
    Forget(ForgetArgs),
    /// Delete data no snapshot references.
    Prune(RepoOnly),
    /// Remove stale locks.
    Unlock(UnlockArgs),
    /// Render or run a recovery playbook (Tera template -> YAML steps).
    #[command(subcommand)]
    Playbook(PlaybookCmd),
    /// Replicate a leader database into a follower.
    Replicate(ReplicateArgs),
    /// Run schedules and serve /metrics and /healthz.
    Serve(ServeArgs),
    /// Terraform external data source: JSON query on stdin, JSON result on stdout.
    Terraform(TerraformArgs),
    /// Print performance figures (plugin boundary, instantiate, repository).
    Bench(BenchArgs),
}

#[derive(Subcommand, Debug)]
pub enum PluginCmd {
    /// Every available plugin with its kind, version and contract.
    List,
    /// A plugin's manifest: limits and declared capabilities.
    Inspect {
        /// Plugin name, or a path to a .wasm component.
        name: String,
    },
}

#[derive(Args, Debug, Clone)]
pub struct DbArg {
    /// Database URL or configured name (see `vdr --help`).
    #[arg(long, value_name = "DB")]
    pub db: String,
}

#[derive(Args, Debug, Clone)]
pub struct DbCollection {
    #[command(flatten)]
    pub db: DbArg,
    /// Collection name.
    #[arg(long, short = 'c')]
    pub collection: String,
}

#[derive(Subcommand, Debug)]
pub enum CollectionCmd {
    /// Create a collection; with --sample, fill it with realistic clustered vectors and payloads.
    Create(CreateArgs),
    /// Collections in the database.
    List(DbArg),
    /// Exact number of records.
    Count(DbCollection),
    /// Nearest neighbours of a record's vector or of a given vector.
    Search(SearchArgs),
    /// Drop a collection and everything in it.
    Drop(DbCollection),
    /// Change a fraction of the records (vectors and payloads), for incremental-backup tests.
    Mutate(MutateArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    #[command(flatten)]
    pub target: DbCollection,
    /// Fill with N sample records (clustered vectors with payloads).
    #[arg(long, value_name = "N")]
    pub sample: Option<u64>,
    /// Vector dimension.
    #[arg(long, default_value_t = 384)]
    pub dim: u32,
    /// Distance metric: cosine, euclidean (l2), dot (ip).
    #[arg(long, default_value = "cosine")]
    pub metric: String,
    /// Seed of the sample generator (same seed, same data).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also give every record a sparse vector named "sparse".
    #[arg(long)]
    pub sparse: bool,
    /// Also give every record a multi-vector named "multi" (4 x 16).
    #[arg(long)]
    pub multi: bool,
    /// Use string (UUID-like) ids instead of integers.
    #[arg(long)]
    pub string_ids: bool,
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    #[command(flatten)]
    pub target: DbCollection,
    /// Dense vector field ("" for the default vector).
    #[arg(long, default_value = "")]
    pub vector: String,
    /// Search with the vector of this record id.
    #[arg(long, conflicts_with = "query")]
    pub query_id: Option<String>,
    /// Search with this vector: comma-separated floats.
    #[arg(long)]
    pub query: Option<String>,
    #[arg(short, long, default_value_t = 10)]
    pub k: u32,
}

#[derive(Args, Debug)]
pub struct MutateArgs {
    #[command(flatten)]
    pub target: DbCollection,
    /// Fraction of records to change, 0..=1.
    #[arg(long)]
    pub fraction: f64,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

#[derive(Args, Debug, Clone)]
pub struct RepoArg {
    /// Repository URL or configured name.
    #[arg(long, env = "VDR_REPO", value_name = "REPO")]
    pub repo: String,
}

#[derive(Args, Debug)]
pub struct RepoOnly {
    #[command(flatten)]
    pub repo: RepoArg,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    #[command(flatten)]
    pub repo: RepoArg,
    /// age recipient (age1..., ssh-ed25519 ..., ssh-rsa ...) that may open the repository; repeatable.
    #[arg(long = "recipient", value_name = "RECIPIENT")]
    pub recipients: Vec<String>,
    /// File of recipients, one per line (# comments allowed).
    #[arg(long, value_name = "FILE")]
    pub recipients_file: Option<PathBuf>,
    /// zstd level for data (1-19; incompressible chunks are stored raw).
    #[arg(long, default_value_t = 3)]
    pub compression: i32,
}

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Add a key for recipients (or for the passphrase in VDR_PASSPHRASE_FILE).
    Add {
        #[command(flatten)]
        repo: RepoArg,
        #[arg(long = "recipient", value_name = "RECIPIENT")]
        recipients: Vec<String>,
        #[arg(long, value_name = "FILE")]
        recipients_file: Option<PathBuf>,
    },
    /// Keys of the repository.
    List {
        #[command(flatten)]
        repo: RepoArg,
    },
    /// Remove a key (never the last one).
    Remove {
        #[command(flatten)]
        repo: RepoArg,
        /// Key id (or unique prefix).
        id: String,
    },
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    pub repo: RepoArg,
    #[command(flatten)]
    pub db: DbArg,
    /// Collection to back up; repeatable; all collections when absent.
    #[arg(long = "collection", short = 'c')]
    pub collections: Vec<String>,
    /// Tag for the snapshot; repeatable.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Golden queries recorded for verification (0 disables the baseline).
    #[arg(long, default_value_t = 100)]
    pub golden_queries: usize,
    /// k of the golden queries' ground truth.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Export every record, even where the database's change feed (the
    /// `local` store has one) could say what changed since the last snapshot.
    #[arg(long)]
    pub full: bool,
}

#[derive(Args, Debug)]
pub struct SnapshotsArgs {
    #[command(flatten)]
    pub repo: RepoArg,
    /// Only snapshots holding this collection.
    #[arg(long, short = 'c')]
    pub collection: Option<String>,
    /// Read the repository as it stood at TIME (RFC 3339, or `YYYY-MM-DD HH:MM:SS` UTC)
    /// from object versions: the backstop when objects were deleted or overwritten since.
    #[arg(long, value_name = "TIME")]
    pub point_in_time: Option<String>,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// Snapshot id (or unique prefix), or `latest`.
    pub snapshot: String,
    #[command(flatten)]
    pub repo: RepoArg,
    #[command(flatten)]
    pub db: DbArg,
    /// Restore only this collection.
    #[arg(long, short = 'c')]
    pub collection: Option<String>,
    /// Restore the collection under this name.
    #[arg(long = "as", requires = "collection", value_name = "NEW")]
    pub as_name: Option<String>,
    /// Replace an existing non-empty collection.
    #[arg(long)]
    pub force: bool,
    /// Read and check everything, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Read the repository as it stood at TIME (RFC 3339, or `YYYY-MM-DD HH:MM:SS` UTC)
    /// from object versions: the backstop when objects were deleted or overwritten since.
    #[arg(long, value_name = "TIME")]
    pub point_in_time: Option<String>,
    #[command(flatten)]
    pub mapping: MappingArgs,
}

/// How a snapshot maps onto an engine that holds less (one vector per
/// collection, no sparse or multi vectors); see `mapping.rs`.
#[derive(Args, Debug, Clone, Default)]
pub struct MappingArgs {
    /// The snapshot's dense vector that becomes the target's vector (the others are dropped).
    #[arg(long, value_name = "NAME")]
    pub vector: Option<String>,
    /// Drop sparse and multi vectors the target cannot hold instead of failing.
    #[arg(long)]
    pub drop_unsupported_vectors: bool,
}

impl MappingArgs {
    pub fn options(&self) -> crate::mapping::MappingOptions {
        crate::mapping::MappingOptions {
            vector: self.vector.clone(),
            drop_unsupported: self.drop_unsupported_vectors,
        }
    }
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Snapshot id (or unique prefix), or `latest`.
    pub snapshot: String,
    #[command(flatten)]
    pub repo: RepoArg,
    #[command(flatten)]
    pub db: DbArg,
    #[arg(long, short = 'c')]
    pub collection: Option<String>,
    /// The collection in the database has this name (after `restore --as`).
    #[arg(long = "as", value_name = "NAME")]
    pub as_name: Option<String>,
    /// Fail (exit 3) when recall@k on the golden queries is below this.
    #[arg(long, default_value_t = 0.9)]
    pub min_recall: f64,
    /// Compare content of this many sampled records (0: all).
    #[arg(long, default_value_t = 0)]
    pub sample: usize,
    /// Absolute tolerance for vector components (engines that round, e.g. cosine spaces).
    #[arg(long, default_value_t = 1e-5)]
    pub tolerance: f32,
    /// Fail when the restored p95 latency exceeds the baseline by this factor (0: do not check).
    #[arg(long, default_value_t = 0.0)]
    pub max_latency_factor: f64,
    /// Read the repository as it stood at TIME (RFC 3339, or `YYYY-MM-DD HH:MM:SS` UTC)
    /// from object versions: the backstop when objects were deleted or overwritten since.
    #[arg(long, value_name = "TIME")]
    pub point_in_time: Option<String>,
    /// The same mapping the restore used (`--vector`, `--drop-unsupported-vectors`).
    #[command(flatten)]
    pub mapping: MappingArgs,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    #[command(flatten)]
    pub repo: RepoArg,
    /// Read, decrypt and hash every blob.
    #[arg(long)]
    pub read_data: bool,
    /// Read a subset: `N%` of packs, or `n/t` (the n-th of t slices).
    #[arg(long, value_name = "N%|n/t", conflicts_with = "read_data")]
    pub read_data_subset: Option<String>,
    /// Read the repository as it stood at TIME (RFC 3339, or `YYYY-MM-DD HH:MM:SS` UTC)
    /// from object versions: the backstop when objects were deleted or overwritten since.
    #[arg(long, value_name = "TIME")]
    pub point_in_time: Option<String>,
}

#[derive(Args, Debug)]
pub struct ForgetArgs {
    #[command(flatten)]
    pub repo: RepoArg,
    #[arg(long)]
    pub keep_last: Option<u32>,
    #[arg(long)]
    pub keep_hourly: Option<u32>,
    #[arg(long)]
    pub keep_daily: Option<u32>,
    #[arg(long)]
    pub keep_weekly: Option<u32>,
    #[arg(long)]
    pub keep_monthly: Option<u32>,
    #[arg(long)]
    pub keep_yearly: Option<u32>,
    /// Keep every snapshot younger than this (e.g. 7d, 12h, 2w).
    #[arg(long, value_name = "DURATION")]
    pub keep_within: Option<String>,
    /// Only consider snapshots with this tag; repeatable.
    #[arg(long = "tag")]
    pub tags: Vec<String>,
    /// Also prune unreferenced data afterwards.
    #[arg(long)]
    pub prune: bool,
    /// Say what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct UnlockArgs {
    #[command(flatten)]
    pub repo: RepoArg,
    /// Remove every lock, not only stale ones.
    #[arg(long)]
    pub remove_all: bool,
}

#[derive(Subcommand, Debug)]
pub enum PlaybookCmd {
    /// Print the rendered, validated playbook.
    Render(PlaybookArgs),
    /// Run a playbook and write its reports.
    Run(PlaybookArgs),
}

#[derive(Args, Debug)]
pub struct PlaybookArgs {
    /// Playbook template (Tera, rendering to YAML).
    pub file: PathBuf,
    /// Template variable; repeatable.
    #[arg(long = "var", value_name = "K=V")]
    pub vars: Vec<String>,
    /// YAML or JSON file of variables.
    #[arg(long, value_name = "FILE")]
    pub vars_file: Option<PathBuf>,
    /// Where reports go (JSON, JUnit XML, Markdown).
    #[arg(long, default_value = "vdr-reports", value_name = "DIR")]
    pub report_dir: PathBuf,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("leader").required(true).args(["from", "from_repo"])))]
pub struct ReplicateArgs {
    /// Leader database.
    #[arg(long)]
    pub from: Option<String>,
    /// Replicate through a repository instead (log shipping): apply each new
    /// snapshot to the follower, reading only the chunks that changed.
    #[arg(long, value_name = "REPO", conflicts_with_all = ["from", "tolerance", "promote"])]
    pub from_repo: Option<String>,
    /// Follower database.
    #[arg(long)]
    pub to: String,
    #[arg(long = "collection", short = 'c')]
    pub collections: Vec<String>,
    /// Time between anti-entropy rounds in continuous mode (30s, 5m; a bare number is seconds).
    #[arg(long, default_value = "30s")]
    pub interval: String,
    /// Run a single round and exit.
    #[arg(long)]
    pub once: bool,
    /// Stop replicating into the follower for good and report its state (failover).
    #[arg(long, conflicts_with = "once")]
    pub promote: bool,
    /// Where the follower's replication state lives (default .vdr/replicate/<hash of from
    /// or from-repo, to>).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Absolute tolerance for vector components of records that differ bit-wise (engines
    /// that round, e.g. cosine spaces); 0 compares exactly. Default: 0 between two databases
    /// of the same engine, 1e-5 across engines.
    #[arg(long)]
    pub tolerance: Option<f32>,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address of /metrics and /healthz (loopback unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub listen: String,
    /// Schedules file (YAML): jobs with a cron expression (or `every: 30s`).
    #[arg(long)]
    pub schedules: Option<PathBuf>,
    /// Allow a non-loopback --listen address (metrics carry no secrets, but do say what exists).
    #[arg(long)]
    pub allow_remote: bool,
    /// How long shutdown waits for running jobs to finish.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub shutdown_timeout: String,
}

#[derive(Args, Debug)]
pub struct TerraformArgs {
    /// latest-snapshot | snapshot | repository | plan-restore
    pub operation: String,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// boundary | instantiate | all
    #[arg(default_value = "all")]
    pub what: String,
    /// Records per batch for the boundary benchmark.
    #[arg(long, default_value_t = 10_000)]
    pub records: usize,
    #[arg(long, default_value_t = 768)]
    pub dim: usize,
}
