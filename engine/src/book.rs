//! The book: the validated canonical tables, indexed for analytics.
//!
//! [`Book::from_tables`] turns the `ledger`, `payments`, `payment_refs`, `customers` and
//! `fx_rates` tables (as ingest produces them, or as read back from Parquet) into dense
//! columns with integer keys: customers by index, documents grouped by customer in event
//! order, payments likewise, money as integer cents. Cash application, snapshots and every
//! dashboard table read the book; nothing writes to it.

mod build;
mod index;

use std::cmp::Ordering;

pub use build::{BookBuilder, BookFeed};
pub use index::BookIndex;
use polars::prelude::*;

use crate::contracts::DocType;
use crate::error::Result;
use crate::fx::FxTable;

/// Many strings in one buffer, addressed by index.
#[derive(Debug, Clone, Default)]
pub struct Texts {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl Texts {
    /// Append a string; its index is the previous length.
    pub fn push(&mut self, s: &str) {
        self.bytes.extend_from_slice(s.as_bytes());
        self.ends.push(self.bytes.len());
    }

    /// The string at `i`.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        // Only whole `&str`s are pushed, so every range is valid UTF-8.
        std::str::from_utf8(&self.bytes[start..self.ends[i]]).unwrap_or_default()
    }

    /// The bytes of the string at `i` (no UTF-8 check: for hashing and comparing).
    pub fn bytes(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Number of strings.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// A customer attribute that dashboards group by (a `segment_columns` entry).
#[derive(Debug, Clone)]
pub struct Dimension {
    /// The customers column, e.g. `segment` or `region`.
    pub column: String,
    /// Distinct values, sorted; a missing value is `UNKNOWN`.
    pub values: Vec<String>,
    /// Per customer: index into `values`.
    pub of_customer: Vec<u32>,
}

/// Customers, sorted by id.
#[derive(Debug, Clone, Default)]
pub struct Customers {
    pub ids: Texts,
    /// Credit limit in reporting cents.
    pub credit_limit: Vec<Option<i64>>,
    /// Start of the relationship.
    pub onboarded: Vec<Option<i32>>,
    /// External (bureau) score.
    pub external_score: Vec<Option<f64>>,
    /// Grouping dimensions, in configured order.
    pub dims: Vec<Dimension>,
    /// Per customer `c`: its documents are `doc_start[c]..doc_start[c + 1]`.
    pub doc_start: Vec<usize>,
    /// Per customer `c`: its payments are `pay_start[c]..pay_start[c + 1]`.
    pub pay_start: Vec<usize>,
}

impl Customers {
    /// Number of customers.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Document indices of customer `c`.
    pub fn docs(&self, c: usize) -> std::ops::Range<usize> {
        self.doc_start[c]..self.doc_start[c + 1]
    }

    /// Customer `c`'s value of the first segment column (`ALL` when none is configured).
    pub fn segment(&self, c: u32) -> &str {
        self.dims.first().map_or("ALL", |d| d.values[d.of_customer[c as usize] as usize].as_str())
    }

    /// Payment indices of customer `c`.
    pub fn payments(&self, c: usize) -> std::ops::Range<usize> {
        self.pay_start[c]..self.pay_start[c + 1]
    }
}

/// Ledger documents in event order: by customer, then date, then invoices and debit memos
/// before credit memos and write-offs, then id.
#[derive(Debug, Clone, Default)]
pub struct Docs {
    pub id: Texts,
    pub customer: Vec<u32>,
    pub kind: Vec<DocType>,
    pub date: Vec<i32>,
    /// Due date; always set for invoices and debit memos.
    pub due: Vec<Option<i32>>,
    /// Amount in document currency (cents), > 0.
    pub amount: Vec<i64>,
    /// Index into [`Book::currencies`].
    pub currency: Vec<u16>,
    /// Rate to the reporting currency at `date` (scale [`crate::contracts::RATE_SCALE`]).
    pub rate: Vec<i64>,
    /// `amount` in reporting cents at `date`.
    pub amount_reporting: Vec<i64>,
    /// Invoice reduced by a credit memo or write-off, when it is a document of the same customer.
    pub applies_to: Vec<Option<u32>>,
    pub disputed: Vec<bool>,
}

impl Docs {
    /// Number of documents.
    pub fn len(&self) -> usize {
        self.customer.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.customer.is_empty()
    }
}

/// Payments in event order: by customer, then date, then id.
#[derive(Debug, Clone, Default)]
pub struct Payments {
    pub id: Texts,
    pub customer: Vec<u32>,
    pub date: Vec<i32>,
    /// Amount in payment currency (cents), > 0.
    pub amount: Vec<i64>,
    pub currency: Vec<u16>,
    pub rate: Vec<i64>,
    pub amount_reporting: Vec<i64>,
    /// The payment named invoices (known or not): it is applied by reference only.
    pub has_refs: Vec<bool>,
    /// Per payment `p`: its known references are `refs[ref_start[p]..ref_start[p + 1]]`.
    pub ref_start: Vec<usize>,
    /// Referenced documents of the same customer, in the order given.
    pub refs: Vec<u32>,
}

impl Payments {
    /// Number of payments.
    pub fn len(&self) -> usize {
        self.customer.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.customer.is_empty()
    }

    /// The known references of payment `p`.
    pub fn refs_of(&self, p: usize) -> &[u32] {
        &self.refs[self.ref_start[p]..self.ref_start[p + 1]]
    }
}

/// The validated tables, indexed.
#[derive(Debug, Clone)]
pub struct Book {
    pub fx: FxTable,
    /// Currency codes; index 0 is the reporting currency.
    pub currencies: Vec<String>,
    pub customers: Customers,
    pub docs: Docs,
    pub payments: Payments,
    /// The earliest and latest event date of the whole book, when this book holds one shard
    /// of its customers (see [`BookBuilder::shard_of`]); `None` for a whole book.
    pub span: Option<(i32, i32)>,
}

/// What the book of one shard of the customers shares with the whole book, so that every
/// shard's dashboards cover the same month ends and groups (see `docs/scale-out.md`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Whole {
    /// Earliest and latest event date over every document and payment.
    pub span: Option<(i32, i32)>,
    /// Every currency of the documents and payments, the reporting currency first.
    pub currencies: Vec<String>,
    /// Per segment column (in configured order), its values over every customer, sorted.
    pub segment_values: Vec<Vec<String>>,
}

/// The canonical tables a book is built from.
#[derive(Debug, Clone, Copy)]
pub struct BookTables<'a> {
    pub ledger: &'a DataFrame,
    pub payments: &'a DataFrame,
    pub payment_refs: &'a DataFrame,
    pub customers: &'a DataFrame,
    pub fx_rates: &'a DataFrame,
}

/// Builds a [`Whole`] from the validated tables a part at a time (the ledger and payments of a
/// large run are never held whole for it).
#[derive(Debug, Default)]
pub struct WholeBuilder {
    span: Option<(i32, i32)>,
    currencies: std::collections::BTreeSet<String>,
}

impl WholeBuilder {
    fn events(&mut self, table: &str, df: &DataFrame, date: &str) -> Result<()> {
        use crate::table_columns::{days, texts};
        for d in days(df, table, date)?.flatten() {
            self.span = Some(self.span.map_or((d, d), |(lo, hi)| (lo.min(d), hi.max(d))));
        }
        for c in texts(df, table, "currency")?.iter().flatten() {
            if !self.currencies.contains(c) {
                self.currencies.insert(c.to_string());
            }
        }
        Ok(())
    }

    /// Rows of the validated `ledger` (`doc_date` and `currency` are read).
    pub fn ledger(&mut self, df: &DataFrame) -> Result<()> {
        self.events("ledger", df, "doc_date")
    }

    /// Rows of the validated `payments` (`payment_date` and `currency` are read).
    pub fn payments(&mut self, df: &DataFrame) -> Result<()> {
        self.events("payments", df, "payment_date")
    }

    /// The whole book's span, currencies and (from every customer) segment values.
    pub fn finish(self, customers: &DataFrame, reporting_currency: &str, segment_columns: &[String]) -> Result<Whole> {
        let mut currencies = vec![reporting_currency.to_string()];
        currencies.extend(self.currencies.into_iter().filter(|c| c != reporting_currency));
        let rows: Vec<usize> = (0..customers.height()).collect();
        let segment_values = segment_columns
            .iter()
            .map(|name| Ok(build::dimension(customers, name, &rows)?.values))
            .collect::<Result<_>>()?;
        Ok(Whole { span: self.span, currencies, segment_values })
    }
}

impl Book {
    /// Index the canonical tables; `segment_columns` name the customers columns dashboards
    /// group by. (Ingest streams the large tables into a [`BookBuilder`] instead.)
    pub fn from_tables(
        t: BookTables<'_>,
        reporting_currency: &str,
        max_rate_age_days: u16,
        segment_columns: &[String],
    ) -> Result<Book> {
        let mut b = BookBuilder::new(t.customers, t.fx_rates, reporting_currency, max_rate_age_days, segment_columns)?;
        b.ledger(t.ledger)?;
        b.payments(t.payments)?;
        b.payment_refs(t.payment_refs)?;
        b.finish()
    }

    /// Earliest and latest event date (documents and payments), if there is any event; for
    /// a shard's book, the whole book's.
    pub fn date_range(&self) -> Option<(i32, i32)> {
        if self.span.is_some() {
            return self.span;
        }
        let dates = self.docs.date.iter().chain(&self.payments.date);
        let min = dates.clone().min()?;
        let max = dates.max()?;
        Some((*min, *max))
    }

    /// The FIFO order of two receivables of one customer: oldest due date first, then
    /// document order (date, then id).
    pub fn fifo_cmp(&self, a: u32, b: u32) -> Ordering {
        (self.docs.due[a as usize], a).cmp(&(self.docs.due[b as usize], b))
    }
}
