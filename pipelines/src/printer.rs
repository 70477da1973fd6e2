//! The only writer to stdout. Commands describe what happened; the printer decides how it
//! looks. Diagnostics and errors go to stderr.
#![allow(clippy::print_stdout)]

use std::io::Write;

/// Writes human-readable results to stdout.
#[derive(Debug, Default)]
pub struct Printer;

impl Printer {
    /// Print one line.
    pub fn line(&self, text: impl AsRef<str>) {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`ardent schema | head`) is not an error worth a panic.
        let _ = writeln!(out, "{}", text.as_ref());
    }

    /// Print a note to stderr (progress, hints).
    pub fn note(&self, text: impl AsRef<str>) {
        let _ = writeln!(std::io::stderr().lock(), "{}", text.as_ref());
    }
}
