//! How sure a model's out-of-time numbers are, for the champion rule ([`crate::champion`]):
//!
//! - [`PairedAucs`]: the AUCs of several models scored on the same rows with their
//!   covariance (DeLong, DeLong & Clarke-Pearson 1988, computed by midranks as in Sun & Xu
//!   2014), so that "better than a constant" and "better than that other model" are tests,
//!   not readings of the fourth decimal;
//! - [`calibration_test`]: each decile's observed rate against its mean PD, allowing for the
//!   sampling noise of the decile's size, and Spiegelhalter's z over all rows.
//!
//! Normal tail probabilities come from `libm::erfc`.

use std::f64::consts::SQRT_2;

use serde::{Deserialize, Serialize};

use crate::metrics;

/// P(Z > z) for a standard normal Z.
pub fn normal_upper_tail(z: f64) -> f64 {
    0.5 * libm::erfc(z / SQRT_2)
}

/// The z with P(Z > z) = `q` (0 < q < 1), by bisection on [`normal_upper_tail`] (exact to
/// the last bits that matter here; it runs a few times per training).
pub fn normal_upper_quantile(q: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if normal_upper_tail(mid) > q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// 1-based ranks of `v`, ties sharing their mean rank.
fn midranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_unstable_by(|&a, &b| v[a].total_cmp(&v[b]).then(a.cmp(&b)));
    let mut ranks = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let j = i + idx[i..].iter().take_while(|&&k| v[k].total_cmp(&v[idx[i]]).is_eq()).count();
        // Ranks i+1 ..= j share their mean.
        let mean = (i + 1 + j) as f64 / 2.0;
        for &k in &idx[i..j] {
            ranks[k] = mean;
        }
        i = j;
    }
    ranks
}

/// The AUCs of several score sets on the same rows and outcomes, with DeLong's covariance.
#[derive(Debug, Clone, PartialEq)]
pub struct PairedAucs {
    pub auc: Vec<f64>,
    /// `covariance[a][b]`: the covariance of the AUC estimates of score sets a and b.
    pub covariance: Vec<Vec<f64>>,
}

impl PairedAucs {
    /// `None` without at least two positives and two negatives (no variance to speak of).
    pub fn new(scores: &[&[f64]], y: &[bool]) -> Option<PairedAucs> {
        let pos: Vec<usize> = (0..y.len()).filter(|&i| y[i]).collect();
        let neg: Vec<usize> = (0..y.len()).filter(|&i| !y[i]).collect();
        let (m, n) = (pos.len(), neg.len());
        if m < 2 || n < 2 {
            return None;
        }
        let k = scores.len();
        let mut auc = Vec::with_capacity(k);
        // Placements: per positive, the share of negatives scored below it (ties one half);
        // per negative, the share of positives scored above it.
        let mut v_pos: Vec<Vec<f64>> = Vec::with_capacity(k);
        let mut v_neg: Vec<Vec<f64>> = Vec::with_capacity(k);
        for s in scores {
            debug_assert_eq!(s.len(), y.len());
            let all = midranks(s);
            let within_pos = midranks(&pos.iter().map(|&i| s[i]).collect::<Vec<_>>());
            let within_neg = midranks(&neg.iter().map(|&i| s[i]).collect::<Vec<_>>());
            let vp: Vec<f64> = pos.iter().zip(&within_pos).map(|(&i, &r)| (all[i] - r) / n as f64).collect();
            let vn: Vec<f64> = neg.iter().zip(&within_neg).map(|(&i, &r)| 1.0 - (all[i] - r) / m as f64).collect();
            auc.push(vp.iter().sum::<f64>() / m as f64);
            v_pos.push(vp);
            v_neg.push(vn);
        }
        let cov = |v: &[Vec<f64>], a: usize, b: usize| {
            let (ma, mb) = (mean(&v[a]), mean(&v[b]));
            v[a].iter().zip(&v[b]).map(|(x, y)| (x - ma) * (y - mb)).sum::<f64>() / (v[a].len() - 1) as f64
        };
        let covariance = (0..k)
            .map(|a| (0..k).map(|b| cov(&v_pos, a, b) / m as f64 + cov(&v_neg, a, b) / n as f64).collect())
            .collect();
        Some(PairedAucs { auc, covariance })
    }

    /// Standard error of score set `a`'s AUC.
    pub fn std_error(&self, a: usize) -> f64 {
        self.covariance[a][a].max(0.0).sqrt()
    }

    /// Standard error of AUC(a) − AUC(b), measured on the same rows.
    pub fn diff_std_error(&self, a: usize, b: usize) -> f64 {
        (self.covariance[a][a] + self.covariance[b][b] - 2.0 * self.covariance[a][b]).max(0.0).sqrt()
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

/// One decile of [`calibration_test`] (its rows, mean PD and observed rate are the decile's
/// [`metrics::Bin`] of the same number).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DecileTest {
    pub decile: u32,
    /// Standard error of the observed rate if the PDs were right: √(Σ p(1−p)) / rows.
    #[serde(with = "crate::json_float")]
    pub std_error: f64,
    /// The largest gap this decile may show: the tolerance, or the sampling noise at the
    /// test's confidence, whichever is wider.
    #[serde(with = "crate::json_float")]
    pub allowed_gap: f64,
    pub passed: bool,
}

/// The calibration test of one prediction set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationTest {
    pub deciles: Vec<DecileTest>,
    /// The largest |observed − mean PD| / standard error over the deciles (infinite when a
    /// decile of certain PDs, 0 or 1, shows a gap).
    #[serde(with = "crate::json_float")]
    pub worst_z: f64,
    /// Spiegelhalter's z over every row: Σ (y − p)(1 − 2p) / √(Σ (1 − 2p)² p (1 − p)); near 0
    /// for calibrated PDs, beyond ±2 rarely by chance.
    #[serde(with = "crate::json_float")]
    pub spiegelhalter_z: f64,
    /// Every decile passed.
    pub passed: bool,
}

/// Test the calibration of `p` against `y`, by deciles of `p`: a decile passes when its
/// observed rate is within `tolerance` of its mean PD, or within what sampling noise explains
/// at its size: `z × standard error`, where z is the normal quantile of a two-sided test at
/// `alpha` shared among the deciles (Bonferroni: α / (2 × 10) per side and decile), so that a
/// calibrated model fails with probability at most about `alpha` whatever the sample size.
pub fn calibration_test(p: &[f64], y: &[bool], tolerance: f64, alpha: f64) -> CalibrationTest {
    let bins = metrics::decile_rows(p, 10);
    let z = normal_upper_quantile(alpha / (2.0 * bins.len().max(1) as f64));
    let mut worst_z = 0.0f64;
    let deciles: Vec<DecileTest> = bins
        .iter()
        .map(|(decile, rows)| {
            let n = rows.len() as f64;
            let mean_pd = rows.iter().map(|&i| p[i]).sum::<f64>() / n;
            let observed_rate = rows.iter().filter(|&&i| y[i]).count() as f64 / n;
            let std_error = rows.iter().map(|&i| p[i] * (1.0 - p[i])).sum::<f64>().max(0.0).sqrt() / n;
            let gap = (observed_rate - mean_pd).abs();
            let allowed_gap = tolerance.max(z * std_error);
            let this_z = if std_error > 0.0 {
                gap / std_error
            } else if gap > 1e-12 {
                f64::INFINITY
            } else {
                0.0
            };
            worst_z = worst_z.max(this_z);
            DecileTest { decile: *decile, std_error, allowed_gap, passed: gap <= allowed_gap + 1e-12 }
        })
        .collect();
    let (mut num, mut den) = (0.0, 0.0);
    for (&p, &y) in p.iter().zip(y) {
        let y = f64::from(u8::from(y));
        num += (y - p) * (1.0 - 2.0 * p);
        den += (1.0 - 2.0 * p).powi(2) * p * (1.0 - p);
    }
    let spiegelhalter_z = if den > 0.0 { num / den.sqrt() } else { f64::NAN };
    let passed = !deciles.is_empty() && deciles.iter().all(|d| d.passed);
    CalibrationTest { deciles, worst_z, spiegelhalter_z, passed }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rand_xoshiro::Xoshiro256PlusPlus;
    use rand_xoshiro::rand_core::{RngCore, SeedableRng};

    fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
        (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn normal_quantiles_match_the_tables() {
        assert!((normal_upper_quantile(0.025) - 1.959964).abs() < 1e-5);
        assert!((normal_upper_quantile(0.05) - 1.644854).abs() < 1e-5);
        assert!((normal_upper_quantile(0.0025) - 2.807034).abs() < 1e-5);
        assert!((normal_upper_tail(0.0) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn delong_auc_equals_pair_counting_and_its_variance_matches_the_textbook_example() {
        // Hanley & McNeil style check: AUC by placements equals the Mann–Whitney AUC.
        let p = [0.1, 0.4, 0.35, 0.8, 0.4, 0.2, 0.7, 0.05];
        let y = [false, false, true, true, true, false, true, false];
        let a = PairedAucs::new(&[&p], &y).unwrap();
        assert!((a.auc[0] - metrics::auc(&p, &y)).abs() < 1e-12);
        // By hand: placements of positives (share of the 4 negatives below, ties ½):
        // 0.35 → 3/4, 0.8 → 1, 0.4 → 3.5/4, 0.7 → 1; of negatives (share of the 4 positives
        // above): 0.1 → 1, 0.4 → 2.5/4, 0.2 → 1, 0.05 → 1. Both average to the AUC.
        let vp = [0.75, 1.0, 0.875, 1.0];
        let vn = [1.0, 0.625, 1.0, 1.0];
        let var = |v: &[f64]| {
            let m = v.iter().sum::<f64>() / v.len() as f64;
            v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
        };
        assert!((a.auc[0] - 3.625 / 4.0).abs() < 1e-12);
        let expected = var(&vp) / 4.0 + var(&vn) / 4.0;
        assert!((a.covariance[0][0] - expected).abs() < 1e-12, "{} vs {expected}", a.covariance[0][0]);
        // Two identical score sets differ by exactly nothing.
        let b = PairedAucs::new(&[&p, &p], &y).unwrap();
        assert!(b.diff_std_error(0, 1) < 1e-12);
        assert!(PairedAucs::new(&[&p], &[true; 8]).is_none());
    }

    #[test]
    fn delong_standard_error_matches_the_spread_of_simulated_aucs() {
        // 400 rows, a weak score: the AUC's spread over 300 samples against DeLong's estimate.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let (mut aucs, mut ses) = (Vec::new(), Vec::new());
        for _ in 0..300 {
            let mut p = Vec::new();
            let mut y = Vec::new();
            for _ in 0..400 {
                let x = uniform(&mut rng);
                y.push(uniform(&mut rng) < 0.1 + 0.2 * x);
                p.push(x);
            }
            let a = PairedAucs::new(&[&p], &y).unwrap();
            aucs.push(a.auc[0]);
            ses.push(a.std_error(0));
        }
        let mean = aucs.iter().sum::<f64>() / 300.0;
        let sd = (aucs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 299.0).sqrt();
        let se = ses.iter().sum::<f64>() / 300.0;
        assert!((se / sd - 1.0).abs() < 0.15, "DeLong se {se:.4} vs observed spread {sd:.4}");
    }

    /// Outcomes drawn from the PDs themselves: a perfectly calibrated model.
    fn calibrated_sample(rng: &mut Xoshiro256PlusPlus, rows: usize) -> (Vec<f64>, Vec<bool>) {
        let p: Vec<f64> = (0..rows).map(|_| 0.3 * uniform(rng).powi(2)).collect();
        let y = p.iter().map(|&p| uniform(rng) < p).collect();
        (p, y)
    }

    #[test]
    fn a_perfectly_calibrated_model_on_a_small_sample_passes_and_the_fixed_gap_rule_did_not() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let (mut passed, mut old_rule) = (0, 0);
        for _ in 0..200 {
            let (p, y) = calibrated_sample(&mut rng, 6000);
            passed += usize::from(calibration_test(&p, &y, 0.02, 0.05).passed);
            old_rule += usize::from(metrics::Metrics::of(&p, &y).max_decile_gap <= 0.02);
        }
        eprintln!("calibrated model on 6,000 rows: passed {passed} of 200; the fixed 2-point rule {old_rule} of 200");
        assert!(passed >= 186, "a calibrated model passed only {passed} of 200");
        assert!(old_rule < 120, "the fixed 2-point rule passed {old_rule} of 200");
    }

    #[test]
    fn a_miscalibrated_model_fails_at_any_size_that_can_show_it() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(12);
        for rows in [2000, 6000, 100_000] {
            let (p, y) = calibrated_sample(&mut rng, rows);
            // PDs twice the truth: the riskiest deciles are off by several points.
            let doubled: Vec<f64> = p.iter().map(|p| 2.0 * p).collect();
            let t = calibration_test(&doubled, &y, 0.02, 0.05);
            assert!(!t.passed, "{rows} rows: {t:?}");
            assert!(t.spiegelhalter_z < -3.0, "{rows} rows: Spiegelhalter z {}", t.spiegelhalter_z);
            // The truth passes on the same rows.
            assert!(calibration_test(&p, &y, 0.02, 0.05).passed, "{rows} rows");
        }
    }

    #[test]
    fn a_large_sample_does_not_fail_a_model_for_gaps_inside_the_tolerance() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(13);
        let (p, y) = calibrated_sample(&mut rng, 400_000);
        // Every PD one point too high: significant at this size, but within 2 points.
        let shifted: Vec<f64> = p.iter().map(|p| p + 0.01).collect();
        let t = calibration_test(&shifted, &y, 0.02, 0.05);
        assert!(t.passed, "{t:?}");
        assert!(t.worst_z > 3.0, "the gap is real: z {}", t.worst_z);
    }
}
