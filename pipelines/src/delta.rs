//! How a run's tables become Delta Lake tables at stable paths (`run.table_format = "delta"`,
//! the default). Every output table is a Delta table at `<out>/<table>/`, written through
//! delta-rs (the `deltalake` crate) over the same object_store as the rest of ardent, so local
//! folders and object stores behave alike. A run adds one version to each table:
//!
//! 1. its data files are moved (locally) or uploaded (object stores) from the staging folder
//!    into the table folder, named for the run (`part-<run_id>.parquet`, and
//!    `as_of=YYYY-MM-DD/part-<run_id>.parquet` for a table partitioned by as-of date); no
//!    reader sees them until the commit names them;
//! 2. one commit per table, in the order of the manifest's `outputs` (the order the stages
//!    produce them: validated inputs, data quality and quarantine, dashboards, models),
//!    overwrites the table: it removes the previous version's files and adds the run's, and
//!    carries `ardent_run_id` in its commit info. The first run creates the table; a run whose
//!    contract changed (another config, another ardent version) replaces the table's schema in
//!    the same commit;
//! 3. the run writer (publish.rs) then records each table's version in the run's manifest and
//!    publishes the manifest (commit.rs), so a reader can read one run consistently across tables
//!    by time travel to those versions.
//!
//! A table a run does not produce (the models stage turned off, say) is emptied by a commit of
//! its own rather than left holding an older run's rows. Retention ([`Tables::prune`]) deletes the data
//! files of runs no longer kept (`run.keep_runs`): never a file of the table's current version,
//! and never the log, so time travel to the kept runs' versions keeps working.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use ardent_engine::EngineError;
use ardent_engine::contracts::{OutType, TableContract};
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, DataType, PrimitiveType, StructField, StructType};
use deltalake::logstore::{LogStoreRef, StorageConfig, default_logstore};
use deltalake::operations::create::CreateBuilder;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::{DeltaTable, DeltaTableError};
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::prefix::PrefixStore;

use crate::files::RunFile;
use crate::layout::DELTA_LOG;
use crate::location::Location;
use crate::printer::Printer;

/// The commit-info key that names the run a version came from.
pub const RUN_ID_KEY: &str = "ardent_run_id";

/// A table of the run as it lies in the staging folder.
#[derive(Debug)]
pub struct StagedTable<'a> {
    pub contract: &'a TableContract,
    /// Its files, paths relative to the staging folder.
    pub files: Vec<RunFile>,
}

/// A table version a run committed.
#[derive(Debug, Clone)]
pub struct Committed {
    pub table: String,
    pub version: u64,
    /// The version's data files, paths relative to the table folder.
    pub files: Vec<RunFile>,
}

/// The data file of the run `run_id` for the staged file `staged` of `contract`.
pub fn data_file(contract: &TableContract, staged: &str, run_id: &str) -> String {
    let name = format!("part-{run_id}.parquet");
    match contract.partition {
        // `<table>/<column>=<value>/part-0.parquet`
        Some(_) => match staged.split('/').nth(1) {
            Some(partition) => format!("{partition}/{name}"),
            None => name,
        },
        None => name,
    }
}

/// The run a data file came from, from its name (`part-<run_id>.parquet`); `None` for a
/// file ardent did not name (it is never deleted).
pub fn run_of(data_file: &str) -> Option<&str> {
    let run = data_file.rsplit('/').next()?.strip_prefix("part-")?.strip_suffix(".parquet")?;
    is_run_id(run).then_some(run)
}

/// Whether `text` has the shape of a run id (`20261206T211149.123Z-1a2b3c4d`).
fn is_run_id(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 29
        && digits(0..8)
        && b[8] == b'T'
        && digits(9..15)
        && b[15] == b'.'
        && digits(16..19)
        && &b[19..21] == b"Z-"
        && b[21..].iter().all(u8::is_ascii_hexdigit)
}

/// The Delta schema of `contract`: its columns with their documented types and nullability
/// (counts as `long`, money as `decimal(18,2)`, dates as `date`).
pub fn schema_of(contract: &TableContract) -> anyhow::Result<StructType> {
    let fields = contract.columns.iter().map(|c| {
        let ty = match c.ty {
            OutType::Text => DataType::Primitive(PrimitiveType::String),
            OutType::Date => DataType::Primitive(PrimitiveType::Date),
            OutType::Money => DataType::decimal(18, 2)?,
            OutType::Rate => DataType::decimal(18, 10)?,
            OutType::Bool => DataType::Primitive(PrimitiveType::Boolean),
            OutType::Count | OutType::Int => DataType::Primitive(PrimitiveType::Long),
            OutType::Float => DataType::Primitive(PrimitiveType::Double),
            OutType::Timestamp => DataType::Primitive(PrimitiveType::Timestamp),
        };
        Ok(StructField::new(c.name.to_string(), ty, c.nullable))
    });
    Ok(StructType::try_new(fields.collect::<anyhow::Result<Vec<_>>>()?)?)
}

/// Where the Delta tables of an output live, and the runtime that drives delta-rs.
pub struct Tables {
    out: Location,
    root: Arc<dyn ObjectStore>,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tables").field("out", &self.out).finish_non_exhaustive()
    }
}

impl Tables {
    /// The tables of the output at `out`.
    pub fn at(out: &Location) -> anyhow::Result<Tables> {
        match out {
            Location::Local(_) => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("starting the I/O runtime of the Delta tables")?;
                Ok(Tables { out: out.clone(), root: Arc::new(LocalFileSystem::new()), runtime: Arc::new(runtime) })
            }
            Location::Remote(remote) => {
                let (root, runtime) = remote.store_and_runtime();
                Ok(Tables { out: out.clone(), root, runtime })
            }
        }
    }

    /// The URL and log store of the table `name`.
    fn log_store(&self, name: &str) -> anyhow::Result<(String, LogStoreRef)> {
        let (url, prefix) = match &self.out {
            Location::Local(root) => {
                let dir = std::path::absolute(root.join(name)).map_err(EngineError::io("resolving", root))?;
                let url = url::Url::from_directory_path(&dir)
                    .map_err(|()| anyhow::anyhow!("{}: not a path a URL can name", dir.display()))?;
                let prefix = object_store::path::Path::from_absolute_path(&dir)
                    .with_context(|| format!("{}: not a path the object store can name", dir.display()))?;
                (url, prefix)
            }
            Location::Remote(remote) => {
                let text = remote.url_of(name);
                (
                    url::Url::parse(&format!("{text}/")).with_context(|| format!("{text}: not a URL"))?,
                    remote.path_of(name),
                )
            }
        };
        let prefixed: Arc<dyn ObjectStore> = Arc::new(PrefixStore::new(self.root.clone(), prefix));
        let store = default_logstore(prefixed, self.root.clone(), &url, &StorageConfig::default());
        Ok((url.to_string(), store))
    }

    /// Whether there can be no table `name` at all (a local folder that does not exist,
    /// which delta-rs reports as an invalid location rather than as no table).
    fn surely_absent(&self, name: &str) -> bool {
        matches!(&self.out, Location::Local(root) if !root.join(name).join(DELTA_LOG).is_dir())
    }

    /// The table `name` at `version` (`None`: its latest), or `None` where there is no Delta
    /// table or no such version.
    fn open(&self, name: &str, version: Option<u64>) -> anyhow::Result<Option<DeltaTable>> {
        if self.surely_absent(name) {
            return Ok(None);
        }
        let (url, store) = self.log_store(name)?;
        let mut table = DeltaTable::new(store);
        let loaded = match version {
            Some(v) => self.runtime.block_on(table.load_version(v)),
            None => self.runtime.block_on(table.load()),
        };
        match loaded {
            Ok(()) => Ok(Some(table)),
            Err(DeltaTableError::NotATable(_) | DeltaTableError::InvalidVersion(_)) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context(format!("reading the Delta log of {url}"))),
        }
    }

    /// The data files of the table `name` at `version` (`None`: its latest), paths relative to
    /// the table folder; `None` where there is no such table or version.
    pub fn files_at(&self, name: &str, version: Option<u64>) -> anyhow::Result<Option<Vec<(String, u64)>>> {
        let Some(table) = self.open(name, version)? else { return Ok(None) };
        let state = table.snapshot()?;
        let mut files: Vec<(String, u64)> =
            state.log_data().into_iter().map(|f| (f.path().to_string(), f.size().max(0) as u64)).collect();
        files.sort();
        Ok(Some(files))
    }

    /// The run that committed `version` of the table `name` (its commit info), if ardent did.
    pub fn run_of_version(&self, name: &str, version: u64) -> anyhow::Result<Option<String>> {
        let (url, store) = self.log_store(name)?;
        let bytes = self
            .runtime
            .block_on(store.read_commit_entry(version))
            .with_context(|| format!("reading version {version} of {url}"))?;
        let Some(bytes) = bytes else { return Ok(None) };
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(action) = serde_json::from_slice::<serde_json::Value>(line) else { continue };
            if let Some(id) = action.get("commitInfo").and_then(|c| c.get(RUN_ID_KEY)).and_then(|v| v.as_str()) {
                return Ok(Some(id.to_string()));
            }
        }
        Ok(None)
    }

    /// Move (or upload) each staged table's files into its table folder and commit one
    /// version per table, in the order given; then empty the tables in `retired` (published
    /// before, not produced by this run). Returns the versions committed.
    pub fn publish(
        &self,
        staged: &Path,
        run_id: &str,
        tables: &[StagedTable<'_>],
        retired: &[String],
        printer: &Printer,
    ) -> anyhow::Result<Vec<Committed>> {
        let mut committed = Vec::with_capacity(tables.len());
        for table in tables {
            let name = table.contract.name;
            let mut adds = Vec::with_capacity(table.files.len());
            let mut files = Vec::with_capacity(table.files.len());
            for f in &table.files {
                let rel = data_file(table.contract, &f.path, run_id);
                let from = staged.join(&f.path);
                let rows = rows_in(&from)?;
                self.place(&from, name, &rel)?;
                adds.push(add_action(table.contract, &rel, f.bytes, rows));
                files.push(RunFile { path: rel, bytes: f.bytes, sha256: f.sha256.clone() });
            }
            let existing = self.open(name, None)?;
            let version = self.commit(name, existing, Some(table.contract), adds, run_id)?;
            printer.info(
                "table_committed",
                format!("publish: {name} version {version} ({} files)", files.len()),
                serde_json::json!({"table": name, "version": version, "files": files.len()}),
            );
            committed.push(Committed { table: name.to_string(), version, files });
        }
        for name in retired {
            if let Some(existing) = self.open(name, None)? {
                let version = self.commit(name, Some(existing), None, Vec::new(), run_id)?;
                printer.info(
                    "table_emptied",
                    format!("publish: {name} version {version} (emptied: this run does not produce it)"),
                    serde_json::json!({"table": name, "version": version}),
                );
            }
        }
        Ok(committed)
    }

    /// Put the staged file `from` at `rel` in the table folder `name` (moved: it leaves the
    /// staging folder).
    fn place(&self, from: &Path, name: &str, rel: &str) -> anyhow::Result<()> {
        match &self.out {
            Location::Local(root) => {
                // A plain Parquet output linked `<table>` into its run folder: the Delta table
                // takes the name (the link only; the run folder stays until pruned).
                let at = root.join(name);
                if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                    std::fs::remove_file(&at).map_err(EngineError::io("replacing a link", &at))?;
                }
                let to = at.join(rel);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(EngineError::io("creating", parent))?;
                }
                // Durable before any commit names it.
                std::fs::File::open(from)
                    .and_then(|f| f.sync_all())
                    .map_err(EngineError::io("syncing to disk", from))?;
                std::fs::rename(from, &to).map_err(EngineError::io("moving into place", &to))?;
                if let Some(parent) = to.parent() {
                    std::fs::File::open(parent)
                        .and_then(|f| f.sync_all())
                        .map_err(EngineError::io("syncing to disk", parent))?;
                }
                Ok(())
            }
            Location::Remote(remote) => {
                remote.upload(from, &format!("{name}/{rel}"))?;
                // The staging folder then holds only the run folder's own files.
                std::fs::remove_file(from).map_err(EngineError::io("removing the staged copy", from))?;
                Ok(())
            }
        }
    }

    /// Commit a version of the table `name` that holds exactly `adds`: the first version of a
    /// new table (`existing` is `None`), else an overwrite of `existing`, its latest version
    /// (with the contract's schema where it changed; `None` keeps the table's own). Returns the
    /// version.
    fn commit(
        &self,
        name: &str,
        existing: Option<DeltaTable>,
        contract: Option<&TableContract>,
        adds: Vec<Add>,
        run_id: &str,
    ) -> anyhow::Result<u64> {
        let properties = || {
            CommitProperties::default().with_metadata([
                (RUN_ID_KEY.to_string(), serde_json::Value::from(run_id)),
                ("ardent_version".to_string(), serde_json::Value::from(env!("CARGO_PKG_VERSION"))),
            ])
        };
        let partition_columns: Vec<String> =
            contract.and_then(|c| c.partition).map(|p| vec![p.to_string()]).unwrap_or_default();
        let failed = |what: &str| format!("{what} the Delta table {}", self.out_url(name));
        let Some(table) = existing else {
            let Some(contract) = contract else { anyhow::bail!("{}: no Delta table to empty", self.out_url(name)) };
            if let Location::Local(root) = &self.out {
                // A table without rows has no data file to have made its folder.
                let dir = root.join(name);
                std::fs::create_dir_all(&dir).map_err(EngineError::io("creating", &dir))?;
            }
            let (_, store) = self.log_store(name)?;
            let created = CreateBuilder::new()
                .with_log_store(store)
                .with_table_name(name)
                .with_comment(contract.doc)
                .with_columns(schema_of(contract)?.fields().cloned())
                .with_partition_columns(partition_columns)
                .with_actions(adds.into_iter().map(Action::Add))
                .with_commit_properties(properties());
            let table = self.runtime.block_on(created.into_future()).with_context(|| failed("creating"))?;
            return Ok(table.version().unwrap_or_default());
        };
        let state = table.snapshot()?;
        let mut actions: Vec<Action> =
            state.log_data().into_iter().map(|f| Action::Remove(f.remove_action(true))).collect();
        if let Some(contract) = contract {
            let schema = schema_of(contract)?;
            if *state.schema() != schema || *state.metadata().partition_columns() != partition_columns {
                let metadata =
                    deltalake::kernel::new_metadata(&schema, &partition_columns, HashMap::<String, String>::new())?;
                actions.push(Action::Metadata(metadata));
            }
        }
        actions.extend(adds.into_iter().map(Action::Add));
        let operation = DeltaOperation::Write {
            mode: SaveMode::Overwrite,
            partition_by: (!partition_columns.is_empty()).then_some(partition_columns),
            predicate: None,
        };
        let commit =
            CommitBuilder::from(properties()).with_actions(actions).build(Some(state), table.log_store(), operation);
        let done = self.runtime.block_on(commit.into_future()).with_context(|| failed("committing to"))?;
        Ok(done.version())
    }

    fn out_url(&self, name: &str) -> String {
        match &self.out {
            Location::Local(root) => root.join(name).display().to_string(),
            Location::Remote(remote) => remote.url_of(name),
        }
    }

    /// Delete the data files of `tables` (each with the data files of the version this run
    /// committed: none for an emptied table) that came from runs other than `keep` (the run
    /// just published and those kept before it), never a file of that version. The logs stay
    /// whole. Returns the number of files deleted.
    pub fn prune(&self, tables: &[(String, Vec<String>)], keep: &[String]) -> anyhow::Result<usize> {
        let mut deleted = 0;
        for (name, current) in tables {
            let doomed = |rel: &str| {
                !rel.starts_with(DELTA_LOG)
                    && run_of(rel).is_some_and(|run| !keep.iter().any(|k| k == run))
                    && !current.iter().any(|c| c == rel)
            };
            match &self.out {
                Location::Local(root) => {
                    let dir = root.join(name);
                    if !dir.is_dir() {
                        continue;
                    }
                    for (rel, full) in crate::files::relative_files(&dir)? {
                        if doomed(&rel) {
                            std::fs::remove_file(&full).map_err(EngineError::io("removing an old data file", &full))?;
                            deleted += 1;
                            remove_empty_parent(&full, &dir);
                        }
                    }
                }
                Location::Remote(remote) => {
                    for (rel, _) in remote.list(name)? {
                        let inner = rel.strip_prefix(&format!("{name}/")).unwrap_or(&rel);
                        if doomed(inner) {
                            remote.delete(&rel)?;
                            deleted += 1;
                        }
                    }
                }
            }
        }
        Ok(deleted)
    }
}

/// Remove the partition folder of `file` once it is empty (never the table folder `table`).
fn remove_empty_parent(file: &Path, table: &Path) {
    if let Some(parent) = file.parent()
        && parent != table
    {
        let _ = std::fs::remove_dir(parent);
    }
}

/// The rows of a Parquet file, from its footer.
fn rows_in(path: &Path) -> anyhow::Result<u64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = std::fs::File::open(path).map_err(EngineError::io("reading", path))?;
    let reader = SerializedFileReader::new(file).with_context(|| format!("{}: not a Parquet file", path.display()))?;
    Ok(reader.metadata().file_metadata().num_rows().max(0) as u64)
}

/// The add action of the data file `rel` (relative to the table folder).
fn add_action(contract: &TableContract, rel: &str, bytes: u64, rows: u64) -> Add {
    let partition_values = match contract.partition {
        Some(column) => {
            let value = rel.split('/').next().and_then(|p| p.strip_prefix(&format!("{column}="))).map(str::to_string);
            HashMap::from([(column.to_string(), value)])
        }
        None => HashMap::new(),
    };
    Add {
        path: rel.to_string(),
        partition_values,
        size: bytes as i64,
        modification_time: chrono::Utc::now().timestamp_millis(),
        data_change: true,
        stats: Some(serde_json::json!({ "numRecords": rows }).to_string()),
        tags: None,
        deletion_vector: None,
        base_row_id: None,
        default_row_commit_version: None,
        clustering_provider: None,
    }
}

/// The data files of the Delta table in the folder `dir` at its latest version, in path
/// order; `None` when `dir` is not a Delta table.
pub fn latest_files(dir: &Path) -> anyhow::Result<Option<Vec<PathBuf>>> {
    if !dir.join(DELTA_LOG).is_dir() {
        return Ok(None);
    }
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name().and_then(|n| n.to_str())) else {
        return Ok(None);
    };
    let tables = Tables::at(&Location::Local(parent.to_path_buf()))?;
    Ok(tables.files_at(name, None)?.map(|files| files.into_iter().map(|(rel, _)| dir.join(rel)).collect()))
}

/// Folders the staged tables leave behind once their files moved out (a partitioned table's
/// folder too when it had no partition at all), so the run folder holds only its own files.
pub fn remove_emptied(staged: &Path, tables: &[StagedTable<'_>]) {
    let mut dirs: Vec<PathBuf> = tables
        .iter()
        .flat_map(|t| t.files.iter())
        .filter_map(|f| staged.join(&f.path).parent().map(Path::to_path_buf))
        .filter(|d| d != staged)
        .collect();
    dirs.extend(tables.iter().filter(|t| t.contract.partition.is_some()).map(|t| staged.join(t.contract.name)));
    dirs.sort();
    dirs.dedup();
    // Deepest first: a partition folder before its table folder.
    for dir in dirs.iter().rev() {
        let _ = std::fs::remove_dir(dir);
        if let Some(parent) = dir.parent()
            && parent != staged
        {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_are_named_for_their_run_and_keep_their_partition() {
        let aging = ardent_engine::contracts::TableContract {
            name: "aging",
            doc: "",
            columns: std::borrow::Cow::Owned(Vec::new()),
            partition: Some("as_of"),
        };
        let kpi = TableContract { name: "kpi_monthly", partition: None, ..aging.clone() };
        let run = "20261206T211149.123Z-1a2b3c4d";
        assert_eq!(data_file(&kpi, "kpi_monthly.parquet", run), format!("part-{run}.parquet"));
        let rel = data_file(&aging, "aging/as_of=2024-01-31/part-0.parquet", run);
        assert_eq!(rel, format!("as_of=2024-01-31/part-{run}.parquet"));
        assert_eq!(run_of(&rel), Some(run));
        assert_eq!(run_of("_delta_log/00000000000000000000.json"), None);
        // Files ardent did not name are never taken for a run's.
        assert_eq!(run_of("as_of=2024-01-31/part-0.parquet"), None);
        assert_eq!(run_of("part-00000-6a1b2c3d-c000.snappy.parquet"), None);
        let add = add_action(&aging, &rel, 10, 3);
        assert_eq!(add.partition_values.get("as_of"), Some(&Some("2024-01-31".to_string())));
        assert_eq!(add.stats.as_deref(), Some(r#"{"numRecords":3}"#));
    }
}
