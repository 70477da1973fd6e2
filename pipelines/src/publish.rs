//! Publishing a run. [`RunWriter`] writes every table as soon as a stage produces it, the
//! models and finally `_manifest.json` into a run folder `runs/<run_id>/` (staged as
//! `runs/<run_id>.partial/` locally, in a temporary folder for object stores). With Delta
//! tables (the default) [`crate::delta`] then moves each table's files into its Delta table
//! and commits a version of it, and the manifest records the versions; with plain Parquet
//! the tables stay in the run folder. [`crate::commit`] then makes the run the published
//! output in one atomic step and prunes old runs. The manifest lists every file with its size
//! and SHA-256, so `ardent verify` can check a published output.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Context;
use ardent_engine::analytics::{self, Analysed};
use ardent_engine::book::{Book, BookBuilder, BookFeed};
use ardent_engine::contracts::{self, TableContract};
use ardent_engine::ingest::Ingested;
use ardent_engine::ingest::quarantine::InputCounts;
use ardent_engine::ingest::{Sink, Streamed};
use ardent_engine::sink::{TableSink, TableStream, remove_rows_from_file, write_table};
use ardent_engine::{EngineError, contracts::InputKind};
use ardent_models::run::ModelRun;
use polars::prelude::DataFrame;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::batches::Plan;
use crate::commit::Staging;
use crate::delta::{StagedTable, Tables};
use crate::files::{Checksums, RunFile, checksum_tree, relative_files, sha256};
use crate::layout::{MANIFEST, REPORT, RUNS};
use crate::printer::Printer;
use crate::settings::{PipelineConfig, Settings, TableFormat};

/// `_manifest.json`: what a run read, wrote and how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub run_id: String,
    /// The folder, relative to the output location, that every path below is relative to
    /// (`runs/<run_id>/`). Locally the output folder also links each table to it.
    pub data_prefix: String,
    pub ardent_version: &'static str,
    pub polars_version: &'static str,
    /// `delta` (each table a Delta table at `<table>/`, its version below) or `parquet`.
    pub table_format: &'static str,
    pub started_at: String,
    pub finished_at: String,
    pub config_path: String,
    pub config: PipelineConfig,
    pub reporting_currency: String,
    pub max_rejected_share: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<ManifestInput>,
    /// A sharded run's `inputs` and `sources`, as its validation step's manifest recorded them.
    #[serde(flatten)]
    pub adopted: serde_json::Map<String, serde_json::Value>,
    /// Combined exports and where their rows went (`rows_read = rows_to_ledger +
    /// rows_to_payments + ignored`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ManifestSource>,
    pub outputs: Vec<ManifestOutput>,
    /// Absent when the analytics stage did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash_application: Option<CashApplication>,
    /// The models trained, when models ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<ManifestModels>,
    /// Why models were skipped, when they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models_skipped: Option<String>,
    pub timings_ms: Vec<(String, u64)>,
    /// Incremental runs: the export batches per input (new, delivered again, earlier).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batches: Option<Plan>,
    /// Every file of the run (tables, partitions, model artifacts), except the manifest.
    pub files: Vec<RunFile>,
    /// Delta tables an earlier run published that this run does not produce: each holds an
    /// empty version (committed by the run that first left it out), so no reader takes an old
    /// run's rows for this run's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emptied_tables: Vec<String>,
    /// Runs published before this one and kept (newest first): pruning keeps these and
    /// deletes only other folders, so a run that never published cannot displace one that did.
    #[serde(default)]
    pub previous_runs: Vec<String>,
}

impl Manifest {
    /// The `run_summary` event's fields of a published run (a command adds its own).
    pub fn summary(&self, out: &crate::location::Location) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("status".into(), json!("published"));
        m.insert("run_id".into(), json!(self.run_id));
        m.insert("out".into(), json!(out.to_string()));
        m.insert(
            "outputs".into(),
            self.outputs.iter().map(|o| json!({"table": o.table, "rows": o.rows})).collect::<Vec<_>>().into(),
        );
        m.insert(
            "timings_ms".into(),
            self.timings_ms.iter().map(|(s, ms)| (s.clone(), json!(ms))).collect::<serde_json::Map<_, _>>().into(),
        );
        m
    }
}

/// The models of a run.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestModels {
    /// The customer-level champion (it writes customer_scores); absent when the customer
    /// models were skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub champion: Option<String>,
    /// Why the customer models were skipped (customer_scores and segment_scores are empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_skipped: Option<String>,
    /// The invoice-level model (it writes invoice_predictions); absent when it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_champion: Option<String>,
    /// Why the invoice model was skipped (invoice_predictions is empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_skipped: Option<String>,
    /// Every candidate's folder under `models/`, its out-of-time AUC and calibration.
    pub candidates: Vec<ManifestModel>,
}

/// One trained model.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestModel {
    pub model_id: String,
    pub path: String,
    pub out_of_time_auc: f64,
    pub calibrated: bool,
}

/// One input in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestInput {
    pub input: &'static str,
    #[serde(flatten)]
    pub counts: InputCounts,
    pub files: Vec<ManifestFile>,
}

/// One source in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestSource {
    #[serde(flatten)]
    pub read: ardent_engine::ingest::SourceRead,
    pub files: Vec<ManifestFile>,
}

/// One input file.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestFile {
    pub path: String,
    pub format: &'static str,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// One output table.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestOutput {
    pub table: &'static str,
    /// Plain Parquet: a file, or a folder (ending in `/`) of Hive-style partitions, relative
    /// to `data_prefix`. Delta: the table's folder (`<table>/`) relative to the output root.
    pub path: String,
    pub rows: u64,
    /// The partition column and the number of partitions, for partitioned tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partitioned_by: Option<(&'static str, u64)>,
    pub columns: Vec<(String, String)>,
    /// Delta: the table version this run committed (read it with time travel to read the
    /// run consistently across tables).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// Delta: the version's data files, relative to the table folder.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<RunFile>,
    #[serde(skip)]
    contract: TableContract,
}

impl ManifestOutput {
    fn new(contract: &TableContract, path: String, rows: u64, partitions: Option<u64>) -> Self {
        ManifestOutput {
            table: contract.name,
            path,
            rows,
            partitioned_by: contract.partition.zip(partitions),
            columns: contract.columns.iter().map(|c| (c.name.to_string(), c.ty.parquet_name().to_string())).collect(),
            version: None,
            files: Vec::new(),
            contract: contract.clone(),
        }
    }

    /// Whether `file` (relative to the staging folder) belongs to this table.
    fn holds(&self, file: &str) -> bool {
        crate::layout::table_holds(&self.path, file)
    }
}

/// Share of received cash applied by each rule.
#[derive(Debug, Clone, Serialize)]
pub struct CashApplication {
    /// Exact decimal text in the reporting currency (money is never a float).
    pub received_reporting: String,
    pub applied_share_by_rule: Vec<(&'static str, f64)>,
    pub unapplied_share: f64,
}

impl CashApplication {
    fn of(s: &ardent_engine::analytics::applications::CashSummary) -> CashApplication {
        let received = s.received.max(1) as f64;
        CashApplication {
            received_reporting: ardent_engine::money::format_cents(i128::from(s.received)),
            applied_share_by_rule: s.by_rule.iter().map(|(r, c)| (r.as_str(), *c as f64 / received)).collect(),
            unapplied_share: s.unapplied as f64 / received,
        }
    }
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A run folder being filled, table by table, as the stages produce them: each table is
/// written and dropped as soon as it exists, so a run never holds its inputs, dashboards and
/// model tables in memory at once. [`RunWriter::commit`] writes the manifest and publishes
/// (see [`crate::commit`]); a writer dropped before that publishes nothing.
#[derive(Debug)]
pub struct RunWriter {
    staged: Staging,
    run_id: String,
    started_at: String,
    /// SHA-256 and size of every input file, by path.
    checksums: Checksums,
    /// Tables written in parts as stages produce them, in order of their first part.
    open: Vec<Open>,
    inputs: Vec<ManifestInput>,
    sources: Vec<ManifestSource>,
    outputs: Vec<ManifestOutput>,
    models: Option<ManifestModels>,
    models_skipped: Option<String>,
    cash_application: Option<CashApplication>,
    /// `inputs` and `sources` taken from another output's manifest (see [`RunWriter::adopt`]).
    adopted: serde_json::Map<String, serde_json::Value>,
    /// Every file this writer finished, by path in the run folder, as it was when finished:
    /// the run folder must hold exactly these when it is published.
    written: BTreeMap<String, RunFile>,
    write_ms: u64,
}

/// The run folder no longer holds what the run wrote (a file removed, changed or added by
/// something else): nothing is published (exit code 6).
#[derive(Debug, thiserror::Error)]
#[error(
    "the run folder {dir} changed while the run was writing it ({what}); nothing was published. Keep other processes out of the output folder and run again"
)]
pub struct RunFolderChanged {
    pub dir: String,
    pub what: String,
}

impl RunWriter {
    /// Record the file at `rel` in the run folder as finished: its size and checksum now.
    fn wrote(&mut self, rel: &str) -> Result<(), EngineError> {
        let full = self.staged.path().join(rel);
        let (sha256, bytes) = sha256(&full).map_err(EngineError::io("checksumming", &full))?;
        self.written.insert(rel.to_string(), RunFile { path: rel.to_string(), bytes, sha256 });
        Ok(())
    }

    /// Check that the run folder's files (`found`) are exactly those the writer finished.
    fn check_written(&self, found: &[RunFile]) -> Result<(), RunFolderChanged> {
        let mut problems = Vec::new();
        for f in found {
            match self.written.get(&f.path) {
                None => problems.push(format!("{} appeared", f.path)),
                Some(w) if w != f => problems.push(format!("{} changed ({} bytes, now {})", f.path, w.bytes, f.bytes)),
                Some(_) => {}
            }
        }
        for path in self.written.keys() {
            if !found.iter().any(|f| &f.path == path) {
                problems.push(format!("{path} is missing"));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        let more = problems.len().saturating_sub(5);
        problems.truncate(5);
        if more > 0 {
            problems.push(format!("and {more} more"));
        }
        Err(RunFolderChanged { dir: self.staged.path().display().to_string(), what: problems.join(", ") })
    }

    /// Checksum the input files, name the run and open its staging folder, before ingest
    /// (the validated tables are written into it as they are validated). `known` holds
    /// checksums already taken (of archived batches), so those files are not read again.
    pub fn open(settings: &Settings, known: &Checksums, printer: &Printer) -> anyhow::Result<RunWriter> {
        let started_at = now();
        let t0 = Instant::now();
        let mut checksums = Checksums::new();
        let mut h = Sha256::new();
        let inputs = ardent_engine::ingest::resolve_all(&settings.ingest)?.into_iter().map(|(_, f)| f);
        let sources = ardent_engine::ingest::resolve_sources(&settings.ingest)?.into_iter().map(|(_, f)| f);
        for files in inputs.chain(sources) {
            for f in files {
                let sum = match known.get(&f.path) {
                    Some(k) => k.clone(),
                    None => sha256(&f.path).map_err(EngineError::io("checksumming", &f.path))?,
                };
                h.update(sum.0.as_bytes());
                checksums.insert(f.path, sum);
            }
        }
        RunWriter::named(settings, h, started_at, checksums, t0, printer)
    }

    /// The writer of a run named from `h` (its inputs, hashed) and the config, with its
    /// staging folder open.
    fn named(
        settings: &Settings,
        mut h: Sha256,
        started_at: String,
        checksums: Checksums,
        t0: Instant,
        printer: &Printer,
    ) -> anyhow::Result<RunWriter> {
        h.update(serde_json::to_vec(&settings.config).unwrap_or_default());
        let d = h.finalize();
        let run_id = format!(
            "{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
            d.iter().take(4).map(|b| format!("{b:02x}")).collect::<String>()
        );
        let staged = Staging::new(&settings.out, &run_id)?;
        printer.info("run_staged", format!("publish: staging run {run_id}"), json!({"run_id": run_id}));
        Ok(RunWriter {
            staged,
            run_id,
            started_at,
            checksums,
            open: Vec::new(),
            inputs: Vec::new(),
            sources: Vec::new(),
            outputs: Vec::new(),
            models: None,
            models_skipped: None,
            cash_application: None,
            adopted: serde_json::Map::new(),
            written: BTreeMap::new(),
            write_ms: t0.elapsed().as_millis() as u64,
        })
    }

    /// A writer for a run whose inputs another output already ingested and validated (the
    /// `validated` step of a sharded run, see `docs/scale-out.md`): the run is named from that
    /// output's manifest and the config instead of the input files, which this machine may
    /// not hold.
    pub fn adopting(
        settings: &Settings,
        validated: &serde_json::Value,
        printer: &Printer,
    ) -> anyhow::Result<RunWriter> {
        let mut h = Sha256::new();
        for key in ["inputs", "sources"] {
            h.update(serde_json::to_vec(&validated[key]).unwrap_or_default());
        }
        RunWriter::named(settings, h, now(), Checksums::new(), Instant::now(), printer)
    }

    /// Publish another output's validated tables, data quality and quarantine as this run's
    /// own (in the order a run writes them), and its manifest's `inputs` and `sources` (from
    /// `validated`). Their files were written by a run's writer under the same contracts, so
    /// they are copied as they are.
    pub fn adopt(
        &mut self,
        validated: &serde_json::Value,
        files: &crate::published::TableFiles,
        printer: &Printer,
    ) -> anyhow::Result<()> {
        for key in ["inputs", "sources"] {
            if let Some(v) = validated.get(key) {
                self.adopted.insert(key.to_string(), v.clone());
            }
        }
        let outputs = validated["outputs"].as_array().cloned().unwrap_or_default();
        let tables = Streamed::ALL.iter().map(|t| t.contract()).chain([
            &contracts::CUSTOMERS_TABLE,
            &contracts::FX_RATES_TABLE,
            &contracts::DATA_QUALITY_TABLE,
            &contracts::QUARANTINE_TABLE,
        ]);
        for contract in tables {
            let rows = outputs.iter().find(|o| o["table"] == contract.name).and_then(|o| o["rows"].as_u64());
            let (Some(rows), [(None, from)]) = (rows, files.files_of(contract.name)) else {
                anyhow::bail!("the validated output has no single `{}` file; validate again", contract.name);
            };
            let t0 = Instant::now();
            let name = format!("{}.parquet", contract.name);
            let to = self.staged.path().join(&name);
            std::fs::copy(from, &to).map_err(EngineError::io("copying", &to))?;
            self.wrote(&name)?;
            printer.info(
                "table_written",
                format!("publish: wrote {name} ({rows} rows, as validated)"),
                json!({"table": contract.name, "rows": rows}),
            );
            self.outputs.push(ManifestOutput::new(contract, name, rows, None));
            self.write_ms += t0.elapsed().as_millis() as u64;
        }
        Ok(())
    }

    /// The run's id (its folder is `runs/<run_id>/`).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    fn open_table(&mut self, contract: &TableContract) -> Result<&mut Open, EngineError> {
        let partitioned = contract.partition.is_some();
        match self.open.iter().position(|o| o.contract.name == contract.name) {
            Some(i) => Ok(&mut self.open[i]),
            None => {
                let writer = if partitioned {
                    let folder = self.staged.path().join(contract.name);
                    std::fs::create_dir_all(&folder).map_err(EngineError::io("creating", &folder))?;
                    None
                } else {
                    let path = self.staged.path().join(format!("{}.parquet", contract.name));
                    Some(TableStream::create(contract, &path)?)
                };
                self.open.push(Open {
                    contract: contract.clone(),
                    writer,
                    rows: 0,
                    partitions: partitioned.then_some(0),
                });
                Ok(self.open.last_mut().unwrap_or_else(|| unreachable!("just pushed")))
            }
        }
    }

    /// Append rows to a table written in parts.
    fn append(&mut self, contract: &TableContract, df: &DataFrame) -> Result<(), EngineError> {
        let t0 = Instant::now();
        let open = self.open_table(contract)?;
        match &mut open.writer {
            Some(w) => w.write(df)?,
            None => {
                return Err(EngineError::Analysis {
                    message: format!("rows of {} arrived after the table was finished", contract.name),
                });
            }
        }
        open.rows += df.height() as u64;
        self.write_ms += t0.elapsed().as_millis() as u64;
        Ok(())
    }

    /// Write one partition of a table partitioned by as-of date
    /// (`<table>/as_of=YYYY-MM-DD/part-0.parquet`).
    fn append_partition(&mut self, contract: &TableContract, as_of: i32, mut df: DataFrame) -> Result<(), EngineError> {
        let t0 = Instant::now();
        let rel = crate::layout::partition_file(contract.name, as_of);
        let path = self.staged.path().join(&rel);
        let open = self.open_table(contract)?;
        open.rows += write_table(&mut df, contract, &path)?;
        open.partitions = Some(open.partitions.unwrap_or_default() + 1);
        self.wrote(&rel)?;
        self.write_ms += t0.elapsed().as_millis() as u64;
        Ok(())
    }

    /// Finish a table written in parts (an empty one if nothing arrived); returns its rows.
    fn finish_table(&mut self, contract: &TableContract) -> Result<u64, EngineError> {
        let open = self.open_table(contract)?;
        if let Some(w) = open.writer.take() {
            w.finish()?;
        }
        Ok(open.rows)
    }

    /// Finish `contracts`' tables written in parts and list them in the manifest, in this order.
    fn record(&mut self, contracts: &[TableContract], printer: &Printer) -> Result<(), EngineError> {
        for contract in contracts {
            let rows = self.finish_table(contract)?;
            let partitions = self.open.iter().find(|o| o.contract.name == contract.name).and_then(|o| o.partitions);
            let path = match partitions {
                Some(n) => {
                    printer.info(
                        "table_written",
                        format!("publish: wrote {}/ ({rows} rows in {n} partitions)", contract.name),
                        json!({"table": contract.name, "rows": rows, "partitions": n}),
                    );
                    format!("{}/", contract.name)
                }
                None => {
                    printer.info(
                        "table_written",
                        format!("publish: wrote {}.parquet ({rows} rows)", contract.name),
                        json!({"table": contract.name, "rows": rows}),
                    );
                    let name = format!("{}.parquet", contract.name);
                    self.wrote(&name)?;
                    name
                }
            };
            self.outputs.push(ManifestOutput::new(contract, path, rows, partitions));
        }
        Ok(())
    }

    /// Take rows replaced by a later export out of a table written in parts; returns them.
    fn remove_rows(&mut self, contract: &TableContract, rows: &[u64]) -> Result<DataFrame, EngineError> {
        let t0 = Instant::now();
        self.finish_table(contract)?;
        let path = self.staged.path().join(format!("{}.parquet", contract.name));
        let removed = remove_rows_from_file(&path, contract, rows)?;
        // A table finished before is rewritten: record it as it is now.
        if self.written.contains_key(&format!("{}.parquet", contract.name)) {
            self.wrote(&format!("{}.parquet", contract.name))?;
        }
        if let Some(o) = self.open.iter_mut().find(|o| o.contract.name == contract.name) {
            o.rows -= removed.height() as u64;
        }
        self.write_ms += t0.elapsed().as_millis() as u64;
        Ok(removed)
    }

    /// Write one table (and drop it).
    pub fn table(&mut self, contract: &TableContract, mut df: DataFrame, printer: &Printer) -> anyhow::Result<()> {
        let t0 = Instant::now();
        let name = format!("{}.parquet", contract.name);
        let rows = write_table(&mut df, contract, &self.staged.path().join(&name))?;
        drop(df);
        self.wrote(&name)?;
        printer.info(
            "table_written",
            format!("publish: wrote {name} ({rows} rows)"),
            json!({"table": contract.name, "rows": rows}),
        );
        self.outputs.push(ManifestOutput::new(contract, name, rows, None));
        self.write_ms += t0.elapsed().as_millis() as u64;
        Ok(())
    }

    /// Finish the validated tables streamed during ingest, write the small ones,
    /// `data_quality` and the quarantine, and record the inputs for the manifest.
    pub fn ingested(&mut self, ingested: Ingested, printer: &Printer) -> anyhow::Result<()> {
        for kind in InputKind::ALL {
            let Some((_, counts)) = ingested.counts.iter().find(|(k, _)| *k == kind) else { continue };
            let mut files = Vec::new();
            for f in ingested.files.iter().filter(|f| f.input == kind.name()) {
                let (sha, bytes) = self.checksums.get(&f.path).cloned().unwrap_or_default();
                files.push(ManifestFile { path: f.name.clone(), format: f.format, rows: f.rows, bytes, sha256: sha });
            }
            self.inputs.push(ManifestInput { input: kind.name(), counts: *counts, files });
        }
        for read in &ingested.sources {
            let files = read
                .files
                .iter()
                .map(|(path, name, rows)| {
                    let (sha, bytes) = self.checksums.get(path).cloned().unwrap_or_default();
                    ManifestFile { path: name.clone(), format: "source", rows: *rows, bytes, sha256: sha }
                })
                .collect();
            self.sources.push(ManifestSource { read: read.clone(), files });
        }
        let mut streamed: Vec<TableContract> = Streamed::ALL.iter().map(|t| t.contract().clone()).collect();
        // The activities table exists only when the input is configured: runs without one
        // publish exactly the tables they always did.
        if ingested.counts.iter().any(|(k, _)| *k == InputKind::Activities) {
            streamed.push(Streamed::Activities.contract().clone());
        }
        self.record(&streamed, printer)?;
        let Ingested { tables, mut quarantine, data_quality, .. } = ingested;
        for (contract, df) in [
            (&contracts::CUSTOMERS_TABLE, tables.customers),
            (&contracts::FX_RATES_TABLE, tables.fx_rates),
            (&contracts::DATA_QUALITY_TABLE, data_quality),
        ] {
            self.table(contract, df, printer)?;
        }
        // The quarantine a part at a time: however many rows failed, only one part is held.
        quarantine.write_parts(|part| self.append(&contracts::QUARANTINE_TABLE, &part))?;
        self.record(std::slice::from_ref(&contracts::QUARANTINE_TABLE), printer)?;
        Ok(())
    }

    /// List the dashboard tables written in parts (see [`TableSink`]) and the cash
    /// application summary.
    pub fn dashboards(&mut self, analysed: &Analysed, settings: &Settings, printer: &Printer) -> anyhow::Result<()> {
        self.cash_application = Some(CashApplication::of(&analysed.cash_summary));
        self.record(&analytics::contracts(&settings.analysis), printer)?;
        if analysed.cash_forecast {
            self.record(&analytics::cash_forecast::contracts(), printer)?;
        }
        Ok(())
    }

    /// Write the allowance's tables (`ecl`, `ecl_backtest`), after the models' (the PD method's
    /// numbers come from them).
    pub fn ecl(
        &mut self,
        parts: ardent_engine::analytics::ecl::Parts,
        pd: Option<&ardent_engine::analytics::ecl::PdSums>,
        printer: &Printer,
    ) -> anyhow::Result<()> {
        let (ecl, backtest) = parts.finish(pd)?;
        let [ecl_contract, backtest_contract] = ardent_engine::analytics::ecl::contracts();
        self.table(&ecl_contract, ecl, printer)?;
        self.table(&backtest_contract, backtest, printer)
    }

    /// Write `alerts`: the ledger's and the scores' (after the models' tables).
    pub fn alerts(
        &mut self,
        alerts: Vec<ardent_engine::analytics::alerts::Alert>,
        printer: &Printer,
    ) -> anyhow::Result<()> {
        let df = ardent_engine::analytics::alerts::table(alerts)?;
        self.table(&ardent_engine::analytics::alerts::ALERTS_TABLE, df, printer)
    }

    /// Write the model tables and artifacts.
    pub fn models(&mut self, run: ModelRun, printer: &Printer) -> anyhow::Result<()> {
        let mut candidates = Vec::new();
        let (mut champion, mut invoice_champion) = (None, None);
        for (id, file, card) in &run.artifacts {
            let dir = self.staged.path().join("models").join(id);
            ardent_models::artifact::write(&dir, file, card)?;
            for (rel, _) in relative_files(&dir)? {
                self.wrote(&format!("models/{id}/{rel}"))?;
            }
            match (file.champion, file.task) {
                (true, ardent_models::model::Task::InvoiceLate) => invoice_champion = Some(id.clone()),
                (true, _) => champion = Some(id.clone()),
                _ => {}
            }
            candidates.push(ManifestModel {
                model_id: id.clone(),
                path: format!("models/{id}/"),
                out_of_time_auc: file.metrics.out_of_time.auc,
                calibrated: file.metrics.calibrated,
            });
        }
        self.models = Some(ManifestModels {
            champion,
            customer_skipped: run.customer_skipped.clone(),
            invoice_champion,
            invoice_skipped: run.invoice_skipped.clone(),
            candidates,
        });
        // The features table (and any other `None` below) was written in parts while the models ran.
        self.record(&[ardent_models::tables::features_contract()], printer)?;
        for (contract, df) in run.tables {
            match df {
                Some(df) => self.table(&contract, df, printer)?,
                None => self.record(&[contract], printer)?,
            }
        }
        Ok(())
    }

    /// Write the run's `report.html` from its staged tables. A report that cannot be made is
    /// a warning, not a failed run: the tables are what the run is for.
    fn report(&mut self, currency: &str, printer: &Printer) -> anyhow::Result<()> {
        let mut source = crate::published::TableFiles::default();
        for o in self.outputs.iter().filter(|o| crate::report::needed(o.table)) {
            for rel in self.written.keys().filter(|rel| o.holds(rel)) {
                source.add(o.table, crate::published::partition_of(rel), self.staged.path().join(rel));
            }
        }
        let champion = self.models.as_ref().and_then(|m| m.champion.clone());
        match crate::report::render(&source, &self.run_id, currency, champion.as_deref()) {
            Ok(html) => {
                crate::report::write(&self.staged.path().join(REPORT), &html)?;
                self.wrote(REPORT)?;
                printer.info("report_written", format!("publish: wrote {REPORT}"), json!({"path": REPORT}));
            }
            Err(e) => printer.warn(format!("publish: no {REPORT} for this run: {e:#}")),
        }
        Ok(())
    }

    /// Record why models were skipped.
    pub fn models_skipped(&mut self, why: String) {
        self.models_skipped = Some(why);
    }

    /// Commit the tables (Delta), write the manifest last and publish the run.
    pub fn commit(
        mut self,
        settings: &Settings,
        mut timings: Vec<(&'static str, u64)>,
        batches: Option<&Plan>,
        lock: &crate::lock::WriteLock,
        printer: &Printer,
    ) -> anyhow::Result<Manifest> {
        let t0 = Instant::now();
        let staging = self.staged.path().to_path_buf();
        self.report(&settings.ingest.reporting_currency, printer)?;
        let mut files = checksum_tree(&staging)?;
        // Publish only what this run wrote, as it wrote it.
        self.check_written(&files)?;
        let before = self.staged.published_before(settings.keep_runs)?;
        let delta = match settings.table_format {
            TableFormat::Parquet => None,
            TableFormat::Delta => {
                let (table_files, run_files): (Vec<RunFile>, Vec<RunFile>) =
                    files.into_iter().partition(|f| self.outputs.iter().any(|o| o.holds(&f.path)));
                files = run_files;
                let staged: Vec<StagedTable<'_>> = self
                    .outputs
                    .iter()
                    .map(|o| StagedTable {
                        contract: &o.contract,
                        files: table_files.iter().filter(|f| o.holds(&f.path)).cloned().collect(),
                    })
                    .collect();
                let produced = |t: &String| self.outputs.iter().any(|o| o.table == *t);
                let retired: Vec<String> = before.delta_tables.iter().filter(|t| !produced(t)).cloned().collect();
                let mut emptied: Vec<String> =
                    before.emptied.iter().chain(&retired).filter(|t| !produced(t)).cloned().collect();
                emptied.sort();
                emptied.dedup();
                let tables = Tables::at(&settings.out)?;
                // Never commit without the lock (an object-store lease may have been taken over).
                lock.check()?;
                let committed = tables.publish(&staging, &self.run_id, &staged, &retired, printer)?;
                crate::delta::remove_emptied(&staging, &staged);
                for (o, c) in self.outputs.iter_mut().zip(committed) {
                    o.path = format!("{}/", o.table);
                    o.version = Some(c.version);
                    o.files = c.files;
                }
                // Each table with the data files of its new version (none for an emptied one).
                let mut versions: Vec<(String, Vec<String>)> = self
                    .outputs
                    .iter()
                    .map(|o| (o.table.to_string(), o.files.iter().map(|f| f.path.clone()).collect()))
                    .collect();
                versions.extend(emptied.iter().map(|t| (t.clone(), Vec::new())));
                Some((tables, versions, emptied))
            }
        };
        let emptied_tables = delta.as_ref().map(|(_, _, e)| e.clone()).unwrap_or_default();
        timings.push(("publish", self.write_ms + t0.elapsed().as_millis() as u64));
        let manifest = Manifest {
            data_prefix: format!("{RUNS}/{}/", self.run_id),
            run_id: self.run_id,
            ardent_version: env!("CARGO_PKG_VERSION"),
            polars_version: "0.55.2",
            table_format: settings.table_format.name(),
            started_at: self.started_at,
            finished_at: now(),
            config_path: settings.config_path.display().to_string(),
            config: settings.config.clone(),
            reporting_currency: settings.ingest.reporting_currency.clone(),
            max_rejected_share: settings.max_rejected_share,
            inputs: self.inputs,
            sources: self.sources,
            outputs: self.outputs,
            cash_application: self.cash_application,
            adopted: self.adopted,
            models: self.models,
            models_skipped: self.models_skipped,
            timings_ms: timings.into_iter().map(|(s, ms)| (s.to_string(), ms)).collect(),
            batches: batches.cloned(),
            files,
            emptied_tables,
            previous_runs: before.runs,
        };
        let json = serde_json::to_string_pretty(&manifest).context("serialising the manifest")?;
        let manifest_path = staging.join(MANIFEST);
        std::fs::write(&manifest_path, &json).map_err(EngineError::io("writing", &manifest_path))?;
        // Never publish without the lock (an object-store lease may have been taken over).
        lock.check()?;
        self.staged.commit(&manifest.run_id, json.as_bytes(), &manifest.previous_runs, printer)?;
        if let Some((tables, versions, _)) = delta {
            let mut keep = vec![manifest.run_id.clone()];
            keep.extend(manifest.previous_runs.iter().cloned());
            let deleted = tables.prune(&versions, &keep)?;
            if deleted > 0 {
                printer.info(
                    "files_pruned",
                    format!("publish: deleted {deleted} data files of runs no longer kept"),
                    json!({"files": deleted}),
                );
            }
        }
        Ok(manifest)
    }
}

/// Where ingest sends the validated ledger, payments and payment references: into the
/// run's staging folder (with a writer) and into the book (when analytics run), a chunk at
/// a time, so no stage holds them as frames.
pub struct RunSink<'a> {
    settings: &'a Settings,
    writer: Option<&'a mut RunWriter>,
    with_book: bool,
    book: Option<BookFeed>,
    /// Where to say how far ingest got (rows validated per table), if anywhere.
    progress: Option<&'a Printer>,
    validated: [u64; 4],
    /// Another sink given the same rows.
    also: Option<&'a mut dyn Sink>,
    /// The activities, gathered for the collections tables (when analytics run).
    activities: Option<ardent_engine::collections::log::LogBuilder>,
}

impl std::fmt::Debug for RunSink<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSink")
            .field("with_book", &self.with_book)
            .field("validated", &self.validated)
            .field("also", &self.also.is_some())
            .finish_non_exhaustive()
    }
}

impl<'a> RunSink<'a> {
    /// Write to `writer` (if any); build the book when `with_book`.
    pub fn new(settings: &'a Settings, writer: Option<&'a mut RunWriter>, with_book: bool) -> Self {
        RunSink {
            settings,
            writer,
            with_book,
            book: None,
            progress: None,
            validated: [0; 4],
            also: None,
            activities: None,
        }
    }

    /// Give `also` every validated row too.
    pub fn with_also(self, also: &'a mut dyn Sink) -> Self {
        RunSink { also: Some(also), ..self }
    }

    /// Say on `printer` how many rows of each table are validated, a chunk at a time.
    pub fn with_progress(self, printer: &'a Printer) -> Self {
        RunSink { progress: Some(printer), ..self }
    }

    /// Sort the book into event order (`None` without `with_book`), with the activities
    /// gathered (`None` without an activities input).
    pub fn book(self) -> Result<(Option<Book>, Option<ardent_engine::collections::log::LogBuilder>), EngineError> {
        Ok((self.book.map(BookFeed::finish).transpose()?, self.activities))
    }
}

impl Sink for RunSink<'_> {
    fn start(&mut self, customers: &DataFrame, fx_rates: &DataFrame) -> Result<(), EngineError> {
        if let Some(also) = self.also.as_deref_mut() {
            also.start(customers, fx_rates)?;
        }
        if self.with_book && self.settings.ingest.inputs.iter().any(|i| i.kind == InputKind::Activities) {
            let all_ids = self.settings.analysis.compliance.include_business;
            self.activities = Some(ardent_engine::collections::log::LogBuilder::new(customers, all_ids)?);
        }
        if self.with_book {
            let s = self.settings;
            self.book = Some(
                BookBuilder::new(
                    customers,
                    fx_rates,
                    &s.ingest.reporting_currency,
                    s.ingest.max_rate_age_days,
                    &s.analysis.segment_columns,
                )?
                .spawn(),
            );
        }
        Ok(())
    }

    fn rows(&mut self, table: Streamed, rows: &DataFrame) -> Result<(), EngineError> {
        if let Some(also) = self.also.as_deref_mut() {
            also.rows(table, rows)?;
        }
        if let Some(w) = self.writer.as_deref_mut() {
            w.append(table.contract(), rows)?;
        }
        if let Some(printer) = self.progress {
            let i = match table {
                Streamed::Ledger => 0,
                Streamed::Payments => 1,
                Streamed::PaymentRefs => 2,
                Streamed::Activities => 3,
            };
            self.validated[i] += rows.height() as u64;
            printer.step("ingest", &format!("{}: {} rows validated", table.contract().name, self.validated[i]));
        }
        if let Some(b) = &mut self.book {
            match table {
                Streamed::Ledger => b.ledger(rows)?,
                Streamed::Payments => b.payments(rows)?,
                Streamed::PaymentRefs => b.payment_refs(rows)?,
                Streamed::Activities => {
                    if let Some(log) = &mut self.activities {
                        log.push(rows)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn remove(&mut self, table: Streamed, rows: &[u64]) -> Result<Option<DataFrame>, EngineError> {
        if let Some(also) = self.also.as_deref_mut() {
            also.remove(table, rows)?;
        }
        if let (Some(b), Streamed::Ledger) = (&mut self.book, table) {
            b.remove_ledger_rows(rows)?;
        }
        match self.writer.as_deref_mut() {
            Some(w) => w.remove_rows(table.contract(), rows).map(Some),
            None => Ok(None),
        }
    }
}

/// A table written in parts.
#[derive(Debug)]
struct Open {
    contract: TableContract,
    /// The file being written, until the table is finished (partitioned tables have none).
    writer: Option<TableStream>,
    rows: u64,
    /// Partitions written, for partitioned tables.
    partitions: Option<u64>,
}

impl TableSink for RunWriter {
    fn rows(&mut self, contract: &TableContract, rows: DataFrame) -> Result<(), EngineError> {
        self.append(contract, &rows)
    }

    fn partition(&mut self, contract: &TableContract, as_of: i32, rows: DataFrame) -> Result<(), EngineError> {
        self.append_partition(contract, as_of, rows)
    }
}
