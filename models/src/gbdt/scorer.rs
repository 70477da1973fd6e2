//! Scoring a tree ensemble a row at a time without walking the trees: QuickScorer (Lucchese
//! et al., SIGIR 2015). [`Scorer::new`] lays a [`Gbdt`] out once; [`Scorer::logits`] scores rows
//! with it; `Model::predict_at` uses it for batches.
//!
//! A walk follows each tree node by node, a chain of dependent loads and branches that the CPU
//! cannot predict. Here every split is listed under its feature by ascending threshold. For a
//! row, each feature's list is scanned while the threshold is below the row's value: those are
//! exactly the splits the row fails (it goes right), and each one clears, in its tree's leaf
//! bitmask, the leaves of its left subtree. The exit leaf of a tree is then its leftmost leaf
//! still set (the lowest bit). Leaves are the walk's leaves and are added in tree order, so a
//! row's log-odds are bit for bit the walk's ([`Gbdt::logit`]).

use super::{Gbdt, Tree};

/// One split: rows whose value is above `threshold` go right, ruling out the leaves outside
/// `mask` in tree `tree`.
#[derive(Debug, Clone, Copy)]
struct Split {
    threshold: f64,
    tree: u32,
    mask: u64,
}

/// The splits on one feature, by ascending threshold, as three parallel arrays: the
/// thresholds are searched, and only the failed splits' trees and masks are then read
/// (24 bytes per split in one array made the masks of a row's failed splits twice as long to
/// stream).
#[derive(Debug, Clone, Default)]
struct FeatureSplits {
    thresholds: Vec<f64>,
    trees: Vec<u32>,
    masks: Vec<u64>,
    /// The splits that send a missing value right (their `threshold` is not used).
    missing_right: Vec<Split>,
}

/// A tree ensemble laid out for scoring many rows (see the module documentation).
#[derive(Debug, Clone)]
pub struct Scorer {
    init: f64,
    features: Vec<FeatureSplits>,
    /// Leaf values of every tree, each tree's leaves left to right, from `leaf_start[tree]`.
    leaf_values: Vec<f64>,
    leaf_start: Vec<usize>,
}

/// Number the leaves under node `i` left to right from `next`, record each split's left-subtree
/// leaf range, and return the range of leaves under `i`.
fn number_leaves(
    t: &Tree,
    i: usize,
    next: &mut u32,
    values: &mut Vec<f64>,
    splits: &mut Vec<(usize, u32, u32)>,
) -> (u32, u32) {
    let n = &t.nodes[i];
    if n.left == 0 {
        values.push(n.value);
        *next += 1;
        return (*next - 1, *next);
    }
    let (lo, mid) = number_leaves(t, n.left as usize, next, values, splits);
    let (_, hi) = number_leaves(t, n.right as usize, next, values, splits);
    splits.push((i, lo, mid));
    (lo, hi)
}

impl Scorer {
    /// Lay out `g`; `None` when a tree has more than 64 leaves (its bitmask would not fit a
    /// word), in which case rows are walked.
    pub fn new(g: &Gbdt) -> Option<Scorer> {
        // Per feature: its splits, and those that send a missing value right.
        let mut features: Vec<(Vec<Split>, Vec<Split>)> = Vec::new();
        let mut leaf_values = Vec::new();
        let mut leaf_start = Vec::with_capacity(g.trees.len());
        for (k, t) in g.trees.iter().enumerate() {
            let leaves = t.nodes.iter().filter(|n| n.left == 0).count();
            if leaves > 64 {
                return None;
            }
            leaf_start.push(leaf_values.len());
            let mut splits = Vec::new();
            number_leaves(t, 0, &mut 0, &mut leaf_values, &mut splits);
            for (i, lo, mid) in splits {
                let n = &t.nodes[i];
                // A left subtree holds at most 63 of the tree's at most 64 leaves.
                let left_leaves = (u64::MAX >> (64 - (mid - lo))) << lo;
                let split = Split { threshold: n.threshold, tree: k as u32, mask: !left_leaves };
                let f = n.feature as usize;
                if features.len() <= f {
                    features.resize_with(f + 1, Default::default);
                }
                features[f].0.push(split);
                if !n.missing_left {
                    features[f].1.push(split);
                }
            }
        }
        let features = features
            .into_iter()
            .map(|(mut splits, missing_right)| {
                // The order among equal thresholds does not matter: the masks are ANDed.
                splits.sort_by(|a, b| a.threshold.total_cmp(&b.threshold));
                FeatureSplits {
                    thresholds: splits.iter().map(|s| s.threshold).collect(),
                    trees: splits.iter().map(|s| s.tree).collect(),
                    masks: splits.iter().map(|s| s.mask).collect(),
                    missing_right,
                }
            })
            .collect();
        Some(Scorer { init: g.init, features, leaf_values, leaf_start })
    }

    /// Log-odds of one row, using `leaves` (one word per tree) as scratch.
    fn logit(&self, x: &[f64], leaves: &mut [u64]) -> f64 {
        leaves.fill(u64::MAX);
        for (f, s) in self.features.iter().enumerate() {
            let v = x[f];
            // A missing value fails the splits that send it right; any other value fails the
            // splits whose threshold it is above (NaN compares false, so it never enters).
            if v.is_nan() {
                for sp in &s.missing_right {
                    leaves[sp.tree as usize] &= sp.mask;
                }
            } else {
                let failed = s.thresholds.partition_point(|&t| t < v);
                for (&tree, &mask) in s.trees[..failed].iter().zip(&s.masks[..failed]) {
                    leaves[tree as usize] &= mask;
                }
            }
        }
        let mut acc = 0.0;
        for (&start, &l) in self.leaf_start.iter().zip(leaves.iter()) {
            acc += self.leaf_values[start + l.trailing_zeros() as usize];
        }
        self.init + acc
    }

    /// Log-odds of many rows, each exactly as [`Gbdt::logit`] gives it.
    pub fn logits(&self, rows: &[&[f64]]) -> Vec<f64> {
        let mut leaves = vec![0u64; self.leaf_start.len()];
        rows.iter().map(|x| self.logit(x, &mut leaves)).collect()
    }
}
