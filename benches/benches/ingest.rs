//! ingest + validation of the `m` preset (about 2M invoices), from CSV and from Parquet.
//! Throughput is reported in input rows (all four inputs) per second.

use ardent::settings::{Overrides, resolve};
use ardent_bench::{dataset, machine};
use ardent_engine::ingest::ingest;
use ardent_sample::{OutFormat, Preset};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench_ingest(c: &mut Criterion) {
    eprintln!("machine: {}", machine());
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    for format in [OutFormat::Csv, OutFormat::Parquet] {
        let dir = dataset(Preset::M, format);
        let settings = resolve(Overrides { config: Some(dir.join("pipeline.toml")), ..Default::default() })
            .unwrap_or_else(|e| panic!("{e}"));
        let rows: u64 =
            ingest(&settings.ingest).unwrap_or_else(|e| panic!("{e}")).counts.iter().map(|(_, c)| c.rows_read).sum();
        group.throughput(Throughput::Elements(rows));
        group.bench_function(format!("m preset {} ({rows} rows)", format.ext()), |b| {
            b.iter(|| ingest(&settings.ingest).unwrap_or_else(|e| panic!("{e}")))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_ingest);
criterion_main!(benches);
