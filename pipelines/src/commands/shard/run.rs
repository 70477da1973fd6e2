//! `ardent shard run --shard I`: one shard's part of the analytics. Its book holds only its
//! customers but covers the whole book's month ends, currencies and segments
//! ([`BookBuilder::shard_of`]), so everything it computes lines up with the other shards':
//! cash application, the per-customer tables (`applications`, `unapplied_cash`, `aging`,
//! `customer_payment_stats`), and the partial sums the merge adds (the monthly accumulators of
//! `kpi_monthly`, `cohorts` and `roll_rates`; `reconciliation`'s totals; the cash summary).

use std::time::Instant;

use anyhow::Context as _;
use ardent_engine::analytics::kpi::Monthly;
use ardent_engine::analytics::{Context, Selection, aging, analyse_some, applications, payment_stats, reconcile};
use ardent_engine::book::BookBuilder;
use ardent_engine::cash::apply_cash;
use ardent_engine::contracts::PAYMENT_REFS_TABLE;
use ardent_engine::sink::to_internal;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::split::{WholeFile, read};
use crate::cli::{ShardRunArgs, ShardWork};
use crate::location::Location;
use crate::printer::Printer;
use crate::shards::{self, Split};
use crate::table_folder::TableFolder;

/// The monthly accumulators of a shard, in its `out/` folder.
pub(super) const MONTHLY: &str = "monthly.json";
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

/// Run shard `args.shard`.
pub(super) fn run(args: ShardRunArgs, printer: &Printer) -> anyhow::Result<()> {
    let ShardRunArgs { step: ShardWork { pipeline, work, shards: n }, shard: i } = args;
    let clock = Instant::now();
    let settings = super::settings(pipeline, None)?;
    let split = Split::of(&work, n, &settings)?;
    split.check(i)?;
    let out = split.out(i);
    if shards::is_complete(&out) {
        printer.info(
            "shard_done",
            format!("shard {i}: {} is complete already", out.display()),
            json!({"shard": i, "out": out.display().to_string(), "skipped": true}),
        );
        return Ok(());
    }
    let whole = WholeFile::read(&split)?;
    shards::begin(&out)?;
    let inputs = split.inputs(i);
    let (customers, ledger, payments) =
        (read(&inputs, "customers")?, read(&inputs, "ledger")?, read(&inputs, "payments")?);
    // Counts are stored signed; the book reads them as ardent carries them.
    let refs = to_internal(read(&inputs, "payment_refs")?, &PAYMENT_REFS_TABLE)?;
    let validated = Location::Local(shards::validated(&work));
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
    let book = builder.finish()?;
    let apps = apply_cash(&book);
    let mut sink = TableFolder::new(&out)?;
    let analysed = analyse_some(&book, &apps, analysis, &Selection::Only(per_customer_tables(analysis)), &mut sink)?;
    sink.finish()?;
    let monthly = Monthly::build(&Context::new(&book, &apps, analysis))?;
    std::fs::write(out.join(MONTHLY), serde_json::to_vec(&monthly)?).with_context(|| format!("writing {MONTHLY}"))?;
    let s = &analysed.cash_summary;
    let cash = CashSums {
        received: s.received,
        unapplied: s.unapplied,
        by_rule: s.by_rule.iter().map(|(rule, cents)| (rule.as_str().to_string(), *cents)).collect(),
    };
    std::fs::write(out.join(CASH), serde_json::to_vec_pretty(&cash)?).with_context(|| format!("writing {CASH}"))?;
    shards::complete(&out)?;
    let ms = clock.elapsed().as_millis() as u64;
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
            "timings_ms": analysed.timings.iter().map(|(s, ms)| (s.to_string(), *ms)).collect::<std::collections::BTreeMap<_, _>>(),
            "ms": ms,
        }),
    );
    Ok(())
}
