//! Which rows train and which are held out: the out-of-time split (the last labelled dates,
//! rows from a date, or without dates a seeded share of customers), the seeded subsample of
//! training rows, and the in-time validation part that holds each row out. Every choice comes
//! from a hash of the seed and the customer id (and date), never from row order or threads.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use ardent_engine::calendar::format_day;

use crate::error::{ModelError, Result};
use crate::matrix::Sample;
use crate::params::{Training, Validation};

/// Which rows are evaluated out of time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Holdout {
    /// The last `n` labelled observation dates; training rows must have their label horizon
    /// (`gap_days`) end by the first of them, so no training outcome lies in the holdout.
    LastDates { n: usize, gap_days: i32 },
    /// Rows dated on or after this day.
    From(i32),
    /// No time column: a seeded 20% of customers.
    Customers,
}

/// The training and out-of-time rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Training rows (after subsampling), in sample order.
    pub train: Vec<usize>,
    /// Out-of-time rows, in sample order.
    pub oot: Vec<usize>,
    /// Labelled training rows before subsampling.
    pub train_rows_available: usize,
    /// First and last observation date of the training rows, and of the out-of-time rows
    /// (meaningless when not `dated`).
    pub train_window: (i32, i32),
    pub oot_window: (i32, i32),
    /// How the holdout was chosen, readable.
    pub holdout: String,
    /// The rows have observation dates (a time column, or the panel's month ends); a table
    /// without a time column is held out by customer and has no windows.
    pub dated: bool,
}

/// FNV-1a over the seed and a key: stable across platforms and releases.
fn hash(seed: u64, key: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Final avalanche (splitmix64) so neighbouring ids land in different folds.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The validation part that holds row `i` out: its fold, or for a holdout `Some(0)` when its
/// customer is among the held-out share and `None` otherwise.
pub fn held_out_in(sample: &Sample, i: usize, seed: u64, validation: Validation) -> Option<usize> {
    let customer = sample.group_names[sample.group[i] as usize].as_bytes();
    match validation {
        Validation::Folds(k) => Some((hash(seed, customer) % k as u64) as usize),
        Validation::Holdout(share) => ((hash(seed ^ 0xca1b, customer) as f64 / u64::MAX as f64) < share).then_some(0),
    }
}

/// The first out-of-time date of a [`Holdout::LastDates`] holdout of `n` dates: the `n`-th
/// last date that has labels.
pub fn first_oot_date(labelled_dates: &BTreeSet<i32>, n: usize) -> Result<i32> {
    if labelled_dates.len() <= n {
        return Err(ModelError::NotEnoughHistory(format!(
            "only {} observation dates have labels, so {n} out-of-time months leave nothing to train on. Lower `models.oot_months` or provide a longer history",
            labelled_dates.len()
        )));
    }
    Ok(*labelled_dates.iter().rev().nth(n - 1).unwrap_or(&i32::MAX))
}

/// What a [`Holdout::LastDates`] split needs to know about the whole panel: its labelled rows
/// per observation date. One machine counts its panel; a run split by customer counts each
/// shard's customers and adds the counts ([`Outline::merge`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outline {
    pub labelled: BTreeMap<i32, usize>,
}

impl Outline {
    /// The labelled rows of `sample` per date.
    pub fn of(sample: &Sample) -> Outline {
        let mut labelled = BTreeMap::new();
        for (&time, label) in sample.time.iter().zip(&sample.label) {
            if label.is_some() {
                *labelled.entry(time).or_insert(0) += 1;
            }
        }
        Outline { labelled }
    }

    /// Add another part's counts.
    pub fn merge(&mut self, other: &Outline) {
        for (&date, &n) in &other.labelled {
            *self.labelled.entry(date).or_insert(0) += n;
        }
    }
}

/// A [`Holdout::LastDates`] split decided on the whole panel's [`Outline`]: from it, each row of
/// any part of the panel (a shard's customers) is placed by its own date, its customer and the
/// seed alone ([`split_planned`]), so the parts' splits together are the whole panel's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DatedPlan {
    /// The first out-of-time date: the `n`-th last labelled date.
    pub first_oot: i32,
    /// Training rows end this many days (the label horizon) before `first_oot`.
    pub gap_days: i32,
    /// The whole panel's labelled training rows before subsampling.
    pub available: usize,
    /// The share of them kept: `max_train_rows / available` when there are more, else all.
    pub keep: Option<f64>,
    /// The holdout, readable.
    n: usize,
}

impl DatedPlan {
    /// The plan of the last `n` labelled dates held out, training rows `gap_days` before them,
    /// at most about `max_train_rows` of them.
    pub fn new(outline: &Outline, n: usize, gap_days: i32, max_train_rows: usize) -> Result<DatedPlan> {
        let dates: BTreeSet<i32> = outline.labelled.iter().filter(|&(_, &k)| k > 0).map(|(&d, _)| d).collect();
        let first_oot = first_oot_date(&dates, n)?;
        let available: usize =
            outline.labelled.iter().filter(|&(&d, _)| d + gap_days <= first_oot).map(|(_, &k)| k).sum();
        let oot: usize = outline.labelled.range(first_oot..).map(|(_, &k)| k).sum();
        if available == 0 || oot == 0 {
            return Err(ModelError::NotEnoughHistory(format!(
                "the split leaves {available} training and {oot} out-of-time rows; both need rows. Check the time column and the out-of-time start"
            )));
        }
        let keep = (available > max_train_rows).then(|| max_train_rows as f64 / available as f64);
        Ok(DatedPlan { first_oot, gap_days, available, keep, n })
    }
}

/// The split of `sample` (the whole panel, or some customers' part of it) by `plan`.
pub fn split_planned(sample: &Sample, plan: &DatedPlan, seed: u64) -> Split {
    let labelled = (0..sample.len()).filter(|&i| sample.label[i].is_some());
    let trains = |i: usize| {
        sample.time[i] + plan.gap_days <= plan.first_oot
            && plan.keep.is_none_or(|keep| {
                in_subsample(seed, &sample.group_names[sample.group[i] as usize], sample.time[i], keep)
            })
    };
    let train: Vec<usize> = labelled.clone().filter(|&i| trains(i)).collect();
    let oot: Vec<usize> = labelled.filter(|&i| sample.time[i] >= plan.first_oot).collect();
    Split {
        train_window: window(sample, &train),
        oot_window: window(sample, &oot),
        train,
        oot,
        train_rows_available: plan.available,
        holdout: format!(
            "the last {} labelled month ends (from {}); training dates end {} days (the label horizon) before it",
            plan.n,
            format_day(plan.first_oot),
            plan.gap_days
        ),
        dated: true,
    }
}

/// Whether the training row of customer `group_name` observed at `time` is in the seeded
/// subsample that keeps a share `keep` of the training rows (see [`split`]).
pub fn in_subsample(seed: u64, group_name: &str, time: i32, keep: f64) -> bool {
    let mut key = group_name.as_bytes().to_vec();
    key.extend_from_slice(&time.to_le_bytes());
    (hash(seed, &key) as f64 / u64::MAX as f64) < keep
}

/// The first and last observation date of `rows` ((0, 0) for none).
fn window(sample: &Sample, rows: &[usize]) -> (i32, i32) {
    let lo = rows.iter().map(|&i| sample.time[i]).min().unwrap_or(0);
    let hi = rows.iter().map(|&i| sample.time[i]).max().unwrap_or(0);
    (lo, hi)
}

/// Split the labelled rows of `sample` into training and out-of-time rows; training rows
/// beyond `t.max_train_rows` are subsampled (seeded, by customer and date).
pub fn split(sample: &Sample, holdout: Holdout, t: &Training) -> Result<Split> {
    let labelled: Vec<usize> = (0..sample.len()).filter(|&i| sample.label[i].is_some()).collect();
    let (train, oot, how): (Vec<usize>, Vec<usize>, String) = match holdout {
        Holdout::LastDates { n, gap_days } => {
            let plan = DatedPlan::new(&Outline::of(sample), n, gap_days, t.max_train_rows)?;
            return Ok(split_planned(sample, &plan, t.seed));
        }
        Holdout::From(from) => (
            labelled.iter().copied().filter(|&i| sample.time[i] < from).collect(),
            labelled.iter().copied().filter(|&i| sample.time[i] >= from).collect(),
            format!("rows dated from {}", format_day(from)),
        ),
        Holdout::Customers => {
            let is_holdout = |i: usize| {
                hash(t.seed ^ 0x5eed, sample.group_names[sample.group[i] as usize].as_bytes()).is_multiple_of(5)
            };
            (
                labelled.iter().copied().filter(|&i| !is_holdout(i)).collect(),
                labelled.iter().copied().filter(|&i| is_holdout(i)).collect(),
                "a seeded 20% of customers (no time column)".into(),
            )
        }
    };
    if train.is_empty() || oot.is_empty() {
        return Err(ModelError::NotEnoughHistory(format!(
            "the split leaves {} training and {} out-of-time rows; both need rows. Check the time column and the out-of-time start",
            train.len(),
            oot.len()
        )));
    }
    let available = train.len();
    let train: Vec<usize> = if available > t.max_train_rows {
        let keep = t.max_train_rows as f64 / available as f64;
        train
            .into_iter()
            .filter(|&i| in_subsample(t.seed, &sample.group_names[sample.group[i] as usize], sample.time[i], keep))
            .collect()
    } else {
        train
    };
    Ok(Split {
        train_window: window(sample, &train),
        oot_window: window(sample, &oot),
        train,
        oot,
        train_rows_available: available,
        holdout: how,
        dated: !matches!(holdout, Holdout::Customers),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::params::TrainParams;

    /// 50 customers × 12 month ends (day 30·m), the last two months unlabelled.
    fn sample() -> Sample {
        let (customers, months) = (50usize, 12usize);
        let rows = customers * months;
        Sample {
            features: vec!["f".into()],
            x: ndarray::Array2::zeros((rows, 1)),
            label: (0..rows).map(|i| (i / customers < months - 2).then_some(i % 7 == 0)).collect(),
            time: (0..rows).map(|i| 30 * (i / customers) as i32).collect(),
            group: (0..rows).map(|i| (i % customers) as u32).collect(),
            group_names: (0..customers).map(|c| format!("C{c:03}")).collect(),
            segment: vec![0; rows],
            segments: vec!["ALL".into()],
            positive: "bad".into(),
            levels: vec![None],
        }
    }

    #[test]
    fn the_last_labelled_dates_are_held_out_with_the_horizon_as_a_gap() {
        let s = sample();
        let t = TrainParams::default().check().unwrap();
        let split = split(&s, Holdout::LastDates { n: 3, gap_days: 60 }, &t).unwrap();
        // Labelled month ends are 0..=9 (days 0..=270): the last 3 start at day 210; training
        // rows must be dated 60 days before it, so months 0..=5 (day 150 at the latest).
        assert!(split.oot.iter().all(|&i| s.time[i] >= 210 && s.label[i].is_some()));
        assert_eq!(split.oot.len(), 3 * 50);
        assert!(split.train.iter().all(|&i| s.time[i] + 60 <= 210));
        assert_eq!(split.train.len(), 6 * 50);
        assert_eq!((split.train_window, split.oot_window), ((0, 150), (210, 270)));
        assert!(split.dated);
        let too_many = super::split(&s, Holdout::LastDates { n: 10, gap_days: 0 }, &t).unwrap_err();
        assert!(matches!(too_many, ModelError::NotEnoughHistory(_)), "{too_many}");
    }

    #[test]
    fn customers_split_apart_and_planned_on_their_added_outlines_give_the_whole_split() {
        let s = sample();
        // 420 labelled training rows available: a subsample of about 200 is drawn.
        let t = TrainParams { max_train_rows: 1000, ..Default::default() }.check().unwrap();
        let t = Training { max_train_rows: 200, ..t };
        let holdout = Holdout::LastDates { n: 2, gap_days: 30 };
        let whole = split(&s, holdout, &t).unwrap();
        assert!(whole.train.len() < whole.train_rows_available, "subsampled: {}", whole.train.len());
        // Three parts by customer, as a sharded run cuts them.
        let parts: Vec<Vec<usize>> = (0..3).map(|k| (0..s.len()).filter(|&i| s.group[i] % 3 == k).collect()).collect();
        let samples: Vec<Sample> =
            parts.iter().map(|rows| s.select(rows, s.x.select(ndarray::Axis(0), rows)).unwrap()).collect();
        let mut outline = Outline::default();
        for part in &samples {
            outline.merge(&Outline::of(part));
        }
        assert_eq!(outline, Outline::of(&s));
        let plan = DatedPlan::new(&outline, 2, 30, t.max_train_rows).unwrap();
        let (mut train, mut oot) = (Vec::new(), Vec::new());
        for (rows, part) in parts.iter().zip(&samples) {
            let own = split_planned(part, &plan, t.seed);
            assert_eq!(own.train_rows_available, whole.train_rows_available);
            train.extend(own.train.iter().map(|&k| rows[k]));
            oot.extend(own.oot.iter().map(|&k| rows[k]));
        }
        train.sort_unstable();
        oot.sort_unstable();
        assert_eq!((train, oot), (whole.train.clone(), whole.oot.clone()));
    }

    #[test]
    fn without_dates_whole_customers_are_held_out_and_the_subsample_is_seeded() {
        let s = sample();
        let t = TrainParams { max_train_rows: 1000, ..Default::default() }.check().unwrap();
        let split = split(&s, Holdout::Customers, &t).unwrap();
        let held: BTreeSet<u32> = split.oot.iter().map(|&i| s.group[i]).collect();
        assert!(split.train.iter().all(|&i| !held.contains(&s.group[i])), "a customer is never on both sides");
        assert!((5..=20).contains(&held.len()), "about a fifth of 50 customers: {}", held.len());
        assert!(!split.dated);
        // Subsampling keeps about the asked share, the same rows on every call.
        let kept: Vec<bool> =
            (0..s.len()).map(|i| in_subsample(42, &s.group_names[s.group[i] as usize], s.time[i], 0.3)).collect();
        let share = kept.iter().filter(|&&k| k).count() as f64 / s.len() as f64;
        assert!((0.2..0.4).contains(&share), "{share}");
        let again: Vec<bool> =
            (0..s.len()).map(|i| in_subsample(42, &s.group_names[s.group[i] as usize], s.time[i], 0.3)).collect();
        assert_eq!(kept, again);
        // Validation parts hold whole customers out too.
        for i in 0..s.len() {
            let first = s.group[i] as usize;
            assert_eq!(held_out_in(&s, i, 42, Validation::Folds(3)), held_out_in(&s, first, 42, Validation::Folds(3)));
        }
    }
}
