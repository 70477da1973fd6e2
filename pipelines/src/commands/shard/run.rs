//! `ardent shard run --shard I`: one shard's part of the analytics. Its book holds only its
//! customers but covers the whole book's month ends, currencies and segments
//! ([`BookBuilder::shard_of`]), so everything it computes lines up with the other shards':
//! cash application, the per-customer tables (`applications`, `unapplied_cash`, `aging`,
//! `customer_payment_stats`), and the partial sums the merge adds (the monthly accumulators of
//! `kpi_monthly`, `cohorts` and `roll_rates`; `reconciliation`'s totals; the cash summary).
//! With the models on, it also counts its panels' labelled rows per month end (the outline
//! `shard draw` plans the models' splits with).

use std::time::Instant;

use anyhow::Context as _;
use ardent_engine::analytics::kpi::Monthly;
use ardent_engine::analytics::{Context, Selection, aging, analyse_some, applications, payment_stats, reconcile};
use ardent_engine::book::{Book, BookBuilder};
use ardent_engine::cash::apply_cash;
use ardent_engine::contracts::PAYMENT_REFS_TABLE;
use ardent_engine::sink::to_internal;
use ardent_models::sharded::{self, PanelOutline};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::split::{WholeFile, read};
use crate::cli::{ShardRunArgs, ShardWork};
use crate::location::Location;
use crate::printer::Printer;
use crate::settings::Settings;
use crate::shards::{self, Split};
use crate::table_folder::TableFolder;

/// The monthly accumulators of a shard, in its `out/` folder.
pub(super) const MONTHLY: &str = "monthly.json";
/// The outline of a shard's panels (labelled rows per month end), in its outline folder.
pub(super) const OUTLINE: &str = "outline.json";
/// The cash summary of a shard.
pub(super) const CASH: &str = "cash.json";

/// Payments received, left unapplied and applied per rule, in reporting cents: sums over
/// customers, so the shards' add up.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct CashSums {
    pub received: i64,
    pub unapplied: i64,
    pub by_rule: Vec<(String, i64)>,
}

/// The tables a shard writes as they are (the merge puts their rows in order).
pub(super) fn per_customer_tables(analysis: &ardent_engine::analytics::Analysis) -> Vec<String> {
    [
        applications::APPLICATIONS_TABLE.name,
        applications::UNAPPLIED_CASH_TABLE.name,
        aging::contract(&analysis.buckets).name,
        payment_stats::PAYMENT_STATS_TABLE.name,
        reconcile::RECONCILIATION_TABLE.name,
    ]
    .iter()
    .map(|t| t.to_string())
    .collect()
}

/// Shard `i`'s book (its customers, with the whole book's span, currencies and segments)
/// from its inputs, and the milliseconds reading them took.
pub(super) fn shard_book(
    split: &Split,
    work: &std::path::Path,
    i: u32,
    settings: &Settings,
) -> anyhow::Result<(Book, u64)> {
    let clock = Instant::now();
    let whole = WholeFile::read(split)?;
    let inputs = split.inputs(i);
    let (customers, ledger, payments) =
        (read(&inputs, "customers")?, read(&inputs, "ledger")?, read(&inputs, "payments")?);
    // Counts are stored signed; the book reads them as ardent carries them.
    let refs = to_internal(read(&inputs, "payment_refs")?, &PAYMENT_REFS_TABLE)?;
    let validated = Location::Local(shards::validated(work));
    let opened = crate::published::open(&validated, |t| t == "fx_rates")?;
    let fx = opened
        .files
        .read_columns("fx_rates", Some(&crate::commands::analytics::FX_COLUMNS))?
        .with_context(|| format!("{validated}: the validated output has no `fx_rates` table; validate again"))?;
    let read_ms = clock.elapsed().as_millis() as u64;
    let analysis = &settings.analysis;
    let mut builder = BookBuilder::new(
        &customers,
        &fx,
        &settings.ingest.reporting_currency,
        settings.ingest.max_rate_age_days,
        &analysis.segment_columns,
    )?
    .shard_of(&whole.whole)?;
    builder.ledger(&ledger)?;
    builder.payments(&payments)?;
    builder.payment_refs(&refs)?;
    drop((ledger, payments, refs));
    Ok((builder.finish()?, read_ms))
}

/// Run shard `args.shard`: its analytics, and with the models on, its panel's outline (for
/// `shard draw`). Each is skipped when its folder is complete already.
pub(super) fn run(args: ShardRunArgs, printer: &Printer) -> anyhow::Result<()> {
    let ShardRunArgs { step: ShardWork { pipeline, work, shards: n }, shard: i } = args;
    let clock = Instant::now();
    let settings = super::settings(pipeline, None)?;
    let split = Split::of(&work, n, &settings)?;
    split.check(i)?;
    let out = split.out(i);
    let outline = settings.models.then(|| split.models(&settings).outline(i));
    let analysed_already = shards::is_complete(&out);
    if analysed_already && outline.as_deref().is_none_or(shards::is_complete) {
        printer.info(
            "shard_done",
            format!("shard {i}: {} is complete already", out.display()),
            json!({"shard": i, "out": out.display().to_string(), "skipped": true}),
        );
        return Ok(());
    }
    let (book, read_ms) = shard_book(&split, &work, i, &settings)?;
    let apps = apply_cash(&book);
    let analysis = &settings.analysis;
    let mut timings = std::collections::BTreeMap::new();
    if !analysed_already {
        shards::begin(&out)?;
        let mut sink = TableFolder::new(&out)?;
        let analysed =
            analyse_some(&book, &apps, analysis, &Selection::Only(per_customer_tables(analysis)), &mut sink)?;
        sink.finish()?;
        let monthly = Monthly::build(&Context::new(&book, &apps, analysis))?;
        std::fs::write(out.join(MONTHLY), serde_json::to_vec(&monthly)?)
            .with_context(|| format!("writing {MONTHLY}"))?;
        let s = &analysed.cash_summary;
        let cash = CashSums {
            received: s.received,
            unapplied: s.unapplied,
            by_rule: s.by_rule.iter().map(|(rule, cents)| (rule.as_str().to_string(), *cents)).collect(),
        };
        std::fs::write(out.join(CASH), serde_json::to_vec_pretty(&cash)?).with_context(|| format!("writing {CASH}"))?;
        super::cash::write_history(&Context::new(&book, &apps, analysis), &out)?;
        shards::complete(&out)?;
        timings.extend(analysed.timings.iter().map(|(s, ms)| (s.to_string(), *ms)));
    }
    if let Some(dir) = outline.filter(|d| !shards::is_complete(d)) {
        let started = Instant::now();
        shards::begin(&dir)?;
        let ctx = Context::new(&book, &apps, analysis);
        let held = sharded::panel(&ctx, &settings.training)?;
        let outline = PanelOutline::of(&ctx, &held, &settings.training);
        std::fs::write(dir.join(OUTLINE), serde_json::to_vec(&outline)?)
            .with_context(|| format!("writing {OUTLINE}"))?;
        shards::complete(&dir)?;
        timings.insert("outline".to_string(), started.elapsed().as_millis() as u64);
    }
    let ms = clock.elapsed().as_millis() as u64;
    let inputs = split.inputs(i);
    let (bytes_read, bytes_written) = (shards::bytes_under(&inputs)?, shards::bytes_under(&out)?);
    printer.info(
        "shard_done",
        format!(
            "shard {i}: {} customers, {} documents, {} applications in {ms} ms (read {read_ms} ms)",
            book.customers.len(),
            book.docs.len(),
            apps.rows.len()
        ),
        json!({
            "shard": i,
            "customers": book.customers.len(),
            "documents": book.docs.len(),
            "applications": apps.rows.len(),
            "read_ms": read_ms,
            "bytes_read": bytes_read,
            "bytes_written": bytes_written,
            "timings_ms": timings,
            "ms": ms,
        }),
    );
    Ok(())
}
