//! What reading alone costs: the ledger and payments of a Parquet export set decoded the way
//! ingest reads them (slices of whole row groups, `read::parquet_slices`), with no rule
//! applied, first one file after the other (as ingest reads an input), then both files at
//! once. This is the floor under `ardent validate` on the same data.
//!
//! cargo run --release -p ardent-bench --example read_floor -- DATA_DIR
// The report is this program's output.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use ardent_engine::error::EngineError;
use ardent_engine::ingest::read::{CHUNK_ROWS, parquet_slices};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn read(path: &Path) -> usize {
    let mut rows = 0;
    let failed = |e: polars::prelude::PolarsError| EngineError::polars("reading")(e);
    parquet_slices(path, CHUNK_ROWS, failed, |frame, _, _| {
        rows += frame.height();
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    rows
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: read_floor DATA_DIR"));
    let files = [dir.join("ledger.parquet"), dir.join("payments.parquet")];
    println!("machine: {}", ardent_bench::machine());
    for round in 1..=3 {
        let t = Instant::now();
        let rows: usize = files.iter().map(|f| read(f)).sum();
        let one_by_one = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let (a, b) = std::thread::scope(|s| {
            let other = s.spawn(|| read(&files[1]));
            (read(&files[0]), other.join().unwrap_or_else(|_| panic!("reading payments failed")))
        });
        let together = t.elapsed().as_secs_f64();
        assert_eq!(a + b, rows);
        println!(
            "round {round}: {rows} rows; one file after the other {one_by_one:.3} s ({:.1}M rows/s), \
             both at once {together:.3} s ({:.1}M rows/s)",
            rows as f64 / one_by_one / 1e6,
            rows as f64 / together / 1e6
        );
    }
}
