//! `customer_payment_stats`: how each customer has been paying, as of every snapshot date —
//! over the invoices it settled in the trailing `payment_stats_days` (without a write-off):
//! how many, average and amount-weighted days to pay, weighted days late, the share paid
//! late, and the trend of lateness.

use std::borrow::Cow;

use rayon::prelude::*;

use super::Context;
use super::frame::{count, date, float_opt, frame, part_ranges, ratio, text};
use super::walk::closing;
use crate::contracts::{OutType as O, TableContract, out};
use crate::error::Result;
use crate::sink::TableSink;

/// `customer_payment_stats`.
pub static PAYMENT_STATS_TABLE: TableContract = TableContract {
    name: "customer_payment_stats",
    doc: "Payment behaviour per as-of date and customer over invoices settled in the trailing `payment_stats_days` (customers without any are left out)",
    partition: None,
    columns: Cow::Borrowed(&[
        out("as_of", O::Date, false, "As-of date"),
        out("customer_id", O::Text, false, "Customer"),
        out("segment", O::Text, false, "The customer's value of the first segment column"),
        out("invoices_paid", O::Count, false, "Invoices and debit memos settled in the window without a write-off"),
        out("avg_days_to_pay", O::Float, false, "Mean of (settlement date − document date)"),
        out("weighted_days_to_pay", O::Float, true, "The same, weighted by amount"),
        out("weighted_days_late", O::Float, true, "Σ amount × max(0, settlement − due) / Σ amount"),
        out("share_paid_late", O::Float, false, "Share of invoices_paid settled after their due date"),
        out(
            "trend_days_late",
            O::Float,
            true,
            "Weighted days late over the last 90 days minus over the 90 days before (positive: paying later)",
        ),
    ]),
};

/// An invoice or debit memo settled without a write-off.
#[derive(Debug, Clone, Copy)]
pub struct Paid {
    /// Settlement date.
    pub closed: i32,
    /// Days from the document date to settlement.
    pub days: i64,
    /// Days settled after the due date (0 when on time).
    pub late: i64,
    /// Amount in reporting cents at the document's rate.
    pub amount: i128,
}

/// Customer `c`'s settled invoices, by settlement date.
pub fn paid_invoices(ctx: &Context<'_>, c: usize) -> Vec<Paid> {
    let docs = &ctx.book.docs;
    let mut paid: Vec<Paid> = ctx
        .book
        .customers
        .docs(c)
        .filter(|&d| docs.kind[d].is_receivable())
        .filter_map(|d| {
            let (closed, written_off) = closing(ctx.apps, d, docs.amount[d])?;
            let due = docs.due[d].unwrap_or(docs.date[d]);
            (!written_off).then(|| Paid {
                closed,
                days: i64::from(closed - docs.date[d]),
                late: i64::from((closed - due).max(0)),
                amount: i128::from(docs.amount_reporting[d]),
            })
        })
        .collect();
    paid.sort_by_key(|p| p.closed);
    paid
}

/// Payment behaviour over the invoices settled in `(t − window, t]`.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub invoices_paid: u64,
    pub avg_days_to_pay: f64,
    pub weighted_days_to_pay: Option<f64>,
    pub weighted_days_late: Option<f64>,
    pub share_paid_late: f64,
    /// Weighted days late over the last 90 days minus the 90 days before.
    pub trend_days_late: Option<f64>,
}

fn weighted_late(paid: &[Paid]) -> Option<f64> {
    let amount: i128 = paid.iter().map(|p| p.amount).sum();
    ratio(paid.iter().map(|p| p.amount * i128::from(p.late)).sum(), amount)
}

/// The stats as of `t` over `paid` (sorted by settlement date); `None` when nothing was
/// settled in the window.
pub fn stats(paid: &[Paid], t: i32, window: i32) -> Option<Stats> {
    let lo = paid.partition_point(|p| p.closed <= t - window);
    let hi = paid.partition_point(|p| p.closed <= t);
    let w = &paid[lo..hi];
    if w.is_empty() {
        return None;
    }
    let n = w.len() as u64;
    let amount: i128 = w.iter().map(|p| p.amount).sum();
    let recent = paid.partition_point(|p| p.closed <= t - 90).max(lo);
    let before = paid.partition_point(|p| p.closed <= t - 180).max(lo);
    Some(Stats {
        invoices_paid: n,
        avg_days_to_pay: w.iter().map(|p| p.days).sum::<i64>() as f64 / n as f64,
        weighted_days_to_pay: ratio(w.iter().map(|p| p.amount * i128::from(p.days)).sum(), amount),
        weighted_days_late: weighted_late(w),
        share_paid_late: w.iter().filter(|p| p.late > 0).count() as f64 / n as f64,
        trend_days_late: weighted_late(&paid[recent..hi]).zip(weighted_late(&paid[before..recent])).map(|(a, b)| a - b),
    })
}

fn customer(ctx: &Context<'_>, c: usize) -> Vec<(usize, u32, Stats)> {
    let paid = paid_invoices(ctx, c);
    let window = ctx.analysis.payment_stats_days as i32;
    ctx.as_of.iter().enumerate().filter_map(|(k, &t)| Some((k, c as u32, stats(&paid, t, window)?))).collect()
}

/// Build the `customer_payment_stats` table into `out` (in parts), ordered by as-of date and
/// customer.
pub fn table(ctx: &Context<'_>, out: &mut dyn TableSink) -> Result<()> {
    // In customer order (the parallel collect keeps it); put in as-of order by one stable
    // bucketing pass instead of a sort.
    let by_customer: Vec<(usize, u32, Stats)> =
        (0..ctx.book.customers.len()).into_par_iter().flat_map_iter(|c| customer(ctx, c)).collect();
    let mut start = vec![0usize; ctx.as_of.len() + 1];
    for r in &by_customer {
        start[r.0 + 1] += 1;
    }
    for k in 0..ctx.as_of.len() {
        start[k + 1] += start[k];
    }
    let mut order = vec![0usize; by_customer.len()];
    for (i, r) in by_customer.iter().enumerate() {
        order[start[r.0]] = i;
        start[r.0] += 1;
    }
    let customers = &ctx.book.customers;
    for range in part_ranges(order.len()) {
        let rows: Vec<&(usize, u32, Stats)> = order[range].iter().map(|&i| &by_customer[i]).collect();
        let part = frame(
            &PAYMENT_STATS_TABLE,
            vec![
                date("as_of", rows.iter().map(|r| ctx.as_of[r.0])),
                text("customer_id", rows.iter().map(|r| customers.ids.get(r.1 as usize))),
                text("segment", rows.iter().map(|r| customers.segment(r.1))),
                count("invoices_paid", rows.iter().map(|r| r.2.invoices_paid)),
                float_opt("avg_days_to_pay", rows.iter().map(|r| Some(r.2.avg_days_to_pay))),
                float_opt("weighted_days_to_pay", rows.iter().map(|r| r.2.weighted_days_to_pay)),
                float_opt("weighted_days_late", rows.iter().map(|r| r.2.weighted_days_late)),
                float_opt("share_paid_late", rows.iter().map(|r| Some(r.2.share_paid_late))),
                float_opt("trend_days_late", rows.iter().map(|r| r.2.trend_days_late)),
            ],
        )?;
        out.rows(&PAYMENT_STATS_TABLE, part)?;
    }
    Ok(())
}
