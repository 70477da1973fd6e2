//! Publishing a run: every table is written as Parquet into a staging folder inside the
//! output folder, then moved into place, and `_manifest.json` is written last. A reader that
//! finds a manifest finds the tables it lists. (Crash-proof publishing across several
//! tables is issue 5.)

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use ardent_engine::contracts::{self, TableContract};
use ardent_engine::ingest::Ingested;
use ardent_engine::ingest::quarantine::InputCounts;
use ardent_engine::sink::write_table;
use ardent_engine::{EngineError, contracts::InputKind};
use serde::Serialize;
use sha2::{Digest, Sha256};

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
    pub timings_ms: Vec<(String, u64)>,
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
    pub path: String,
    pub rows: u64,
    pub columns: Vec<(String, String)>,
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
pub fn publish(settings: &Settings, ingested: Ingested, mut timings: Timings) -> anyhow::Result<Manifest> {
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

    let Ingested { tables, mut quarantine, mut data_quality, .. } = ingested;
    let mut frames = [
        (contracts::LEDGER_TABLE, tables.ledger),
        (contracts::PAYMENTS_TABLE, tables.payments),
        (contracts::PAYMENT_REFS_TABLE, tables.payment_refs),
        (contracts::CUSTOMERS_TABLE, tables.customers),
        (contracts::FX_RATES_TABLE, tables.fx_rates),
    ];
    let mut outputs = Vec::new();
    let mut write = |contract: &TableContract, df: &mut polars::prelude::DataFrame| -> anyhow::Result<PathBuf> {
        let name = format!("{}.parquet", contract.name);
        let rows = write_table(df, contract, &staging.join(&name))?;
        outputs.push(ManifestOutput {
            table: contract.name,
            path: name.clone(),
            rows,
            columns: contract.columns.iter().map(|c| (c.name.to_string(), c.ty.parquet_name().to_string())).collect(),
        });
        Ok(PathBuf::from(name))
    };
    let mut names = Vec::new();
    for (contract, df) in frames.iter_mut() {
        names.push(write(contract, df)?);
    }
    names.push(write(&contracts::DATA_QUALITY_TABLE, &mut data_quality)?);
    names.push(write(&contracts::QUARANTINE_TABLE, &mut quarantine)?);

    // The old manifest goes first: while files are swapped, no manifest promises them.
    let manifest_path = out.join("_manifest.json");
    if manifest_path.exists() {
        std::fs::remove_file(&manifest_path).map_err(EngineError::io("removing", &manifest_path))?;
    }
    for name in &names {
        let from = staging.join(name);
        let to = out.join(name);
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
        timings_ms: timings.into_iter().map(|(s, ms)| (s.to_string(), ms)).collect(),
    };
    let tmp = staging.join("_manifest.json");
    let json = serde_json::to_string_pretty(&manifest).context("serialising the manifest")?;
    std::fs::write(&tmp, json).map_err(EngineError::io("writing", &tmp))?;
    std::fs::rename(&tmp, &manifest_path).map_err(EngineError::io("moving into place", &manifest_path))?;
    std::fs::remove_dir_all(&staging).map_err(EngineError::io("removing", &staging))?;
    Ok(manifest)
}
