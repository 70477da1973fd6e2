//! Shared helpers of the CLI tests: running the binary, generating data, reading tables.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Output of one `ardent` invocation.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run the `ardent` binary with arguments.
pub fn ardent(args: &[&str]) -> Outcome {
    ardent_in(Path::new("."), args)
}

/// Run the `ardent` binary with arguments in a working directory.
pub fn ardent_in(dir: &Path, args: &[&str]) -> Outcome {
    run_ardent(dir, &[], args)
}

/// Run the `ardent` binary with extra environment variables.
pub fn ardent_env(env: &[(&str, &str)], args: &[&str]) -> Outcome {
    run_ardent(Path::new("."), env, args)
}

fn run_ardent(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Outcome {
    run_binary(Path::new(env!("CARGO_BIN_EXE_ardent")), dir, env, args)
}

/// Run an `ardent` binary at `exe` (a copy of the built one, say) in `dir`.
pub fn run_binary(exe: &Path, dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Outcome {
    let out = Command::new(exe)
        .args(args)
        .current_dir(dir)
        .env_remove("ARDENT_CONFIG")
        .env_remove("ARDENT_OUT")
        .envs(env.iter().copied())
        .output()
        .expect("ardent runs");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Generate a small clean data set into `dir` and return its pipeline config path.
pub fn generate(dir: &Path, customers: u32, seed: u64, dirty: f64) -> PathBuf {
    generate_months(dir, customers, 12, seed, dirty)
}

/// [`generate`] with a history of `months`.
pub fn generate_months(dir: &Path, customers: u32, months: u32, seed: u64, dirty: f64) -> PathBuf {
    let params = ardent_sample::GenParams {
        customers: Some(customers),
        months: Some(months),
        seed,
        dirty,
        ..Default::default()
    };
    ardent_sample::generate(&params.check().unwrap(), dir).unwrap();
    dir.join("pipeline.toml")
}

/// Write a file, creating folders.
pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// The published `_manifest.json` of a local output folder.
pub fn manifest(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("_manifest.json")).unwrap()).unwrap()
}

/// (path, SHA-256) of the run files a manifest lists, those whose path `keep` accepts.
pub fn file_hashes(manifest: &serde_json::Value, keep: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_string(), f["sha256"].as_str().unwrap().to_string()))
        .filter(|(p, _)| keep(p))
        .collect()
}

/// Run the pipeline `config` into `out` without its models (the tables they read are
/// published either way).
pub fn run_without_models(config: &Path, out: &Path) -> Outcome {
    ardent(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--set",
        "models.enabled=false",
    ])
}

/// A row of a table: every column as text (money "1190.00", dates "2025-01-02").
pub type Record = std::collections::HashMap<String, Option<String>>;

/// Every row of `df` as a [`Record`].
pub fn records(df: &polars::prelude::DataFrame) -> Vec<Record> {
    use polars::prelude::*;
    let columns: Vec<(String, Series)> = df
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.as_materialized_series().cast(&DataType::String).unwrap()))
        .collect();
    (0..df.height())
        .map(|i| columns.iter().map(|(name, s)| (name.clone(), s.str().unwrap().get(i).map(str::to_string))).collect())
        .collect()
}

/// A Parquet file as a frame.
pub fn read_parquet(path: &Path) -> polars::prelude::DataFrame {
    use polars::prelude::*;
    ParquetReader::new(std::fs::File::open(path).unwrap()).finish().unwrap()
}
