//! Credit scorecards: monotone weight-of-evidence (WoE) binning of every feature, with its
//! own bins for missing and special values, a logistic regression on the WoE values, and
//! points scaled so that `base_score` points mean odds of `base_odds` good to one bad and
//! every `pdo` points double the odds (docs/definitions.md, "Models": 600 points at 1:19, 50 to double).
//!
//! [`ScorecardParams`] → `check()` → [`ValidScorecardParams`] → `fit` → [`Scorecard`], which
//! serialises to JSON and prints as a SQL `CASE` expression ([`Scorecard::sql`]). The
//! points table *is* the model: the score is the sum of the rounded points, and the
//! probability is read off the score, so SQL and ardent agree exactly.

use linfa::dataset::DatasetBase;
use linfa::param_guard::ParamGuard;
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::categories::LevelOrder;
use crate::error::{ModelError, Result};
use crate::linalg::sigmoid;
use crate::logistic::{ValidLogisticParams, newton};

/// Scorecard parameters, as written in a config (`[models.scorecard]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScorecardParams(pub ValidScorecardParams);

/// Checked scorecard parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ValidScorecardParams {
    /// Fine bins per feature before monotone merging. Default 20.
    pub fine_bins: usize,
    /// Smallest share of rows a value bin may hold. Default 0.05.
    pub min_bin_share: f64,
    /// Features with a lower information value are left out. Default 0.02.
    pub min_iv: f64,
    /// Values that mean something special (e.g. -1 = "no bureau file"): each gets its own bin.
    /// Default none.
    pub special_values: Vec<f64>,
    /// Points at `base_odds`. Default 600.
    pub base_score: f64,
    /// Good-to-bad odds at `base_score`. Default 19 (1:19 bad to good).
    pub base_odds: f64,
    /// Points to double the odds. Default 50.
    pub pdo: f64,
    /// L2 penalty of the logistic regression on WoE. Default 1.0.
    pub l2: f64,
}

impl Default for ValidScorecardParams {
    fn default() -> Self {
        ValidScorecardParams {
            fine_bins: 20,
            min_bin_share: 0.05,
            min_iv: 0.02,
            special_values: Vec::new(),
            base_score: 600.0,
            base_odds: 19.0,
            pdo: 50.0,
            l2: 1.0,
        }
    }
}

impl ParamGuard for ScorecardParams {
    type Checked = ValidScorecardParams;
    type Error = ModelError;

    fn check_ref(&self) -> Result<&ValidScorecardParams> {
        let p = &self.0;
        let bad = |m: String| Err(ModelError::Params(m));
        if !(2..=100).contains(&p.fine_bins) {
            return bad(format!("`models.scorecard.fine_bins` must be between 2 and 100, but is {}", p.fine_bins));
        }
        if p.min_bin_share.is_nan() || p.min_bin_share <= 0.0 || p.min_bin_share >= 0.5 {
            return bad(format!("`models.scorecard.min_bin_share` must be in (0, 0.5), but is {}", p.min_bin_share));
        }
        if p.min_iv.is_nan() || p.min_iv < 0.0 {
            return bad(format!("`models.scorecard.min_iv` must be ≥ 0, but is {}", p.min_iv));
        }
        if let Some(v) = p.special_values.iter().find(|v| !v.is_finite()) {
            return bad(format!("`models.scorecard.special_values` must be finite numbers, but holds {v}"));
        }
        if p.base_odds.is_nan() || p.base_odds <= 0.0 || p.pdo.is_nan() || p.pdo <= 0.0 || !p.base_score.is_finite() {
            return bad(format!(
                "`models.scorecard` scaling needs base_odds > 0 and pdo > 0, but base_odds = {} and pdo = {}",
                p.base_odds, p.pdo
            ));
        }
        if p.l2.is_nan() || p.l2 < 0.0 {
            return bad(format!("`models.scorecard.l2` must be ≥ 0, but is {}", p.l2));
        }
        Ok(p)
    }

    fn check(self) -> Result<ValidScorecardParams> {
        self.check_ref().cloned()
    }
}

/// One attribute (bin) of a characteristic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribute {
    /// What the bin holds, readable ("(12.5, 30]", "missing", "= -1").
    pub label: String,
    pub rows: usize,
    #[serde(with = "crate::json_float")]
    pub bad_rate: f64,
    #[serde(with = "crate::json_float")]
    pub woe: f64,
    #[serde(with = "crate::json_float")]
    pub points: f64,
}

/// The bins of one feature and their points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Characteristic {
    pub feature: String,
    /// Index of the feature in the model's input.
    pub column: usize,
    /// Value bins: bin `k` holds `upper[k-1] < x ≤ upper[k]`; the last is open-ended.
    pub upper: Vec<f64>,
    /// Points of each value bin (`upper.len() + 1`).
    pub value_attrs: Vec<Attribute>,
    pub missing: Attribute,
    /// Special values with their attribute.
    pub special: Vec<(f64, Attribute)>,
    #[serde(with = "crate::json_float")]
    pub information_value: f64,
    /// Training-weighted mean points (the baseline for reason codes).
    #[serde(with = "crate::json_float")]
    pub mean_points: f64,
    #[serde(with = "crate::json_float")]
    pub coefficient: f64,
    /// A categorical feature's training levels (sorted) and their order by default rate: the
    /// bins hold ranks of that order, so each bin is a group of levels ([`crate::categories`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub levels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<LevelOrder>,
}

impl Characteristic {
    fn attribute(&self, v: f64) -> &Attribute {
        let v = match &self.order {
            Some(o) => o.apply(v),
            None => v,
        };
        if v.is_nan() {
            return &self.missing;
        }
        if let Some((_, a)) = self.special.iter().find(|(s, _)| *s == v) {
            return a;
        }
        &self.value_attrs[self.upper.partition_point(|&u| u < v)]
    }
}

/// A fitted scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    pub characteristics: Vec<Characteristic>,
    /// Points = offset − factor · log-odds of the positive (bad) class.
    pub offset: f64,
    pub factor: f64,
    /// Features left out for low information value, with their IV.
    pub dropped: Vec<(String, f64)>,
}

impl Scorecard {
    /// Score points of one row (the sum of its attributes' points).
    pub fn points(&self, x: ArrayView1<'_, f64>) -> f64 {
        self.characteristics.iter().map(|c| c.attribute(x[c.column]).points).sum()
    }

    /// Log-odds of the positive class implied by the points.
    pub fn logit(&self, x: ArrayView1<'_, f64>) -> f64 {
        (self.offset - self.points(x)) / self.factor
    }

    /// Points below the training average per feature, in log-odds units (positive = riskier).
    pub fn contributions(&self, x: ArrayView1<'_, f64>, out: &mut [f64]) {
        out.iter_mut().for_each(|o| *o = 0.0);
        for c in &self.characteristics {
            out[c.column] = (c.mean_points - c.attribute(x[c.column]).points) / self.factor;
        }
    }

    /// The scorecard as one SQL expression giving the points of a row (the columns are the
    /// feature names, quoted).
    pub fn sql(&self) -> String {
        let num = |v: f64| format!("{v}");
        // Values compared with a feature are written with an exponent (`3.333333333333333e-1`):
        // SQL engines (DuckDB, Spark, Trino) read such a literal as a DOUBLE, the very double of
        // the bin edge, whereas a plain decimal literal is a DECIMAL compared exactly, which put
        // a row whose value *is* the edge (0.333… as a double) on the other side.
        let value = |v: f64| format!("{v:e}");
        let mut parts = Vec::new();
        for c in &self.characteristics {
            let col = format!("\"{}\"", c.feature.replace('"', "\"\""));
            let mut s = format!("  CASE\n    WHEN {col} IS NULL THEN {}\n", num(c.missing.points));
            if let Some(order) = &c.order {
                // Each bin is a list of levels; levels pooled as rare, and levels the training
                // table did not have, score as the "other" group (the ELSE).
                let other = c.attribute(c.levels.len() as f64).points;
                let quoted = |l: &str| format!("'{}'", l.replace('\'', "''"));
                let mut by_points: Vec<(f64, Vec<String>)> = Vec::new();
                for (code, level) in c.levels.iter().enumerate() {
                    if order.pooled.get(code).copied().unwrap_or(true) {
                        continue;
                    }
                    let points = c.attribute(code as f64).points;
                    match by_points.iter_mut().find(|(p, _)| *p == points) {
                        Some((_, levels)) => levels.push(quoted(level)),
                        None => by_points.push((points, vec![quoted(level)])),
                    }
                }
                for (points, levels) in by_points.iter().filter(|(p, _)| *p != other) {
                    s += &format!("    WHEN CAST({col} AS VARCHAR) IN ({}) THEN {}\n", levels.join(", "), num(*points));
                }
                s += &format!("    ELSE {}\n  END", num(other));
                parts.push(s);
                continue;
            }
            for (v, a) in &c.special {
                s += &format!("    WHEN {col} = {} THEN {}\n", value(*v), num(a.points));
            }
            for (u, a) in c.upper.iter().zip(&c.value_attrs) {
                s += &format!("    WHEN {col} <= {} THEN {}\n", value(*u), num(a.points));
            }
            let last = c.value_attrs.last().map_or(0.0, |a| a.points);
            s += &format!("    ELSE {}\n  END", num(last));
            parts.push(s);
        }
        if parts.is_empty() {
            return "0".into();
        }
        parts.join("\n  +\n")
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Count {
    rows: usize,
    bads: usize,
}

fn woe(c: Count, goods: f64, bads: f64) -> f64 {
    let g = (c.rows - c.bads) as f64 + 0.5;
    let b = c.bads as f64 + 0.5;
    ((g / (goods + 0.5)) / (b / (bads + 0.5))).ln()
}

/// Merge adjacent bins until bad rates are monotone in `increasing` direction (pool
/// adjacent violators); returns the merged upper edges and counts.
fn pava(upper: &[f64], counts: &[Count], increasing: bool) -> (Vec<f64>, Vec<Count>) {
    let mut out_upper: Vec<f64> = Vec::new();
    let mut out: Vec<Count> = Vec::new();
    let rate = |c: &Count| c.bads as f64 / c.rows.max(1) as f64;
    for (k, c) in counts.iter().enumerate() {
        out.push(*c);
        out_upper.push(upper.get(k).copied().unwrap_or(f64::INFINITY));
        while out.len() >= 2 {
            let (a, b) = (&out[out.len() - 2], &out[out.len() - 1]);
            let violates = if increasing { rate(a) > rate(b) } else { rate(a) < rate(b) };
            if !violates {
                break;
            }
            let merged = Count { rows: a.rows + b.rows, bads: a.bads + b.bads };
            out.pop();
            out_upper.remove(out_upper.len() - 2);
            *out.last_mut().unwrap_or_else(|| unreachable!()) = merged;
        }
    }
    out_upper.pop(); // the last bin is open-ended
    (out_upper, out)
}

/// A feature's value-bin edges and counts, its missing count, and its special values' counts.
type Binned = (Vec<f64>, Vec<Count>, Count, Vec<(f64, Count)>);

fn bin_feature(col: ArrayView1<'_, f64>, y: &[bool], p: &ValidScorecardParams, categorical: bool) -> Binned {
    let mut missing = Count::default();
    // Ranks of levels are not values: no special ones among them.
    let specials: &[f64] = if categorical { &[] } else { &p.special_values };
    let mut special: Vec<(f64, Count)> = specials.iter().map(|&v| (v, Count::default())).collect();
    let mut values: Vec<(f64, bool)> = Vec::with_capacity(col.len());
    for (&v, &bad) in col.iter().zip(y) {
        let slot =
            if v.is_nan() { Some(&mut missing) } else { special.iter_mut().find(|(s, _)| *s == v).map(|(_, c)| c) };
        match slot {
            Some(c) => {
                c.rows += 1;
                c.bads += usize::from(bad);
            }
            None => values.push((v, bad)),
        }
    }
    // Bins end only where the value changes, so the order of equal values does not matter.
    values.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    // Fine bins at quantiles, never splitting equal values.
    let n = values.len();
    let mut upper = Vec::new();
    let mut counts = Vec::new();
    let mut start = 0;
    let min_rows = ((p.min_bin_share * n as f64).ceil() as usize).max(1);
    for k in 1..=p.fine_bins {
        let mut end = (n * k / p.fine_bins).max(start + min_rows.min(n - start));
        while end < n && end > 0 && values[end].0 == values[end - 1].0 {
            end += 1;
        }
        if end <= start {
            continue;
        }
        let c = Count { rows: end - start, bads: values[start..end].iter().filter(|v| v.1).count() };
        if end < n {
            upper.push(values[end - 1].0);
        }
        counts.push(c);
        start = end;
        if start >= n {
            break;
        }
    }
    // Monotone in whichever direction keeps more information.
    let goods_total = (y.len() - y.iter().filter(|&&b| b).count()) as f64;
    let bads_total = y.iter().filter(|&&b| b).count() as f64;
    let iv = |cs: &[Count]| {
        cs.iter()
            .map(|c| {
                let g = (c.rows - c.bads) as f64 / goods_total.max(1.0);
                let b = c.bads as f64 / bads_total.max(1.0);
                (g - b) * woe(*c, goods_total, bads_total)
            })
            .sum::<f64>()
    };
    let up = pava(&upper, &counts, true);
    let down = pava(&upper, &counts, false);
    let (mut upper, mut counts) = if iv(&up.1) >= iv(&down.1) { up } else { down };
    // Bins below the minimum share join their neighbour.
    while counts.len() > 1 {
        let Some(k) = counts.iter().position(|c| c.rows < min_rows) else { break };
        let j = if k + 1 < counts.len() { k + 1 } else { k - 1 };
        let (lo, hi) = (k.min(j), k.max(j));
        counts[lo] = Count { rows: counts[lo].rows + counts[hi].rows, bads: counts[lo].bads + counts[hi].bads };
        counts.remove(hi);
        upper.remove(lo);
    }
    (upper, counts, missing, special)
}

fn range_label(upper: &[f64], k: usize) -> String {
    match (k.checked_sub(1).map(|i| upper[i]), upper.get(k)) {
        (None, Some(u)) => format!("≤ {u}"),
        (Some(l), Some(u)) => format!("({l}, {u}]"),
        (Some(l), None) => format!("> {l}"),
        (None, None) => "all values".into(),
    }
}

/// The levels in value bin `k` of a categorical feature (ranks between the bin's edges),
/// "other" standing for rare and unseen levels: `{A11, A12}`.
fn level_label(order: &LevelOrder, names: &[String], upper: &[f64], k: usize) -> String {
    let lo = k.checked_sub(1).map_or(f64::NEG_INFINITY, |i| upper[i]);
    let hi = upper.get(k).copied().unwrap_or(f64::INFINITY);
    let mut shown = Vec::new();
    let mut ranks: Vec<f64> = order.rank.clone();
    ranks.sort_by(f64::total_cmp);
    ranks.dedup();
    for r in ranks.into_iter().filter(|&r| r > lo && r <= hi) {
        for code in order.codes_at(r) {
            match names.get(code) {
                Some(name) if !order.pooled.get(code).copied().unwrap_or(true) => shown.push(name.clone()),
                _ if !shown.iter().any(|s| s == "other") => shown.push("other".into()),
                _ => {}
            }
        }
    }
    format!("{{{}}}", shown.join(", "))
}

/// Fit a scorecard on raw features; `levels[j]` holds the training levels of a categorical
/// feature `j` (its values are level codes, [`crate::categories`]), whose levels with fewer
/// than `min_level_rows` rows are pooled.
pub fn fit(
    x: ArrayView2<'_, f64>,
    y: &[bool],
    features: &[String],
    levels: &[Option<Vec<String>>],
    min_level_rows: usize,
    p: &ValidScorecardParams,
) -> Result<Scorecard> {
    let n = y.len();
    let bads = y.iter().filter(|&&b| b).count();
    if bads == 0 || bads == n {
        return Err(ModelError::Data(format!("cannot fit a scorecard: all {n} training rows are in one class")));
    }
    let (goods_f, bads_f) = ((n - bads) as f64, bads as f64);
    let counts: Vec<Option<usize>> =
        (0..x.ncols()).map(|j| levels.get(j).and_then(|l| l.as_ref().map(Vec::len))).collect();
    let orders = crate::categories::orders(x, y, &counts, min_level_rows);
    // Bins of categorical features are bins of their levels' ranks; numeric features are
    // binned as they are (no copy of the matrix when none is categorical).
    let ranked_copy = orders.iter().any(Option::is_some).then(|| crate::categories::ranked(x, &orders));
    let ranked = match &ranked_copy {
        Some(r) => r.view(),
        None => x.view(),
    };
    let binned: Vec<_> =
        (0..x.ncols()).into_par_iter().map(|j| bin_feature(ranked.column(j), y, p, orders[j].is_some())).collect();
    let attr = |label: String, c: Count| Attribute {
        label,
        rows: c.rows,
        bad_rate: if c.rows == 0 { f64::NAN } else { c.bads as f64 / c.rows as f64 },
        // A bin too small to judge is neutral.
        woe: if c.rows < 30 { 0.0 } else { woe(c, goods_f, bads_f) },
        points: 0.0,
    };
    let mut characteristics = Vec::new();
    let mut dropped = Vec::new();
    for (j, (upper, counts, missing, special)) in binned.into_iter().enumerate() {
        let names = levels.get(j).cloned().flatten().unwrap_or_default();
        let label = |k: usize| match &orders[j] {
            Some(o) => level_label(o, &names, &upper, k),
            None => range_label(&upper, k),
        };
        let value_attrs: Vec<Attribute> = counts.iter().enumerate().map(|(k, c)| attr(label(k), *c)).collect();
        let missing = attr("missing".into(), missing);
        let special: Vec<(f64, Attribute)> = special.into_iter().map(|(v, c)| (v, attr(format!("= {v}"), c))).collect();
        let all = value_attrs.iter().chain(std::iter::once(&missing)).chain(special.iter().map(|s| &s.1));
        let iv: f64 = all
            .map(|a| {
                let bad_rows = if a.rows == 0 { 0.0 } else { a.bad_rate * a.rows as f64 };
                ((a.rows as f64 - bad_rows) / goods_f - bad_rows / bads_f) * a.woe
            })
            .sum();
        if iv < p.min_iv || value_attrs.len() + special.len() + usize::from(missing.rows > 0) < 2 {
            dropped.push((features[j].clone(), iv));
            continue;
        }
        characteristics.push(Characteristic {
            feature: features[j].clone(),
            column: j,
            upper,
            value_attrs,
            missing,
            special,
            information_value: iv,
            mean_points: 0.0,
            coefficient: 0.0,
            levels: if orders[j].is_some() { names } else { Vec::new() },
            order: orders[j].clone(),
        });
    }
    if characteristics.is_empty() {
        return Err(ModelError::Data(format!(
            "no feature reaches the scorecard's minimum information value {}; lower `models.scorecard.min_iv`",
            p.min_iv
        )));
    }
    // WoE design matrix and the logistic regression on it.
    let m = characteristics.len();
    let mut design = Array2::<f64>::zeros((n, m));
    for (j, c) in characteristics.iter().enumerate() {
        for i in 0..n {
            design[[i, j]] = c.attribute(x[[i, c.column]]).woe;
        }
    }
    let lr = ValidLogisticParams { l2: p.l2, ..ValidLogisticParams::default() };
    let coef = newton(&design, y, &lr)?;
    let factor = p.pdo / std::f64::consts::LN_2;
    let offset = p.base_score - factor * p.base_odds.ln();
    let share = (offset - factor * coef.intercept) / m as f64;
    let round = |v: f64| (v * 100.0).round() / 100.0;
    for (c, &b) in characteristics.iter_mut().zip(&coef.coef) {
        c.coefficient = b;
        let pts = |a: &mut Attribute| a.points = round(share - factor * b * a.woe);
        c.value_attrs.iter_mut().for_each(pts);
        pts(&mut c.missing);
        c.special.iter_mut().for_each(|(_, a)| pts(a));
    }
    for c in characteristics.iter_mut() {
        let col = c.column;
        c.mean_points = (0..n).map(|i| c.attribute(x[[i, col]]).points).sum::<f64>() / n as f64;
    }
    Ok(Scorecard { characteristics, offset, factor, dropped })
}

/// Scorecard parameters with the feature names and categorical levels (linfa datasets carry
/// none), for `Fit`.
#[derive(Debug, Clone)]
pub struct Named<'a> {
    pub params: &'a ValidScorecardParams,
    pub features: &'a [String],
    pub levels: &'a [Option<Vec<String>>],
    pub min_level_rows: usize,
}

impl Fit<Array2<f64>, Array1<bool>, ModelError> for Named<'_> {
    type Object = Scorecard;

    fn fit(&self, dataset: &DatasetBase<Array2<f64>, Array1<bool>>) -> Result<Scorecard> {
        let y: Vec<bool> = dataset.targets.iter().copied().collect();
        fit(dataset.records.view(), &y, self.features, self.levels, self.min_level_rows, self.params)
    }
}

impl PredictInplace<Array2<f64>, Array1<f64>> for Scorecard {
    fn predict_inplace(&self, x: &Array2<f64>, y: &mut Array1<f64>) {
        crate::model::predict_rows(x, y, |row| sigmoid(self.logit(row)));
    }

    fn default_target(&self, x: &Array2<f64>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}
