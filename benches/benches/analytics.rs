//! AR analytics on the `m` preset (about 2M invoices × 50k customers, 36 month ends): index
//! the validated tables, apply cash, and build every dashboard table (aging at every month
//! end, kpi_monthly, cohorts, roll_rates, customer_payment_stats, reconciliation). Ingest
//! runs once, outside the measurement.

use ardent_bench::{dataset, ingested, machine};
use ardent_engine::analytics::analyse;
use ardent_engine::cash::apply_cash;
use ardent_sample::{OutFormat, Preset};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench_analytics(c: &mut Criterion) {
    eprintln!("machine: {}", machine());
    let dir = dataset(Preset::M, OutFormat::Parquet);
    let (settings, ingested) = ingested(&dir);
    let index = || ardent::run::index(&settings, &ingested).unwrap_or_else(|e| panic!("{e}"));
    let book = index();
    let apps = apply_cash(&book);
    let docs = book.docs.len();
    let customers = book.customers.len();
    let mut group = c.benchmark_group("analytics");
    group.sample_size(10);
    group.throughput(Throughput::Elements(docs as u64));
    let name = |stage: &str| format!("{stage}/m preset {docs} documents x {customers} customers");
    group.bench_function(name("index"), |b| b.iter(index));
    group.bench_function(name("cash application"), |b| b.iter(|| apply_cash(&book)));
    group.bench_function(name("dashboard tables, 36 month ends"), |b| {
        b.iter(|| analyse(&book, &apps, &settings.analysis).unwrap_or_else(|e| panic!("{e}")))
    });
    group.bench_function(name("all analytics"), |b| {
        b.iter(|| {
            let book = index();
            let apps = apply_cash(&book);
            analyse(&book, &apps, &settings.analysis).unwrap_or_else(|e| panic!("{e}"))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_analytics);
criterion_main!(benches);
