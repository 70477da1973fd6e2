//! `ardent shard merge`: the shards' results become one run, published to `--out` like
//! `ardent run` publishes (staged, then committed atomically under the output's write lock).
//!
//! - the validated tables, data quality and quarantine are the validation step's;
//! - per-customer tables are the shards' rows put in the order one machine writes them: every
//!   customer's rows come from one shard, in order, so merging the shards' files on the
//!   customer id (after the as-of date where there is one) gives exactly that order:
//!   `applications` and `customer_payment_stats` by a k-way merge a slice at a time
//!   ([`super::sorted`]), `aging` one as-of date at a time and `unapplied_cash` (payments before
//!   credits) by a stable sort;
//! - `kpi_monthly`, `cohorts` and `roll_rates` come from the sum of the shards' monthly
//!   accumulators (exact integers), with the ratios taken after the sum as one machine takes
//!   them; `reconciliation` from the sums of the shards' totals;
//! - with the models on, the model tables and artifacts of `shard train` and the shards' scores
//!   ([`super::models::publish`]);
//! - the cash forecast from the shards' sums of it ([`super::cash::publish`]), the allowance
//!   from the added monthly sums (and the PD method's), and `alerts` from the shards' ledger and
//!   score alerts.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use ardent_engine::EngineError;
use ardent_engine::analytics::kpi::Monthly;
use ardent_engine::analytics::{
    Analysed, Context, aging, applications, cohorts, ecl, kpi, payment_stats, reconcile, roll_rates,
};
use ardent_engine::book::BookBuilder;
use ardent_engine::cash::{Applications, Rule};
use ardent_engine::contracts::TableContract;
use ardent_engine::sink::TableSink;
use polars::prelude::*;
use serde_json::json;

use super::run::{CASH, CashSums, MONTHLY};
use super::sorted::{self, Key};
use super::split::WholeFile;
use crate::cli::{ShardMergeArgs, ShardWork};
use crate::location::Location;
use crate::lock::WriteLock;
use crate::printer::Printer;
use crate::publish::RunWriter;
use crate::shards::{self, Split, StepError};

/// Merge the shards and publish.
pub(super) fn merge(args: ShardMergeArgs, printer: &Printer) -> anyhow::Result<()> {
    let ShardMergeArgs { step: ShardWork { pipeline, work, shards: n }, out } = args;
    let clock = Instant::now();
    let settings = super::settings(pipeline, out)?;
    let split = Split::of(&work, n, &settings)?;
    let whole = WholeFile::read(&split)?;
    let outs: Vec<PathBuf> = (0..n).map(|i| split.out(i)).collect();
    if let Some(i) = (0..n).find(|&i| !shards::is_complete(&outs[i as usize])) {
        let why = format!("shard {i} has not run to completion; run `ardent shard run --shards {n} --shard {i}` first");
        return Err(StepError::NotReady(why).into());
    }
    if settings.models {
        super::models::ready(&split, &settings)?;
    }
    if settings.out.is_remote() {
        settings.out.has_published()?;
    }
    let started = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string();
    let lock = WriteLock::acquire(&settings.out, &format!("merging shards at {started}"), printer)?;
    let validated = Location::Local(shards::validated(&work));
    let opened = crate::published::open(&validated, |_| true)?;
    if opened.manifest.run_id != whole.validated_run {
        let why = format!("{validated}: validated again since the split; split and run the shards again");
        return Err(StepError::NotReady(why).into());
    }
    let mut writer = RunWriter::adopting(&settings, &opened.json, printer)?;
    lock.name_run(writer.run_id());
    writer.adopt(&opened.json, &opened.files, printer)?;
    let mut timings: Vec<(&'static str, u64)> = Vec::new();
    let mut lap = clock;
    let mut timed = |name: &'static str, timings: &mut Vec<(&'static str, u64)>| {
        timings.push((name, lap.elapsed().as_millis() as u64));
        lap = Instant::now();
    };
    timed("adopt", &mut timings);

    // A book of every customer and no event, spanning the whole book: the groups, as-of dates
    // and month ends the dashboards are laid out on.
    let analysis = &settings.analysis;
    let customers = opened.files.read("customers")?.context("the validated output has no customers table")?;
    let fx = opened
        .files
        .read_columns("fx_rates", Some(&crate::commands::analytics::FX_COLUMNS))?
        .context("the validated output has no fx_rates table")?;
    let book = BookBuilder::new(
        &customers,
        &fx,
        &settings.ingest.reporting_currency,
        settings.ingest.max_rate_age_days,
        &analysis.segment_columns,
    )?
    .shard_of(&whole.whole)?
    .finish()?;
    drop((customers, fx));
    let none = Applications::default();
    let ctx = Context::new(&book, &none, analysis);
    timed("whole_book", &mut timings);

    let read = |rel: &str| -> anyhow::Result<Vec<DataFrame>> {
        let mut parts = Vec::new();
        for dir in &outs {
            let path = dir.join(rel);
            if path.exists() {
                let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
                parts.push(anyhow::Context::with_context(ParquetReader::new(file).finish(), || {
                    format!("reading {}", path.display())
                })?);
            }
        }
        Ok(parts)
    };
    // The large per-customer tables: the shards' sorted files merged, a part at a time.
    let files = |contract: &TableContract| -> Vec<PathBuf> {
        outs.iter().map(|dir| dir.join(format!("{}.parquet", contract.name))).collect()
    };
    let apps = &applications::APPLICATIONS_TABLE;
    sorted::merge(&files(apps), Key::Customer, |df| Ok(writer.rows(apps, df)?))?;
    let unapplied = &applications::UNAPPLIED_CASH_TABLE;
    writer.rows(unapplied, unapplied_in_order(read(&format!("{}.parquet", unapplied.name))?)?)?;
    timed("applications", &mut timings);
    // `aging` a date at a time, the next date read and put in order while one is written.
    let aging_contract = aging::contract(&analysis.buckets);
    let date = |t: i32| -> anyhow::Result<DataFrame> {
        in_order(read(&crate::layout::partition_file(aging_contract.name, t))?, &aging_contract, &["customer_id"])
    };
    let mut next = ctx.as_of.first().map(|&t| date(t)).transpose()?;
    for (k, &t) in ctx.as_of.iter().enumerate() {
        let rows = next.take().context("an aging date read ahead")?;
        let (written, ahead) = rayon::join(
            || writer.partition(&aging_contract, t, rows),
            || ctx.as_of.get(k + 1).map(|&t| date(t)).transpose(),
        );
        written?;
        next = ahead?;
    }
    timed("aging", &mut timings);
    let mut monthly: Option<Monthly> = None;
    let mut cash = CashSums::default();
    for dir in &outs {
        let part: Monthly = serde_json::from_slice(&std::fs::read(dir.join(MONTHLY))?)
            .with_context(|| format!("reading {}", dir.join(MONTHLY).display()))?;
        monthly = Some(match monthly {
            None => part,
            Some(m) => m.merge(part)?,
        });
        let sums: CashSums = serde_json::from_slice(&std::fs::read(dir.join(CASH))?)
            .with_context(|| format!("reading {}", dir.join(CASH).display()))?;
        cash.received += sums.received;
        cash.unapplied += sums.unapplied;
        for (rule, cents) in sums.by_rule {
            match cash.by_rule.iter_mut().find(|(r, _)| *r == rule) {
                Some(slot) => slot.1 += cents,
                None => cash.by_rule.push((rule, cents)),
            }
        }
    }
    let monthly = monthly.context("no shard")?;
    let kpi_monthly = kpi::table(&ctx, &monthly)?;
    let kpi_rows = kpi_monthly.height();
    writer.rows(&kpi::KPI_MONTHLY_TABLE, kpi_monthly)?;
    writer.rows(&cohorts::COHORTS_TABLE, cohorts::table(&ctx, &monthly)?)?;
    writer.rows(&roll_rates::ROLL_RATES_TABLE, roll_rates::table(&ctx, &monthly)?)?;
    // The allowance's tables are written after the models' (the PD method uses their scores).
    let ecl_parts = ecl::build(&ctx, &monthly)?;
    timed("kpi_cohorts_roll_rates", &mut timings);
    let stats = &payment_stats::PAYMENT_STATS_TABLE;
    sorted::merge(&files(stats), Key::AsOfCustomer, |df| Ok(writer.rows(stats, df)?))?;
    let (reconciliation, failed) = reconcile::merge(
        &read(&format!("{}.parquet", reconcile::RECONCILIATION_TABLE.name))?,
        &whole.whole.currencies,
        &ecl_parts.checks,
    )?;
    writer.rows(&reconcile::RECONCILIATION_TABLE, reconciliation)?;
    timed("payment_stats_reconciliation", &mut timings);
    if !failed.is_empty() {
        for f in &failed {
            printer.line(format!("  reconciliation FAILED: {f}"));
        }
        return Err(EngineError::Reconciliation {
            message: format!("{} check(s) failed, first: {}", failed.len(), failed[0]),
        }
        .into());
    }
    let cash_summary = ardent_engine::analytics::applications::CashSummary {
        by_rule: Rule::ALL
            .iter()
            .map(|&r| (r, cash.by_rule.iter().find(|(name, _)| name == r.as_str()).map_or(0, |(_, c)| *c)))
            .collect(),
        received: cash.received,
        unapplied: cash.unapplied,
    };
    let analysed = Analysed {
        cash_summary,
        failed_checks: Vec::new(),
        as_of_dates: ctx.as_of.clone(),
        kpi_rows,
        timings: Vec::new(),
        ecl: None,
        cash_forecast: false,
        alerts: None,
    };
    writer.dashboards(&analysed, &settings, printer)?;
    super::cash::publish(&split, &settings, &ctx, &mut writer, printer)?;
    timed("cash_forecast", &mut timings);
    let (mut ecl_pd, mut score_alerts) = (None, Vec::new());
    if settings.models {
        (ecl_pd, score_alerts) = super::models::publish(&split, &settings, &mut writer, printer)?;
        timed("models", &mut timings);
    }
    writer.ecl(ecl_parts, ecl_pd.as_ref(), printer)?;
    let mut alerts = super::cash::read_alerts(&split, |i| split.out(i))?;
    alerts.extend(score_alerts);
    writer.alerts(alerts, printer)?;
    let manifest = writer.commit(&settings, timings, None, &lock, printer)?;
    printer.line(format!("published {} tables of {n} shards to {}", manifest.outputs.len(), settings.out));
    let mut summary = manifest.summary(&settings.out);
    summary.insert("shards".into(), json!(n));
    printer.event("run_summary", summary.into());
    Ok(())
}

/// The shards' `parts` of a table as one, rows in one machine's order: stably sorted by `by`.
pub(super) fn in_order(parts: Vec<DataFrame>, contract: &TableContract, by: &[&str]) -> anyhow::Result<DataFrame> {
    let mut all = concat(parts, contract)?;
    if all.height() > 1 {
        let by: Vec<PlSmallStr> = by.iter().map(|c| (*c).into()).collect();
        all = all.sort(by, SortMultipleOptions::default().with_maintain_order(true))?;
    }
    Ok(all)
}

/// `unapplied_cash` lists every unapplied payment (by customer) before every unapplied credit.
fn unapplied_in_order(parts: Vec<DataFrame>) -> anyhow::Result<DataFrame> {
    let contract = &applications::UNAPPLIED_CASH_TABLE;
    let mut all = concat(parts, contract)?;
    let credit: BooleanChunked = all.column("source_type")?.str()?.iter().map(|t| Some(t != Some("payment"))).collect();
    all.with_column(credit.with_name("__credit".into()).into_column())?;
    let all = all.sort(["__credit", "customer_id"], SortMultipleOptions::default().with_maintain_order(true))?;
    Ok(all.drop("__credit")?)
}

/// The parts one after the other (an empty frame of the contract's columns when there are none).
fn concat(parts: Vec<DataFrame>, contract: &TableContract) -> anyhow::Result<DataFrame> {
    let mut parts = parts.into_iter();
    let Some(mut all) = parts.next() else {
        anyhow::bail!("no shard wrote `{}`", contract.name);
    };
    for p in parts {
        all.vstack_mut(&p)?;
    }
    all.rechunk_mut();
    Ok(all)
}
