//! Shared helpers of the CLI tests: running the binary and generating data.
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
    let out = Command::new(env!("CARGO_BIN_EXE_ardent"))
        .args(args)
        .current_dir(dir)
        .env_remove("ARDENT_CONFIG")
        .env_remove("ARDENT_OUT")
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
