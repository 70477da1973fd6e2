//! `report.html`: what an analyst looks at first. Every published run carries one (written
//! from the run's tables before they are published), and `ardent report OUT` writes one for
//! any published output. [`data`] gathers the numbers from the tables, [`page`] lays them out.

pub mod data;
pub mod page;

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::layout::MANIFEST;
use crate::location::Location;
use data::{ReportData, Source};

/// The report of the tables in `source`.
pub fn render(source: &Source, run_id: &str, currency: &str, champion: Option<&str>) -> anyhow::Result<String> {
    let data = ReportData::gather(source, run_id, currency, champion)?;
    page::render(&data)
}

/// The partition value (`as_of`) of a data file from its folder, if it has one.
pub fn partition_of(rel: &str) -> Option<String> {
    rel.split('/').find_map(|part| part.strip_prefix("as_of=")).map(str::to_string)
}

/// The parts of a manifest the report reads.
#[derive(Debug, Deserialize)]
struct Published {
    run_id: String,
    data_prefix: String,
    reporting_currency: String,
    outputs: Vec<PublishedOutput>,
    files: Vec<crate::files::RunFile>,
    #[serde(default)]
    models: Option<PublishedModels>,
}

#[derive(Debug, Deserialize)]
struct PublishedOutput {
    table: String,
    path: String,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    files: Vec<crate::files::RunFile>,
}

#[derive(Debug, Deserialize)]
struct PublishedModels {
    #[serde(default)]
    champion: Option<String>,
}

/// The report of the output published at `out` (object-store tables are fetched into a
/// temporary folder first).
pub fn of_output(out: &Location) -> anyhow::Result<String> {
    let text = match out {
        Location::Local(root) => {
            let path = root.join(MANIFEST);
            std::fs::read(&path)
                .with_context(|| format!("{}: no manifest; is this an ardent output?", path.display()))?
        }
        Location::Remote(remote) => remote
            .get(MANIFEST)?
            .with_context(|| format!("{}: no manifest; is this an ardent output?", remote.url_of(MANIFEST)))?,
    };
    let manifest: Published = serde_json::from_slice(&text)
        .with_context(|| format!("{out}/{MANIFEST} is not a manifest this version reads"))?;
    let temp = match out {
        Location::Remote(_) => Some(tempfile::Builder::new().prefix("ardent-report-").tempdir()?),
        Location::Local(_) => None,
    };
    let local = |rel: &str| -> anyhow::Result<PathBuf> {
        match (out, &temp) {
            (Location::Local(root), _) => Ok(root.join(rel)),
            (Location::Remote(remote), Some(t)) => {
                let to = t.path().join(rel);
                remote.fetch(rel, &to)?;
                Ok(to)
            }
            (Location::Remote(_), None) => unreachable!("a remote output is fetched into a temporary folder"),
        }
    };
    let mut source = Source::default();
    for o in manifest.outputs.iter().filter(|o| needed(&o.table)) {
        if o.version.is_some() {
            for f in &o.files {
                source.add(&o.table, partition_of(&f.path), local(&format!("{}/{}", o.table, f.path))?);
            }
        } else {
            let held = manifest.files.iter().filter(|f| crate::layout::table_holds(&o.path, &f.path));
            for f in held.filter(|f| f.path.ends_with(".parquet")) {
                source.add(&o.table, partition_of(&f.path), local(&format!("{}{}", manifest.data_prefix, f.path))?);
            }
        }
    }
    let champion = manifest.models.and_then(|m| m.champion);
    render(&source, &manifest.run_id, &manifest.reporting_currency, champion.as_deref())
}

/// The tables the report reads.
pub fn needed(table: &str) -> bool {
    [
        "kpi_monthly",
        "aging",
        "roll_rates",
        "cohorts",
        "customer_scores",
        "data_quality",
        "model_metrics",
        "model_calibration",
        "feature_importance",
    ]
    .contains(&table)
}

/// Write `html` to `path`.
pub fn write(path: &Path, html: &str) -> anyhow::Result<()> {
    std::fs::write(path, html).map_err(ardent_engine::EngineError::io("writing", path))?;
    Ok(())
}
