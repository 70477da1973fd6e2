//! Training: the out-of-time split, in-time validation (a held-out share of customers, or
//! customer-grouped cross-validation folds), every (learner × scope × fit) run in parallel with
//! rayon (once more without the features that moved out of time, when some did: the `_stable`
//! challengers, see [`crate::stability`]), calibration on held-out predictions, out-of-time
//! evaluation, and the champion.
//!
//! [`TrainParams`] (`[models]` in a pipeline config) → `check()` → [`Training`] →
//! [`train`]`(&Sample, …)` → [`Trained`]: the candidates with their metrics, ready for
//! [`crate::run`] and [`crate::artifact`].
//!
//! Determinism: folds and the training subsample come from a hash of the seed and the
//! customer id, every fit is deterministic on its own, and results are gathered in job
//! order, so the same sample and seed give the same models whatever the thread count.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use linfa::dataset::DatasetBase;
use linfa::param_guard::ParamGuard;
use linfa::traits::Fit;
use ndarray::Array1;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use ardent_engine::analytics::invoices::{InvoiceLabelParams, InvoiceLabeling};
use ardent_engine::analytics::labels::{LabelParams, Labeling};

use crate::champion::{self, Entrant, Judgement};
use crate::error::{ModelError, Result};
use crate::gbdt::{GbdtParams, ValidGbdtParams};
use crate::logistic::{LogisticParams, ValidLogisticParams};
use ardent_engine::calendar::format_day;

use crate::matrix::Sample;
use crate::metrics::{self, Bin, Metrics};
use crate::model::{Fitted, Kind, Model, Part, Platt};
use crate::score::{ScoreParams, Scoring};
use crate::scorecard::{self, ScorecardParams, ValidScorecardParams};
use crate::significance::{self, CalibrationTest};
use crate::stability::{self, FeatureShift, feature_stability};

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

/// Which rows are evaluated out of time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Holdout {
    /// The last `n` labelled observation dates; training rows must have their label horizon
    /// (`gap_days`) end by the first of them, so no training outcome lies in the holdout.
    LastDates { n: usize, gap_days: i32 },
    /// Rows dated on or after this day.
    From(i32),
    /// No time column: a seeded 20% of customers.
    Customers,
}

/// The training and out-of-time rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Training rows (after subsampling), in sample order.
    pub train: Vec<usize>,
    /// Out-of-time rows, in sample order.
    pub oot: Vec<usize>,
    /// Labelled training rows before subsampling.
    pub train_rows_available: usize,
    /// First and last observation date of the training rows, and of the out-of-time rows
    /// (meaningless when not `dated`).
    pub train_window: (i32, i32),
    pub oot_window: (i32, i32),
    /// How the holdout was chosen, readable.
    pub holdout: String,
    /// The rows have observation dates (a time column, or the panel's month ends); a table
    /// without a time column is held out by customer and has no windows.
    pub dated: bool,
}

/// FNV-1a over the seed and a key: stable across platforms and releases.
fn hash(seed: u64, key: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Final avalanche (splitmix64) so neighbouring ids land in different folds.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The validation part that holds row `i` out: its fold, or for a holdout `Some(0)` when its
/// customer is among the held-out share and `None` otherwise.
pub fn held_out_in(sample: &Sample, i: usize, seed: u64, validation: Validation) -> Option<usize> {
    let customer = sample.group_names[sample.group[i] as usize].as_bytes();
    match validation {
        Validation::Folds(k) => Some((hash(seed, customer) % k as u64) as usize),
        Validation::Holdout(share) => ((hash(seed ^ 0xca1b, customer) as f64 / u64::MAX as f64) < share).then_some(0),
    }
}

/// The first out-of-time date of a [`Holdout::LastDates`] holdout of `n` dates: the `n`-th
/// last date that has labels.
pub fn first_oot_date(labelled_dates: &BTreeSet<i32>, n: usize) -> Result<i32> {
    if labelled_dates.len() <= n {
        return Err(ModelError::NotEnoughHistory(format!(
            "only {} observation dates have labels, so {n} out-of-time months leave nothing to train on. Lower `models.oot_months` or provide a longer history",
            labelled_dates.len()
        )));
    }
    Ok(*labelled_dates.iter().rev().nth(n - 1).unwrap_or(&i32::MAX))
}

/// Whether the training row of customer `group_name` observed at `time` is in the seeded
/// subsample that keeps a share `keep` of the training rows (see [`split`]).
pub fn in_subsample(seed: u64, group_name: &str, time: i32, keep: f64) -> bool {
    let mut key = group_name.as_bytes().to_vec();
    key.extend_from_slice(&time.to_le_bytes());
    (hash(seed, &key) as f64 / u64::MAX as f64) < keep
}

/// Split the labelled rows of `sample` into training and out-of-time rows; training rows
/// beyond `t.max_train_rows` are subsampled (seeded, by customer and date).
pub fn split(sample: &Sample, holdout: Holdout, t: &Training) -> Result<Split> {
    let labelled: Vec<usize> = (0..sample.len()).filter(|&i| sample.label[i].is_some()).collect();
    let (train, oot, how): (Vec<usize>, Vec<usize>, String) = match holdout {
        Holdout::LastDates { n, gap_days } => {
            let dates: BTreeSet<i32> = labelled.iter().map(|&i| sample.time[i]).collect();
            let first_oot = first_oot_date(&dates, n)?;
            let train = labelled.iter().copied().filter(|&i| sample.time[i] + gap_days <= first_oot).collect();
            let oot = labelled.iter().copied().filter(|&i| sample.time[i] >= first_oot).collect();
            (
                train,
                oot,
                format!(
                    "the last {n} labelled month ends (from {}); training dates end {gap_days} days (the label horizon) before it",
                    format_day(first_oot)
                ),
            )
        }
        Holdout::From(from) => (
            labelled.iter().copied().filter(|&i| sample.time[i] < from).collect(),
            labelled.iter().copied().filter(|&i| sample.time[i] >= from).collect(),
            format!("rows dated from {}", format_day(from)),
        ),
        Holdout::Customers => {
            let is_holdout = |i: usize| {
                hash(t.seed ^ 0x5eed, sample.group_names[sample.group[i] as usize].as_bytes()).is_multiple_of(5)
            };
            (
                labelled.iter().copied().filter(|&i| !is_holdout(i)).collect(),
                labelled.iter().copied().filter(|&i| is_holdout(i)).collect(),
                "a seeded 20% of customers (no time column)".into(),
            )
        }
    };
    if train.is_empty() || oot.is_empty() {
        return Err(ModelError::NotEnoughHistory(format!(
            "the split leaves {} training and {} out-of-time rows; both need rows. Check the time column and the out-of-time start",
            train.len(),
            oot.len()
        )));
    }
    let available = train.len();
    let train: Vec<usize> = if available > t.max_train_rows {
        let keep = t.max_train_rows as f64 / available as f64;
        train
            .into_iter()
            .filter(|&i| in_subsample(t.seed, &sample.group_names[sample.group[i] as usize], sample.time[i], keep))
            .collect()
    } else {
        train
    };
    let window = |rows: &[usize]| {
        let lo = rows.iter().map(|&i| sample.time[i]).min().unwrap_or(0);
        let hi = rows.iter().map(|&i| sample.time[i]).max().unwrap_or(0);
        (lo, hi)
    };
    Ok(Split {
        train_window: window(&train),
        oot_window: window(&oot),
        train,
        oot,
        train_rows_available: available,
        holdout: how,
        dated: !matches!(holdout, Holdout::Customers),
    })
}

/// One candidate model and how it did.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub model: Model,
    /// `portfolio` or `by_segment`.
    pub scope: &'static str,
    /// In-time metrics of the calibrated held-out predictions: one per cross-validation
    /// fold, or one for the held-out customers.
    pub validation: Vec<Metrics>,
    pub oot: Metrics,
    pub oot_calibration: Vec<Bin>,
    /// PSI of the out-of-time scores against the training scores.
    pub oot_psi: f64,
    /// Whether every out-of-time decile passes the calibration test (`calibration`).
    pub calibrated: bool,
    /// The calibration test of the out-of-time PDs ([`crate::significance`]).
    pub calibration: CalibrationTest,
    /// The champion rule's tests of this model ([`crate::champion`]).
    pub judgement: Judgement,
    /// Importance per feature (sums to 1), of the portfolio part.
    pub importance: Vec<f64>,
    /// Calibrated predictions on (up to 100k of) the training rows: the reference
    /// population for PSI.
    pub train_pd: Vec<f64>,
    /// Features this model leaves out (a `_stable` challenger), in feature order.
    pub excluded: Vec<String>,
}

/// Everything training produced.
#[derive(Debug, Clone)]
pub struct Trained {
    pub split: Split,
    pub candidates: Vec<Candidate>,
    /// Index of the champion in `candidates`.
    pub champion: usize,
    /// Why the champion was chosen, readable.
    pub champion_reason: String,
    /// Learners (model ids) whose fit failed, with the error: left out, the others stand.
    pub failed: Vec<(String, String)>,
    pub training: Training,
    /// How far each feature moved from the training rows (the PSI reference rows) to the
    /// out-of-time rows, largest shift first; `excluded` marks those the `_stable`
    /// challengers leave out.
    pub stability: Vec<FeatureShift>,
}

impl Trained {
    /// The champion.
    pub fn champion(&self) -> &Candidate {
        &self.candidates[self.champion]
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Job {
    kind: Kind,
    /// `None`: the whole portfolio; `Some(s)`: segment `s` only.
    segment: Option<u32>,
    /// The validation part this fit holds out; `None`: the final fit on every training row
    /// (cross-validation only).
    fold: Option<usize>,
    /// A `_stable` challenger: fitted without the features that moved out of time.
    stable: bool,
}

/// One fit through the learners' linfa `Fit` implementations.
/// The features left out (`excluded`) are missing on every row the learner sees, so none of
/// them takes part in the fit, and the fitted model ignores their values when it scores.
fn fit_one(kind: Kind, sample: &Sample, rows: &[usize], excluded: &[usize], t: &Training) -> Result<Fitted> {
    let mut x = sample.x.select(ndarray::Axis(0), rows);
    for &j in excluded {
        x.column_mut(j).fill(f64::NAN);
    }
    let y: Array1<bool> = rows.iter().map(|&i| sample.label[i] == Some(true)).collect();
    let levels: Vec<Option<usize>> = sample.levels.iter().map(|l| l.as_ref().map(Vec::len)).collect();
    if levels.iter().any(Option::is_some) {
        let y = y.to_vec();
        let m = t.min_level_rows;
        return Ok(match kind {
            Kind::Logistic => {
                Fitted::Logistic(crate::logistic::fit_categorical(&t.logistic, x.view(), &y, &levels, m)?)
            }
            Kind::Scorecard => {
                Fitted::Scorecard(scorecard::fit(x.view(), &y, &sample.features, &sample.levels, m, &t.scorecard)?)
            }
            Kind::Gbdt => Fitted::Gbdt(crate::gbdt::fit_categorical(x.view(), &y, &t.gbdt, &levels, m)?),
        });
    }
    let data = DatasetBase::new(x, y);
    Ok(match kind {
        Kind::Logistic => Fitted::Logistic(t.logistic.fit(&data)?),
        Kind::Scorecard => Fitted::Scorecard(
            scorecard::Named { params: &t.scorecard, features: &sample.features, levels: &[], min_level_rows: 1 }
                .fit(&data)?,
        ),
        Kind::Gbdt => Fitted::Gbdt(t.gbdt.fit(&data)?),
    })
}

/// Run jobs `0..n` on the thread pool, the costliest first: each thread takes the next job as
/// soon as it is free (longest-processing-time scheduling), so the longest fit does not start
/// last while the other threads idle. Results come back in job order; the schedule never
/// changes a result.
fn longest_first<T: Send>(n: usize, cost: impl Fn(usize) -> usize, run: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_cached_key(|&k| std::cmp::Reverse(cost(k)));
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, T)> = (0..rayon::current_num_threads().min(n))
        .into_par_iter()
        .flat_map_iter(|_| {
            let mut mine = Vec::new();
            while let Some(&k) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                mine.push((k, run(k)));
            }
            mine
        })
        .collect();
    done.sort_by_key(|&(k, _)| k);
    done.into_iter().map(|(_, v)| v).collect()
}

/// Train every learner on `sample` and pick the champion.
pub fn train(sample: &Sample, holdout: Holdout, t: &Training) -> Result<Trained> {
    let split = split(sample, holdout, t)?;
    // At most 100k training rows are the reference population for PSI (of scores and of
    // features); these rows and the out-of-time rows are the same for every candidate.
    let reference: Vec<usize> = split.train.iter().copied().step_by(split.train.len().div_ceil(100_000)).collect();
    let mut stability = feature_stability(sample, &reference, &split.oot);
    let excluded = stability::exclude(&mut stability, reference.len(), split.oot.len(), t.max_feature_psi);
    let parts = t.validation.parts();
    let held: Vec<Option<usize>> = split.train.iter().map(|&i| held_out_in(sample, i, t.seed, t.validation)).collect();
    // The fit that becomes the model: cross-validation fits every row once more at the end
    // (`None`), a holdout's model is its one fit.
    let model_fit = match t.validation {
        Validation::Folds(_) => None,
        Validation::Holdout(_) => Some(0),
    };
    // Segments large enough for their own model.
    // Every fit needs both classes in each part: a scope with fewer than MIN_CLASS_ROWS of
    // either class is not trained on its own (and a portfolio like that is not trained).
    const MIN_CLASS_ROWS: usize = 30;
    let mut per_segment = vec![(0usize, 0usize); sample.segments.len()];
    for &i in &split.train {
        let s = &mut per_segment[sample.segment[i] as usize];
        s.0 += 1;
        s.1 += usize::from(sample.label[i] == Some(true));
    }
    let positives: usize = per_segment.iter().map(|s| s.1).sum();
    if positives < MIN_CLASS_ROWS || split.train.len() - positives < MIN_CLASS_ROWS {
        return Err(ModelError::NotEnoughHistory(format!(
            "the training rows hold {positives} positives ({}) and {} negatives; at least {MIN_CLASS_ROWS} of each are needed",
            sample.positive,
            split.train.len() - positives
        )));
    }
    let own: Vec<u32> = (0..sample.segments.len() as u32)
        .filter(|&s| {
            let (rows, pos) = per_segment[s as usize];
            t.per_segment && rows >= t.min_segment_rows && pos >= MIN_CLASS_ROWS && rows - pos >= MIN_CLASS_ROWS
        })
        .collect();
    let scopes: Vec<Option<u32>> = std::iter::once(None)
        .chain(if own.len() >= 2 { own.iter().map(|&s| Some(s)).collect() } else { vec![] })
        .collect();
    let mut jobs = Vec::new();
    let scopes_of = |kind: Kind| if kind == Kind::Gbdt { &scopes[..1] } else { &scopes[..] };
    // Every learner with every feature, and when some features moved out of time, once more
    // without them (the `_stable` challengers); the champion rule chooses among them all.
    let variants: &[bool] = if excluded.is_empty() { &[false] } else { &[false, true] };
    for &stable in variants {
        for &kind in &t.learners {
            for &segment in scopes_of(kind) {
                for fold in (0..parts).map(Some).chain(model_fit.is_none().then_some(None)) {
                    jobs.push(Job { kind, segment, fold, stable });
                }
            }
        }
    }
    // The training rows a job fits on (counted to order the jobs, collected to fit).
    let rows_of = |job: Job| {
        split
            .train
            .iter()
            .zip(&held)
            .filter(move |&(&i, &f)| {
                job.segment.is_none_or(|s| sample.segment[i] == s) && job.fold.is_none_or(|k| f != Some(k))
            })
            .map(|(&i, _)| i)
    };
    let fitted: Vec<Result<Fitted>> = longest_first(
        jobs.len(),
        |k| rows_of(jobs[k]).count() * jobs[k].kind.relative_cost(),
        |k| {
            let leave_out = if jobs[k].stable { &excluded[..] } else { &[] };
            fit_one(jobs[k].kind, sample, &rows_of(jobs[k]).collect::<Vec<_>>(), leave_out, t)
        },
    );
    let fitted_of = |kind: Kind, segment: Option<u32>, fold: Option<usize>, stable: bool| {
        jobs.iter().position(|j| *j == Job { kind, segment, fold, stable }).and_then(|k| fitted[k].as_ref().ok())
    };
    // A learner whose fit fails is left out, and says why; the others go on.
    let mut failed: Vec<(String, String)> = Vec::new();
    let y_train: Vec<bool> = split.train.iter().map(|&i| sample.label[i] == Some(true)).collect();
    let y_oot: Vec<bool> = split.oot.iter().map(|&i| sample.label[i] == Some(true)).collect();
    // In-time metrics of the calibrated held-out probabilities, per part (NaN = not scored).
    let cv_of = |p: &[f64]| -> Vec<Metrics> {
        (0..parts)
            .map(|f| {
                let idx: Vec<usize> = (0..p.len()).filter(|&k| held[k] == Some(f) && !p[k].is_nan()).collect();
                let q: Vec<f64> = idx.iter().map(|&k| p[k]).collect();
                let y: Vec<bool> = idx.iter().map(|&k| y_train[k]).collect();
                Metrics::of(&q, &y)
            })
            .collect()
    };
    let train_seg: Vec<u32> = reference.iter().map(|&i| sample.segment[i]).collect();
    let oot_seg: Vec<u32> = split.oot.iter().map(|&i| sample.segment[i]).collect();
    let mut candidates = Vec::new();
    // Out-of-time PDs per candidate, for the champion rule's paired tests.
    let mut oot_pds: Vec<Vec<f64>> = Vec::new();
    for (&stable, &kind) in variants.iter().flat_map(|v| t.learners.iter().map(move |k| (v, k))) {
        let suffix = if stable { "_stable" } else { "" };
        if let Some(e) = jobs
            .iter()
            .zip(&fitted)
            .find_map(|(j, f)| (j.kind == kind && j.stable == stable).then_some(f.as_ref().err()).flatten())
        {
            failed.push((format!("{}{suffix}", kind.name()), e.to_string()));
            continue;
        }
        let left_out: Vec<String> =
            if stable { excluded.iter().map(|&j| sample.features[j].clone()).collect() } else { Vec::new() };
        // Per scope: the final part, and the calibrated held-out probability of every held-out
        // training row in the scope (from the fit that held it out; NaN for rows no fit held
        // out).
        let mut parts: Vec<(Option<u32>, Part, Vec<f64>)> = Vec::new();
        for &segment in scopes_of(kind) {
            let fold_models: Vec<&Fitted> = (0..t.validation.parts())
                .map(|f| {
                    fitted_of(kind, segment, Some(f), stable).unwrap_or_else(|| unreachable!("every part was fitted"))
                })
                .collect();
            let in_scope: Vec<(usize, usize)> = (0..split.train.len())
                .filter(|&k| segment.is_none_or(|s| sample.segment[split.train[k]] == s))
                .filter_map(|k| held[k].map(|f| (k, f)))
                .collect();
            let z: Vec<f64> =
                in_scope.par_iter().map(|&(k, f)| fold_models[f].logit(sample.row(split.train[k]))).collect();
            let y: Vec<bool> = in_scope.iter().map(|&(k, _)| y_train[k]).collect();
            let calibration = Platt::fit(&z, &y);
            let mut oof = vec![f64::NAN; split.train.len()];
            for (&(k, _), &z) in in_scope.iter().zip(&z) {
                oof[k] = calibration.apply(z);
            }
            let final_fit = fitted_of(kind, segment, model_fit, stable)
                .unwrap_or_else(|| unreachable!("the final model was fitted"))
                .clone();
            parts.push((
                segment,
                Part { segment: segment.map(|s| sample.segments[s as usize].clone()), fitted: final_fit, calibration },
                oof,
            ));
        }
        let positive = sample.positive.clone();
        let features = sample.features.clone();
        let portfolio = &parts[0];
        let mut models = vec![(
            "portfolio",
            Model {
                id: format!("{}{suffix}", kind.name()),
                kind,
                features: features.clone(),
                positive: positive.clone(),
                parts: vec![portfolio.1.clone()],
                clusters: None,
                levels: sample.model_levels(),
            },
            cv_of(&portfolio.2),
        )];
        if parts.len() > 1 {
            let mut seg_parts: Vec<Part> = parts[1..].iter().map(|p| p.1.clone()).collect();
            seg_parts.push(portfolio.1.clone());
            // Each row as the segment model scores it: its segment's held-out probability,
            // or the portfolio's for a segment without its own part.
            let pooled: Vec<f64> = (0..split.train.len())
                .map(|k| {
                    let own = parts[1..].iter().find(|p| p.0 == Some(sample.segment[split.train[k]]));
                    own.map_or(portfolio.2[k], |p| p.2[k])
                })
                .collect();
            let cv = cv_of(&pooled);
            models.push((
                "by_segment",
                Model {
                    id: format!("{}_by_segment{suffix}", kind.name()),
                    kind,
                    features: features.clone(),
                    positive,
                    parts: seg_parts,
                    clusters: None,
                    levels: sample.model_levels(),
                },
                cv,
            ));
        }
        for (scope, model, cv) in models {
            let train_pd = model.predict_at(&sample.x, &reference, &train_seg, &sample.segments);
            let oot_pd = model.predict_at(&sample.x, &split.oot, &oot_seg, &sample.segments);
            let oot = Metrics::of(&oot_pd, &y_oot);
            let calibration = significance::calibration_test(&oot_pd, &y_oot, t.max_calibration_gap, t.significance);
            let importance = model.parts.last().map_or_else(Vec::new, |p| p.fitted.importance(sample.features.len()));
            candidates.push(Candidate {
                scope,
                validation: cv,
                calibrated: calibration.passed,
                calibration,
                judgement: Judgement::default(),
                oot_calibration: metrics::calibration(&oot_pd, &y_oot, 10),
                oot_psi: metrics::psi(&train_pd, &oot_pd),
                oot,
                importance,
                train_pd,
                model,
                excluded: left_out.clone(),
            });
            oot_pds.push(oot_pd);
        }
    }
    if candidates.is_empty() {
        let why: Vec<String> = failed.iter().map(|(id, e)| format!("{id}: {e}")).collect();
        return Err(ModelError::Data(format!("every learner failed. {}", why.join("; "))));
    }
    let entrants: Vec<Entrant<'_>> = candidates
        .iter()
        .zip(&oot_pds)
        .map(|(c, pd)| Entrant {
            id: &c.model.id,
            kind: c.model.kind,
            scope: c.scope,
            features: c.model.features.len() - c.excluded.len(),
            brier: c.oot.brier,
            calibration: &c.calibration,
            oot_pd: pd,
        })
        .collect();
    let choice = champion::choose(&entrants, &y_oot, t.significance)?;
    drop(entrants);
    for (c, j) in candidates.iter_mut().zip(choice.judgements) {
        c.judgement = j;
    }
    let (champion, champion_reason) = (choice.champion, choice.reason);
    Ok(Trained { split, candidates, champion, champion_reason, training: t.clone(), stability, failed })
}
