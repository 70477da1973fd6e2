//! The frames the ledger's and payments' validation read from a routed source: for each
//! range of a file's rows, the rows routed to each input, with the export columns the rules
//! read as written, the derived canonical values under [`DERIVED_PREFIX`], each row's file
//! row and the rule it already failed. Built as the rows are routed (the rows as read are
//! then dropped); links by clearing document, which need every row, are written into them
//! when they are handed to validation ([`Routing::frame`]).

use polars::prelude::*;

use super::super::columns::{DERIVED_PREFIX, FAIL_COLUMN, ROW_COLUMN, Raw};
use super::super::quarantine::Rule;
use super::links::{LinkBuilder, Links, NO_GROUP, Role, role};
use super::params::SourceSpec;
use super::route::{Parsed, Target};
use super::{Prepared, RawRows};
use crate::contracts::{InputKind, MONEY_PRECISION, MONEY_SCALE};

/// The `__ardent.fail` text of a row routed to `kind` that failed `rule` on canonical
/// `column` (named as `kind` names it: a payment's id and date are `payment_id`, `payment_date`).
pub(super) fn fail_text(kind: InputKind, (rule, column): (Rule, &'static str)) -> String {
    let column = match (kind, column) {
        (InputKind::Payments, "doc_id") => "payment_id",
        (InputKind::Payments, "doc_date") => "payment_date",
        (_, c) => c,
    };
    format!("{}/{column}", rule.name())
}
use crate::error::{EngineError, Result};

/// Per routed row, the clearing group whose links it takes ([`NO_GROUP`]: none, but its
/// references are still written the linked way); null where links do not apply.
pub(super) const GROUP_COLUMN: &str = "__ardent.clearing_group";
/// The row's own document id, which its links leave out, where the input's id column may
/// differ from it ([`own_id_column`]).
pub(super) const OWN_COLUMN: &str = "__ardent.own_id";

/// The column of a `kind` row's own document id: the ledger's id is it; a payment's is it
/// unless payment ids come from a column of their own or settled invoices yield payments
/// (whose ids are the invoice's with `-settlement`), which then carry [`OWN_COLUMN`].
pub(super) fn own_id_column(spec: &SourceSpec, kind: InputKind) -> String {
    match kind {
        InputKind::Ledger => format!("{DERIVED_PREFIX}doc_id"),
        _ if spec.maps("payment_id") || spec.settlement.is_some() => OWN_COLUMN.to_string(),
        _ => format!("{DERIVED_PREFIX}payment_id"),
    }
}

/// The rows of one range of a file routed to the ledger and to payments.
#[derive(Debug)]
pub struct Block {
    /// 0-based file row of the range's first row, and its rows.
    pub first_row: usize,
    pub rows: usize,
    pub ledger: DataFrame,
    pub payments: DataFrame,
}

/// Builds the frames a source's rows are validated in, from the blocks routed when it was
/// read.
#[derive(Debug)]
pub struct Routing<'a> {
    prepared: &'a Prepared,
}

impl<'a> Routing<'a> {
    pub fn new(prepared: &'a Prepared) -> Self {
        Routing { prepared }
    }

    /// The blocks of file `file`.
    pub fn blocks(&self, file: usize) -> &'a [Block] {
        self.prepared.routed.get(file).map_or(&[], |f| f.blocks.as_slice())
    }

    /// The rows of file `file` (under its header).
    pub fn file_rows(&self, file: usize) -> usize {
        self.prepared.routed.get(file).map_or(0, |f| f.rows)
    }

    /// The frame `kind` validates for block `block` of file `file`, its links written.
    pub fn frame(&self, kind: InputKind, file: usize, block: usize) -> Result<DataFrame> {
        let b = &self.blocks(file)[block];
        let frame = match kind {
            InputKind::Ledger => &b.ledger,
            _ => &b.payments,
        };
        match &self.prepared.links {
            Some(links) => linked(frame, links, kind),
            None => Ok(frame.clone()),
        }
    }

    /// The file as read: the quarantine's `raw` of its rows.
    pub fn raw(&self, file: usize) -> Option<Raw<'a>> {
        match &self.prepared.routed.get(file)?.raw {
            RawRows::Frame(frame) => Some(Raw::Frame(frame)),
            RawRows::Lines(lines) => Some(Raw::Lines(lines)),
        }
    }

    /// The customer and 1-based file row of every row of file `file` routed to `kind`, in order.
    pub fn customers(&self, kind: InputKind, file: usize) -> Vec<(Option<&'a str>, u64)> {
        let mut out = Vec::new();
        for b in self.blocks(file) {
            let frame = if kind == InputKind::Ledger { &b.ledger } else { &b.payments };
            let customers = frame.column(&format!("{DERIVED_PREFIX}customer_id")).ok().and_then(|c| c.str().ok());
            let rows = frame.column(ROW_COLUMN).ok().and_then(|c| c.u64().ok());
            if let (Some(customers), Some(rows)) = (customers, rows) {
                out.extend(customers.iter().zip(rows.iter()).map(|(c, r)| (c, r.unwrap_or_default())));
            }
        }
        out
    }
}

/// `frame` with the links of its rows written: a payment's references, a credit memo's or
/// write-off's `applies_to`.
fn linked(frame: &DataFrame, links: &Links, kind: InputKind) -> Result<DataFrame> {
    let err = || EngineError::polars("writing the links of routed rows");
    let (Ok(groups), Ok(own)) = (frame.column(GROUP_COLUMN), frame.column(links.own_column(kind))) else {
        return Ok(frame.clone());
    };
    let (groups, own) = (groups.u32().map_err(err())?, own.str().map_err(err())?);
    let target = match kind {
        InputKind::Ledger => format!("{DERIVED_PREFIX}applies_to"),
        _ => format!("{DERIVED_PREFIX}invoice_refs"),
    };
    let given = frame.column(&target).and_then(|c| c.str().cloned()).map_err(err())?;
    let mut out = StringChunkedBuilder::new(target.as_str().into(), frame.height());
    let (mut joined, mut seen) = (String::new(), Vec::new());
    for ((g, own), given) in groups.iter().zip(own.iter()).zip(given.iter()) {
        match (g, kind) {
            (None, _) => out.append_option(given),
            (Some(g), InputKind::Ledger) => out.append_option(links.applies_to(g, own)),
            (Some(g), _) => {
                let some = links.refs(g, own, given, &mut seen, &mut joined);
                out.append_option(some.then_some(joined.as_str()));
            }
        }
    }
    let mut frame = frame.drop_many([GROUP_COLUMN, OWN_COLUMN]);
    frame.with_column(out.finish().into_column()).map_err(err())?;
    Ok(frame)
}

/// Record the clearing group of each row of rows `range` of parsed file `p` in `links`
/// (in file order: a group's receivables are kept in the order met). Returns, per row, the
/// group whose links it takes (see [`GROUP_COLUMN`]).
pub fn groups(p: &Parsed, range: std::ops::Range<usize>, links: &mut LinkBuilder) -> Vec<Option<u32>> {
    let n = range.len();
    let mut group: Vec<Option<u32>> = vec![None; n];
    let (clearing, ids) = (p.clearing.slice(range.start as i64, n), p.doc_id.slice(range.start as i64, n));
    for (k, ((c, id), t)) in clearing.iter().zip(ids.iter()).zip(&p.target[range.clone()]).enumerate() {
        let i = range.start + k;
        group[k] = match (role(*t, c.is_some(), id.is_some(), || p.applies_to.get(i).is_some()), c, id) {
            (Some(Role::Receivable), Some(c), Some(id)) => {
                links.receivable(c, id);
                None
            }
            (Some(Role::Member), c, _) => Some(c.map_or(NO_GROUP, |c| links.other(c))),
            _ => None,
        };
    }
    group
}

/// The block of rows `range` of parsed file `p` (whose first row is file row `offset` + 1):
/// the frames of the rows routed to the ledger and to payments, with each row's clearing
/// group from [`groups`] when the source links by clearing document.
pub fn block(
    spec: &SourceSpec,
    p: &Parsed,
    range: std::ops::Range<usize>,
    offset: usize,
    groups: Option<&Vec<Option<u32>>>,
) -> Result<Block> {
    let (ledger, payments) = rayon::join(
        || routed_frame(spec, p, InputKind::Ledger, range.clone(), offset, groups),
        || routed_frame(spec, p, InputKind::Payments, range.clone(), offset, groups),
    );
    Ok(Block { first_row: offset + range.start, rows: range.len(), ledger: ledger?, payments: payments? })
}

/// The frame `kind` validates for rows `range` of one parsed file (whose first row is file
/// row `offset` + 1): the export's columns of the rows routed there, the derived canonical
/// values, each row's file row and the rule it already failed, and, where links apply, each
/// row's group and own id.
fn routed_frame(
    spec: &SourceSpec,
    p: &Parsed,
    kind: InputKind,
    range: std::ops::Range<usize>,
    offset: usize,
    groups: Option<&Vec<Option<u32>>>,
) -> Result<DataFrame> {
    let (first, len) = (range.start, range.len());
    // Whether each row of the range goes to `kind`; (row in the file, whether it is the
    // payment a settled invoice yields) of those that do.
    let mut mask = Vec::with_capacity(len);
    let mut rows: Vec<(usize, bool)> = Vec::with_capacity(len);
    for (i, t) in p.target[range].iter().enumerate() {
        let i = first + i;
        let row = match (kind, t) {
            (InputKind::Ledger, Target::Ledger(_) | Target::Unmapped) => Some(false),
            (InputKind::Payments, Target::Payment) => Some(false),
            (InputKind::Payments, Target::Ledger(_)) if p.settled[i] => Some(true),
            _ => None,
        };
        mask.push(row.is_some());
        rows.extend(row.map(|settled| (i, settled)));
    }
    let mask = BooleanChunked::from_slice("".into(), &mask);
    let err = || EngineError::polars(format!("routing the rows of source {}", spec.name));
    // The rows of the range routed here: a slice shares the file's buffers, the filter
    // copies only the routed rows' views.
    let pick = |ca: &StringChunked| ca.slice(first as i64, len).filter(&mask);
    // Only the columns the rules read as exported; the quarantine's `raw` comes from the
    // file as read.
    let routed = spec.routed(kind);
    let mut passthrough: Vec<&str> = routed
        .columns
        .iter()
        .map(|(_, c)| c.as_str())
        .filter(|c| !c.starts_with(DERIVED_PREFIX) && p.frame.column(c).is_ok())
        .collect();
    passthrough.sort_unstable();
    passthrough.dedup();
    let mut frame = p
        .frame
        .select(passthrough.iter().copied())
        .map_err(err())?
        .slice(first as i64, len)
        .filter(&mask)
        .map_err(err())?;
    let settlements = rows.iter().any(|&(_, s)| s);
    // A derived text column: the parsed column's values at the routed rows (sharing its
    // buffers), or, where settled invoices yield payments, built row by row.
    let take = |name: &str, ca: &StringChunked| -> Result<Column> {
        Ok(pick(ca).map_err(err())?.with_name(format!("{DERIVED_PREFIX}{name}").into()).into_column())
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
        UInt64Chunked::from_iter_values(ROW_COLUMN.into(), rows.iter().map(|&(i, _)| (offset + i) as u64 + 1))
            .into_column(),
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
            return amount(i, true).is_none().then(|| fail_text(kind, (Rule::InvalidAmount, "amount")));
        }
        p.fail[i].map(|f| fail_text(kind, f))
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
            columns.push(take("applies_to", &p.applies_to)?);
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
            columns.push(build("invoice_refs", &|i, settled| match settled {
                true => text(&p.doc_id, i),
                false => text(&p.refs, i),
            }));
        }
        _ => {
            columns.push(take("payment_id", &p.payment_id)?);
            columns.push(take("payment_date", &p.pay_date)?);
            columns.push(take("invoice_refs", &p.refs)?);
        }
    }
    if let Some(groups) = groups {
        columns.push(
            UInt32Chunked::from_iter_options(GROUP_COLUMN.into(), rows.iter().map(|&(i, _)| groups[i - first]))
                .into_column(),
        );
        if own_id_column(spec, kind) == OWN_COLUMN {
            columns.push(take(OWN_COLUMN.trim_start_matches(DERIVED_PREFIX), &p.doc_id)?);
        }
    }
    for c in columns {
        frame.with_column(c).map_err(err())?;
    }
    Ok(frame)
}
