//! Exit codes (documented in `ardent --help` and the README): a scheduler can tell a config
//! mistake from a missing input, bad data, rejected data and an I/O failure.

use ardent_engine::{EngineError, ErrorKind};
use ardent_sample::GenError;

use crate::settings::ConfigError;

/// Success.
pub const OK: u8 = 0;
/// A bug in ardent.
pub const INTERNAL: u8 = 1;
/// Config or usage error (clap also exits 2 on bad flags).
pub const CONFIG: u8 = 2;
/// A configured input does not exist.
pub const MISSING_INPUT: u8 = 3;
/// An input breaks its contract as a whole.
pub const DATA: u8 = 4;
/// Too many rows were rejected; nothing was published.
pub const DATA_QUALITY: u8 = 5;
/// Reading or writing failed at the OS level or in an object store.
pub const IO: u8 = 6;
/// `ardent verify` found a published output that does not match its manifest.
pub const VERIFY: u8 = 7;
/// Another run is writing the same output location (it holds the write lock).
pub const BUSY: u8 = 8;

fn of_kind(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Config => CONFIG,
        ErrorKind::MissingInput => MISSING_INPUT,
        ErrorKind::Data => DATA,
        ErrorKind::DataQuality => DATA_QUALITY,
        ErrorKind::Io => IO,
        ErrorKind::Internal => INTERNAL,
    }
}

/// The exit code of an error.
pub fn code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<EngineError>() {
            return of_kind(e.kind());
        }
        if let Some(e) = cause.downcast_ref::<ardent_models::ModelError>() {
            return of_kind(e.kind());
        }
        if cause.downcast_ref::<ConfigError>().is_some() {
            return CONFIG;
        }
        if let Some(e) = cause.downcast_ref::<GenError>() {
            return match e {
                GenError::Params(_) => CONFIG,
                GenError::Write { .. } => IO,
            };
        }
        if cause.downcast_ref::<crate::publish::RunFolderChanged>().is_some() {
            return IO;
        }
        if let Some(e) = cause.downcast_ref::<crate::shards::StepError>() {
            return match e {
                crate::shards::StepError::Usage(_) => CONFIG,
                crate::shards::StepError::NotReady(_) => MISSING_INPUT,
            };
        }
        if cause.downcast_ref::<crate::lock::Busy>().is_some() {
            return BUSY;
        }
        if cause.downcast_ref::<crate::verify::VerifyFailed>().is_some() {
            return VERIFY;
        }
        if cause.downcast_ref::<crate::verify::NotPublished>().is_some() {
            return MISSING_INPUT;
        }
        if let Some(e) = cause.downcast_ref::<crate::location::StoreError>() {
            return if e.is_not_found() { MISSING_INPUT } else { IO };
        }
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return IO;
        }
    }
    INTERNAL
}
