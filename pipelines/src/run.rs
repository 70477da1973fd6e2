//! The stages of a run, in order. Today: ingest (read, validate, quarantine) and publish;
//! each stage records its wall time for the manifest.

use std::time::Instant;

use ardent_engine::ingest::quarantine::Outcome;
use ardent_engine::ingest::{Ingested, ingest};

use crate::printer::Printer;
use crate::settings::Settings;

/// Wall time per stage, in milliseconds, in execution order.
pub type Timings = Vec<(&'static str, u64)>;

/// Read and validate every input.
pub fn ingest_stage(settings: &Settings, printer: &Printer) -> anyhow::Result<(Ingested, Timings)> {
    let started = Instant::now();
    let ingested = ingest(&settings.ingest)?;
    let ms = started.elapsed().as_millis() as u64;
    let rows: u64 = ingested.counts.iter().map(|(_, c)| c.rows_read).sum();
    printer.note(format!("ingest: {rows} rows from {} files in {ms} ms", ingested.files.len()));
    for f in &ingested.files {
        printer.note(format!(
            "  {:<24} {:>10} rows  read {:>6} ms  validate {:>6} ms",
            f.name, f.rows, f.read_ms, f.validate_ms
        ));
    }
    Ok((ingested, vec![("ingest", ms)]))
}

/// Print rows read, accepted and quarantined per input, and the rules that fired.
pub fn report_quality(ingested: &Ingested, printer: &Printer) {
    printer.line(format!(
        "{:<10} {:>12} {:>12} {:>12} {:>8} {:>9}",
        "input", "read", "accepted", "quarantined", "share", "flagged"
    ));
    for (kind, c) in &ingested.counts {
        let share = if c.rows_read == 0 { 0.0 } else { 100.0 * c.rows_quarantined as f64 / c.rows_read as f64 };
        printer.line(format!(
            "{:<10} {:>12} {:>12} {:>12} {:>7.2}% {:>9}",
            kind.name(),
            c.rows_read,
            c.rows_accepted,
            c.rows_quarantined,
            share,
            c.rows_flagged
        ));
        let mut by_rule: std::collections::BTreeMap<(&str, &str, &str), u64> = Default::default();
        for e in ingested.entries.iter().filter(|e| e.input == *kind) {
            *by_rule.entry((e.rule.name(), e.column, e.rule.outcome().name())).or_default() += 1;
        }
        for ((rule, column, outcome), n) in by_rule {
            let example = ingested
                .entries
                .iter()
                .find(|e| e.input == *kind && e.rule.name() == rule && e.column == column)
                .map(|e| format!("e.g. {} row {}: {}", e.file, e.row, e.message))
                .unwrap_or_default();
            let tag = if outcome == Outcome::Flagged.name() { " (kept)" } else { "" };
            printer.line(format!("  {:>8} {rule}{tag} [{column}]  {example}", n));
        }
    }
}
