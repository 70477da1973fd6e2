//! The command line, as clap parses it. Nothing here is interpreted: [`crate::settings`]
//! resolves these flags together with the config file and defaults.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// ardent — accounts-receivable analytics and risk scoring on ERP exports.
#[derive(Debug, Parser)]
#[command(name = "ardent", version, long_about = None, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Worker threads for ardent's parallel stages (default: all cores). polars reads
    /// POLARS_MAX_THREADS.
    #[arg(long, global = true, env = "ARDENT_THREADS", hide_env_values = true)]
    pub threads: Option<usize>,

    /// Diagnostics on stderr: `text` (with a progress bar on a terminal) or `json` (one
    /// object per line, ending with a `run_summary` event).
    #[arg(long, global = true, value_enum, default_value = "text", env = "ARDENT_LOG_FORMAT")]
    pub log_format: LogFormatArg,

    /// Only warnings and errors on stderr: no progress notes and no progress bar (what a
    /// command prints on stdout, and `run_summary` in JSON mode, stay).
    #[arg(long, short, global = true, env = "ARDENT_QUIET")]
    pub quiet: bool,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

/// Exit codes, shown in `--help` and the README.
pub const EXIT_CODES: &str = "Exit codes:
  0  success
  1  internal error (a bug in ardent; please report it)
  2  config or usage error (unknown key, bad value, bad flag)
  3  missing input (a configured file, folder or glob matches nothing)
  4  data error (unreadable file, missing required column, wrong date or number format)
  5  data quality: more rows rejected than run.max_rejected_share allows; nothing published
  6  I/O error (permission denied, disk full, object store unreachable) while reading or writing
  7  verify: the published output does not match its manifest or contracts
  8  another run is writing the same output (it holds the write lock); retry later";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate a seeded synthetic AR export set (customers, ledger, payments, fx_rates).
    Generate(GenerateArgs),
    /// Check the config and every input without writing anything.
    Validate(PipelineArgs),
    /// Ingest and validate the inputs, build the dashboards, train and score the models, and
    /// publish every table to --out.
    Run(RunArgs),
    /// Train delinquency models on your own feature table (CSV or Parquet).
    Train(TrainArgs),
    /// Score a feature table with a model saved by `run` or `train`.
    Score(ScoreArgs),
    /// Print the contract of every input and output table and the validation rules.
    Schema(SchemaArgs),
    /// Check a published output: files match the manifest, schemas match the contracts,
    /// input counts add up, reconciliation passed.
    Verify(VerifyArgs),
    /// Write the report of a published output: one self-contained HTML page (KPIs and
    /// trends, aging, roll-forward, roll rates, cohorts, overdue customers, the worklist, data
    /// quality, the model). Every run also publishes its own report.html.
    Report(ReportArgs),
    /// Rebuild dashboard tables from a published run's validated tables and cash application
    /// (no ingest, no cash application), e.g. with other aging buckets:
    /// `ardent analytics ardent-out --to rebuilt --set analytics.bucket_edges=[0,30,60,90]`.
    Analytics(AnalyticsArgs),
    /// One step of a run split by customer across machines (docs/scale-out.md): `validate`
    /// once, `split` into N shards, `run` each shard (anywhere), `merge` and publish. The
    /// published tables equal those of `ardent run`. The Ray driver in `pipelines/ray/` runs
    /// the steps as tasks.
    #[command(subcommand)]
    Shard(ShardStep),
    /// Look at an unknown export (CSV, XLSX, JSON, Parquet): its layout, column roles, date
    /// and number formats, types, signs and links, the ready profile it matches, and a config
    /// for it on stdout (`ardent inspect FILE > export.toml`).
    Inspect(InspectArgs),
}

/// The steps of a sharded run.
#[derive(Debug, Subcommand)]
pub enum ShardStep {
    /// Ingest and validate every input once, for all shards (ids must be unique across the
    /// whole export): publishes the validated tables to WORK/validated, and with --shards N
    /// cuts them into N shards on the way.
    Validate(ShardValidateArgs),
    /// Cut the validated tables into N shards by customer (a stable hash of the customer id).
    Split(ShardSplitArgs),
    /// Cash application, aging, payment statistics and the dashboards' partial sums of one
    /// shard.
    Run(ShardRunArgs),
    /// The rows of one shard's feature panels that the models train and are tested on (the
    /// split decided on every shard's counts, as one machine decides it).
    Draw(ShardRunArgs),
    /// Train the models once on every shard's drawn rows: model tables, artifacts, champions.
    Train(ShardTrainArgs),
    /// Score one shard's customers and open invoices with the champions.
    Score(ShardRunArgs),
    /// Add the shards' partial sums, put their per-customer tables in order, and publish the
    /// run to --out, atomically, like `ardent run`.
    Merge(ShardMergeArgs),
}

#[derive(Debug, Args)]
pub struct ShardValidateArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Work folder shared by every step (on a cluster: a shared file system).
    #[arg(long)]
    pub work: PathBuf,
    /// Also cut the validated rows into this many shards as they are validated (then `split`
    /// with the same N has nothing left to do).
    #[arg(long)]
    pub shards: Option<u32>,
}

/// What every step after validation is given: the pipeline, the work folder and N.
#[derive(Debug, Clone, Args)]
pub struct ShardWork {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Work folder shared by every step.
    #[arg(long)]
    pub work: PathBuf,
    /// Number of shards.
    #[arg(long)]
    pub shards: u32,
}

#[derive(Debug, Args)]
pub struct ShardSplitArgs {
    #[command(flatten)]
    pub step: ShardWork,
}

#[derive(Debug, Args)]
pub struct ShardRunArgs {
    #[command(flatten)]
    pub step: ShardWork,
    /// The shard to run, 0 to N − 1.
    #[arg(long)]
    pub shard: u32,
}

#[derive(Debug, Args)]
pub struct ShardTrainArgs {
    #[command(flatten)]
    pub step: ShardWork,
}

#[derive(Debug, Args)]
pub struct ShardMergeArgs {
    #[command(flatten)]
    pub step: ShardWork,
    /// Output location: a folder or an object-store URL (s3://bucket/prefix, gs://, az://).
    #[arg(long, short, env = "ARDENT_OUT")]
    pub out: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The export file.
    pub file: PathBuf,
}

/// Size presets of the generator.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PresetArg {
    /// about 1k customers, 24 months
    S,
    /// about 50k customers, 36 months, about 2M invoices
    M,
    /// about 500k customers, 36 months, about 20M invoices
    L,
}

/// Output formats of the generator.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Csv,
    Parquet,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Folder to write the exports to (created if needed).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Size preset.
    #[arg(long, value_enum, default_value = "s")]
    pub preset: PresetArg,
    /// Number of customers (overrides the preset).
    #[arg(long)]
    pub customers: Option<u32>,
    /// Months of history (overrides the preset).
    #[arg(long)]
    pub months: Option<u32>,
    /// Last day of the history (YYYY-MM-DD).
    #[arg(long, default_value = "2025-12-31")]
    pub end: chrono::NaiveDate,
    /// Random seed: the same seed and size give byte-identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// File format of the exports.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: FormatArg,
    /// Inject this share of malformed rows (e.g. 0.02), listed in truth/injected.csv.
    #[arg(long, default_value_t = 0.0)]
    pub dirty: f64,
    /// Also write a collections activities log (calls, emails, letters, promises) with
    /// injected compliance violations listed in truth/compliance_violations.csv.
    #[arg(long)]
    pub activities: bool,
    /// With --activities: how often collectors work an account, relative to the default
    /// (every 3 to 6 days); 3 writes about three times the activities.
    #[arg(long, default_value_t = 1.0)]
    pub activity_rate: f64,
    /// Write the ledger and payments as one ERP export in this layout (the profile of the
    /// same name in pipelines/configs/sources/ reads it): sap_fbl5n,
    /// sap_s4_journal_entry_items, dynamics_bc_ledger_entries, netsuite_ar_register,
    /// odoo_journal_items, quickbooks_transactions, erpnext_general_ledger, invoice_register;
    /// or as an aging report of the items open at the last month end:
    /// quickbooks_ar_aging_detail, xero_aged_receivables_detail.
    #[arg(long, value_parser = shape_name)]
    pub shape: Option<String>,
}

fn shape_name(s: &str) -> Result<String, String> {
    match ardent_sample::shapes::Shape::parse(s) {
        Some(_) => Ok(s.to_string()),
        None => Err(format!(
            "unknown shape; one of: {}",
            ardent_sample::shapes::Shape::ALL
                .iter()
                .chain(&ardent_sample::shapes::Shape::REPORTS)
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    /// Pipeline config (TOML). Default: the bundled sample pipeline.
    #[arg(long, short, env = "ARDENT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Override run.max_rejected_share (0–1).
    #[arg(long)]
    pub max_rejected_share: Option<f64>,
    /// Set any config key, e.g. `--set models.enabled=false` or
    /// `--set inputs.ledger.path=s3://bucket/ledger/` (repeatable; after the environment's
    /// `ARDENT_<SECTION>__<KEY>` variables).
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Print the resolved settings (defaults < config file < environment < flags) and exit.
    #[arg(long)]
    pub show_settings: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Output location: a folder or an object-store URL (s3://bucket/prefix, gs://, az://).
    #[arg(long, short, env = "ARDENT_OUT")]
    pub out: Option<String>,
}

/// Learners.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LearnerArg {
    Logistic,
    Scorecard,
    Gbdt,
}

/// Which columns of a feature table play which role.
#[derive(Debug, Args)]
pub struct TableArgs {
    /// The feature table: .csv with a header row, .parquet, or a Delta table folder (such as a
    /// published `ardent-out/features`, read at its latest version).
    #[arg(long)]
    pub table: PathBuf,
    /// Column that identifies the entity (customer); folds never split one.
    #[arg(long)]
    pub id_column: Option<String>,
    /// Column with a segment per row (one model per segment is trained too).
    #[arg(long)]
    pub segment_column: Option<String>,
    /// A spelling of a missing value in a CSV table (repeat the flag for several), besides
    /// the empty field, NA, N/A, NaN, null, None, -, ?, #N/A, #NA and . (case ignored).
    #[arg(long = "null-value")]
    pub null_values: Vec<String>,
    /// A numeric column to read as categorical (codes such as 1–5 that are not quantities;
    /// repeat the flag for several). Text columns are categorical already.
    #[arg(long = "categorical")]
    pub categorical: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub table: TableArgs,
    /// The outcome column: any two values (true/false, 0/1, good/bad …); the rarer one is the
    /// positive class unless --positive names it.
    #[arg(long)]
    pub label: String,
    /// The label's value that is the positive class (the event the model predicts, e.g.
    /// `bad`); every other value is the negative class.
    #[arg(long)]
    pub positive: Option<String>,
    /// Column with each row's observation date (YYYY-MM-DD or a date type).
    #[arg(long)]
    pub time_column: Option<String>,
    /// Rows dated on or after this are the out-of-time sample (default: the last
    /// `models.oot_months` dates; without a time column, a seeded 20% of ids).
    #[arg(long)]
    pub oot_from: Option<chrono::NaiveDate>,
    /// Train only this learner (default: all).
    #[arg(long, value_enum)]
    pub model: Option<LearnerArg>,
    /// Pipeline config whose `[models]` section sets the parameters.
    #[arg(long, short, env = "ARDENT_CONFIG")]
    pub config: Option<PathBuf>,
    /// Folder for the model folders.
    #[arg(long, short, default_value = "ardent-models")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// A model folder (holding model.json) written by `ardent run` or `ardent train`.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub table: TableArgs,
    /// Where to write the scores (.parquet or .csv).
    #[arg(long, short, default_value = "scores.parquet")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print only this table (input or output name, or `rules`).
    pub table: Option<String>,
    /// `text` to read, or `json` for tools: every table with its columns (name, type,
    /// nullable, doc) and every validation rule.
    #[arg(long, value_enum, default_value = "text")]
    pub format: SchemaFormat,
}

/// `ardent schema --format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The published output: a folder or an object-store URL (default: ./ardent-out).
    #[arg(default_value = "ardent-out", env = "ARDENT_OUT")]
    pub out: String,
    /// Where to write the page.
    #[arg(long = "to", default_value = "report.html")]
    pub to: PathBuf,
}

#[derive(Debug, Args)]
pub struct AnalyticsArgs {
    /// The published output to read: a folder or an object-store URL (default: ./ardent-out).
    #[arg(default_value = "ardent-out", env = "ARDENT_OUT")]
    pub out: String,
    /// Folder to write the tables to, one Parquet file each (`aging.parquet` holds every as-of
    /// date, with an `as_of` column).
    #[arg(long = "to")]
    pub to: PathBuf,
    /// Tables to build, comma-separated (default: aging, kpi_monthly, cohorts, roll_rates,
    /// customer_payment_stats, reconciliation).
    #[arg(long, value_delimiter = ',')]
    pub tables: Vec<String>,
    /// Change a setting of the run's config, e.g. `--set analytics.bucket_edges=[0,30,60,90]`
    /// (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The output to check: a folder or an object-store URL (default: ./ardent-out).
    #[arg(default_value = "ardent-out", env = "ARDENT_OUT")]
    pub out: String,
}
