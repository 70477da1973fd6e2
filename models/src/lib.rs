//! # ardent-models
//!
//! Delinquency models (issue 4; nothing here yet): point-in-time labels from the engine's
//! feature panel, feature matrices (the one crossing from polars tables to ndarray),
//! logistic regression, scorecards and gradient-boosted trees trained in parallel, out-of-time
//! evaluation, and scoring with risk bands and reason codes. It reads what `ardent-engine`
//! produces and never imports `ardent` (the pipelines crate).
