//! The cash forecast in a sharded run. `shard run` writes each shard's payment history
//! ([`HISTORY`] in its `out/` folder: observed weeks per hazard cell and lateness sums, exact
//! integers); `shard draw` adds every shard's history into the whole book's, makes this
//! shard's sums of the forecasts from it ([`Parts`]: the quick forecasts and the simulated
//! futures of its customers) and writes them to `cash-<key>/shard-i`; the merge adds the
//! shards' parts and finishes the three tables as one machine does. The futures' draws are
//! keyed by customer id, so a customer's future is the same whichever shard holds it.

use std::time::Instant;

use anyhow::Context as _;
use ardent_engine::analytics::Context;
use ardent_engine::analytics::cash_forecast::{self, History, Parts};
use ardent_engine::cash::apply_cash;
use serde_json::json;

use super::models::every_shard;
use super::run::shard_book;
use crate::cli::ShardWork;
use crate::printer::Printer;
use crate::publish::RunWriter;
use crate::settings::Settings;
use crate::shards::{self, Split};

/// A shard's payment history, in its `out/` folder.
pub(super) const HISTORY: &str = "cash_history.json";
/// A shard's sums of the forecasts, in its `cash-<key>/shard-i` folder.
const PARTS: &str = "parts.json";

/// Write this shard's history (during `shard run`).
/// Written whether or not the forecast is on, so a shard's run serves either. The shard's
/// ledger alerts go along ([`ALERTS`]).
pub(super) fn write_history(ctx: &Context<'_>, out: &std::path::Path) -> anyhow::Result<()> {
    let history = History::build(ctx);
    std::fs::write(out.join(HISTORY), serde_json::to_vec(&history)?).with_context(|| format!("writing {HISTORY}"))?;
    let alerts = ardent_engine::analytics::alerts::from_ledger(ctx)?;
    std::fs::write(out.join(ALERTS), serde_json::to_vec(&alerts)?).with_context(|| format!("writing {ALERTS}"))
}

/// A shard's ledger alerts (in its `out/` folder) and score alerts (in its `scored` folder).
pub(super) const ALERTS: &str = "alerts.json";

/// Every shard's alerts in the files `dir(i)/alerts.json` that exist.
pub(super) fn read_alerts(
    split: &Split,
    dir: impl Fn(u32) -> std::path::PathBuf,
) -> anyhow::Result<Vec<ardent_engine::analytics::alerts::Alert>> {
    let mut all = Vec::new();
    for i in 0..split.shards {
        let path = dir(i).join(ALERTS);
        if path.exists() {
            let part: Vec<ardent_engine::analytics::alerts::Alert> = serde_json::from_slice(&std::fs::read(&path)?)
                .with_context(|| format!("reading {}", path.display()))?;
            all.extend(part);
        }
    }
    Ok(all)
}

/// `shard draw`'s cash forecast part for shard `i`: skipped when its folder is complete.
pub(super) fn parts(step: &ShardWork, i: u32, printer: &Printer) -> anyhow::Result<()> {
    let clock = Instant::now();
    let settings = super::settings(step.pipeline.clone(), None)?;
    let split = Split::of(&step.work, step.shards, &settings)?;
    split.check(i)?;
    let dir = split.cash_parts(&settings, i);
    if !settings.analysis.cash_forecast.enabled {
        return Ok(());
    }
    if shards::is_complete(&dir) {
        printer.info(
            "shard_cash_forecast",
            format!("shard {i}: {} is complete already", dir.display()),
            json!({"shard": i, "out": dir.display().to_string(), "skipped": true}),
        );
        return Ok(());
    }
    every_shard(&split, |j| split.out(j), "run")?;
    let mut whole: Option<History> = None;
    for j in 0..split.shards {
        let path = split.out(j).join(HISTORY);
        let part: History =
            serde_json::from_slice(&std::fs::read(&path)?).with_context(|| format!("reading {}", path.display()))?;
        match &mut whole {
            None => whole = Some(part),
            Some(w) => w.merge(&part)?,
        }
    }
    let whole = whole.context("no shard")?;
    let (book, read_ms) = shard_book(&split, &step.work, i, &settings)?;
    let apps = apply_cash(&book);
    let ctx = Context::new(&book, &apps, &settings.analysis);
    let parts = Parts::build(&ctx, &whole);
    shards::begin(&dir)?;
    std::fs::write(dir.join(PARTS), serde_json::to_vec(&parts)?).with_context(|| format!("writing {PARTS}"))?;
    shards::complete(&dir)?;
    let ms = clock.elapsed().as_millis() as u64;
    printer.info(
        "shard_cash_forecast",
        format!("shard {i}: made its part of the cash forecast in {ms} ms (read {read_ms} ms)"),
        json!({"shard": i, "read_ms": read_ms, "bytes_written": shards::bytes_under(&dir)?, "ms": ms}),
    );
    Ok(())
}

/// Add the shards' parts and write the cash forecast's tables (during the merge).
pub(super) fn publish(
    split: &Split,
    settings: &Settings,
    ctx: &Context<'_>,
    writer: &mut RunWriter,
    printer: &Printer,
) -> anyhow::Result<()> {
    if !settings.analysis.cash_forecast.enabled {
        return Ok(());
    }
    every_shard(split, |i| split.cash_parts(settings, i), "draw")?;
    let mut whole: Option<Parts> = None;
    for i in 0..split.shards {
        let path = split.cash_parts(settings, i).join(PARTS);
        let part: Parts =
            serde_json::from_slice(&std::fs::read(&path)?).with_context(|| format!("reading {}", path.display()))?;
        match &mut whole {
            None => whole = Some(part),
            Some(w) => w.merge(&part)?,
        }
    }
    let tables = whole.context("no shard")?.finish(ctx)?;
    for (contract, df) in cash_forecast::contracts().iter().zip(tables) {
        writer.table(contract, df, printer)?;
    }
    Ok(())
}
