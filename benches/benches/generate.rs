//! The generator: the `m` preset (50k customers x 36 months, about 2M invoices) to CSV and
//! to Parquet, written to a temporary folder.

use ardent_bench::machine;
use ardent_sample::{GenParams, OutFormat, Preset, generate};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench_generate(c: &mut Criterion) {
    eprintln!("machine: {}", machine());
    let mut group = c.benchmark_group("generate");
    group.sample_size(10);
    for format in [OutFormat::Csv, OutFormat::Parquet] {
        let spec =
            GenParams { preset: Preset::M, format, ..Default::default() }.check().unwrap_or_else(|e| panic!("{e}"));
        group.bench_function(format!("m preset 50k customers x 36 months {}", format.ext()), |b| {
            b.iter(|| {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
                generate(&spec, dir.path()).unwrap_or_else(|e| panic!("{e}"))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_generate);
criterion_main!(benches);
