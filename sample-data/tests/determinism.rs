//! The generator is deterministic: the same seed and size give byte-identical files whatever
//! the thread count, and a different seed gives different data.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use ardent_sample::{GenParams, OutFormat, generate};

fn generate_with_threads(threads: usize, params: &GenParams, dir: &Path) {
    let spec = params.check().unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    pool.install(|| generate(&spec, dir)).unwrap();
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for sub in [dir.to_path_buf(), dir.join("truth")] {
        let mut entries: Vec<_> = std::fs::read_dir(&sub).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries.into_iter().filter(|p| p.is_file()) {
            out.push((p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

fn assert_identical_across_threads(params: GenParams) {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate_with_threads(1, &params, a.path());
    generate_with_threads(2, &params, b.path());
    let (fa, fb) = (files(a.path()), files(b.path()));
    assert!(fa.len() >= 6, "expected exports and truth files, got {:?}", fa.iter().map(|f| &f.0).collect::<Vec<_>>());
    assert_eq!(fa.iter().map(|f| &f.0).collect::<Vec<_>>(), fb.iter().map(|f| &f.0).collect::<Vec<_>>());
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(x == y, "{name} differs between 1 and 2 threads");
    }
}

#[test]
fn csv_output_is_byte_identical_with_1_and_2_threads() {
    // More customers than one block, so blocks are simulated and written in parallel.
    assert_identical_across_threads(GenParams {
        customers: Some(5_000),
        months: Some(6),
        dirty: 0.01,
        ..Default::default()
    });
}

#[test]
fn parquet_output_is_byte_identical_with_1_and_2_threads() {
    assert_identical_across_threads(GenParams {
        customers: Some(3_000),
        months: Some(4),
        format: OutFormat::Parquet,
        ..Default::default()
    });
}

#[test]
fn another_seed_gives_other_data() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let base = GenParams { customers: Some(200), months: Some(6), ..Default::default() };
    generate_with_threads(2, &base, a.path());
    generate_with_threads(2, &GenParams { seed: 43, ..base }, b.path());
    let ledger = |d: &Path| std::fs::read(d.join("ledger.csv")).unwrap();
    assert_ne!(ledger(a.path()), ledger(b.path()));
}

#[test]
fn dirty_rows_need_csv() {
    let params = GenParams { dirty: 0.02, format: OutFormat::Parquet, ..Default::default() };
    let err = params.check().unwrap_err().to_string();
    assert!(err.contains("--format csv"), "{err}");
}
