//! One fit of ardent's logistic regression and gradient-boosted trees on an exported matrix
//! (`train.parquet` / `oot.parquet` from the `models` example), timed, with out-of-time AUC
//! and QuickScorer's scoring speed on one thread, printed as one JSON line. Also writes the
//! standardised logistic design matrices (`train_design.parquet`, `oot_design.parquet`) so
//! scikit-learn fits exactly the same matrix. Driven by `benches/peers/models.py`.
//!
//! cargo run --release -p ardent-bench --example fit -- MATRIX_DIR
// The report is this program's output.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use ardent_models::byo::{read_table, write_frame};
use ardent_models::gbdt::{self, ValidGbdtParams};
use ardent_models::logistic::{Standardiser, ValidLogisticParams, newton};
use ardent_models::matrix::{Roles, Sample};
use ardent_models::metrics::{auc, log_loss};
use polars::prelude::*;

fn load(dir: &Path, name: &str) -> Sample {
    let path = dir.join(format!("{name}.parquet"));
    let df = read_table(&path, &[]).unwrap_or_else(|e| panic!("{e}"));
    let source = path.display().to_string();
    Sample::from_frame(&df, &Roles { source: &source, label: Some("label"), ..Default::default() }, None, None)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn design_frame(d: &ndarray::Array2<f64>, y: &[Option<bool>]) -> DataFrame {
    let mut cols: Vec<Column> =
        (0..d.ncols()).map(|j| Column::new(format!("d{j}").into(), d.column(j).to_vec())).collect();
    cols.push(Column::new("label".into(), y.iter().map(|v| *v == Some(true)).collect::<Vec<bool>>()));
    DataFrame::new(d.nrows(), cols).unwrap_or_else(|e| panic!("{e}"))
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: fit MATRIX_DIR"));
    let (train, oot) = (load(&dir, "train"), load(&dir, "oot"));
    let y: Vec<bool> = train.label.iter().map(|v| *v == Some(true)).collect();
    let y_oot: Vec<bool> = oot.label.iter().map(|v| *v == Some(true)).collect();

    let prep = Standardiser::fit(train.x.view());
    let (d, d_oot) = (prep.design(train.x.view()), prep.design(oot.x.view()));
    write_frame(&mut design_frame(&d, &train.label), &dir.join("train_design.parquet"))
        .unwrap_or_else(|e| panic!("{e}"));
    write_frame(&mut design_frame(&d_oot, &oot.label), &dir.join("oot_design.parquet"))
        .unwrap_or_else(|e| panic!("{e}"));
    let clock = Instant::now();
    let lr = newton(&d, &y, &ValidLogisticParams::default()).unwrap_or_else(|e| panic!("{e}"));
    let lr_secs = clock.elapsed().as_secs_f64();
    let p: Vec<f64> =
        d_oot.outer_iter().map(|r| 1.0 / (1.0 + (-lr.logit(r.as_slice().unwrap_or(&[]))).exp())).collect();

    let clock = Instant::now();
    let trees = gbdt::fit(train.x.view(), &y, &ValidGbdtParams::default()).unwrap_or_else(|e| panic!("{e}"));
    let gb_secs = clock.elapsed().as_secs_f64();
    let q: Vec<f64> = oot.x.outer_iter().map(|r| 1.0 / (1.0 + (-trees.logit(r)).exp())).collect();
    // QuickScorer on one thread over the out-of-time rows: the best of five passes.
    let scorer = ardent_models::gbdt::Scorer::new(&trees).expect("at most 64 leaves per tree");
    let rows: Vec<&[f64]> = oot.x.as_slice().map(|v| v.chunks(oot.x.ncols()).collect()).unwrap_or_default();
    let score_secs = (0..5)
        .map(|_| {
            let clock = Instant::now();
            let z = scorer.logits(&rows);
            assert_eq!(z.len(), rows.len());
            clock.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min);
    println!(
        "{{\"rows\": {}, \"design_columns\": {}, \"logistic_fit_s\": {lr_secs:.4}, \"logistic_iterations\": {}, \"logistic_auc\": {:.6}, \"logistic_log_loss\": {:.6}, \"gbdt_fit_s\": {gb_secs:.4}, \"gbdt_auc\": {:.6}, \"gbdt_log_loss\": {:.6}, \"gbdt_score_rows_per_s_one_thread\": {:.0}}}",
        train.len(),
        d.ncols(),
        lr.iterations,
        auc(&p, &y_oot),
        log_loss(&p, &y_oot),
        auc(&q, &y_oot),
        log_loss(&q, &y_oot),
        rows.len() as f64 / score_secs
    );
}
