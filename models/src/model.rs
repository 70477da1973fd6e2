//! A model ready to score: the fitted learner of each segment ([`Fitted`]), its probability
//! calibration ([`Platt`]), and the one row-level function every prediction goes through,
//! so that scoring one row gives exactly what scoring a batch gives.

use ndarray::{Array1, Array2, ArrayView1};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::clusters::Clusters;
use crate::gbdt::Gbdt;
use crate::linalg::{logit, sigmoid};
use crate::logistic::Logistic;
use crate::scorecard::Scorecard;

/// Run `f` on every row of `x` in parallel, writing into `y`.
pub fn predict_rows(x: &Array2<f64>, y: &mut Array1<f64>, f: impl Fn(ArrayView1<'_, f64>) -> f64 + Sync + Send) {
    let out: Vec<f64> = x.outer_iter().into_par_iter().map(f).collect();
    y.iter_mut().zip(out).for_each(|(y, v)| *y = v);
}

/// The kinds of learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Logistic,
    Scorecard,
    Gbdt,
}

/// What a model covers: one model for the whole portfolio, or one per segment (with the
/// portfolio's for segments without their own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Portfolio,
    BySegment,
}

/// What a model predicts, as its `model.json` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// `ardent run`'s customer-level default label.
    CustomerDefault,
    /// `ardent run`'s invoice-level late-payment label.
    InvoiceLate,
    /// `ardent train`'s label of a table.
    Table,
}

impl Task {
    /// The name written in tables.
    pub fn name(self) -> &'static str {
        match self {
            Task::CustomerDefault => "customer_default",
            Task::InvoiceLate => "invoice_late",
            Task::Table => "table",
        }
    }
}

impl Kind {
    /// The name used in configs, ids and tables.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Logistic => "logistic",
            Kind::Scorecard => "scorecard",
            Kind::Gbdt => "gbdt",
        }
    }

    /// Parse a name used in configs and flags.
    pub fn parse(s: &str) -> Option<Kind> {
        [Kind::Logistic, Kind::Scorecard, Kind::Gbdt].into_iter().find(|k| k.name() == s)
    }

    /// Fitting time per training row relative to the other learners (measured on `m`: 320k
    /// rows took gbdt 2.0 s, logistic 1.6 s, scorecard 1.3 s); orders the fits, nothing else.
    pub fn relative_cost(self) -> usize {
        match self {
            Kind::Gbdt => 5,
            Kind::Logistic => 4,
            Kind::Scorecard => 3,
        }
    }
}

/// A fitted learner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fitted {
    Logistic(Logistic),
    Scorecard(Scorecard),
    Gbdt(Gbdt),
}

impl Fitted {
    /// Log-odds of the positive class before calibration.
    pub fn logit(&self, x: ArrayView1<'_, f64>) -> f64 {
        match self {
            Fitted::Logistic(m) => m.logit(x),
            Fitted::Scorecard(m) => m.logit(x),
            Fitted::Gbdt(m) => m.logit(x),
        }
    }

    /// Log-odds of rows `rows` of `x`, each bit for bit [`Fitted::logit`] of the row alone, in
    /// parallel: a tree ensemble scores blocks of rows ([`Gbdt::score_rows`]), anything else
    /// row by row.
    pub fn logits_at(&self, x: &Array2<f64>, rows: &[usize]) -> Vec<f64> {
        if let (Fitted::Gbdt(trees), Some(values)) = (self, x.as_slice()) {
            let width = x.ncols();
            let rows: Vec<&[f64]> = rows.iter().map(|&i| &values[i * width..(i + 1) * width]).collect();
            return trees.score_rows(&rows);
        }
        rows.par_iter().map(|&i| self.logit(x.row(i))).collect()
    }

    /// Per-feature push on the log-odds (positive = riskier than a typical row).
    pub fn contributions(&self, x: ArrayView1<'_, f64>, out: &mut [f64]) {
        match self {
            Fitted::Logistic(m) => m.contributions(x, out),
            Fitted::Scorecard(m) => m.contributions(x, out),
            Fitted::Gbdt(m) => m.contributions(x, out),
        }
    }

    /// Importance per feature: |standardised coefficient| (logistic), scorecard
    /// coefficient × information value, total split gain (trees). Normalised to sum to 1.
    pub fn importance(&self, n_features: usize) -> Vec<f64> {
        let mut v = vec![0.0; n_features];
        match self {
            Fitted::Logistic(m) => {
                let mut k = 0;
                for (j, s) in m.prep.scales.iter().enumerate() {
                    // A numeric feature's |coefficient| is the standard deviation of its part of
                    // the log-odds (its values are standardised); a one-hot feature's is the
                    // same standard deviation over its levels' shares (pooled levels at 0).
                    match &s.one_hot {
                        Some(o) => {
                            let coef = &m.fit.coef[k..k + o.shares.len()];
                            let mean: f64 = o.shares.iter().zip(coef).map(|(sh, c)| sh * c).sum();
                            let pooled = (1.0 - o.shares.iter().sum::<f64>()).max(0.0);
                            let var = o.shares.iter().zip(coef).map(|(sh, c)| sh * (c - mean).powi(2)).sum::<f64>()
                                + pooled * mean * mean;
                            v[j] += var.sqrt();
                            k += o.shares.len();
                        }
                        None => {
                            v[j] += m.fit.coef[k].abs();
                            k += 1;
                        }
                    }
                    if s.missing_indicator {
                        v[j] += m.fit.coef[k].abs();
                        k += 1;
                    }
                }
            }
            Fitted::Scorecard(m) => {
                for c in &m.characteristics {
                    v[c.column] = (c.coefficient * c.information_value).abs();
                }
            }
            Fitted::Gbdt(m) => v.copy_from_slice(&m.gain),
        }
        let total: f64 = v.iter().sum();
        if total > 0.0 {
            v.iter_mut().for_each(|x| *x /= total);
        }
        v
    }
}

/// Platt scaling: `pd = σ(a · logit + b)`, fitted on held-out predictions (the held-out
/// customers, or out of fold).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    pub a: f64,
    pub b: f64,
}

impl Platt {
    /// No change.
    pub const IDENTITY: Platt = Platt { a: 1.0, b: 0.0 };

    /// The calibrated probability of a raw log-odds.
    pub fn apply(&self, z: f64) -> f64 {
        sigmoid(self.a * z + self.b)
    }

    /// Fit on raw log-odds `z` and outcomes (Newton's method on two parameters, with a tiny
    /// ridge so a perfectly separated sample still gives a finite answer).
    pub fn fit(z: &[f64], y: &[bool]) -> Platt {
        let (mut a, mut b) = (1.0, 0.0);
        for _ in 0..50 {
            let (mut g0, mut g1, mut h00, mut h01, mut h11) = (1e-6 * (a - 1.0), 1e-6 * b, 1e-6, 0.0, 1e-6);
            for (&z, &y) in z.iter().zip(y) {
                let p = sigmoid(a * z + b);
                let r = p - f64::from(u8::from(y));
                let w = (p * (1.0 - p)).max(1e-12);
                g0 += r * z;
                g1 += r;
                h00 += w * z * z;
                h01 += w * z;
                h11 += w;
            }
            let det = h00 * h11 - h01 * h01;
            if det.abs() < 1e-300 {
                break;
            }
            let da = (h11 * g0 - h01 * g1) / det;
            let db = (h00 * g1 - h01 * g0) / det;
            a -= da;
            b -= db;
            if da.abs().max(db.abs()) < 1e-10 {
                break;
            }
        }
        if a.is_finite() && b.is_finite() { Platt { a, b } } else { Platt::IDENTITY }
    }
}

/// The learner of one segment (or of the whole portfolio) with its calibration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// The segment this part scores; `None` for the portfolio-wide part, which also scores
    /// segments without their own part.
    pub segment: Option<String>,
    pub fitted: Fitted,
    pub calibration: Platt,
}

/// A trained, calibrated model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// `logistic`, `gbdt_by_segment`, …
    pub id: String,
    pub kind: Kind,
    /// Input features, in the order rows are given.
    pub features: Vec<String>,
    /// What a positive row is.
    pub positive: String,
    pub parts: Vec<Part>,
    /// Behavioural clusters that pick the part of a row (instead of its segment column).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<Clusters>,
    /// Per feature, the training levels of a categorical one (how a table's text is coded
    /// before scoring, [`crate::categories`]); empty when every feature is numeric.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<Option<Vec<String>>>,
}

impl Model {
    /// The levels of feature `j` when it is categorical.
    pub fn levels_of(&self, j: usize) -> Option<&[String]> {
        self.levels.get(j).and_then(|l| l.as_deref())
    }

    /// The part that scores `segment`.
    pub fn part(&self, segment: &str) -> &Part {
        self.parts
            .iter()
            .find(|p| p.segment.as_deref() == Some(segment))
            .or_else(|| self.parts.iter().find(|p| p.segment.is_none()))
            .unwrap_or(&self.parts[0])
    }

    /// The segment a row is scored in: its behavioural cluster when the model has clusters,
    /// else `segment`.
    pub fn segment_of<'a>(&'a self, x: ArrayView1<'_, f64>, segment: &'a str) -> &'a str {
        match &self.clusters {
            Some(c) => &c.names[c.assign(x)],
            None => segment,
        }
    }

    /// Calibrated probability of the positive class for one row.
    pub fn pd(&self, x: ArrayView1<'_, f64>, segment: &str) -> f64 {
        let part = self.part(self.segment_of(x, segment));
        part.calibration.apply(part.fitted.logit(x))
    }

    /// Calibrated probabilities of every row (row `i` in segment `names[segment[i]]`);
    /// each is bit for bit what [`Model::pd`] gives for the row alone.
    pub fn predict(&self, x: &Array2<f64>, segment: &[u32], names: &[String]) -> Vec<f64> {
        let rows: Vec<usize> = (0..x.nrows()).collect();
        self.predict_at(x, &rows, segment, names)
    }

    /// PDs of rows `rows` of `x` (no copy of them is made); `segment[k]` is the segment of
    /// row `rows[k]`.
    pub fn predict_at(&self, x: &Array2<f64>, rows: &[usize], segment: &[u32], names: &[String]) -> Vec<f64> {
        // One portfolio-wide tree ensemble scores blocks of rows (see `Fitted::logits_at`).
        if let ([part], None) = (self.parts.as_slice(), &self.clusters)
            && let Fitted::Gbdt(trees) = &part.fitted
            && trees.categories.is_empty()
        {
            return part.fitted.logits_at(x, rows).into_par_iter().map(|z| part.calibration.apply(z)).collect();
        }
        rows.par_iter()
            .zip(segment.par_iter())
            .map(|(&i, &s)| self.pd(x.row(i), names.get(s as usize).map_or("", String::as_str)))
            .collect()
    }

    /// Calibrated probabilities of `rows` (row `k` in segment `segments[k]`), each bit for bit
    /// what [`Model::pd`] gives for the row alone: a portfolio-wide tree ensemble scores them
    /// in blocks (QuickScorer), anything else row by row in parallel.
    pub fn pds(&self, rows: &[&[f64]], segments: &[&str]) -> Vec<f64> {
        if let ([part], None) = (self.parts.as_slice(), &self.clusters)
            && let Fitted::Gbdt(trees) = &part.fitted
            && trees.categories.is_empty()
        {
            return trees.score_rows(rows).into_par_iter().map(|z| part.calibration.apply(z)).collect();
        }
        rows.par_iter().zip(segments.par_iter()).map(|(r, s)| self.pd(ndarray::ArrayView1::from(*r), s)).collect()
    }

    /// Per-feature contributions of one row (see [`Fitted::contributions`]), scaled by the
    /// calibration slope so they are on the calibrated log-odds scale.
    pub fn contributions(&self, x: ArrayView1<'_, f64>, segment: &str, out: &mut [f64]) {
        let part = self.part(self.segment_of(x, segment));
        part.fitted.contributions(x, out);
        out.iter_mut().for_each(|v| *v *= part.calibration.a);
    }
}

/// Score points on the standard scale (600 at odds 1:19, 50 points to double the odds)
/// for a probability of the bad outcome.
pub fn points(pd: f64, base_score: f64, base_odds: f64, pdo: f64) -> f64 {
    let factor = pdo / std::f64::consts::LN_2;
    base_score - factor * base_odds.ln() - factor * logit(pd)
}
