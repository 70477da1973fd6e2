//! Errors of model training and scoring. [`ModelError::kind`] sorts them into the classes
//! the `ardent` binary maps to exit codes, the same classes as the engine's.

use std::path::PathBuf;

use ardent_engine::{EngineError, ErrorKind};

/// Everything that can stop training or scoring.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A model parameter fails its check ("`models.gbdt.learning_rate` must be in (0, 1]").
    #[error("{0}")]
    Params(String),

    /// The data cannot be used as asked (no such column, one class only, too few rows).
    #[error("{0}")]
    Data(String),

    /// The history is too short to train and evaluate (no labelled rows, or nothing left
    /// for training or out-of-time evaluation). `ardent run` publishes everything else and
    /// says why models were skipped.
    #[error("{0}")]
    NotEnoughHistory(String),

    /// No candidate model ranks the out-of-time rows better than a constant (the champion
    /// rule, [`crate::champion`]): scores would carry no information. `ardent run` publishes
    /// everything else and says why models were skipped.
    #[error("{0}")]
    NoSignal(String),

    /// A model artifact cannot be read or written.
    #[error("{action} {path}: {reason}")]
    Artifact { action: &'static str, path: PathBuf, reason: String },

    /// An error from linfa.
    #[error(transparent)]
    Linfa(#[from] linfa::Error),

    /// An error from the engine (reading a table, building the panel).
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl ModelError {
    /// The class of the error, as a scheduler sees it.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ModelError::Params(_) => ErrorKind::Config,
            ModelError::Data(_) | ModelError::NotEnoughHistory(_) | ModelError::NoSignal(_) => ErrorKind::Data,
            ModelError::Artifact { .. } => ErrorKind::Io,
            ModelError::Linfa(_) => ErrorKind::Internal,
            ModelError::Engine(e) => e.kind(),
        }
    }
}

/// Result with a [`ModelError`].
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
