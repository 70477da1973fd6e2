//! Training: the out-of-time split, in-time validation (a held-out share of customers, or
//! customer-grouped cross-validation folds), every (learner × scope × fit) run in parallel with
//! rayon (once more without the features that moved out of time, when some did: the `_stable`
//! challengers, see [`crate::stability`]), calibration on held-out predictions and out-of-time
//! evaluation (`crate::evaluate`), and the champion.
//!
//! [`crate::params::TrainParams`] (`[models]` in a pipeline config) → `check()` →
//! [`Training`] → [`train`]`(&Sample, `[`Holdout`]`, …)` → [`Trained`]: the candidates with
//! their metrics, ready for [`crate::run`] and [`crate::artifact`]. The split is
//! [`crate::split`], the champion [`crate::champion`].
//!
//! Determinism: folds and the training subsample come from a hash of the seed and the
//! customer id, every fit is deterministic on its own, and results are gathered in job
//! order, so the same sample and seed give the same models whatever the thread count.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::champion::{self, Entrant, Judgement};
use crate::error::{ModelError, Result};
use crate::evaluate::{Bench, Evaluated, Evaluation};
use crate::matrix::Sample;
use crate::metrics::{Bin, Metrics};
use crate::model::{Fitted, Kind, Model, Scope};
use crate::params::{Training, Validation};
use crate::scorecard;
use crate::significance::CalibrationTest;
use crate::split::{Holdout, Split, held_out_in, split};
use crate::stability::{self, FeatureShift, feature_stability};

/// One candidate model and how it did.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub model: Model,
    /// `portfolio` or `by_segment`.
    pub scope: Scope,
    /// In-time metrics of the calibrated held-out predictions: one per cross-validation
    /// fold, or one for the held-out customers.
    pub validation: Vec<Metrics>,
    pub oot: Metrics,
    pub oot_calibration: Vec<Bin>,
    /// PSI of the out-of-time scores against the training scores.
    pub oot_psi: f64,
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

impl Candidate {
    /// Whether every out-of-time decile passes the calibration test.
    pub fn calibrated(&self) -> bool {
        self.calibration.passed
    }
}

impl Trained {
    /// The champion.
    pub fn champion(&self) -> &Candidate {
        &self.candidates[self.champion]
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Job {
    pub(crate) kind: Kind,
    /// `None`: the whole portfolio; `Some(s)`: segment `s` only.
    pub(crate) segment: Option<u32>,
    /// The validation part this fit holds out; `None`: the final fit on every training row
    /// (cross-validation only).
    pub(crate) fold: Option<usize>,
    /// A `_stable` challenger: fitted without the features that moved out of time.
    pub(crate) stable: bool,
}

/// The scopes a learner is fitted in: trees only over the whole portfolio (per segment they
/// measured no better at twice the cost), the linear learners also per segment.
pub(crate) fn scopes_of(scopes: &[Option<u32>], kind: Kind) -> &[Option<u32>] {
    if kind == Kind::Gbdt { &scopes[..1] } else { scopes }
}

/// One fit of one learner on `rows`, categorical features included (the learners' linfa
/// `Fit` implementations are these fits without them). The features left out (`excluded`) are missing on every row the learner sees, so none of
/// them takes part in the fit, and the fitted model ignores their values when it scores.
fn fit_one(kind: Kind, sample: &Sample, rows: &[usize], excluded: &[usize], t: &Training) -> Result<Fitted> {
    let mut x = sample.x.select(ndarray::Axis(0), rows);
    let y: Vec<bool> = rows.iter().map(|&i| sample.label[i] == Some(true)).collect();
    // Each learner's fit that knows categorical features (with none it is its plain fit).
    let levels: Vec<Option<usize>> = sample.levels.iter().map(|l| l.as_ref().map(Vec::len)).collect();
    let m = t.min_level_rows;
    if kind == Kind::Gbdt && !excluded.is_empty() {
        let fitted = crate::gbdt::fit_leaving_out(x.view(), &y, &t.gbdt, &levels, m, excluded)?;
        return Ok(Fitted::Gbdt(fitted));
    }
    for &j in excluded {
        x.column_mut(j).fill(f64::NAN);
    }
    Ok(match kind {
        Kind::Logistic => Fitted::Logistic(crate::logistic::fit_categorical(&t.logistic, x.view(), &y, &levels, m)?),
        Kind::Scorecard => {
            Fitted::Scorecard(scorecard::fit(x.view(), &y, &sample.features, &sample.levels, m, &t.scorecard)?)
        }
        Kind::Gbdt => Fitted::Gbdt(crate::gbdt::fit_categorical(x.view(), &y, &t.gbdt, &levels, m)?),
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
    // Every learner with every feature, and when some features moved out of time, once more
    // without them (the `_stable` challengers); the champion rule chooses among them all.
    let variants: &[bool] = if excluded.is_empty() { &[false] } else { &[false, true] };
    for &stable in variants {
        for &kind in &t.learners {
            for &segment in scopes_of(&scopes, kind) {
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
    // A learner whose fit fails is left out, and says why; the others go on.
    let mut failed: Vec<(String, String)> = Vec::new();
    let eval = Evaluation::new(Bench {
        sample,
        split: &split,
        held: &held,
        reference: &reference,
        excluded: &excluded,
        scopes: &scopes,
        model_fit,
        t,
        jobs: &jobs,
        fitted: &fitted,
    });
    // Each learner's candidates, the learners evaluated side by side: each evaluation is
    // deterministic on its own, and they are collected in learner order.
    let learners: Vec<(bool, Kind)> = variants.iter().flat_map(|&v| t.learners.iter().map(move |&k| (v, k))).collect();
    let evaluated: Vec<Evaluated> = learners.par_iter().map(|&(stable, kind)| eval.learner(stable, kind)).collect();
    let mut candidates = Vec::new();
    // Out-of-time PDs per candidate, for the champion rule's paired tests.
    let mut oot_pds: Vec<Vec<f64>> = Vec::new();
    for e in evaluated {
        match e {
            Ok(models) => {
                for (c, pd) in models {
                    candidates.push(c);
                    oot_pds.push(pd);
                }
            }
            Err(why) => failed.push(why),
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
    let choice = champion::choose(&entrants, &eval.y_oot, t.significance)?;
    drop(entrants);
    for (c, j) in candidates.iter_mut().zip(choice.judgements) {
        c.judgement = j;
    }
    let (champion, champion_reason) = (choice.champion, choice.reason);
    Ok(Trained { split, candidates, champion, champion_reason, training: t.clone(), stability, failed })
}
