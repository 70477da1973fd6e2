//! What did a published output publish, and which files hold each of its tables? [`open`]
//! reads the manifest of an output (a folder or an object-store URL) and lists the data files
//! of the tables asked for: a Delta table's files at the version the run committed, a plain
//! Parquet table's files from the run folder. Object-store files are fetched into a temporary
//! folder that lives as long as the [`Opened`] value. The report and `ardent analytics` read
//! published tables through it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use polars::prelude::*;
use serde::Deserialize;

use crate::layout::MANIFEST;
use crate::location::Location;

/// Where each table's data files are: `(partition value, file)`; the partition value (an
/// `as_of` date) becomes an `as_of` text column of the rows read.
#[derive(Debug, Default)]
pub struct TableFiles {
    tables: BTreeMap<String, Vec<(Option<String>, PathBuf)>>,
}

impl TableFiles {
    /// Add a data file of `table` (`partition`: the `as_of` of a partitioned table's file).
    pub fn add(&mut self, table: &str, partition: Option<String>, file: PathBuf) {
        self.tables.entry(table.to_string()).or_default().push((partition, file));
    }

    /// Whether the run published `table`.
    pub fn has(&self, table: &str) -> bool {
        self.tables.contains_key(table)
    }

    /// Every row of `table`, or `None` when the run did not publish it.
    pub fn read(&self, table: &str) -> anyhow::Result<Option<DataFrame>> {
        self.read_columns(table, None)
    }

    /// Every row of `table`, only `columns` when given (and the partition column), or `None`
    /// when the run did not publish it.
    pub fn read_columns(&self, table: &str, columns: Option<&[&str]>) -> anyhow::Result<Option<DataFrame>> {
        let Some(files) = self.tables.get(table) else { return Ok(None) };
        let mut all: Option<DataFrame> = None;
        for file in files {
            let df = read_file(file, columns)?;
            match &mut all {
                None => all = Some(df),
                Some(acc) => {
                    acc.vstack_mut(&df)?;
                }
            }
        }
        Ok(all)
    }

    /// The data files of `table` (none when the run did not publish it), each with its
    /// partition value; read one with [`read_file`].
    pub fn files_of(&self, table: &str) -> &[(Option<String>, PathBuf)] {
        self.tables.get(table).map_or(&[], Vec::as_slice)
    }
}

/// The rows of one data file of a table (`columns` only, when given), with its partition value
/// as an `as_of` text column.
pub fn read_file((partition, path): &(Option<String>, PathBuf), columns: Option<&[&str]>) -> anyhow::Result<DataFrame> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = ParquetReader::new(file).with_columns(columns.map(|c| c.iter().map(|s| s.to_string()).collect()));
    let mut df = anyhow::Context::with_context(reader.finish(), || format!("reading {}", path.display()))?;
    if let Some(as_of) = partition {
        let n = df.height();
        df.with_column(Column::new("as_of".into(), vec![as_of.as_str(); n]))?;
    }
    Ok(df)
}

/// The partition value (`as_of`) of a data file from its folder, if it has one.
pub fn partition_of(rel: &str) -> Option<String> {
    rel.split('/').find_map(|part| part.strip_prefix("as_of=")).map(str::to_string)
}

/// The parts of a manifest that readers of a published output need.
#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub run_id: String,
    data_prefix: String,
    pub reporting_currency: String,
    /// The run's configuration, overrides applied (read as JSON here so that a manifest whose
    /// config this version no longer parses can still be reported on).
    #[serde(default)]
    pub config: Option<serde_json::Value>,
    outputs: Vec<PublishedOutput>,
    files: Vec<crate::files::RunFile>,
    #[serde(default)]
    pub models: Option<PublishedModels>,
}

#[derive(Debug, Deserialize)]
struct PublishedOutput {
    table: String,
    path: String,
    #[serde(default)]
    version: Option<u64>,
    #[serde(default)]
    files: Vec<crate::files::RunFile>,
}

/// What the manifest says of the run's models.
#[derive(Debug, Deserialize)]
pub struct PublishedModels {
    #[serde(default)]
    pub champion: Option<String>,
}

/// A published output, opened: its manifest and the files of the tables asked for.
#[derive(Debug)]
pub struct Opened {
    pub manifest: Manifest,
    /// The manifest as written (every key, including those [`Manifest`] does not read).
    pub json: serde_json::Value,
    pub files: TableFiles,
    /// Local copies of object-store files, deleted on drop.
    _fetched: Option<tempfile::TempDir>,
}

/// Open the output published at `out`, listing the files of the tables `wanted` accepts.
pub fn open(out: &Location, wanted: impl Fn(&str) -> bool) -> anyhow::Result<Opened> {
    let text = match out {
        Location::Local(root) => {
            let path = root.join(MANIFEST);
            std::fs::read(&path)
                .with_context(|| format!("{}: no manifest; is this an ardent output?", path.display()))?
        }
        Location::Remote(remote) => remote
            .get(MANIFEST)?
            .with_context(|| format!("{}: no manifest; is this an ardent output?", remote.url_of(MANIFEST)))?,
    };
    let manifest: Manifest = serde_json::from_slice(&text)
        .with_context(|| format!("{out}/{MANIFEST} is not a manifest this version reads"))?;
    let json: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("{out}/{MANIFEST} is not a manifest this version reads"))?;
    let temp = match out {
        Location::Remote(_) => Some(tempfile::Builder::new().prefix("ardent-read-").tempdir()?),
        Location::Local(_) => None,
    };
    let local = |rel: &str| -> anyhow::Result<PathBuf> {
        match (out, &temp) {
            (Location::Local(root), _) => Ok(root.join(rel)),
            (Location::Remote(remote), Some(t)) => {
                let to = t.path().join(rel);
                remote.fetch(rel, &to)?;
                Ok(to)
            }
            (Location::Remote(_), None) => unreachable!("a remote output is fetched into a temporary folder"),
        }
    };
    let mut files = TableFiles::default();
    for o in manifest.outputs.iter().filter(|o| wanted(&o.table)) {
        if o.version.is_some() {
            for f in &o.files {
                files.add(&o.table, partition_of(&f.path), local(&format!("{}/{}", o.table, f.path))?);
            }
        } else {
            let held = manifest.files.iter().filter(|f| crate::layout::table_holds(&o.path, &f.path));
            for f in held.filter(|f| f.path.ends_with(".parquet")) {
                files.add(&o.table, partition_of(&f.path), local(&format!("{}{}", manifest.data_prefix, f.path))?);
            }
        }
    }
    Ok(Opened { manifest, json, files, _fetched: temp })
}
