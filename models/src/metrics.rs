//! How good a probability is (docs/definitions.md, "Models"): discrimination (AUC, Gini, KS), accuracy (Brier,
//! log-loss), calibration by decile, and population stability (PSI).
//!
//! Every function takes predicted probabilities of the positive class and the observed
//! outcomes, and is exact and order-independent: ties are handled by ranks, never by the
//! order rows arrive in.

use serde::{Deserialize, Serialize};

/// The summary metrics of one prediction set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub rows: usize,
    pub positives: usize,
    #[serde(with = "crate::json_float")]
    pub auc: f64,
    #[serde(with = "crate::json_float")]
    pub gini: f64,
    #[serde(with = "crate::json_float")]
    pub ks: f64,
    #[serde(with = "crate::json_float")]
    pub brier: f64,
    #[serde(with = "crate::json_float")]
    pub log_loss: f64,
    /// Mean predicted probability.
    #[serde(with = "crate::json_float")]
    pub mean_pd: f64,
    /// Observed positive rate.
    #[serde(with = "crate::json_float")]
    pub observed_rate: f64,
    /// Largest |mean predicted − observed| over the ten deciles.
    #[serde(with = "crate::json_float")]
    pub max_decile_gap: f64,
    /// Row-weighted mean |mean predicted − observed| over the deciles.
    #[serde(with = "crate::json_float")]
    pub calibration_error: f64,
}

impl Metrics {
    /// Every metric of `p` against `y`.
    pub fn of(p: &[f64], y: &[bool]) -> Metrics {
        let deciles = calibration(p, y, 10);
        let rows = p.len();
        let gaps = deciles.iter().map(|d| (d.mean_pd - d.observed_rate).abs());
        let auc = auc(p, y);
        Metrics {
            rows,
            positives: y.iter().filter(|&&v| v).count(),
            auc,
            gini: 2.0 * auc - 1.0,
            ks: ks(p, y),
            brier: brier(p, y),
            log_loss: log_loss(p, y),
            mean_pd: mean(p),
            observed_rate: y.iter().filter(|&&v| v).count() as f64 / rows.max(1) as f64,
            max_decile_gap: gaps.clone().fold(0.0, f64::max),
            calibration_error: deciles.iter().map(|d| d.rows as f64 * (d.mean_pd - d.observed_rate).abs()).sum::<f64>()
                / rows.max(1) as f64,
        }
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 }
}

/// Indices sorted by score, ties kept together (the index breaks ties only for determinism).
fn order(p: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_unstable_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    idx
}

/// Positives and negatives, or `None` without both classes.
fn classes(y: &[bool]) -> Option<(f64, f64)> {
    let pos = y.iter().filter(|&&v| v).count();
    (pos > 0 && pos < y.len()).then(|| (pos as f64, (y.len() - pos) as f64))
}

/// Runs of equal scores in increasing score order: (rows, positives) of each.
fn runs(p: &[f64], y: &[bool]) -> Vec<(usize, usize)> {
    let idx = order(p);
    let mut out = Vec::new();
    let mut i = 0;
    while i < idx.len() {
        let j = i + idx[i..].iter().take_while(|&&k| p[k] == p[idx[i]]).count();
        out.push((j - i, idx[i..j].iter().filter(|&&k| y[k]).count()));
        i = j;
    }
    out
}

/// Area under the ROC curve (Mann–Whitney, ties count one half). NaN without both classes.
pub fn auc(p: &[f64], y: &[bool]) -> f64 {
    let Some((pos, neg)) = classes(y) else { return f64::NAN };
    let (mut seen, mut rank_sum) = (0usize, 0.0);
    for (rows, positives) in runs(p, y) {
        // Ranks seen+1 ..= seen+rows share their mean.
        rank_sum += (2 * seen + rows + 1) as f64 / 2.0 * positives as f64;
        seen += rows;
    }
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Kolmogorov–Smirnov: the largest gap between the score distributions of the two classes.
pub fn ks(p: &[f64], y: &[bool]) -> f64 {
    let Some((pos, neg)) = classes(y) else { return f64::NAN };
    let (mut tp, mut fp, mut best) = (0.0, 0.0, 0.0f64);
    for (rows, positives) in runs(p, y) {
        tp += positives as f64;
        fp += (rows - positives) as f64;
        best = best.max((tp / pos - fp / neg).abs());
    }
    best
}

/// Mean squared error of the probabilities.
pub fn brier(p: &[f64], y: &[bool]) -> f64 {
    mean(&p.iter().zip(y).map(|(&p, &y)| (p - f64::from(u8::from(y))).powi(2)).collect::<Vec<_>>())
}

/// Mean negative log-likelihood (probabilities clipped to [1e-15, 1 − 1e-15]).
pub fn log_loss(p: &[f64], y: &[bool]) -> f64 {
    let ll: Vec<f64> = p
        .iter()
        .zip(y)
        .map(|(&p, &y)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .collect();
    mean(&ll)
}

/// One calibration bin.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// 1 = lowest predicted risk.
    pub decile: u32,
    pub rows: usize,
    #[serde(with = "crate::json_float")]
    pub mean_pd: f64,
    #[serde(with = "crate::json_float")]
    pub observed_rate: f64,
    #[serde(with = "crate::json_float")]
    pub min_pd: f64,
    #[serde(with = "crate::json_float")]
    pub max_pd: f64,
}

/// Row indices split into `bins` groups of equal size by predicted probability, lowest
/// first, each with its 1-based number; equal probabilities never straddle two groups, and
/// empty groups are left out.
pub fn decile_rows(p: &[f64], bins: usize) -> Vec<(u32, Vec<usize>)> {
    let idx = order(p);
    let n = idx.len();
    let mut out = Vec::new();
    let mut start = 0;
    for b in 0..bins {
        let mut end = (n * (b + 1)) / bins;
        // Keep ties together: extend to the end of the run of equal values.
        while end > start && end < n && p[idx[end]] == p[idx[end - 1]] {
            end += 1;
        }
        if end <= start {
            continue;
        }
        out.push((b as u32 + 1, idx[start..end].to_vec()));
        start = end;
    }
    out
}

/// Rows split into `bins` groups of equal size by predicted probability ([`decile_rows`]).
pub fn calibration(p: &[f64], y: &[bool], bins: usize) -> Vec<Bin> {
    decile_rows(p, bins)
        .into_iter()
        .map(|(decile, rows)| Bin {
            decile,
            rows: rows.len(),
            mean_pd: rows.iter().map(|&i| p[i]).sum::<f64>() / rows.len() as f64,
            observed_rate: rows.iter().filter(|&&i| y[i]).count() as f64 / rows.len() as f64,
            min_pd: p[rows[0]],
            max_pd: p[rows[rows.len() - 1]],
        })
        .collect()
}

/// Population stability index of `actual` against `expected`, over the deciles of
/// `expected` plus one bin for missing values (NaN); shares are floored at 0.0001 so empty
/// bins stay finite.
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    PsiReference::new(expected).psi(actual)
}

/// A reference population for PSI, with its decile edges computed once. Missing values
/// (NaN) have a bin of their own, so a feature that goes missing more often shifts too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PsiReference {
    edges: Vec<f64>,
    /// Share per bin: one per decile range, then the missing bin.
    shares: Vec<f64>,
}

impl PsiReference {
    /// The reference population `expected`.
    pub fn new(expected: &[f64]) -> PsiReference {
        let mut sorted: Vec<f64> = expected.iter().copied().filter(|x| !x.is_nan()).collect();
        sorted.sort_unstable_by(f64::total_cmp);
        let mut edges: Vec<f64> = (1..10)
            .filter_map(|k| sorted.get((sorted.len() * k / 10).min(sorted.len().saturating_sub(1))))
            .copied()
            .collect();
        edges.dedup();
        let mut r = PsiReference { edges, shares: Vec::new() };
        r.shares = r.shares_of(expected);
        r
    }

    fn shares_of(&self, v: &[f64]) -> Vec<f64> {
        Self::shares_of_counts(&self.counts(v))
    }

    fn shares_of_counts(counts: &[u64]) -> Vec<f64> {
        let n: u64 = counts.iter().sum();
        counts.iter().map(|&c| (c as f64 / n as f64).max(1e-4)).collect()
    }

    /// How many of `v` fall in each of the reference's bins (the deciles, then missing):
    /// counts of parts of a population add up to the whole population's.
    pub fn counts(&self, v: &[f64]) -> Vec<u64> {
        let mut counts = vec![0u64; self.bins()];
        for &x in v {
            counts[self.bin(x)] += 1;
        }
        counts
    }

    /// The number of bins: one per decile range, then the missing bin.
    pub fn bins(&self) -> usize {
        self.edges.len() + 2
    }

    /// The bin of `x`.
    pub fn bin(&self, x: f64) -> usize {
        if x.is_nan() { self.edges.len() + 1 } else { self.edges.partition_point(|&e| e < x) }
    }

    /// PSI of `actual` against the reference (NaN when either is empty).
    pub fn psi(&self, actual: &[f64]) -> f64 {
        self.psi_of_counts(&self.counts(actual))
    }

    /// PSI of a population given by its [`PsiReference::counts`] (NaN when either is empty).
    pub fn psi_of_counts(&self, counts: &[u64]) -> f64 {
        if counts.iter().sum::<u64>() == 0 || self.shares.iter().all(|&s| s <= 1e-4) {
            return f64::NAN;
        }
        let a = Self::shares_of_counts(counts);
        self.shares.iter().zip(&a).map(|(e, a)| (a - e) * (a / e).ln()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_counts_ties_as_half_and_matches_pair_counting() {
        let p = [0.1, 0.4, 0.35, 0.8, 0.4, 0.2];
        let y = [false, false, true, true, true, false];
        // Pairs (pos, neg): 0.35 beats 0.1, 0.2, loses to 0.4 → 2; 0.8 beats all 3 → 3;
        // 0.4 beats 0.1, 0.2 and ties 0.4 → 2.5. Total 7.5 of 9.
        assert!((auc(&p, &y) - 7.5 / 9.0).abs() < 1e-12);
        assert!(auc(&[0.5, 0.5], &[true, true]).is_nan());
    }

    #[test]
    fn ks_is_the_largest_cdf_gap() {
        let p = [0.1, 0.2, 0.3, 0.4];
        let y = [false, false, true, true];
        assert!((ks(&p, &y) - 1.0).abs() < 1e-12);
        let y = [false, true, false, true];
        assert!((ks(&p, &y) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn brier_and_log_loss_by_hand() {
        let p = [0.2, 0.9];
        let y = [false, true];
        assert!((brier(&p, &y) - (0.04 + 0.01) / 2.0).abs() < 1e-12);
        assert!((log_loss(&p, &y) - (-(0.8f64).ln() - (0.9f64).ln()) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn calibration_bins_keep_ties_together_and_cover_every_row() {
        let p = [0.1, 0.1, 0.1, 0.2, 0.3, 0.3, 0.4, 0.5, 0.6, 0.7];
        let y = [false, false, true, false, false, true, false, true, true, true];
        let bins = calibration(&p, &y, 5);
        assert_eq!(bins.iter().map(|b| b.rows).sum::<usize>(), 10);
        assert_eq!(bins[0].rows, 3);
        assert!((bins[0].observed_rate - 1.0 / 3.0).abs() < 1e-12);
        assert!(bins.windows(2).all(|w| w[0].max_pd < w[1].min_pd));
    }

    #[test]
    fn psi_is_zero_for_the_same_population_and_grows_with_shift() {
        let a: Vec<f64> = (0..1000).map(|i| i as f64 / 1000.0).collect();
        assert!(psi(&a, &a).abs() < 1e-12);
        let shifted: Vec<f64> = a.iter().map(|x| x + 0.2).collect();
        assert!(psi(&a, &shifted) > 0.25);
    }

    #[test]
    fn psi_puts_missing_values_in_their_own_bin() {
        // Values, a tenth of them missing; then the same values with a third missing.
        let a: Vec<f64> = (0..1000).map(|i| if i % 10 == 0 { f64::NAN } else { i as f64 }).collect();
        assert!(psi(&a, &a).abs() < 1e-12, "NaN compares equal to itself by bin");
        let more_missing: Vec<f64> = (0..1000).map(|i| if i % 3 == 0 { f64::NAN } else { i as f64 }).collect();
        let p = psi(&a, &more_missing);
        // Missing 10% -> 33.4%: (0.334 - 0.1) ln(3.34) = 0.28, plus the deciles thinning out.
        assert!(p > 0.28, "{p}");
        // Missing values do not count as the lowest decile: moving the missing rows' share
        // into low values instead is a different shift.
        let low: Vec<f64> = (0..1000).map(|i| if i % 10 == 0 { 0.5 } else { i as f64 }).collect();
        // Missing 10% -> 0: (0.0001 - 0.1) ln(0.001) = 0.69; the lowest decile 10% -> 20%: 0.07.
        assert!((psi(&a, &low) - 0.76).abs() < 0.01, "{}", psi(&a, &low));
    }
}
