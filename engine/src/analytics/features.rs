//! `features`: the point-in-time panel that delinquency models learn from (docs/definitions.md, "Models") — one
//! row per (observation date, customer) at every month end, with features computed only
//! from what was known at that date: documents dated `≤ t0`, applications dated `≤ t0`, and
//! invoices settled by `t0`. Nothing after `t0` is read, so a feature never changes when
//! later data arrives (a test checks this).
//!
//! A customer is observed at `t0` when it has something open then or was billed in the year
//! before. Missing values (no credit limit, nothing paid yet) are NaN.

use std::borrow::Cow;

use polars::prelude::DataFrame;
use rayon::prelude::*;

use super::Context;
use super::frame::{date, float_opt, frame, text};
use super::payment_stats::{paid_invoices, stats};
use super::walk::{at_rate, walk};
use crate::calendar::{month_of, month_start};
use crate::contracts::{DocType, OutColumn, OutType as O, TableContract, out};
use crate::error::{EngineError, Result};

/// The features, in column order, with what each measures.
pub const FEATURES: [(&str, &str); 20] = [
    ("open_ar", "Open AR at t0 (reporting currency, as-of rate)"),
    ("past_due_share", "Share of open AR past due"),
    ("share_61_plus", "Share of open AR at least 61 days past due"),
    ("max_dpd", "Largest days past due of an open document (0 when nothing is past due)"),
    ("disputed_share", "Share of open AR in disputed documents"),
    ("utilisation", "Open AR / credit limit (NaN without a positive limit)"),
    ("unapplied_cash", "Unapplied payments on account at t0"),
    (
        "invoices_90d",
        "Invoices and debit memos dated in the 90 days to t0 (at a full window's pace while the history is shorter)",
    ),
    ("billed_90d", "Amount billed in the 90 days to t0 (at a full window's pace while the history is shorter)"),
    (
        "billing_trend",
        "Daily billing over the last 90 days vs over the last 365 days (1 = usual; each over the part of its window the history covers)",
    ),
    ("credit_share_365d", "Credit memos / amount billed over 365 days"),
    (
        "invoices_paid_365d",
        "Invoices settled without a write-off in the 365 days to t0 (at a full window's pace while the history is shorter)",
    ),
    ("avg_days_to_pay_365d", "Mean days from document date to settlement"),
    ("weighted_days_late_365d", "Amount-weighted days late of settled invoices"),
    ("share_paid_late_365d", "Share of settled invoices paid after their due date"),
    ("trend_days_late", "Weighted days late over the last 90 days minus the 90 days before"),
    ("weighted_days_late_90d", "Amount-weighted days late of invoices settled in the 90 days to t0"),
    ("share_paid_late_90d", "Share of invoices settled in the 90 days to t0 that were paid late"),
    ("tenure_days", "Days since onboarding (or the first document)"),
    ("external_score", "External (bureau) score"),
];

/// The `features` contract.
pub fn contract() -> TableContract {
    let mut columns = vec![
        out("as_of", O::Date, false, "Observation date t0 (a month end)"),
        out("customer_id", O::Text, false, "Customer"),
        out("segment", O::Text, false, "The customer's value of the first segment column"),
    ];
    columns.extend(FEATURES.iter().map(|(name, doc)| OutColumn {
        name: Cow::Borrowed(name),
        ty: O::Float,
        nullable: true,
        doc: Cow::Borrowed(doc),
    }));
    TableContract {
        name: "features",
        doc: "Point-in-time customer features at every month end, from what was known at that date only",
        columns: Cow::Owned(columns),
        partition: None,
    }
}

/// The panel: rows in (as-of, customer) order; money in reporting currency units.
#[derive(Debug, Clone, Default)]
pub struct Panel {
    /// Observation date of each row.
    pub as_of: Vec<i32>,
    /// Customer index of each row.
    pub customer: Vec<u32>,
    /// Row-major values, `FEATURES.len()` per row.
    pub values: Vec<f64>,
    /// Open AR of each row in exact reporting cents (the money behind `open_ar`).
    pub open_cents: Vec<i64>,
    /// Amount billed in the 90 days to t0, exact reporting cents (behind `billed_90d`).
    pub billed_90d_cents: Vec<i64>,
}

impl Panel {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.as_of.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.as_of.is_empty()
    }

    /// The features of row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * FEATURES.len()..(i + 1) * FEATURES.len()]
    }
}

fn div(a: f64, b: f64) -> f64 {
    if b == 0.0 { f64::NAN } else { a / b }
}

/// Exposure at one observation date.
#[derive(Debug, Clone, Copy, Default)]
struct Exposure {
    open: i64,
    past_due: i64,
    open_61: i64,
    max_dpd: i32,
    disputed: i64,
}

/// Features of customer `c` at every month end (`ctx.months[1..]`).
/// One customer's rows: (month index, open AR in cents, features).
/// Per row: month index, open AR cents, cents billed in the 90 days to t0, feature values.
type Rows = Vec<(usize, i64, i64, [f64; FEATURES.len()])>;

/// How many times a window of `days` ending at `t0` is longer than its part on or after
/// `history` (the first day of the ledger's history): a count or amount over the window,
/// multiplied by this, is what a full window would hold at the same pace. Without it a
/// count over 365 days grows through the first year of every ledger for no reason of the
/// customer's, and a model trained on that year reads the full counts of later years as a
/// drop in risk (on a 24-month sample `invoices_paid_365d` alone lowered the mean
/// out-of-time log-odds by 0.86).
fn window_scale(t0: i32, days: i32, history: i32) -> f64 {
    let covered = (t0 - history + 1).clamp(1, days);
    f64::from(days) / f64::from(covered)
}

fn customer(ctx: &Context<'_>, c: usize, history: i32) -> Result<Rows> {
    let book = ctx.book;
    let docs = &book.docs;
    let k_count = ctx.months.len();
    let mut exposure = vec![Exposure::default(); k_count];
    let mut error: Option<EngineError> = None;
    let range = book.customers.docs(c);
    for d in range.clone() {
        if !docs.kind[d].is_receivable() {
            continue;
        }
        let due = docs.due[d].unwrap_or(docs.date[d]);
        walk(ctx.apps, d, docs.date[d], docs.amount[d], &ctx.months, |k, s| {
            let open = docs.amount[d] - s.total();
            if open <= 0 || error.is_some() {
                return;
            }
            let rep = match ctx.month_rate(k, d) {
                Ok(rate) => at_rate(open, rate),
                Err(e) => {
                    error = Some(e);
                    return;
                }
            };
            let dpd = ctx.months[k] - due;
            let e = &mut exposure[k];
            e.open += rep;
            if dpd > 0 {
                e.past_due += rep;
                e.max_dpd = e.max_dpd.max(dpd);
            }
            if dpd >= 61 {
                e.open_61 += rep;
            }
            if docs.disputed[d] {
                e.disputed += rep;
            }
        });
    }
    if let Some(e) = error {
        return Err(e);
    }
    // Billing and credits by date (documents are in date order), settlements by closing date.
    let billed: Vec<(i32, i64)> = range
        .clone()
        .filter(|&d| docs.kind[d].is_receivable())
        .map(|d| (docs.date[d], docs.amount_reporting[d]))
        .collect();
    let credits: Vec<(i32, i64)> = range
        .clone()
        .filter(|&d| docs.kind[d] == DocType::CreditMemo)
        .map(|d| (docs.date[d], docs.amount_reporting[d]))
        .collect();
    let paid = paid_invoices(ctx, c);
    // Unapplied payments (date order), at their own rate.
    let unapplied: Vec<(i32, i64)> = book
        .customers
        .payments(c)
        .filter(|&p| ctx.apps.payment_unapplied[p] > 0)
        .map(|p| (book.payments.date[p], at_rate(ctx.apps.payment_unapplied[p], i128::from(book.payments.rate[p]))))
        .collect();
    let first_doc = range.clone().map(|d| docs.date[d]).min();
    // (count, exact cents) dated in (from, to]. Sums of whole cents below 2^53 are exact in
    // f64 too, so the features read the same as when summed as floats.
    let sum_in = |v: &[(i32, i64)], from: i32, to: i32| -> (f64, i64) {
        let lo = v.partition_point(|x| x.0 <= from);
        let hi = v.partition_point(|x| x.0 <= to);
        (hi.saturating_sub(lo) as f64, v[lo..hi.max(lo)].iter().map(|x| x.1).sum())
    };
    let mut rows = Vec::new();
    for (k, (&t0, &e)) in ctx.months.iter().zip(&exposure).enumerate().skip(1) {
        let (n_90, billed_90_cents) = sum_in(&billed, t0 - 90, t0);
        let (n_365, billed_365) = sum_in(&billed, t0 - 365, t0);
        let (billed_90, billed_365) = (billed_90_cents as f64, billed_365 as f64);
        // Counts and amounts over windows that begin before the history, at a full window's pace.
        let (full_90, full_365) = (window_scale(t0, 90, history), window_scale(t0, 365, history));
        if e.open <= 0 && n_365 == 0.0 {
            continue;
        }
        let credited_365 = sum_in(&credits, t0 - 365, t0).1 as f64;
        let pay = stats(&paid, t0, 365);
        let recent = stats(&paid, t0, 90);
        let unapplied: i64 = unapplied[..unapplied.partition_point(|u| u.0 <= t0)].iter().map(|u| u.1).sum();
        let open = e.open as f64 / 100.0;
        let limit = book.customers.credit_limit[c].filter(|&l| l > 0);
        let since = book.customers.onboarded[c].or(first_doc).unwrap_or(t0);
        let values = [
            open,
            div(e.past_due as f64, e.open as f64),
            div(e.open_61 as f64, e.open as f64),
            f64::from(e.max_dpd),
            div(e.disputed as f64, e.open as f64),
            limit.map_or(f64::NAN, |l| e.open as f64 / l as f64),
            unapplied as f64 / 100.0,
            n_90 * full_90,
            billed_90 * full_90 / 100.0,
            div(billed_90 * full_90 * 365.0 / 90.0, billed_365 * full_365),
            div(credited_365, billed_365),
            pay.map_or(0.0, |p| p.invoices_paid as f64 * full_365),
            pay.map_or(f64::NAN, |p| p.avg_days_to_pay),
            pay.and_then(|p| p.weighted_days_late).unwrap_or(f64::NAN),
            pay.map_or(f64::NAN, |p| p.share_paid_late),
            pay.and_then(|p| p.trend_days_late).unwrap_or(f64::NAN),
            recent.and_then(|p| p.weighted_days_late).unwrap_or(f64::NAN),
            recent.map_or(f64::NAN, |p| p.share_paid_late),
            f64::from(t0 - since),
            book.customers.external_score[c].unwrap_or(f64::NAN),
        ];
        rows.push((k, e.open, billed_90_cents, values));
    }
    Ok(rows)
}

/// Compute the panel a slice of customers at a time (in parallel within it), handing each
/// slice to `each` as its first customer and every customer's rows in month order.
fn slices(ctx: &Context<'_>, mut each: impl FnMut(usize, Vec<Rows>) -> Result<()>) -> Result<()> {
    let n = ctx.book.customers.len();
    // The ledger's history begins on the first day of the month of its first event.
    let history = ctx.book.date_range().map_or(0, |(first, _)| month_start(month_of(first)));
    let per_slice = n.div_ceil(16).max(1);
    for start in (0..n).step_by(per_slice) {
        let rows: Vec<Rows> = (start..(start + per_slice).min(n))
            .into_par_iter()
            .map(|c| customer(ctx, c, history))
            .collect::<Result<_>>()?;
        each(start, rows)?;
    }
    Ok(())
}

/// Build the panel at every month end, in (as-of, customer) order. Customers are computed a
/// slice at a time and each slice's rows are placed and freed once every slice is known, so
/// the panel is never held twice.
pub fn panel(ctx: &Context<'_>) -> Result<Panel> {
    // Each slice's rows in one allocation: freeing it hands the memory back at once.
    type Flat = Vec<(u32, usize, i64, i64, [f64; FEATURES.len()])>;
    let mut held: Vec<Flat> = Vec::new();
    let mut per_month = vec![0usize; ctx.months.len()];
    slices(ctx, |start, rows| {
        let flat: Flat = rows
            .into_iter()
            .enumerate()
            .flat_map(|(j, rows)| {
                rows.into_iter().map(move |(k, open, billed, values)| ((start + j) as u32, k, open, billed, values))
            })
            .collect();
        for row in &flat {
            per_month[row.1] += 1;
        }
        held.push(flat);
        Ok(())
    })?;
    // Rows of month k start at next[k]; customers come in order within a month.
    let total: usize = per_month.iter().sum();
    let mut next = Vec::with_capacity(per_month.len());
    let mut at = 0;
    for count in &per_month {
        next.push(at);
        at += count;
    }
    let f = FEATURES.len();
    let mut panel = Panel {
        as_of: vec![0; total],
        customer: vec![0; total],
        values: vec![0.0; total * f],
        open_cents: vec![0; total],
        billed_90d_cents: vec![0; total],
    };
    for slice in held {
        for (c, k, open, billed_90, values) in slice {
            let i = next[k];
            next[k] += 1;
            panel.as_of[i] = ctx.months[k];
            panel.customer[i] = c;
            panel.open_cents[i] = open;
            panel.billed_90d_cents[i] = billed_90;
            panel.values[i * f..(i + 1) * f].copy_from_slice(&values);
        }
    }
    Ok(panel)
}

/// The feature values of a panel, kept in a file instead of memory (on `l` they are 2.4 GB):
/// row-major little-endian `f64`, `FEATURES.len()` per row, in blocks of one slice of
/// customers × one month, read back by panel row.
#[derive(Debug)]
pub struct SpilledValues {
    file: std::fs::File,
    /// (first panel row, first row in the file, rows) of every block, in panel order.
    blocks: Vec<(usize, usize, usize)>,
    rows: usize,
}

impl SpilledValues {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The values of panel rows `rows`, row-major, into `out` (replacing what it held).
    pub fn read(&self, rows: std::ops::Range<usize>, out: &mut Vec<f64>) -> Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        const ROW: usize = FEATURES.len() * 8;
        out.clear();
        out.reserve(rows.len() * FEATURES.len());
        let mut bytes = Vec::new();
        let first = self.blocks.partition_point(|b| b.0 + b.2 <= rows.start);
        for &(start, at, len) in &self.blocks[first..] {
            if start >= rows.end {
                break;
            }
            let (lo, hi) = (rows.start.max(start), rows.end.min(start + len));
            bytes.resize((hi - lo) * ROW, 0);
            let mut file = &self.file;
            file.seek(SeekFrom::Start(((at + lo - start) * ROW) as u64))
                .and_then(|_| file.read_exact(&mut bytes))
                .map_err(EngineError::temp("reading the feature panel back", PANEL_ROOM))?;
            out.extend(bytes.as_chunks::<8>().0.iter().map(|b| f64::from_le_bytes(*b)));
        }
        if out.len() != rows.len() * FEATURES.len() {
            return Err(EngineError::Analysis {
                message: format!("panel rows {rows:?} are outside the spilled panel of {} rows", self.rows),
            });
        }
        Ok(())
    }
}

/// The room the feature panel's temporary file takes.
pub const PANEL_ROOM: &str = "about 160 bytes per customer and month end";

/// Build the panel like [`panel`], but write its feature values to `file` as each slice is
/// computed ([`SpilledValues`]); the returned panel's `values` are empty. Only the panel's
/// index columns (24 bytes a row) and one slice of values are ever in memory.
pub fn panel_spilled(ctx: &Context<'_>, file: std::fs::File) -> Result<(Panel, SpilledValues)> {
    use std::io::Write;
    let io = EngineError::temp("writing the feature panel", PANEL_ROOM);
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    // Per month: (customer, open cents, billed-90d cents) in customer order, slice after slice.
    let mut months: Vec<Vec<(u32, i64, i64)>> = vec![Vec::new(); ctx.months.len()];
    // (month index, first row in the file, rows) of every block, in the order written.
    let mut blocks: Vec<(usize, usize, usize)> = Vec::new();
    let mut written = 0usize;
    slices(ctx, |start, rows| {
        // Month by month through the slice's customers: each month's rows are one block.
        let mut cursor = vec![0usize; rows.len()];
        let mut bytes = [0u8; FEATURES.len() * 8];
        for (k, month) in months.iter_mut().enumerate() {
            let first = written;
            for (j, customer) in rows.iter().enumerate() {
                let Some(&(row_k, open, billed, values)) = customer.get(cursor[j]) else { continue };
                if row_k != k {
                    continue;
                }
                cursor[j] += 1;
                month.push(((start + j) as u32, open, billed));
                for (b, v) in bytes.chunks_exact_mut(8).zip(values) {
                    b.copy_from_slice(&v.to_le_bytes());
                }
                writer.write_all(&bytes).map_err(io)?;
                written += 1;
            }
            if written > first {
                blocks.push((k, first, written - first));
            }
        }
        Ok(())
    })?;
    let file = writer.into_inner().map_err(|e| io(e.into_error()))?;
    // Month k's rows start at filled[k] in the panel; within a month, slices (consecutive
    // customer ranges) come in the order written.
    let mut filled = Vec::with_capacity(months.len());
    let mut total = 0;
    for m in &months {
        filled.push(total);
        total += m.len();
    }
    let mut placed: Vec<(usize, usize, usize)> = blocks
        .into_iter()
        .map(|(k, at, len)| {
            filled[k] += len;
            (filled[k] - len, at, len)
        })
        .collect();
    placed.sort_unstable();
    // The panel grows as each month's rows are moved in and freed: never held twice.
    let mut panel = Panel {
        as_of: Vec::with_capacity(total),
        customer: Vec::with_capacity(total),
        values: Vec::new(),
        open_cents: Vec::with_capacity(total),
        billed_90d_cents: Vec::with_capacity(total),
    };
    for (k, rows) in months.into_iter().enumerate() {
        panel.as_of.extend(std::iter::repeat_n(ctx.months[k], rows.len()));
        panel.customer.extend(rows.iter().map(|r| r.0));
        panel.open_cents.extend(rows.iter().map(|r| r.1));
        panel.billed_90d_cents.extend(rows.iter().map(|r| r.2));
    }
    Ok((panel, SpilledValues { file, blocks: placed, rows: total }))
}

/// Rows `rows` of the panel as a `features` frame (money in reporting currency units,
/// missing as null); `values` are those rows' feature values, row-major.
pub fn table(ctx: &Context<'_>, panel: &Panel, rows: std::ops::Range<usize>, values: &[f64]) -> Result<DataFrame> {
    let customers = &ctx.book.customers;
    let segment = |c: u32| customers.segment(c);
    let mut columns = vec![
        date("as_of", panel.as_of[rows.clone()].iter().copied()),
        text("customer_id", panel.customer[rows.clone()].iter().map(|&c| customers.ids.get(c as usize))),
        text("segment", panel.customer[rows.clone()].iter().map(|&c| segment(c))),
    ];
    for (j, (name, _)) in FEATURES.iter().enumerate() {
        // NaN (no value) is written as null, which BI tools understand.
        let column = values.iter().skip(j).step_by(FEATURES.len());
        columns.push(float_opt(name, column.map(|&v| Some(v).filter(|v| !v.is_nan()))));
    }
    frame(&contract(), columns)
}
