//! Cash application (docs/definitions.md): which payment and which credit paid which invoice, when.
//!
//! [`apply_cash`] replays each customer's events in a fixed order — by date; on one date
//! invoices and debit memos, then credit memos and write-offs, then payments; ties by id —
//! and applies:
//! - a payment that names invoices to those invoices (oldest due first, up to each open
//!   amount); the rest stays unapplied;
//! - a payment without references to an open invoice with exactly its amount, else to the
//!   open invoices oldest due first; the rest stays unapplied;
//! - a credit memo or write-off to the invoice in `applies_to` (the rest stays unapplied), or,
//!   when `applies_to` is empty or names no document posted before it, oldest due first.
//!
//! Only invoices dated on or before the source can receive it, and a source is applied on
//! its own date, so the result is unique and "open as of `t`" only needs applications dated
//! `≤ t`. Application happens in the invoice's currency; a source in another currency
//! converts at its date's rates. Customers are independent, so they run in parallel and the
//! result does not depend on the thread count.

mod from_table;

use std::collections::BTreeSet;

pub use from_table::applications_from_table;

use rayon::prelude::*;

use crate::book::Book;
use crate::contracts::DocType;
use crate::money::div_half_even;

/// What an application's source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKind {
    Payment,
    CreditMemo,
    WriteOff,
}

impl SourceKind {
    /// Output spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Payment => "payment",
            SourceKind::CreditMemo => "credit_memo",
            SourceKind::WriteOff => "write_off",
        }
    }
}

/// The rule that chose the invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rule {
    /// The payment named the invoice.
    Reference,
    /// The payment had no reference and matched the invoice's open amount exactly.
    ExactAmount,
    /// The payment had no reference: oldest due first.
    OldestDue,
    /// The credit memo or write-off named the invoice in `applies_to`.
    AppliesTo,
    /// The credit memo or write-off had no `applies_to`: oldest due first.
    CreditOldestDue,
}

impl Rule {
    /// All rules, in report order.
    pub const ALL: [Rule; 5] =
        [Rule::Reference, Rule::ExactAmount, Rule::OldestDue, Rule::AppliesTo, Rule::CreditOldestDue];

    /// Output spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Reference => "reference",
            Rule::ExactAmount => "exact_amount",
            Rule::OldestDue => "oldest_due",
            Rule::AppliesTo => "applies_to",
            Rule::CreditOldestDue => "credit_oldest_due",
        }
    }
}

/// One application of a payment or credit to an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Application {
    pub kind: SourceKind,
    /// Payment index (for payments) or document index (for credits).
    pub source: u32,
    /// Document index of the invoice or debit memo.
    pub invoice: u32,
    /// The source's date.
    pub date: i32,
    /// Amount in the invoice's currency (cents).
    pub amount: i64,
    /// Amount taken from the source, in the source's currency (cents).
    pub source_amount: i64,
    pub rule: Rule,
}

/// Every application, and what stayed unapplied.
#[derive(Debug, Clone, Default)]
pub struct Applications {
    /// In customer order, then event order.
    pub rows: Vec<Application>,
    /// Per payment: the amount never applied (payment currency).
    pub payment_unapplied: Vec<i64>,
    /// Per document: for credit memos and write-offs the amount never applied; 0 otherwise.
    pub credit_unapplied: Vec<i64>,
    /// Per document `d`: its applications are `by_invoice[invoice_start[d]..invoice_start[d + 1]]`
    /// (indices into `rows`, in date order).
    pub invoice_start: Vec<usize>,
    pub by_invoice: Vec<u32>,
}

impl Applications {
    /// The applications to document `d`, in date order.
    pub fn of_invoice(&self, d: usize) -> impl Iterator<Item = &Application> + '_ {
        self.by_invoice[self.invoice_start[d]..self.invoice_start[d + 1]].iter().map(|&i| &self.rows[i as usize])
    }
}

/// Apply every payment and credit of the book.
pub fn apply_cash(book: &Book) -> Applications {
    let n_customers = book.customers.len();
    let parts: Vec<CustomerResult> = (0..n_customers).into_par_iter().map(|c| apply_customer(book, c)).collect();
    let mut out = Applications {
        rows: Vec::with_capacity(parts.iter().map(|p| p.rows.len()).sum()),
        payment_unapplied: Vec::with_capacity(book.payments.len()),
        credit_unapplied: Vec::with_capacity(book.docs.len()),
        ..Default::default()
    };
    for p in parts {
        out.rows.extend(p.rows);
        out.payment_unapplied.extend(p.payment_unapplied);
        out.credit_unapplied.extend(p.credit_unapplied);
    }
    let (invoice_start, by_invoice) = index_by_invoice(&out.rows, book.docs.len());
    out.invoice_start = invoice_start;
    out.by_invoice = by_invoice;
    out
}

/// Per document, where its applications start in the returned order, and the applications
/// (indices into `rows`) grouped by invoice. `rows` are in event order, so a counting sort by
/// invoice keeps each invoice's applications in date order.
fn index_by_invoice(rows: &[Application], n_docs: usize) -> (Vec<usize>, Vec<u32>) {
    let mut start = vec![0usize; n_docs + 1];
    for a in rows {
        start[a.invoice as usize + 1] += 1;
    }
    for i in 0..n_docs {
        start[i + 1] += start[i];
    }
    let mut next = start.clone();
    let mut by_invoice = vec![0u32; rows.len()];
    for (i, a) in rows.iter().enumerate() {
        by_invoice[next[a.invoice as usize]] = i as u32;
        next[a.invoice as usize] += 1;
    }
    (start, by_invoice)
}

struct CustomerResult {
    rows: Vec<Application>,
    payment_unapplied: Vec<i64>,
    credit_unapplied: Vec<i64>,
}

/// Open receivables of one customer in FIFO order: (due date, document index).
type OpenSet = BTreeSet<(i32, u32)>;

struct State<'a> {
    book: &'a Book,
    /// Open amount per document of the customer (indexed from its first document).
    open: Vec<i64>,
    first_doc: usize,
    queue: OpenSet,
    rows: Vec<Application>,
}

/// A source being applied: its remaining amount in its own currency.
struct Source {
    kind: SourceKind,
    index: u32,
    date: i32,
    currency: u16,
    remaining: i64,
}

impl State<'_> {
    fn open_of(&self, d: u32) -> i64 {
        self.open[d as usize - self.first_doc]
    }

    /// The source's remaining amount in the currency of invoice `d`, if rates allow.
    fn in_invoice_currency(&self, src: &Source, d: u32) -> Option<i64> {
        let to = self.book.docs.currency[d as usize];
        if to == src.currency {
            return Some(src.remaining);
        }
        let (from_rate, to_rate) = self.rates(src, to)?;
        Some(convert(src.remaining, from_rate, to_rate))
    }

    fn rates(&self, src: &Source, to: u16) -> Option<(i128, i128)> {
        let fx = &self.book.fx;
        let from_rate = fx.rate(&self.book.currencies[src.currency as usize], src.date)?;
        let to_rate = fx.rate(&self.book.currencies[to as usize], src.date)?;
        Some((from_rate, to_rate))
    }

    /// Apply up to the invoice's open amount; returns whether the source is used up.
    fn apply(&mut self, src: &mut Source, d: u32, rule: Rule) -> bool {
        let open = self.open_of(d);
        if open <= 0 || src.remaining <= 0 {
            return src.remaining <= 0;
        }
        let Some(available) = self.in_invoice_currency(src, d) else { return false };
        let amount = available.min(open);
        if amount <= 0 {
            return false;
        }
        let taken = if amount == available {
            src.remaining
        } else {
            let to = self.book.docs.currency[d as usize];
            match self.rates(src, to) {
                // At least a cent: a tiny share of a cheap currency must not be free.
                Some((from_rate, to_rate)) => convert(amount, to_rate, from_rate).clamp(1, src.remaining),
                None => amount,
            }
        };
        src.remaining -= taken;
        let slot = d as usize - self.first_doc;
        self.open[slot] -= amount;
        if self.open[slot] == 0 {
            self.queue.remove(&(self.book.docs.due[d as usize].unwrap_or_default(), d));
        }
        self.rows.push(Application {
            kind: src.kind,
            source: src.index,
            invoice: d,
            date: src.date,
            amount,
            source_amount: taken,
            rule,
        });
        src.remaining <= 0
    }

    fn apply_oldest_due(&mut self, src: &mut Source, rule: Rule) {
        let queue: Vec<u32> = self.queue.iter().map(|&(_, d)| d).collect();
        for d in queue {
            if self.apply(src, d, rule) {
                break;
            }
        }
    }
}

/// `amount × from_rate / to_rate`, rounded half-even (rates share one scale).
fn convert(amount: i64, from_rate: i128, to_rate: i128) -> i64 {
    div_half_even(i128::from(amount) * from_rate, to_rate.max(1)) as i64
}

fn apply_customer(book: &Book, c: usize) -> CustomerResult {
    let docs = &book.docs;
    let pays = &book.payments;
    let drange = book.customers.docs(c);
    let prange = book.customers.payments(c);
    let mut st =
        State { book, open: vec![0; drange.len()], first_doc: drange.start, queue: OpenSet::new(), rows: Vec::new() };
    let mut payment_unapplied = Vec::with_capacity(prange.len());
    let mut credit_unapplied = vec![0i64; drange.len()];
    let (mut i, mut j) = (drange.start, prange.start);
    while i < drange.end || j < prange.end {
        let doc_first = i < drange.end && (j >= prange.end || docs.date[i] <= pays.date[j]);
        if doc_first {
            let d = i as u32;
            match docs.kind[i] {
                DocType::Invoice | DocType::DebitMemo => {
                    st.open[i - drange.start] = docs.amount[i];
                    st.queue.insert((docs.due[i].unwrap_or_default(), d));
                }
                kind @ (DocType::CreditMemo | DocType::WriteOff) => {
                    let mut src = Source {
                        kind: if kind == DocType::CreditMemo { SourceKind::CreditMemo } else { SourceKind::WriteOff },
                        index: d,
                        date: docs.date[i],
                        currency: docs.currency[i],
                        remaining: docs.amount[i],
                    };
                    // Only a document posted before this one counts as named: one that
                    // arrives later must not change what happened on this date.
                    match docs.applies_to[i].filter(|&target| target < d) {
                        Some(target) if docs.kind[target as usize].is_receivable() => {
                            st.apply(&mut src, target, Rule::AppliesTo);
                        }
                        Some(_) => {}
                        None => st.apply_oldest_due(&mut src, Rule::CreditOldestDue),
                    }
                    credit_unapplied[i - drange.start] = src.remaining;
                }
            }
            i += 1;
        } else {
            let mut src = Source {
                kind: SourceKind::Payment,
                index: j as u32,
                date: pays.date[j],
                currency: pays.currency[j],
                remaining: pays.amount[j],
            };
            if pays.has_refs[j] {
                let mut refs: Vec<u32> = pays
                    .refs_of(j)
                    .iter()
                    .copied()
                    .filter(|&d| docs.kind[d as usize].is_receivable() && (d as usize) < i)
                    .collect();
                refs.sort_unstable_by(|&a, &b| book.fifo_cmp(a, b));
                for d in refs {
                    if st.apply(&mut src, d, Rule::Reference) {
                        break;
                    }
                }
            } else {
                let exact =
                    st.queue.iter().map(|&(_, d)| d).find(|&d| st.in_invoice_currency(&src, d) == Some(st.open_of(d)));
                match exact {
                    Some(d) => {
                        st.apply(&mut src, d, Rule::ExactAmount);
                    }
                    None => st.apply_oldest_due(&mut src, Rule::OldestDue),
                }
            }
            payment_unapplied.push(src.remaining);
            j += 1;
        }
    }
    CustomerResult { rows: st.rows, payment_unapplied, credit_unapplied }
}
