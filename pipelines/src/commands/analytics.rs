//! `ardent analytics OUT --to DIR`: dashboard tables rebuilt from a published run's validated
//! tables (`ledger`, `payments`, `customers`, `fx_rates`) and its cash application
//! (`applications`), with the run's own settings or changed ones (`--set`), without ingesting
//! or applying cash again. The tables go to DIR as plain Parquet, laid out like a Parquet
//! output (`aging/as_of=…/part-0.parquet`, `<table>.parquet`), and are not published: DIR is
//! a work folder, not an output with runs and a manifest.
//!
//! It is also the equal-work entry point of the peer benchmark (`benches/peers`): the peers
//! read the same Parquet inputs and write the same three tables.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use ardent_engine::analytics::{self, Selection};
use ardent_engine::book::BookBuilder;
use ardent_engine::cash::applications_from_table;
use ardent_engine::sink::TableSink;
use serde_json::json;

use crate::cli::AnalyticsArgs;
use crate::location::Location;
use crate::printer::Printer;
use crate::settings::{self, DEFAULT_MAX_RATE_AGE_DAYS, PipelineConfig};
use crate::table_folder::TableFolder;

/// The `ledger` columns the book reads.
pub(crate) const LEDGER_COLUMNS: [&str; 11] = [
    "doc_id",
    "customer_id",
    "doc_type",
    "doc_date",
    "due_date",
    "amount",
    "currency",
    "fx_rate",
    "amount_reporting",
    "applies_to",
    "disputed",
];

/// The `payments` columns the book reads (references come from `invoice_refs`).
pub(crate) const PAYMENTS_COLUMNS: [&str; 8] =
    ["payment_id", "customer_id", "payment_date", "amount", "currency", "fx_rate", "amount_reporting", "invoice_refs"];

/// The `fx_rates` columns the book reads.
pub(crate) const FX_COLUMNS: [&str; 3] = ["date", "currency", "rate_to_reporting"];

/// The published tables the dashboards are rebuilt from, with the columns the book reads.
const INPUTS: [(&str, Option<&[&str]>); 5] = [
    ("customers", None),
    ("fx_rates", Some(&FX_COLUMNS)),
    ("ledger", Some(&LEDGER_COLUMNS)),
    ("payments", Some(&PAYMENTS_COLUMNS)),
    ("applications", Some(&["source_type", "source_id", "invoice_id", "date", "amount", "source_amount", "rule"])),
];

/// The tables this command builds, all of them when `--tables` is not given.
/// (`reconciliation` has the allowance's roll-forward check only with `ecl`.)
const DEFAULT_TABLES: [&str; 12] = [
    "aging",
    "kpi_monthly",
    "cohorts",
    "roll_rates",
    "ecl",
    "ecl_backtest",
    "cash_forecast",
    "cash_forecast_backtest",
    "cash_forecast_accuracy",
    "alerts",
    "customer_payment_stats",
    "reconciliation",
];

/// Rebuild the dashboard tables of the output at `args.out` into `args.to`.
pub fn analytics(args: AnalyticsArgs, printer: &Printer) -> anyhow::Result<()> {
    let AnalyticsArgs { out, to, tables, set } = args;
    let clock = Instant::now();
    let out = Location::parse(&out, Path::new("."))?;
    let opened = crate::published::open(&out, |t| INPUTS.iter().any(|(name, _)| *name == t))?;
    let manifest = &opened.manifest;
    let config: PipelineConfig = serde_json::from_value(
        manifest.config.clone().with_context(|| format!("{out}: the manifest holds no config to rebuild from"))?,
    )
    .with_context(|| format!("{out}: the manifest's config is not one this version reads; run `ardent run` again"))?;
    let overrides = set.iter().map(|s| settings::set_override(s)).collect::<Result<Vec<_>, _>>()?;
    let config = settings::with_overrides(&config, &overrides)?;
    let mut analysis = config.analytics.check().map_err(|e| anyhow::anyhow!("{out}: {e}"))?;
    analysis.ecl = config.ecl.check().map_err(|e| anyhow::anyhow!("{out}: {e}"))?;
    analysis.cash_forecast = config.cash_forecast.check().map_err(|e| anyhow::anyhow!("{out}: {e}"))?;
    analysis.alerts = config.alerts.check().map_err(|e| anyhow::anyhow!("{out}: {e}"))?;
    let max_rate_age = config.run.max_rate_age_days.unwrap_or(DEFAULT_MAX_RATE_AGE_DAYS);

    let names: Vec<String> =
        if tables.is_empty() { DEFAULT_TABLES.iter().map(|t| t.to_string()).collect() } else { tables };
    if let Some(name) = names.iter().find(|n| !DEFAULT_TABLES.contains(&n.as_str())) {
        anyhow::bail!("--tables: `{name}` is not a table this command builds; it builds {}", DEFAULT_TABLES.join(", "));
    }

    let mut frames = BTreeMap::new();
    for (table, columns) in INPUTS {
        let df = opened.files.read_columns(table, columns)?.with_context(|| {
            format!("{out}: the run published no `{table}` table, so its dashboards cannot be rebuilt")
        })?;
        frames.insert(table, df);
    }
    let read_ms = clock.elapsed().as_millis() as u64;
    let mut builder = BookBuilder::new(
        &frames["customers"],
        &frames["fx_rates"],
        &manifest.reporting_currency,
        max_rate_age,
        &analysis.segment_columns,
    )?;
    builder.ledger(&frames["ledger"])?;
    builder.payments(&frames["payments"])?;
    let (book, index) = builder.finish_indexed(true)?;
    let apps = applications_from_table(&book, &index, &frames["applications"])?;
    drop(frames);
    let index_ms = clock.elapsed().as_millis() as u64 - read_ms;

    // A table built again replaces the one a previous command left in DIR, so partitions of
    // other as-of dates never mix with the new ones.
    for name in &names {
        let (file, folder) = (to.join(format!("{name}.parquet")), to.join(name));
        if file.exists() {
            std::fs::remove_file(&file).with_context(|| format!("replacing {}", file.display()))?;
        }
        if folder.exists() {
            std::fs::remove_dir_all(&folder).with_context(|| format!("replacing {}", folder.display()))?;
        }
    }
    let mut sink = TableFolder::new(&to)?;
    let mut analysed = analytics::analyse_some(&book, &apps, &analysis, &Selection::Only(names.clone()), &mut sink)?;
    if let Some(parts) = analysed.ecl.take() {
        // The roll-rate method only: the PD method is the models' (`ardent run`).
        let (ecl, backtest) = parts.finish(None)?;
        let [ecl_contract, backtest_contract] = analytics::ecl::contracts();
        for (contract, df) in [(ecl_contract, ecl), (backtest_contract, backtest)] {
            if names.iter().any(|n| n == contract.name) {
                sink.rows(&contract, df)?;
            }
        }
    }
    if let Some(alerts) = analysed.alerts.take() {
        // The ledger's alerts only: the score alerts are the models' (`ardent run`).
        sink.rows(&analytics::alerts::ALERTS_TABLE, analytics::alerts::table(alerts)?)?;
    }
    let written = sink.finish()?;
    for check in &analysed.failed_checks {
        printer.warn(format!("reconciliation: {check}"));
    }
    let total_ms = clock.elapsed().as_millis() as u64;
    let timings: serde_json::Map<String, serde_json::Value> =
        analysed.timings.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    printer.info(
        "analytics_rebuilt",
        format!(
            "analytics: rebuilt {} from run {} into {} in {total_ms} ms (read {read_ms} ms, book and applications {index_ms} ms)",
            names.join(", "),
            manifest.run_id,
            to.display()
        ),
        json!({
            "run_id": manifest.run_id,
            "to": to.display().to_string(),
            "tables": written,
            "read_ms": read_ms,
            "index_ms": index_ms,
            "timings_ms": timings,
            "total_ms": total_ms,
        }),
    );
    if !analysed.failed_checks.is_empty() {
        anyhow::bail!("{} reconciliation checks failed (see above)", analysed.failed_checks.len());
    }
    Ok(())
}
