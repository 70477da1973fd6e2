//! The bundled sample inside the binary: the committed exports (`sample-data/exports/`) and
//! their pipeline, so that `ardent run` without a config works from any folder with only the
//! binary. [`materialise`] writes them once into a folder named by their content, and later
//! runs reuse it.

use std::path::{Path, PathBuf};

/// Every file of the sample, by its path under the sample's folder.
pub const FILES: &[(&str, &[u8])] = &[
    ("pipeline.toml", include_bytes!("../pipeline.toml")),
    ("exports/customers.csv", include_bytes!("../exports/customers.csv")),
    ("exports/fx_rates.csv", include_bytes!("../exports/fx_rates.csv")),
    ("exports/ledger.csv", include_bytes!("../exports/ledger.csv")),
    ("exports/payments.csv", include_bytes!("../exports/payments.csv")),
];

/// A name for the sample's content (FNV-1a over every file's path and bytes): a binary with
/// another sample never reads this one's folder.
pub fn fingerprint() -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (path, bytes) in FILES {
        for &b in path.as_bytes().iter().chain([0u8].iter()).chain(bytes.iter()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// Write the sample under `root` (in `root/sample-<fingerprint>/`, unless already there) and
/// return its pipeline's path. The files are written to a folder of their own first and
/// renamed into place, so a run that stops half way never leaves half a sample.
pub fn materialise(root: &Path) -> std::io::Result<PathBuf> {
    let dir = root.join(format!("sample-{}", fingerprint()));
    let config = dir.join("pipeline.toml");
    let intact = || FILES.iter().all(|(path, bytes)| std::fs::read(dir.join(path)).is_ok_and(|b| b == *bytes));
    if intact() {
        return Ok(config);
    }
    std::fs::create_dir_all(root)?;
    let staging = root.join(format!(".sample-{}-{}", fingerprint(), std::process::id()));
    for (path, bytes) in FILES {
        let file = staging.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, bytes)?;
    }
    // A damaged copy (a file changed or cut short) is replaced.
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    match std::fs::rename(&staging, &dir) {
        Ok(()) => Ok(config),
        // Another run put it there first: use that one.
        Err(_) if intact() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(config)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_written_out_is_the_committed_sample_and_is_written_once() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let config = materialise(dir.path()).expect("the sample is written");
        let committed = Path::new(env!("CARGO_MANIFEST_DIR"));
        let folder = config.parent().expect("a folder").to_path_buf();
        for (path, _) in FILES {
            let written = std::fs::read(folder.join(path)).expect("written");
            assert_eq!(written, std::fs::read(committed.join(path)).expect("committed"), "{path}");
        }
        // A second call finds it in place.
        let stamp = std::fs::metadata(&config).and_then(|m| m.modified()).expect("a time");
        assert_eq!(materialise(dir.path()).expect("the sample is written"), config);
        assert_eq!(std::fs::metadata(&config).and_then(|m| m.modified()).expect("a time"), stamp);
        // A sample cut short is written again.
        std::fs::write(folder.join("exports/ledger.csv"), b"doc_id\n").expect("written");
        assert_eq!(materialise(dir.path()).expect("the sample is written"), config);
        let ledger = |root: &Path| std::fs::read(root.join("exports/ledger.csv")).expect("a ledger");
        assert_eq!(ledger(&folder), ledger(committed), "a damaged sample is written again");
    }
}
