//! # ardent-models
//!
//! Delinquency models (docs/definitions.md, "Models"), fed by the engine's point-in-time feature panel and
//! labels, or by any feature table:
//!
//! - [`matrix`]: the one crossing from tables to ndarray ([`matrix::Sample`]).
//! - [`logistic`], [`scorecard`], [`gbdt`]: the learners, each in linfa's
//!   `Params` → `check()` → `fit` → `predict` style.
//! - [`categories`]: categorical features: level codes, ranks by default rate, pooling.
//! - [`model`]: a trained model (learner per segment + calibration) and the row-level
//!   prediction every score goes through.
//! - [`metrics`]: AUC, Gini, KS, Brier, log-loss, calibration by decile, PSI.
//! - [`significance`]: AUC standard errors and paired differences (DeLong), the calibration test.
//! - `evaluate`: each learner's candidates calibrated on held-out rows and measured out of time.
//! - [`champion`]: which candidate scores.
//! - [`stability`]: which features moved between the training and out-of-time rows.
//!
//! It reads what `ardent-engine` produces and never imports `ardent` (the pipelines crate).

pub mod artifact;
pub mod byo;
pub mod categories;
pub mod champion;
pub mod clusters;
pub mod error;
mod evaluate;
pub mod gbdt;
pub mod invoice_model;
mod json_float;
pub mod linalg;
pub mod logistic;
pub mod matrix;
pub mod metrics;
pub mod model;
pub mod params;
pub mod run;
pub mod sample_file;
pub mod score;
pub mod scorecard;
pub mod segments;
pub mod sharded;
pub mod significance;
pub mod split;
pub mod stability;
pub mod tables;
pub mod train;

pub use error::{ModelError, Result};
