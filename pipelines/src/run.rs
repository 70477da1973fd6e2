//! The stages of a run, in order: ingest (read, validate, quarantine), analytics (cash
//! application, snapshots, dashboard tables, reconciliation), models (features, labels,
//! training, evaluation, scores), publish. Each stage records
//! its wall time for the manifest.

use std::time::Instant;

use ardent_engine::EngineError;
use ardent_engine::analytics::analyse_into;
use ardent_engine::book::{Book, BookTables};
use ardent_engine::cash::apply_cash;
use ardent_engine::collections::audit::Jurisdictions;
use ardent_engine::collections::log::LogBuilder;
use ardent_engine::contracts::TableContract;
use ardent_engine::ingest::quarantine::Outcome;
use ardent_engine::ingest::{Ingested, Sink, ingest_into};
use ardent_engine::sink::{DiscardTables, TableSink};
use ardent_models::ModelError;
use polars::prelude::DataFrame;

use serde_json::json;

use crate::printer::Printer;
use crate::publish::{RunSink, RunWriter};
use crate::settings::Settings;

/// Wall time per stage, in milliseconds, in execution order.
pub type Timings = Vec<(&'static str, u64)>;

/// Receives a run's validated rows as ingest produces them, besides the run's own tables (a
/// sharded run's validation cuts them into shards as it goes).
pub trait Tee: ardent_engine::ingest::Sink {
    /// The run is named, before ingest.
    fn open(&mut self, run_id: &str) -> anyhow::Result<()>;
    /// The run is published.
    fn finish(&mut self) -> anyhow::Result<()>;
}

/// Copy inputs at object-store URLs into their local folders.
pub fn fetch_stage(settings: &Settings, printer: &Printer) -> anyhow::Result<Timings> {
    let mut timings = Vec::new();
    if !settings.remote_inputs.is_empty() {
        let started = Instant::now();
        for r in &settings.remote_inputs {
            let names = r.remote.mirror(r.pattern.as_ref(), &r.local)?;
            let url = r.remote.url_of("");
            if names.is_empty() {
                let what = r.pattern.as_ref().map_or(String::new(), |p| format!(" matching `{p}`"));
                return Err(EngineError::MissingInput {
                    input: r.kind.name().to_string(),
                    message: format!("no export file{what} at {url}; check `inputs.{}.path`", r.kind.name()),
                }
                .into());
            }
            printer.info(
                "inputs_fetched",
                format!("fetched {} file(s) for {} from {url}", names.len(), r.kind.name()),
                json!({"input": r.kind.name(), "files": names.len(), "from": url}),
            );
        }
        timings.push(("fetch", started.elapsed().as_millis() as u64));
    }
    Ok(timings)
}

/// Read and validate every input; the validated ledger, payments and references go to
/// `sink` as they are validated.
pub fn ingest_stage(
    settings: &Settings,
    sink: &mut dyn Sink,
    printer: &Printer,
) -> anyhow::Result<(Ingested, Timings)> {
    let started = Instant::now();
    let ingested = ingest_into(&settings.ingest, sink)?;
    let ms = started.elapsed().as_millis() as u64;
    let rows: u64 = ingested.counts.iter().map(|(_, c)| c.rows_read).sum();
    printer.info(
        "ingested",
        format!("ingest: {rows} rows from {} files in {ms} ms", ingested.files.len()),
        json!({"rows": rows, "files": ingested.files.len(), "ms": ms}),
    );
    for s in &ingested.sources {
        printer.info(
            "source_read",
            format!(
                "  {:<24} {:>10} rows  read {:>6} ms  route  {:>6} ms",
                format!("source {}", s.source),
                s.counts.rows_read,
                s.read_ms,
                s.route_ms
            ),
            json!({"source": s.source, "rows": s.counts.rows_read, "read_ms": s.read_ms, "route_ms": s.route_ms}),
        );
    }
    for f in &ingested.files {
        printer.info(
            "file_read",
            format!("  {:<24} {:>10} rows  read {:>6} ms  validate {:>6} ms", f.name, f.rows, f.read_ms, f.validate_ms),
            json!({"input": f.input, "file": f.name, "rows": f.rows, "read_ms": f.read_ms, "validate_ms": f.validate_ms}),
        );
    }
    Ok((ingested, vec![("ingest", ms)]))
}

/// Print rows read, accepted and quarantined per input, and the rules that fired.
pub fn report_quality(ingested: &Ingested, printer: &Printer) {
    for s in &ingested.sources {
        let c = &s.counts;
        let ignored: Vec<String> = c.rows_ignored.iter().map(|(why, n)| format!("{n} {why}")).collect();
        printer.line(format!(
            "source {}: {} rows read = {} to the ledger + {} to payments + {} ignored{}{}",
            s.source,
            c.rows_read,
            c.rows_to_ledger,
            c.rows_to_payments,
            c.ignored(),
            if ignored.is_empty() { String::new() } else { format!(" ({})", ignored.join(", ")) },
            if c.derived_payments > 0 {
                format!("; {} payments derived from settlement dates", c.derived_payments)
            } else {
                String::new()
            }
        ));
    }
    for note in &ingested.notes {
        printer.line(note.clone());
    }
    printer.line(format!(
        "{:<10} {:>12} {:>12} {:>12} {:>8} {:>9}",
        "input", "read", "accepted", "quarantined", "share", "flagged"
    ));
    for (kind, c) in &ingested.counts {
        let share = if c.rows_read == 0 { 0.0 } else { 100.0 * c.rows_quarantined as f64 / c.rows_read as f64 };
        printer.line(format!(
            "{:<10} {:>12} {:>12} {:>12} {:>7.2}% {:>9}",
            kind.name(),
            c.rows_read,
            c.rows_accepted,
            c.rows_quarantined,
            share,
            c.rows_flagged
        ));
        let mut by_rule: std::collections::BTreeMap<(&str, &str, &str), u64> = Default::default();
        for ((input, rule, column), n) in &ingested.summary.counts {
            if input == kind {
                *by_rule.entry((rule.name(), column, rule.outcome().name())).or_default() += n;
            }
        }
        if c.rows_superseded > 0 {
            printer.line(format!(
                "  {:>8} rows replaced by a later export of the same id (latest export wins)",
                c.rows_superseded
            ));
        }
        for ((rule, column, outcome), n) in by_rule {
            let example = ingested
                .summary
                .examples
                .iter()
                .find(|((i, r, c), _)| i == kind && r.name() == rule && *c == column)
                .map(|(_, e)| format!("e.g. {} row {}: {}", e.file, e.row, e.message))
                .unwrap_or_default();
            let tag = if outcome == Outcome::Flagged.name() { " (kept)" } else { "" };
            printer.line(format!("  {:>8} {rule}{tag} [{column}]  {example}", n));
        }
    }
}

/// Index validated tables held as frames (from [`ardent_engine::ingest::ingest`]) as the
/// settings say (reporting currency, FX rate age, segment columns). Runs build the book
/// while ingesting instead (see [`crate::publish::RunSink`]).
pub fn index(settings: &Settings, ingested: &Ingested) -> Result<Book, EngineError> {
    let t = &ingested.tables;
    Book::from_tables(
        BookTables {
            ledger: &t.ledger,
            payments: &t.payments,
            payment_refs: &t.payment_refs,
            customers: &t.customers,
            fx_rates: &t.fx_rates,
        },
        &settings.ingest.reporting_currency,
        settings.ingest.max_rate_age_days,
        &settings.analysis.segment_columns,
    )
}

/// Sort the book that ingest filled (timed as `index`).
pub fn index_stage(sink: RunSink<'_>) -> anyhow::Result<(Option<Book>, Option<LogBuilder>, Timings)> {
    let started = Instant::now();
    let (book, activities) = sink.book()?;
    let timings = if book.is_some() { vec![("index", started.elapsed().as_millis() as u64)] } else { Vec::new() };
    Ok((book, activities, timings))
}

/// What the collections tables need besides the book: the activities as ingest gathered
/// them, and each customer's limitation period (from the validated customers' region and
/// country).
#[derive(Debug)]
pub struct CollectionsInput {
    pub log: LogBuilder,
    pub places: Jurisdictions,
}

impl CollectionsInput {
    /// The activities of `ingested` with the customers' jurisdictions.
    pub fn of(log: LogBuilder, book: &Book, ingested: &Ingested, settings: &Settings) -> Result<Self, EngineError> {
        let places = Jurisdictions::from_customers(book, &ingested.tables.customers, &settings.analysis.compliance)?;
        Ok(CollectionsInput { log, places })
    }
}

/// Apply cash and build every dashboard table from the book, then (with `with_models` and
/// `models.enabled`) train, evaluate and score. With a `writer`, each table is written as
/// soon as it exists and dropped, so the run never holds everything at once. Fails (and so
/// publishes nothing) when a reconciliation check does not pass. Returns the stage timings.
pub fn analytics_stage(
    settings: &Settings,
    book: Book,
    collections: Option<CollectionsInput>,
    with_models: bool,
    mut writer: Option<&mut RunWriter>,
    printer: &Printer,
) -> anyhow::Result<Timings> {
    let mut timings = Vec::new();
    let started = Instant::now();
    let apps = apply_cash(&book);
    timings.push(("cash_application", started.elapsed().as_millis() as u64));
    let started = Instant::now();
    let dashboards = match writer.as_deref_mut() {
        Some(w) => analyse_into(&book, &apps, &settings.analysis, &mut Progress { inner: w, printer, dates: 0 })?,
        // Checking only (validate): the tables are built and dropped.
        None => analyse_into(
            &book,
            &apps,
            &settings.analysis,
            &mut Progress { inner: &mut DiscardTables, printer, dates: 0 },
        )?,
    };
    timings.push(("analytics", started.elapsed().as_millis() as u64));
    printer.info(
        "analytics_timings",
        format!("  {}", dashboards.timings.iter().map(|(s, ms)| format!("{s} {ms} ms")).collect::<Vec<_>>().join(", ")),
        json!({"timings_ms": dashboards.timings.iter().map(|(s, ms)| (s.to_string(), *ms)).collect::<std::collections::BTreeMap<_, _>>()}),
    );
    let s = &dashboards.cash_summary;
    let received = s.received.max(1) as f64;
    let shares: Vec<String> = s
        .by_rule
        .iter()
        .map(|(rule, cents)| format!("{} {:.1}%", rule.as_str(), 100.0 * *cents as f64 / received))
        .filter(|x| !x.ends_with(" 0.0%"))
        .collect();
    printer.line(format!(
        "cash applied: {}; unapplied {:.1}% ({} applications)",
        shares.join(", "),
        100.0 * s.unapplied as f64 / received,
        apps.rows.len()
    ));
    let ms: u64 = timings.iter().map(|(_, ms)| ms).sum();
    printer.info(
        "analysed",
        format!("analytics: {} as-of dates, {} kpi rows in {ms} ms", dashboards.as_of_dates.len(), dashboards.kpi_rows),
        json!({"as_of_dates": dashboards.as_of_dates.len(), "kpi_rows": dashboards.kpi_rows, "ms": ms}),
    );
    if !dashboards.failed_checks.is_empty() {
        for f in &dashboards.failed_checks {
            printer.line(format!("  reconciliation FAILED: {f}"));
        }
        return Err(EngineError::Reconciliation {
            message: format!(
                "{} check(s) failed, first: {}",
                dashboards.failed_checks.len(),
                dashboards.failed_checks[0]
            ),
        }
        .into());
    }
    let mut dashboards = dashboards;
    let ecl = dashboards.ecl.take();
    let ledger_alerts = dashboards.alerts.take();
    let mut score_alerts = Vec::new();
    match writer.as_deref_mut() {
        Some(w) => w.dashboards(&dashboards, settings, printer)?,
        None => drop(dashboards),
    }
    let mut ecl_pd = None;
    let mut risk = None;
    if with_models && settings.training.enabled {
        printer.stage("models", 2, 4);
        let started = Instant::now();
        let out: &mut dyn TableSink = match writer.as_deref_mut() {
            Some(w) => w,
            None => &mut DiscardTables,
        };
        let progress = |step: &str| printer.step("models", step);
        match ardent_models::run::run(&book, &apps, &settings.analysis, &settings.training, out, &progress) {
            Ok(mut run) => {
                timings.push(("models", started.elapsed().as_millis() as u64));
                printer.info(
                    "model_timings",
                    format!("  {}", run.timings.iter().map(|(s, ms)| format!("{s} {ms} ms")).collect::<Vec<_>>().join(", ")),
                    json!({"timings_ms": run.timings.iter().map(|(s, ms)| (s.to_string(), *ms)).collect::<std::collections::BTreeMap<_, _>>()}),
                );
                for line in &run.summary {
                    printer.line(line);
                }
                ecl_pd = run.ecl_pd.take();
                risk = run.risk.take();
                score_alerts = std::mem::take(&mut run.alerts);
                if let Some(w) = writer.as_deref_mut() {
                    w.models(run, printer)?;
                }
            }
            Err(ModelError::NotEnoughHistory(why) | ModelError::NoSignal(why)) => {
                // Dashboards are still worth publishing; the manifest says why models are absent.
                printer.line(format!("models skipped: {why}"));
                if let Some(w) = writer.as_deref_mut() {
                    w.models_skipped(why);
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    // The collections tables before the alerts: their broken promises join them.
    let mut promise_alerts = Vec::new();
    if let Some(input) = collections {
        let started = Instant::now();
        let log = input.log.finish(&book)?;
        let sorted_ms = started.elapsed().as_millis() as u64;
        let last_day = book
            .date_range()
            .map_or(i32::MIN, |(_, last)| last)
            .max(log.rows.iter().map(|a| a.local_day()).max().unwrap_or(i32::MIN));
        let built = ardent_engine::collections::build(
            &log,
            &book,
            &apps,
            &input.places,
            risk.as_ref(),
            &settings.analysis,
            last_day,
        )?;
        timings.push(("collections", started.elapsed().as_millis() as u64));
        printer.info(
            "collections",
            format!("collections: {} activities, {} compliance findings", built.activities, built.findings),
            json!({"activities": built.activities, "findings": built.findings}),
        );
        let steps: Vec<(&str, u64)> =
            std::iter::once(("log", sorted_ms)).chain(built.timings.iter().copied()).collect();
        printer.info(
            "collections_timings",
            format!("  {}", steps.iter().map(|(s, ms)| format!("{s} {ms} ms")).collect::<Vec<_>>().join(", ")),
            json!({"timings_ms": steps.iter().map(|(s, ms)| (s.to_string(), *ms)).collect::<std::collections::BTreeMap<_, _>>()}),
        );
        promise_alerts = built.alerts;
        if let Some(w) = writer.as_deref_mut() {
            for (contract, df) in built.tables {
                w.table(&contract, df, printer)?;
            }
        }
    }
    // The allowance after the models: the PD method uses their scores.
    if let Some(w) = writer {
        if let Some(parts) = ecl {
            w.ecl(parts, ecl_pd.as_ref(), printer)?;
        }
        // The alerts after the models: the score alerts come from them.
        if let Some(mut alerts) = ledger_alerts {
            alerts.extend(score_alerts);
            alerts.extend(promise_alerts);
            w.alerts(alerts, printer)?;
        }
    }
    Ok(timings)
}

/// Passes the analytics tables on to `inner`, saying on `printer` which table or as-of date
/// the stage has reached (the bar's message on a terminal, `progress` events in JSON).
struct Progress<'a> {
    inner: &'a mut dyn TableSink,
    printer: &'a Printer,
    dates: usize,
}

impl TableSink for Progress<'_> {
    fn rows(&mut self, contract: &TableContract, rows: DataFrame) -> Result<(), EngineError> {
        let n = rows.height();
        self.inner.rows(contract, rows)?;
        self.printer.step("analytics", &format!("{}: {n} rows", contract.name));
        Ok(())
    }

    fn partition(&mut self, contract: &TableContract, as_of: i32, rows: DataFrame) -> Result<(), EngineError> {
        self.inner.partition(contract, as_of, rows)?;
        self.dates += 1;
        let day = ardent_engine::calendar::format_day(as_of);
        self.printer.step("analytics", &format!("{} as of {day} ({} dates)", contract.name, self.dates));
        Ok(())
    }
}
