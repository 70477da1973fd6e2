//! Shared setup of ardent's benches: generated data sets, cached between runs under
//! `$ARDENT_BENCH_DATA` (default `$HOME/.cache/ardent/bench-data`) so a bench measures the
//! stage, not the generator.

use std::path::{Path, PathBuf};

use ardent::run::index;
use ardent::settings::{Overrides, Settings, resolve};
use ardent_engine::book::Book;
use ardent_engine::cash::{Applications, apply_cash};
use ardent_engine::ingest::{Ingested, ingest};
use ardent_sample::{GenParams, OutFormat, Preset};

/// Where bench data lives.
pub fn data_root() -> PathBuf {
    std::env::var_os("ARDENT_BENCH_DATA").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("."));
        home.join(".cache").join("ardent").join("bench-data")
    })
}

/// A generated data set for a preset and format (seed 42), generated on first use.
pub fn dataset(preset: Preset, format: OutFormat) -> PathBuf {
    let name = format!("{:?}-{}-seed42", preset, format.ext()).to_lowercase();
    let dir = data_root().join(name);
    if !dir.join("pipeline.toml").exists() {
        let params = GenParams { preset, format, ..Default::default() };
        let spec = params.check().unwrap_or_else(|e| panic!("bench params: {e}"));
        let tmp = dir.with_extension("partial");
        let _ = std::fs::remove_dir_all(&tmp);
        ardent_sample::generate(&spec, &tmp).unwrap_or_else(|e| panic!("generating bench data: {e}"));
        std::fs::rename(&tmp, &dir).unwrap_or_else(|e| panic!("moving bench data into place: {e}"));
    }
    dir
}

/// A data set's settings and validated tables (ingest runs here, outside any measurement).
pub fn ingested(dir: &Path) -> (Settings, Ingested) {
    let settings = resolve(Overrides { config: Some(dir.join("pipeline.toml")), ..Default::default() })
        .unwrap_or_else(|e| panic!("{e}"));
    let ingested = ingest(&settings.ingest).unwrap_or_else(|e| panic!("{e}"));
    (settings, ingested)
}

/// The indexed book of a data set and its cash applications.
pub fn applied(settings: &Settings, ingested: &Ingested) -> (Book, Applications) {
    let book = index(settings, ingested).unwrap_or_else(|e| panic!("{e}"));
    let apps = apply_cash(&book);
    (book, apps)
}

/// Machine description for bench reports.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string()))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| format!("{} GiB", kb / 1024 / 1024))
        .unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {mem}")
}
