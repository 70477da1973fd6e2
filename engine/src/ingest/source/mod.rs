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
//! written (dates, flags), the derived canonical values under [`DERIVED_PREFIX`], the file row
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

pub mod params;
pub mod report;
pub mod route;

use std::collections::BTreeMap;

use polars::prelude::*;

use super::columns::{DERIVED_PREFIX, FAIL_COLUMN, ROW_COLUMN};
use super::options::InputSpec;
use super::read::{SourceFile, display_path, resolve_files};
use crate::contracts::{DocType, InputKind, MONEY_PRECISION, MONEY_SCALE};
use crate::error::{EngineError, Result};
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
    /// Rows read from each file (after the header).
    pub file_rows: Vec<u64>,
    /// Each file, parsed and routed (its frame as read is the quarantine's `raw`).
    pub parsed: Vec<Parsed>,
    /// What the run should tell the user (names that collapsed together, …).
    pub notes: Vec<String>,
}

/// Read, route and link every file of a source.
pub fn prepare(spec: &SourceSpec, base_dir: &std::path::Path) -> Result<Prepared> {
    let files = resolve_files(&spec.read)?;
    let mut parsed = Vec::with_capacity(files.len());
    for file in &files {
        let frame = report::read_source_file(spec, file)?;
        parsed.push(route::route_file(spec, frame, &file.path)?);
    }
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
    let fed = |kind: InputKind| spec.feeds(kind).then(|| spec.routed(kind));
    let (ledger, payments) = (fed(InputKind::Ledger), fed(InputKind::Payments));
    let file_rows = parsed.iter().map(|p| p.frame.height() as u64).collect();
    Ok(Prepared { name: spec.name.clone(), files, ledger, payments, counts, file_rows, parsed, notes })
}

/// Builds the frames a source's rows are validated in, a range of rows of a file at a time,
/// so no routed copy of the whole source is ever held.
#[derive(Debug)]
pub struct Routing<'a> {
    spec: &'a SourceSpec,
    parsed: &'a [Parsed],
    links: Option<Links<'a>>,
}

impl<'a> Routing<'a> {
    /// The routing of a prepared source (its clearing links derived once, over every file).
    pub fn new(spec: &'a SourceSpec, prepared: &'a Prepared) -> Self {
        Routing { spec, parsed: &prepared.parsed, links: Links::new(spec, &prepared.parsed) }
    }

    /// Rows in each file.
    pub fn file_rows(&self, file: usize) -> usize {
        self.parsed.get(file).map_or(0, |p| p.target.len())
    }

    /// The frame `kind` validates for rows `rows` of file `file`.
    pub fn frame(&self, kind: InputKind, file: usize, rows: std::ops::Range<usize>) -> Result<DataFrame> {
        routed_frame(self.spec, &self.parsed[file], file, self.links.as_ref(), kind, rows)
    }

    /// The file as read: the quarantine's `raw` of its rows.
    pub fn original(&self, file: usize) -> Option<&'a DataFrame> {
        self.parsed.get(file).map(|p| &p.frame)
    }

    /// The customer and 1-based file row of every row of file `file` routed to `kind`, in order.
    pub fn customers(&self, kind: InputKind, file: usize) -> Vec<(Option<&'a str>, u64)> {
        let p = &self.parsed[file];
        let mut out = Vec::new();
        for (i, (t, c)) in p.target.iter().zip(p.customer.iter()).enumerate() {
            let routed = match (kind, t) {
                (InputKind::Ledger, Target::Ledger(_) | Target::Unmapped) => true,
                (InputKind::Payments, Target::Payment) => true,
                (InputKind::Payments, Target::Ledger(_)) => p.settled[i],
                _ => false,
            };
            if routed {
                out.push((c, i as u64 + 1));
            }
        }
        out
    }
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
                Some(r) => format!(
                    "{name} {n} (-> {})",
                    serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
                ),
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

/// Links by clearing document: a payment references the invoices and debit memos that share
/// its clearing document (after any references of its own), and a credit memo or write-off
/// without `applies_to` reduces the first of them. Built once over every file; each routed
/// frame asks it for its rows' links only.
#[derive(Debug)]
struct Links<'a> {
    separator: String,
    clearing: Vec<Vec<Option<&'a str>>>,
    ids: Vec<Vec<Option<&'a str>>>,
    /// Clearing document → the first and last of its receivables in `members`.
    groups: foldhash::HashMap<&'a str, (u32, u32)>,
    /// (file, row, next member of the same group), in file order: no group needs an
    /// allocation of its own.
    members: Vec<(u32, u32, u32)>,
}

/// The end of a chain of [`Links::members`].
const NO_MEMBER: u32 = u32::MAX;

impl<'a> Links<'a> {
    fn new(spec: &SourceSpec, parsed: &'a [Parsed]) -> Option<Links<'a>> {
        spec.clearing_column.as_ref()?;
        let clearing: Vec<Vec<Option<&str>>> = parsed.iter().map(|p| p.clearing.iter().collect()).collect();
        let ids: Vec<Vec<Option<&str>>> = parsed.iter().map(|p| p.doc_id.iter().collect()).collect();
        let rows: usize = parsed.iter().map(|p| p.target.len()).sum();
        let mut groups: foldhash::HashMap<&str, (u32, u32)> = Default::default();
        groups.reserve(rows / 2);
        let mut members: Vec<(u32, u32, u32)> = Vec::new();
        for (f, p) in parsed.iter().enumerate() {
            for (i, t) in p.target.iter().enumerate() {
                if let (Target::Ledger(t), Some(c), Some(_)) = (t, clearing[f][i], ids[f][i])
                    && t.is_receivable()
                {
                    let k = members.len() as u32;
                    members.push((f as u32, i as u32, NO_MEMBER));
                    match groups.get_mut(c) {
                        Some((_, last)) => {
                            members[*last as usize].2 = k;
                            *last = k;
                        }
                        None => {
                            groups.insert(c, (k, k));
                        }
                    }
                }
            }
        }
        let separator = match spec.refs_separator.trim() {
            "" => spec.refs_separator.clone(),
            t => t.to_string(),
        };
        Some(Links { separator, clearing, ids, groups, members })
    }

    /// The document ids of the group of file `f`'s row `i`, in file order.
    fn group(&self, f: usize, i: usize) -> impl Iterator<Item = &'a str> + '_ {
        let first = self.clearing[f][i].and_then(|c| self.groups.get(c)).map(|(first, _)| *first);
        std::iter::successors(first, |&k| Some(self.members[k as usize].2).filter(|&n| n != NO_MEMBER))
            .map(|k| self.members[k as usize])
            .map(|(f, i, _)| self.ids[f as usize][i as usize].unwrap_or_default())
    }

    /// A payment's references: its own, then its group's, once each, without itself.
    fn refs(&self, f: usize, i: usize, given: Option<&'a str>, seen: &mut Vec<&'a str>, out: &mut String) -> bool {
        let own = self.ids[f][i];
        seen.clear();
        let given = given.into_iter().flat_map(|r| r.split(self.separator.as_str())).map(str::trim);
        for id in given.chain(self.group(f, i)) {
            if !id.is_empty() && Some(id) != own && !seen.contains(&id) {
                seen.push(id);
            }
        }
        out.clear();
        for (k, id) in seen.iter().enumerate() {
            if k > 0 {
                out.push_str(&self.separator);
            }
            out.push_str(id);
        }
        !seen.is_empty()
    }

    /// What a credit memo or write-off without `applies_to` reduces: its group's first
    /// receivable.
    fn applies_to(&self, f: usize, i: usize) -> Option<&'a str> {
        let own = self.ids[f][i];
        self.group(f, i).find(|m| Some(*m) != own)
    }
}

/// The frame `kind` validates for one parsed file: the export's columns of the rows routed
/// there, the derived canonical values, each row's file row and the rule it already failed.
fn routed_frame(
    spec: &SourceSpec,
    p: &Parsed,
    f: usize,
    links: Option<&Links<'_>>,
    kind: InputKind,
    range: std::ops::Range<usize>,
) -> Result<DataFrame> {
    // (row in the file, whether it is the payment a settled invoice yields)
    let mut rows: Vec<(usize, bool)> = Vec::new();
    let (first, len) = (range.start, range.len());
    for (i, t) in p.target[range].iter().enumerate() {
        let i = first + i;
        match (kind, t) {
            (InputKind::Ledger, Target::Ledger(_) | Target::Unmapped) => rows.push((i, false)),
            (InputKind::Payments, Target::Payment) => rows.push((i, false)),
            (InputKind::Payments, Target::Ledger(_)) if p.settled[i] => rows.push((i, true)),
            _ => {}
        }
    }
    let idx = IdxCa::from_vec("".into(), rows.iter().map(|&(i, _)| i as IdxSize).collect());
    let err = || EngineError::polars(format!("routing the rows of source {}", spec.name));
    // Only the columns the rules read as exported; the quarantine's `raw` comes from the
    // file as read (`Prepared::originals`).
    let routed = spec.routed(kind);
    let mut passthrough: Vec<&str> = routed
        .columns
        .iter()
        .map(|(_, c)| c.as_str())
        .filter(|c| !c.starts_with(DERIVED_PREFIX) && p.frame.column(c).is_ok())
        .collect();
    passthrough.sort_unstable();
    passthrough.dedup();
    let mut frame = p.frame.select(passthrough.iter().copied()).map_err(err())?.take(&idx).map_err(err())?;
    let settlements = rows.iter().any(|&(_, s)| s);
    // A derived text column: the parsed column's values at the routed rows (sharing its
    // buffers), or, where settled invoices yield payments, built row by row.
    let take = |name: &str, ca: &StringChunked| -> Result<Column> {
        Ok(ca.take(&idx).map_err(err())?.with_name(format!("{DERIVED_PREFIX}{name}").into()).into_column())
    };
    let build = |name: &str, f: &dyn Fn(usize, bool) -> Option<String>| -> Column {
        StringChunked::from_iter_options(
            format!("{DERIVED_PREFIX}{name}").into(),
            rows.iter().map(|&(i, settled)| f(i, settled)),
        )
        .into_column()
    };
    let amount = |i: usize, settled: bool| if settled { p.settle_amount[i] } else { p.amount[i] };
    let mut columns = vec![
        UInt64Chunked::from_iter_values(ROW_COLUMN.into(), rows.iter().map(|&(i, _)| i as u64 + 1)).into_column(),
        take("customer_id", &p.customer)?,
        Int128Chunked::from_iter_options(
            format!("{DERIVED_PREFIX}amount").into(),
            rows.iter().map(|&(i, settled)| amount(i, settled).map(i128::from)),
        )
        .into_decimal_unchecked(MONEY_PRECISION, MONEY_SCALE)
        .into_column(),
        take("currency", &p.currency)?,
    ];
    let fail = |i: usize, settled: bool| -> Option<String> {
        if settled {
            return amount(i, true).is_none().then(|| "invalid_amount/amount".to_string());
        }
        let (rule, column) = p.fail[i]?;
        let column = match (kind, column) {
            (InputKind::Payments, "doc_id") => "payment_id",
            (InputKind::Payments, "doc_date") => "payment_date",
            (_, c) => c,
        };
        Some(format!("{}/{column}", rule.name()))
    };
    columns.push(build(FAIL_COLUMN.trim_start_matches(DERIVED_PREFIX), &fail));
    let text = |ca: &StringChunked, i: usize| ca.get(i).map(str::to_string);
    match kind {
        InputKind::Ledger => {
            columns.push(take("doc_id", &p.doc_id)?);
            let type_value = p.type_value.slice(first as i64, len);
            let type_value: Vec<Option<&str>> = type_value.iter().collect();
            columns.push(
                StringChunked::from_iter_options(
                    format!("{DERIVED_PREFIX}doc_type").into(),
                    rows.iter().map(|&(i, _)| match p.target[i] {
                        Target::Ledger(t) => Some(t.as_str()),
                        // Unmapped: the value as written, for the quarantine.
                        _ => type_value[i - first],
                    }),
                )
                .into_column(),
            );
            match links {
                None => columns.push(take("applies_to", &p.applies_to)?),
                Some(links) => {
                    let given = p.applies_to.slice(first as i64, len);
                    let given: Vec<Option<&str>> = given.iter().collect();
                    let mut out = StringChunkedBuilder::new(format!("{DERIVED_PREFIX}applies_to").into(), rows.len());
                    for &(i, _) in &rows {
                        let linked = match (p.target[i], given[i - first]) {
                            (Target::Ledger(DocType::CreditMemo | DocType::WriteOff), None) => links.applies_to(f, i),
                            (_, a) => a,
                        };
                        out.append_option(linked);
                    }
                    columns.push(out.finish().into_column());
                }
            }
            if let Some(d) = &p.doc_date {
                columns.push(take("doc_date", d)?);
            }
            if let (Some(d), None) = (&p.due_date, &spec.terms) {
                columns.push(take("due_date", d)?);
            }
            if spec.terms.is_some() {
                columns.push(
                    Int32Chunked::from_iter_options(
                        format!("{DERIVED_PREFIX}due_date").into(),
                        rows.iter().map(|&(i, _)| p.due[i]),
                    )
                    .into_date()
                    .into_column(),
                );
            }
        }
        _ if settlements => {
            columns.push(build("payment_id", &|i, settled| match settled {
                true => text(&p.doc_id, i).map(|d| format!("{d}-settlement")),
                false => text(&p.payment_id, i),
            }));
            columns.push(build("payment_date", &|i, settled| match settled {
                true => text(&p.settle_date, i),
                false => text(&p.pay_date, i),
            }));
            columns.push(build("invoice_refs", &|i, settled| match (settled, links) {
                (true, _) => text(&p.doc_id, i),
                (false, None) => text(&p.refs, i),
                (false, Some(links)) => {
                    let (mut out, mut seen) = (String::new(), Vec::new());
                    links.refs(f, i, p.refs.get(i), &mut seen, &mut out).then_some(out)
                }
            }));
        }
        _ => {
            columns.push(take("payment_id", &p.payment_id)?);
            columns.push(take("payment_date", &p.pay_date)?);
            match links {
                None => columns.push(take("invoice_refs", &p.refs)?),
                Some(links) => {
                    let given = p.refs.slice(first as i64, len);
                    let given: Vec<Option<&str>> = given.iter().collect();
                    let mut out = StringChunkedBuilder::new(format!("{DERIVED_PREFIX}invoice_refs").into(), rows.len());
                    let (mut joined, mut seen) = (String::new(), Vec::new());
                    for &(i, _) in &rows {
                        let linked = links.refs(f, i, given[i - first], &mut seen, &mut joined);
                        out.append_option(linked.then_some(joined.as_str()));
                    }
                    columns.push(out.finish().into_column());
                }
            }
        }
    }
    for c in columns {
        frame.with_column(c).map_err(err())?;
    }
    Ok(frame)
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
