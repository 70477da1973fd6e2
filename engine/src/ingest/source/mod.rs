//! Sources: one export read once that feeds several inputs.
//!
//! ERPs export one combined file (SAP customer line items, a NetSuite A/R register, a
//! QuickBooks transaction list) where invoices, credit memos and payments sit side by side,
//! told apart by a type column, signed by one of several conventions, and linked by a
//! clearing document, an applied-to column or a settlement date. A `[sources.<name>]` section
//! says how; [`prepare`] reads the source's files once, routes every row
//! ([`route::route_file`]) and derives what needs every file (customer names, lines of one
//! document); [`Routing`] links by clearing document and hands the ledger's and payments'
//! validation their frames a range of rows at a time: the export columns the rules read as
//! written (dates, flags), the derived canonical values under `__ardent.*`, the file row
//! of each row and the rule it already failed; the file as read stays beside them for the
//! quarantine's `raw`. From there routed rows are validated exactly like rows of a ledger or
//! payments export.
//!
//! Every row of a source ends in one place: routed to the ledger (unmapped types too, which
//! the ledger quarantines as `unmapped_type`), routed to payments, or deliberately ignored
//! (routed to `ignore`, a total line, a blank or group-header line), and
//! `rows_read = to_ledger + to_payments + ignored` ([`SourceCounts`]). Invoice rows with a
//! settlement date also yield a payment each (`derived_payments`).
//!
//! The whole source is held in memory while it is routed: links (clearing documents,
//! customer names) need every file before the first row can be handed on.

mod frames;
mod links;
pub mod params;
pub mod report;
pub mod route;

use std::collections::BTreeMap;

use polars::prelude::*;

use super::options::InputSpec;
use super::read::{SourceFile, display_path, resolve_files};
use crate::contracts::InputKind;
use crate::error::{EngineError, Result};
pub use frames::Routing;
pub use params::{Route, SourceParams, SourceSpec};
use report::Ignored;
use route::{Parsed, Target};

/// Where the rows of one source went.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceCounts {
    pub rows_read: u64,
    /// Routed to the ledger (unmapped types included: the ledger quarantines them).
    pub rows_to_ledger: u64,
    pub rows_to_payments: u64,
    /// Deliberately not ingested, by reason.
    pub rows_ignored: BTreeMap<&'static str, u64>,
    /// Payments derived from settled invoice rows (not rows of their own).
    pub derived_payments: u64,
}

impl SourceCounts {
    /// Rows ignored for any reason.
    pub fn ignored(&self) -> u64 {
        self.rows_ignored.values().sum()
    }
}

/// A source after routing: what each row is and its derived values; the frames the ledger and
/// payments validate are built from it a chunk at a time ([`Routing`]).
#[derive(Debug)]
pub struct Prepared {
    pub name: String,
    pub files: Vec<SourceFile>,
    /// The specs ledger and payment rows are validated with, when the source feeds them.
    pub ledger: Option<InputSpec>,
    pub payments: Option<InputSpec>,
    pub counts: SourceCounts,
    /// Each file, parsed and routed (its frame as read is the quarantine's `raw`).
    pub parsed: Vec<Parsed>,
    /// What the run should tell the user (names that collapsed together, …).
    pub notes: Vec<String>,
    /// Time spent reading the files whole, and routing their rows (links included).
    pub read_ms: u64,
    pub route_ms: u64,
}

/// Read, route and link every file of a source.
pub fn prepare(spec: &SourceSpec, base_dir: &std::path::Path) -> Result<Prepared> {
    let files = resolve_files(&spec.read)?;
    let mut parsed = Vec::with_capacity(files.len());
    let (mut read_ms, mut route_ms) = (0, 0);
    for file in &files {
        let t0 = std::time::Instant::now();
        let frame = report::read_source_file(spec, file)?;
        read_ms += t0.elapsed().as_millis() as u64;
        let t0 = std::time::Instant::now();
        parsed.push(route::route_file(spec, frame, &file.path)?);
        route_ms += t0.elapsed().as_millis() as u64;
    }
    let t0 = std::time::Instant::now();
    check_routes(spec, &parsed, &files, base_dir)?;
    let mut notes = Vec::new();
    if spec.customer_names {
        notes.extend(customers_by_name(&mut parsed));
    }
    if spec.combine_lines {
        combine_lines(spec, &mut parsed);
    }
    let mut counts = SourceCounts::default();
    for p in &parsed {
        counts.rows_read += p.frame.height() as u64;
        for t in &p.target {
            match t {
                Target::Ledger(_) | Target::Unmapped => counts.rows_to_ledger += 1,
                Target::Payment => counts.rows_to_payments += 1,
                Target::Ignored(why) => *counts.rows_ignored.entry(why.name()).or_default() += 1,
            }
        }
        counts.derived_payments += p.settled.iter().filter(|s| **s).count() as u64;
    }
    route_ms += t0.elapsed().as_millis() as u64;
    let fed = |kind: InputKind| spec.feeds(kind).then(|| spec.routed(kind));
    let (ledger, payments) = (fed(InputKind::Ledger), fed(InputKind::Payments));
    Ok(Prepared { name: spec.name.clone(), files, ledger, payments, counts, parsed, notes, read_ms, route_ms })
}

/// When most rows of a source have a type its `route` does not map, the mapping is wrong:
/// stop with what the column holds instead of quarantining the export.
fn check_routes(spec: &SourceSpec, parsed: &[Parsed], files: &[SourceFile], base_dir: &std::path::Path) -> Result<()> {
    let Some(column) = &spec.type_column else { return Ok(()) };
    let mut unmapped = 0usize;
    let mut considered = 0usize;
    let mut values: BTreeMap<String, (usize, Option<Route>)> = BTreeMap::new();
    for p in parsed {
        for (t, v) in p.target.iter().zip(p.type_value.iter()) {
            if matches!(t, Target::Ignored(Ignored::TotalRow | Ignored::BlankRow)) {
                continue;
            }
            considered += 1;
            unmapped += usize::from(*t == Target::Unmapped);
            let key = v.unwrap_or_default();
            match values.get_mut(key) {
                Some(entry) => entry.0 += 1,
                None => {
                    values.insert(key.to_string(), (1, spec.route_of(key)));
                }
            }
        }
    }
    if unmapped == 0 || unmapped * 2 <= considered {
        return Ok(());
    }
    let mut by_count: Vec<(&String, &(usize, Option<Route>))> = values.iter().collect();
    by_count.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.0.cmp(b.0)));
    let shown: Vec<String> = by_count
        .iter()
        .take(20)
        .map(|(v, (n, r))| {
            let name = if v.is_empty() { "(empty)" } else { v.as_str() };
            match r {
                Some(r) => format!("{name} {n} (-> {})", r.name()),
                None => format!("{name} {n}"),
            }
        })
        .collect();
    let suggestion: Vec<String> = by_count
        .iter()
        .filter(|(v, (_, r))| r.is_none() && !v.is_empty())
        .take(8)
        .map(|(v, _)| format!("\"{v}\" = \"...\""))
        .collect();
    Err(EngineError::ColumnFormat {
        input: format!("sources.{}", spec.name),
        path: files.first().map(|f| std::path::PathBuf::from(display_path(&f.path, base_dir))).unwrap_or_default(),
        column: format!("`{column}`"),
        message: format!(
            "{unmapped} of {considered} rows have a type that `sources.{}.route` does not map. The column holds {}{}. Route each value: `route = {{ {} }}` with invoice, credit_memo, debit_memo, write_off, payment or ignore",
            spec.name,
            shown.join(", "),
            if by_count.len() > 20 { format!(" and {} more values", by_count.len() - 20) } else { String::new() },
            suggestion.join(", ")
        ),
    })
}

/// Lines of one document (same id, same route, in any file of the source): the first line
/// takes the amounts of the others and their references, and they are ignored as combined.
/// Lines that failed a rule stay as they are (the rules report them).
fn combine_lines(spec: &SourceSpec, parsed: &mut [Parsed]) {
    let separator = match spec.refs_separator.trim() {
        "" => spec.refs_separator.clone(),
        t => t.to_string(),
    };
    // (is a payment, id) → its first line.
    let mut first: foldhash::HashMap<(bool, String), (usize, usize)> = Default::default();
    let mut extra_refs: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
    for f in 0..parsed.len() {
        for i in 0..parsed[f].target.len() {
            let p = &parsed[f];
            let (payment, id) = match p.target[i] {
                Target::Payment => (true, p.payment_id.get(i)),
                Target::Ledger(_) => (false, p.doc_id.get(i)),
                _ => continue,
            };
            let (Some(id), None, Some(amount)) = (id, p.fail[i], p.amount[i]) else { continue };
            let refs = p.refs.get(i).map(str::to_string);
            match first.get(&(payment, id.to_string())) {
                Some(&(f0, i0)) if parsed[f0].target[i0] == parsed[f].target[i] => {
                    if let Some(total) = &mut parsed[f0].amount[i0] {
                        *total += amount;
                    }
                    extra_refs.entry((f0, i0)).or_default().extend(refs);
                    parsed[f].target[i] = Target::Ignored(Ignored::CombinedLine);
                }
                Some(_) => {}
                None => {
                    first.insert((payment, id.to_string()), (f, i));
                }
            }
        }
    }
    for (f, p) in parsed.iter_mut().enumerate() {
        let mine: Vec<(&(usize, usize), &Vec<String>)> = extra_refs.range((f, 0)..(f + 1, 0)).collect();
        if mine.is_empty() {
            continue;
        }
        let mut refs: Vec<Option<String>> = p.refs.iter().map(|r| r.map(str::to_string)).collect();
        for ((_, i), more) in mine {
            let mut all: Vec<String> =
                refs[*i].iter().flat_map(|r| r.split(separator.as_str()).map(|s| s.trim().to_string())).collect();
            for r in more.iter().flat_map(|r| r.split(separator.as_str())).map(str::trim) {
                if !r.is_empty() && !all.iter().any(|a| a == r) {
                    all.push(r.to_string());
                }
            }
            refs[*i] = (!all.is_empty()).then(|| all.join(&separator));
        }
        p.refs = StringChunked::from_iter_options(p.refs.name().clone(), refs.into_iter());
    }
}

/// The normalised form of a customer name: lower case, punctuation dropped, runs of spaces
/// as one (`"ACME, Inc."`, `"Acme Inc"` and `" acme  inc "` are all `"acme inc"`).
pub fn name_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for word in
        name.split(|c: char| c.is_whitespace() || (c.is_ascii_punctuation() && c != '&')).filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// Customers identified by name: every spelling of a name is replaced by the first one met
/// (files and rows in order). Returns one note per name written more than one way.
fn customers_by_name(parsed: &mut [Parsed]) -> Vec<String> {
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    let mut spellings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in parsed.iter_mut() {
        let mut changed = false;
        let names: Vec<Option<String>> = p
            .customer
            .iter()
            .map(|c| {
                let c = c?;
                let key = name_key(c);
                let kept = first.entry(key.clone()).or_insert_with(|| c.to_string());
                if kept != c {
                    changed = true;
                    let seen = spellings.entry(key).or_default();
                    if !seen.iter().any(|s| s == c) {
                        seen.push(c.to_string());
                    }
                }
                Some(kept.clone())
            })
            .collect();
        if changed {
            p.customer = StringChunked::from_iter_options(p.customer.name().clone(), names.into_iter());
        }
    }
    spellings
        .into_iter()
        .map(|(key, others)| {
            format!(
                "customer names {} are one customer, \"{}\" (same name ignoring case, spacing and punctuation)",
                others.iter().map(|o| format!("\"{o}\"")).collect::<Vec<_>>().join(", "),
                first.get(&key).cloned().unwrap_or_default()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::name_key;

    #[test]
    fn names_normalise_case_spacing_and_punctuation() {
        assert_eq!(name_key("ACME, Inc."), "acme inc");
        assert_eq!(name_key("  Acme   Inc "), "acme inc");
        assert_eq!(name_key("acme inc"), "acme inc");
        assert_eq!(name_key("Müller GmbH"), "müller gmbh");
        assert_eq!(name_key("A&B Ltd"), "a&b ltd");
        assert_ne!(name_key("A&B Ltd"), name_key("AB Ltd"));
    }
}
