//! `report.html`: what an analyst looks at first. Every published run carries one (written
//! from the run's tables before they are published), and `ardent report OUT` writes one for
//! any published output. [`data`] gathers the numbers from the tables, [`page`] lays them out;
//! [`collections`] does both for the collections section.

pub mod collections;
pub mod data;
pub mod page;

use std::path::Path;

use crate::location::Location;
use data::{ReportData, Source};

/// The report of the tables in `source`.
pub fn render(source: &Source, run_id: &str, currency: &str, champion: Option<&str>) -> anyhow::Result<String> {
    let data = ReportData::gather(source, run_id, currency, champion)?;
    page::render(&data)
}

/// The report of the output published at `out` (object-store tables are fetched into a
/// temporary folder first).
pub fn of_output(out: &Location) -> anyhow::Result<String> {
    let opened = crate::published::open(out, needed)?;
    let champion = opened.manifest.models.as_ref().and_then(|m| m.champion.clone());
    render(&opened.files, &opened.manifest.run_id, &opened.manifest.reporting_currency, champion.as_deref())
}

/// The tables the report reads.
pub fn needed(table: &str) -> bool {
    [
        "kpi_monthly",
        "aging",
        "roll_rates",
        "ecl",
        "ecl_backtest",
        "cash_forecast",
        "cash_forecast_accuracy",
        "alerts",
        "cohorts",
        "customer_scores",
        "data_quality",
        "model_metrics",
        "model_calibration",
        "feature_importance",
    ]
    .contains(&table)
        || collections::TABLES.contains(&table)
}

/// Write `html` to `path`.
pub fn write(path: &Path, html: &str) -> anyhow::Result<()> {
    std::fs::write(path, html).map_err(ardent_engine::EngineError::io("writing", path))?;
    Ok(())
}
