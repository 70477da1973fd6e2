//! Publishing a run: every table is written as Parquet into a staging folder inside the
//! output folder, then moved into place, and `_manifest.json` is written last. A reader that
//! finds a manifest finds the tables it lists. (Crash-proof publishing across several
//! tables is issue 5.)

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use ardent_engine::analytics::{self, Dashboards};
use ardent_engine::contracts::{self, TableContract};
use ardent_engine::ingest::Ingested;
use ardent_engine::ingest::quarantine::InputCounts;
use ardent_engine::sink::write_table;
use ardent_engine::{EngineError, contracts::InputKind};
use polars::prelude::DataFrame;
use serde::Serialize;
use sha2::{Digest, Sha256};

use ardent_models::run::ModelRun;

use crate::run::Timings;
use crate::settings::{PipelineConfig, Settings};

/// `_manifest.json`: what a run read, wrote and how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub run_id: String,
    pub ardent_version: &'static str,
    pub polars_version: &'static str,
    pub started_at: String,
    pub finished_at: String,
    pub config_path: String,
    pub config: PipelineConfig,
    pub reporting_currency: String,
    pub max_rejected_share: f64,
    pub inputs: Vec<ManifestInput>,
    pub outputs: Vec<ManifestOutput>,
    pub cash_application: CashApplication,
    /// The models trained, when models ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<ManifestModels>,
    /// Why models were skipped, when they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models_skipped: Option<String>,
    pub timings_ms: Vec<(String, u64)>,
}

/// The models of a run.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestModels {
    /// The customer-level champion (it writes customer_scores).
    pub champion: String,
    /// The invoice-level model (it writes invoice_predictions); absent when it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice_champion: Option<String>,
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
    /// A file, or a folder (ending in `/`) of Hive-style partitions.
    pub path: String,
    pub rows: u64,
    /// The partition column and the number of partitions, for partitioned tables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partitioned_by: Option<(&'static str, u64)>,
    pub columns: Vec<(String, String)>,
}

impl ManifestOutput {
    fn new(contract: &TableContract, path: String, rows: u64, partitions: Option<u64>) -> Self {
        ManifestOutput {
            table: contract.name,
            path,
            rows,
            partitioned_by: contract.partition.zip(partitions),
            columns: contract.columns.iter().map(|c| (c.name.to_string(), c.ty.parquet_name().to_string())).collect(),
        }
    }
}

/// Share of received cash applied by each rule.
#[derive(Debug, Clone, Serialize)]
pub struct CashApplication {
    pub received_reporting: f64,
    pub applied_share_by_rule: Vec<(&'static str, f64)>,
    pub unapplied_share: f64,
}

fn sha256(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buf[..n]);
    }
    let digest = hasher.finalize();
    Ok((digest.iter().map(|b| format!("{b:02x}")).collect(), bytes))
}

fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Write every table and the manifest to `settings.out`.
pub fn publish(
    settings: &Settings,
    ingested: Ingested,
    dashboards: Dashboards,
    models: Option<ModelRun>,
    models_skipped: Option<String>,
    mut timings: Timings,
) -> anyhow::Result<Manifest> {
    let started_at = now();
    let t0 = Instant::now();
    let out = &settings.out;
    std::fs::create_dir_all(out).map_err(EngineError::io("creating the output folder", out))?;
    let mut inputs = Vec::new();
    for kind in InputKind::ALL {
        let Some((_, counts)) = ingested.counts.iter().find(|(k, _)| *k == kind) else { continue };
        let mut files = Vec::new();
        for f in ingested.files.iter().filter(|f| f.input == kind.name()) {
            let (sha, bytes) = sha256(&f.path).map_err(EngineError::io("checksumming", &f.path))?;
            files.push(ManifestFile { path: f.name.clone(), format: f.format, rows: f.rows, bytes, sha256: sha });
        }
        inputs.push(ManifestInput { input: kind.name(), counts: *counts, files });
    }
    let run_id = {
        let mut h = Sha256::new();
        for i in &inputs {
            for f in &i.files {
                h.update(f.sha256.as_bytes());
            }
        }
        h.update(serde_json::to_vec(&settings.config).unwrap_or_default());
        let d = h.finalize();
        format!(
            "{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ"),
            d.iter().take(4).map(|b| format!("{b:02x}")).collect::<String>()
        )
    };
    let staging = out.join(format!(".staging-{run_id}"));
    std::fs::create_dir_all(&staging).map_err(EngineError::io("creating", &staging))?;

    let Ingested { tables, quarantine, data_quality, .. } = ingested;
    let cash_summary = dashboards.cash_summary.clone();
    let analytics::TablesToWrite { flat: dashboard_tables, aging: (aging_contract, aging) } =
        dashboards.into_tables(&settings.analysis);
    let mut flat: Vec<(TableContract, DataFrame)> = vec![
        (contracts::LEDGER_TABLE.clone(), tables.ledger),
        (contracts::PAYMENTS_TABLE.clone(), tables.payments),
        (contracts::PAYMENT_REFS_TABLE.clone(), tables.payment_refs),
        (contracts::CUSTOMERS_TABLE.clone(), tables.customers),
        (contracts::FX_RATES_TABLE.clone(), tables.fx_rates),
        (contracts::DATA_QUALITY_TABLE.clone(), data_quality),
        (contracts::QUARANTINE_TABLE.clone(), quarantine),
    ];
    flat.extend(dashboard_tables);
    let mut names = Vec::new();
    let mut manifest_models = None;
    if let Some(run) = models {
        flat.extend(run.tables);
        let mut candidates = Vec::new();
        let (mut champion, mut invoice_champion) = (String::new(), None);
        for (id, file, card) in &run.artifacts {
            ardent_models::artifact::write(&staging.join("models").join(id), file, card)?;
            match (file.champion, file.task.as_str()) {
                (true, "invoice_late") => invoice_champion = Some(id.clone()),
                (true, _) => champion = id.clone(),
                _ => {}
            }
            candidates.push(ManifestModel {
                model_id: id.clone(),
                path: format!("models/{id}/"),
                out_of_time_auc: file.metrics.out_of_time.auc,
                calibrated: file.metrics.calibrated,
            });
        }
        names.push("models".to_string());
        manifest_models = Some(ManifestModels { champion, invoice_champion, candidates });
    }
    let mut outputs = Vec::new();
    for (contract, mut df) in flat {
        let name = format!("{}.parquet", contract.name);
        let rows = write_table(&mut df, &contract, &staging.join(&name))?;
        outputs.push(ManifestOutput::new(&contract, name.clone(), rows, None));
        names.push(name);
    }
    let aging_contract = &aging_contract;
    let mut rows = 0;
    let partitions = aging.len() as u64;
    for (as_of, mut df) in aging {
        let path = staging
            .join(aging_contract.name)
            .join(format!("as_of={}", ardent_engine::calendar::format_day(as_of)))
            .join("part-0.parquet");
        rows += write_table(&mut df, aging_contract, &path)?;
    }
    std::fs::create_dir_all(staging.join(aging_contract.name)).map_err(EngineError::io("creating", &staging))?;
    outputs.push(ManifestOutput::new(aging_contract, format!("{}/", aging_contract.name), rows, Some(partitions)));
    names.push(aging_contract.name.to_string());

    // The old manifest goes first: while files are swapped, no manifest promises them.
    let manifest_path = out.join("_manifest.json");
    if manifest_path.exists() {
        std::fs::remove_file(&manifest_path).map_err(EngineError::io("removing", &manifest_path))?;
    }
    for name in &names {
        let from = staging.join(name);
        let to = out.join(name);
        if to.is_dir() {
            std::fs::remove_dir_all(&to).map_err(EngineError::io("replacing", &to))?;
        }
        std::fs::rename(&from, &to).map_err(EngineError::io("moving into place", &to))?;
    }
    timings.push(("publish", t0.elapsed().as_millis() as u64));
    let manifest = Manifest {
        run_id,
        ardent_version: env!("CARGO_PKG_VERSION"),
        polars_version: "0.55.2",
        started_at,
        finished_at: now(),
        config_path: settings.config_path.display().to_string(),
        config: settings.config.clone(),
        reporting_currency: settings.ingest.reporting_currency.clone(),
        max_rejected_share: settings.max_rejected_share,
        inputs,
        outputs,
        cash_application: CashApplication {
            received_reporting: cash_summary.received as f64 / 100.0,
            applied_share_by_rule: cash_summary
                .by_rule
                .iter()
                .map(|(r, c)| (r.as_str(), *c as f64 / cash_summary.received.max(1) as f64))
                .collect(),
            unapplied_share: cash_summary.unapplied as f64 / cash_summary.received.max(1) as f64,
        },
        models: manifest_models,
        models_skipped,
        timings_ms: timings.into_iter().map(|(s, ms)| (s.to_string(), ms)).collect(),
    };
    let tmp = staging.join("_manifest.json");
    let json = serde_json::to_string_pretty(&manifest).context("serialising the manifest")?;
    std::fs::write(&tmp, json).map_err(EngineError::io("writing", &tmp))?;
    std::fs::rename(&tmp, &manifest_path).map_err(EngineError::io("moving into place", &manifest_path))?;
    std::fs::remove_dir_all(&staging).map_err(EngineError::io("removing", &staging))?;
    Ok(manifest)
}
