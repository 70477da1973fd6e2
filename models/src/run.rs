//! The models stage of `ardent run`: from the engine's book and cash applications to the
//! published model tables and artifacts.
//!
//! feature panel + labels (engine) → [`Sample`] → [`train`] (every learner, validation fit and
//! segment in parallel) → champion → scores of every panel row → tables `features`,
//! `model_metrics`, `model_calibration`, `feature_importance`, `feature_stability`,
//! `customer_scores`, `segment_scores`, `invoice_predictions` (from the invoice-level model),
//! and `models/<model_id>/` artifacts.

use std::time::Instant;

use ardent_engine::analytics::ecl::PdSums;
use ardent_engine::analytics::features::{self, FEATURES};
use ardent_engine::analytics::frame::{boolean, count, date, float_opt, frame, money, money_opt, part_ranges, text};
use ardent_engine::analytics::{Analysis, Context, labels};
use ardent_engine::book::Book;
use ardent_engine::calendar::format_day;
use ardent_engine::cash::Applications;
use ardent_engine::collections::effect::{Risk, UNSCORED};
use ardent_engine::contracts::TableContract;
use ardent_engine::sink::TableSink;
use polars::prelude::DataFrame;
use rayon::prelude::*;

use crate::artifact::{self, ModelFile};
use crate::clusters::Clusters;
use crate::error::{ModelError, Result};
use crate::invoice_model::invoice_model;
use crate::matrix::Sample;
use crate::metrics::PsiReference;
use crate::model::Task;
use crate::params::Training;
use crate::score::{ACTIONS, Account, BANDS, Describe, Score, score_row_at};
use crate::segments::{self, SegmentSum};
use crate::split::{Holdout, split};
use crate::stability;
use crate::tables::{
    CUSTOMER_SCORES_TABLE, INVOICE_PREDICTIONS_TABLE, calibration_table, describe, empty_invoice_predictions,
    features_contract, importance_table, metrics_table, segment_scores_contract, segment_scores_table, stability_table,
    trained_contracts,
};
use crate::train::{Trained, train};

/// What the models stage produced.
#[derive(Debug)]
pub struct ModelRun {
    /// The tables after `features`, in publishing order; `None` for a table that went to
    /// the run's [`TableSink`] in parts (`customer_scores`; `features` always does).
    pub tables: Vec<(TableContract, Option<DataFrame>)>,
    /// `model.json` and model card per candidate, by model id.
    pub artifacts: Vec<(String, ModelFile, String)>,
    /// Lines for the run summary.
    pub summary: Vec<String>,
    /// Wall time per step, in milliseconds.
    pub timings: Vec<(&'static str, u64)>,
    /// Why the customer models were skipped (too little history, no signal), when they were:
    /// `customer_scores` and `segment_scores` are then empty.
    pub customer_skipped: Option<String>,
    /// Why the invoice model was skipped, when it was: `invoice_predictions` is then empty.
    pub invoice_skipped: Option<String>,
    /// The PD method's sums of the expected credit loss (none without a customer model).
    pub ecl_pd: Option<PdSums>,
    /// The score alerts (`pd_increase`, `band_drop`), to be written with the ledger's.
    pub alerts: Vec<ardent_engine::analytics::alerts::Alert>,
    /// The champion's band of each customer at each month end and its latest PD, for the
    /// collections tables (none without a customer model).
    pub risk: Option<Risk>,
}

pub(crate) fn column(name: &str) -> usize {
    FEATURES.iter().position(|(n, _)| *n == name).unwrap_or_else(|| unreachable!("`{name}` is a panel feature"))
}

/// Panel rows read back from the spilled values at a time.
const WINDOW_ROWS: usize = 1 << 16;

/// Visit panel rows `rows` (ascending; repeats allowed) with their feature values, read
/// back from `values` a window at a time; `each` gets the position in `rows` and the values.
pub(crate) fn visit(
    values: &features::SpilledValues,
    rows: impl Iterator<Item = usize>,
    mut each: impl FnMut(usize, &[f64]),
) -> Result<()> {
    let f = FEATURES.len();
    let mut buf = Vec::new();
    let mut window = 0..0;
    for (k, r) in rows.enumerate() {
        if !window.contains(&r) {
            window = r..(r + WINDOW_ROWS).min(values.len());
            values.read(window.clone(), &mut buf)?;
        }
        let at = (r - window.start) * f;
        each(k, &buf[at..at + f]);
    }
    Ok(())
}

/// Told what the stage is doing as it goes (`building the feature panel…`, `scoring month end
/// 3 of 36 (1154 customers)`), for a progress display.
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

/// Train, evaluate and score on the book; the `features` and `customer_scores` tables go to
/// `out` in parts.
///
/// The panel's feature values live in a temporary file, not in memory (on `l` they are
/// 2.4 GB): training reads back only its subsample and the out-of-time rows, the invoice
/// model only its customers' rows, and scoring goes through the panel one month end at a
/// time, writing the features, the scores and the segment rows of that month end.
pub fn run(
    book: &Book,
    apps: &Applications,
    analysis: &Analysis,
    t: &Training,
    out: &mut dyn TableSink,
    progress: Progress<'_>,
) -> Result<ModelRun> {
    progress("building the feature panel and labels");
    let mut timings = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &'static str, timings: &mut Vec<(&'static str, u64)>| {
        timings.push((name, clock.elapsed().as_millis() as u64));
        clock = Instant::now();
    };
    let ctx = Context::new(book, apps, analysis);
    let mut held = hold(&ctx, t)?;
    lap("features_labels", &mut timings);
    let mut customer_skipped: Option<String> = None;
    let holdout = customer_holdout(t);
    // Decide the split on the whole panel, then read back only the rows it uses: training
    // on them with nothing left to subsample makes the same split. A customer label too
    // short or without signal skips the customer models only: the invoice model may stand.
    let customer = match split(&held.rows, holdout, t) {
        Ok(whole) => Some(customer_sample(&held.values, &mut held.rows, &held.panel, whole, t)?),
        Err(ModelError::NotEnoughHistory(why) | ModelError::NoSignal(why)) => {
            customer_skipped = Some(why);
            None
        }
        Err(e) => return Err(e),
    };
    let held = held;
    progress("training the customer and invoice models");
    // The customer models and the invoice model train side by side: each is deterministic on
    // its own, and together they keep both cores busy (on `m`: 9.5–9.9 s one after the other,
    // 7.4–7.9 s side by side).
    let (trained, invoice) = rayon::join(
        || customer.as_ref().map(|(sample, whole, _)| train_drawn(sample, holdout, t, whole.train_rows_available)),
        || invoice_model(&ctx, &held, t),
    );
    let clusters = customer.and_then(|(_, _, clusters)| clusters);
    let trained = match trained {
        Some(Ok(mut trained)) => {
            for c in &mut trained.candidates {
                c.model.clusters = clusters.clone();
            }
            Some(trained)
        }
        Some(Err(ModelError::NotEnoughHistory(why) | ModelError::NoSignal(why))) => {
            customer_skipped = Some(why);
            None
        }
        Some(Err(e)) => return Err(e),
        None => None,
    };
    // Too little invoice history skips the invoice model only; the customer models stand.
    let (invoice_trained, invoice_predictions, invoice_skipped) = match invoice {
        Ok((trained, df)) => (Some(trained), df, None),
        Err(ModelError::NotEnoughHistory(why) | ModelError::NoSignal(why)) => {
            (None, empty_invoice_predictions()?, Some(why))
        }
        Err(e) => return Err(e),
    };
    let models = Models { customer: trained, invoice: invoice_trained, customer_skipped, invoice_skipped };
    models.check()?;
    lap("training", &mut timings);
    let champion = models.customer.as_ref().map(Trained::champion);
    let reference = models.reference();
    let MonthsScored { segment_sums: sums, ecl_pd, alerts, risk } =
        score_months(&ctx, &held, champion.map(|c| &c.model), reference.as_ref(), t, out, progress)?;
    lap("scoring", &mut timings);
    let published = models.publish(t)?;
    let mut tables: Vec<(TableContract, Option<DataFrame>)> =
        published.tables.into_iter().map(|(c, df)| (c, Some(df))).collect();
    tables.extend([
        (CUSTOMER_SCORES_TABLE.clone(), None),
        (segment_scores_contract(), Some(segment_scores_table(&segments::rows(&sums, reference.as_ref()))?)),
        (INVOICE_PREDICTIONS_TABLE.clone(), Some(invoice_predictions)),
    ]);
    lap("model_tables", &mut timings);
    let Models { customer_skipped, invoice_skipped, .. } = models;
    Ok(ModelRun {
        tables,
        artifacts: published.artifacts,
        summary: published.summary,
        timings,
        customer_skipped,
        invoice_skipped,
        ecl_pd,
        alerts,
        risk,
    })
}

/// How the customer panel is held out: its last `oot_months` labelled month ends, training
/// rows ending a label horizon before them.
pub(crate) fn customer_holdout(t: &Training) -> Holdout {
    Holdout::LastDates { n: t.oot_months, gap_days: t.labeling.horizon_days }
}

/// The customer panel's split decided on its outline (the whole panel's, or every shard's
/// added): the same as [`split`] with [`customer_holdout`] decides.
pub(crate) fn customer_plan(outline: &crate::split::Outline, t: &Training) -> Result<crate::split::DatedPlan> {
    crate::split::DatedPlan::new(outline, t.oot_months, t.labeling.horizon_days, t.max_train_rows)
}

/// The rows of `rows` that `split` trains and tests on (in panel order), with their feature
/// values read back from `values`; and their panel rows.
pub(crate) fn drawn_rows(
    values: &features::SpilledValues,
    rows: &Sample,
    split: &crate::split::Split,
) -> Result<(Sample, Vec<usize>)> {
    let mut picked = split.train.clone();
    picked.extend_from_slice(&split.oot);
    picked.sort_unstable();
    let mut x = Vec::with_capacity(picked.len() * rows.features.len());
    visit(values, picked.iter().copied(), |_, v| x.extend_from_slice(v))?;
    let x = ndarray::Array2::from_shape_vec((picked.len(), rows.features.len()), x)
        .map_err(|e| ModelError::Data(format!("the training rows are not rectangular: {e}")))?;
    Ok((rows.select(&picked, x)?, picked))
}

/// Build the customer panel of `ctx`'s book with its labels; its values wait in a temporary
/// file.
pub(crate) fn hold(ctx: &Context<'_>, t: &Training) -> Result<Held> {
    // Deleted by the system when closed, or when the process ends however it ends.
    let file = tempfile::tempfile().map_err(ardent_engine::EngineError::temp(
        "creating the feature panel's file",
        ardent_engine::analytics::features::PANEL_ROOM,
    ))?;
    let (panel, values) = features::panel_spilled(ctx, file)?;
    let labels = labels::customer_default(ctx, &panel, &t.labeling);
    let l = &t.labeling;
    let positive = format!(
        "at least {:.0}% of the open amount reaches {} days past due, or anything is written off, within {} days",
        l.share * 100.0,
        l.dpd,
        l.horizon_days
    );
    let rows = Sample::panel_rows(ctx.book, &panel, labels.label.clone(), &positive)?;
    Ok(Held { panel, values, rows, labels })
}

/// The customer and invoice models as trained, or why each was skipped.
pub(crate) struct Models {
    pub(crate) customer: Option<Trained>,
    pub(crate) invoice: Option<Trained>,
    pub(crate) customer_skipped: Option<String>,
    pub(crate) invoice_skipped: Option<String>,
}

/// What training publishes besides the scores: the model tables and artifacts, and the run
/// summary's lines.
#[derive(Debug)]
pub struct Published {
    /// `model_metrics`, `model_calibration`, `feature_importance`, `feature_stability`.
    pub tables: Vec<(TableContract, DataFrame)>,
    /// `model.json` and model card per candidate, by model id.
    pub artifacts: Vec<(String, ModelFile, String)>,
    pub summary: Vec<String>,
}

impl Models {
    /// Both skipped is an error (the run has no models to publish).
    pub(crate) fn check(&self) -> Result<()> {
        if let (None, Some(customer), Some(invoice)) = (&self.customer, &self.customer_skipped, &self.invoice_skipped) {
            return Err(ModelError::NotEnoughHistory(format!("customer model: {customer}; invoice model: {invoice}")));
        }
        Ok(())
    }

    /// The PSI reference of the customer scores: the champion's PDs on its training rows.
    pub(crate) fn reference(&self) -> Option<PsiReference> {
        let champion = self.customer.as_ref().map(Trained::champion);
        champion.filter(|c| !c.train_pd.is_empty()).map(|c| PsiReference::new(&c.train_pd))
    }

    /// The model tables, artifacts and summary lines.
    pub(crate) fn publish(&self, t: &Training) -> Result<Published> {
        let mut sets = Vec::new();
        let mut tasks = Vec::new();
        if let Some(tr) = &self.customer {
            sets.push(tr);
            tasks.push(Task::CustomerDefault);
        }
        if let Some(it) = &self.invoice {
            sets.push(it);
            tasks.push(Task::InvoiceLate);
        }
        let [metrics, calibration, importance, stability] = trained_contracts();
        let tables = vec![
            (metrics, metrics_table(&sets)?),
            (calibration, calibration_table(&sets)?),
            (importance, importance_table(&sets)?),
            (stability, stability_table(&sets, &tasks)?),
        ];
        let artifacts = sets
            .iter()
            .zip(tasks)
            .flat_map(|(tr, task)| {
                (0..tr.candidates.len()).map(move |k| {
                    let file = artifact::model_file(tr, k, task, &t.scoring, &format_day);
                    let card = artifact::model_card(&file, tr, k);
                    (tr.candidates[k].model.id.clone(), file, card)
                })
            })
            .collect();
        let mut summary = Vec::new();
        match (&self.customer, &self.customer_skipped) {
            (Some(trained), _) => customer_summary(trained, t, &mut summary),
            (None, Some(why)) => summary
                .push(format!("models: customer model skipped (customer_scores and segment_scores are empty): {why}")),
            (None, None) => {}
        }
        match (&self.invoice, &self.invoice_skipped) {
            (Some(it), _) => {
                for (k, c) in it.candidates.iter().enumerate() {
                    summary.push(format!(
                        "  {:<27} out-of-time AUC {:.4}  largest decile gap {:.4}  (invoices paid more than {} days late; {} training rows){}",
                        c.model.id,
                        c.oot.auc,
                        c.oot.max_decile_gap,
                        t.invoice_labeling.days_late,
                        it.split.train.len(),
                        if k == it.champion { "  ← champion" } else { "" }
                    ));
                }
            }
            (None, Some(why)) => summary.push(format!("  invoice model skipped (invoice_predictions is empty): {why}")),
            (None, None) => {}
        }
        Ok(Published { tables, artifacts, summary })
    }
}

/// The run summary's lines of the customer models.
fn customer_summary(trained: &Trained, t: &Training, summary: &mut Vec<String>) {
    summary.push(format!(
        "models: {} training rows ({} – {}), {} out-of-time rows ({} – {})",
        trained.split.train.len(),
        format_day(trained.split.train_window.0),
        format_day(trained.split.train_window.1),
        trained.split.oot.len(),
        format_day(trained.split.oot_window.0),
        format_day(trained.split.oot_window.1),
    ));
    for (k, c) in trained.candidates.iter().enumerate() {
        summary.push(format!(
            "  {:<27} out-of-time AUC {:.4}  KS {:.4}  Brier {:.4}  largest decile gap {:.4}{}{}",
            c.model.id,
            c.oot.auc,
            c.oot.ks,
            c.oot.brier,
            c.oot.max_decile_gap,
            if c.calibrated() { "" } else { "  (not calibrated)" },
            if k == trained.champion { "  ← champion" } else { "" }
        ));
    }
    for (id, why) in &trained.failed {
        summary.push(format!("  {id:<27} failed and was left out: {why}"));
    }
    summary.push(format!("  champion {}: {}", trained.champion().model.id, trained.champion_reason));
    if let Some(moved) = stability::moved(&trained.stability, 4) {
        summary.push(format!("  features that moved since training (PSI >= {}): {moved}", stability::MODERATE));
    }
    if let Some(excluded) = stability::excluded(&trained.stability) {
        summary.push(format!(
            "  the `_stable` challengers leave out (PSI >= {}, `models.max_feature_psi`): {excluded}",
            t.max_feature_psi
        ));
    }
}

/// The customer sample of the split `whole`: its rows' feature values read back from the
/// spill, and behavioural clusters fitted on its training rows when asked for (every panel
/// row of `rows` then gets its cluster as its segment).
fn customer_sample(
    values: &features::SpilledValues,
    rows: &mut Sample,
    panel: &features::Panel,
    whole: crate::split::Split,
    t: &Training,
) -> Result<(Sample, crate::split::Split, Option<Clusters>)> {
    let (mut sample, picked) = drawn_rows(values, rows, &whole)?;
    // Behavioural segments replace the segment column when asked for; they are fitted on
    // the training rows only, and every panel row gets its cluster.
    let clusters = match t.clusters {
        Some(k) => {
            let train_rows: Vec<usize> =
                (0..picked.len()).filter(|&j| whole.train.binary_search(&picked[j]).is_ok()).collect();
            let c = Clusters::fit(&sample, &train_rows, k, t.seed)?;
            sample.segment = (0..sample.len()).map(|i| c.assign(sample.row(i)) as u32).collect();
            sample.segments = c.names.clone();
            visit(values, 0..panel.len(), |i, v| rows.segment[i] = c.assign(ndarray::ArrayView1::from(v)) as u32)?;
            rows.segments = c.names.clone();
            Some(c)
        }
        None => None,
    };
    Ok((sample, whole, clusters))
}

/// Train on `sample`, whose training subsample is already drawn from `available` labelled
/// training rows: every training row of `sample` is taken, and the model files record `t`'s
/// `max_train_rows` and the rows that were available.
pub(crate) fn train_drawn(sample: &Sample, holdout: Holdout, t: &Training, available: usize) -> Result<Trained> {
    let mut all = t.clone();
    all.max_train_rows = usize::MAX;
    let mut trained = train(sample, holdout, &all)?;
    trained.training.max_train_rows = t.max_train_rows;
    trained.split.train_rows_available = available;
    Ok(trained)
}

/// The customer panel as the models stage holds it: its index and labels in memory, its
/// feature values in a temporary file, and each row's date, customer and segment as a
/// [`Sample`] without values.
#[derive(Debug)]
pub struct Held {
    pub(crate) panel: features::Panel,
    pub(crate) values: features::SpilledValues,
    pub(crate) rows: Sample,
    pub(crate) labels: labels::Labels,
}

impl Held {
    /// The panel rows of each month end, in order.
    fn months(&self) -> Vec<std::ops::Range<usize>> {
        let as_of = &self.panel.as_of;
        let mut d = Vec::new();
        let mut start = 0;
        while start < as_of.len() {
            let end = start + as_of[start..].partition_point(|&a| a == as_of[start]);
            d.push(start..end);
            start = end;
        }
        d
    }
}

/// What scoring every month end gives besides the tables: the `segment_scores` sums, the
/// expected credit loss's PD method sums and the score alerts (none without a model).
pub(crate) struct MonthsScored {
    pub segment_sums: Vec<SegmentSum>,
    pub ecl_pd: Option<PdSums>,
    pub alerts: Vec<ardent_engine::analytics::alerts::Alert>,
    /// Each customer's band at each month end and its latest PD (none without a model).
    pub risk: Option<Risk>,
}

/// Score every panel row, one month end at a time, reading the values back from the spill:
/// each month's `features` rows, and for the latest `customer_months` its `customer_scores`
/// rows, go to `out`; returns the `segment_scores` sums, the expected credit loss's PD
/// method sums and the score alerts (empty without a model). Reasons are formatted only for the
/// rows published in `customer_scores`. Without a customer `model` only `features` is
/// written, and an empty `customer_scores`.
pub(crate) fn score_months(
    ctx: &Context<'_>,
    held: &Held,
    model: Option<&crate::model::Model>,
    reference: Option<&PsiReference>,
    t: &Training,
    out: &mut dyn TableSink,
    progress: Progress<'_>,
) -> Result<MonthsScored> {
    let Held { panel, values, rows, labels } = held;
    let ecl = &ctx.analysis.ecl;
    let overlay = ecl.overlay();
    // The expected credit loss's PD method, when a loss given default is configured: each
    // customer's, by its first segment column's value.
    let mut pd_sums = model.filter(|_| ecl.lgd.is_some()).map(|_| PdSums::default());
    let lgd: Vec<f64> = match ctx.book.customers.dims.first() {
        Some(d) => d.of_customer.iter().map(|&v| ecl.lgd_of(&d.values[v as usize]).unwrap_or(0.0)).collect(),
        None => vec![ecl.lgd.unwrap_or(0.0); ctx.book.customers.len()],
    };
    // Each customer's groups, once (not per customer-month).
    let groups: Vec<Vec<usize>> = match pd_sums {
        Some(_) => (0..ctx.book.customers.len()).map(|c| ctx.groups.of(ctx.book, c)).collect(),
        None => Vec::new(),
    };
    let dates = held.months();
    // Each customer's scores at the month ends the alerts look at (and the one before them).
    let alerts = &ctx.analysis.alerts;
    let month_ends: Vec<i32> = dates.iter().map(|d| panel.as_of[d.start]).collect();
    let alerts_from = month_ends.iter().rev().nth(alerts.months as usize).copied().unwrap_or(i32::MIN);
    let mut scored: Vec<Vec<ardent_engine::analytics::alerts::Scored>> = match model {
        Some(_) => vec![Vec::new(); ctx.book.customers.len()],
        None => Vec::new(),
    };
    let published_from =
        dates.iter().rev().nth(t.scoring.customer_months - 1).map_or(i32::MIN, |d| panel.as_of[d.start]);
    let book = ctx.book;
    let features_table = features_contract();
    let mut segment_rows = Vec::new();
    let mut buf = Vec::new();
    let customers_n = ctx.book.customers.len();
    let mut risk = model.map(|_| Risk {
        month_ends: month_ends.clone(),
        names: BANDS.iter().map(|b| b.to_string()).collect(),
        band: vec![UNSCORED; month_ends.len() * customers_n],
        pd: vec![None; customers_n],
    });
    for (k, day) in dates.iter().enumerate() {
        let as_of = panel.as_of[day.start];
        progress(&format!("scoring month end {} of {} ({} customers)", k + 1, dates.len(), day.len()));
        let mut scores: Vec<Score> = Vec::with_capacity(day.len());
        for part in part_ranges(day.len()) {
            let part = day.start + part.start..day.start + part.end;
            values.read(part.clone(), &mut buf)?;
            let f = FEATURES.len();
            let segment = |i: usize| rows.segments[rows.segment[i] as usize].as_str();
            // The PDs of the part at once (tree ensembles score blocks of rows much faster
            // than one row at a time), then each row's score around its PD.
            let pds = model.map(|m| {
                let x: Vec<&[f64]> = buf.chunks(f).take(part.len()).collect();
                let segments: Vec<&str> = part.clone().map(segment).collect();
                m.pds(&x, &segments)
            });
            scores.par_extend(part.clone().into_par_iter().filter_map(|i| {
                let model = model?;
                let pd = pds.as_ref()?[i - part.start];
                let c = panel.customer[i] as usize;
                let at = (i - part.start) * f;
                let x = ndarray::ArrayView1::from(&buf[at..at + f]);
                let account = Account {
                    exposure_cents: panel.open_cents[i],
                    credit_limit_cents: book.customers.credit_limit[c],
                    billed_90d_cents: panel.billed_90d_cents[i],
                    in_default: labels.in_default[i],
                };
                let describe: Option<Describe<'_>> = (as_of >= published_from).then_some(&describe);
                Some(score_row_at(model, &t.scoring, x, pd, segment(i), &account, describe))
            }));
            let df = features::table(ctx, panel, part.clone(), &buf)?;
            let mut cols = df.columns().to_vec();
            cols.push(ardent_engine::analytics::frame::boolean_opt(
                "default_label",
                labels.label[part.clone()].iter().copied(),
            ));
            cols.push(boolean("in_default", labels.in_default[part].iter().copied()));
            out.rows(&features_table, frame(&features_table, cols)?)?;
        }
        let Some(model) = model else { continue };
        if let Some(risk) = risk.as_mut() {
            let last = k + 1 == dates.len();
            for i in day.clone() {
                let (c, s) = (panel.customer[i] as usize, &scores[i - day.start]);
                risk.band[k * customers_n + c] = s.band as u8;
                if last {
                    risk.pd[c] = Some(if labels.in_default[i] { 1.0 } else { s.pd });
                }
            }
        }
        if as_of >= alerts_from {
            for i in day.clone() {
                let s = &scores[i - day.start];
                scored[panel.customer[i] as usize].push(ardent_engine::analytics::alerts::Scored {
                    as_of,
                    pd: s.pd,
                    band: s.band,
                    in_default: labels.in_default[i],
                });
            }
        }
        segment_rows.extend(segments::month_sums(panel, day.clone(), rows, &scores, labels, reference));
        if let Some(sums) = pd_sums.as_mut() {
            for i in day.clone() {
                let c = panel.customer[i] as usize;
                // A customer already in default is credit-impaired: PD 1.
                let pd = if labels.in_default[i] { 1.0 } else { scores[i - day.start].pd };
                let customer =
                    ardent_engine::analytics::ecl::Customer { exposure: panel.open_cents[i], pd, lgd: lgd[c], overlay };
                sums.add(as_of, &groups[c], customer);
            }
        }
        if as_of >= published_from {
            let df = customer_scores(book, panel, day.clone(), rows, &scores, &labels.in_default, &model.id)?;
            out.rows(&CUSTOMER_SCORES_TABLE, df)?;
        }
    }
    if model.is_none() {
        // Without customer models the table is published empty.
        out.rows(&CUSTOMER_SCORES_TABLE, customer_scores(book, panel, 0..0, rows, &[], &labels.in_default, "")?)?;
    }
    let customers = &book.customers;
    let alerts = scored
        .par_iter()
        .enumerate()
        .filter(|(_, s)| s.len() >= 2)
        .flat_map_iter(|(c, s)| {
            ardent_engine::analytics::alerts::from_scores(
                alerts,
                &month_ends,
                customers.ids.get(c),
                customers.segment(c as u32),
                s,
            )
        })
        .collect();
    Ok(MonthsScored { segment_sums: segment_rows, ecl_pd: pd_sums, alerts, risk })
}

/// `customer_scores` rows of the month end `day` (panel rows); `scores` are those rows'.
fn customer_scores(
    book: &Book,
    panel: &features::Panel,
    day: std::ops::Range<usize>,
    rows: &Sample,
    scores: &[Score],
    in_default: &[bool],
    model_id: &str,
) -> Result<DataFrame> {
    let ids = &book.customers.ids;
    let id = |i: usize| ids.get(panel.customer[i] as usize);
    // Worklist order: highest expected loss first, then PD, then customer id.
    let mut order: Vec<usize> = day.clone().collect();
    order.sort_by(|&a, &b| {
        let (sa, sb) = (&scores[a - day.start], &scores[b - day.start]);
        sb.expected_loss_cents.cmp(&sa.expected_loss_cents).then(sb.pd.total_cmp(&sa.pd)).then(id(a).cmp(id(b)))
    });
    let mut rank = vec![0u64; day.len()];
    for (r, &i) in order.iter().enumerate() {
        rank[i - day.start] = r as u64 + 1;
    }
    let score = |i: usize| &scores[i - day.start];
    let reason = |i: usize, k: usize| score(i).reasons.get(k).map(String::as_str);
    let at = day.clone();
    Ok(frame(
        &CUSTOMER_SCORES_TABLE,
        vec![
            date("as_of", at.clone().map(|i| panel.as_of[i])),
            text("customer_id", at.clone().map(id)),
            text("segment", at.clone().map(|i| rows.segments[rows.segment[i] as usize].as_str())),
            text("model_id", at.clone().map(|_| model_id)),
            float_opt("pd", at.clone().map(|i| Some(score(i).pd))),
            float_opt("score_points", at.clone().map(|i| score(i).points.map(|p| (p * 100.0).round() / 100.0))),
            text("risk_band", at.clone().map(|i| BANDS[score(i).band])),
            ardent_engine::analytics::frame::text_opt("reason_1", at.clone().map(|i| reason(i, 0))),
            ardent_engine::analytics::frame::text_opt("reason_2", at.clone().map(|i| reason(i, 1))),
            ardent_engine::analytics::frame::text_opt("reason_3", at.clone().map(|i| reason(i, 2))),
            ardent_engine::analytics::frame::text_opt("reason_4", at.clone().map(|i| reason(i, 3))),
            text("recommended_action", at.clone().map(|i| ACTIONS[score(i).band])),
            money("exposure", at.clone().map(|i| panel.open_cents[i])),
            money_opt("credit_limit", at.clone().map(|i| book.customers.credit_limit[panel.customer[i] as usize])),
            money("recommended_credit_limit", at.clone().map(|i| score(i).recommended_limit_cents)),
            money("expected_loss", at.clone().map(|i| score(i).expected_loss_cents)),
            count("priority_rank", rank.iter().copied()),
            boolean("in_default", in_default[day].iter().copied()),
        ],
    )?)
}
