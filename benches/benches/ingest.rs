//! ingest + validation of the `m` preset (about 2M invoices), from CSV and from Parquet, as
//! `ardent validate --set 'run.stages=["ingest"]'` runs it: streaming, chunk by chunk, every
//! accepted row handed to a sink that keeps nothing, with the binary's allocator (mimalloc).
//! Throughput is reported in input rows (all four inputs) per second.

use ardent::settings::{Overrides, resolve};
use ardent_bench::{dataset, machine};
use ardent_engine::error::EngineError;
use ardent_engine::ingest::{Sink, Streamed, ingest_into};
use ardent_sample::{OutFormat, Preset};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use polars::prelude::DataFrame;

// The allocator the `ardent` binary runs with: allocation patterns are a large part of ingest.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Accepts every row and keeps none (what `ardent validate` does when only ingest runs).
struct Discard;

impl Sink for Discard {
    fn rows(&mut self, _table: Streamed, _rows: &DataFrame) -> Result<(), EngineError> {
        Ok(())
    }

    fn remove(&mut self, _table: Streamed, _rows: &[u64]) -> Result<Option<DataFrame>, EngineError> {
        Ok(None)
    }
}

fn bench_ingest(c: &mut Criterion) {
    eprintln!("machine: {}", machine());
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    for format in [OutFormat::Csv, OutFormat::Parquet] {
        let dir = dataset(Preset::M, format);
        let settings = resolve(Overrides { config: Some(dir.join("pipeline.toml")), ..Default::default() })
            .unwrap_or_else(|e| panic!("{e}"));
        let run = || ingest_into(&settings.ingest, &mut Discard).unwrap_or_else(|e| panic!("{e}"));
        let rows: u64 = run().counts.iter().map(|(_, c)| c.rows_read).sum();
        group.throughput(Throughput::Elements(rows));
        group.bench_function(format!("m preset {} ({rows} rows)", format.ext()), |b| b.iter(run));
    }
    group.finish();
}

criterion_group!(benches, bench_ingest);
criterion_main!(benches);
