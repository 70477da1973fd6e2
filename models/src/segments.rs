//! `segment_scores` from sums that add up: per month end and segment (and the portfolio,
//! `ALL`), counts, exposures, expected losses, PDs and PSI bin counts, all integers, so the
//! sums of the parts of a panel (the shards of a run split by customer) are the whole panel's
//! and the table built from them is one machine's. The mean PD is summed order-free: each PD
//! is rounded to a whole number of 2⁻⁶⁴ and the integers are added exactly in 128 bits.

use std::collections::BTreeMap;

use ardent_engine::analytics::features::Panel;
use ardent_engine::analytics::labels::Labels;
use serde::{Deserialize, Serialize};

use crate::matrix::Sample;
use crate::metrics::PsiReference;
use crate::score::{BANDS, Score};
use crate::tables::SegmentRow;

/// 2⁶⁴: a PD is summed as a whole number of 2⁻⁶⁴.
const ONE: f64 = 18_446_744_073_709_551_616.0;

/// The sums of one month end's rows of one group: the portfolio (`group` 0) or a segment
/// (`group` = segment index + 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentSum {
    pub as_of: i32,
    pub group: u32,
    pub segment: String,
    pub customers: u64,
    /// Positive open amounts, in reporting cents.
    pub exposure: i64,
    /// Σ PD, each rounded to a whole number of 2⁻⁶⁴.
    pub pd_sum: u128,
    pub expected_loss: i64,
    pub by_band: [u64; BANDS.len()],
    pub exposure_by_band: [i64; BANDS.len()],
    /// Rows with a label, and those labelled positive.
    pub labelled: u64,
    pub positive: u64,
    /// PDs of performing rows (not in default) per bin of the PSI reference.
    pub psi_counts: Vec<u64>,
}

impl SegmentSum {
    fn empty(as_of: i32, group: u32, segment: &str, bins: usize) -> SegmentSum {
        SegmentSum {
            as_of,
            group,
            segment: segment.to_string(),
            customers: 0,
            exposure: 0,
            pd_sum: 0,
            expected_loss: 0,
            by_band: [0; BANDS.len()],
            exposure_by_band: [0; BANDS.len()],
            labelled: 0,
            positive: 0,
            psi_counts: vec![0; bins],
        }
    }

    /// Add another part's sums of the same month end and group.
    fn add(&mut self, o: &SegmentSum) {
        self.customers += o.customers;
        self.exposure += o.exposure;
        self.pd_sum += o.pd_sum;
        self.expected_loss += o.expected_loss;
        for b in 0..BANDS.len() {
            self.by_band[b] += o.by_band[b];
            self.exposure_by_band[b] += o.exposure_by_band[b];
        }
        self.labelled += o.labelled;
        self.positive += o.positive;
        if self.psi_counts.len() < o.psi_counts.len() {
            self.psi_counts.resize(o.psi_counts.len(), 0);
        }
        for (a, b) in self.psi_counts.iter_mut().zip(&o.psi_counts) {
            *a += b;
        }
    }

    /// The table row.
    fn row(&self, reference: Option<&PsiReference>) -> SegmentRow {
        let n = self.customers as f64;
        let performing: u64 = self.psi_counts.iter().sum();
        SegmentRow {
            as_of: self.as_of,
            segment: self.segment.clone(),
            customers: self.customers,
            exposure: self.exposure,
            mean_pd: self.pd_sum as f64 / ONE / n,
            expected_loss: self.expected_loss,
            share_customers: self.by_band.map(|b| b as f64 / n),
            share_exposure: self.exposure_by_band.map(|e| (self.exposure > 0).then(|| e as f64 / self.exposure as f64)),
            labelled: self.labelled,
            observed: (self.labelled > 0).then(|| self.positive as f64 / self.labelled as f64),
            psi: reference.filter(|_| performing > 0).map(|r| r.psi_of_counts(&self.psi_counts)),
        }
    }
}

/// The sums of the month end `day` (panel rows): the portfolio and each segment with rows;
/// `scores` are those rows'.
pub(crate) fn month_sums(
    panel: &Panel,
    day: std::ops::Range<usize>,
    rows: &Sample,
    scores: &[Score],
    labels: &Labels,
    reference: Option<&PsiReference>,
) -> Vec<SegmentSum> {
    let as_of = panel.as_of[day.start];
    let bins = reference.map_or(0, PsiReference::bins);
    let mut sums: Vec<SegmentSum> = (0..=rows.segments.len())
        .map(|g| {
            let name = if g == 0 { "ALL" } else { rows.segments[g - 1].as_str() };
            SegmentSum::empty(as_of, g as u32, name, bins)
        })
        .collect();
    for i in day.clone() {
        let s = &scores[i - day.start];
        let exposure = panel.open_cents[i].max(0);
        let bin = reference.filter(|_| !labels.in_default[i]).map(|r| r.bin(s.pd));
        for g in [0, rows.segment[i] as usize + 1] {
            let sum = &mut sums[g];
            sum.customers += 1;
            sum.exposure += exposure;
            sum.pd_sum += (s.pd.clamp(0.0, 1.0) * ONE).round() as u128;
            sum.expected_loss += s.expected_loss_cents;
            sum.by_band[s.band] += 1;
            sum.exposure_by_band[s.band] += exposure;
            if let Some(label) = labels.label[i] {
                sum.labelled += 1;
                sum.positive += u64::from(label);
            }
            if let Some(b) = bin {
                sum.psi_counts[b] += 1;
            }
        }
    }
    sums.retain(|s| s.customers > 0);
    sums
}

/// Add the parts' sums of each month end and group (any number of parts, in any order).
pub fn add(parts: impl IntoIterator<Item = SegmentSum>) -> Vec<SegmentSum> {
    let mut all: BTreeMap<(i32, u32), SegmentSum> = BTreeMap::new();
    for s in parts {
        match all.get_mut(&(s.as_of, s.group)) {
            Some(sum) => sum.add(&s),
            None => {
                all.insert((s.as_of, s.group), s);
            }
        }
    }
    all.into_values().collect()
}

/// The `segment_scores` rows of the sums: by month end, then segment name (`ALL` among them).
pub(crate) fn rows(sums: &[SegmentSum], reference: Option<&PsiReference>) -> Vec<SegmentRow> {
    let mut order: Vec<&SegmentSum> = sums.iter().collect();
    order.sort_by(|a, b| a.as_of.cmp(&b.as_of).then(a.segment.cmp(&b.segment)).then(a.group.cmp(&b.group)));
    order.into_iter().map(|s| s.row(reference)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(pds: &[f64]) -> SegmentSum {
        let mut s = SegmentSum::empty(0, 0, "ALL", 0);
        for &p in pds {
            s.customers += 1;
            s.pd_sum += (p * ONE).round() as u128;
        }
        s
    }

    #[test]
    fn the_mean_pd_does_not_depend_on_how_the_rows_are_split_or_ordered() {
        // Values whose float sum depends on the order: (0.1 + 0.2) + 0.3 != 0.1 + (0.2 + 0.3).
        let pds = [0.1, 0.2, 0.3, 1e-9, 0.7, 0.999_999_999];
        let whole = sum(&pds).row(None).mean_pd;
        let reversed: Vec<f64> = pds.iter().rev().copied().collect();
        assert_eq!(whole.to_bits(), sum(&reversed).row(None).mean_pd.to_bits());
        let parts = add([sum(&pds[3..]), sum(&pds[..1]), sum(&pds[1..3])]);
        assert_eq!(parts.len(), 1);
        assert_eq!(whole.to_bits(), parts[0].row(None).mean_pd.to_bits());
        let float: f64 = pds.iter().sum::<f64>() / pds.len() as f64;
        assert!((whole - float).abs() < 1e-15, "{whole} vs {float}");
        assert_eq!(sum(&[1.0, 1.0]).row(None).mean_pd, 1.0);
        assert!(sum(&[]).row(None).mean_pd.is_nan());
    }

    #[test]
    fn psi_from_added_bin_counts_is_the_psi_of_the_whole_population() {
        let reference = PsiReference::new(&(0..100).map(|i| f64::from(i) / 100.0).collect::<Vec<_>>());
        let actual: Vec<f64> = (0..40).map(|i| f64::from(i * i % 97) / 97.0).collect();
        let (a, b) = actual.split_at(13);
        let mut counts = reference.counts(a);
        for (c, d) in counts.iter_mut().zip(reference.counts(b)) {
            *c += d;
        }
        assert_eq!(reference.psi_of_counts(&counts).to_bits(), reference.psi(&actual).to_bits());
        assert!(reference.psi(&actual) > 0.0);
    }
}
