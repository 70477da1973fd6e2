//! The frames the ledger's and payments' validation read from a routed source, a range of a
//! file's rows at a time: the export columns the rules read as written, the derived canonical
//! values under [`DERIVED_PREFIX`], each row's file row and the rule it already failed.

use polars::prelude::*;

use super::super::columns::{DERIVED_PREFIX, FAIL_COLUMN, ROW_COLUMN};
use super::Prepared;
use super::links::Links;
use super::params::SourceSpec;
use super::route::{Parsed, Target};
use crate::contracts::{DocType, InputKind, MONEY_PRECISION, MONEY_SCALE};
use crate::error::{EngineError, Result};

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

    /// The rows of file `file` (under its header).
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
    let mut frame = p
        .frame
        .select(passthrough.iter().copied())
        .map_err(err())?
        .slice(first as i64, len)
        .filter(&mask)
        .map_err(err())?;
    let settlements = rows.iter().any(|&(_, s)| s);
    // This range of a column (its views are read by row: `i - first`).
    let range_of = |ca: &StringChunked| ca.slice(first as i64, len);
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
            let type_value = range_of(&p.type_value);
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
                    let (given, ids) = (range_of(&p.applies_to), range_of(&p.doc_id));
                    let (given, ids): (Vec<_>, Vec<_>) = (given.iter().collect(), ids.iter().collect());
                    let mut out = StringChunkedBuilder::new(format!("{DERIVED_PREFIX}applies_to").into(), rows.len());
                    for &(i, _) in &rows {
                        let k = i - first;
                        let linked = match (p.target[i], given[k]) {
                            (Target::Ledger(DocType::CreditMemo | DocType::WriteOff), None) => {
                                links.applies_to((f, i), ids[k])
                            }
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
            let ids = range_of(&p.doc_id);
            let ids: Vec<_> = ids.iter().collect();
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
                    let k = i - first;
                    links.refs((f, i), ids[k], p.refs.get(i), &mut seen, &mut out).then_some(out)
                }
            }));
        }
        _ => {
            columns.push(take("payment_id", &p.payment_id)?);
            columns.push(take("payment_date", &p.pay_date)?);
            match links {
                None => columns.push(take("invoice_refs", &p.refs)?),
                Some(links) => {
                    let (given, ids) = (range_of(&p.refs), range_of(&p.doc_id));
                    let (given, ids): (Vec<_>, Vec<_>) = (given.iter().collect(), ids.iter().collect());
                    let mut out = StringChunkedBuilder::new(format!("{DERIVED_PREFIX}invoice_refs").into(), rows.len());
                    let (mut joined, mut seen) = (String::new(), Vec::new());
                    for &(i, _) in &rows {
                        let k = i - first;
                        let linked = links.refs((f, i), ids[k], given[k], &mut seen, &mut joined);
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
