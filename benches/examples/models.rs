//! Train every learner on a generated data set's feature panel and report what the
//! acceptance of issue 4 asks: out-of-time AUC of each candidate and the champion, the AUC of
//! ranking the same rows by the generator's true latent risk (`truth/customers.csv`),
//! predicted vs observed default rate per decile, and training time. With `--export DIR`
//! it also writes the training and out-of-time matrices as Parquet for
//! `benches/peers/models.py` (scikit-learn and LightGBM on the same matrix).
//!
//! cargo run --release -p ardent-bench --example models -- DATA_DIR [--export DIR]
// The report is this program's output.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::time::Instant;

use ardent_bench::{applied, ingested};
use ardent_engine::analytics::{Context, features, labels};
use ardent_models::matrix::Sample;
use ardent_models::metrics;
use ardent_models::params::TrainParams;
use ardent_models::split::Holdout;
use ardent_models::train::train;
use foldhash::HashMap;
use polars::prelude::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(args.get(1).expect("usage: models DATA_DIR [--export DIR]"));
    let export = args.iter().position(|a| a == "--export").and_then(|k| args.get(k + 1)).map(PathBuf::from);
    eprintln!("machine: {}", ardent_bench::machine());
    let clock = Instant::now();
    let (settings, ingested) = ingested(&dir);
    let (book, apps) = applied(&settings, &ingested);
    let ctx = Context::new(&book, &apps, &settings.analysis);
    eprintln!("ingest, index, cash: {:.1} s", clock.elapsed().as_secs_f64());
    let clock = Instant::now();
    let mut panel = features::panel(&ctx).unwrap_or_else(|e| panic!("{e}"));
    let labeling = labels::LabelParams::default().check().unwrap_or_else(|e| panic!("{e}"));
    let labels = labels::customer_default(&ctx, &panel, &labeling);
    let label = labels.label;
    eprintln!("panel {} rows + labels: {:.1} s", panel.len(), clock.elapsed().as_secs_f64());
    let sample =
        Sample::from_panel(&book, &mut panel, label, "default within 90 days").unwrap_or_else(|e| panic!("{e}"));
    let mut params = TrainParams::default();
    if let Ok(l) = std::env::var("LEARNERS") {
        params.learners = l.split(',').map(str::to_string).collect();
    }
    if let Ok(p) = std::env::var("PER_SEGMENT") {
        params.per_segment = p == "1";
    }
    let training = params.check().unwrap_or_else(|e| panic!("{e}"));
    let clock = Instant::now();
    let trained =
        train(&sample, Holdout::LastDates { n: training.oot_months, gap_days: labeling.horizon_days }, &training)
            .unwrap_or_else(|e| panic!("{e}"));
    let secs = clock.elapsed().as_secs_f64();
    let s = &trained.split;
    println!(
        "training rows {} (of {} available), out-of-time rows {}; all models trained in {secs:.1} s",
        s.train.len(),
        s.train_rows_available,
        s.oot.len()
    );
    println!(
        "{:<22} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>8} {:>8} {:>6}",
        "model", "cv_auc", "oot_auc", "ks", "brier", "log_loss", "max_gap", "mean_pd", "observed", "calib"
    );
    for c in &trained.candidates {
        let cv = c.validation.iter().map(|m| m.auc).sum::<f64>() / c.validation.len() as f64;
        println!(
            "{:<22} {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>9.4} {:>9.4} {:>8.4} {:>8.4} {:>6}",
            c.model.id,
            cv,
            c.oot.auc,
            c.oot.ks,
            c.oot.brier,
            c.oot.log_loss,
            c.oot.max_decile_gap,
            c.oot.mean_pd,
            c.oot.observed_rate,
            c.calibrated()
        );
    }
    for c in &trained.candidates {
        let gaps: Vec<String> =
            c.oot_calibration.iter().map(|b| format!("{:+.3}", b.mean_pd - b.observed_rate)).collect();
        println!("{:<22} decile gaps {}", c.model.id, gaps.join(" "));
    }
    if let Some(excluded) = ardent_models::stability::excluded(&trained.stability) {
        println!("the `_stable` challengers leave out (out-of-time PSI >= {}): {excluded}", training.max_feature_psi);
    }
    let champ = trained.champion();
    println!("champion: {} — {}", champ.model.id, trained.champion_reason);
    println!("decile  rows   mean_pd  observed  gap");
    for b in &champ.oot_calibration {
        println!(
            "{:>6} {:>6} {:>9.4} {:>9.4} {:>+.4}",
            b.decile,
            b.rows,
            b.mean_pd,
            b.observed_rate,
            b.mean_pd - b.observed_rate
        );
    }
    // Scoring throughput: the champion's PD of every panel row, then full scores with reasons.
    let clock = Instant::now();
    let pd = champ.model.predict(&sample.x, &sample.segment, &sample.segments);
    let secs = clock.elapsed().as_secs_f64();
    println!(
        "scoring: {} rows in {secs:.3} s = {:.2}M rows/s (PD only, {})",
        pd.len(),
        pd.len() as f64 / secs / 1e6,
        champ.model.id
    );
    for c in &trained.candidates {
        let clock = Instant::now();
        let n = c.model.predict(&sample.x, &sample.segment, &sample.segments).len();
        println!("  {:<22} {:.2}M rows/s", c.model.id, n as f64 / clock.elapsed().as_secs_f64() / 1e6);
    }
    // The same out-of-time rows ranked by the true latent risk.
    let truth = std::fs::read_to_string(dir.join("truth").join("customers.csv")).unwrap_or_default();
    let risk: HashMap<&str, f64> = truth
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            Some((f.next()?, f.next()?.parse().ok()?))
        })
        .collect();
    if !risk.is_empty() {
        let p: Vec<f64> = s.oot.iter().map(|&i| risk[sample.group_names[sample.group[i] as usize].as_str()]).collect();
        let y: Vec<bool> = s.oot.iter().map(|&i| sample.label[i] == Some(true)).collect();
        let truth_auc = metrics::auc(&p, &y);
        println!(
            "truth (latent risk) out-of-time AUC {truth_auc:.4}; champion {:.4}; difference {:+.4}",
            champ.oot.auc,
            champ.oot.auc - truth_auc
        );
    }
    if let Some(out) = export {
        std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{e}"));
        for (name, rows) in [("train", &s.train), ("oot", &s.oot)] {
            let mut cols: Vec<Column> = sample
                .features
                .iter()
                .enumerate()
                .map(|(j, f)| {
                    Column::new(f.as_str().into(), rows.iter().map(|&i| sample.x[[i, j]]).collect::<Vec<f64>>())
                })
                .collect();
            cols.push(Column::new(
                "label".into(),
                rows.iter().map(|&i| sample.label[i] == Some(true)).collect::<Vec<bool>>(),
            ));
            let mut df = DataFrame::new(rows.len(), cols).unwrap_or_else(|e| panic!("{e}"));
            let file = std::fs::File::create(out.join(format!("{name}.parquet"))).unwrap_or_else(|e| panic!("{e}"));
            ParquetWriter::new(file).finish(&mut df).unwrap_or_else(|e| panic!("{e}"));
        }
        println!("matrices written to {}", out.display());
    }
}
