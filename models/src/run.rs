//! The models stage of `ardent run`: from the engine's book and cash applications to the
//! published model tables and artifacts.
//!
//! feature panel + labels (engine) → [`Sample`] → [`train`] (every learner, validation fit and
//! segment in parallel) → champion → scores of every panel row → tables `features`,
//! `model_metrics`, `model_calibration`, `feature_importance`, `feature_stability`,
//! `customer_scores`, `segment_scores`, `invoice_predictions` (from the invoice-level model),
//! and `models/<model_id>/` artifacts.

use std::borrow::Cow;
use std::time::Instant;

use ardent_engine::analytics::features::{self, FEATURES};
use ardent_engine::analytics::frame::{
    boolean, boolean_opt, count, date, float_opt, frame, int, money, money_opt, part_ranges, text,
};
use ardent_engine::analytics::{Analysis, Context, invoices, labels};
use ardent_engine::book::Book;
use ardent_engine::calendar::format_day;
use ardent_engine::cash::Applications;
use ardent_engine::contracts::{OutColumn, OutType as O, TableContract, out};
use ardent_engine::sink::TableSink;
use polars::prelude::DataFrame;
use rayon::prelude::*;

use crate::artifact::{self, ModelFile};
use crate::clusters::Clusters;
use crate::error::{ModelError, Result};
use crate::matrix::Sample;
use crate::metrics::PsiReference;
use crate::score::{ACTIONS, Account, BANDS, Score, score_row, score_row_without_reasons};
use crate::stability::{self, FeatureShift};
use crate::train::{Holdout, Trained, Training, first_oot_date, in_subsample, split, train};

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
}

/// The `features` contract: the engine's panel plus its labels.
pub fn features_contract() -> TableContract {
    let mut t = features::contract();
    let mut columns = t.columns.into_owned();
    columns.push(out(
        "default_label",
        O::Bool,
        true,
        "Whether the customer defaults within the label horizon (null: horizon not yet passed, or already in default)",
    ));
    columns.push(out("in_default", O::Bool, false, "Whether the customer is already in default at as_of"));
    t.columns = Cow::Owned(columns);
    t
}

/// `model_metrics`.
pub static MODEL_METRICS_TABLE: TableContract = TableContract {
    name: "model_metrics",
    doc: "Every candidate model's metrics in time (held-out customers, or per cross-validation fold) and out of time; the champion is flagged",
    columns: Cow::Borrowed(&[
        out("model_id", O::Text, false, "Model (learner, and `_by_segment` for one model per segment)"),
        out("learner", O::Text, false, "logistic, scorecard or gbdt"),
        out(
            "sample",
            O::Text,
            false,
            "validation (held-out customers, in time), cv_fold_<k> (out-of-fold, in time) or out_of_time",
        ),
        out("rows", O::Count, false, "Rows evaluated"),
        out("positives", O::Count, false, "Defaults among them"),
        out("auc", O::Float, true, "Area under the ROC curve"),
        out("gini", O::Float, true, "2 × AUC − 1"),
        out("ks", O::Float, true, "Kolmogorov–Smirnov statistic"),
        out("brier", O::Float, false, "Mean squared error of the PD"),
        out("log_loss", O::Float, false, "Mean negative log-likelihood"),
        out("mean_pd", O::Float, false, "Mean predicted PD"),
        out("observed_rate", O::Float, false, "Observed default rate"),
        out("max_decile_gap", O::Float, false, "Largest |mean PD − observed rate| over the ten deciles"),
        out("psi", O::Float, true, "PSI of the out-of-time scores against the training scores"),
        out("auc_std_error", O::Float, true, "DeLong standard error of the out-of-time AUC (out_of_time rows only)"),
        out(
            "beats_constant",
            O::Bool,
            true,
            "The out-of-time AUC is above 0.5 by more than noise at `models.significance` (out_of_time rows only)",
        ),
        out(
            "auc_below_best",
            O::Float,
            true,
            "Out-of-time AUC of the best calibrated model that beats a constant minus this one's (out_of_time rows of such models only)",
        ),
        out(
            "within_noise_of_best",
            O::Bool,
            true,
            "`auc_below_best` is within noise (paired DeLong test at `models.significance`): the model may be champion if it is the simplest such (out_of_time rows only)",
        ),
        out(
            "calibration_worst_z",
            O::Float,
            true,
            "Largest |observed − mean PD| / standard error over the out-of-time deciles (out_of_time rows only)",
        ),
        out(
            "spiegelhalter_z",
            O::Float,
            true,
            "Spiegelhalter's calibration z over the out-of-time rows (out_of_time rows only)",
        ),
        out(
            "calibrated",
            O::Bool,
            false,
            "Every out-of-time decile within `models.max_calibration_gap` of its mean PD or within sampling noise at `models.significance`",
        ),
        out("champion", O::Bool, false, "The model that scores"),
    ]),
    partition: None,
};

/// `model_calibration`.
pub static MODEL_CALIBRATION_TABLE: TableContract = TableContract {
    name: "model_calibration",
    doc: "Predicted vs observed default rate per out-of-time decile of every candidate model",
    columns: Cow::Borrowed(&[
        out("model_id", O::Text, false, "Model"),
        out("decile", O::Count, false, "1 = lowest predicted risk"),
        out("rows", O::Count, false, "Rows in the decile"),
        out("mean_pd", O::Float, false, "Mean predicted PD"),
        out("observed_rate", O::Float, false, "Observed default rate"),
        out("min_pd", O::Float, false, "Lowest PD in the decile"),
        out("max_pd", O::Float, false, "Highest PD in the decile"),
    ]),
    partition: None,
};

/// `feature_importance`.
pub static FEATURE_IMPORTANCE_TABLE: TableContract = TableContract {
    name: "feature_importance",
    doc: "How much each feature drives each model (normalised to sum to 1 per model)",
    columns: Cow::Borrowed(&[
        out("model_id", O::Text, false, "Model"),
        out("feature", O::Text, false, "Feature"),
        out(
            "importance",
            O::Float,
            false,
            "|standardised coefficient| (logistic), |coefficient| × IV (scorecard), split gain (gbdt)",
        ),
        out("rank", O::Count, false, "1 = most important"),
    ]),
    partition: None,
};

/// `feature_stability`.
pub static FEATURE_STABILITY_TABLE: TableContract = TableContract {
    name: "feature_stability",
    doc: "How far each feature moved from the training rows to the out-of-time rows (characteristic stability), per task",
    columns: Cow::Borrowed(&[
        out("task", O::Text, false, "customer_default or invoice_late"),
        out("feature", O::Text, false, "Feature"),
        out(
            "psi",
            O::Float,
            true,
            "PSI of the out-of-time values against the training values, over the training deciles plus a missing bin",
        ),
        out("shift", O::Text, false, "stable (PSI < 0.1), moderate (< 0.25), large, or unknown"),
        out("train_mean", O::Float, true, "Mean of the training values present"),
        out("out_of_time_mean", O::Float, true, "Mean of the out-of-time values present"),
        out("train_missing", O::Float, true, "Share of training rows without a value (0–1)"),
        out("out_of_time_missing", O::Float, true, "Share of out-of-time rows without a value (0–1)"),
        out(
            "excluded",
            O::Bool,
            false,
            "Left out of the `_stable` challenger models (its PSI reached `models.max_feature_psi`)",
        ),
        out("rank", O::Count, false, "1 = moved most (within the task)"),
    ]),
    partition: None,
};

/// `customer_scores`.
pub static CUSTOMER_SCORES_TABLE: TableContract = TableContract {
    name: "customer_scores",
    doc: "The champion's score of every customer at the latest month ends: PD, points, band, reasons, action, limit, expected loss, worklist rank",
    columns: Cow::Borrowed(&[
        out("as_of", O::Date, false, "Observation date (a month end)"),
        out("customer_id", O::Text, false, "Customer"),
        out("segment", O::Text, false, "The customer's value of the first segment column"),
        out("model_id", O::Text, false, "The champion model"),
        out("pd", O::Float, false, "Probability of default within the label horizon (1 when already in default)"),
        out("score_points", O::Float, false, "Score points (higher = safer; see the model card for the scale)"),
        out("risk_band", O::Text, false, "A (safest) to E"),
        out("reason_1", O::Text, true, "Strongest reason for the risk: a feature and its value"),
        out("reason_2", O::Text, true, "Second reason"),
        out("reason_3", O::Text, true, "Third reason"),
        out("reason_4", O::Text, true, "Fourth reason"),
        out("recommended_action", O::Text, false, "What collections should do"),
        out("exposure", O::Money, false, "Open AR at as_of"),
        out("credit_limit", O::Money, true, "Current credit limit"),
        out("recommended_credit_limit", O::Money, false, "Suggested limit for the band (whole hundreds)"),
        out("expected_loss", O::Money, false, "pd × exposure"),
        out("priority_rank", O::Count, false, "Collections worklist order at as_of (1 = first: highest expected loss)"),
        out("in_default", O::Bool, false, "Already in default at as_of"),
    ]),
    partition: None,
};

fn segment_scores_contract() -> TableContract {
    let mut columns = vec![
        out("as_of", O::Date, false, "Observation date (a month end)"),
        out("segment", O::Text, false, "Segment (ALL for the portfolio)"),
        out("customers", O::Count, false, "Customers scored"),
        out("exposure", O::Money, false, "Open AR"),
        out("mean_pd", O::Float, false, "Mean PD"),
        out("expected_loss", O::Money, false, "Σ pd × exposure"),
    ];
    for b in BANDS {
        columns.push(OutColumn {
            name: Cow::Owned(format!("share_customers_{}", b.to_lowercase())),
            ty: O::Float,
            nullable: false,
            doc: Cow::Owned(format!("Share of customers in band {b}")),
        });
    }
    for b in BANDS {
        columns.push(OutColumn {
            name: Cow::Owned(format!("share_exposure_{}", b.to_lowercase())),
            ty: O::Float,
            nullable: true,
            doc: Cow::Owned(format!("Share of exposure in band {b}")),
        });
    }
    columns.push(out(
        "labelled_customers",
        O::Count,
        false,
        "Customers whose label horizon has passed (and not already in default)",
    ));
    columns.push(out(
        "observed_default_rate",
        O::Float,
        true,
        "Default rate of the labelled customers (null until the horizon has passed)",
    ));
    columns.push(out("psi", O::Float, true, "PSI of these PDs against the champion's training population"));
    TableContract {
        name: "segment_scores",
        doc: "Risk per month end and segment: exposure, mean PD, expected loss, band mix, observed default rate, PSI",
        columns: Cow::Owned(columns),
        partition: None,
    }
}

/// `invoice_predictions`.
pub static INVOICE_PREDICTIONS_TABLE: TableContract = TableContract {
    name: "invoice_predictions",
    doc: "Every invoice open at the latest month end: probability of paying late and the expected pay date",
    columns: Cow::Borrowed(&[
        out("as_of", O::Date, false, "The latest month end"),
        out("doc_id", O::Text, false, "Invoice or debit memo"),
        out("customer_id", O::Text, false, "Customer"),
        out("segment", O::Text, false, "The customer's value of the first segment column"),
        out("due_date", O::Date, false, "Due date"),
        out("open_amount", O::Money, false, "Open at as_of (reporting currency, document rate)"),
        out("days_past_due", O::Int, false, "as_of − due date (negative: not yet due)"),
        out(
            "p_late",
            O::Float,
            false,
            "Probability of being paid more than `models.invoice_label.days_late` days after due, or not at all",
        ),
        out(
            "expected_pay_date",
            O::Date,
            false,
            "Due date + the larger of the customer's recent weighted days late and p_late × days_late; never before the day after as_of",
        ),
        out("model_id", O::Text, false, "The invoice model"),
    ]),
    partition: None,
};

/// Every table the models stage publishes, in order.
pub fn contracts() -> Vec<TableContract> {
    vec![
        features_contract(),
        MODEL_METRICS_TABLE.clone(),
        MODEL_CALIBRATION_TABLE.clone(),
        FEATURE_IMPORTANCE_TABLE.clone(),
        FEATURE_STABILITY_TABLE.clone(),
        CUSTOMER_SCORES_TABLE.clone(),
        segment_scores_contract(),
        INVOICE_PREDICTIONS_TABLE.clone(),
    ]
}

/// What a panel feature means, for reason codes.
pub fn describe(name: &str) -> Option<&'static str> {
    FEATURES.iter().find(|(n, _)| *n == name).map(|(_, d)| *d)
}

fn column(name: &str) -> usize {
    FEATURES.iter().position(|(n, _)| *n == name).unwrap_or_else(|| unreachable!("`{name}` is a panel feature"))
}

/// Panel rows read back from the spilled values at a time.
const WINDOW_ROWS: usize = 1 << 16;

/// Visit panel rows `rows` (ascending; repeats allowed) with their feature values, read
/// back from `values` a window at a time; `each` gets the position in `rows` and the values.
fn visit(
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
) -> Result<ModelRun> {
    let mut timings = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |name: &'static str, timings: &mut Vec<(&'static str, u64)>| {
        timings.push((name, clock.elapsed().as_millis() as u64));
        clock = Instant::now();
    };
    let ctx = Context::new(book, apps, analysis);
    // Deleted by the system when closed, or when the process ends however it ends.
    let file = tempfile::tempfile().map_err(ardent_engine::EngineError::temp(
        "creating the feature panel's file",
        ardent_engine::analytics::features::PANEL_ROOM,
    ))?;
    let (panel, values) = features::panel_spilled(&ctx, file)?;
    let labels = labels::customer_default(&ctx, &panel, &t.labeling);
    let l = &t.labeling;
    let positive = format!(
        "at least {:.0}% of the open amount reaches {} days past due, or anything is written off, within {} days",
        l.share * 100.0,
        l.dpd,
        l.horizon_days
    );
    let mut rows = Sample::panel_rows(book, &panel, labels.label.clone(), &positive)?;
    lap("features_labels", &mut timings);
    let holdout = Holdout::LastDates { n: t.oot_months, gap_days: l.horizon_days };
    // Decide the split on the whole panel, then read back only the rows it uses: training
    // on them with nothing left to subsample makes the same split.
    let whole = split(&rows, holdout, t)?;
    let picked: Vec<usize> = {
        let mut p = whole.train.clone();
        p.extend_from_slice(&whole.oot);
        p.sort_unstable();
        p
    };
    let mut x = Vec::with_capacity(picked.len() * FEATURES.len());
    visit(&values, picked.iter().copied(), |_, v| x.extend_from_slice(v))?;
    let x = ndarray::Array2::from_shape_vec((picked.len(), FEATURES.len()), x)
        .map_err(|e| ModelError::Data(format!("the training rows are not rectangular: {e}")))?;
    let mut sample = rows.select(&picked, x)?;
    // Behavioural segments replace the segment column when asked for; they are fitted on
    // the training rows only, and every panel row gets its cluster.
    let clusters = match t.clusters {
        Some(k) => {
            let train_rows: Vec<usize> =
                (0..picked.len()).filter(|&j| whole.train.binary_search(&picked[j]).is_ok()).collect();
            let c = Clusters::fit(&sample, &train_rows, k, t.seed)?;
            sample.segment = (0..sample.len()).map(|i| c.assign(sample.row(i)) as u32).collect();
            sample.segments = c.names.clone();
            visit(&values, 0..panel.len(), |i, v| rows.segment[i] = c.assign(ndarray::ArrayView1::from(v)) as u32)?;
            rows.segments = c.names.clone();
            Some(c)
        }
        None => None,
    };
    let held = Held { panel, values, rows, labels };
    // The customer models and the invoice model train side by side: each is deterministic on
    // its own, and together they keep both cores busy (on `m`: 9.5–9.9 s one after the other,
    // 7.4–7.9 s side by side).
    let (trained, invoice) =
        rayon::join(|| train_drawn(&sample, holdout, t, whole.train_rows_available), || invoice_model(&ctx, &held, t));
    drop(sample);
    let mut trained = trained?;
    for c in &mut trained.candidates {
        c.model.clusters = clusters.clone();
    }
    // Too little invoice history skips the invoice model only; the customer models stand.
    let (invoice_trained, invoice_predictions, invoice_skipped) = match invoice {
        Ok((trained, df)) => (Some(trained), df, None),
        Err(ModelError::NotEnoughHistory(why) | ModelError::NoSignal(why)) => {
            (None, empty_invoice_predictions()?, Some(why))
        }
        Err(e) => return Err(e),
    };
    lap("training", &mut timings);
    let champion = trained.champion();
    let model = &champion.model;
    let reference = (!champion.train_pd.is_empty()).then(|| PsiReference::new(&champion.train_pd));
    let segment_rows = score_months(&ctx, &held, model, reference.as_ref(), t, out)?;
    lap("scoring", &mut timings);
    let mut sets = vec![&trained];
    let mut tasks = vec!["customer_default"];
    if let Some(it) = &invoice_trained {
        sets.push(it);
        tasks.push("invoice_late");
    }
    let tables = vec![
        (MODEL_METRICS_TABLE.clone(), Some(metrics_table(&sets)?)),
        (MODEL_CALIBRATION_TABLE.clone(), Some(calibration_table(&sets)?)),
        (FEATURE_IMPORTANCE_TABLE.clone(), Some(importance_table(&sets)?)),
        (FEATURE_STABILITY_TABLE.clone(), Some(stability_table(&sets, &tasks)?)),
        (CUSTOMER_SCORES_TABLE.clone(), None),
        (segment_scores_contract(), Some(segment_scores_table(&segment_rows)?)),
        (INVOICE_PREDICTIONS_TABLE.clone(), Some(invoice_predictions)),
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
    lap("model_tables", &mut timings);
    let mut summary = vec![format!(
        "models: {} training rows ({} – {}), {} out-of-time rows ({} – {})",
        trained.split.train.len(),
        format_day(trained.split.train_window.0),
        format_day(trained.split.train_window.1),
        trained.split.oot.len(),
        format_day(trained.split.oot_window.0),
        format_day(trained.split.oot_window.1),
    )];
    for (k, c) in trained.candidates.iter().enumerate() {
        summary.push(format!(
            "  {:<27} out-of-time AUC {:.4}  KS {:.4}  Brier {:.4}  largest decile gap {:.4}{}{}",
            c.model.id,
            c.oot.auc,
            c.oot.ks,
            c.oot.brier,
            c.oot.max_decile_gap,
            if c.calibrated { "" } else { "  (not calibrated)" },
            if k == trained.champion { "  ← champion" } else { "" }
        ));
    }
    for (id, why) in &trained.failed {
        summary.push(format!("  {id:<27} failed and was left out: {why}"));
    }
    summary.push(format!("  champion {}: {}", model.id, trained.champion_reason));
    if let Some(moved) = stability::moved(&trained.stability, 4) {
        summary.push(format!("  features that moved since training (PSI >= {}): {moved}", stability::MODERATE));
    }
    if let Some(excluded) = stability::excluded(&trained.stability) {
        summary.push(format!(
            "  the `_stable` challengers leave out (PSI >= {}, `models.max_feature_psi`): {excluded}",
            t.max_feature_psi
        ));
    }
    match (&invoice_trained, invoice_skipped) {
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
    Ok(ModelRun { tables, artifacts, summary, timings })
}

/// Train on `sample`, whose training subsample is already drawn from `available` labelled
/// training rows: every training row of `sample` is taken, and the model files record `t`'s
/// `max_train_rows` and the rows that were available.
fn train_drawn(sample: &Sample, holdout: Holdout, t: &Training, available: usize) -> Result<Trained> {
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
struct Held {
    panel: features::Panel,
    values: features::SpilledValues,
    rows: Sample,
    labels: labels::Labels,
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

/// Score every panel row, one month end at a time, reading the values back from the spill:
/// each month's `features` rows, and for the latest `customer_months` its `customer_scores`
/// rows, go to `out`; returns the `segment_scores` rows. Reasons are formatted only for the
/// rows published in `customer_scores`.
fn score_months(
    ctx: &Context<'_>,
    held: &Held,
    model: &crate::model::Model,
    reference: Option<&PsiReference>,
    t: &Training,
    out: &mut dyn TableSink,
) -> Result<Vec<SegmentRow>> {
    let Held { panel, values, rows, labels } = held;
    let dates = held.months();
    let published_from =
        dates.iter().rev().nth(t.scoring.customer_months - 1).map_or(i32::MIN, |d| panel.as_of[d.start]);
    let book = ctx.book;
    let features_table = features_contract();
    let mut segment_rows = Vec::new();
    let mut buf = Vec::new();
    for day in &dates {
        let as_of = panel.as_of[day.start];
        let mut scores: Vec<Score> = Vec::with_capacity(day.len());
        for part in part_ranges(day.len()) {
            let part = day.start + part.start..day.start + part.end;
            values.read(part.clone(), &mut buf)?;
            let f = FEATURES.len();
            scores.par_extend(part.clone().into_par_iter().map(|i| {
                let c = panel.customer[i] as usize;
                let at = (i - part.start) * f;
                let x = ndarray::ArrayView1::from(&buf[at..at + f]);
                let account = Account {
                    exposure_cents: panel.open_cents[i],
                    credit_limit_cents: book.customers.credit_limit[c],
                    billed_90d_cents: panel.billed_90d_cents[i],
                    in_default: labels.in_default[i],
                };
                let seg = &rows.segments[rows.segment[i] as usize];
                if as_of < published_from {
                    score_row_without_reasons(model, &t.scoring, x, seg, &account)
                } else {
                    score_row(model, &t.scoring, x, seg, &account, &describe)
                }
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
        segment_rows.extend(segment_scores(panel, day.clone(), rows, &scores, labels, reference));
        if as_of >= published_from {
            let df = customer_scores(book, panel, day.clone(), rows, &scores, &labels.in_default, &model.id)?;
            out.rows(&CUSTOMER_SCORES_TABLE, df)?;
        }
    }
    Ok(segment_rows)
}

fn empty_invoice_predictions() -> Result<DataFrame> {
    Ok(frame(
        &INVOICE_PREDICTIONS_TABLE,
        vec![
            date("as_of", []),
            text("doc_id", Vec::<&str>::new()),
            text("customer_id", Vec::<&str>::new()),
            text("segment", Vec::<&str>::new()),
            date("due_date", []),
            money("open_amount", []),
            int("days_past_due", []),
            float_opt("p_late", []),
            date("expected_pay_date", []),
            text("model_id", Vec::<&str>::new()),
        ],
    )?)
}

fn opt(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

fn metrics_table(sets: &[&Trained]) -> Result<DataFrame> {
    let mut rows = Vec::new();
    for (s, trained) in sets.iter().enumerate() {
        for (k, c) in trained.candidates.iter().enumerate() {
            for (f, m) in c.validation.iter().enumerate() {
                rows.push(((s, k), trained.training.validation.sample_name(f), *m, None));
            }
            rows.push(((s, k), "out_of_time".to_string(), c.oot, Some(c.oot_psi)));
        }
    }
    let cand = |(s, k): (usize, usize)| &sets[s].candidates[k];
    Ok(frame(
        &MODEL_METRICS_TABLE,
        vec![
            text("model_id", rows.iter().map(|r| cand(r.0).model.id.as_str())),
            text("learner", rows.iter().map(|r| cand(r.0).model.kind.name())),
            text("sample", rows.iter().map(|r| r.1.as_str())),
            count("rows", rows.iter().map(|r| r.2.rows as u64)),
            count("positives", rows.iter().map(|r| r.2.positives as u64)),
            float_opt("auc", rows.iter().map(|r| opt(r.2.auc))),
            float_opt("gini", rows.iter().map(|r| opt(r.2.gini))),
            float_opt("ks", rows.iter().map(|r| opt(r.2.ks))),
            float_opt("brier", rows.iter().map(|r| Some(r.2.brier))),
            float_opt("log_loss", rows.iter().map(|r| Some(r.2.log_loss))),
            float_opt("mean_pd", rows.iter().map(|r| Some(r.2.mean_pd))),
            float_opt("observed_rate", rows.iter().map(|r| Some(r.2.observed_rate))),
            float_opt("max_decile_gap", rows.iter().map(|r| Some(r.2.max_decile_gap))),
            float_opt("psi", rows.iter().map(|r| r.3.and_then(opt))),
            // The champion rule's tests are of the out-of-time rows only (r.3 is their PSI).
            float_opt("auc_std_error", rows.iter().map(|r| r.3.and(opt(cand(r.0).judgement.auc_std_error)))),
            boolean_opt("beats_constant", rows.iter().map(|r| r.3.and(Some(cand(r.0).judgement.beats_constant)))),
            float_opt("auc_below_best", rows.iter().map(|r| r.3.and(opt(cand(r.0).judgement.auc_below_best)))),
            boolean_opt(
                "within_noise_of_best",
                rows.iter().map(|r| {
                    let j = cand(r.0).judgement;
                    r.3.and(j.auc_below_best.is_finite().then_some(j.within_noise_of_best))
                }),
            ),
            float_opt("calibration_worst_z", rows.iter().map(|r| r.3.and(opt(cand(r.0).calibration.worst_z)))),
            float_opt("spiegelhalter_z", rows.iter().map(|r| r.3.and(opt(cand(r.0).calibration.spiegelhalter_z)))),
            boolean("calibrated", rows.iter().map(|r| cand(r.0).calibrated)),
            boolean("champion", rows.iter().map(|r| r.0.1 == sets[r.0.0].champion)),
        ],
    )?)
}

fn calibration_table(sets: &[&Trained]) -> Result<DataFrame> {
    let rows: Vec<(&str, &crate::metrics::Bin)> = sets
        .iter()
        .flat_map(|t| t.candidates.iter())
        .flat_map(|c| c.oot_calibration.iter().map(move |b| (c.model.id.as_str(), b)))
        .collect();
    Ok(frame(
        &MODEL_CALIBRATION_TABLE,
        vec![
            text("model_id", rows.iter().map(|r| r.0)),
            count("decile", rows.iter().map(|r| u64::from(r.1.decile))),
            count("rows", rows.iter().map(|r| r.1.rows as u64)),
            float_opt("mean_pd", rows.iter().map(|r| Some(r.1.mean_pd))),
            float_opt("observed_rate", rows.iter().map(|r| Some(r.1.observed_rate))),
            float_opt("min_pd", rows.iter().map(|r| Some(r.1.min_pd))),
            float_opt("max_pd", rows.iter().map(|r| Some(r.1.max_pd))),
        ],
    )?)
}

fn importance_table(sets: &[&Trained]) -> Result<DataFrame> {
    let mut rows: Vec<(&str, &str, f64, u64)> = Vec::new();
    for c in sets.iter().flat_map(|t| t.candidates.iter()) {
        let features = &c.model.features;
        let mut order: Vec<usize> = (0..features.len()).collect();
        order.sort_by(|&a, &b| c.importance[b].total_cmp(&c.importance[a]).then(a.cmp(&b)));
        for (r, j) in order.into_iter().enumerate() {
            rows.push((&c.model.id, &features[j], c.importance[j], r as u64 + 1));
        }
    }
    Ok(frame(
        &FEATURE_IMPORTANCE_TABLE,
        vec![
            text("model_id", rows.iter().map(|r| r.0)),
            text("feature", rows.iter().map(|r| r.1)),
            float_opt("importance", rows.iter().map(|r| Some(r.2))),
            count("rank", rows.iter().map(|r| r.3)),
        ],
    )?)
}

fn stability_table(sets: &[&Trained], tasks: &[&str]) -> Result<DataFrame> {
    let rows: Vec<(&str, &FeatureShift, u64)> = sets
        .iter()
        .zip(tasks)
        .flat_map(|(t, &task)| t.stability.iter().zip(1..).map(move |(f, rank)| (task, f, rank)))
        .collect();
    Ok(frame(
        &FEATURE_STABILITY_TABLE,
        vec![
            text("task", rows.iter().map(|r| r.0)),
            text("feature", rows.iter().map(|r| r.1.feature.as_str())),
            float_opt("psi", rows.iter().map(|r| opt(r.1.psi))),
            text("shift", rows.iter().map(|r| r.1.level())),
            float_opt("train_mean", rows.iter().map(|r| opt(r.1.train_mean))),
            float_opt("out_of_time_mean", rows.iter().map(|r| opt(r.1.oot_mean))),
            float_opt("train_missing", rows.iter().map(|r| opt(r.1.train_missing))),
            float_opt("out_of_time_missing", rows.iter().map(|r| opt(r.1.oot_missing))),
            boolean("excluded", rows.iter().map(|r| r.1.excluded)),
            count("rank", rows.iter().map(|r| r.2)),
        ],
    )?)
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
            float_opt("score_points", at.clone().map(|i| Some((score(i).points * 100.0).round() / 100.0))),
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

/// One row of `segment_scores`.
#[derive(Debug)]
struct SegmentRow {
    as_of: i32,
    segment: String,
    customers: u64,
    exposure: i64,
    mean_pd: f64,
    expected_loss: i64,
    share_customers: [f64; 5],
    share_exposure: [Option<f64>; 5],
    labelled: u64,
    observed: Option<f64>,
    psi: Option<f64>,
}

/// `segment_scores` rows of the month end `day` (panel rows): the portfolio (ALL) and each
/// segment, in name order; `scores` are those rows'.
fn segment_scores(
    panel: &features::Panel,
    day: std::ops::Range<usize>,
    rows: &Sample,
    scores: &[Score],
    labels: &labels::Labels,
    reference: Option<&PsiReference>,
) -> Vec<SegmentRow> {
    // Groups: 0 = the portfolio, s + 1 = segment s; rows in panel order within each.
    let name = |g: usize| if g == 0 { "ALL" } else { rows.segments[g - 1].as_str() };
    let mut groups: Vec<Vec<usize>> = vec![Vec::new(); rows.segments.len() + 1];
    for i in day.clone() {
        groups[0].push(i);
        groups[rows.segment[i] as usize + 1].push(i);
    }
    let mut order: Vec<usize> = (0..groups.len()).filter(|&g| !groups[g].is_empty()).collect();
    order.sort_by(|&a, &b| name(a).cmp(name(b)).then(a.cmp(&b)));
    let score = |i: usize| &scores[i - day.start];
    order
        .into_iter()
        .map(|g| {
            let members = &groups[g];
            let n = members.len() as f64;
            let exposure: i64 = members.iter().map(|&i| panel.open_cents[i].max(0)).sum();
            let mut by_band = [0u64; 5];
            let mut exp_band = [0i64; 5];
            for &i in members {
                by_band[score(i).band] += 1;
                exp_band[score(i).band] += panel.open_cents[i].max(0);
            }
            let labelled: Vec<bool> = members.iter().filter_map(|&i| labels.label[i]).collect();
            let performing: Vec<f64> =
                members.iter().filter(|&&i| !labels.in_default[i]).map(|&i| score(i).pd).collect();
            SegmentRow {
                as_of: panel.as_of[day.start],
                segment: name(g).to_string(),
                customers: members.len() as u64,
                exposure,
                mean_pd: members.iter().map(|&i| score(i).pd).sum::<f64>() / n,
                expected_loss: members.iter().map(|&i| score(i).expected_loss_cents).sum(),
                share_customers: by_band.map(|b| b as f64 / n),
                share_exposure: exp_band.map(|e| (exposure > 0).then(|| e as f64 / exposure as f64)),
                labelled: labelled.len() as u64,
                observed: (!labelled.is_empty())
                    .then(|| labelled.iter().filter(|&&v| v).count() as f64 / labelled.len() as f64),
                psi: reference.filter(|_| !performing.is_empty()).map(|r| r.psi(&performing)),
            }
        })
        .collect()
}

fn segment_scores_table(out: &[SegmentRow]) -> Result<DataFrame> {
    let contract = segment_scores_contract();
    let mut cols = vec![
        date("as_of", out.iter().map(|r| r.as_of)),
        text("segment", out.iter().map(|r| r.segment.as_str())),
        count("customers", out.iter().map(|r| r.customers)),
        money("exposure", out.iter().map(|r| r.exposure)),
        float_opt("mean_pd", out.iter().map(|r| Some(r.mean_pd))),
        money("expected_loss", out.iter().map(|r| r.expected_loss)),
    ];
    for (b, name) in BANDS.iter().enumerate() {
        cols.push(float_opt(
            &format!("share_customers_{}", name.to_lowercase()),
            out.iter().map(|r| Some(r.share_customers[b])),
        ));
    }
    for (b, name) in BANDS.iter().enumerate() {
        cols.push(float_opt(
            &format!("share_exposure_{}", name.to_lowercase()),
            out.iter().map(|r| r.share_exposure[b]),
        ));
    }
    cols.push(count("labelled_customers", out.iter().map(|r| r.labelled)));
    cols.push(float_opt("observed_default_rate", out.iter().map(|r| r.observed)));
    cols.push(float_opt("psi", out.iter().map(|r| r.psi)));
    Ok(frame(&contract, cols)?)
}

/// Train the invoice-level model (trees, portfolio-wide) on the invoice panel and predict
/// every invoice open at the latest month end. The panel has a row per open invoice and
/// month end (tens of millions on large books), so its feature matrix is built only for the
/// rows the model reads: the training subsample, the out-of-time rows and the latest month
/// end; the split is decided on the whole panel first, exactly as training would.
fn invoice_model(ctx: &Context<'_>, held: &Held, t: &Training) -> Result<(Trained, DataFrame)> {
    let Held { panel, values, rows: customers, .. } = held;
    let l = &t.invoice_labeling;
    let book = ctx.book;
    let docs = &book.docs;
    // Decide the split on the whole panel (counted, not held), exactly as `split` would,
    // then build only the rows it reads and the latest month end's.
    let outline = invoices::outline(ctx, panel, l);
    // A row's label is known by due + days_late, at most terms + days_late after t0.
    let gap_days = outline.max_terms.max(0) + l.days_late;
    let holdout = Holdout::LastDates { n: t.oot_months, gap_days };
    let first_oot = first_oot_date(&outline.labelled.keys().copied().collect(), t.oot_months)?;
    let available: usize = outline.labelled.iter().filter(|&(&d, _)| d + gap_days <= first_oot).map(|(_, n)| n).sum();
    let keep = if available > t.max_train_rows { t.max_train_rows as f64 / available as f64 } else { 1.0 };
    let latest = outline.latest.unwrap_or(0);
    let group_name =
        |r: &invoices::InvoiceRow| customers.group_names[customers.group[r.customer_row as usize] as usize].as_str();
    let fits = |r: &invoices::InvoiceRow| {
        let train =
            r.as_of + gap_days <= first_oot && (keep >= 1.0 || in_subsample(t.seed, group_name(r), r.as_of, keep));
        r.label.is_some() && (r.as_of >= first_oot || train)
    };
    let inv = invoices::panel(ctx, panel, l, |r| r.as_of == latest || fits(r));
    // The rows the model trains and tests on, and the latest month end's that it predicts:
    // the latter's matrix is built only once training is done and its matrix is dropped.
    let (fit, open): (Vec<_>, Vec<_>) = (
        inv.rows.iter().copied().filter(|r| fits(r)).collect(),
        inv.rows.iter().copied().filter(|r| r.as_of == latest).collect(),
    );
    drop(inv);
    let (fit, open) = (invoices::InvoicePanel { rows: fit }, invoices::InvoicePanel { rows: open });
    let names = invoices::feature_names();
    let own = invoices::INVOICE_FEATURES.len();
    let customer_of = |inv: &invoices::InvoicePanel, i: usize| inv.rows[i].customer_row as usize;
    let sample = Sample {
        features: names.clone(),
        x: invoice_matrix(book, &fit, values)?,
        label: fit.rows.iter().map(|r| r.label).collect(),
        time: fit.rows.iter().map(|r| r.as_of).collect(),
        group: (0..fit.len()).map(|i| customers.group[customer_of(&fit, i)]).collect(),
        group_names: customers.group_names.clone(),
        segment: (0..fit.len()).map(|i| customers.segment[customer_of(&fit, i)]).collect(),
        segments: customers.segments.clone(),
        positive: format!("the invoice is paid more than {} days after its due date, or not at all", l.days_late),
        levels: vec![None; names.len()],
    };
    drop(fit);
    let mut it = t.clone();
    it.learners = vec![crate::model::Kind::Gbdt];
    it.per_segment = false;
    let mut trained = train_drawn(&sample, holdout, &it, available)?;
    drop(sample);
    for c in &mut trained.candidates {
        c.model.id = format!("invoice_{}", c.model.id);
    }
    let model = &trained.champion().model;
    // The invoices open at the latest month end.
    let x = invoice_matrix(book, &open, values)?;
    let late_col = own + column("weighted_days_late_365d");
    let segment = |i: usize| customers.segments[customers.segment[customer_of(&open, i)] as usize].as_str();
    let p: Vec<f64> = (0..open.len()).into_par_iter().map(|i| model.pd(x.row(i), segment(i))).collect();
    let due = |i: usize| {
        let d = open.rows[i].doc as usize;
        docs.due[d].unwrap_or(docs.date[d])
    };
    let expected: Vec<i32> = p
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let usual = x[[i, late_col]];
            let usual = if usual.is_nan() { 0.0 } else { usual };
            let days = usual.max(p * f64::from(l.days_late)).round() as i32;
            (due(i) + days).max(latest + 1)
        })
        .collect();
    let ids = &ctx.book.customers.ids;
    let rows = 0..open.len();
    let df = frame(
        &INVOICE_PREDICTIONS_TABLE,
        vec![
            date("as_of", rows.clone().map(|_| latest)),
            text("doc_id", rows.clone().map(|i| docs.id.get(open.rows[i].doc as usize))),
            text("customer_id", rows.clone().map(|i| ids.get(docs.customer[open.rows[i].doc as usize] as usize))),
            text("segment", rows.clone().map(segment)),
            date("due_date", rows.clone().map(due)),
            money("open_amount", rows.clone().map(|i| open.rows[i].open_cents)),
            int("days_past_due", rows.clone().map(|i| i64::from(latest - due(i)))),
            float_opt("p_late", p.iter().map(|&v| Some(v))),
            date("expected_pay_date", expected.iter().copied()),
            text("model_id", rows.map(|_| model.id.as_str())),
        ],
    )?;
    Ok((trained, df))
}

/// The invoice model's matrix for the rows of `inv`: the invoice's own features, then its
/// customer's (read back from the spilled panel, in panel order).
fn invoice_matrix(
    book: &Book,
    inv: &invoices::InvoicePanel,
    values: &features::SpilledValues,
) -> Result<ndarray::Array2<f64>> {
    let own = invoices::INVOICE_FEATURES.len();
    let mut x = ndarray::Array2::<f64>::zeros((inv.len(), own + FEATURES.len()));
    for (i, mut row) in x.outer_iter_mut().enumerate() {
        for (cell, v) in row.iter_mut().zip(inv.invoice_features(book, i)) {
            *cell = v;
        }
    }
    let mut by_customer_row: Vec<u32> = (0..inv.len() as u32).collect();
    by_customer_row.sort_unstable_by_key(|&i| inv.rows[i as usize].customer_row);
    visit(values, by_customer_row.iter().map(|&i| inv.rows[i as usize].customer_row as usize), |k, v| {
        let mut row = x.row_mut(by_customer_row[k] as usize);
        for (cell, &v) in row.iter_mut().skip(own).zip(v) {
            *cell = v;
        }
    })?;
    Ok(x)
}
