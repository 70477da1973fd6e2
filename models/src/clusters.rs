//! Behavioural segments (docs/definitions.md, "Models"): customers grouped by how they pay, not by how they are
//! filed. k-means (linfa-clustering) on standardised payment features of the training rows;
//! every row then joins its nearest centroid. Clusters are named `cluster_1` … `cluster_k`
//! from the promptest payers (lowest weighted days late at the centroid) to the latest.
//!
//! The fit runs on one thread over a strided subsample, so the centroids are the same for a
//! seed whatever the thread count; assignment is a pure function of the row, stored with the
//! model, so `ardent score` and single-row scoring assign exactly as the run did.

use linfa::prelude::*;
use linfa_clustering::KMeans;
use ndarray::{Array2, ArrayView1};
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::matrix::Sample;

/// The payment-behaviour features clustered on (those present in the sample are used).
pub const CLUSTER_FEATURES: [&str; 6] = [
    "avg_days_to_pay_365d",
    "weighted_days_late_365d",
    "share_paid_late_365d",
    "trend_days_late",
    "weighted_days_late_90d",
    "share_paid_late_90d",
];

/// Fitted clusters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Clusters {
    /// Columns of the model's features that are clustered on.
    pub columns: Vec<usize>,
    pub mean: Vec<f64>,
    pub sd: Vec<f64>,
    /// Centroids in standardised units, in name order.
    pub centroids: Vec<Vec<f64>>,
    pub names: Vec<String>,
}

impl Clusters {
    fn point(&self, x: ArrayView1<'_, f64>) -> Vec<f64> {
        self.columns
            .iter()
            .enumerate()
            .map(|(k, &j)| if x[j].is_nan() { 0.0 } else { (x[j] - self.mean[k]) / self.sd[k] })
            .collect()
    }

    /// The nearest centroid of a row (ties go to the lower index).
    pub fn assign(&self, x: ArrayView1<'_, f64>) -> usize {
        let p = self.point(x);
        let dist = |c: &Vec<f64>| c.iter().zip(&p).map(|(a, b)| (a - b) * (a - b)).sum::<f64>();
        (0..self.centroids.len())
            .fold(0, |best, k| if dist(&self.centroids[k]) < dist(&self.centroids[best]) { k } else { best })
    }

    /// Fit `k` clusters on `rows` of `sample` (at most 20,000 of them, strided).
    pub fn fit(sample: &Sample, rows: &[usize], k: usize, seed: u64) -> Result<Clusters> {
        let columns: Vec<usize> =
            CLUSTER_FEATURES.iter().filter_map(|f| sample.features.iter().position(|n| n == f)).collect();
        if columns.is_empty() {
            return Err(ModelError::Data(format!(
                "behavioural clusters need payment features ({}), and the table has none",
                CLUSTER_FEATURES.join(", ")
            )));
        }
        let picked: Vec<usize> = rows.iter().copied().step_by(rows.len().div_ceil(20_000).max(1)).collect();
        if picked.len() < k * 10 {
            return Err(ModelError::NotEnoughHistory(format!(
                "{} training rows are too few for {k} behavioural clusters",
                picked.len()
            )));
        }
        let stat = |j: usize| {
            let v: Vec<f64> = picked.iter().map(|&i| sample.x[[i, j]]).filter(|v| !v.is_nan()).collect();
            let n = v.len().max(1) as f64;
            let mean = v.iter().sum::<f64>() / n;
            let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
            (mean, if sd > 0.0 { sd } else { 1.0 })
        };
        let (mean, sd): (Vec<f64>, Vec<f64>) = columns.iter().map(|&j| stat(j)).unzip();
        let mut shell = Clusters { columns, mean, sd, centroids: Vec::new(), names: Vec::new() };
        let mut data = Array2::<f64>::zeros((picked.len(), shell.columns.len()));
        for (r, &i) in picked.iter().enumerate() {
            for (c, v) in shell.point(sample.row(i)).into_iter().enumerate() {
                data[[r, c]] = v;
            }
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .map_err(|e| ModelError::Data(format!("cannot start the clustering thread: {e}")))?;
        let model = pool
            .install(|| {
                KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(seed))
                    .max_n_iterations(300)
                    .tolerance(1e-6)
                    .fit(&DatasetBase::from(data))
            })
            .map_err(|e| ModelError::Data(format!("k-means on payment behaviour failed: {e}")))?;
        let mut centroids: Vec<Vec<f64>> = model.centroids().outer_iter().map(|c| c.to_vec()).collect();
        // Name by lateness: the weighted-days-late coordinate when clustered on, else the first.
        let key = shell.columns.iter().position(|&j| sample.features[j] == "weighted_days_late_365d").unwrap_or(0);
        centroids.sort_by(|a, b| a[key].total_cmp(&b[key]));
        shell.names = (1..=centroids.len()).map(|k| format!("cluster_{k}")).collect();
        shell.centroids = centroids;
        Ok(shell)
    }
}
