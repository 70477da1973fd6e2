//! # ardent (the command line)
//!
//! `cli` parses, `settings` resolves (defaults < config file < environment < flags),
//! `commands` run, `run` holds the stages in order, `publish` writes a run folder and its
//! manifest, `published` reads one back, `report` draws its report.html, `delta` commits its tables as Delta table versions, `commit` makes the run the
//! published output atomically, `location` reaches local
//! folders and object stores, `verify` checks a published output, `printer` is the only
//! stdout writer, and `exit` maps errors to exit codes.

pub mod batches;
pub mod cli;
pub mod commands;
pub mod commit;
pub mod config_error;
pub mod delta;
pub mod exit;
pub mod files;
pub mod layout;
pub mod location;
pub mod lock;
pub mod printer;
pub mod publish;
pub mod published;
pub mod report;
pub mod run;
pub mod settings;
pub mod shards;
pub mod table_folder;
pub mod verify;
