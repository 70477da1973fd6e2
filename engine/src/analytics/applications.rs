//! The cash application tables: `applications` (every payment or credit applied to an
//! invoice) and `unapplied_cash` (what stayed on account), plus the share of cash applied by
//! each rule for the run summary.

use std::borrow::Cow;

use super::Context;
use super::frame::{date, frame, money, part_ranges, text};
use super::walk::at_rate;
use crate::cash::{Rule, SourceKind};
use crate::contracts::{OutType as O, TableContract, out};
use crate::error::Result;
use crate::sink::TableSink;

/// `applications`.
pub static APPLICATIONS_TABLE: TableContract = TableContract {
    name: "applications",
    doc: "Cash application: every payment, credit memo and write-off applied to an invoice or debit memo",
    partition: None,
    columns: Cow::Borrowed(&[
        out("source_type", O::Text, false, "payment, credit_memo or write_off"),
        out("source_id", O::Text, false, "payment_id or doc_id of the source"),
        out("invoice_id", O::Text, false, "doc_id of the invoice or debit memo"),
        out("customer_id", O::Text, false, "Customer"),
        out("date", O::Date, false, "Application date (the source's date)"),
        out("amount", O::Money, false, "Amount applied, in the invoice's currency"),
        out("currency", O::Text, false, "Invoice currency"),
        out("source_amount", O::Money, false, "Amount taken from the source, in its currency"),
        out("amount_reporting", O::Money, false, "source_amount at the source's rate, reporting currency"),
        out(
            "rule",
            O::Text,
            false,
            "reference, exact_amount, oldest_due (payments); applies_to, credit_oldest_due (credits)",
        ),
    ]),
};

/// `unapplied_cash`.
pub static UNAPPLIED_CASH_TABLE: TableContract = TableContract {
    name: "unapplied_cash",
    doc: "Payments and credits not (fully) applied to any invoice, as of the end of the data",
    partition: None,
    columns: Cow::Borrowed(&[
        out("source_type", O::Text, false, "payment, credit_memo or write_off"),
        out("source_id", O::Text, false, "payment_id or doc_id"),
        out("customer_id", O::Text, false, "Customer"),
        out("date", O::Date, false, "Payment or document date"),
        out("currency", O::Text, false, "Source currency"),
        out("amount", O::Money, false, "Full source amount"),
        out("unapplied", O::Money, false, "Amount left unapplied, source currency"),
        out("unapplied_reporting", O::Money, false, "unapplied at the source's rate, reporting currency"),
        out(
            "reason",
            O::Text,
            false,
            "overpayment (some was applied), no_open_invoice, references_not_open (named invoices unknown, paid or later), applies_to_not_open",
        ),
    ]),
};

/// Cash applied per rule, in reporting cents.
#[derive(Debug, Clone, Default)]
pub struct CashSummary {
    /// (rule, reporting cents applied from payments).
    pub by_rule: Vec<(Rule, i64)>,
    /// Payments received, reporting cents.
    pub received: i64,
    /// Left unapplied, reporting cents.
    pub unapplied: i64,
}

/// Build `applications` (in parts) and `unapplied_cash` into `out`; returns the summary.
pub fn tables(ctx: &Context<'_>, out: &mut dyn TableSink) -> Result<CashSummary> {
    let (book, apps) = (ctx.book, ctx.apps);
    let docs = &book.docs;
    let pays = &book.payments;
    let source_id = |kind: SourceKind, i: u32| match kind {
        SourceKind::Payment => pays.id.get(i as usize),
        _ => docs.id.get(i as usize),
    };
    let source_rate = |kind: SourceKind, i: u32| match kind {
        SourceKind::Payment => pays.rate[i as usize],
        _ => docs.rate[i as usize],
    };
    let rows = &apps.rows;
    let mut summary = CashSummary { by_rule: Rule::ALL.iter().map(|&r| (r, 0)).collect(), ..Default::default() };
    let reporting: Vec<i64> =
        rows.iter().map(|a| at_rate(a.source_amount, i128::from(source_rate(a.kind, a.source)))).collect();
    for (a, r) in rows.iter().zip(&reporting) {
        if a.kind == SourceKind::Payment
            && let Some(slot) = summary.by_rule.iter_mut().find(|(rule, _)| *rule == a.rule)
        {
            slot.1 += r;
        }
    }
    summary.received = pays.amount_reporting.iter().sum();
    for range in part_ranges(rows.len()) {
        let (rows, reporting) = (&rows[range.clone()], &reporting[range]);
        let part = frame(
            &APPLICATIONS_TABLE,
            vec![
                text("source_type", rows.iter().map(|a| a.kind.as_str())),
                text("source_id", rows.iter().map(|a| source_id(a.kind, a.source))),
                text("invoice_id", rows.iter().map(|a| docs.id.get(a.invoice as usize))),
                text(
                    "customer_id",
                    rows.iter().map(|a| book.customers.ids.get(docs.customer[a.invoice as usize] as usize)),
                ),
                date("date", rows.iter().map(|a| a.date)),
                money("amount", rows.iter().map(|a| a.amount)),
                text(
                    "currency",
                    rows.iter().map(|a| book.currencies[docs.currency[a.invoice as usize] as usize].as_str()),
                ),
                money("source_amount", rows.iter().map(|a| a.source_amount)),
                money("amount_reporting", reporting.iter().copied()),
                text("rule", rows.iter().map(|a| a.rule.as_str())),
            ],
        )?;
        out.rows(&APPLICATIONS_TABLE, part)?;
    }

    // Unapplied: payments, then credits, each in book order.
    struct Left {
        kind: SourceKind,
        index: u32,
        customer: u32,
        date: i32,
        currency: u16,
        amount: i64,
        unapplied: i64,
        rate: i64,
        reason: &'static str,
    }
    let mut left = Vec::new();
    for (p, &u) in apps.payment_unapplied.iter().enumerate() {
        if u > 0 {
            let reason = if u < pays.amount[p] {
                "overpayment"
            } else if pays.has_refs[p] {
                "references_not_open"
            } else {
                "no_open_invoice"
            };
            left.push(Left {
                kind: SourceKind::Payment,
                index: p as u32,
                customer: pays.customer[p],
                date: pays.date[p],
                currency: pays.currency[p],
                amount: pays.amount[p],
                unapplied: u,
                rate: pays.rate[p],
                reason,
            });
        }
    }
    for (d, &u) in apps.credit_unapplied.iter().enumerate() {
        if u > 0 {
            let kind = if docs.kind[d] == crate::contracts::DocType::WriteOff {
                SourceKind::WriteOff
            } else {
                SourceKind::CreditMemo
            };
            let reason = if u < docs.amount[d] {
                "overpayment"
            } else if docs.applies_to[d].is_some_and(|t| (t as usize) < d) {
                "applies_to_not_open"
            } else {
                "no_open_invoice"
            };
            left.push(Left {
                kind,
                index: d as u32,
                customer: docs.customer[d],
                date: docs.date[d],
                currency: docs.currency[d],
                amount: docs.amount[d],
                unapplied: u,
                rate: docs.rate[d],
                reason,
            });
        }
    }
    let unapplied_reporting: Vec<i64> = left.iter().map(|l| at_rate(l.unapplied, i128::from(l.rate))).collect();
    summary.unapplied =
        left.iter().zip(&unapplied_reporting).filter(|(l, _)| l.kind == SourceKind::Payment).map(|(_, r)| r).sum();
    let unapplied = frame(
        &UNAPPLIED_CASH_TABLE,
        vec![
            text("source_type", left.iter().map(|l| l.kind.as_str())),
            text("source_id", left.iter().map(|l| source_id(l.kind, l.index))),
            text("customer_id", left.iter().map(|l| book.customers.ids.get(l.customer as usize))),
            date("date", left.iter().map(|l| l.date)),
            text("currency", left.iter().map(|l| book.currencies[l.currency as usize].as_str())),
            money("amount", left.iter().map(|l| l.amount)),
            money("unapplied", left.iter().map(|l| l.unapplied)),
            money("unapplied_reporting", unapplied_reporting),
            text("reason", left.iter().map(|l| l.reason)),
        ],
    )?;
    out.rows(&UNAPPLIED_CASH_TABLE, unapplied)?;
    Ok(summary)
}
