//! Where do the steps of a run split by customer keep their work, and which shard does a
//! customer belong to? (`docs/scale-out.md`.)
//!
//! The work folder `WORK` holds:
//!
//! - `validated/`: an ardent output (plain Parquet) with the validated tables, published by
//!   the `validate` step;
//! - `split-<key>/`: everything cut from one validated run for N shards with one config, `key`
//!   the SHA-256 of the validated run's id, N and the settings the shards' tables depend on
//!   (analytics, rate age, reporting currency), so a new validation, another N or other
//!   analytics never read an older step's files: `whole.json` and per shard
//!   `shard-<i>/inputs/` (its customers, ledger and payments) and `shard-<i>/out/` (its tables
//!   and partial sums).
//!
//! Each step's folder is complete when its `_complete.json` (the files it wrote, with their
//! sizes) exists; that file is written last. A step whose folder is complete returns at once,
//! and a step that finds an incomplete folder (an attempt that died) removes it and starts
//! again, so a retried task never mixes two attempts.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::files::relative_files;
use crate::layout::MANIFEST;
use crate::settings::Settings;

/// Why a step of a sharded run cannot go on (an error of the run's order or flags, not of
/// ardent): [`Usage`](StepError::Usage) exits with the config/usage code (2),
/// [`NotReady`](StepError::NotReady) with the missing-input code (3), so a scheduler does not
/// retry either.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    NotReady(String),
}

/// The marker of a complete step folder.
pub const COMPLETE: &str = "_complete.json";

/// The folder of the validated output inside the work folder.
pub fn validated(work: &Path) -> PathBuf {
    work.join("validated")
}

/// The id of the run published in WORK/validated.
pub fn validated_run(work: &Path) -> anyhow::Result<String> {
    let manifest = validated(work).join(MANIFEST);
    let text = std::fs::read(&manifest).map_err(|_| {
        StepError::NotReady(format!(
            "{}: no validated output; run `ardent shard validate --work {}` first",
            manifest.display(),
            work.display()
        ))
    })?;
    let json: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("{} is not an ardent manifest", manifest.display()))?;
    Ok(json["run_id"].as_str().with_context(|| format!("{}: no run_id", manifest.display()))?.to_string())
}

/// The shard (of `n`) that customer `id` belongs to: the first 8 bytes of the SHA-256 of its
/// UTF-8 bytes, big-endian, modulo `n`. The same on every machine and version, and independent
/// of row order.
pub fn shard_of(id: &str, n: u32) -> u32 {
    let digest = Sha256::digest(id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(n)) as u32
}

/// The folders of one split.
#[derive(Debug, Clone)]
pub struct Split {
    pub dir: PathBuf,
    pub shards: u32,
    /// The validated run the split was cut from.
    pub validated_run: String,
}

impl Split {
    /// The split of the run validated in `work` into `shards` with `settings`' analytics.
    pub fn of(work: &Path, shards: u32, settings: &Settings) -> anyhow::Result<Split> {
        if shards == 0 {
            return Err(StepError::Usage("--shards must be at least 1".into()).into());
        }
        let run = validated_run(work)?;
        Ok(Split::for_run(work, shards, settings, &run))
    }

    /// The split of the validated run `run` (see [`Split::of`]).
    pub fn for_run(work: &Path, shards: u32, settings: &Settings, run: &str) -> Split {
        let mut h = Sha256::new();
        h.update(run.as_bytes());
        h.update(shards.to_be_bytes());
        // What the shards compute depends on these settings only (the output, its format and
        // the models do not change the split or a shard's tables; `[ecl]` sets the backtest's
        // horizon in the monthly sums, `[alerts]` the ledger's alerts).
        let config = &settings.config;
        let inputs = (
            &config.analytics,
            config.run.max_rate_age_days,
            &settings.ingest.reporting_currency,
            &config.ecl,
            &config.alerts,
        );
        h.update(serde_json::to_vec(&inputs).unwrap_or_default());
        let key: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
        Split { dir: work.join(format!("split-{key}")), shards, validated_run: run.to_string() }
    }

    /// `whole.json`: what every shard's book shares with the whole book.
    pub fn whole(&self) -> PathBuf {
        self.dir.join("whole.json")
    }

    /// The folder of shard `i`.
    pub fn shard(&self, i: u32) -> PathBuf {
        self.dir.join(format!("shard-{i:04}"))
    }

    /// Shard `i`'s validated customers, ledger and payments.
    pub fn inputs(&self, i: u32) -> PathBuf {
        self.shard(i).join("inputs")
    }

    /// Shard `i`'s tables and partial sums.
    pub fn out(&self, i: u32) -> PathBuf {
        self.shard(i).join("out")
    }

    /// The models' steps of this split with `settings`' model settings (`[models]`): another
    /// label, learner or seed works in another folder.
    pub fn models(&self, settings: &Settings) -> ModelsWork {
        let mut h = Sha256::new();
        h.update(serde_json::to_vec(&settings.config.models).unwrap_or_default());
        let key: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
        ModelsWork { dir: self.dir.join(format!("models-{key}")) }
    }

    /// Where `shard draw` leaves each shard's cash forecast sums, for `[cash_forecast]` as in
    /// `settings` (other parameters work in another folder): `cash-<key>/shard-i`.
    pub fn cash_parts(&self, settings: &Settings, i: u32) -> PathBuf {
        let mut h = Sha256::new();
        h.update(serde_json::to_vec(&settings.config.cash_forecast).unwrap_or_default());
        let key: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
        self.dir.join(format!("cash-{key}")).join(format!("shard-{i:04}"))
    }

    /// Check `i` is one of the shards.
    pub fn check(&self, i: u32) -> anyhow::Result<()> {
        if i >= self.shards {
            let why = format!("--shard {i} is not one of the {} shards (0 to {})", self.shards, self.shards - 1);
            return Err(StepError::Usage(why).into());
        }
        Ok(())
    }
}

/// Where the models' steps of a split keep their work: per shard its panel's outline, its
/// drawn training rows and its scores, and once the trained models.
#[derive(Debug, Clone)]
pub struct ModelsWork {
    pub dir: PathBuf,
}

impl ModelsWork {
    fn shard(&self, i: u32, step: &str) -> PathBuf {
        self.dir.join(format!("shard-{i:04}")).join(step)
    }

    /// Shard `i`'s outline (labelled rows per month end), written by `shard run`.
    pub fn outline(&self, i: u32) -> PathBuf {
        self.shard(i, "outline")
    }

    /// Shard `i`'s training and out-of-time rows, written by `shard draw`.
    pub fn drawn(&self, i: u32) -> PathBuf {
        self.shard(i, "drawn")
    }

    /// Shard `i`'s scores, written by `shard score`.
    pub fn scored(&self, i: u32) -> PathBuf {
        self.shard(i, "scored")
    }

    /// The trained models, their tables and artifacts, written by `shard train`.
    pub fn trained(&self) -> PathBuf {
        self.dir.join("train")
    }
}

/// What `_complete.json` records.
#[derive(Debug, Serialize, Deserialize)]
struct Completed {
    /// (path relative to the folder, bytes).
    files: Vec<(String, u64)>,
}

/// Whether the step folder `dir` is complete and still holds what it recorded.
pub fn is_complete(dir: &Path) -> bool {
    let Ok(text) = std::fs::read(dir.join(COMPLETE)) else { return false };
    let Ok(done) = serde_json::from_slice::<Completed>(&text) else { return false };
    done.files.iter().all(|(rel, bytes)| std::fs::metadata(dir.join(rel)).is_ok_and(|m| m.len() == *bytes))
}

/// Start the step folder `dir` afresh: an incomplete one left by a failed attempt is removed.
pub fn begin(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing the incomplete {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

/// Mark the step folder `dir` complete, listing its files.
pub fn complete(dir: &Path) -> anyhow::Result<()> {
    let files = relative_files(dir)?
        .into_iter()
        .filter(|(rel, _)| !rel.ends_with(".tmp"))
        .map(|(rel, path)| Ok((rel, std::fs::metadata(&path).with_context(|| format!("{}", path.display()))?.len())))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let text = serde_json::to_vec_pretty(&Completed { files })?;
    let (tmp, path) = (dir.join(format!("{COMPLETE}.tmp")), dir.join(COMPLETE));
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
}

/// Remove the split folders of `work` cut from another validated run than `current` (a new
/// validation makes them useless: every later step checks the run it was cut from); returns
/// how many went.
pub fn prune(work: &Path, current: &str) -> anyhow::Result<usize> {
    let mut removed = 0;
    let entries = std::fs::read_dir(work).with_context(|| format!("listing {}", work.display()))?;
    for entry in entries {
        let path = entry.with_context(|| format!("listing {}", work.display()))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !name.starts_with("split-") || !path.is_dir() {
            continue;
        }
        let run = std::fs::read(path.join("whole.json"))
            .ok()
            .and_then(|t| serde_json::from_slice::<serde_json::Value>(&t).ok())
            .and_then(|v| v["validated_run"].as_str().map(str::to_string));
        if run.as_deref() != Some(current) {
            std::fs::remove_dir_all(&path).with_context(|| format!("removing {}", path.display()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Bytes of every file under `dir`.
pub fn bytes_under(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for (_, path) in relative_files(dir)? {
        total += std::fs::metadata(&path).with_context(|| format!("{}", path.display()))?.len();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn shards_are_fixed_by_the_id_alone() {
        // The documented rule: the first 8 bytes of the SHA-256, big-endian, modulo N.
        let digest = Sha256::digest(b"C00001");
        let first = u64::from_be_bytes(digest[..8].try_into().unwrap());
        assert_eq!(shard_of("C00001", 7), (first % 7) as u32);
        assert_eq!(shard_of("C00001", 1), 0);
        // Spread: 10,000 ids over 4 shards, each within 10% of a quarter.
        let mut count = [0u32; 4];
        for i in 0..10_000 {
            count[shard_of(&format!("C{i:05}"), 4) as usize] += 1;
        }
        assert!(count.iter().all(|&c| (2250..=2750).contains(&c)), "{count:?}");
    }

    #[test]
    fn a_new_validation_prunes_the_splits_of_earlier_ones() {
        let work = tempfile::tempdir().unwrap();
        for (dir, run) in [("split-a", Some("r1")), ("split-b", Some("r2")), ("split-c", None)] {
            let path = work.path().join(dir);
            std::fs::create_dir_all(&path).unwrap();
            if let Some(run) = run {
                std::fs::write(path.join("whole.json"), format!(r#"{{"validated_run": "{run}"}}"#)).unwrap();
            }
        }
        std::fs::create_dir_all(work.path().join("validated")).unwrap();
        assert_eq!(prune(work.path(), "r2").unwrap(), 2);
        let left: Vec<String> = std::fs::read_dir(work.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(left, ["split-b", "validated"]);
    }

    #[test]
    fn a_step_folder_is_complete_only_as_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let step = dir.path().join("step");
        begin(&step).unwrap();
        std::fs::write(step.join("a.parquet"), b"12345").unwrap();
        assert!(!is_complete(&step), "no marker yet");
        complete(&step).unwrap();
        assert!(is_complete(&step));
        std::fs::write(step.join("a.parquet"), b"123").unwrap();
        assert!(!is_complete(&step), "a file changed size");
        begin(&step).unwrap();
        assert!(!step.join("a.parquet").exists(), "an incomplete folder starts afresh");
    }
}
