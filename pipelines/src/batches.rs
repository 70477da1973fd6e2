//! Incremental runs (`run.incremental = true`): which export batches are new. Every file an
//! input's location holds is a batch. [`BatchState`] (`<state>/batches.json`) records each
//! batch ingested so far by SHA-256; [`plan`] compares the delivered files with it;
//! [`archive`] copies new batches into `<state>/batches/<input>/`, which is what the run then
//! reads (so a drop folder may be emptied after each delivery, even while or right after a run
//! was killed: the archive is never pruned, and a batch archived but not recorded is new again
//! for the next run); [`BatchState::record`] runs only after the output was published, so a
//! failed or killed run records nothing.
//!
//! Rules (README, "Incremental runs"):
//! - a file whose content was ingested before is skipped, whatever its name (delivered twice);
//! - batches are applied in file-name order, so name them by export date;
//! - a ledger document or a customer exported again in a later batch replaces the earlier row
//!   (the latest export wins); the earlier row goes to the quarantine as `superseded` and the
//!   run reports how many were replaced;
//! - no new batch and an output already published: the run changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ardent_engine::EngineError;
use ardent_engine::ingest::IngestSpec;
use ardent_engine::ingest::read::resolve_files;
use serde::{Deserialize, Serialize};

use crate::files::{Checksums, sha256};
use crate::settings::Settings;

const STATE_FILE: &str = "batches.json";
const ARCHIVE: &str = "batches";

/// Every batch ingested so far, per input, in the order they were archived.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BatchState {
    pub inputs: BTreeMap<String, Vec<Batch>>,
}

/// One ingested batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// File name in the archive (the delivered name, or `<stem>~<sha8>.<ext>` when a
    /// different file with that name was ingested before).
    pub name: String,
    /// The name it was delivered under.
    pub delivered_as: String,
    pub sha256: String,
    pub bytes: u64,
    /// The run that first published it.
    pub run_id: String,
}

/// What one input's location holds compared with the state.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InputBatches {
    /// New batches: archive name, delivered name.
    pub new: Vec<String>,
    /// Files whose content was ingested before (delivered again): skipped.
    pub redelivered: Vec<String>,
    /// Batches ingested before this run.
    pub earlier: usize,
    #[serde(skip)]
    pending: Vec<Pending>,
}

#[derive(Debug, Clone)]
struct Pending {
    from: PathBuf,
    batch: Batch,
}

/// The batches of a run, per input (in the manifest as `batches`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub inputs: BTreeMap<String, InputBatches>,
}

impl Plan {
    /// Whether any input has a new batch.
    pub fn has_new(&self) -> bool {
        self.inputs.values().any(|i| !i.new.is_empty())
    }
}

impl BatchState {
    /// The state at `dir`, empty when there is none yet.
    pub fn load(dir: &Path) -> anyhow::Result<BatchState> {
        let path = dir.join(STATE_FILE);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                anyhow::anyhow!(
                    "{}: not a batch state this version reads ({e}); move it away to start the state afresh",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BatchState::default()),
            Err(e) => Err(EngineError::io("reading", &path)(e).into()),
        }
    }

    /// Add the plan's new batches as published by `run_id`, and save (atomically).
    pub fn record(mut self, plan: &Plan, run_id: &str, dir: &Path) -> anyhow::Result<()> {
        for (input, b) in &plan.inputs {
            let list = self.inputs.entry(input.clone()).or_default();
            for p in &b.pending {
                list.push(Batch { run_id: run_id.to_string(), ..p.batch.clone() });
            }
        }
        let path = dir.join(STATE_FILE);
        let tmp = dir.join(format!(".{STATE_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(&self)?;
        std::fs::write(&tmp, json).map_err(EngineError::io("writing", &tmp))?;
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(EngineError::io("writing", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(EngineError::io("moving into place", &path))?;
        std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(EngineError::io("writing", dir))?;
        Ok(())
    }
}

/// Compare what each input's location holds with `state` (whose folder is `dir`). Batches a
/// killed run archived without recording them are new batches again, whether or not the drop
/// folder still holds them; an input whose drop folder is empty (or gone) has no new batch,
/// as long as batches of it were archived before.
pub fn plan(settings: &Settings, state: &BatchState, dir: &Path) -> anyhow::Result<Plan> {
    let mut plan = Plan::default();
    for spec in &settings.ingest.inputs {
        let known = state.inputs.get(spec.kind.name()).map(Vec::as_slice).unwrap_or_default();
        let mut b = InputBatches { earlier: known.len(), ..Default::default() };
        // Archived, not recorded: a run was killed (or failed) after archiving them.
        let folder = dir.join(ARCHIVE).join(spec.kind.name());
        let mut unrecorded: Vec<PathBuf> =
            std::fs::read_dir(&folder).map(|entries| entries.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        unrecorded.retain(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            !name.starts_with('.') && p.is_file() && !known.iter().any(|k| k.name == name)
        });
        unrecorded.sort();
        for path in unrecorded {
            let (sha, bytes) = sha256(&path).map_err(EngineError::io("checksumming", &path))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if known.iter().chain(b.pending.iter().map(|p| &p.batch)).any(|k| k.sha256 == sha) {
                continue;
            }
            b.new.push(name.clone());
            b.pending.push(Pending {
                from: path.clone(),
                batch: Batch { name: name.clone(), delivered_as: name, sha256: sha, bytes, run_id: String::new() },
            });
        }
        let delivered = match resolve_files(spec) {
            Ok(files) => files,
            // An emptied drop folder: the archive holds what was delivered.
            Err(EngineError::MissingInput { .. }) if !known.is_empty() || !b.pending.is_empty() => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        for file in delivered {
            let (sha, bytes) = sha256(&file.path).map_err(EngineError::io("checksumming", &file.path))?;
            let delivered = file.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let seen = known.iter().chain(b.pending.iter().map(|p| &p.batch)).any(|k| k.sha256 == sha);
            if seen {
                b.redelivered.push(delivered);
                continue;
            }
            let taken = |name: &str| known.iter().chain(b.pending.iter().map(|p| &p.batch)).any(|k| k.name == name);
            let name = if taken(&delivered) { revision_name(&delivered, &sha) } else { delivered.clone() };
            b.new.push(name.clone());
            b.pending.push(Pending {
                from: file.path.clone(),
                batch: Batch { name, delivered_as: delivered, sha256: sha, bytes, run_id: String::new() },
            });
        }
        plan.inputs.insert(spec.kind.name().to_string(), b);
    }
    Ok(plan)
}

/// `ledger_2025-01-05.csv` → `ledger_2025-01-05~1a2b3c4d.csv`: sorts right after the
/// name it revises and before the next date.
fn revision_name(name: &str, sha: &str) -> String {
    let tag = &sha[..8.min(sha.len())];
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}~{tag}.{ext}"),
        None => format!("{name}~{tag}"),
    }
}

/// Copy the archive of the state at `from` to `to` (for `ardent validate`, which writes
/// nothing to the state).
pub fn copy_archive(from: &Path, to: &Path) -> anyhow::Result<()> {
    let archive = from.join(ARCHIVE);
    let Ok(inputs) = std::fs::read_dir(&archive) else { return Ok(()) };
    for input in inputs.flatten() {
        let into = to.join(ARCHIVE).join(input.file_name());
        std::fs::create_dir_all(&into).map_err(EngineError::io("creating", &into))?;
        for file in std::fs::read_dir(input.path()).map_err(EngineError::io("listing", &input.path()))?.flatten() {
            let target = into.join(file.file_name());
            // A hard link costs nothing; a copy when the folders are on different devices.
            if std::fs::hard_link(file.path(), &target).is_err() {
                std::fs::copy(file.path(), &target).map_err(EngineError::io("copying", &file.path()))?;
            }
        }
    }
    Ok(())
}

/// Copy the plan's new batches into the archive. The archive only grows: a batch a killed run
/// archived without recording it is in the plan again ([`plan`]), and only half-copied files
/// (`.<name>.tmp`) are removed. Returns the checksum of every archived file, for the
/// manifest, and what the run reads instead of the drop folders: every input at its archive
/// folder, the latest export winning for ledger and customers (the resolved settings stay as
/// they were; the run makes its own from them with [`Settings::reading`]).
pub fn archive(
    plan: &Plan,
    state: &BatchState,
    dir: &Path,
    ingest: &IngestSpec,
) -> anyhow::Result<(Checksums, IngestSpec)> {
    let mut sums = Checksums::new();
    let mut reads = ingest.clone();
    for spec in &mut reads.inputs {
        let folder = dir.join(ARCHIVE).join(spec.kind.name());
        std::fs::create_dir_all(&folder).map_err(EngineError::io("creating", &folder))?;
        let recorded = state.inputs.get(spec.kind.name()).map(Vec::as_slice).unwrap_or_default();
        for entry in std::fs::read_dir(&folder).map_err(EngineError::io("listing", &folder))?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                std::fs::remove_file(entry.path()).map_err(EngineError::io("removing", &entry.path()))?;
            }
        }
        for b in recorded {
            sums.insert(folder.join(&b.name), (b.sha256.clone(), b.bytes));
        }
        if let Some(b) = plan.inputs.get(spec.kind.name()) {
            for p in &b.pending {
                sums.insert(folder.join(&p.batch.name), (p.batch.sha256.clone(), p.batch.bytes));
                let to = folder.join(&p.batch.name);
                if p.from == to {
                    // Archived by a run that did not publish: already in place.
                    continue;
                }
                // Copied whole, on disk, then renamed: the archive never holds half a batch.
                let tmp = folder.join(format!(".{}.tmp", p.batch.name));
                std::fs::copy(&p.from, &tmp).map_err(EngineError::io("archiving", &p.from))?;
                std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(EngineError::io("archiving", &tmp))?;
                std::fs::rename(&tmp, &to).map_err(EngineError::io("archiving", &to))?;
            }
        }
        spec.shown_as = Some((folder.clone(), format!("{}/{ARCHIVE}/{}", dir.display(), spec.kind.name())));
        spec.path = folder;
        spec.latest_wins = true;
    }
    Ok((sums, reads))
}
