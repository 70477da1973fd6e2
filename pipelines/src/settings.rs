//! Resolving what a command runs with: defaults < config file < environment (`ARDENT_*`,
//! through clap) < flags. [`PipelineConfig`] is the TOML file as written (unknown keys are
//! errors that name the file and line); [`Settings`] is the resolved, checked result.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ardent_engine::analytics::{Analysis, AnalyticsParams};
use ardent_engine::contracts::InputKind;
use ardent_engine::ingest::source::SourceParams;
use ardent_engine::ingest::{IngestSpec, InputParams};
use ardent_models::params::{TrainParams, Training};
use serde::{Deserialize, Serialize};

use crate::location::{Location, Remote};

pub use crate::config_error::ConfigError;

/// A pipeline config file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Run-wide settings.
    #[serde(default)]
    pub run: RunConfig,
    /// The exports to read.
    #[serde(default)]
    pub inputs: InputsConfig,
    /// Combined exports whose rows are routed to the ledger and payments (`[sources.<name>]`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub sources: std::collections::BTreeMap<String, SourceParams>,
    /// Snapshot dates, aging buckets, DSO, CEI and segment parameters.
    #[serde(default)]
    pub analytics: AnalyticsParams,
    /// The expected credit loss allowance: lookback and forward-looking scenarios.
    #[serde(default)]
    pub ecl: ardent_engine::analytics::ecl::EclParams,
    /// The 13-week cash forecast: lookback, simulated futures, backtest.
    #[serde(default)]
    pub cash_forecast: ardent_engine::analytics::cash_forecast::CashForecastParams,
    /// Early-warning thresholds.
    #[serde(default)]
    pub alerts: ardent_engine::analytics::alerts::AlertsParams,
    /// The compliance audit of the activities (contact hours, call frequency, cease requests,
    /// validation notices, limitation periods). Left out of the written config when not set,
    /// so configs without it name their runs as before.
    #[serde(default, skip_serializing_if = "is_default")]
    pub compliance: ardent_engine::collections::audit::ComplianceParams,
    /// The collections KPIs: promise grace, cash credited after contact, cure window, costs
    /// per channel. Left out of the written config when not set.
    #[serde(default, skip_serializing_if = "is_default")]
    pub collections: ardent_engine::collections::kpi::CollectionsParams,
    /// Labels, learners, validation, calibration and scoring of the delinquency models.
    #[serde(default)]
    pub models: TrainParams,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// `[run]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// ISO 4217 code every amount is reported in. Default: USD.
    pub reporting_currency: Option<String>,
    /// Largest share of an input's rows that may be rejected before the run fails and
    /// publishes nothing. Default: 0.01.
    pub max_rejected_share: Option<f64>,
    /// Days an FX rate stays valid after its date (covers weekends and holidays). Default: 7.
    pub max_rate_age_days: Option<u16>,
    /// Output location: a folder (relative to the current directory) or an object-store
    /// URL (`s3://bucket/prefix`, `gs://…`, `az://…`). Default: ./ardent-out.
    pub out: Option<String>,
    /// Stages to run after ingest, in order: `"analytics"` (cash application, snapshots,
    /// dashboards, reconciliation) and `"models"` (needs analytics). Ingest and publish always
    /// run; `["ingest"]` alone lands validated canonical tables only. Default: all.
    pub stages: Option<Vec<Stage>>,
    /// Incremental mode: every file at an input's location is an export batch; batches are
    /// recorded by checksum in `run.state`, a run without a new batch publishes nothing, and
    /// a later export of a ledger document or customer replaces the earlier one. Default
    /// false.
    pub incremental: Option<bool>,
    /// The state folder of incremental runs (a local folder; relative to the current
    /// directory). Default: `<out>/_state` for a local output.
    pub state: Option<String>,
    /// Published runs kept in `runs/` (the current one and those before it, so a reader
    /// still holding an older manifest can finish). At least 1. Default: 2.
    pub keep_runs: Option<usize>,
    /// Rows read, validated and written at a time. Ingest holds a few chunks at once, so a
    /// smaller value lowers peak memory a little at some cost in speed. At least 1.
    /// Default: 262144.
    pub chunk_rows: Option<usize>,
    /// How tables are published: `"delta"` (a Delta Lake table per output at a stable path,
    /// `<out>/<table>/`, one commit per table per run) or `"parquet"` (plain files in the run
    /// folder, linked from `<out>/<table>.parquet` locally). Default: `"delta"`.
    pub table_format: Option<TableFormat>,
}

/// How the output tables are published (`run.table_format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableFormat {
    /// A Delta Lake table per output table at `<out>/<table>/`.
    #[default]
    Delta,
    /// Plain Parquet files in the run folder `runs/<run_id>/`.
    Parquet,
}

impl TableFormat {
    /// The config value.
    pub fn name(self) -> &'static str {
        match self {
            TableFormat::Delta => "delta",
            TableFormat::Parquet => "parquet",
        }
    }
}

/// A stage that `run.stages` can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Ingest,
    Analytics,
    Models,
}

/// `[inputs.*]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputsConfig {
    pub ledger: Option<InputParams>,
    pub payments: Option<InputParams>,
    pub customers: Option<InputParams>,
    pub fx_rates: Option<InputParams>,
    /// The collections / CRM activity log (optional; enables the collections tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activities: Option<InputParams>,
}

/// Default of `run.reporting_currency`.
pub const DEFAULT_REPORTING_CURRENCY: &str = "USD";
/// Default of `run.max_rejected_share`.
pub const DEFAULT_MAX_REJECTED_SHARE: f64 = 0.01;
/// Default of `run.max_rate_age_days`.
pub const DEFAULT_MAX_RATE_AGE_DAYS: u16 = 7;
/// Default of `run.keep_runs`.
pub const DEFAULT_KEEP_RUNS: usize = 2;
/// Default output folder.
pub const DEFAULT_OUT: &str = "ardent-out";

/// The bundled sample pipeline, used when no config is given: the checkout's own when run
/// from its root (as the README's first command is), else the copy inside the binary, written
/// out once to the user's cache folder (`$XDG_CACHE_HOME/ardent`, else `$HOME/.cache/ardent`,
/// else the system's temporary folder) so that the binary alone runs the demo anywhere.
pub fn bundled_config() -> Result<PathBuf, ConfigError> {
    let here = Path::new("sample-data").join("pipeline.toml");
    if here.is_file() && Path::new("Cargo.toml").is_file() && Path::new("pipelines").is_dir() {
        return Ok(std::env::current_dir().map(|d| d.join(&here)).unwrap_or(here));
    }
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let root = var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("ardent");
    ardent_sample::bundled::materialise(&root).map_err(|e| {
        ConfigError(format!(
            "no --config given, and the bundled sample cannot be written to {}: {e}; give a pipeline with --config, or set XDG_CACHE_HOME to a folder that can be written",
            root.display()
        ))
    })
}

/// Read and parse a config file.
pub fn load(path: &Path) -> Result<PipelineConfig, ConfigError> {
    parse(path, &read(path)?)
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read the config file {}: {e}", path.display())))
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let span = e.span().map(|s| line_col(text, s.start));
        let at = span.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default();
        ConfigError(format!("{}{at}: {}", path.display(), e.message()))
    })
}

/// One override of a config key from the environment or a `--set` flag.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyOverride {
    /// Dotted key, e.g. `run.max_rejected_share`.
    pub key: String,
    pub value: toml::Value,
    /// Where it came from: `ARDENT_RUN__MAX_REJECTED_SHARE` or `--set`.
    pub source: String,
}

/// Prefix of environment variables that set config keys: `ARDENT_<SECTION>__<KEY>`, with
/// `__` between levels (`ARDENT_INPUTS__LEDGER__PATH`, `ARDENT_MODELS__ENABLED`).
pub const ENV_PREFIX: &str = "ARDENT_";

/// The config keys set in `vars` (the environment), in name order. Variables without `__`
/// (`ARDENT_CONFIG`, `ARDENT_OUT`, `ARDENT_THREADS`, …) belong to flags and are skipped.
pub fn env_overrides(vars: impl IntoIterator<Item = (String, String)>) -> Vec<KeyOverride> {
    let mut found: Vec<KeyOverride> = vars
        .into_iter()
        .filter_map(|(name, raw)| {
            let rest = name.strip_prefix(ENV_PREFIX)?;
            rest.contains("__").then(|| KeyOverride {
                key: rest.split("__").map(str::to_ascii_lowercase).collect::<Vec<_>>().join("."),
                value: parse_value(&raw),
                source: name.clone(),
            })
        })
        .collect();
    found.sort_by(|a, b| a.source.cmp(&b.source));
    found
}

/// Parse a `--set key=value` flag.
pub fn set_override(text: &str) -> Result<KeyOverride, ConfigError> {
    let (key, raw) = text
        .split_once('=')
        .ok_or_else(|| ConfigError(format!("--set {text}: expected KEY=VALUE, e.g. --set models.enabled=false")))?;
    Ok(KeyOverride { key: key.trim().to_string(), value: parse_value(raw.trim()), source: format!("--set {text}") })
}

/// A value as TOML would read it (`0.05`, `false`, `[\"segment\"]`), else the text itself
/// (so `month_end` and `2025-01-31` need no quotes).
fn parse_value(raw: &str) -> toml::Value {
    match toml::from_str::<toml::Table>(&format!("v = {raw}")).ok().and_then(|mut t| t.remove("v")) {
        Some(toml::Value::Datetime(_)) | None => toml::Value::String(raw.to_string()),
        Some(v) => v,
    }
}

/// Set `key` (dotted) in `table`, creating tables on the way.
fn set_key(table: &mut toml::Table, o: &KeyOverride) -> Result<(), ConfigError> {
    let parts: Vec<&str> = o.key.split('.').collect();
    let mut at = table;
    for part in &parts[..parts.len() - 1] {
        let next = at.entry(part.to_string()).or_insert_with(|| toml::Value::Table(Default::default()));
        at = next.as_table_mut().ok_or_else(|| {
            ConfigError(format!("{}: `{}` is a value, not a section, so `{}` cannot be set", o.source, part, o.key))
        })?;
    }
    at.insert(parts[parts.len() - 1].to_string(), o.value.clone());
    Ok(())
}

/// The config file with `overrides` applied in order (later ones win).
pub fn load_with(path: &Path, overrides: &[KeyOverride]) -> Result<PipelineConfig, ConfigError> {
    let text = read(path)?;
    // Checked as written first, so mistakes in the file are reported with their line.
    let config = parse(path, &text)?;
    if overrides.is_empty() {
        return Ok(config);
    }
    let mut table: toml::Table = parse(path, &text)?;
    for o in overrides {
        set_key(&mut table, o)?;
    }
    table.try_into().map_err(|e: toml::de::Error| {
        let sources: Vec<&str> = overrides.iter().map(|o| o.source.as_str()).collect();
        ConfigError(format!("{} with {}: {}", path.display(), sources.join(", "), e.message()))
    })
}

/// A config (e.g. a published run's) with `overrides` applied in order.
pub fn with_overrides(config: &PipelineConfig, overrides: &[KeyOverride]) -> Result<PipelineConfig, ConfigError> {
    let mut table = toml::Table::try_from(config).map_err(|e| ConfigError(format!("the run's config: {e}")))?;
    for o in overrides {
        set_key(&mut table, o)?;
    }
    table.try_into().map_err(|e: toml::de::Error| {
        let sources: Vec<&str> = overrides.iter().map(|o| o.source.as_str()).collect();
        ConfigError(format!("the run's config with {}: {}", sources.join(", "), e.message()))
    })
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Resolved settings of a pipeline command.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config_path: PathBuf,
    pub config: PipelineConfig,
    pub ingest: IngestSpec,
    pub analysis: Analysis,
    pub training: Training,
    pub max_rejected_share: f64,
    pub out: Location,
    pub keep_runs: usize,
    /// How the tables are published.
    pub table_format: TableFormat,
    /// The state folder, when runs are incremental.
    pub state: Option<PathBuf>,
    /// Whether the analytics stage runs.
    pub analytics: bool,
    /// Whether the models stage runs (`run.stages` has it and `models.enabled`).
    pub models: bool,
    /// Config keys set by the environment and `--set`, in the order applied.
    pub overrides: Vec<KeyOverride>,
    /// Inputs at object-store URLs, fetched into local folders before ingest.
    pub remote_inputs: Vec<RemoteInput>,
    /// Holds the local copies of remote inputs for as long as the settings live.
    _fetched: Option<Arc<tempfile::TempDir>>,
}

impl Settings {
    /// The same settings reading `ingest` instead (an incremental run reads its archive).
    pub fn reading(self, ingest: IngestSpec) -> Settings {
        Settings { ingest, ..self }
    }
}

/// An input at an object-store URL and the local folder its files are copied to.
#[derive(Debug, Clone)]
pub struct RemoteInput {
    pub kind: InputKind,
    /// The folder (or file) the URL names, up to any glob.
    pub remote: Remote,
    /// The file-name glob after the last `/`, when the URL has one.
    pub pattern: Option<glob::Pattern>,
    /// The local folder the ingest reads.
    pub local: PathBuf,
}

/// Whether `path` is an object-store URL rather than a local path.
fn is_remote(path: &str) -> bool {
    path.split_once("://").is_some_and(|(scheme, _)| scheme != "file")
}

/// Flags that override the config.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    /// `--set KEY=VALUE` flags, in order.
    pub set: Vec<String>,
    pub max_rejected_share: Option<f64>,
    pub out: Option<String>,
}

/// Resolve defaults < config file < environment < flags and check everything.
pub fn resolve(flags: Overrides) -> Result<Settings, anyhow::Error> {
    // `vars()` would panic on a variable that is not UTF-8; such a variable is no ARDENT_ key.
    let env = std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
    resolve_with_env(flags, env)
}

/// [`resolve`] with the environment given (for tests).
pub fn resolve_with_env(
    flags: Overrides,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, anyhow::Error> {
    let Overrides { config, set, max_rejected_share, out } = flags;
    let config_path = match config {
        Some(c) => c,
        None => bundled_config()?,
    };
    let mut overrides = env_overrides(env);
    for text in &set {
        overrides.push(set_override(text)?);
    }
    // A path typed on the command line or set in the environment is relative to the current
    // folder (as the user sees it), not to the config file's folder as paths in the file are.
    let cwd = std::env::current_dir().unwrap_or_default();
    for o in &mut overrides {
        let parts: Vec<&str> = o.key.split('.').collect();
        let is_path = matches!(parts.as_slice(), ["inputs" | "sources", _, "path"]);
        if let (true, toml::Value::String(p)) = (is_path, &mut o.value)
            && !is_remote(p)
            && Path::new(p.strip_prefix("file://").unwrap_or(p)).is_relative()
        {
            *p = cwd.join(p.strip_prefix("file://").unwrap_or(p)).display().to_string();
        }
    }
    let config = load_with(&config_path, &overrides)?;
    let base_dir = config_path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base_dir = if base_dir.as_os_str().is_empty() { PathBuf::from(".") } else { base_dir };
    let RunConfig {
        reporting_currency,
        max_rejected_share: file_share,
        max_rate_age_days,
        out: file_out,
        stages,
        incremental,
        state,
        keep_runs,
        chunk_rows,
        table_format,
    } = config.run.clone();
    let stages = stages.unwrap_or_else(|| vec![Stage::Ingest, Stage::Analytics, Stage::Models]);
    let analytics = stages.contains(&Stage::Analytics);
    if stages.contains(&Stage::Models) && !analytics {
        return Err(ConfigError(format!(
            "{}: `run.stages` has \"models\" without \"analytics\"; models are trained on the analysed book, so add \"analytics\"",
            config_path.display()
        ))
        .into());
    }
    let max_rejected_share = max_rejected_share.or(file_share).unwrap_or(DEFAULT_MAX_REJECTED_SHARE);
    if !(0.0..=1.0).contains(&max_rejected_share) || max_rejected_share.is_nan() {
        return Err(ConfigError(format!(
            "`run.max_rejected_share` must be between 0 and 1, but is {max_rejected_share}"
        ))
        .into());
    }
    let InputsConfig { ledger, payments, customers, fx_rates, activities } = config.inputs.clone();
    let mut sources = Vec::new();
    for (name, params) in &config.sources {
        if is_remote(&params.path) {
            return Err(ConfigError(format!(
                "{}: `sources.{name}.path` = \"{}\": sources read local files for now; copy the export locally (object-store inputs work for `[inputs.*]`)",
                config_path.display(),
                params.path
            ))
            .into());
        }
        if incremental.unwrap_or(false) {
            return Err(ConfigError(format!(
                "{}: `sources.{name}`: incremental runs read `[inputs.*]` batches; a source is read whole each run, so set `run.incremental = false`",
                config_path.display()
            ))
            .into());
        }
        sources
            .push(params.check(name, &base_dir).map_err(|e| ConfigError(format!("{}: {e}", config_path.display())))?);
    }
    let fed = |kind: InputKind| sources.iter().any(|s| s.feeds(kind));
    let mut inputs = Vec::new();
    let mut remote_inputs = Vec::new();
    let mut fetched: Option<Arc<tempfile::TempDir>> = None;
    for (kind, params) in [
        (InputKind::FxRates, fx_rates),
        (InputKind::Customers, customers),
        (InputKind::Ledger, ledger),
        (InputKind::Payments, payments),
        (InputKind::Activities, activities),
    ] {
        match params {
            Some(p) if is_remote(&p.path) => {
                let at =
                    |e: String| ConfigError(format!("{}: `inputs.{}.path`: {e}", config_path.display(), kind.name()));
                let dir = match &fetched {
                    Some(d) => d.clone(),
                    None => {
                        let d = tempfile::Builder::new().prefix("ardent-inputs-").tempdir().map_err(
                            ardent_engine::EngineError::temp(
                                "creating a folder for the fetched exports",
                                "the size of the remote exports",
                            ),
                        )?;
                        fetched.insert(Arc::new(d)).clone()
                    }
                };
                // A glob applies to file names: split it off after the last `/` before it.
                let (folder, pattern) = match p.path.find(['*', '?', '[']) {
                    Some(i) => {
                        let cut = p.path[..i].rfind('/').unwrap_or(0);
                        let pattern = glob::Pattern::new(&p.path[cut + 1..]).map_err(|e| at(e.to_string()))?;
                        (&p.path[..cut], Some(pattern))
                    }
                    None => (p.path.as_str(), None),
                };
                let Location::Remote(remote) = Location::parse(folder, &base_dir)? else {
                    unreachable!("a URL with a scheme other than file:// is remote")
                };
                let local = dir.path().join(kind.name());
                let mut local_params = p.clone();
                local_params.path = local.display().to_string();
                let mut spec = local_params
                    .check(kind, &base_dir)
                    .map_err(|e| ConfigError(format!("{}: {e}", config_path.display())))?;
                spec.location = p.path.clone();
                spec.shown_as = Some((local.clone(), remote.url_of("")));
                inputs.push(spec);
                remote_inputs.push(RemoteInput { kind, remote, pattern, local });
            }
            Some(p) => inputs
                .push(p.check(kind, &base_dir).map_err(|e| ConfigError(format!("{}: {e}", config_path.display())))?),
            // A source's ledger may come without payments (a snapshot of open items).
            None if kind == InputKind::Payments && fed(InputKind::Ledger) => {}
            None if kind.required() && kind != InputKind::Customers && !fed(kind) => {
                return Err(ConfigError(format!(
                    "{}: no `[inputs.{}]` section and no source routes rows to it; the ledger and payments are required, from their own exports or from a `[sources.<name>]` combined export (see `ardent schema` and README \"Combined exports\")",
                    config_path.display(),
                    kind.name()
                ))
                .into());
            }
            None => {}
        }
    }
    // Incremental runs: a later export of a document or customer replaces the earlier one,
    // in `validate` as in `run`.
    for spec in &mut inputs {
        spec.latest_wins = incremental.unwrap_or(false);
    }
    let ingest = IngestSpec {
        inputs,
        reporting_currency: reporting_currency.unwrap_or_else(|| DEFAULT_REPORTING_CURRENCY.to_string()),
        max_rate_age_days: max_rate_age_days.unwrap_or(DEFAULT_MAX_RATE_AGE_DAYS),
        base_dir,
        chunk_rows: chunk_rows.unwrap_or(ardent_engine::ingest::read::CHUNK_ROWS),
        sources,
    };
    if ingest.chunk_rows == 0 {
        return Err(
            ConfigError(format!("{}: `run.chunk_rows` must be at least 1, but is 0", config_path.display())).into()
        );
    }
    if !ardent_engine::contracts::is_currency(&ingest.reporting_currency) {
        return Err(ConfigError(format!(
            "{}: `run.reporting_currency` = \"{}\" is not an ISO 4217 currency code (e.g. USD, EUR)",
            config_path.display(),
            ingest.reporting_currency
        ))
        .into());
    }
    // A section's own check, its message prefixed with the config file.
    let in_file = |e: &dyn std::fmt::Display| {
        let message = e.to_string();
        ConfigError(format!("{}: {}", config_path.display(), message.trim_start_matches("config: ")))
    };
    let mut analysis = config.analytics.check().map_err(|e| in_file(&e))?;
    analysis.ecl = config.ecl.check().map_err(|e| in_file(&e))?;
    analysis.cash_forecast = config.cash_forecast.check().map_err(|e| in_file(&e))?;
    analysis.alerts = config.alerts.check().map_err(|e| in_file(&e))?;
    analysis.compliance = config.compliance.check().map_err(|e| in_file(&e))?;
    analysis.collections = config.collections.check().map_err(|e| in_file(&e))?;
    let training = config.models.check().map_err(|e| in_file(&e))?;
    let out = Location::parse(&out.or(file_out).unwrap_or_else(|| DEFAULT_OUT.to_string()), Path::new("."))?;
    let keep_runs = keep_runs.unwrap_or(DEFAULT_KEEP_RUNS);
    if keep_runs == 0 {
        return Err(ConfigError(format!(
            "{}: `run.keep_runs` must be at least 1 (the published run), but is 0",
            config_path.display()
        ))
        .into());
    }
    let models = stages.contains(&Stage::Models) && training.enabled;
    let state = match (incremental.unwrap_or(false), state, &out) {
        (false, _, _) => None,
        (true, Some(s), _) if is_remote(&s) => {
            return Err(ConfigError(format!(
                "{}: `run.state` = \"{s}\": the state of incremental runs must be a local folder",
                config_path.display()
            ))
            .into());
        }
        (true, Some(s), _) => Some(PathBuf::from(s)),
        (true, None, Location::Local(root)) => Some(root.join("_state")),
        (true, None, Location::Remote(_)) => {
            return Err(ConfigError(format!(
                "{}: incremental runs with an object-store output need `run.state`, a local (persistent) folder",
                config_path.display()
            ))
            .into());
        }
    };
    Ok(Settings {
        config_path,
        config,
        ingest,
        analysis,
        training,
        max_rejected_share,
        out,
        keep_runs,
        table_format: table_format.unwrap_or_default(),
        state,
        analytics,
        models,
        overrides,
        remote_inputs,
        _fetched: fetched,
    })
}

/// What `--show-settings` prints: where every layer came from, the resolved run settings,
/// and the effective config (file, environment and `--set` merged) as TOML.
pub fn show(settings: &Settings) -> String {
    let mut out = String::from("# ardent settings: defaults < config file < environment (ARDENT_*) < flags\n");
    out.push_str(&format!("# config file: {}\n", settings.config_path.display()));
    if settings.overrides.is_empty() {
        out.push_str("# overrides: none\n");
    } else {
        out.push_str("# overrides, in the order applied:\n");
        for o in &settings.overrides {
            out.push_str(&format!("#   {} = {}    ({})\n", o.key, o.value, o.source));
        }
    }
    let stages: Vec<&str> = [(true, "ingest"), (settings.analytics, "analytics"), (settings.models, "models")]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
    out.push_str("# resolved:\n");
    out.push_str(&format!("#   stages             {} (then publish)\n", stages.join(", ")));
    out.push_str(&format!(
        "#   out                {}  ({} tables, keeping {} runs)\n",
        settings.out,
        settings.table_format.name(),
        settings.keep_runs
    ));
    out.push_str(&format!("#   reporting_currency {}\n", settings.ingest.reporting_currency));
    out.push_str(&format!("#   max_rejected_share {}\n", settings.max_rejected_share));
    out.push_str(&format!("#   max_rate_age_days  {}\n", settings.ingest.max_rate_age_days));
    for input in &settings.ingest.inputs {
        out.push_str(&format!("#   input {:<12} {}\n", input.kind.name(), input.location));
    }
    for source in &settings.ingest.sources {
        let feeds: Vec<&str> = [InputKind::Ledger, InputKind::Payments]
            .into_iter()
            .filter(|k| source.feeds(*k))
            .map(InputKind::name)
            .collect();
        out.push_str(&format!(
            "#   source {:<11} {} (to {})\n",
            source.name,
            source.read.location,
            feeds.join(" and ")
        ));
    }
    out.push_str("# effective config (keys not shown take the defaults in the README):\n\n");
    out.push_str(&toml::to_string(&settings.config).unwrap_or_else(|e| format!("# cannot print: {e}\n")));
    out
}
