//! The models of a run split by customer: `ardent shard draw | train | score`, and what the
//! merge publishes of them. The steps are [`ardent_models::sharded`]'s, each in its folder of
//! [`crate::shards::ModelsWork`]:
//!
//! - `shard run` wrote each shard's outline (its panels' labelled rows per month end);
//! - `draw --shard I` adds every shard's outline into the splits one machine would decide
//!   (the same on every shard), and writes the shard's rows those splits keep;
//! - `train` merges the shards' rows into one machine's sample, trains, and writes the model
//!   tables, the artifacts and `trained.json` (the champions, the PSI reference, the summary);
//! - `score --shard I` scores the shard's panel with the champions: `features`,
//!   `customer_scores` (ranked within the shard), `invoice_predictions` and `segments.json`;
//! - the merge puts the shards' rows in one machine's order, ranks `customer_scores` again
//!   across shards, adds the segment sums, and publishes with the model tables and artifacts.
//!
//! With the models off (`models.enabled = false` or `run.stages` without them) the three
//! steps say so and do nothing.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use ardent_engine::analytics::Context;
use ardent_engine::analytics::ecl::PdSums;
use ardent_engine::cash::apply_cash;
use ardent_engine::contracts::TableContract;
use ardent_engine::sink::TableSink;
use ardent_models::artifact;
use ardent_models::metrics::PsiReference;
use ardent_models::run::ModelRun;
use ardent_models::segments::SegmentSum;
use ardent_models::sharded::{self, PanelOutline, Plans};
use ardent_models::tables::{CUSTOMER_SCORES_TABLE, INVOICE_PREDICTIONS_TABLE, features_contract};
use ardent_models::{ModelError, sample_file};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::merge::in_order;
use super::run::{OUTLINE, shard_book};
use super::sorted::{self, Key};
use crate::cli::{ShardRunArgs, ShardTrainArgs, ShardWork};
use crate::printer::Printer;
use crate::publish::RunWriter;
use crate::settings::Settings;
use crate::shards::{self, ModelsWork, Split, StepError};
use crate::table_folder::TableFolder;

/// `trained.json`, in the train folder.
const TRAINED: &str = "trained.json";
/// A shard's `segment_scores` sums, in its scored folder.
const SEGMENTS: &str = "segments.json";
/// A shard's sums of the expected credit loss's PD method, in its scored folder.
const ECL_PD: &str = "ecl_pd.json";

/// What `shard train` decided, for the score round and the merge.
#[derive(Debug, Serialize, Deserialize)]
struct TrainedFile {
    /// Why no model was trained (both skipped): the run publishes its dashboards only.
    skipped: Option<String>,
    customer_skipped: Option<String>,
    invoice_skipped: Option<String>,
    /// Every candidate's id, in publishing order (artifacts in `models/<id>/`).
    artifacts: Vec<String>,
    champion: Option<String>,
    invoice_champion: Option<String>,
    /// The month end whose open invoices are predicted.
    latest: Option<i32>,
    reference: Option<PsiReference>,
    summary: Vec<String>,
    ms: u64,
}

/// The settings, the split and its models' folder of a models step, or `None` (said) when the
/// models are off.
fn prepare(step: ShardWork, printer: &Printer) -> anyhow::Result<Option<(Settings, Split, ModelsWork, PathBuf)>> {
    let ShardWork { pipeline, work, shards: n } = step;
    let settings = super::settings(pipeline, None)?;
    if !settings.models {
        printer.line("models are off (`models.enabled` or `run.stages`): nothing to do");
        return Ok(None);
    }
    let split = Split::of(&work, n, &settings)?;
    let models = split.models(&settings);
    Ok(Some((settings, split, models, work)))
}

/// Every shard's folder `dir(i)` is complete, or the step that writes it is named.
pub(super) fn every_shard(split: &Split, dir: impl Fn(u32) -> PathBuf, step: &str) -> anyhow::Result<()> {
    if let Some(i) = (0..split.shards).find(|&i| !shards::is_complete(&dir(i))) {
        let n = split.shards;
        let why =
            format!("shard {i} has no complete {step} yet; run `ardent shard {step} --shards {n} --shard {i}` first");
        return Err(StepError::NotReady(why).into());
    }
    Ok(())
}

/// The splits of the whole panels, from every shard's outline.
fn plans(split: &Split, models: &ModelsWork, settings: &Settings) -> anyhow::Result<Plans> {
    every_shard(split, |i| models.outline(i), "run")?;
    let mut whole = PanelOutline::default();
    for i in 0..split.shards {
        let path = models.outline(i).join(OUTLINE);
        let part: PanelOutline =
            serde_json::from_slice(&std::fs::read(&path)?).with_context(|| format!("reading {}", path.display()))?;
        whole.merge(&part);
    }
    Ok(Plans::new(&whole, &settings.training)?)
}

/// Said when a step's folder is complete already.
fn done_already(printer: &Printer, event: &str, what: &str, dir: &Path) {
    printer.info(
        event,
        format!("{what}: {} is complete already", dir.display()),
        json!({"out": dir.display().to_string(), "skipped": true}),
    );
}

/// A per-shard models step (`draw`, `score`) about to work: its settings, split, models'
/// folder, work folder and its own folder `folder(models, i)`. `None` (said) when the models
/// are off or the folder is complete already.
type ShardStep = (Settings, Split, ModelsWork, PathBuf, PathBuf);

fn shard_step(
    args: ShardRunArgs,
    folder: fn(&ModelsWork, u32) -> PathBuf,
    event: &str,
    printer: &Printer,
) -> anyhow::Result<Option<ShardStep>> {
    let ShardRunArgs { step, shard: i } = args;
    let Some((settings, split, models, work)) = prepare(step, printer)? else { return Ok(None) };
    split.check(i)?;
    let dir = folder(&models, i);
    if shards::is_complete(&dir) {
        done_already(printer, event, &format!("shard {i}"), &dir);
        return Ok(None);
    }
    Ok(Some((settings, split, models, work, dir)))
}

/// Build shard `i`'s book, apply cash, build its panel and hand them to `f`; also returns the
/// milliseconds reading the shard's inputs took.
fn with_shard_panel<T>(
    split: &Split,
    work: &Path,
    i: u32,
    settings: &Settings,
    f: impl FnOnce(&Context<'_>, &ardent_models::run::Held) -> anyhow::Result<T>,
) -> anyhow::Result<(T, u64)> {
    let (book, read_ms) = shard_book(split, work, i, settings)?;
    let apps = apply_cash(&book);
    let ctx = Context::new(&book, &apps, &settings.analysis);
    let held = sharded::panel(&ctx, &settings.training)?;
    Ok((f(&ctx, &held)?, read_ms))
}

/// `ardent shard draw --shard I`.
pub(super) fn draw(args: ShardRunArgs, printer: &Printer) -> anyhow::Result<()> {
    // The cash forecast's part first: it needs every shard's run, not the models.
    super::cash::parts(&args.step, args.shard, printer)?;
    let (i, clock) = (args.shard, Instant::now());
    let Some((settings, split, models, work, dir)) = shard_step(args, ModelsWork::drawn, "shard_drawn", printer)?
    else {
        return Ok(());
    };
    let plans = plans(&split, &models, &settings)?;
    let (drawn, read_ms) = with_shard_panel(&split, &work, i, &settings, |ctx, held| {
        Ok(sharded::draw(ctx, held, &plans, &settings.training)?)
    })?;
    shards::begin(&dir)?;
    let mut rows = json!({});
    for (name, sample) in [("customer", &drawn.customer), ("invoice", &drawn.invoice)] {
        if let Some(sample) = sample {
            sample_file::write(sample, &dir, name)?;
            rows[name] = json!(sample.len());
        }
    }
    shards::complete(&dir)?;
    let ms = clock.elapsed().as_millis() as u64;
    let count = |name: &str| rows[name].as_u64().map_or("no (model skipped)".to_string(), |n| n.to_string());
    printer.info(
        "shard_drawn",
        format!(
            "shard {i}: drew {} customer and {} invoice rows for training and out-of-time tests in {ms} ms (read {read_ms} ms)",
            count("customer"),
            count("invoice")
        ),
        json!({"shard": i, "rows": rows, "read_ms": read_ms, "bytes_written": shards::bytes_under(&dir)?, "ms": ms}),
    );
    Ok(())
}

/// `ardent shard train`.
pub(super) fn train(args: ShardTrainArgs, printer: &Printer) -> anyhow::Result<()> {
    let clock = Instant::now();
    let Some((settings, split, models, _)) = prepare(args.step, printer)? else { return Ok(()) };
    let dir = models.trained();
    if shards::is_complete(&dir) {
        done_already(printer, "trained", "train", &dir);
        return Ok(());
    }
    let plans = plans(&split, &models, &settings)?;
    every_shard(&split, |i| models.drawn(i), "draw")?;
    let parts = |name: &str| -> anyhow::Result<Vec<ardent_models::matrix::Sample>> {
        let mut parts = Vec::new();
        for i in 0..split.shards {
            let drawn = models.drawn(i);
            if drawn.join(format!("{name}.json")).exists() {
                parts.push(sample_file::read(&drawn, name)?);
            }
        }
        Ok(parts)
    };
    let (customer, invoice) = (parts("customer")?, parts("invoice")?);
    let read_ms = clock.elapsed().as_millis() as u64;
    let t = &settings.training;
    shards::begin(&dir)?;
    let file = match sharded::train(&customer, &invoice, &plans, t) {
        Ok(trained) => {
            drop((customer, invoice));
            let mut tables = TableFolder::new(&dir.join("tables"))?;
            for (contract, df) in trained.published.tables {
                tables.rows(&contract, df)?;
            }
            tables.finish()?;
            let mut ids = Vec::new();
            let (mut champion, mut invoice_champion) = (None, None);
            for (id, file, card) in &trained.published.artifacts {
                artifact::write(&dir.join("models").join(id), file, card)?;
                match (file.champion, file.task) {
                    (true, ardent_models::model::Task::InvoiceLate) => invoice_champion = Some(id.clone()),
                    (true, _) => champion = Some(id.clone()),
                    _ => {}
                }
                ids.push(id.clone());
            }
            TrainedFile {
                skipped: None,
                customer_skipped: trained.customer_skipped,
                invoice_skipped: trained.invoice_skipped,
                artifacts: ids,
                champion,
                invoice_champion,
                latest: plans.latest(),
                reference: trained.reference,
                summary: trained.published.summary,
                ms: clock.elapsed().as_millis() as u64,
            }
        }
        Err(ModelError::NotEnoughHistory(why) | ModelError::NoSignal(why)) => TrainedFile {
            skipped: Some(why),
            customer_skipped: None,
            invoice_skipped: None,
            artifacts: Vec::new(),
            champion: None,
            invoice_champion: None,
            latest: None,
            reference: None,
            summary: Vec::new(),
            ms: clock.elapsed().as_millis() as u64,
        },
        Err(e) => return Err(e.into()),
    };
    std::fs::write(dir.join(TRAINED), serde_json::to_vec_pretty(&file)?)
        .with_context(|| format!("writing {}", dir.join(TRAINED).display()))?;
    shards::complete(&dir)?;
    for line in &file.summary {
        printer.line(line);
    }
    printer.info(
        "trained",
        format!("trained {} model(s) in {} ms (read the drawn rows in {read_ms} ms)", file.artifacts.len(), file.ms),
        json!({"models": file.artifacts, "skipped": file.skipped, "read_ms": read_ms, "ms": file.ms}),
    );
    Ok(())
}

/// `trained.json` of a complete train folder.
fn trained_file(models: &ModelsWork) -> anyhow::Result<TrainedFile> {
    let dir = models.trained();
    if !shards::is_complete(&dir) {
        let why = "the models are not trained yet; run `ardent shard train` first".to_string();
        return Err(StepError::NotReady(why).into());
    }
    let path = dir.join(TRAINED);
    serde_json::from_slice(&std::fs::read(&path)?).with_context(|| format!("reading {}", path.display()))
}

/// The model `id` of the train folder.
fn model(models: &ModelsWork, id: &str) -> anyhow::Result<ardent_models::model::Model> {
    Ok(artifact::read(&models.trained().join("models").join(id))?.model)
}

/// `ardent shard score --shard I`.
pub(super) fn score(args: ShardRunArgs, printer: &Printer) -> anyhow::Result<()> {
    let (i, clock) = (args.shard, Instant::now());
    let Some((settings, split, models, work, dir)) = shard_step(args, ModelsWork::scored, "shard_scored", printer)?
    else {
        return Ok(());
    };
    let trained = trained_file(&models)?;
    shards::begin(&dir)?;
    if trained.skipped.is_none() {
        let champion = trained.champion.as_deref().map(|id| model(&models, id)).transpose()?;
        let invoice = trained.invoice_champion.as_deref().map(|id| model(&models, id)).transpose()?;
        let mut out = TableFolder::new(&dir)?;
        let progress = |step: &str| printer.step("models", step);
        let champions = sharded::Champions {
            customer: champion.as_ref(),
            reference: trained.reference.as_ref(),
            invoice: invoice.as_ref().zip(trained.latest),
        };
        let (scored, _) = with_shard_panel(&split, &work, i, &settings, |ctx, held| {
            Ok(sharded::score(ctx, held, champions, &settings.training, &mut out, &progress)?)
        })?;
        out.rows(&INVOICE_PREDICTIONS_TABLE, scored.invoice_predictions)?;
        out.finish()?;
        std::fs::write(dir.join(SEGMENTS), serde_json::to_vec(&scored.segment_sums)?)
            .with_context(|| format!("writing {SEGMENTS}"))?;
        if let Some(pd) = &scored.ecl_pd {
            std::fs::write(dir.join(ECL_PD), serde_json::to_vec(pd)?).with_context(|| format!("writing {ECL_PD}"))?;
        }
        std::fs::write(dir.join(super::cash::ALERTS), serde_json::to_vec(&scored.alerts)?)
            .with_context(|| format!("writing {}", super::cash::ALERTS))?;
    }
    shards::complete(&dir)?;
    let ms = clock.elapsed().as_millis() as u64;
    printer.info(
        "shard_scored",
        format!("shard {i}: scored in {ms} ms"),
        json!({"shard": i, "bytes_written": shards::bytes_under(&dir)?, "ms": ms}),
    );
    Ok(())
}

/// Whether the models' steps are done (the merge checks before it starts).
pub(super) fn ready(split: &Split, settings: &Settings) -> anyhow::Result<()> {
    let models = split.models(settings);
    trained_file(&models)?;
    every_shard(split, |i| models.scored(i), "score")
}

/// The merge's part: the models' tables and artifacts of the split, published through
/// `writer` as one machine's run publishes them; returns the shards' added sums of the
/// expected credit loss's PD method (none without a customer model). Every shard must be
/// scored.
pub(super) fn publish(
    split: &Split,
    settings: &Settings,
    writer: &mut RunWriter,
    printer: &Printer,
) -> anyhow::Result<(Option<PdSums>, Vec<ardent_engine::analytics::alerts::Alert>)> {
    let models = split.models(settings);
    let trained = trained_file(&models)?;
    every_shard(split, |i| models.scored(i), "score")?;
    if let Some(why) = trained.skipped {
        printer.line(format!("models skipped: {why}"));
        writer.models_skipped(why);
        return Ok((None, Vec::new()));
    }
    let scored: Vec<PathBuf> = (0..split.shards).map(|i| models.scored(i)).collect();
    // A shard without customers wrote no rows (its folder is complete, so no file is missing).
    let files = |table: &str| -> Vec<PathBuf> {
        scored.iter().map(|d| d.join(format!("{table}.parquet"))).filter(|p| p.exists()).collect()
    };
    let features = features_contract();
    sorted::merge(&files(features.name), Key::AsOfCustomer, |df| Ok(writer.rows(&features, df)?))?;
    // One machine's order: stable sorts of the shards' rows (a customer's rows are in one shard).
    let customer_scores = ranked(in_order(
        read_all(&files(CUSTOMER_SCORES_TABLE.name))?,
        &CUSTOMER_SCORES_TABLE,
        &["as_of", "customer_id"],
    )?)?;
    let invoice_predictions =
        in_order(read_all(&files(INVOICE_PREDICTIONS_TABLE.name))?, &INVOICE_PREDICTIONS_TABLE, &["customer_id"])?;
    let mut sums: Vec<SegmentSum> = Vec::new();
    let mut ecl_pd: Option<PdSums> = None;
    for dir in &scored {
        let path = dir.join(SEGMENTS);
        let part: Vec<SegmentSum> =
            serde_json::from_slice(&std::fs::read(&path)?).with_context(|| format!("reading {}", path.display()))?;
        sums.extend(part);
        let path = dir.join(ECL_PD);
        if path.exists() {
            let part: PdSums = serde_json::from_slice(&std::fs::read(&path)?)
                .with_context(|| format!("reading {}", path.display()))?;
            ecl_pd.get_or_insert_with(PdSums::default).merge(&part);
        }
    }
    let segment_scores = sharded::segment_scores(sums, trained.reference.as_ref())?;
    let train_dir = models.trained();
    let mut tables: Vec<(TableContract, Option<DataFrame>)> = Vec::new();
    for contract in ardent_models::tables::trained_contracts() {
        let df = super::split::read(&train_dir.join("tables"), contract.name)?;
        tables.push((contract, Some(df)));
    }
    tables.extend([
        (CUSTOMER_SCORES_TABLE.clone(), Some(customer_scores)),
        (ardent_models::tables::segment_scores_contract(), Some(segment_scores)),
        (INVOICE_PREDICTIONS_TABLE.clone(), Some(invoice_predictions)),
    ]);
    let mut artifacts = Vec::new();
    for id in &trained.artifacts {
        let dir = train_dir.join("models").join(id);
        let card = std::fs::read_to_string(dir.join("model_card.md"))
            .with_context(|| format!("reading {}", dir.join("model_card.md").display()))?;
        artifacts.push((id.clone(), artifact::read(&dir)?, card));
    }
    for line in &trained.summary {
        printer.line(line);
    }
    let run = ModelRun {
        tables,
        artifacts,
        summary: trained.summary,
        timings: Vec::new(),
        customer_skipped: trained.customer_skipped,
        invoice_skipped: trained.invoice_skipped,
        ecl_pd: None,
        alerts: Vec::new(),
        // Sharded runs refuse an activities input: nothing reads the bands.
        risk: None,
    };
    writer.models(run, printer)?;
    Ok((ecl_pd, super::cash::read_alerts(split, |i| models.scored(i))?))
}

/// The shards' files of a table.
fn read_all(files: &[PathBuf]) -> anyhow::Result<Vec<DataFrame>> {
    files
        .iter()
        .map(|path| {
            let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
            anyhow::Context::with_context(ParquetReader::new(file).finish(), || format!("reading {}", path.display()))
        })
        .collect()
}

/// `customer_scores` of every shard, in one machine's order, with `priority_rank` ranked across
/// shards as one machine ranks it: per as-of date, highest expected loss first, then PD, then
/// customer id.
fn ranked(mut all: DataFrame) -> anyhow::Result<DataFrame> {
    let n = all.height();
    let as_of: Vec<i32> = all.column("as_of")?.date()?.physical().into_no_null_iter().collect();
    let loss: Vec<i128> = all.column("expected_loss")?.decimal()?.physical().into_no_null_iter().collect();
    let pd: Vec<f64> = all.column("pd")?.f64()?.iter().map(|p| p.unwrap_or(f64::NAN)).collect();
    let ids = all.column("customer_id")?.str()?.clone();
    let id = |i: usize| ids.get(i);
    let mut rank = vec![0u64; n];
    let mut start = 0;
    while start < n {
        let end = start + as_of[start..].partition_point(|&a| a == as_of[start]);
        let mut order: Vec<usize> = (start..end).collect();
        order.sort_by(|&a, &b| loss[b].cmp(&loss[a]).then(pd[b].total_cmp(&pd[a])).then(id(a).cmp(&id(b))));
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r as u64 + 1;
        }
        start = end;
    }
    all.with_column(ardent_engine::analytics::frame::count("priority_rank", rank))?;
    Ok(all)
}
