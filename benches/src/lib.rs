//! Shared setup of ardent's benches: generated data sets, cached between runs under
//! `$ARDENT_BENCH_DATA` (default `$HOME/.cache/ardent/bench-data`) so a bench measures the
//! stage, not the generator.

use std::path::PathBuf;

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
