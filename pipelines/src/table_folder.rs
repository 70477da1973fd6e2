//! A work folder of plain Parquet tables: each table in `<dir>/<table>.parquet`, written as
//! its parts arrive, and each partition of a partitioned table in
//! `<dir>/<table>/as_of=<date>/part-0.parquet`, written in the background. `ardent analytics`
//! and the steps of a sharded run write their tables through it; it is not a published output
//! (no runs, no manifest).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ardent_engine::contracts::TableContract;
use ardent_engine::error::EngineError;
use ardent_engine::sink::{Background, TableSink, TableStream, write_table};
use polars::prelude::*;

/// Writes each table to `<dir>/<table>.parquet` as its parts arrive, and each partition to
/// `<dir>/<table>/as_of=<date>/part-0.parquet` in the background.
pub struct TableFolder {
    dir: PathBuf,
    streams: BTreeMap<&'static str, TableStream>,
    rows: BTreeMap<&'static str, u64>,
    partitions: Background<(&'static str, u64)>,
}

impl std::fmt::Debug for TableFolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableFolder").field("dir", &self.dir).field("rows", &self.rows).finish_non_exhaustive()
    }
}

impl TableFolder {
    pub fn new(dir: &Path) -> anyhow::Result<TableFolder> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let partitions = Background::new(rayon::current_num_threads());
        Ok(TableFolder { dir: dir.to_path_buf(), streams: BTreeMap::new(), rows: BTreeMap::new(), partitions })
    }

    /// Finish every file; rows written per table.
    pub fn finish(self) -> anyhow::Result<BTreeMap<&'static str, u64>> {
        let TableFolder { streams, mut rows, partitions, .. } = self;
        for stream in streams.into_values() {
            stream.finish()?;
        }
        for (table, n) in partitions.finish()? {
            *rows.entry(table).or_default() += n;
        }
        Ok(rows)
    }
}

impl TableSink for TableFolder {
    fn rows(&mut self, contract: &TableContract, rows: DataFrame) -> Result<(), EngineError> {
        let stream = match self.streams.entry(contract.name) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(TableStream::create(contract, &self.dir.join(format!("{}.parquet", contract.name)))?)
            }
        };
        stream.write(&rows)?;
        *self.rows.entry(contract.name).or_default() += rows.height() as u64;
        Ok(())
    }

    fn partition(&mut self, contract: &TableContract, as_of: i32, mut rows: DataFrame) -> Result<(), EngineError> {
        let (path, contract) = (self.dir.join(crate::layout::partition_file(contract.name, as_of)), contract.clone());
        self.partitions.submit(move || Ok((contract.name, write_table(&mut rows, &contract, &path)?)))
    }
}
