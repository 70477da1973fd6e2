//! Errors of the engine, each carrying what a user needs to fix the cause: the input, the
//! file, the column, the value seen, and what to do.
//!
//! [`EngineError::kind`] sorts them into the few classes a scheduler has to tell apart; the
//! `ardent` binary maps each class to a documented exit code.

use std::path::PathBuf;

/// The class of an error, as a scheduler sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The configuration is wrong (unknown key, bad value); fix the config.
    Config,
    /// An input file or folder does not exist or a glob matches nothing.
    MissingInput,
    /// An input exists but its content breaks the contract as a whole (missing column, wrong
    /// date format, unreadable format).
    Data,
    /// Rows were validated, but more were rejected than `max_rejected_share` allows.
    DataQuality,
    /// Reading or writing failed at the operating-system level (permissions, disk full).
    Io,
    /// A bug in ardent.
    Internal,
}

/// Everything that can stop ingestion or publishing.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A configuration value fails its check.
    #[error("config: {message}")]
    Config { message: String },

    /// Nothing exists at a configured input location.
    #[error("input `{input}`: {message}")]
    MissingInput { input: String, message: String },

    /// The file exists but cannot be parsed as the configured format.
    #[error(
        "input `{input}`: cannot read {path} as {format}: {reason}. Check that `{key}.format` matches the file, or re-export it",
        key = config_key(.input)
    )]
    Unreadable { input: String, path: PathBuf, format: String, reason: String },

    /// A required canonical column has no source column.
    #[error(
        "input `{input}`: {path} has no column `{source_column}`, which `{column}` is read from. Columns in the file: {available}. Rename the column in the export or map it with `{key}.columns.{column} = \"<file column>\"`",
        key = config_key(.input)
    )]
    MissingColumn { input: String, path: PathBuf, column: String, source_column: String, available: String },

    /// A column as a whole does not match the configured format (e.g. every date fails).
    #[error("input `{input}`: {path}, column {column}: {message}")]
    ColumnFormat { input: String, path: PathBuf, column: String, message: String },

    /// More rows were rejected than the configured tolerance.
    #[error(
        "input `{input}`: {rejected} of {read} rows ({share:.2}%) were quarantined, above `max_rejected_share` = {max:.2}%. Most frequent rule: {top_rule}. Nothing was published; {advice}"
    )]
    TooManyRejected { input: String, read: u64, rejected: u64, share: f64, max: f64, top_rule: String, advice: String },

    /// An operating-system error while reading or writing a path. The OS error is part of the
    /// message, not a chained source: `{:#}` would print it twice.
    #[error("{action} {path}: {error}")]
    Io { action: &'static str, path: PathBuf, error: std::io::Error },

    /// The temporary folder cannot take a file the run needs (missing, unwritable, full).
    #[error(
        "{action} in the temporary folder {dir}: {error}. Set TMPDIR to a writable folder with room for it ({room})"
    )]
    TempSpace { action: &'static str, dir: PathBuf, error: std::io::Error, room: &'static str },

    /// Validated tables cannot be analysed as configured (for example no FX rate to revalue
    /// an open amount at an as-of date).
    #[error("{message}")]
    Analysis { message: String },

    /// A reconciliation check failed: the numbers do not add up, which is a bug in ardent.
    #[error(
        "reconciliation failed, nothing was published: {message}. This is a bug in ardent; please report it together with the pipeline config"
    )]
    Reconciliation { message: String },

    /// An error from polars that the engine did not expect (its message included, as for `Io`).
    #[error("internal error in {context}: {error}")]
    Polars { context: String, error: polars::error::PolarsError },
}

/// The config section of an input or source named in an error: `inputs.ledger` for
/// `ledger`, and a source's own `sources.<name>`.
pub fn config_key(input: &str) -> String {
    if input.starts_with("sources.") { input.to_string() } else { format!("inputs.{input}") }
}

impl EngineError {
    /// The class of this error (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Config { .. } => ErrorKind::Config,
            EngineError::MissingInput { .. } => ErrorKind::MissingInput,
            EngineError::Unreadable { .. } | EngineError::MissingColumn { .. } | EngineError::ColumnFormat { .. } => {
                ErrorKind::Data
            }
            EngineError::TooManyRejected { .. } => ErrorKind::DataQuality,
            EngineError::Analysis { .. } => ErrorKind::Data,
            EngineError::Reconciliation { .. } => ErrorKind::Internal,
            EngineError::Io { .. } | EngineError::TempSpace { .. } => ErrorKind::Io,
            EngineError::Polars { .. } => ErrorKind::Internal,
        }
    }

    /// A config error with a message.
    pub fn config(message: impl Into<String>) -> Self {
        EngineError::Config { message: message.into() }
    }

    /// Wrap a polars error with the operation it interrupted.
    pub fn polars(context: impl Into<String>) -> impl FnOnce(polars::error::PolarsError) -> Self {
        let context = context.into();
        move |error| EngineError::Polars { context, error }
    }

    /// Wrap an I/O error with the path and what was being done.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |error| EngineError::Io { action, path, error }
    }

    /// A failure in the temporary folder while `action` (a file that needs `room`), for
    /// `map_err`.
    pub fn temp(action: &'static str, room: &'static str) -> impl Fn(std::io::Error) -> Self + Copy {
        move |error| EngineError::TempSpace { action, dir: std::env::temp_dir(), error, room }
    }
}

/// Result alias of the engine.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
