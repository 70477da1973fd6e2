//! AR analytics (docs/definitions.md): from the [`Book`] and its cash [`Applications`] to the
//! dashboard tables, as of every snapshot date.
//!
//! [`analyse`] takes checked [`Analysis`] parameters and builds, each in its own module:
//! [`aging`] (per as-of date and customer), [`kpi`] (`kpi_monthly`: the DSO family, CEI,
//! delinquency, days to pay), [`cohorts`] (billing vintages), [`roll_rates`] (bucket
//! transitions), [`payment_stats`] (`customer_payment_stats`), and [`reconcile`], whose
//! checks must all pass before anything is published. The [`cash`](crate::cash) tables
//! (`applications`, `unapplied_cash`) are in [`applications`].
//!
//! Every number as of `t` is computed from documents dated `≤ t` and applications dated
//! `≤ t` only (see [`walk`]), so later data never changes it; all sums are exact integers,
//! so results do not depend on the thread count or the input row order.

pub mod aging;
pub mod alerts;
pub mod applications;
pub mod cash_forecast;
pub mod cohorts;
mod context;
pub mod ecl;
pub mod features;
pub mod frame;
pub mod invoices;
pub mod kpi;
pub mod labels;
pub mod params;
pub mod payment_stats;
pub mod reconcile;
pub mod roll_rates;
pub mod walk;

use polars::prelude::DataFrame;

use crate::book::Book;
use crate::cash::Applications;
use crate::contracts::TableContract;
use crate::error::{EngineError, Result};
use crate::sink::TableSink;
pub use context::{Context, Groups};
pub use params::{Analysis, AnalyticsParams};

/// The dashboard tables of a run.
#[derive(Debug)]
pub struct Dashboards {
    /// Aging per as-of date (the table is partitioned by `as_of`).
    pub aging: Vec<(i32, DataFrame)>,
    pub kpi_monthly: DataFrame,
    pub cohorts: DataFrame,
    pub roll_rates: DataFrame,
    pub customer_payment_stats: DataFrame,
    pub reconciliation: DataFrame,
    pub applications: DataFrame,
    pub unapplied_cash: DataFrame,
    /// Share of applied cash per rule, for the run summary.
    pub cash_summary: applications::CashSummary,
    /// Checks that failed (empty when everything reconciles).
    pub failed_checks: Vec<String>,
    /// The as-of dates of the aging snapshots.
    pub as_of_dates: Vec<i32>,
    /// Wall time per table builder, in milliseconds.
    pub timings: Vec<(&'static str, u64)>,
}

/// The contracts of the analytics tables for these parameters, in publishing order.
pub fn contracts(analysis: &Analysis) -> Vec<TableContract> {
    vec![
        applications::APPLICATIONS_TABLE.clone(),
        applications::UNAPPLIED_CASH_TABLE.clone(),
        aging::contract(&analysis.buckets),
        kpi::KPI_MONTHLY_TABLE.clone(),
        cohorts::COHORTS_TABLE.clone(),
        roll_rates::ROLL_RATES_TABLE.clone(),
        payment_stats::PAYMENT_STATS_TABLE.clone(),
        reconcile::RECONCILIATION_TABLE.clone(),
    ]
}

/// Every table a run publishes for these parameters: the validated inputs, data quality
/// and quarantine, then the analytics tables and the allowance's.
pub fn output_tables(analysis: &Analysis) -> Vec<TableContract> {
    let mut all: Vec<TableContract> = crate::contracts::OUTPUT_TABLES.iter().map(|t| (*t).clone()).collect();
    all.extend(contracts(analysis));
    all.extend(ecl::contracts());
    all.extend(cash_forecast::contracts());
    all.push(alerts::ALERTS_TABLE.clone());
    all.extend(crate::collections::contracts());
    all
}

/// Every output table with the default parameters (what `ardent schema` documents).
pub fn default_output_tables() -> Vec<TableContract> {
    let analysis = AnalyticsParams::default().check().unwrap_or_else(|e| unreachable!("defaults are valid: {e}"));
    output_tables(&analysis)
}

/// What building the dashboard tables established, besides the tables.
#[derive(Debug)]
pub struct Analysed {
    /// Share of applied cash per rule, for the run summary.
    pub cash_summary: applications::CashSummary,
    /// Checks that failed (empty when everything reconciles).
    pub failed_checks: Vec<String>,
    /// The as-of dates of the aging snapshots.
    pub as_of_dates: Vec<i32>,
    /// Rows of `kpi_monthly`.
    pub kpi_rows: usize,
    /// Wall time per table builder, in milliseconds.
    pub timings: Vec<(&'static str, u64)>,
    /// The allowance's tables, to be finished with the models' PDs and written by the caller
    /// (when `ecl` or `ecl_backtest` is selected).
    pub ecl: Option<ecl::Parts>,
    /// The cash forecast's tables ([`cash_forecast::contracts`]) were built into the sink.
    pub cash_forecast: bool,
    /// The ledger's alerts, to be written with the models' by the caller (when `alerts` is
    /// selected).
    pub alerts: Option<Vec<alerts::Alert>>,
}

/// Build every dashboard table into `out` as it is built (the large ones in parts), so the
/// tables never exist all at once.
pub fn analyse_into(
    book: &Book,
    apps: &Applications,
    analysis: &Analysis,
    out: &mut dyn TableSink,
) -> Result<Analysed> {
    analyse_some(book, apps, analysis, &Selection::All, out)
}

/// Which dashboard tables to build.
#[derive(Debug, Clone)]
pub enum Selection {
    All,
    /// These tables (names of [`contracts`]); the ones they are computed from are built
    /// without being written.
    Only(Vec<String>),
}

impl Selection {
    fn wants(&self, table: &str) -> bool {
        match self {
            Selection::All => true,
            Selection::Only(names) => names.iter().any(|n| n == table),
        }
    }
}

/// A sink that passes on the selected tables only.
struct Chosen<'a> {
    selection: &'a Selection,
    out: &'a mut dyn TableSink,
}

impl TableSink for Chosen<'_> {
    fn rows(&mut self, contract: &TableContract, rows: DataFrame) -> Result<()> {
        if self.selection.wants(contract.name) {
            self.out.rows(contract, rows)?;
        }
        Ok(())
    }

    fn partition(&mut self, contract: &TableContract, as_of: i32, rows: DataFrame) -> Result<()> {
        if self.selection.wants(contract.name) {
            self.out.partition(contract, as_of, rows)?;
        }
        Ok(())
    }
}

/// Build the `selection` of the dashboard tables into `out` (see [`analyse_into`]).
pub fn analyse_some(
    book: &Book,
    apps: &Applications,
    analysis: &Analysis,
    selection: &Selection,
    out: &mut dyn TableSink,
) -> Result<Analysed> {
    let ctx = Context::new(book, apps, analysis);
    let mut timings = Vec::new();
    let mut clock = std::time::Instant::now();
    let mut lap = |name: &'static str| {
        timings.push((name, clock.elapsed().as_millis() as u64));
        clock = std::time::Instant::now();
    };
    let wants = |table: &str| selection.wants(table);
    let out = &mut Chosen { selection, out };
    let aging_name = aging::contract(&analysis.buckets).name;
    let mut cash_summary = applications::CashSummary::default();
    if wants(applications::APPLICATIONS_TABLE.name) || wants(applications::UNAPPLIED_CASH_TABLE.name) {
        cash_summary = applications::tables(&ctx, out)?;
        lap("applications");
    }
    let aging = if wants(aging_name) || wants(reconcile::RECONCILIATION_TABLE.name) {
        let aging = aging::build(&ctx, out)?;
        lap("aging");
        Some(aging)
    } else {
        None
    };
    let mut kpi_rows = 0;
    let monthly_tables = [
        kpi::KPI_MONTHLY_TABLE.name,
        cohorts::COHORTS_TABLE.name,
        roll_rates::ROLL_RATES_TABLE.name,
        ecl::ECL_TABLE.name,
    ];
    let mut ecl_parts = None;
    if monthly_tables.iter().any(|t| wants(t)) {
        let monthly = kpi::Monthly::build(&ctx)?;
        if wants(kpi::KPI_MONTHLY_TABLE.name) {
            let kpi_monthly = kpi::table(&ctx, &monthly)?;
            kpi_rows = kpi_monthly.height();
            out.rows(&kpi::KPI_MONTHLY_TABLE, kpi_monthly)?;
        }
        if wants(cohorts::COHORTS_TABLE.name) {
            out.rows(&cohorts::COHORTS_TABLE, cohorts::table(&ctx, &monthly)?)?;
        }
        if wants(roll_rates::ROLL_RATES_TABLE.name) {
            out.rows(&roll_rates::ROLL_RATES_TABLE, roll_rates::table(&ctx, &monthly)?)?;
        }
        if wants(ecl::ECL_TABLE.name) || wants(ecl::ECL_BACKTEST_TABLE.name) {
            // Written by the caller once the models have run (the PD method needs their PDs).
            ecl_parts = Some(ecl::build(&ctx, &monthly)?);
        }
        lap("kpi_cohorts_roll_rates");
    }
    let mut forecast_built = false;
    if analysis.cash_forecast.enabled && cash_forecast::contracts().iter().any(|t| wants(t.name)) {
        for (contract, rows) in cash_forecast::contracts().iter().zip(cash_forecast::build(&ctx)?) {
            out.rows(contract, rows)?;
        }
        forecast_built = true;
        lap("cash_forecast");
    }
    let mut ledger_alerts = None;
    if wants(alerts::ALERTS_TABLE.name) {
        ledger_alerts = Some(alerts::from_ledger(&ctx)?);
        lap("alerts");
    }
    if wants(payment_stats::PAYMENT_STATS_TABLE.name) {
        payment_stats::table(&ctx, out)?;
        lap("customer_payment_stats");
    }
    let mut failed_checks = Vec::new();
    if let (true, Some(aging)) = (wants(reconcile::RECONCILIATION_TABLE.name), &aging) {
        let checks = ecl_parts.as_ref().map_or(&[][..], |p| p.checks.as_slice());
        let (reconciliation, failed) = reconcile::table(&ctx, aging, checks)?;
        out.rows(&reconcile::RECONCILIATION_TABLE, reconciliation)?;
        failed_checks = failed;
        lap("reconciliation");
    }
    Ok(Analysed {
        cash_summary,
        failed_checks,
        as_of_dates: ctx.as_of,
        kpi_rows,
        timings,
        ecl: ecl_parts,
        cash_forecast: forecast_built,
        alerts: ledger_alerts,
    })
}

/// Build every dashboard table, all held in memory (see [`analyse_into`]).
pub fn analyse(book: &Book, apps: &Applications, analysis: &Analysis) -> Result<Dashboards> {
    let mut t = crate::sink::CollectTables::default();
    let a = analyse_into(book, apps, analysis, &mut t)?;
    let mut take = |contract: &TableContract| {
        t.take(contract.name)
            .ok_or_else(|| EngineError::Analysis { message: format!("{} was not built", contract.name) })
    };
    Ok(Dashboards {
        kpi_monthly: take(&kpi::KPI_MONTHLY_TABLE)?,
        cohorts: take(&cohorts::COHORTS_TABLE)?,
        roll_rates: take(&roll_rates::ROLL_RATES_TABLE)?,
        customer_payment_stats: take(&payment_stats::PAYMENT_STATS_TABLE)?,
        reconciliation: take(&reconcile::RECONCILIATION_TABLE)?,
        applications: take(&applications::APPLICATIONS_TABLE)?,
        unapplied_cash: take(&applications::UNAPPLIED_CASH_TABLE)?,
        aging: t.take_partitions(aging::contract(&analysis.buckets).name),
        cash_summary: a.cash_summary,
        failed_checks: a.failed_checks,
        as_of_dates: a.as_of_dates,
        timings: a.timings,
    })
}
