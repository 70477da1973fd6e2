//! Which features moved between the training rows and the out-of-time rows: the
//! characteristic stability of every feature (its PSI, with missing values as a bin of their
//! own), read next to the models' out-of-time calibration. A model trained while a feature
//! ran in one range and scored where it runs in another is extrapolating; this is the table
//! that says so, before the PDs are read as rates.

use rayon::prelude::*;

use crate::matrix::Sample;
use crate::metrics::PsiReference;

/// PSI from which a feature counts as moved (the usual reading: under 0.1 stable, 0.1–0.25
/// a moderate shift, 0.25 and over a large one).
pub const MODERATE: f64 = 0.1;
pub const LARGE: f64 = 0.25;

/// Rows each population needs before a feature is left out for its PSI: with fewer, PSI
/// over ten bins is mostly sampling noise (about 10 / rows for two equal populations).
pub const MIN_ROWS: usize = 1000;

/// How one feature's out-of-time distribution compares with its training distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureShift {
    pub feature: String,
    /// The feature's column in the sample.
    pub column: usize,
    /// PSI of the out-of-time values against the training values (NaN when either is empty).
    pub psi: f64,
    /// Mean of the values present (NaN when none is).
    pub train_mean: f64,
    pub oot_mean: f64,
    /// Share of rows where the feature is missing.
    pub train_missing: f64,
    pub oot_missing: f64,
    /// Whether the `_stable` challenger models leave the feature out (see [`exclude`]).
    pub excluded: bool,
}

impl FeatureShift {
    /// `stable`, `moderate` or `large`; `unknown` when the PSI could not be computed.
    pub fn level(&self) -> &'static str {
        match self.psi {
            p if p.is_nan() => "unknown",
            p if p >= LARGE => "large",
            p if p >= MODERATE => "moderate",
            _ => "stable",
        }
    }
}

/// Every feature of `sample`, training rows `train` against out-of-time rows `oot`; the
/// largest shift first (ties in feature order).
pub fn feature_stability(sample: &Sample, train: &[usize], oot: &[usize]) -> Vec<FeatureShift> {
    let mut shifts: Vec<FeatureShift> = (0..sample.features.len())
        .into_par_iter()
        .map(|j| {
            let column = |rows: &[usize]| -> Vec<f64> { rows.iter().map(|&i| sample.x[[i, j]]).collect() };
            let (t, o) = (column(train), column(oot));
            FeatureShift {
                feature: sample.features[j].clone(),
                column: j,
                psi: PsiReference::new(&t).psi(&o),
                train_mean: mean_present(&t),
                oot_mean: mean_present(&o),
                train_missing: missing_share(&t),
                oot_missing: missing_share(&o),
                excluded: false,
            }
        })
        .collect();
    // Largest first, NaN last; the sort is stable, so equal PSIs stay in feature order.
    shifts.sort_by(|a, b| match (a.psi.is_nan(), b.psi.is_nan()) {
        (false, false) => b.psi.total_cmp(&a.psi),
        (a_nan, b_nan) => a_nan.cmp(&b_nan),
    });
    shifts
}

/// Mark the features (`shifts` holds every one) whose PSI reaches `max_psi` as left out, and
/// return their columns, ascending. Nothing is left out when either population has fewer
/// than [`MIN_ROWS`] rows, or when every feature would be.
pub fn exclude(shifts: &mut [FeatureShift], train_rows: usize, oot_rows: usize, max_psi: f64) -> Vec<usize> {
    let moved = shifts.iter().filter(|s| s.psi >= max_psi).count();
    if train_rows < MIN_ROWS || oot_rows < MIN_ROWS || moved == 0 || moved == shifts.len() {
        return Vec::new();
    }
    let mut columns = Vec::new();
    for s in shifts.iter_mut().filter(|s| s.psi >= max_psi) {
        s.excluded = true;
        columns.push(s.column);
    }
    columns.sort_unstable();
    columns
}

/// The features the `_stable` challengers leave out, as `name (PSI 0.60)`, largest shift
/// first; `None` when none is.
pub fn excluded(shifts: &[FeatureShift]) -> Option<String> {
    listed(shifts.iter().filter(|s| s.excluded))
}

/// The features that moved at least `MODERATE`, as `name (PSI 0.60)`, largest first; `None`
/// when none did.
pub fn moved(shifts: &[FeatureShift], at_most: usize) -> Option<String> {
    listed(shifts.iter().filter(|s| s.psi >= MODERATE).take(at_most))
}

fn listed<'a>(shifts: impl Iterator<Item = &'a FeatureShift>) -> Option<String> {
    let names: Vec<String> = shifts.map(|s| format!("{} (PSI {:.2})", s.feature, s.psi)).collect();
    (!names.is_empty()).then(|| names.join(", "))
}

fn mean_present(v: &[f64]) -> f64 {
    let (sum, n) = v.iter().filter(|x| !x.is_nan()).fold((0.0, 0usize), |(s, n), &x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

fn missing_share(v: &[f64]) -> f64 {
    if v.is_empty() { f64::NAN } else { v.iter().filter(|x| x.is_nan()).count() as f64 / v.len() as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rows: usize) -> Sample {
        // Row i: `steady` cycles through the same 100 values in both halves; `drifting`
        // moves up by half its range in the second half; `gaps` goes missing three times as
        // often in the second half.
        let mut x = ndarray::Array2::zeros((rows, 3));
        for i in 0..rows {
            let late = i >= rows / 2;
            x[[i, 0]] = (i % 100) as f64;
            x[[i, 1]] = (i % 100) as f64 + if late { 50.0 } else { 0.0 };
            x[[i, 2]] = if i % (if late { 3 } else { 9 }) == 0 { f64::NAN } else { (i % 7) as f64 };
        }
        Sample {
            features: vec!["steady".into(), "drifting".into(), "gaps".into()],
            x,
            label: vec![Some(false); rows],
            time: vec![0; rows],
            group: vec![0; rows],
            group_names: vec!["c".into()],
            segment: vec![0; rows],
            segments: vec!["ALL".into()],
            positive: "label".into(),
            levels: vec![None; 3],
        }
    }

    #[test]
    fn shifts_are_found_ranked_and_levelled() {
        let s = sample(2000);
        let (train, oot): (Vec<usize>, Vec<usize>) = (0..1000).zip(1000..2000).unzip();
        let shifts = feature_stability(&s, &train, &oot);
        let names: Vec<&str> = shifts.iter().map(|f| f.feature.as_str()).collect();
        assert_eq!(names, ["drifting", "gaps", "steady"]);
        let by = |n: &str| shifts.iter().find(|f| f.feature == n).unwrap_or_else(|| panic!("{n}"));
        assert!(by("steady").psi.abs() < 1e-12);
        assert_eq!(by("steady").level(), "stable");
        assert_eq!(by("drifting").level(), "large", "{}", by("drifting").psi);
        assert!((by("drifting").oot_mean - by("drifting").train_mean - 50.0).abs() < 1e-9);
        let gaps = by("gaps");
        assert!((gaps.train_missing - 112.0 / 1000.0).abs() < 1e-12, "{}", gaps.train_missing);
        assert!((gaps.oot_missing - 333.0 / 1000.0).abs() < 1e-12, "{}", gaps.oot_missing);
        assert!(gaps.psi >= MODERATE, "{}", gaps.psi);
        assert_eq!(
            moved(&shifts, 5).as_deref(),
            Some(format!("drifting (PSI {:.2}), gaps (PSI {:.2})", by("drifting").psi, gaps.psi).as_str())
        );
        assert_eq!(moved(&shifts[2..], 5), None);
        assert_eq!(feature_stability(&s, &train, &[])[0].level(), "unknown");
    }

    #[test]
    fn exclusion_needs_enough_rows_and_leaves_some_feature() {
        let s = sample(4000);
        let (train, oot): (Vec<usize>, Vec<usize>) = (0..2000).zip(2000..4000).unzip();
        let shifts = feature_stability(&s, &train, &oot);
        let mut marked = shifts.clone();
        assert_eq!(exclude(&mut marked, 2000, 2000, LARGE), vec![1, 2], "drifting and gaps");
        assert_eq!(
            excluded(&marked).as_deref(),
            Some(format!("drifting (PSI {:.2}), gaps (PSI {:.2})", shifts[0].psi, shifts[1].psi).as_str())
        );
        // A limit between the two: only the larger shift.
        assert!(shifts[0].psi > shifts[1].psi + 0.1, "{shifts:?}");
        let mut one = shifts.clone();
        assert_eq!(exclude(&mut one, 2000, 2000, shifts[1].psi + 0.05), vec![1]);
        assert_eq!(one.iter().filter(|f| f.excluded).count(), 1);
        // Too few rows on either side: PSI is mostly noise, nothing is left out.
        for (t, o) in [(MIN_ROWS - 1, 2000), (2000, MIN_ROWS - 1)] {
            let mut unmarked = shifts.clone();
            assert!(exclude(&mut unmarked, t, o, LARGE).is_empty());
            assert!(unmarked.iter().all(|f| !f.excluded) && excluded(&unmarked).is_none());
        }
        // A limit every feature reaches would leave nothing to train on.
        let mut all = shifts.clone();
        assert!(exclude(&mut all, 2000, 2000, -1.0).is_empty());
        assert!(all.iter().all(|f| !f.excluded));
    }
}
