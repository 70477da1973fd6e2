//! Which candidate model scores: the champion rule, judged on the out-of-time rows.
//!
//! 1. A candidate is **calibrated** when every out-of-time decile passes
//!    [`crate::significance::calibration_test`]: its observed default rate is within
//!    `models.max_calibration_gap` of its mean PD, or within the sampling noise of its size
//!    at the rule's confidence (`models.significance`), whichever is wider.
//! 2. It **beats a constant** when its AUC is above 0.5 by more than noise: DeLong's one-sided
//!    test at `models.significance`. A model that does not is never champion.
//! 3. Among calibrated candidates that beat a constant, the highest AUC is the reference. The
//!    champion is the **simplest** of them whose AUC is not significantly below the reference
//!    (DeLong's paired one-sided test on the same rows, at `models.significance`); among
//!    equally simple ones, the higher AUC. Simpler means: additive models (logistic
//!    regression, scorecard) before trees, one portfolio model before one per segment, fewer
//!    features before more.
//! 4. When no candidate that beats a constant is calibrated, the champion is the one of them
//!    with the lowest out-of-time Brier score (a proper score: it rewards ranking and
//!    calibration together), and the reason says that none passed.
//! 5. When none beats a constant there is no champion: [`ModelError::NoSignal`].

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::model::{Kind, Scope};
use crate::significance::{CalibrationTest, PairedAucs, normal_upper_quantile};

/// What the rule needs to know of one candidate.
#[derive(Debug, Clone, Copy)]
pub struct Entrant<'a> {
    pub id: &'a str,
    pub kind: Kind,
    pub scope: Scope,
    pub features: usize,
    pub brier: f64,
    pub calibration: &'a CalibrationTest,
    /// Out-of-time PDs, row for row with the outcomes.
    pub oot_pd: &'a [f64],
}

impl Entrant<'_> {
    /// Lower is simpler.
    fn complexity(&self) -> (u8, u8, usize) {
        let kind = match self.kind {
            Kind::Logistic | Kind::Scorecard => 0,
            Kind::Gbdt => 1,
        };
        (kind, u8::from(self.scope != Scope::Portfolio), self.features)
    }
}

/// The rule's tests of one candidate, as `model_metrics` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// DeLong's standard error of the out-of-time AUC.
    #[serde(with = "crate::json_float")]
    pub auc_std_error: f64,
    /// The AUC is above 0.5 by more than noise.
    pub beats_constant: bool,
    /// AUC of the reference (the best calibrated candidate that beats a constant) minus this
    /// one's; NaN without a reference.
    #[serde(with = "crate::json_float")]
    pub auc_below_best: f64,
    /// `auc_below_best` is within noise (a calibrated candidate that beats a constant).
    pub within_noise_of_best: bool,
}

impl Default for Judgement {
    /// Not judged yet.
    fn default() -> Self {
        Judgement {
            auc_std_error: f64::NAN,
            beats_constant: false,
            auc_below_best: f64::NAN,
            within_noise_of_best: false,
        }
    }
}

/// The champion, why, and every candidate's tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    pub champion: usize,
    pub reason: String,
    pub judgements: Vec<Judgement>,
}

/// Apply the rule (module docs) at significance `alpha` to candidates scored on the same
/// out-of-time rows `y`.
pub fn choose(entrants: &[Entrant<'_>], y: &[bool], alpha: f64) -> Result<Choice> {
    let scores: Vec<&[f64]> = entrants.iter().map(|e| e.oot_pd).collect();
    let positives = y.iter().filter(|&&v| v).count();
    let Some(aucs) = PairedAucs::new(&scores, y) else {
        return Err(ModelError::NoSignal(format!(
            "the {} held-out rows hold {positives} positive(s) and {} negative(s): too few to tell a model from a constant; more labelled history is needed",
            y.len(),
            y.len() - positives
        )));
    };
    let z = normal_upper_quantile(alpha);
    let confidence = (1.0 - alpha) * 100.0;
    let mut judgements: Vec<Judgement> = (0..entrants.len())
        .map(|k| {
            let se = aucs.std_error(k);
            let auc = aucs.auc[k];
            Judgement {
                auc_std_error: se,
                beats_constant: auc > 0.5 && (auc - 0.5) > z * se,
                auc_below_best: f64::NAN,
                within_noise_of_best: false,
            }
        })
        .collect();
    let informative: Vec<usize> = (0..entrants.len()).filter(|&k| judgements[k].beats_constant).collect();
    if informative.is_empty() {
        let best = (0..entrants.len()).fold(0, |b, k| if aucs.auc[k] > aucs.auc[b] { k } else { b });
        return Err(ModelError::NoSignal(format!(
            "no model ranks the held-out rows better than a constant at {confidence:.0}% confidence: the best, {}, has AUC {:.4} ± {:.4} (one standard error) on {} rows with {positives} positives; more labelled history or other features are needed",
            entrants[best].id,
            aucs.auc[best],
            aucs.std_error(best),
            y.len(),
        )));
    }
    let eligible: Vec<usize> = informative.iter().copied().filter(|&k| entrants[k].calibration.passed).collect();
    if eligible.is_empty() {
        let k = informative
            .iter()
            .copied()
            .fold(informative[0], |b, k| if entrants[k].brier < entrants[b].brier { k } else { b });
        return Ok(Choice {
            champion: k,
            reason: format!(
                "no model that beats a constant passed the calibration test (every out-of-time decile within {} or within sampling noise at {confidence:.0}% confidence), so the one with the lowest held-out Brier score ({:.4}) was chosen; its PDs are not calibrated",
                "`models.max_calibration_gap`", entrants[k].brier
            ),
            judgements,
        });
    }
    let best = eligible.iter().copied().fold(eligible[0], |b, k| if aucs.auc[k] > aucs.auc[b] { k } else { b });
    for &k in &eligible {
        let below = aucs.auc[best] - aucs.auc[k];
        judgements[k].auc_below_best = below;
        judgements[k].within_noise_of_best = below <= z * aucs.diff_std_error(best, k);
    }
    let champion = eligible
        .iter()
        .copied()
        .filter(|&k| judgements[k].within_noise_of_best)
        .min_by(|&a, &b| {
            entrants[a]
                .complexity()
                .cmp(&entrants[b].complexity())
                .then(aucs.auc[b].total_cmp(&aucs.auc[a]))
                .then(a.cmp(&b))
        })
        .unwrap_or(best);
    let reason = if champion == best {
        format!(
            "the highest held-out AUC ({:.4} ± {:.4}) among the calibrated models that beat a constant, and no simpler one is within noise of it",
            aucs.auc[best],
            aucs.std_error(best)
        )
    } else {
        format!(
            "the simplest calibrated model whose held-out AUC ({:.4}) is within noise of the best one ({} at {:.4}: {:.4} apart, less than the {:.4} that {confidence:.0}% confidence asks on these rows)",
            aucs.auc[champion],
            entrants[best].id,
            aucs.auc[best],
            aucs.auc[best] - aucs.auc[champion],
            z * aucs.diff_std_error(best, champion)
        )
    };
    Ok(Choice { champion, reason, judgements })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::significance::calibration_test;
    use rand_xoshiro::Xoshiro256PlusPlus;
    use rand_xoshiro::rand_core::{RngCore, SeedableRng};

    fn uniform(rng: &mut Xoshiro256PlusPlus) -> f64 {
        (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A risk driver per row and outcomes drawn from its true PD.
    fn population(seed: u64, rows: usize) -> (Vec<f64>, Vec<f64>, Vec<bool>) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let x: Vec<f64> = (0..rows).map(|_| uniform(&mut rng)).collect();
        let noise: Vec<f64> = (0..rows).map(|_| uniform(&mut rng)).collect();
        let y = x.iter().map(|&x| uniform(&mut rng) < 0.02 + 0.2 * x * x).collect();
        (x, noise, y)
    }

    struct Case {
        id: &'static str,
        kind: Kind,
        pd: Vec<f64>,
        test: CalibrationTest,
        brier: f64,
    }

    fn case(id: &'static str, kind: Kind, pd: Vec<f64>, y: &[bool]) -> Case {
        let test = calibration_test(&pd, y, 0.02, 0.05);
        let brier = crate::metrics::brier(&pd, y);
        Case { id, kind, pd, test, brier }
    }

    fn entrants(cases: &[Case]) -> Vec<Entrant<'_>> {
        cases
            .iter()
            .map(|c| Entrant {
                id: c.id,
                kind: c.kind,
                scope: Scope::Portfolio,
                features: 10,
                brier: c.brier,
                calibration: &c.test,
                oot_pd: &c.pd,
            })
            .collect()
    }

    #[test]
    fn a_constant_model_never_wins_even_when_it_is_the_best_calibrated() {
        // 200 rows, as in the table where a constant (AUC 0.5) was crowned over 0.76.
        let (x, _, y) = population(1, 200);
        let rate = y.iter().filter(|&&v| v).count() as f64 / y.len() as f64;
        let cases = [
            case("constant", Kind::Logistic, vec![rate; 200], &y),
            // Ranks well, PDs a little off.
            case("trees", Kind::Gbdt, x.iter().map(|&x| 0.05 + 0.25 * x * x).collect(), &y),
        ];
        assert!(cases[0].test.passed, "a constant at the observed rate is calibrated in the large");
        let choice = choose(&entrants(&cases), &y, 0.05).unwrap();
        assert_eq!(cases[choice.champion].id, "trees", "{}", choice.reason);
        assert!(!choice.judgements[0].beats_constant);
        assert!(choice.judgements[1].beats_constant);
    }

    #[test]
    fn no_model_that_beats_a_constant_means_no_champion() {
        let (_, noise, y) = population(2, 300);
        let cases = [case("noise", Kind::Logistic, noise.iter().map(|&u| 0.05 + 0.1 * u).collect(), &y)];
        let err = choose(&entrants(&cases), &y, 0.05).unwrap_err();
        assert!(matches!(err, ModelError::NoSignal(_)), "{err}");
        assert!(err.to_string().contains("better than a constant"), "{err}");
    }

    #[test]
    fn auc_ties_within_noise_go_to_the_simpler_model() {
        // Both models know the driver; the trees see it slightly sharper, by less than noise.
        let (x, noise, y) = population(3, 3000);
        let truth: Vec<f64> = x.iter().map(|&x| 0.02 + 0.2 * x * x).collect();
        let blurred: Vec<f64> = x.iter().zip(&noise).map(|(&x, &u)| (x + 0.02 * (u - 0.5)).clamp(0.0, 1.0)).collect();
        let cases = [
            case("trees", Kind::Gbdt, truth.clone(), &y),
            case("scorecard", Kind::Scorecard, blurred.iter().map(|&x| 0.02 + 0.2 * x * x).collect(), &y),
        ];
        let choice = choose(&entrants(&cases), &y, 0.05).unwrap();
        assert!(crate::metrics::auc(&cases[0].pd, &y) > crate::metrics::auc(&cases[1].pd, &y));
        assert_eq!(cases[choice.champion].id, "scorecard", "{}", choice.reason);
        assert!(choice.judgements[1].within_noise_of_best);
        assert!(choice.reason.contains("within noise"), "{}", choice.reason);
    }

    #[test]
    fn a_clearly_better_complex_model_beats_a_simpler_one() {
        // As in the table where a scorecard was preferred over trees 0.012 AUC better with a
        // confidence interval excluding 0: here the simple model sees a much blurred driver.
        let (x, noise, y) = population(4, 20_000);
        let blurred: Vec<f64> = x.iter().zip(&noise).map(|(&x, &u)| 0.5 * x + 0.5 * u).collect();
        let cases = [
            case("scorecard", Kind::Scorecard, blurred.iter().map(|&b| 0.02 + 0.2 * b * b).collect(), &y),
            case("trees", Kind::Gbdt, x.iter().map(|&x| 0.02 + 0.2 * x * x).collect(), &y),
        ];
        let choice = choose(&entrants(&cases), &y, 0.05).unwrap();
        assert_eq!(cases[choice.champion].id, "trees", "{}", choice.reason);
        assert!(!choice.judgements[0].within_noise_of_best);
    }

    #[test]
    fn a_miscalibrated_model_loses_to_a_calibrated_one_and_leads_only_when_none_is_calibrated() {
        let (x, _, y) = population(5, 5000);
        let truth: Vec<f64> = x.iter().map(|&x| 0.02 + 0.2 * x * x).collect();
        // Same ranking, PDs tripled: fails calibration, equal AUC.
        let tripled: Vec<f64> = truth.iter().map(|p| (3.0 * p).min(0.99)).collect();
        let cases = [case("tripled", Kind::Logistic, tripled.clone(), &y), case("trees", Kind::Gbdt, truth, &y)];
        assert!(!cases[0].test.passed && cases[1].test.passed);
        let choice = choose(&entrants(&cases), &y, 0.05).unwrap();
        assert_eq!(cases[choice.champion].id, "trees", "{}", choice.reason);
        // Alone, or with other miscalibrated ones, the lowest Brier wins and says so.
        let doubled: Vec<f64> = x.iter().map(|&x| 2.0 * (0.02 + 0.2 * x * x)).collect();
        let cases = [case("tripled", Kind::Logistic, tripled, &y), case("doubled", Kind::Gbdt, doubled, &y)];
        let choice = choose(&entrants(&cases), &y, 0.05).unwrap();
        assert_eq!(cases[choice.champion].id, "doubled", "{}", choice.reason);
        assert!(choice.reason.contains("not calibrated"), "{}", choice.reason);
    }
}
