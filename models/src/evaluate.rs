//! How well does each fitted learner do? Its candidates (the portfolio model and, when
//! segments were fitted on their own, the model by segment) are calibrated on the held-out
//! training rows (Platt) and measured out of time: the step of [`crate::train`] between the
//! fits and the champion rule.

use crate::champion::Judgement;
use crate::error::Result;
use crate::matrix::Sample;
use crate::metrics::{self, Metrics};
use crate::model::{Fitted, Kind, Model, Part, Platt, Scope};
use crate::params::Training;
use crate::significance;
use crate::split::Split;
use crate::train::{Candidate, Job, scopes_of};

/// A learner's candidates with their out-of-time PDs, or (model id, error) when its fit failed.
pub(crate) type Evaluated = std::result::Result<Vec<(Candidate, Vec<f64>)>, (String, String)>;

/// What every learner's candidates are measured on (the same for all of them) and the fits.
pub(crate) struct Bench<'a> {
    pub(crate) sample: &'a Sample,
    pub(crate) split: &'a Split,
    /// The validation part that holds each training row out (`None`: no fit held it out).
    pub(crate) held: &'a [Option<usize>],
    /// The training rows that are the reference population for PSI.
    pub(crate) reference: &'a [usize],
    /// The features the `_stable` challengers leave out.
    pub(crate) excluded: &'a [usize],
    pub(crate) scopes: &'a [Option<u32>],
    /// The fit that becomes the model (see `train`).
    pub(crate) model_fit: Option<usize>,
    pub(crate) t: &'a Training,
    pub(crate) jobs: &'a [Job],
    pub(crate) fitted: &'a [Result<Fitted>],
}

/// A [`Bench`] with the labels and segments of its training, reference and out-of-time rows.
pub(crate) struct Evaluation<'a> {
    bench: Bench<'a>,
    y_train: Vec<bool>,
    pub(crate) y_oot: Vec<bool>,
    train_seg: Vec<u32>,
    oot_seg: Vec<u32>,
}

impl<'a> Evaluation<'a> {
    pub(crate) fn new(bench: Bench<'a>) -> Evaluation<'a> {
        let sample = bench.sample;
        let labels = |rows: &[usize]| rows.iter().map(|&i| sample.label[i] == Some(true)).collect();
        let segments = |rows: &[usize]| rows.iter().map(|&i| sample.segment[i]).collect();
        Evaluation {
            y_train: labels(&bench.split.train),
            y_oot: labels(&bench.split.oot),
            train_seg: segments(bench.reference),
            oot_seg: segments(&bench.split.oot),
            bench,
        }
    }

    /// The fit of a job, if it succeeded.
    fn fitted_of(&self, kind: Kind, segment: Option<u32>, fold: Option<usize>, stable: bool) -> Option<&'a Fitted> {
        let job = Job { kind, segment, fold, stable };
        self.bench.jobs.iter().position(|j| *j == job).and_then(|k| self.bench.fitted[k].as_ref().ok())
    }

    /// In-time metrics of the calibrated held-out probabilities `p` of the training rows, per
    /// validation part (NaN = not scored).
    fn cv_of(&self, p: &[f64]) -> Vec<Metrics> {
        (0..self.bench.t.validation.parts())
            .map(|f| {
                let idx: Vec<usize> =
                    (0..p.len()).filter(|&k| self.bench.held[k] == Some(f) && !p[k].is_nan()).collect();
                let q: Vec<f64> = idx.iter().map(|&k| p[k]).collect();
                let y: Vec<bool> = idx.iter().map(|&k| self.y_train[k]).collect();
                Metrics::of(&q, &y)
            })
            .collect()
    }

    /// The candidates of learner `kind` (its `_stable` challenger when `stable`).
    pub(crate) fn learner(&self, stable: bool, kind: Kind) -> Evaluated {
        let Bench { sample, split, held, reference, excluded, scopes, model_fit, t, jobs, fitted } = self.bench;
        let (y_train, y_oot, train_seg, oot_seg) = (&self.y_train, &self.y_oot, &self.train_seg, &self.oot_seg);
        let suffix = if stable { "_stable" } else { "" };
        if let Some(e) = jobs
            .iter()
            .zip(fitted)
            .find_map(|(j, f)| (j.kind == kind && j.stable == stable).then_some(f.as_ref().err()).flatten())
        {
            return Err((format!("{}{suffix}", kind.name()), e.to_string()));
        }
        let left_out: Vec<String> =
            if stable { excluded.iter().map(|&j| sample.features[j].clone()).collect() } else { Vec::new() };
        // Per scope: the final part, and the calibrated held-out probability of every held-out
        // training row in the scope (from the fit that held it out; NaN for rows no fit held
        // out).
        let mut parts: Vec<(Option<u32>, Part, Vec<f64>)> = Vec::new();
        for &segment in scopes_of(scopes, kind) {
            let fold_models: Vec<&Fitted> = (0..t.validation.parts())
                .map(|f| {
                    self.fitted_of(kind, segment, Some(f), stable)
                        .unwrap_or_else(|| unreachable!("every part was fitted"))
                })
                .collect();
            let in_scope: Vec<(usize, usize)> = (0..split.train.len())
                .filter(|&k| segment.is_none_or(|s| sample.segment[split.train[k]] == s))
                .filter_map(|k| held[k].map(|f| (k, f)))
                .collect();
            let z = held_out_logits(&fold_models, &sample.x, &split.train, &in_scope);
            let y: Vec<bool> = in_scope.iter().map(|&(k, _)| y_train[k]).collect();
            let calibration = Platt::fit(&z, &y);
            let mut oof = vec![f64::NAN; split.train.len()];
            for (&(k, _), &z) in in_scope.iter().zip(&z) {
                oof[k] = calibration.apply(z);
            }
            let final_fit = self
                .fitted_of(kind, segment, model_fit, stable)
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
            Scope::Portfolio,
            Model {
                id: format!("{}{suffix}", kind.name()),
                kind,
                features: features.clone(),
                positive: positive.clone(),
                parts: vec![portfolio.1.clone()],
                clusters: None,
                levels: sample.model_levels(),
            },
            self.cv_of(&portfolio.2),
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
            let cv = self.cv_of(&pooled);
            models.push((
                Scope::BySegment,
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
        let mut out = Vec::with_capacity(models.len());
        for (scope, model, cv) in models {
            let train_pd = model.predict_at(&sample.x, reference, train_seg, &sample.segments);
            let oot_pd = model.predict_at(&sample.x, &split.oot, oot_seg, &sample.segments);
            let oot = Metrics::of(&oot_pd, y_oot);
            let calibration = significance::calibration_test(&oot_pd, y_oot, t.max_calibration_gap, t.significance);
            let importance = model.parts.last().map_or_else(Vec::new, |p| p.fitted.importance(sample.features.len()));
            out.push((
                Candidate {
                    scope,
                    validation: cv,
                    calibration,
                    judgement: Judgement::default(),
                    oot_calibration: metrics::calibration(&oot_pd, y_oot, 10),
                    oot_psi: metrics::psi(&train_pd, &oot_pd),
                    oot,
                    importance,
                    train_pd,
                    model,
                    excluded: left_out.clone(),
                },
                oot_pd,
            ));
        }
        Ok(out)
    }
}

/// The log-odds of the held-out training rows `in_scope` (position in `train`, part) from the
/// fit of the part that held each out, a part's rows scored together.
fn held_out_logits(
    fold_models: &[&Fitted],
    x: &ndarray::Array2<f64>,
    train: &[usize],
    in_scope: &[(usize, usize)],
) -> Vec<f64> {
    let mut z = vec![0.0; in_scope.len()];
    for (f, model) in fold_models.iter().enumerate() {
        let at: Vec<usize> = (0..in_scope.len()).filter(|&k| in_scope[k].1 == f).collect();
        let rows: Vec<usize> = at.iter().map(|&k| train[in_scope[k].0]).collect();
        for (&k, v) in at.iter().zip(model.logits_at(x, &rows)) {
            z[k] = v;
        }
    }
    z
}
