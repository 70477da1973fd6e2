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
