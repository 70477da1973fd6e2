//! Where does what go in an output location? The names every module of the publishing path
//! shares (commit.rs draws the layout).

/// The manifest's file name, at the output root and in every run folder.
pub const MANIFEST: &str = "_manifest.json";
/// The folder of run folders.
pub const RUNS: &str = "runs";
/// (local) The link to the published run folder.
pub const CURRENT: &str = "current";
/// The report every run carries, in its run folder (and linked at a local output's root).
pub const REPORT: &str = "report.html";

/// A Delta table's transaction log folder.
pub const DELTA_LOG: &str = "_delta_log";

/// Whether the run-folder file `file` belongs to the table at `table_path` in the run folder
/// (`kpi_monthly.parquet`, or a partitioned table's folder `aging/`).
pub fn table_holds(table_path: &str, file: &str) -> bool {
    file == table_path || (table_path.ends_with('/') && file.starts_with(table_path))
}

/// The data file of a partitioned table's partition for `as_of` (a day), relative to the
/// folder the table's folder is in: `aging/as_of=2025-03-31/part-0.parquet`.
pub fn partition_file(table: &str, as_of: i32) -> String {
    format!("{table}/as_of={}/part-0.parquet", ardent_engine::calendar::format_day(as_of))
}
