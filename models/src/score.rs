//! Scores for the collections worklist (docs/definitions.md, "Models"): probability of default, score points,
//! risk band, up to four reason codes, the recommended action and credit limit, expected
//! loss and the priority rank.
//!
//! [`ScoreParams`] (`[models.scores]`) → `check()` → [`Scoring`]; [`score_row`] scores one
//! row and is what every batch calls, so one row scored alone gives exactly its batch
//! result.

use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::model::{Model, points};

/// `[models.scores]` as written in a config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreParams {
    /// Upper PD edges of bands A, B, C and D (E is above the last). Default
    /// [0.02, 0.05, 0.10, 0.20].
    pub bands: Vec<f64>,
    /// Credit-limit multiplier per band A–E, applied to the current limit (or to two
    /// months of recent billing when there is none). Default [1.25, 1.0, 0.75, 0.5, 0.0].
    pub limit_multipliers: Vec<f64>,
    /// Points at `base_odds` good:bad. Default 600.
    pub base_score: f64,
    /// Default 19 (1:19 bad to good).
    pub base_odds: f64,
    /// Points to double the odds. Default 50.
    pub pdo: f64,
    /// Month ends (the latest ones) that get a `customer_scores` row per customer. Default 3.
    pub customer_months: usize,
}

impl Default for ScoreParams {
    fn default() -> Self {
        ScoreParams {
            bands: vec![0.02, 0.05, 0.10, 0.20],
            limit_multipliers: vec![1.25, 1.0, 0.75, 0.5, 0.0],
            base_score: 600.0,
            base_odds: 19.0,
            pdo: 50.0,
            customer_months: 3,
        }
    }
}

/// Checked scoring parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Scoring {
    pub bands: [f64; 4],
    pub limit_multipliers: [f64; 5],
    pub base_score: f64,
    pub base_odds: f64,
    pub pdo: f64,
    pub customer_months: usize,
}

impl ScoreParams {
    /// Check every field.
    pub fn check(&self) -> Result<Scoring> {
        let bad = |m: String| Err(ModelError::Params(m));
        let Ok(bands) = <[f64; 4]>::try_from(self.bands.as_slice()) else {
            return bad(format!("`models.scores.bands` must hold 4 PD edges (A–D), but holds {}", self.bands.len()));
        };
        if let Some(w) = bands.windows(2).find(|w| w[0] >= w[1]) {
            return bad(format!(
                "`models.scores.bands` must be strictly increasing, but {} is followed by {}",
                w[0], w[1]
            ));
        }
        if bands[0] <= 0.0 || bands[3] >= 1.0 {
            return bad(format!("`models.scores.bands` must lie in (0, 1), but are {bands:?}"));
        }
        let Ok(limit_multipliers) = <[f64; 5]>::try_from(self.limit_multipliers.as_slice()) else {
            return bad(format!(
                "`models.scores.limit_multipliers` must hold 5 values (A–E), but holds {}",
                self.limit_multipliers.len()
            ));
        };
        if let Some(m) = limit_multipliers.iter().find(|m| !(**m >= 0.0 && m.is_finite())) {
            return bad(format!("`models.scores.limit_multipliers` must be finite and ≥ 0, but holds {m}"));
        }
        if !(self.base_odds > 0.0 && self.pdo > 0.0) {
            return bad(format!(
                "`models.scores` needs base_odds > 0 and pdo > 0, but base_odds = {} and pdo = {}",
                self.base_odds, self.pdo
            ));
        }
        if self.customer_months == 0 {
            return bad("`models.scores.customer_months` cannot be 0".into());
        }
        Ok(Scoring {
            bands,
            limit_multipliers,
            base_score: self.base_score,
            base_odds: self.base_odds,
            pdo: self.pdo,
            customer_months: self.customer_months,
        })
    }
}

/// The risk bands: A (safest) to E by PD, and `default` for a customer already in default on
/// the as-of date, which no model scores.
pub const BANDS: [&str; 6] = ["A", "B", "C", "D", "E", "default"];

/// The band of customers already in default (an index into [`BANDS`]).
pub const DEFAULT_BAND: usize = 5;

/// What collections should do per band.
pub const ACTIONS: [&str; 6] = [
    "No action: standard terms",
    "Send a reminder before the next due date",
    "Call about past-due items this week",
    "Hold new orders until past-due items are paid; agree a payment plan",
    "Escalate to collections and stop further credit",
    "In default: no further credit; recover through collections, a payment plan or legal action",
];

/// What the run knows about a customer besides its features.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Account {
    /// Open AR at the as-of date, in cents.
    pub exposure_cents: i64,
    /// Current credit limit, in cents.
    pub credit_limit_cents: Option<i64>,
    /// Billing in the 90 days to the as-of date, in cents.
    pub billed_90d_cents: i64,
    /// Already in default at the as-of date.
    pub in_default: bool,
}

/// The score of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    pub pd: f64,
    /// Score points; none for a customer already in default (no model score applies).
    pub points: Option<f64>,
    /// Index into [`BANDS`].
    pub band: usize,
    /// Readable reasons, strongest first.
    pub reasons: Vec<String>,
    pub recommended_limit_cents: i64,
    pub expected_loss_cents: i64,
}

fn number(v: f64) -> String {
    if v == v.trunc() || v.abs() >= 100.0 { format!("{v:.0}") } else { format!("{v:.2}") }
}

/// The band of a probability.
pub fn band(pd: f64, s: &Scoring) -> usize {
    s.bands.iter().position(|&edge| pd < edge).unwrap_or(4)
}

/// Score one row: `x` are the model's features in its order, `describe` gives a feature's
/// readable meaning where one is known.
pub fn score_row(
    model: &Model,
    s: &Scoring,
    x: ArrayView1<'_, f64>,
    segment: &str,
    account: &Account,
    describe: &dyn Fn(&str) -> Option<&'static str>,
) -> Score {
    score(model, s, x, model.pd(x, segment), segment, account, Some(describe))
}

/// [`score_row`] without reasons (`reasons` is empty): the same PD, points, band, limit and
/// expected loss, for rows whose reasons are not published.
pub fn score_row_without_reasons(
    model: &Model,
    s: &Scoring,
    x: ArrayView1<'_, f64>,
    segment: &str,
    account: &Account,
) -> Score {
    score(model, s, x, model.pd(x, segment), segment, account, None)
}

/// [`score_row`] (with reasons when `describe` is given) for a row whose PD is already known:
/// `pd` must be `model.pd(x, segment)`, e.g. from [`Model::pds`] over many rows at once.
pub fn score_row_at(
    model: &Model,
    s: &Scoring,
    x: ArrayView1<'_, f64>,
    pd: f64,
    segment: &str,
    account: &Account,
    describe: Option<Describe<'_>>,
) -> Score {
    score(model, s, x, pd, segment, account, describe)
}

/// What a feature means, for reason texts.
pub type Describe<'a> = &'a dyn Fn(&str) -> Option<&'static str>;

fn score(
    model: &Model,
    s: &Scoring,
    x: ArrayView1<'_, f64>,
    mut pd: f64,
    segment: &str,
    account: &Account,
    describe: Option<Describe<'_>>,
) -> Score {
    let mut reasons = Vec::new();
    if account.in_default {
        pd = 1.0;
    }
    let band = if account.in_default { DEFAULT_BAND } else { band(pd, s) };
    if let Some(describe) = describe {
        if account.in_default {
            reasons.push("already in default on the as-of date".to_string());
        }
        let mut contrib = vec![0.0; model.features.len()];
        model.contributions(x, segment, &mut contrib);
        // Features in order of how much they raise the risk against the typical customer.
        let mut order: Vec<usize> = (0..contrib.len()).collect();
        order.sort_by(|&a, &b| contrib[b].total_cmp(&contrib[a]).then(a.cmp(&b)));
        let shown = |j: usize| {
            let name = &model.features[j];
            let value = match (x[j].is_nan(), model.levels_of(j)) {
                (true, _) => format!("{name} is missing"),
                (false, Some(levels)) => match levels.get(x[j] as usize) {
                    Some(level) => format!("{name} = {level}"),
                    None => format!("{name} is a level unseen in training"),
                },
                (false, None) => format!("{name} = {}", number(x[j])),
            };
            match describe(name) {
                Some(d) => format!("{value} ({})", d.to_lowercase()),
                None => value,
            }
        };
        for &j in order.iter().take_while(|&&j| contrib[j] > 1e-9) {
            if reasons.len() == 4 {
                break;
            }
            reasons.push(shown(j));
        }
        // Above band A with no feature worse than the typical customer's: the risk is the
        // portfolio's own at this profile. Say so, and name the features that lower it least.
        if reasons.is_empty() && band > 0 && band != DEFAULT_BAND {
            let least: Vec<String> = order.iter().take(2).map(|&j| shown(j)).collect();
            reasons.push(format!(
                "overall profile: no feature is worse than the typical customer's; band {} comes from the portfolio's base risk; closest to adverse: {}",
                BANDS[band],
                least.join("; ")
            ));
        }
    }
    let base = match account.credit_limit_cents.filter(|&l| l > 0) {
        Some(l) => l as f64,
        None => account.billed_90d_cents.max(0) as f64 * 2.0 / 3.0,
    };
    // Limits are recommended in whole hundreds of the reporting currency.
    // No further credit in default.
    let multiplier = s.limit_multipliers.get(band).copied().unwrap_or(0.0);
    let recommended_limit_cents = ((base * multiplier) / 10_000.0).floor() as i64 * 10_000;
    Score {
        pd,
        points: (!account.in_default).then(|| points(pd.clamp(1e-9, 1.0 - 1e-9), s.base_score, s.base_odds, s.pdo)),
        band,
        reasons,
        recommended_limit_cents,
        expected_loss_cents: (pd * account.exposure_cents.max(0) as f64).round() as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_and_their_checks() {
        let s = ScoreParams::default().check().expect("defaults are valid");
        assert_eq!(band(0.0199, &s), 0);
        assert_eq!(band(0.02, &s), 1);
        assert_eq!(band(0.5, &s), 4);
        let bad = ScoreParams { bands: vec![0.02, 0.05, 0.04, 0.2], ..Default::default() }.check();
        assert!(bad.is_err_and(|e| e.to_string().contains("0.05 is followed by 0.04")));
    }

    #[test]
    fn points_follow_the_scaling() {
        // 600 points at odds 19:1 good:bad (pd 0.05); 50 more points double the odds.
        assert!((points(0.05, 600.0, 19.0, 50.0) - 600.0).abs() < 1e-9);
        let pd_650 = 1.0 / (1.0 + 38.0);
        assert!((points(pd_650, 600.0, 19.0, 50.0) - 650.0).abs() < 1e-9);
    }
}
