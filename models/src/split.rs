//! Which rows train and which are held out: the out-of-time split (the last labelled dates,
//! rows from a date, or without dates a seeded share of customers), the seeded subsample of
//! training rows, and the in-time validation part that holds each row out. Every choice comes
//! from a hash of the seed and the customer id (and date), never from row order or threads.

use std::collections::BTreeSet;

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

/// Whether the training row of customer `group_name` observed at `time` is in the seeded
/// subsample that keeps a share `keep` of the training rows (see [`split`]).
pub fn in_subsample(seed: u64, group_name: &str, time: i32, keep: f64) -> bool {
    let mut key = group_name.as_bytes().to_vec();
    key.extend_from_slice(&time.to_le_bytes());
    (hash(seed, &key) as f64 / u64::MAX as f64) < keep
}

/// Split the labelled rows of `sample` into training and out-of-time rows; training rows
/// beyond `t.max_train_rows` are subsampled (seeded, by customer and date).
pub fn split(sample: &Sample, holdout: Holdout, t: &Training) -> Result<Split> {
    let labelled: Vec<usize> = (0..sample.len()).filter(|&i| sample.label[i].is_some()).collect();
    let (train, oot, how): (Vec<usize>, Vec<usize>, String) = match holdout {
        Holdout::LastDates { n, gap_days } => {
            let dates: BTreeSet<i32> = labelled.iter().map(|&i| sample.time[i]).collect();
            let first_oot = first_oot_date(&dates, n)?;
            let train = labelled.iter().copied().filter(|&i| sample.time[i] + gap_days <= first_oot).collect();
            let oot = labelled.iter().copied().filter(|&i| sample.time[i] >= first_oot).collect();
            (
                train,
                oot,
                format!(
                    "the last {n} labelled month ends (from {}); training dates end {gap_days} days (the label horizon) before it",
                    format_day(first_oot)
                ),
            )
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
    let window = |rows: &[usize]| {
        let lo = rows.iter().map(|&i| sample.time[i]).min().unwrap_or(0);
        let hi = rows.iter().map(|&i| sample.time[i]).max().unwrap_or(0);
        (lo, hi)
    };
    Ok(Split {
        train_window: window(&train),
        oot_window: window(&oot),
        train,
        oot,
        train_rows_available: available,
        holdout: how,
        dated: !matches!(holdout, Holdout::Customers),
    })
}
