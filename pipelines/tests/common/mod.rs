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

/// (path, SHA-256) of the files a manifest lists, those whose path `keep` accepts. A Delta
/// table's data files are named as plain Parquet publishing names them in the run folder
/// (`kpi_monthly.parquet`, `aging/as_of=2024-03-31/part-0.parquet`), so runs compare alike
/// whatever their format and run id. `report.html` is left out: it names its run (the tests
/// of the report compare it with the run id taken out).
pub fn file_hashes(manifest: &serde_json::Value, keep: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap().to_string(), f["sha256"].as_str().unwrap().to_string()))
        .collect();
    for o in manifest["outputs"].as_array().unwrap() {
        let table = o["table"].as_str().unwrap();
        for f in o["files"].as_array().into_iter().flatten() {
            let path = f["path"].as_str().unwrap();
            let key = match path.rsplit_once('/') {
                Some((partition, _)) => format!("{table}/{partition}/part-0.parquet"),
                None => format!("{table}.parquet"),
            };
            all.push((key, f["sha256"].as_str().unwrap().to_string()));
        }
    }
    all.sort();
    all.into_iter().filter(|(p, _)| p != "report.html" && keep(p)).collect()
}

/// The data files of the published table `table` at a local output, by partition (`""` for
/// an unpartitioned table, else `as_of=2024-03-31`), whatever the table format.
pub fn table_files(out: &Path, table: &str) -> Vec<(String, PathBuf)> {
    let m = manifest(out);
    let o = m["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["table"] == table)
        .unwrap_or_else(|| panic!("no table {table}"));
    let mut files: Vec<(String, PathBuf)> = if o["version"].is_null() {
        let prefix = m["data_prefix"].as_str().unwrap();
        let path = o["path"].as_str().unwrap();
        m["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .filter(|p| *p == path || (path.ends_with('/') && p.starts_with(path)))
            .map(|p| {
                let partition = p.strip_prefix(path).and_then(|r| r.split_once('/')).map(|(d, _)| d.to_string());
                (partition.unwrap_or_default(), out.join(prefix).join(p))
            })
            .collect()
    } else {
        o["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap())
            .map(|p| {
                let partition = p.rsplit_once('/').map(|(d, _)| d.to_string()).unwrap_or_default();
                (partition, out.join(table).join(p))
            })
            .collect()
    };
    files.sort();
    files
}

/// The published table `table` at a local output as a frame (every partition; the partition
/// column is not in the files).
pub fn table(out: &Path, name: &str) -> polars::prelude::DataFrame {
    let files = table_files(out, name);
    assert!(!files.is_empty(), "{name} has no files");
    let mut frames = files.iter().map(|(_, p)| read_parquet(p));
    let first = frames.next().unwrap();
    frames.fold(first, |mut acc, df| {
        acc.vstack_mut(&df).unwrap();
        acc
    })
}

/// One partition (`as_of=2024-03-31`) of a partitioned published table.
pub fn partition(out: &Path, name: &str, partition: &str) -> polars::prelude::DataFrame {
    let files = table_files(out, name);
    let (_, path) = files.iter().find(|(p, _)| p == partition).unwrap_or_else(|| panic!("{name} has no {partition}"));
    read_parquet(path)
}

/// The partitions of a partitioned published table, in order.
pub fn partitions(out: &Path, name: &str) -> Vec<String> {
    table_files(out, name).into_iter().map(|(p, _)| p).collect()
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
        .map(|c| {
            let s = c.as_materialized_series();
            let text = match s.dtype() {
                // Timestamps (UTC, microseconds) as "2024-02-20 14:00:00 UTC".
                DataType::Datetime(TimeUnit::Microseconds, _) => StringChunked::from_iter_options(
                    s.name().clone(),
                    s.datetime().unwrap().physical().iter().map(|v| {
                        v.and_then(chrono::DateTime::from_timestamp_micros)
                            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    }),
                )
                .into_series(),
                _ => s.cast(&DataType::String).unwrap(),
            };
            (c.name().to_string(), text)
        })
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

/// The JSON the report page carries (what its charts draw and its tables show).
pub fn report_data(html: &str) -> serde_json::Value {
    let start = html.find(r#"<script type="application/json" id="report-data">"#).unwrap();
    let rest = &html[start..];
    let body = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
    serde_json::from_str(&body.replace("<\\/", "</")).unwrap()
}
