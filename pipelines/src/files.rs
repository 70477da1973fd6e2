//! What is a file of a run: its path, size and SHA-256, and which files a folder holds. The
//! manifest lists them; `ardent verify` checks them; staging, Delta publishing and pruning
//! walk folders with [`relative_files`].

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use ardent_engine::EngineError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One published file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RunFile {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// SHA-256 (hex) and size of files, by path.
pub type Checksums = std::collections::HashMap<PathBuf, (String, u64)>;

/// SHA-256 (hex) and size of the file at `path`, read a megabyte at a time.
pub fn sha256(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buf[..n]);
    }
    let digest = hasher.finalize();
    Ok((digest.iter().map(|b| format!("{b:02x}")).collect(), bytes))
}

/// Every file under `dir` (recursively) with its `/`-separated relative path, in path order.
pub fn relative_files(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            if entry.file_type()?.is_dir() {
                walk(&entry.path(), &rel, out)?;
            } else {
                out.push((rel, entry.path()));
            }
        }
        Ok(())
    }
    let mut found = Vec::new();
    walk(dir, "", &mut found).map_err(EngineError::io("listing", dir))?;
    found.sort();
    Ok(found)
}

/// Size and SHA-256 of every file under `dir`.
pub fn checksum_tree(dir: &Path) -> anyhow::Result<Vec<RunFile>> {
    relative_files(dir)?
        .into_iter()
        .map(|(path, full)| {
            let (sha256, bytes) = sha256(&full).map_err(EngineError::io("checksumming", &full))?;
            Ok(RunFile { path, bytes, sha256 })
        })
        .collect()
}
