//! `aging`: what each customer owed, and how late, as of every snapshot date.
//!
//! Per customer (in parallel), every open receivable is walked across the as-of dates
//! ([`super::walk::walk`]) and its open amount, converted at the as-of rate, lands in the
//! bucket of its age. Unapplied payments and credits are reported beside the buckets, never
//! inside them, so the buckets always sum to `total_open`.

use std::borrow::Cow;

use polars::prelude::DataFrame;
use rayon::prelude::*;

use super::Context;
use super::frame::{count, date_opt, float_opt, frame, int_opt, money, money_opt, text};
use super::params::Buckets;
use super::walk::{at_rate, walk};
use crate::contracts::{OutColumn, OutType as O, TableContract, out};
use crate::error::Result;
use crate::sink::TableSink;

/// The `aging` contract for these buckets.
pub fn contract(buckets: &Buckets) -> TableContract {
    let mut columns = vec![
        out("as_of", O::Date, false, "As-of date (the partition key: as_of=YYYY-MM-DD)"),
        out("customer_id", O::Text, false, "Customer"),
        out("segment", O::Text, false, "The customer's value of the first segment column"),
    ];
    let basis = match buckets.basis {
        super::params::AgingBasis::DueDate => "days past due",
        super::params::AgingBasis::DocDate => "days since the document date",
    };
    for (i, name) in buckets.names.iter().enumerate() {
        let range = match i {
            0 => format!("≤ {}", buckets.edges[0]),
            i if i == buckets.edges.len() => format!("> {}", buckets.edges[i - 1]),
            i => format!("{}..={}", buckets.edges[i - 1] + 1, buckets.edges[i]),
        };
        columns.push(OutColumn {
            name: Cow::Owned(format!("bucket_{name}")),
            ty: O::Money,
            nullable: false,
            doc: Cow::Owned(format!("Open amount with {basis} {range}")),
        });
    }
    columns.extend([
        out("total_open", O::Money, false, "Open invoices and debit memos (= sum of the buckets)"),
        out("past_due", O::Money, false, "Open amount past its due date"),
        out("open_invoices", O::Count, false, "Number of open invoices and debit memos"),
        out(
            "max_dpd",
            O::Int,
            true,
            "Largest days past due of an open document (negative: none due yet; null: nothing open)",
        ),
        out("oldest_open_due_date", O::Date, true, "Earliest due date among open documents (null: nothing open)"),
        out("disputed_open", O::Money, false, "Open amount of disputed documents"),
        out("unapplied_cash", O::Money, false, "Payments received but not applied (a credit to the customer)"),
        out("unapplied_credits", O::Money, false, "Credit memos and write-offs not applied"),
        out("net_balance", O::Money, false, "total_open − unapplied_cash − unapplied_credits"),
        out("credit_limit", O::Money, true, "Credit limit (customers table)"),
        out("utilisation", O::Float, true, "net_balance / credit_limit (null without a positive limit)"),
    ]);
    TableContract {
        name: "aging",
        doc: "Aging per as-of date and customer (customers with nothing open or unapplied are left out); amounts in the reporting currency at the as-of date's rate",
        columns: Cow::Owned(columns),
        partition: Some("as_of"),
    }
}

/// One row of `aging` before it becomes a frame (its buckets live in [`Rows::buckets`]).
#[derive(Debug, Clone, Copy)]
struct Row {
    k: u32,
    customer: u32,
    total_open: i64,
    past_due: i64,
    open_invoices: u64,
    max_dpd: i32,
    oldest_due: Option<i32>,
    disputed_open: i64,
    unapplied_cash: i64,
    unapplied_credits: i64,
}

impl Row {
    fn new(k: usize, customer: u32) -> Row {
        Row {
            k: k as u32,
            customer,
            total_open: 0,
            past_due: 0,
            open_invoices: 0,
            max_dpd: i32::MIN,
            oldest_due: None,
            disputed_open: 0,
            unapplied_cash: 0,
            unapplied_credits: 0,
        }
    }
}

/// Per (as-of index, currency index): open receivables and unapplied payments in that
/// currency's cents, for reconciliation.
#[derive(Debug, Clone, Default)]
pub struct CurrencyTotals {
    pub open: Vec<Vec<i64>>,
    pub unapplied_payments: Vec<Vec<i64>>,
}

/// Totals of the aging table for reconciliation (its frames go to a [`TableSink`]).
#[derive(Debug)]
pub struct Aging {
    /// Per as-of index: (sum of all buckets, sum of total_open), reporting cents.
    pub totals: Vec<(i128, i128)>,
    pub currency: CurrencyTotals,
}

/// The rows of a range of customers, customer by customer, each customer's by date.
struct Rows {
    rows: Vec<Row>,
    /// `buckets[i * nb..(i + 1) * nb]` are the buckets of `rows[i]`.
    buckets: Vec<i64>,
    /// `[k][currency]`: open cents, unapplied payment cents.
    currency: Vec<[i64; 2]>,
}

/// One customer's rows, appended to `out`; `slot[k]` is scratch of length `as_of.len()`.
fn customer(ctx: &Context<'_>, c: usize, out: &mut Rows, slot: &mut [Option<usize>]) -> Result<()> {
    let book = ctx.book;
    let docs = &book.docs;
    let pays = &book.payments;
    let nb = ctx.analysis.buckets.len();
    let n_ccy = book.currencies.len();
    let first = out.rows.len();
    slot.fill(None);
    let mut row_at = |out: &mut Rows, k: usize| -> usize {
        *slot[k].get_or_insert_with(|| {
            out.rows.push(Row::new(k, c as u32));
            out.buckets.extend(std::iter::repeat_n(0, nb));
            out.rows.len() - 1
        })
    };
    let mut error = None;
    for d in book.customers.docs(c) {
        if !docs.kind[d].is_receivable() {
            continue;
        }
        let due = docs.due[d].unwrap_or(docs.date[d]);
        walk(ctx.apps, d, docs.date[d], docs.amount[d], &ctx.as_of, |k, s| {
            let open = docs.amount[d] - s.total();
            if open <= 0 || error.is_some() {
                return;
            }
            let t = ctx.as_of[k];
            let rate = match ctx.as_of_rate(k, d) {
                Ok(r) => r,
                Err(e) => {
                    error = Some(e);
                    return;
                }
            };
            let rep = at_rate(open, rate);
            let i = row_at(out, k);
            out.buckets[i * nb + ctx.analysis.buckets.index(ctx.age(d, t))] += rep;
            let row = &mut out.rows[i];
            row.total_open += rep;
            let dpd = t - due;
            if dpd > 0 {
                row.past_due += rep;
            }
            row.open_invoices += 1;
            row.max_dpd = row.max_dpd.max(dpd);
            row.oldest_due = Some(row.oldest_due.map_or(due, |o| o.min(due)));
            if docs.disputed[d] {
                row.disputed_open += rep;
            }
            out.currency[k * n_ccy + docs.currency[d] as usize][0] += open;
        });
    }
    if let Some(e) = error {
        return Err(e);
    }
    // Unapplied sources stay unapplied from their date on (a source is only applied on its date).
    for p in book.customers.payments(c) {
        let left = ctx.apps.payment_unapplied[p];
        if left <= 0 {
            continue;
        }
        for k in ctx.as_of.partition_point(|&t| t < pays.date[p])..ctx.as_of.len() {
            let rate = ctx.unapplied_rate(k, pays.currency[p], pays.rate[p])?;
            let i = row_at(out, k);
            out.rows[i].unapplied_cash += at_rate(left, rate);
            out.currency[k * n_ccy + pays.currency[p] as usize][1] += left;
        }
    }
    for d in book.customers.docs(c) {
        let left = ctx.apps.credit_unapplied[d];
        if left <= 0 {
            continue;
        }
        for k in ctx.as_of.partition_point(|&t| t < docs.date[d])..ctx.as_of.len() {
            let rate = ctx.unapplied_rate(k, docs.currency[d], docs.rate[d])?;
            let i = row_at(out, k);
            out.rows[i].unapplied_credits += at_rate(left, rate);
        }
    }
    // Rows were created in the order events reached them; `slot` lists them by date.
    let order: Vec<usize> = slot.iter().flatten().copied().collect();
    if order.windows(2).any(|w| w[0] > w[1]) {
        let rows: Vec<Row> = order.iter().map(|&i| out.rows[i]).collect();
        let buckets: Vec<i64> = order.iter().flat_map(|&i| out.buckets[i * nb..(i + 1) * nb].to_vec()).collect();
        out.rows.truncate(first);
        out.rows.extend(rows);
        out.buckets.truncate(first * nb);
        out.buckets.extend(buckets);
    }
    Ok(())
}

/// Build the aging table into `out`, one partition per as-of date; returns its totals.
pub fn build(ctx: &Context<'_>, out: &mut dyn TableSink) -> Result<Aging> {
    let book = ctx.book;
    let k_count = ctx.as_of.len();
    let n_ccy = book.currencies.len();
    let n = book.customers.len();
    let chunk = n.div_ceil((rayon::current_num_threads() * 4).max(1)).max(1);
    let parts: Vec<Rows> = (0..n.div_ceil(chunk))
        .into_par_iter()
        .map(|i| {
            let mut out = Rows { rows: Vec::new(), buckets: Vec::new(), currency: vec![[0, 0]; k_count * n_ccy] };
            let mut slot = vec![None; k_count];
            for c in i * chunk..((i + 1) * chunk).min(n) {
                customer(ctx, c, &mut out, &mut slot)?;
            }
            Ok(out)
        })
        .collect::<Result<_>>()?;
    let mut currency =
        CurrencyTotals { open: vec![vec![0; n_ccy]; k_count], unapplied_payments: vec![vec![0; n_ccy]; k_count] };
    for part in &parts {
        for k in 0..k_count {
            for c in 0..n_ccy {
                currency.open[k][c] += part.currency[k * n_ccy + c][0];
                currency.unapplied_payments[k][c] += part.currency[k * n_ccy + c][1];
            }
        }
    }
    // Group by date, customers in order within a date.
    let nb = ctx.analysis.buckets.len();
    let mut per_k: Vec<Vec<(usize, usize)>> = vec![Vec::new(); k_count];
    for (p, part) in parts.iter().enumerate() {
        for (i, row) in part.rows.iter().enumerate() {
            per_k[row.k as usize].push((p, i));
        }
    }
    let contract = contract(&ctx.analysis.buckets);
    // A few dates at a time (one per thread), each written before the next are built.
    let mut totals = Vec::with_capacity(k_count);
    let per_k: Vec<(usize, Vec<(usize, usize)>)> = per_k.into_iter().enumerate().collect();
    for batch in per_k.chunks(rayon::current_num_threads().max(1)) {
        let built: Vec<(DataFrame, (i128, i128))> = batch
            .par_iter()
            .map(|(_, refs)| {
                let rows: Vec<&Row> = refs.iter().map(|&(p, i)| &parts[p].rows[i]).collect();
                let buckets: Vec<&[i64]> = refs.iter().map(|&(p, i)| &parts[p].buckets[i * nb..(i + 1) * nb]).collect();
                let bucket_sum: i128 = buckets.iter().flat_map(|b| b.iter()).map(|&v| i128::from(v)).sum();
                let total: i128 = rows.iter().map(|r| i128::from(r.total_open)).sum();
                Ok((frame_of(ctx, &contract, &rows, &buckets)?, (bucket_sum, total)))
            })
            .collect::<Result<_>>()?;
        for ((k, _), (df, t)) in batch.iter().zip(built) {
            out.partition(&contract, ctx.as_of[*k], df)?;
            totals.push(t);
        }
    }
    Ok(Aging { totals, currency })
}

fn frame_of(ctx: &Context<'_>, contract: &TableContract, rows: &[&Row], buckets: &[&[i64]]) -> Result<DataFrame> {
    let customers = &ctx.book.customers;
    let segment = |c: u32| customers.segment(c);
    let net = |r: &Row| r.total_open - r.unapplied_cash - r.unapplied_credits;
    let mut columns = vec![
        text("customer_id", rows.iter().map(|r| customers.ids.get(r.customer as usize))),
        text("segment", rows.iter().map(|r| segment(r.customer))),
    ];
    for (i, name) in ctx.analysis.buckets.names.iter().enumerate() {
        columns.push(money(&format!("bucket_{name}"), buckets.iter().map(|b| b[i])));
    }
    columns.extend([
        money("total_open", rows.iter().map(|r| r.total_open)),
        money("past_due", rows.iter().map(|r| r.past_due)),
        count("open_invoices", rows.iter().map(|r| r.open_invoices)),
        int_opt("max_dpd", rows.iter().map(|r| (r.open_invoices > 0).then_some(i64::from(r.max_dpd)))),
        date_opt("oldest_open_due_date", rows.iter().map(|r| r.oldest_due)),
        money("disputed_open", rows.iter().map(|r| r.disputed_open)),
        money("unapplied_cash", rows.iter().map(|r| r.unapplied_cash)),
        money("unapplied_credits", rows.iter().map(|r| r.unapplied_credits)),
        money("net_balance", rows.iter().map(|r| net(r))),
        money_opt("credit_limit", rows.iter().map(|r| customers.credit_limit[r.customer as usize])),
        float_opt(
            "utilisation",
            rows.iter().map(|r| {
                customers.credit_limit[r.customer as usize].filter(|&l| l > 0).map(|l| net(r) as f64 / l as f64)
            }),
        ),
    ]);
    frame(contract, columns)
}
