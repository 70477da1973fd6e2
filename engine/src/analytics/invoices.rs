//! The invoice-level panel (docs/definitions.md, "Models"): one row per (month end `t0`, invoice open at `t0`
//! whose outcome is not yet decided), with the invoice's own features and its customer's
//! point-in-time features, and the invoice-level label: the invoice is paid more than
//! `days_late` days after its due date, or not at all (a write-off counts as not paid).
//!
//! Like the customer panel, every feature reads only documents and applications dated
//! `≤ t0`; the label becomes known on `due + days_late` and is `None` before that.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Context;
use super::features::{FEATURES, Panel};
use super::walk::{at_rate, settled_by, walk};
use crate::book::Book;
use crate::error::{EngineError, Result};

/// The invoice's own features, in column order (the customer's follow them).
pub const INVOICE_FEATURES: [(&str, &str); 6] = [
    ("invoice_amount", "Invoice amount (reporting currency, at the document's rate)"),
    ("open_share", "Share of the invoice still open at t0"),
    ("days_to_due", "Due date − t0 (negative when past due)"),
    ("terms_days", "Due date − document date"),
    ("age_days", "t0 − document date"),
    ("disputed", "1 when the invoice is disputed"),
];

/// `[models.invoice_label]` as written in a config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceLabelParams {
    /// An invoice is late when it is not paid (or credited) this many days after its due
    /// date. Default 30.
    pub days_late: Option<u32>,
}

/// Checked invoice-label parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvoiceLabeling {
    pub days_late: i32,
}

impl InvoiceLabelParams {
    /// Check and fill in the default.
    pub fn check(&self) -> Result<InvoiceLabeling> {
        let days_late = self.days_late.unwrap_or(30);
        if days_late == 0 || days_late > 365 {
            return Err(EngineError::config(format!(
                "`models.invoice_label.days_late` must be between 1 and 365, but is {days_late}"
            )));
        }
        Ok(InvoiceLabeling { days_late: days_late as i32 })
    }
}

/// One row of the invoice panel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvoiceRow {
    pub as_of: i32,
    /// Document index in the book.
    pub doc: u32,
    /// Row of the customer's features in the customer [`Panel`].
    pub customer_row: u32,
    /// Open amount at t0 in reporting cents (at the document's rate).
    pub open_cents: i64,
    /// Open amount at t0 in the document's currency (cents).
    pub open_doc: i64,
    pub label: Option<bool>,
}

/// The invoice panel: rows in (as-of, document) order. The invoice's own features are
/// computed when asked for ([`InvoicePanel::invoice_features`]) from the document and the open
/// amount, so a panel of tens of millions of rows stays small (32 bytes a row).
#[derive(Debug, Clone, Default)]
pub struct InvoicePanel {
    pub rows: Vec<InvoiceRow>,
}

impl InvoicePanel {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The invoice's own features of row `i` ([`INVOICE_FEATURES`]).
    pub fn invoice_features(&self, book: &Book, i: usize) -> [f64; INVOICE_FEATURES.len()] {
        let docs = &book.docs;
        let r = &self.rows[i];
        let (d, t0) = (r.doc as usize, r.as_of);
        let due = docs.due[d].unwrap_or(docs.date[d]);
        let amount = docs.amount[d];
        [
            at_rate(amount, i128::from(docs.rate[d])) as f64 / 100.0,
            r.open_doc as f64 / amount as f64,
            f64::from(due - t0),
            f64::from(due - docs.date[d]),
            f64::from(t0 - docs.date[d]),
            if docs.disputed[d] { 1.0 } else { 0.0 },
        ]
    }
}

/// Names of the model's features: the invoice's, then the customer's.
pub fn feature_names() -> Vec<String> {
    INVOICE_FEATURES.iter().chain(FEATURES.iter()).map(|(n, _)| n.to_string()).collect()
}

/// Every panel row of customer `c`, in document then date order.
fn customer_rows(
    ctx: &Context<'_>,
    customers: &Panel,
    l: &InvoiceLabeling,
    c: usize,
    mut each: impl FnMut(InvoiceRow),
) {
    let docs = &ctx.book.docs;
    // (as_of, customer) → customer panel row; the panel is sorted that way.
    let find = |t: i32, c: u32| {
        let lo = customers.as_of.partition_point(|&a| a < t);
        let hi = customers.as_of.partition_point(|&a| a <= t);
        let k = lo + customers.customer[lo..hi].partition_point(|&x| x < c);
        (k < hi && customers.customer[k] == c).then_some(k as u32)
    };
    for d in ctx.book.customers.docs(c).filter(|&d| docs.kind[d].is_receivable()) {
        let due = docs.due[d].unwrap_or(docs.date[d]);
        let decided = due + l.days_late;
        let amount = docs.amount[d];
        let rate = i128::from(docs.rate[d]);
        let label = (decided <= ctx.last_day).then(|| {
            let s = settled_by(ctx.apps, d, decided);
            amount - s.paid - s.credited > 0
        });
        walk(ctx.apps, d, docs.date[d], amount, &ctx.months, |k, s| {
            let t0 = ctx.months[k];
            let open = amount - s.total();
            if k == 0 || open <= 0 || t0 >= decided {
                return;
            }
            let Some(row) = find(t0, c as u32) else { return };
            each(InvoiceRow {
                as_of: t0,
                doc: d as u32,
                customer_row: row,
                open_cents: at_rate(open, rate),
                open_doc: open,
                label,
            });
        });
    }
}

/// What the whole invoice panel holds, without holding it: enough to decide which rows a
/// model split reads before building them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Outline {
    /// Rows with a label, per observation date.
    pub labelled: std::collections::BTreeMap<i32, usize>,
    /// Largest terms (due − document date) over the rows, in days.
    pub max_terms: i32,
    /// The latest observation date of any row.
    pub latest: Option<i32>,
    /// Number of rows.
    pub rows: usize,
}

/// Count the invoice panel (see [`Outline`]).
pub fn outline(ctx: &Context<'_>, customers: &Panel, l: &InvoiceLabeling) -> Outline {
    let docs = &ctx.book.docs;
    (0..ctx.book.customers.len())
        .into_par_iter()
        .fold(Outline::default, |mut o, c| {
            customer_rows(ctx, customers, l, c, |r| {
                if r.label.is_some() {
                    *o.labelled.entry(r.as_of).or_default() += 1;
                }
                let d = r.doc as usize;
                o.max_terms = o.max_terms.max(docs.due[d].unwrap_or(docs.date[d]) - docs.date[d]);
                o.latest = o.latest.max(Some(r.as_of));
                o.rows += 1;
            });
            o
        })
        .reduce(Outline::default, |mut a, b| {
            a.merge(&b);
            a
        })
}

impl Outline {
    /// Add the outline of other customers (another part of the panel, or a shard's).
    pub fn merge(&mut self, other: &Outline) {
        for (&t, &n) in &other.labelled {
            *self.labelled.entry(t).or_default() += n;
        }
        self.max_terms = self.max_terms.max(other.max_terms);
        self.latest = self.latest.max(other.latest);
        self.rows += other.rows;
    }
}

/// Build the invoice panel at every month end: the rows `keep` accepts (all of them with
/// `|_| true`).
pub fn panel(
    ctx: &Context<'_>,
    customers: &Panel,
    l: &InvoiceLabeling,
    keep: impl Fn(&InvoiceRow) -> bool + Sync,
) -> InvoicePanel {
    let mut rows: Vec<InvoiceRow> = (0..ctx.book.customers.len())
        .into_par_iter()
        .flat_map_iter(|c| {
            let mut out: Vec<InvoiceRow> = Vec::new();
            customer_rows(ctx, customers, l, c, |r| {
                if keep(&r) {
                    out.push(r);
                }
            });
            out
        })
        .collect();
    rows.par_sort_unstable_by_key(|r| (r.as_of, r.doc));
    InvoicePanel { rows }
}
