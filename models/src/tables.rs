//! The models stage's tables: their contracts (columns, types, meanings, in publishing order)
//! and the builders of the small ones from what training produced. `features` and
//! `customer_scores` are written in parts by [`crate::run`] as it scores.

use std::borrow::Cow;

use ardent_engine::analytics::features::{self, FEATURES};
use ardent_engine::analytics::frame::{boolean, boolean_opt, count, date, float_opt, frame, int, money, text};
use ardent_engine::contracts::{OutColumn, OutType as O, TableContract, out};
use polars::prelude::DataFrame;

use crate::error::Result;
use crate::model::Task;
use crate::score::BANDS;
use crate::stability::FeatureShift;
use crate::train::Trained;

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

/// The tables training writes, in publishing order: `model_metrics`, `model_calibration`,
/// `feature_importance`, `feature_stability`.
pub fn trained_contracts() -> [TableContract; 4] {
    [
        MODEL_METRICS_TABLE.clone(),
        MODEL_CALIBRATION_TABLE.clone(),
        FEATURE_IMPORTANCE_TABLE.clone(),
        FEATURE_STABILITY_TABLE.clone(),
    ]
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
        out(
            "score_points",
            O::Float,
            true,
            "Score points (higher = safer; see the model card for the scale); none when already in default",
        ),
        out("risk_band", O::Text, false, "A (safest) to E by PD, or `default` when already in default at as_of"),
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

pub fn segment_scores_contract() -> TableContract {
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

pub(crate) fn empty_invoice_predictions() -> Result<DataFrame> {
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

pub(crate) fn metrics_table(sets: &[&Trained]) -> Result<DataFrame> {
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
            boolean("calibrated", rows.iter().map(|r| cand(r.0).calibrated())),
            boolean("champion", rows.iter().map(|r| r.0.1 == sets[r.0.0].champion)),
        ],
    )?)
}

pub(crate) fn calibration_table(sets: &[&Trained]) -> Result<DataFrame> {
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

pub(crate) fn importance_table(sets: &[&Trained]) -> Result<DataFrame> {
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

pub(crate) fn stability_table(sets: &[&Trained], tasks: &[Task]) -> Result<DataFrame> {
    let rows: Vec<(Task, &FeatureShift, u64)> = sets
        .iter()
        .zip(tasks)
        .flat_map(|(t, &task)| t.stability.iter().zip(1..).map(move |(f, rank)| (task, f, rank)))
        .collect();
    Ok(frame(
        &FEATURE_STABILITY_TABLE,
        vec![
            text("task", rows.iter().map(|r| r.0.name())),
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

/// One row of `segment_scores`.
#[derive(Debug)]
pub(crate) struct SegmentRow {
    pub(crate) as_of: i32,
    pub(crate) segment: String,
    pub(crate) customers: u64,
    pub(crate) exposure: i64,
    pub(crate) mean_pd: f64,
    pub(crate) expected_loss: i64,
    pub(crate) share_customers: [f64; BANDS.len()],
    pub(crate) share_exposure: [Option<f64>; BANDS.len()],
    pub(crate) labelled: u64,
    pub(crate) observed: Option<f64>,
    pub(crate) psi: Option<f64>,
}

pub(crate) fn segment_scores_table(out: &[SegmentRow]) -> Result<DataFrame> {
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
