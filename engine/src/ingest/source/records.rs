//! Routing a block of CSV records straight from the file's bytes: each record is split at its
//! delimiters once, and only the values routing reads are looked at, with the per-row rules
//! of [`super::route`] (target, sign, terms, failures, settlement), straight into the frames
//! of the block's ledger rows and payment rows. The result is the one [`super::route`] and
//! [`super::frames`] give from the block parsed into text columns (a test reads the same
//! export both ways), without building a text column for every column of the export and
//! then filtering each: on a combined SAP export that was most of the ingest's extra work.
//!
//! Used for the files read a block at a time ([`super::blocks`]) whenever every column the
//! source reads is in the header; otherwise the block is parsed into a frame and the
//! frame's routing reports the missing column.

use polars::prelude::*;
use regex::Regex;

use super::super::columns::{DERIVED_PREFIX, FAIL_COLUMN, ROW_COLUMN, clean};
use super::super::parse::{DateParser, NumberFormat};
use super::super::quarantine::Rule;
use super::frames::{Block, GROUP_COLUMN, OWN_COLUMN, fail_text, own_id_column};
use super::links::{Clearing, LinkBuilder, NO_GROUP, Role, role};
use super::params::{MissingId, SignRule, SourceSpec};
use super::route::{
    AmountColumn, Cents, RouteRun, Target, debit_less_credit, due_from_terms, normalise_id, row_fail, row_target,
    settlement, sign,
};
use super::{SourceCounts, TypeRuns, Types};
use crate::calendar::from_epoch_days;
use crate::contracts::{InputKind, MONEY_PRECISION, MONEY_SCALE};
use crate::error::{EngineError, Result};

/// Where each value a source reads sits in a record (positions in the header).
#[derive(Debug)]
pub(super) struct Plan<'s> {
    spec: &'s SourceSpec,
    width: usize,
    /// Fields a record is split into: up to the last one read (the others are never looked at).
    read_width: usize,
    type_column: Option<usize>,
    /// The document id: the key's parts (joined with `-`), or the id column alone.
    id: Vec<usize>,
    payment_id: Option<usize>,
    customer: usize,
    currency: Option<usize>,
    /// The amount column, or the debit and credit columns.
    amount: (usize, Option<usize>),
    indicator: Option<usize>,
    doc_date: Option<usize>,
    /// The payment date's column (none: the rows have none), with its own date format.
    pay_date: Option<(usize, Option<&'s DateParser>)>,
    /// Document and due dates written in a format of their own, rewritten as ISO dates.
    own_doc_date: Option<(usize, &'s DateParser)>,
    own_due_date: Option<(usize, &'s DateParser)>,
    terms: Option<TermsPlan<'s>>,
    applies_to: Option<usize>,
    refs: Option<usize>,
    clearing: Option<usize>,
    settle: Option<SettlePlan<'s>>,
    drop: Vec<(usize, &'s Regex)>,
    /// The amount columns, as [`route_block`] reads them: the amount (or debit, then credit),
    /// then the settlement's amount.
    amount_names: Vec<String>,
    /// The export columns each input's rules read as written (name, position), by name:
    /// ledger, then payments.
    passthrough: [Vec<(String, usize)>; 2],
}

#[derive(Debug)]
struct TermsPlan<'s> {
    terms: &'s super::params::Terms,
    given: Option<(usize, &'s DateParser)>,
    baseline: (usize, &'s DateParser),
    codes: Option<usize>,
    baseline_is_doc_date: bool,
}

#[derive(Debug)]
struct SettlePlan<'s> {
    date: usize,
    own: Option<&'s DateParser>,
    amount: Option<usize>,
}

impl<'s> Plan<'s> {
    /// The positions of what `spec` reads in a file with columns `names`; `None` when one it
    /// needs is not there (the frame's routing then names it).
    pub(super) fn new(spec: &'s SourceSpec, names: &[String]) -> Option<Plan<'s>> {
        let at = |column: &str| names.iter().position(|n| n == column);
        let column = |canonical: &'s str| spec.column(canonical);
        let type_column = match &spec.type_column {
            Some(c) => Some(at(c)?),
            None => None,
        };
        let id = match spec.key.is_empty() {
            true => vec![at(column("doc_id"))?],
            false => spec.key.iter().map(|k| at(k)).collect::<Option<Vec<usize>>>()?,
        };
        let payment_id = match spec.maps("payment_id") {
            true => Some(at(column("payment_id"))?),
            false => None,
        };
        let currency = at(column("currency"));
        if currency.is_none() && spec.maps("currency") {
            return None;
        }
        let amount = match spec.sign {
            SignRule::Columns => (
                at(spec.debit_column.as_deref().unwrap_or_default())?,
                Some(at(spec.credit_column.as_deref().unwrap_or_default())?),
            ),
            _ => (at(column("amount"))?, None),
        };
        let indicator = match &spec.indicator {
            Some(i) if spec.sign == SignRule::Indicator => Some(at(&i.column)?),
            _ => None,
        };
        let doc_date = at(column("doc_date"));
        let pay_column = if spec.maps("payment_date") { column("payment_date") } else { column("doc_date") };
        let pay_date = match spec.maps("payment_date") {
            true => Some(at(pay_column)?),
            false => doc_date,
        }
        .map(|c| (c, spec.own_date_format(pay_column).then(|| spec.date_of(pay_column))));
        let own = |canonical: &'s str| {
            let c = column(canonical);
            if !spec.own_date_format(c) {
                return None;
            }
            at(c).map(|k| (k, spec.date_of(c)))
        };
        let terms = match &spec.terms {
            Some(t) => {
                let baseline = t.baseline.as_deref().unwrap_or(column("doc_date"));
                Some(TermsPlan {
                    terms: t,
                    given: at(column("due_date")).map(|k| (k, spec.date_of(column("due_date")))),
                    baseline: (at(baseline)?, spec.date_of(baseline)),
                    codes: at(t.column.as_deref().unwrap_or(column("terms"))),
                    baseline_is_doc_date: t.baseline.as_deref().is_none_or(|b| b == column("doc_date")),
                })
            }
            None => None,
        };
        let settle = match &spec.settlement {
            Some(s) => Some(SettlePlan {
                date: at(&s.date)?,
                own: spec.own_date_format(&s.date).then(|| spec.date_of(&s.date)),
                amount: match &s.amount {
                    Some(a) => Some(at(a)?),
                    None => None,
                },
            }),
            None => None,
        };
        let drop = spec.drop_rows.iter().map(|(c, re)| Some((at(c)?, re))).collect::<Option<Vec<_>>>()?;
        let clearing = match &spec.clearing_column {
            Some(c) => Some(at(c)?),
            None => None,
        };
        let passthrough = |kind: InputKind| {
            let mut cols: Vec<(String, usize)> = spec
                .routed(kind)
                .columns
                .iter()
                .filter(|(_, c)| !c.starts_with(DERIVED_PREFIX))
                .filter_map(|(_, c)| at(c).map(|k| (c.clone(), k)))
                .collect();
            cols.sort();
            cols.dedup();
            cols
        };
        let mut amount_names = vec![names[amount.0].clone()];
        amount_names.extend(amount.1.map(|c| names[c].clone()));
        if amount.1.is_none() {
            amount_names.push(String::new());
        }
        amount_names.extend(settle.as_ref().and_then(|s| s.amount).map(|c| names[c].clone()));
        let mut plan = Plan {
            spec,
            amount_names,
            width: names.len(),
            read_width: names.len(),
            type_column,
            id,
            payment_id,
            customer: at(column("customer_id"))?,
            currency,
            amount,
            indicator,
            doc_date,
            pay_date,
            own_doc_date: own("doc_date"),
            own_due_date: own("due_date"),
            terms,
            applies_to: at(column("applies_to")),
            refs: at(column("invoice_refs")),
            clearing,
            settle,
            drop,
            passthrough: [passthrough(InputKind::Ledger), passthrough(InputKind::Payments)],
        };
        plan.read_width = plan.columns().max().map_or(0, |c| c + 1);
        Some(plan)
    }

    /// Every column position the plan reads.
    fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        let one = [
            self.type_column,
            self.payment_id,
            Some(self.customer),
            self.currency,
            Some(self.amount.0),
            self.amount.1,
            self.indicator,
            self.doc_date,
            self.pay_date.map(|p| p.0),
            self.own_doc_date.map(|p| p.0),
            self.own_due_date.map(|p| p.0),
            self.applies_to,
            self.refs,
            self.clearing,
        ];
        let terms = self.terms.iter().flat_map(|t| [t.given.map(|g| g.0), Some(t.baseline.0), t.codes]);
        let settle = self.settle.iter().flat_map(|s| [Some(s.date), s.amount]);
        one.into_iter()
            .chain(terms)
            .chain(settle)
            .flatten()
            .chain(self.id.iter().copied())
            .chain(self.drop.iter().map(|d| d.0))
            .chain(self.passthrough.iter().flatten().map(|p| p.1))
    }
}

/// A routed block before its links: its frames, where its rows went, and what its clearing
/// groups need, in file order.
#[derive(Debug)]
pub(super) struct Routed {
    block: Block,
    counts: SourceCounts,
    types: Types,
    links: LinkRows,
    /// The block row of each ledger and each payments row.
    from: [Vec<u32>; 2],
}

/// What a block's rows contribute to the clearing groups, in file order.
#[derive(Debug, Default)]
struct LinkRows {
    /// Clearing documents that are not numbers, side by side.
    text: String,
    rows: Vec<LinkRow>,
}

/// A row of a block that takes part in the clearing groups.
#[derive(Debug)]
struct LinkRow {
    /// The row in the block.
    row: u32,
    /// For a receivable with a clearing document, its row in the block's ledger frame (whose
    /// id it is); [`MEMBER`] for a payment or a memo without `applies_to`, which takes its
    /// clearing document's links.
    ledger_row: u32,
    clearing: Key,
}

const MEMBER: u32 = u32::MAX;

/// A clearing document keyed while routing: a number, a text in [`LinkRows::text`], or none.
#[derive(Debug, Clone, Copy)]
enum Key {
    None,
    Number(u64),
    Text(u32, u32),
}

impl LinkRows {
    fn key(&mut self, c: Option<&str>) -> Key {
        match c.map(Clearing::of) {
            None => Key::None,
            Some(Clearing::Number(k)) => Key::Number(k),
            Some(Clearing::Text(t)) => {
                let start = self.text.len() as u32;
                self.text.push_str(t);
                Key::Text(start, self.text.len() as u32)
            }
        }
    }

    fn clearing(&self, key: Key) -> Option<Clearing<'_>> {
        match key {
            Key::None => None,
            Key::Number(k) => Some(Clearing::Number(k)),
            Key::Text(a, b) => Some(Clearing::Text(&self.text[a as usize..b as usize])),
        }
    }
}

impl Routed {
    /// The block, its rows counted in `counts` and `types`, their clearing groups recorded in
    /// `links` (blocks are finished in file order) and written into its frames.
    pub(super) fn finish(
        self,
        counts: &mut SourceCounts,
        types: &mut Types,
        links: Option<&mut LinkBuilder>,
    ) -> Result<Block> {
        let Routed { mut block, links: rows, from, counts: mine, types: my_types } = self;
        counts.merge(mine);
        types.merge(my_types);
        let Some(builder) = links else { return Ok(block) };
        let err = || EngineError::polars("writing the clearing groups of routed rows");
        let mut group: Vec<Option<u32>> = vec![None; block.rows];
        let ids =
            block.ledger.column(&format!("{DERIVED_PREFIX}doc_id")).and_then(|c| c.str().cloned()).map_err(err())?;
        for link in &rows.rows {
            let clearing = rows.clearing(link.clearing);
            group[link.row as usize] = match (link.ledger_row, clearing) {
                (MEMBER, c) => Some(c.map_or(NO_GROUP, |c| builder.other_keyed(c))),
                (at, Some(c)) => {
                    builder.receivable_keyed(c, ids.get(at as usize).unwrap_or_default());
                    None
                }
                (_, None) => None,
            };
        }
        for (frame, from) in [&mut block.ledger, &mut block.payments].into_iter().zip(&from) {
            let column = UInt32Chunked::from_iter_options(GROUP_COLUMN.into(), from.iter().map(|&i| group[i as usize]));
            frame.with_column(column.into_column()).map_err(err())?;
        }
        Ok(block)
    }
}

/// The columns of the rows of one block routed to one input.
struct Out {
    kind: InputKind,
    passthrough: Vec<(String, usize, StringChunkedBuilder)>,
    row: Vec<u64>,
    customer: StringChunkedBuilder,
    /// Amounts, and the rows without one (0 in `amount`): most blocks have none, and their
    /// amounts become the column without a copy.
    amount: Vec<i128>,
    no_amount: Vec<u32>,
    currency: StringChunkedBuilder,
    fail: Sparse,
    /// Ledger: doc_id, doc_type; payments: payment_id, payment_date.
    text: [StringChunkedBuilder; 2],
    /// Ledger: applies_to; payments: invoice_refs.
    links: Sparse,
    doc_date: Option<StringChunkedBuilder>,
    due_date: Option<StringChunkedBuilder>,
    due: Option<Vec<Option<i32>>>,
    own: Option<StringChunkedBuilder>,
    from: Vec<u32>,
}

/// A text column whose values are mostly missing (failures, links): only the values present
/// are kept while the rows are routed, and a column of nulls is never written.
struct Sparse {
    name: String,
    rows: usize,
    /// (row, end of its value in `text`) of each value present.
    present: Vec<(u32, usize)>,
    text: String,
}

impl Sparse {
    fn new(name: String) -> Sparse {
        Sparse { name, rows: 0, present: Vec::new(), text: String::new() }
    }

    fn push(&mut self, v: Option<&str>) {
        if let Some(v) = v {
            self.text.push_str(v);
            self.present.push((self.rows as u32, self.text.len()));
        }
        self.rows += 1;
    }

    fn finish(self) -> StringChunked {
        if self.present.is_empty() {
            return StringChunked::full_null(self.name.into(), self.rows);
        }
        let mut out = StringChunkedBuilder::new(self.name.into(), self.rows);
        let (mut next, mut start) = (self.present.iter().peekable(), 0);
        for i in 0..self.rows as u32 {
            match next.next_if(|(row, _)| *row == i) {
                Some(&(_, end)) => {
                    out.append_value(&self.text[start..end]);
                    start = end;
                }
                None => out.append_null(),
            }
        }
        out.finish()
    }
}

/// One routed row's values, as the rules read them.
struct Row<'r> {
    /// 1-based file row.
    file_row: u64,
    block_row: u32,
    customer: Option<&'r str>,
    currency: Option<&'r str>,
    amount: Option<i64>,
    fail: Option<String>,
    doc_id: Option<&'r str>,
}

impl Out {
    fn new(plan: &Plan<'_>, kind: InputKind, n: usize) -> Out {
        let b = |name: &str| StringChunkedBuilder::new(format!("{DERIVED_PREFIX}{name}").into(), n);
        let k = usize::from(kind != InputKind::Ledger);
        let (names, links) = match kind {
            InputKind::Ledger => (["doc_id", "doc_type"], "applies_to"),
            _ => (["payment_id", "payment_date"], "invoice_refs"),
        };
        let sparse = |name: &str| Sparse::new(format!("{DERIVED_PREFIX}{name}"));
        let ledger = kind == InputKind::Ledger;
        let spec = plan.spec;
        Out {
            kind,
            passthrough: plan.passthrough[k]
                .iter()
                .map(|(name, at)| (name.clone(), *at, StringChunkedBuilder::new(name.as_str().into(), n)))
                .collect(),
            row: Vec::with_capacity(n),
            customer: b("customer_id"),
            amount: Vec::with_capacity(n),
            no_amount: Vec::new(),
            currency: b("currency"),
            fail: Sparse::new(FAIL_COLUMN.to_string()),
            text: names.map(b),
            links: sparse(links),
            doc_date: (ledger && plan.own_doc_date.is_some()).then(|| b("doc_date")),
            due_date: (ledger && plan.own_due_date.is_some() && spec.terms.is_none()).then(|| b("due_date")),
            due: (ledger && spec.terms.is_some()).then(|| Vec::with_capacity(n)),
            own: (spec.clearing_column.is_some() && own_id_column(spec, kind) == OWN_COLUMN)
                .then(|| b(OWN_COLUMN.trim_start_matches(DERIVED_PREFIX))),
            from: Vec::with_capacity(n),
        }
    }

    /// Append a row: its record's values `f`, what it shares with every input (`row`), and
    /// the three text values of this input.
    fn push(&mut self, f: &[Option<&str>], row: &Row<'_>, text: [Option<&str>; 3]) {
        for (_, at, b) in &mut self.passthrough {
            b.append_option(f[*at]);
        }
        self.row.push(row.file_row);
        self.customer.append_option(row.customer);
        if row.amount.is_none() {
            self.no_amount.push(self.amount.len() as u32);
        }
        self.amount.push(row.amount.map_or(0, i128::from));
        self.currency.append_option(row.currency);
        self.fail.push(row.fail.as_deref());
        let [id, second, links] = text;
        self.text[0].append_option(id);
        self.text[1].append_option(second);
        self.links.push(links);
        if let Some(own) = &mut self.own {
            own.append_option(row.doc_id);
        }
        self.from.push(row.block_row);
    }

    fn finish(self) -> Result<(DataFrame, Vec<u32>)> {
        let n = self.row.len();
        let mut columns: Vec<Column> = self.passthrough.into_iter().map(|(_, _, b)| b.finish().into_column()).collect();
        columns.push(UInt64Chunked::from_vec(ROW_COLUMN.into(), self.row).into_column());
        columns.push(self.customer.finish().into_column());
        let name = format!("{DERIVED_PREFIX}amount").into();
        let amount = match self.no_amount.is_empty() {
            true => Int128Chunked::from_vec(name, self.amount),
            false => {
                let mut missing = self.no_amount.iter().peekable();
                let values =
                    self.amount.iter().enumerate().map(|(i, v)| match missing.next_if(|&&m| m as usize == i) {
                        Some(_) => None,
                        None => Some(*v),
                    });
                Int128Chunked::from_iter_options(name, values)
            }
        };
        columns.push(amount.into_decimal_unchecked(MONEY_PRECISION, MONEY_SCALE).into_column());
        columns.push(self.currency.finish().into_column());
        columns.push(self.fail.finish().into_column());
        columns.extend(self.text.map(|b| b.finish().into_column()));
        columns.push(self.links.finish().into_column());
        columns.extend(self.doc_date.map(|b| b.finish().into_column()));
        columns.extend(self.due_date.map(|b| b.finish().into_column()));
        if let Some(due) = self.due {
            columns.push(
                Int32Chunked::from_iter_options(format!("{DERIVED_PREFIX}due_date").into(), due.into_iter())
                    .into_date()
                    .into_column(),
            );
        }
        columns.extend(self.own.map(|b| b.finish().into_column()));
        let what = if self.kind == InputKind::Ledger { "ledger" } else { "payments" };
        let frame =
            DataFrame::new(n, columns).map_err(EngineError::polars(format!("building the routed {what} rows")))?;
        Ok((frame, self.from))
    }
}

/// A date as written rewritten as an ISO date (kept as written when it is not a date).
fn iso(v: Option<&str>, parser: Option<&DateParser>, buf: &mut String) -> Option<()> {
    use std::fmt::Write;
    let v = v?;
    buf.clear();
    match parser.and_then(|p| p.parse(v)) {
        Some(d) => {
            let _ = write!(buf, "{}", from_epoch_days(d));
        }
        None => buf.push_str(v),
    }
    Some(())
}

/// Route records of a block: `text` holds them, record `k` starting at `starts[k] - base`
/// (the last running to the end); the first is 0-based file row `first_row`. `ragged` lists
/// the block's records with another number of fields than the header's.
pub(super) fn route_block(
    plan: &Plan<'_>,
    path: &std::path::Path,
    text: &str,
    starts: &[u64],
    first_row: usize,
    ragged: &[(u64, u32)],
) -> Result<Routed> {
    let spec = plan.spec;
    let n = starts.len();
    let base = starts.first().copied().unwrap_or_default();
    let delimiter = spec.read.delimiter;
    let numbers: &NumberFormat = &spec.numbers;
    let mut out = [Out::new(plan, InputKind::Ledger, n), Out::new(plan, InputKind::Payments, n)];
    let (mut counts, mut types) = (SourceCounts::default(), TypeRuns::default());
    let mut links = LinkRows::default();
    // The amount columns as read: the amount (or debit, then credit), then the settlement's.
    let mut read = [AmountColumn::default(), AmountColumn::default(), AmountColumn::default()];
    let mut run = RouteRun::default();
    // Total-line patterns matched once per run of equal values.
    let mut drop_runs: Vec<(String, bool)> = vec![(String::new(), false); plan.drop.len()];
    let mut next_ragged = ragged.iter().peekable();
    // Most blocks hold no quote at all: then no record needs looking for one.
    let quotes = memchr::memchr(b'"', text.as_bytes()).is_some();
    let (mut plain, mut id, mut row_id, mut settle_id) =
        (Vec::with_capacity(plan.width), String::new(), String::new(), String::new());
    let (mut pay_iso, mut doc_iso, mut due_iso, mut settle_iso) =
        (String::new(), String::new(), String::new(), String::new());
    for i in 0..n {
        let start = (starts[i] - base) as usize;
        let end = starts.get(i + 1).map_or(text.len(), |s| (s - base) as usize);
        let mut record = &text[start..end];
        record = record.strip_suffix('\n').unwrap_or(record);
        record = record.strip_suffix('\r').unwrap_or(record);
        // The values as the parser reads them: an empty field is missing, fields past the
        // header's dropped, missing ones missing.
        let quoted: Vec<Option<String>>;
        let fields: Vec<Option<&str>>;
        let f: &[Option<&str>] = if !quotes || memchr::memchr(b'"', record.as_bytes()).is_none() {
            plain.clear();
            let mut from = 0;
            for at in memchr::memchr_iter(delimiter, record.as_bytes()) {
                plain.push(Some(&record[from..at]).filter(|v| !v.is_empty()));
                from = at + 1;
                if plain.len() == plan.read_width {
                    break;
                }
            }
            if plain.len() < plan.read_width {
                plain.push(Some(&record[from..]).filter(|v| !v.is_empty()));
            }
            // Fields past the last one read are never looked at.
            plain.resize(plan.width, None);
            &plain
        } else {
            let mut q = super::blocks::record_fields(record.as_bytes(), delimiter);
            q.resize(plan.width, None);
            quoted = q;
            fields = quoted.iter().map(|v| v.as_deref()).collect();
            &fields
        };
        let file_row = (first_row + i) as u64 + 1;
        let mut total = false;
        for ((at, pattern), (last, matched)) in plan.drop.iter().zip(&mut drop_runs) {
            let Some(v) = f[*at] else { continue };
            if last != v {
                last.clear();
                last.push_str(v);
                *matched = pattern.is_match(v.trim());
            }
            total |= *matched;
        }
        let type_value = plan.type_column.and_then(|c| clean(f[c]));
        let mut doc_id: Option<&str> = if spec.key.is_empty() {
            clean(f[plan.id[0]]).map(normalise_id)
        } else {
            id.clear();
            let mut whole = true;
            for (j, &c) in plan.id.iter().enumerate() {
                match clean(f[c]) {
                    Some(part) => {
                        if j > 0 {
                            id.push('-');
                        }
                        id.push_str(normalise_id(part));
                    }
                    None => whole = false,
                }
            }
            whole.then_some(id.as_str())
        };
        let mut payment_id = match plan.payment_id {
            Some(c) => clean(f[c]).map(normalise_id),
            None => doc_id,
        };
        let customer = clean(f[plan.customer]).map(normalise_id);
        let currency = match (plan.currency, spec.currency.as_deref()) {
            (Some(c), Some(default)) => Some(clean(f[c]).unwrap_or(default)),
            (Some(c), None) => clean(f[c]),
            (None, default) => default,
        };
        let signed: Option<Cents> = match plan.amount {
            (a, None) => read[0].parse(numbers, f[a], i),
            (d, Some(c)) => {
                let d = read[0].parse(numbers, f[d], i);
                debit_less_credit(d, read[1].parse(numbers, f[c], i))
            }
        };
        let indicator = plan.indicator.and_then(|c| clean(f[c]));
        let doc_date = plan.doc_date.and_then(|c| clean(f[c]));
        let blank = doc_id.is_none() && signed.is_none() && doc_date.is_none();
        if spec.missing_id == MissingId::RowNumber && !blank && !total && doc_id.is_none() {
            use std::fmt::Write;
            row_id.clear();
            let _ = write!(row_id, "row-{file_row}");
            doc_id = Some(row_id.as_str());
            payment_id = payment_id.or(doc_id);
        }
        let target = row_target(spec, total, type_value.is_none() && blank, type_value, &mut run);
        let (target, fail, value) = sign(spec, target, signed, indicator);
        let (due, due_fail) = match &plan.terms {
            Some(t) => {
                let date = |(c, p): (usize, &DateParser)| clean(f[c]).map(|s| p.parse(s).ok_or(()));
                let given = t.given.and_then(date);
                let code = t.codes.and_then(|c| clean(f[c]));
                due_from_terms(t.terms, given, code, date(t.baseline), t.baseline_is_doc_date)
            }
            None => (None, None),
        };
        let is_ragged = next_ragged.peek().is_some_and(|&&(r, _)| r == (first_row + i) as u64);
        if is_ragged {
            next_ragged.next();
        }
        let fail = row_fail(target, fail, due_fail, is_ragged, || None);
        let settle_date = plan.settle.as_ref().and_then(|s| clean(f[s.date]));
        let paid = plan.settle.as_ref().and_then(|s| s.amount).map(|c| read[2].parse(numbers, f[c], i));
        let settled = settlement(target, settle_date, paid, value);

        counts.row(target, settled.is_some());
        if spec.type_column.is_some() {
            types.row(target, type_value);
        }
        let applies_to = plan.applies_to.and_then(|c| clean(f[c])).map(normalise_id);
        if let Some(c) = plan.clearing {
            let clearing = clean(f[c]).map(normalise_id);
            let ledger_row = match role(target, clearing.is_some(), doc_id.is_some(), || applies_to.is_some()) {
                // The id is the one the row is given in the ledger's frame (below).
                Some(Role::Receivable) => Some(out[0].row.len() as u32),
                Some(Role::Member) => Some(MEMBER),
                None => None,
            };
            if let Some(ledger_row) = ledger_row {
                let clearing = links.key(clearing);
                links.rows.push(LinkRow { row: i as u32, ledger_row, clearing });
            }
        }
        let failed = |kind: InputKind| fail.map(|f| fail_text(kind, f));
        let row = |kind: InputKind| Row {
            file_row,
            block_row: i as u32,
            customer,
            currency,
            amount: value,
            fail: failed(kind),
            doc_id,
        };
        match target {
            Target::Ledger(_) | Target::Unmapped => {
                let doc_type = match target {
                    Target::Ledger(t) => Some(t.as_str()),
                    _ => type_value,
                };
                let ledger = &mut out[0];
                ledger.push(f, &row(InputKind::Ledger), [doc_id, doc_type, applies_to]);
                if let (Some(b), Some((c, p))) = (&mut ledger.doc_date, plan.own_doc_date) {
                    b.append_option(iso(clean(f[c]), Some(p), &mut doc_iso).map(|()| doc_iso.as_str()));
                }
                if let (Some(b), Some((c, p))) = (&mut ledger.due_date, plan.own_due_date) {
                    b.append_option(iso(clean(f[c]), Some(p), &mut due_iso).map(|()| due_iso.as_str()));
                }
                if let Some(d) = &mut ledger.due {
                    d.push(due);
                }
            }
            Target::Payment => {
                let date = match plan.pay_date {
                    Some((c, Some(own))) => iso(clean(f[c]), Some(own), &mut pay_iso).map(|()| pay_iso.as_str()),
                    Some((c, None)) => clean(f[c]),
                    None => None,
                };
                let refs = plan.refs.and_then(|c| clean(f[c]));
                out[1].push(f, &row(InputKind::Payments), [payment_id, date, refs]);
            }
            Target::Ignored(_) => {}
        }
        if let Some(paid) = settled {
            let own = plan.settle.as_ref().and_then(|s| s.own);
            let date = match own {
                Some(_) => iso(settle_date, own, &mut settle_iso).map(|()| settle_iso.as_str()),
                None => settle_date,
            };
            let id = match doc_id {
                Some(d) => {
                    settle_id.clear();
                    settle_id.push_str(d);
                    settle_id.push_str("-settlement");
                    Some(settle_id.as_str())
                }
                None => None,
            };
            let fail = paid.is_none().then(|| fail_text(InputKind::Payments, (Rule::InvalidAmount, "amount")));
            let row = Row { amount: paid, fail, ..row(InputKind::Payments) };
            out[1].push(f, &row, [id, date, doc_id]);
        }
    }
    for (read, column) in read.iter().zip(&plan.amount_names) {
        read.check(spec, numbers, column, path, first_row)?;
    }
    let [ledger, payments] = out;
    let (ledger, ledger_from) = ledger.finish()?;
    let (payments, payments_from) = payments.finish()?;
    Ok(Routed {
        block: Block { first_row, rows: n, ledger, payments },
        counts,
        types: types.finish(),
        links,
        from: [ledger_from, payments_from],
    })
}
