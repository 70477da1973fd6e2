//! Categorical features: columns whose values are levels (`retail`, `A14`), not quantities.
//!
//! **Coding.** A [`crate::matrix::Sample`] codes a categorical feature as the index of its
//! level in the training table's levels, sorted (`Sample::levels`; the model carries them to
//! scoring): 0, 1, … A missing value is NaN; a level the training table did not have (an
//! *unseen* level, at scoring time) is coded `levels.len()`.
//!
//! **What the learners see.** No learner reads a code as a quantity:
//! - gradient-boosted trees and the scorecard see each level's rank by default rate on the
//!   rows they are fitted on ([`LevelOrder`]): a split of the ranks is a split of the levels
//!   into a low-rate and a high-rate group, which is LightGBM's categorical split (levels
//!   sorted by their gradient statistics, then split like an ordered feature) with the order
//!   fixed once per fit instead of once per node; the scorecard's bins of the ranks are groups
//!   of levels with similar rates, monotone by construction;
//! - logistic regression sees one indicator per level ([`crate::logistic`]): one-hot coding.
//!
//! **Rare and unseen levels.** Levels with fewer than `models.min_level_rows` fit rows are
//! pooled into one "other" group, with the levels unseen in training: both are scored as that
//! group (its default rate smoothed towards the portfolio's; with no rare level, the
//! portfolio's rate itself), never as an error. Missing values stay missing: each learner's own
//! missing-value handling applies.

use serde::{Deserialize, Serialize};

/// Default of `models.min_level_rows`.
pub const MIN_LEVEL_ROWS: usize = 20;
/// Prior rows behind each level's default rate: a level's rate is smoothed towards the
/// portfolio's as if it had this many more rows at that rate (LightGBM's `cat_smooth`).
const SMOOTHING_ROWS: f64 = 10.0;

/// The order of one categorical feature's levels by default rate, learnt on a fit's rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LevelOrder {
    /// Rank of each code (0 = lowest default rate); the last entry is the "other" group's
    /// (rare levels, and codes beyond the training levels).
    pub rank: Vec<f64>,
    /// Whether each training level is pooled into "other".
    pub pooled: Vec<bool>,
}

impl LevelOrder {
    /// The order of a feature with `levels` levels from its codes on the fit's rows and their
    /// outcomes.
    pub fn fit(codes: impl Iterator<Item = f64>, y: &[bool], levels: usize, min_rows: usize) -> LevelOrder {
        // Rows and positives per code; the last slot is "other".
        let mut rows = vec![0usize; levels + 1];
        let mut positives = vec![0usize; levels + 1];
        let (mut all, mut all_pos) = (0usize, 0usize);
        for (v, &y) in codes.zip(y) {
            if v.is_nan() {
                continue;
            }
            let c = (v as usize).min(levels);
            rows[c] += 1;
            positives[c] += usize::from(y);
            all += 1;
            all_pos += usize::from(y);
        }
        let pooled: Vec<bool> = (0..levels).map(|c| rows[c] < min_rows.max(1)).collect();
        for c in 0..levels {
            if pooled[c] {
                rows[levels] += rows[c];
                positives[levels] += positives[c];
            }
        }
        let prior = if all > 0 { all_pos as f64 / all as f64 } else { 0.0 };
        let rate = |c: usize| (positives[c] as f64 + prior * SMOOTHING_ROWS) / (rows[c] as f64 + SMOOTHING_ROWS);
        // Groups: the kept levels and "other", by smoothed rate (code order breaks ties, so
        // the order never depends on anything but the data).
        let mut groups: Vec<usize> = (0..levels).filter(|&c| !pooled[c]).collect();
        groups.push(levels);
        groups.sort_by(|&a, &b| rate(a).total_cmp(&rate(b)).then(a.cmp(&b)));
        let mut group_rank = vec![0.0; levels + 1];
        for (r, &g) in groups.iter().enumerate() {
            group_rank[g] = r as f64;
        }
        let rank =
            (0..=levels).map(|c| if c < levels && !pooled[c] { group_rank[c] } else { group_rank[levels] }).collect();
        LevelOrder { rank, pooled }
    }

    /// The rank of a code (NaN stays NaN: missing).
    pub fn apply(&self, code: f64) -> f64 {
        if code.is_nan() {
            return f64::NAN;
        }
        let last = self.rank.len().saturating_sub(1);
        self.rank.get((code.max(0.0) as usize).min(last)).copied().unwrap_or(f64::NAN)
    }

    /// The codes whose rank is `rank`, in code order (`levels` = the "other" code).
    pub fn codes_at(&self, rank: f64) -> Vec<usize> {
        (0..self.rank.len()).filter(|&c| self.rank[c] == rank).collect()
    }
}

/// The level orders of every categorical feature (`None` for numeric ones) learnt on the
/// rows of `x` with outcomes `y`.
pub fn orders(
    x: ndarray::ArrayView2<'_, f64>,
    y: &[bool],
    levels: &[Option<usize>],
    min_rows: usize,
) -> Vec<Option<LevelOrder>> {
    levels
        .iter()
        .enumerate()
        .map(|(j, k)| k.map(|k| LevelOrder::fit(x.column(j).iter().copied(), y, k, min_rows)))
        .collect()
}

/// A copy of `x` with every categorical feature's codes replaced by their ranks.
pub fn ranked(x: ndarray::ArrayView2<'_, f64>, orders: &[Option<LevelOrder>]) -> ndarray::Array2<f64> {
    let mut out = x.to_owned();
    for (j, o) in orders.iter().enumerate() {
        if let Some(o) = o {
            out.column_mut(j).mapv_inplace(|v| o.apply(v));
        }
    }
    out
}

/// One row with its categorical codes replaced by their ranks, into `out`.
pub fn ranked_row(x: ndarray::ArrayView1<'_, f64>, orders: &[Option<LevelOrder>], out: &mut Vec<f64>) {
    out.clear();
    out.extend(x.iter().enumerate().map(|(j, &v)| match orders.get(j) {
        Some(Some(o)) => o.apply(v),
        _ => v,
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ranked_by_smoothed_rate_and_rare_and_unseen_levels_pool_into_other() {
        // Level 0: 40 rows, 2 bad; level 1: 40 rows, 20 bad; level 2: 5 rows, all bad (rare).
        let mut codes = Vec::new();
        let mut y = Vec::new();
        for (c, n, bad) in [(0.0, 40, 2), (1.0, 40, 20), (2.0, 5, 5)] {
            for i in 0..n {
                codes.push(c);
                y.push(i < bad);
            }
        }
        codes.push(f64::NAN);
        y.push(true);
        let o = LevelOrder::fit(codes.iter().copied(), &y, 3, 20);
        assert_eq!(o.pooled, vec![false, false, true]);
        // Rates: level 0 (2 + 0.318·10)/50 = 0.10, other (5 + 3.18)/15 = 0.55, level 1
        // (20 + 3.18)/50 = 0.46: order 0, 1, other.
        assert_eq!(o.rank, vec![0.0, 1.0, 2.0, 2.0]);
        assert_eq!(o.apply(2.0), o.apply(3.0), "a rare level scores as an unseen one");
        assert_eq!(o.apply(7.0), 2.0, "codes beyond the levels are other");
        assert!(o.apply(f64::NAN).is_nan());
        assert_eq!(o.codes_at(2.0), vec![2, 3]);
    }

    #[test]
    fn with_no_rare_level_other_sits_at_the_portfolio_rate() {
        let codes: Vec<f64> = (0..100).map(|i| f64::from(i % 2)).collect();
        let y: Vec<bool> = (0..100).map(|i| i % 2 == 1 && i % 4 == 1).collect();
        // Level 0 never bad, level 1 half bad; portfolio 25%: other between them.
        let o = LevelOrder::fit(codes.iter().copied(), &y, 2, 20);
        assert_eq!(o.rank, vec![0.0, 2.0, 1.0]);
    }
}
