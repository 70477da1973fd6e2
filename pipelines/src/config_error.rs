//! What is wrong with the configuration or the flags (exit code 2)? The one error type that
//! settings, locations and the commands share.

/// A mistake in the configuration or the flags (exit code 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);
