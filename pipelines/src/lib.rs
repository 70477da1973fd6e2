//! # ardent (the command line)
//!
//! `cli` parses, `settings` resolves (defaults < config file < environment < flags),
//! `commands` run, `run` holds the stages in order, `publish` writes the outputs and the
//! manifest, `printer` is the only stdout writer, and `exit` maps errors to exit codes.

pub mod cli;
pub mod commands;
pub mod exit;
pub mod printer;
pub mod publish;
pub mod run;
pub mod settings;
