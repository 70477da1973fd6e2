//! How a finished run folder becomes the published output in one atomic step, locally and
//! in object stores, and how old runs are pruned. [`Staging`] is made by
//! the run writer (publish.rs), filled with the run's files, and consumed by [`Staging::commit`].
//!
//! Layout of an output location:
//!
//! ```text
//! runs/<run_id>/…            every file of one run, its _manifest.json written last
//! _manifest.json             the published run: its data_prefix names runs/<run_id>/
//! current -> runs/<run_id>   (local only) the published run folder
//! ledger.parquet -> current/ledger.parquet, aging -> current/aging, …   (local only)
//! ```
//!
//! The commit point is one operation that readers cannot observe half done: locally, the
//! rename of a new `current` symbolic link over the old one (the root `_manifest.json` and
//! every table path are links through `current`, so they all switch together); in an object
//! store, the single PUT of the root `_manifest.json`. A run killed before that point leaves
//! the previous output exactly as it was; its leftovers are removed by the next run.
//! One writer per output location at a time.

use std::path::{Path, PathBuf};

use ardent_engine::EngineError;

use crate::config_error::ConfigError;
use crate::layout::{CURRENT, DELTA_LOG, MANIFEST, RUNS};
use crate::location::{Location, Remote};
use crate::printer::Printer;

const PARTIAL: &str = ".partial";

/// What the output held before this run.
#[derive(Debug, Default)]
pub struct PublishedBefore {
    /// Runs published before that are kept (newest first).
    pub runs: Vec<String>,
    /// The Delta tables the published run had, and those it had emptied (published by an
    /// earlier run, not produced since).
    pub delta_tables: Vec<String>,
    pub emptied: Vec<String>,
}

/// A run folder being written.
#[derive(Debug)]
pub struct Staging {
    target: Location,
    dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    /// Folders (output root, `runs/`) that did not exist before this run, outermost first.
    created: Vec<PathBuf>,
}

impl Drop for Staging {
    /// A run that fails before its commit removes its partial folder (after the commit the
    /// folder has been renamed and nothing is left to remove). A killed run cannot; the next
    /// published run prunes what it left.
    fn drop(&mut self) {
        if self._temp.is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
            // Folders this run created, now empty, go too: a failed first run leaves nothing.
            for dir in self.created.iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

impl Staging {
    /// A new, empty staging folder for `run_id` at `out`: `runs/<run_id>.partial/` locally,
    /// a temporary folder for an object store.
    pub fn new(out: &Location, run_id: &str) -> anyhow::Result<Staging> {
        match out {
            Location::Local(root) => {
                let runs = root.join(RUNS);
                let created = [root.clone(), runs.clone()].into_iter().filter(|d| !d.exists()).collect();
                let dir = runs.join(format!("{run_id}{PARTIAL}"));
                std::fs::create_dir_all(&dir).map_err(EngineError::io("creating", &dir))?;
                Ok(Staging { target: out.clone(), dir, _temp: None, created })
            }
            Location::Remote(_) => {
                let temp = tempfile::Builder::new().prefix("ardent-run-").tempdir().map_err(
                    ardent_engine::EngineError::temp(
                        "creating the run's staging folder",
                        "the size of the run's outputs",
                    ),
                )?;
                Ok(Staging {
                    target: out.clone(),
                    dir: temp.path().to_path_buf(),
                    _temp: Some(temp),
                    created: Vec::new(),
                })
            }
        }
    }

    /// The folder to write the run's files into.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// What was published before this run: the runs pruning keeps (newest first, at most
    /// `keep - 1`: the published run and the history its manifest carries) and its Delta
    /// tables. Empty for an output published before manifests carried these.
    pub fn published_before(&self, keep: usize) -> anyhow::Result<PublishedBefore> {
        let text = match &self.target {
            Location::Local(root) => {
                let path = root.join(MANIFEST);
                match std::fs::read(&path) {
                    Ok(t) => Some(t),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => return Err(EngineError::Io { action: "reading", path, error: e }.into()),
                }
            }
            Location::Remote(remote) => remote.get(MANIFEST)?,
        };
        let Some(text) = text else { return Ok(PublishedBefore::default()) };
        #[derive(serde::Deserialize)]
        struct Output {
            table: String,
            #[serde(default)]
            version: Option<u64>,
        }
        #[derive(serde::Deserialize)]
        struct Published {
            run_id: String,
            #[serde(default)]
            previous_runs: Vec<String>,
            #[serde(default)]
            outputs: Vec<Output>,
            #[serde(default)]
            emptied_tables: Vec<String>,
        }
        let Ok(published) = serde_json::from_slice::<Published>(&text) else { return Ok(PublishedBefore::default()) };
        let mut runs = vec![published.run_id];
        runs.extend(published.previous_runs);
        runs.truncate(keep.saturating_sub(1));
        let delta_tables = published.outputs.into_iter().filter(|o| o.version.is_some()).map(|o| o.table).collect();
        Ok(PublishedBefore { runs, delta_tables, emptied: published.emptied_tables })
    }

    /// Publish the staged run (its `_manifest.json` already written, `manifest` its
    /// bytes), then keep only the `keep` newest published runs.
    /// `kept` are the runs published before (from [`Staging::published_before`]): every other
    /// run folder is deleted once this one is published.
    pub fn commit(self, run_id: &str, manifest: &[u8], kept: &[String], printer: &Printer) -> anyhow::Result<()> {
        match &self.target {
            Location::Local(root) => commit_local(root, &self.dir, run_id, kept, printer),
            Location::Remote(remote) => commit_remote(remote, &self.dir, run_id, manifest, kept, printer),
        }
    }
}

fn commit_local(root: &Path, staged: &Path, run_id: &str, kept: &[String], printer: &Printer) -> anyhow::Result<()> {
    let runs = root.join(RUNS);
    let final_dir = runs.join(run_id);
    // Temporary links a killed run left behind.
    for entry in std::fs::read_dir(root).map_err(EngineError::io("listing", root))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(".link-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    // A plain Parquet run links each of its names at the root: a Delta table of an earlier
    // run by the same name would be replaced. Refused before anything is published.
    for entry in std::fs::read_dir(staged).map_err(EngineError::io("listing", staged))?.flatten() {
        let at = root.join(entry.file_name());
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.is_dir()) && at.join(DELTA_LOG).is_dir() {
            return Err(ConfigError(format!(
                "{} is a Delta table, and this run publishes plain Parquet under the same name; nothing was \
                 published. Publish plain Parquet to another folder, or keep run.table_format = \"delta\"",
                at.display()
            ))
            .into());
        }
    }
    // Durable before visible: every file and folder of the run reaches the disk before the
    // renames that publish it, and each rename before the next step relies on it.
    sync_tree(staged)?;
    std::fs::rename(staged, &final_dir).map_err(EngineError::io("moving into place", &final_dir))?;
    sync_dir(&runs)?;
    // The commit point: `current` now names the new run.
    replace_with_link(root, CURRENT, &Path::new(RUNS).join(run_id))?;
    sync_dir(root)?;
    printer.info(
        "run_published",
        format!("publish: {} now points to run {run_id}", root.join(CURRENT).display()),
        serde_json::json!({"run_id": run_id, "out": root.display().to_string()}),
    );
    // Stable paths for BI tools, each through `current`; they switched with it.
    let mut names: Vec<String> = std::fs::read_dir(&final_dir)
        .map_err(EngineError::io("listing", &final_dir))?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(EngineError::io("listing", &final_dir))?;
    names.sort();
    for name in &names {
        let target = Path::new(CURRENT).join(name);
        let at = root.join(name);
        if std::fs::read_link(&at).ok().as_deref() != Some(target.as_path()) {
            replace_with_link(root, name, &target)?;
        }
    }
    // Links to tables the new run does not have (models skipped, say) would dangle.
    for entry in std::fs::read_dir(root).map_err(EngineError::io("listing", root))?.flatten() {
        let at = entry.path();
        if let Ok(target) = std::fs::read_link(&at)
            && target.starts_with(CURRENT)
            && !root.join(&target).exists()
        {
            std::fs::remove_file(&at).map_err(EngineError::io("removing", &at))?;
        }
    }
    sync_dir(root)?;
    let mut ids: Vec<String> = std::fs::read_dir(&runs)
        .map_err(EngineError::io("listing", &runs))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    for id in doomed(&ids, run_id, kept) {
        let dir = runs.join(&id);
        std::fs::remove_dir_all(&dir).map_err(EngineError::io("removing an old run", &dir))?;
    }
    Ok(())
}

/// Point `root/name` at `target` in one rename (a link next to it, then moved over it).
fn replace_with_link(root: &Path, name: &str, target: &Path) -> anyhow::Result<()> {
    let at = root.join(name);
    let tmp = root.join(format!(".{name}.link-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    symlink(target, &tmp).map_err(EngineError::io("creating a link", &tmp))?;
    // A real folder from an older layout cannot be renamed over; it goes first.
    if std::fs::symlink_metadata(&at).is_ok_and(|m| m.is_dir()) {
        std::fs::remove_dir_all(&at).map_err(EngineError::io("replacing", &at))?;
    }
    std::fs::rename(&tmp, &at).map_err(EngineError::io("moving into place", &at))?;
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

#[cfg(windows)]
fn symlink(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_dir(target, at)
}

fn commit_remote(
    remote: &Remote,
    staged: &Path,
    run_id: &str,
    manifest: &[u8],
    kept: &[String],
    printer: &Printer,
) -> anyhow::Result<()> {
    let files = crate::files::relative_files(staged)?;
    for (rel, full) in files.iter().filter(|(rel, _)| rel != MANIFEST) {
        remote.upload(full, &format!("{RUNS}/{run_id}/{rel}"))?;
    }
    remote.put(&format!("{RUNS}/{run_id}/{MANIFEST}"), manifest.to_vec())?;
    // The commit point: one PUT replaces the root manifest.
    remote.put(MANIFEST, manifest.to_vec())?;
    printer.info(
        "run_published",
        format!("publish: {} now names run {run_id} ({} files)", remote.url_of(MANIFEST), files.len()),
        serde_json::json!({"run_id": run_id, "out": remote.url_of(""), "files": files.len()}),
    );
    let listed = remote.list(RUNS)?;
    let mut ids: Vec<String> = listed.iter().filter_map(|(rel, _)| rel.split('/').nth(1).map(str::to_string)).collect();
    ids.sort();
    ids.dedup();
    for id in doomed(&ids, run_id, kept) {
        remote.delete_all(&format!("{RUNS}/{id}"))?;
    }
    Ok(())
}

/// Run folders to delete after `current` was published: every one but `current` and the
/// runs published before it that are kept (`kept`). A folder of a run that never published
/// (killed before or during its commit, or refused) is never kept, whatever it holds.
fn doomed(ids: &[String], current: &str, kept: &[String]) -> Vec<String> {
    ids.iter().filter(|id| id.as_str() != current && !kept.contains(id)).cloned().collect()
}

/// fsync every file and folder under `dir`, the deepest first, and `dir` itself.
fn sync_tree(dir: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).map_err(EngineError::io("listing", dir))? {
        let entry = entry.map_err(EngineError::io("listing", dir))?;
        let path = entry.path();
        if entry.file_type().map_err(EngineError::io("listing", &path))?.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path).and_then(|f| f.sync_all()).map_err(EngineError::io("syncing to disk", &path))?;
        }
    }
    sync_dir(dir)
}

/// fsync a folder, so the names created, renamed or removed in it are on disk.
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir).and_then(|f| f.sync_all()).map_err(EngineError::io("syncing to disk", dir))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::doomed;

    #[test]
    fn pruning_keeps_the_published_run_and_those_published_before_it_only() {
        let ids: Vec<String> = ["a", "b", "b.partial", "c", "d", "e"].iter().map(|s| s.to_string()).collect();
        // "d" is published; "a" was published before it; "c" finished but never published
        // (killed between its two renames); "e" came from a run killed after "d".
        let kept = ["a".to_string()];
        assert_eq!(doomed(&ids, "d", &kept), ["b", "b.partial", "c", "e"]);
        assert_eq!(doomed(&ids, "d", &[]), ["a", "b", "b.partial", "c", "e"]);
    }
}
