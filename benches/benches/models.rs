//! Delinquency models on the `m` preset's point-in-time panel (about 1.5M customer-month
//! rows, 20 features): training every learner with the default validation (one fit each on
//! 80% of the training customers, calibrated on the other 20%; logistic and scorecard also
//! per segment) and scoring every panel row with each trained model. The panel and labels
//! are built once, outside the measurement.

use ardent_bench::{applied, dataset, ingested, machine};
use ardent_engine::analytics::{Context, features, labels};
use ardent_models::matrix::Sample;
use ardent_models::params::TrainParams;
use ardent_models::split::Holdout;
use ardent_models::train::train;
use ardent_sample::{OutFormat, Preset};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench_models(c: &mut Criterion) {
    eprintln!("machine: {}", machine());
    let dir = dataset(Preset::M, OutFormat::Parquet);
    let (settings, ingested) = ingested(&dir);
    let (book, apps) = applied(&settings, &ingested);
    let ctx = Context::new(&book, &apps, &settings.analysis);
    let mut panel = features::panel(&ctx).unwrap_or_else(|e| panic!("{e}"));
    let training = TrainParams::default().check().unwrap_or_else(|e| panic!("{e}"));
    let label = labels::customer_default(&ctx, &panel, &training.labeling).label;
    let sample = Sample::from_panel(&book, &mut panel, label, "default").unwrap_or_else(|e| panic!("{e}"));
    let holdout = Holdout::LastDates { n: training.oot_months, gap_days: training.labeling.horizon_days };
    let rows = sample.len();
    let mut group = c.benchmark_group("models");
    group.sample_size(10);
    group.bench_function(format!("train all learners/m panel {rows} rows"), |b| {
        b.iter(|| train(&sample, holdout, &training).unwrap_or_else(|e| panic!("{e}")))
    });
    let trained = train(&sample, holdout, &training).unwrap_or_else(|e| panic!("{e}"));
    group.throughput(Throughput::Elements(rows as u64));
    for cand in &trained.candidates {
        group.bench_function(format!("score {}/m panel {rows} rows", cand.model.id), |b| {
            b.iter(|| cand.model.predict(&sample.x, &sample.segment, &sample.segments))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_models);
criterion_main!(benches);
