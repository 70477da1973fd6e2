//! `[models]`: the training parameters as written in a config ([`TrainParams`], every field
//! optional) and checked ([`Training`], what [`crate::train::train`] reads).

use serde::{Deserialize, Serialize};

use ardent_engine::analytics::invoices::{InvoiceLabelParams, InvoiceLabeling};
use ardent_engine::analytics::labels::{LabelParams, Labeling};
use linfa::param_guard::ParamGuard;

use crate::error::{ModelError, Result};
use crate::gbdt::{GbdtParams, ValidGbdtParams};
use crate::logistic::{LogisticParams, ValidLogisticParams};
use crate::model::Kind;
use crate::score::{ScoreParams, Scoring};
use crate::scorecard::{ScorecardParams, ValidScorecardParams};
use crate::stability;

/// `[models]` as written in a config; every field optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainParams {
    /// Whether `ardent run` trains, evaluates and scores. Default true.
    pub enabled: bool,
    /// The customer-level default label (`[models.label]`).
    pub label: LabelParams,
    /// Bands, actions and limits (`[models.scores]`).
    pub scores: ScoreParams,
    /// The invoice-level late-payment label (`[models.invoice_label]`).
    pub invoice_label: InvoiceLabelParams,
    /// Learners to train. Default all: `["logistic", "scorecard", "gbdt"]`.
    pub learners: Vec<String>,
    /// How each model is validated and calibrated in time. `holdout` (the default): fitted
    /// once, on the training rows of all but a seeded `holdout_share` of customers, and
    /// calibrated on those customers' rows. `folds`: fitted once per customer-grouped
    /// cross-validation fold and once more on every training row, and calibrated on the
    /// out-of-fold predictions — `folds + 1` fits per model, for per-fold metrics.
    pub validation: ValidationKind,
    /// Share of training customers held out by `validation = "holdout"`. Default 0.2.
    pub holdout_share: f64,
    /// Cross-validation folds of `validation = "folds"`, grouped by customer. Default 3.
    pub folds: usize,
    /// The last this many labelled observation dates are the out-of-time sample. Default 6.
    pub oot_months: usize,
    /// Also train a logistic regression and a scorecard per segment (segments with at
    /// least `min_segment_rows` training rows; the others use the portfolio model). Trees
    /// are trained on the portfolio only: per segment they measured no better on `m` data
    /// (out-of-time AUC 0.9501 vs 0.9512) at twice the cost. Default true.
    pub per_segment: bool,
    /// Default 5000.
    pub min_segment_rows: usize,
    /// Training rows beyond this are subsampled by customer and date (seeded). Default 400000.
    pub max_train_rows: usize,
    /// Seed of folds, subsampling and clustering. Default 42.
    pub seed: u64,
    /// Segment the models by k-means clusters of payment behaviour (this many) instead of
    /// the first segment column. Default: none.
    pub clusters: Option<usize>,
    /// The calibration test's tolerance: an out-of-time decile passes when its observed rate
    /// is within this of its mean PD, or within sampling noise (`significance`), whichever
    /// is wider ([`crate::champion`]). Default 0.02.
    pub max_calibration_gap: f64,
    /// Categorical levels with fewer training rows than this are pooled with the levels
    /// unseen in training into one "other" group ([`crate::categories`]). Default 20.
    pub min_level_rows: usize,
    /// The false-alarm rate of the champion rule's tests: a calibrated model fails the
    /// calibration test, a constant seems to beat itself, or a model seems better than an
    /// equal one, with about this probability. Default 0.05.
    pub significance: f64,
    /// When features' out-of-time values moved this far from their training values (PSI, see
    /// [`crate::stability`]), every learner is also trained without them: the `_stable`
    /// challengers, which the champion rule weighs with the others. Default 0.25 (a large
    /// shift); `inf` trains no challengers (written `"inf"` in JSON, which has no infinity).
    #[serde(with = "crate::json_float")]
    pub max_feature_psi: f64,
    pub logistic: LogisticParams,
    pub scorecard: ScorecardParams,
    pub gbdt: GbdtParams,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            enabled: true,
            label: LabelParams::default(),
            scores: ScoreParams::default(),
            invoice_label: InvoiceLabelParams::default(),
            learners: vec!["logistic".into(), "scorecard".into(), "gbdt".into()],
            validation: ValidationKind::Holdout,
            holdout_share: 0.2,
            folds: 3,
            oot_months: 6,
            per_segment: true,
            min_segment_rows: 5000,
            max_train_rows: 400_000,
            seed: 42,
            clusters: None,
            max_calibration_gap: 0.02,
            significance: 0.05,
            min_level_rows: crate::categories::MIN_LEVEL_ROWS,
            max_feature_psi: stability::LARGE,
            logistic: LogisticParams::default(),
            scorecard: ScorecardParams::default(),
            gbdt: GbdtParams::default(),
        }
    }
}

/// `models.validation` as written in a config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidationKind {
    Holdout,
    Folds,
}

/// How models are validated and calibrated in time (checked).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Validation {
    /// One fit on all but this share of training customers, calibrated on them.
    Holdout(f64),
    /// This many customer-grouped folds, plus the final fit on every training row.
    Folds(usize),
}

impl Validation {
    /// Fits that each hold some rows out (the parts of the validation).
    pub fn parts(self) -> usize {
        match self {
            Validation::Holdout(_) => 1,
            Validation::Folds(k) => k,
        }
    }

    /// The `sample` name of part `k` in `model_metrics`.
    pub fn sample_name(self, k: usize) -> String {
        match self {
            Validation::Holdout(_) => "validation".into(),
            Validation::Folds(_) => format!("cv_fold_{}", k + 1),
        }
    }

    /// Readable, for model cards.
    pub fn describe(self) -> String {
        match self {
            Validation::Holdout(share) => format!(
                "fitted once on {:.0}% of the training customers, calibrated and validated on the other {:.0}%",
                (1.0 - share) * 100.0,
                share * 100.0
            ),
            Validation::Folds(k) => format!(
                "{k} customer-grouped cross-validation folds (calibrated out of fold), then fitted on every training row"
            ),
        }
    }
}

/// Checked training parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Training {
    pub enabled: bool,
    pub labeling: Labeling,
    pub scoring: Scoring,
    pub invoice_labeling: InvoiceLabeling,
    pub learners: Vec<Kind>,
    pub validation: Validation,
    pub oot_months: usize,
    pub per_segment: bool,
    pub min_segment_rows: usize,
    pub max_train_rows: usize,
    pub seed: u64,
    pub clusters: Option<usize>,
    pub max_calibration_gap: f64,
    pub significance: f64,
    pub min_level_rows: usize,
    pub max_feature_psi: f64,
    pub logistic: ValidLogisticParams,
    pub scorecard: ValidScorecardParams,
    pub gbdt: ValidGbdtParams,
}

impl TrainParams {
    /// Check every field.
    pub fn check(&self) -> Result<Training> {
        let bad = |m: String| Err(ModelError::Params(m));
        let mut learners = Vec::new();
        for name in &self.learners {
            match Kind::parse(name) {
                Some(k) if !learners.contains(&k) => learners.push(k),
                Some(_) => return bad(format!("`models.learners` names `{name}` twice")),
                None => {
                    return bad(format!(
                        "`models.learners` holds `{name}`, which is not a learner. Valid learners are logistic, scorecard, gbdt"
                    ));
                }
            }
        }
        if learners.is_empty() {
            return bad("`models.learners` cannot be empty".into());
        }
        if !(2..=20).contains(&self.folds) {
            return bad(format!("`models.folds` must be between 2 and 20, but is {}", self.folds));
        }
        if !(self.holdout_share > 0.0 && self.holdout_share <= 0.5) {
            return bad(format!("`models.holdout_share` must be in (0, 0.5], but is {}", self.holdout_share));
        }
        if self.oot_months == 0 {
            return bad("`models.oot_months` cannot be 0".into());
        }
        if let Some(k) = self.clusters.filter(|k| !(2..=20).contains(k)) {
            return bad(format!("`models.clusters` must be between 2 and 20, but is {k}"));
        }
        if self.max_train_rows < 1000 {
            return bad(format!("`models.max_train_rows` must be at least 1000, but is {}", self.max_train_rows));
        }
        if !(self.max_calibration_gap > 0.0 && self.max_calibration_gap < 1.0) {
            return bad(format!("`models.max_calibration_gap` must be in (0, 1), but is {}", self.max_calibration_gap));
        }
        if !(self.significance > 0.0 && self.significance < 0.5) {
            return bad(format!("`models.significance` must be in (0, 0.5), but is {}", self.significance));
        }
        if self.max_feature_psi.is_nan() || self.max_feature_psi <= 0.0 {
            return bad(format!(
                "`models.max_feature_psi` must be above 0 (`inf`: no `_stable` challengers), but is {}",
                self.max_feature_psi
            ));
        }
        Ok(Training {
            enabled: self.enabled,
            labeling: self.label.check()?,
            scoring: self.scores.check()?,
            invoice_labeling: self.invoice_label.check()?,
            learners,
            validation: match self.validation {
                ValidationKind::Holdout => Validation::Holdout(self.holdout_share),
                ValidationKind::Folds => Validation::Folds(self.folds),
            },
            oot_months: self.oot_months,
            per_segment: self.per_segment,
            min_segment_rows: self.min_segment_rows,
            max_train_rows: self.max_train_rows,
            seed: self.seed,
            clusters: self.clusters,
            max_calibration_gap: self.max_calibration_gap,
            significance: self.significance,
            min_level_rows: self.min_level_rows.max(1),
            max_feature_psi: self.max_feature_psi,
            logistic: self.logistic.clone().check()?,
            scorecard: self.scorecard.clone().check()?,
            gbdt: self.gbdt.clone().check()?,
        })
    }
}
