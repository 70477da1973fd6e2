//! `ardent verify OUT`: is a published output what its manifest says? [`verify`] reads the
//! root `_manifest.json` of a local folder or object-store prefix and returns a [`Report`]
//! of every check: each listed file exists with its size and SHA-256, the run folder holds
//! nothing unlisted, each Delta table's version named by the manifest was committed by the run
//! and holds exactly the files listed, every table's Parquet footer (read with the `parquet`
//! crate) matches its documented contract for the run's config and its row count, the input
//! counts add up, and every reconciliation check passed.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use ardent_engine::contracts::{OutType, TableContract};
use parquet::basic::{Compression, LogicalType};
use parquet::file::reader::{FileReader, SerializedFileReader};
use polars::prelude::{ParquetReader, SerReader};
use serde::Deserialize;

use crate::files::RunFile;
use crate::layout::MANIFEST;
use crate::location::Location;
use crate::settings::PipelineConfig;

/// The parts of `_manifest.json` that verification reads.
#[derive(Debug, Deserialize)]
struct Published {
    run_id: String,
    data_prefix: String,
    config: PipelineConfig,
    inputs: Vec<PublishedInput>,
    #[serde(default)]
    sources: Vec<PublishedSource>,
    outputs: Vec<PublishedOutput>,
    files: Vec<RunFile>,
    /// Present when the analytics stage ran (and so reconciliation did).
    cash_application: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct PublishedSource {
    source: String,
    rows_read: u64,
    rows_to_ledger: u64,
    rows_to_payments: u64,
    rows_ignored: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Deserialize)]
struct PublishedInput {
    input: String,
    rows_read: u64,
    rows_accepted: u64,
    rows_quarantined: u64,
}

#[derive(Debug, Deserialize)]
struct PublishedOutput {
    table: String,
    path: String,
    rows: u64,
    columns: Vec<(String, String)>,
    /// Delta: the version the run committed, and its data files.
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    files: Vec<RunFile>,
}

/// A published output that cannot be verified at all (no manifest).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotPublished(pub String);

/// A published output that failed verification (exit code 7).
#[derive(Debug, thiserror::Error)]
#[error("{out}: {failed} of {total} checks failed (run {run_id})")]
pub struct VerifyFailed {
    pub out: String,
    pub run_id: String,
    pub failed: usize,
    pub total: usize,
}

/// The result of one check.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    /// Empty when the check passed; otherwise what is wrong.
    pub problems: Vec<String>,
}

/// Every check of one published output.
#[derive(Debug, Clone)]
pub struct Report {
    pub run_id: String,
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.problems.is_empty())
    }
}

/// Verify the output published at `out`.
pub fn verify(out: &Location) -> anyhow::Result<Report> {
    let (text, fetched) = match out {
        Location::Local(root) => {
            let path = root.join(MANIFEST);
            let text = std::fs::read(&path).map_err(|e| {
                NotPublished(format!(
                    "{}: no readable manifest ({e}); is this an ardent output folder?",
                    path.display()
                ))
            })?;
            (text, None)
        }
        Location::Remote(remote) => {
            let text = remote.get(MANIFEST)?.ok_or_else(|| {
                NotPublished(format!("{}: no manifest; is this an ardent output?", remote.url_of(MANIFEST)))
            })?;
            (text, Some(tempfile::Builder::new().prefix("ardent-verify-").tempdir()?))
        }
    };
    let manifest: Published = serde_json::from_slice(&text)
        .map_err(|e| NotPublished(format!("{out}/{MANIFEST} is not an ardent manifest this version reads: {e}")))?;
    let prefix = manifest.data_prefix.trim_end_matches('/').to_string();
    // Where each run file can be read locally.
    let run_dir: PathBuf = match (out, &fetched) {
        (Location::Local(root), _) => root.join(&prefix),
        (Location::Remote(_), Some(temp)) => temp.path().to_path_buf(),
        (Location::Remote(_), None) => unreachable!("a remote output is fetched into a temporary folder"),
    };

    let mut checks = Vec::new();
    let mut problems = Vec::new();
    let listed: BTreeSet<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
    let present: Vec<(String, u64)> = match out {
        Location::Local(_) => crate::files::relative_files(&run_dir)?
            .into_iter()
            .map(|(rel, full)| (rel, std::fs::metadata(full).map(|m| m.len()).unwrap_or(0)))
            .collect(),
        Location::Remote(remote) => remote
            .list(&prefix)?
            .into_iter()
            .map(|(rel, size)| (rel.strip_prefix(&format!("{prefix}/")).unwrap_or(&rel).to_string(), size))
            .collect(),
    };
    for (rel, _) in &present {
        if rel != MANIFEST && !listed.contains(rel.as_str()) {
            problems.push(format!("{rel}: in the run folder but not in the manifest"));
        }
    }
    for f in &manifest.files {
        let full = run_dir.join(&f.path);
        if let Location::Remote(remote) = out {
            if !present.iter().any(|(rel, _)| *rel == f.path) {
                problems.push(format!("{}: listed in the manifest but missing", f.path));
                continue;
            }
            remote.fetch(&format!("{prefix}/{}", f.path), &full)?;
        }
        problems.extend(differs(&f.path, &full, f));
    }
    checks.push(Check { name: format!("{} files match the manifest (size, SHA-256)", manifest.files.len()), problems });

    // Each Delta table's version: committed by this run, holding exactly the files listed.
    let delta: Vec<&PublishedOutput> = manifest.outputs.iter().filter(|o| o.version.is_some()).collect();
    // Where each table's data files can be read locally, by output.
    let mut table_files: Vec<Vec<(String, PathBuf)>> = Vec::with_capacity(manifest.outputs.len());
    if !delta.is_empty() {
        let tables = crate::delta::Tables::at(out)?;
        let mut problems = Vec::new();
        for o in &manifest.outputs {
            let Some(version) = o.version else { continue };
            let name = o.table.as_str();
            match tables.run_of_version(name, version)? {
                Some(run) if run == manifest.run_id => {}
                Some(run) => problems.push(format!("{name}: version {version} was committed by run {run}")),
                None => problems.push(format!("{name}: no version {version} committed by ardent")),
            }
            let mut listed: Vec<(String, u64)> = o.files.iter().map(|f| (f.path.clone(), f.bytes)).collect();
            listed.sort();
            match tables.files_at(name, Some(version))? {
                None => problems.push(format!("{name}: no Delta table with version {version}")),
                Some(found) => {
                    if found != listed {
                        problems.push(format!(
                            "{name}: version {version} holds {} files, the manifest lists {} (or their sizes differ)",
                            found.len(),
                            listed.len()
                        ));
                    }
                }
            }
        }
        checks.push(Check {
            name: format!("{} Delta table versions were committed by this run and hold the files listed", delta.len()),
            problems,
        });
    }
    let mut problems = Vec::new();
    for o in &manifest.outputs {
        let mut files = Vec::new();
        if o.version.is_some() {
            for f in &o.files {
                let rel = format!("{}/{}", o.table, f.path);
                let full = match (out, &fetched) {
                    (Location::Local(root), _) => root.join(&rel),
                    (Location::Remote(remote), Some(temp)) => {
                        let to = temp.path().join("_tables").join(&rel);
                        if let Err(e) = remote.fetch(&rel, &to) {
                            problems.push(format!("{rel}: listed in the manifest but not fetched: {e}"));
                            continue;
                        }
                        to
                    }
                    (Location::Remote(_), None) => unreachable!("a remote output is fetched into a temporary folder"),
                };
                problems.extend(differs(&rel, &full, f));
                files.push((rel, full));
            }
        } else {
            for f in manifest.files.iter().filter(|f| crate::layout::table_holds(&o.path, &f.path)) {
                files.push((f.path.clone(), run_dir.join(&f.path)));
            }
        }
        files.retain(|(rel, _)| rel.ends_with(".parquet"));
        table_files.push(files);
    }
    if !delta.is_empty() {
        let n: usize = delta.iter().map(|o| o.files.len()).sum();
        checks.push(Check { name: format!("{n} Delta data files match the manifest (size, SHA-256)"), problems });
    }

    let contracts = contracts_of(&manifest.config)?;
    let mut problems = Vec::new();
    for (o, files) in manifest.outputs.iter().zip(&table_files) {
        let Some(contract) = contracts.iter().find(|c| c.name == o.table) else {
            problems.push(format!("{}: not a table ardent documents (see `ardent schema`)", o.table));
            continue;
        };
        let documented: Vec<(String, String)> =
            contract.columns.iter().map(|c| (c.name.to_string(), c.ty.parquet_name().to_string())).collect();
        if o.columns != documented {
            problems.push(format!("{}: the manifest's columns differ from the documented contract", o.table));
        }
        // A partitioned table without rows has no partition (no month end in a short history).
        if files.is_empty() && !(o.path.ends_with('/') && o.rows == 0) {
            problems.push(format!("{}: no Parquet file under {}", o.table, o.path));
            continue;
        }
        let mut rows = 0;
        for (rel, full) in files {
            match check_footer(full, contract) {
                Ok(n) => rows += n,
                Err(why) => problems.push(format!("{rel}: {why}")),
            }
        }
        if rows != o.rows {
            problems.push(format!("{}: {rows} rows in the files, the manifest says {}", o.table, o.rows));
        }
    }
    checks.push(Check {
        name: format!("{} tables match their documented schemas and row counts", manifest.outputs.len()),
        problems,
    });

    let problems = manifest
        .inputs
        .iter()
        .filter(|i| i.rows_read != i.rows_accepted + i.rows_quarantined)
        .map(|i| {
            format!(
                "{}: {} rows read but {} accepted + {} quarantined",
                i.input, i.rows_read, i.rows_accepted, i.rows_quarantined
            )
        })
        .collect();
    checks.push(Check { name: "every input row was accepted or quarantined".into(), problems });
    if !manifest.sources.is_empty() {
        let problems = manifest
            .sources
            .iter()
            .filter_map(|s| {
                let ignored: u64 = s.rows_ignored.values().sum();
                (s.rows_read != s.rows_to_ledger + s.rows_to_payments + ignored).then(|| {
                    format!(
                        "source {}: {} rows read but {} to the ledger + {} to payments + {ignored} ignored",
                        s.source, s.rows_read, s.rows_to_ledger, s.rows_to_payments
                    )
                })
            })
            .collect();
        checks.push(Check { name: "every source row was routed or deliberately ignored".into(), problems });
    }

    let mut problems = Vec::new();
    match manifest.outputs.iter().position(|o| o.table == "reconciliation") {
        None if manifest.cash_application.is_none() => {
            checks.push(Check { name: "reconciliation: not run (no analytics stage)".into(), problems });
            return Ok(Report { run_id: manifest.run_id, checks });
        }
        None => problems.push("no reconciliation table".to_string()),
        Some(i) => {
            for (rel, full) in &table_files[i] {
                match failed_reconciliations(full) {
                    Ok(0) => {}
                    Ok(n) => problems.push(format!("{n} reconciliation check(s) did not pass")),
                    Err(why) => problems.push(format!("{rel}: {why}")),
                }
            }
        }
    }
    checks.push(Check { name: "every reconciliation check passed".into(), problems });
    Ok(Report { run_id: manifest.run_id, checks })
}

/// What is wrong with the file `full` (shown as `rel`) against its manifest entry `f`: unreadable,
/// another size or another SHA-256.
fn differs(rel: &str, full: &Path, f: &RunFile) -> Option<String> {
    match crate::files::sha256(full) {
        Err(e) => Some(format!("{rel}: listed in the manifest but unreadable: {e}")),
        Ok((_, bytes)) if bytes != f.bytes => Some(format!("{rel}: {bytes} bytes, the manifest says {}", f.bytes)),
        Ok((sha, _)) if sha != f.sha256 => Some(format!("{rel}: SHA-256 {sha}, the manifest says {}", f.sha256)),
        Ok(_) => None,
    }
}

/// The documented output contracts for a run's config.
fn contracts_of(config: &PipelineConfig) -> anyhow::Result<Vec<TableContract>> {
    let analysis =
        config.analytics.check().map_err(|e| NotPublished(format!("the manifest's config does not check: {e}")))?;
    let mut all = ardent_engine::analytics::output_tables(&analysis);
    all.extend(ardent_models::tables::contracts());
    Ok(all)
}

/// Check a Parquet footer against `contract` (columns, logical types, zstd, statistics);
/// returns its row count.
fn check_footer(path: &Path, contract: &TableContract) -> Result<u64, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let reader = SerializedFileReader::new(file).map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let meta = reader.metadata();
    let schema = meta.file_metadata().schema_descr();
    let columns: Vec<_> = contract.file_columns().collect();
    let names: Vec<String> = (0..schema.num_columns()).map(|i| schema.column(i).name().to_string()).collect();
    let expected: Vec<String> = columns.iter().map(|c| c.name.to_string()).collect();
    if names != expected {
        return Err(format!("columns {names:?}, the contract says {expected:?}"));
    }
    for (i, col) in columns.iter().enumerate() {
        let logical = schema.column(i).logical_type_ref().cloned();
        let want = match col.ty {
            OutType::Money => Some(LogicalType::decimal(2, 18)),
            OutType::Rate => Some(LogicalType::decimal(10, 18)),
            OutType::Date => Some(LogicalType::Date),
            OutType::Text => Some(LogicalType::String),
            _ => continue,
        };
        if logical != want {
            return Err(format!("column {} is {logical:?}, the contract says {}", col.name, col.ty.parquet_name()));
        }
    }
    for rg in meta.row_groups() {
        for c in rg.columns() {
            if !matches!(c.compression(), Compression::ZSTD(_)) {
                return Err(format!("column {} is compressed with {:?}, not zstd", c.column_path(), c.compression()));
            }
            if rg.num_rows() > 0 && c.statistics().is_none() {
                return Err(format!("column {} has no statistics", c.column_path()));
            }
        }
    }
    Ok(meta.file_metadata().num_rows() as u64)
}

/// Rows of the reconciliation table whose `passed` is not true.
fn failed_reconciliations(path: &Path) -> Result<usize, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let df = ParquetReader::new(file).finish().map_err(|e| e.to_string())?;
    let passed = df.column("passed").and_then(|c| c.bool().cloned()).map_err(|e| e.to_string())?;
    Ok(passed.iter().filter(|p| *p != Some(true)).count())
}
