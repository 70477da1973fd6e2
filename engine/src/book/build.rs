//! Building a [`Book`] from the canonical tables as they stream out of ingest.
//!
//! [`BookBuilder`] starts from the small tables (customers, FX rates), then takes the ledger,
//! payments and payment references chunk by chunk in input order, keeping only the dense
//! columns the book needs (no frame is held). [`BookBuilder::finish`] sorts the events into
//! book order. Holding the whole ledger as frames cost several times the book itself on the
//! `l` preset (issue 5, bounded memory); the result is the same book either way.

use foldhash::HashMap;
use polars::prelude::*;
use rayon::prelude::*;

use super::index::{BookIndex, Index};
use super::{Book, Customers, Dimension, Docs, Payments, Texts, Whole};
use crate::contracts::DocType;
use crate::error::{EngineError, Result};
use crate::fx::FxTable;
use crate::table_columns::{cents, column, days, texts};

fn analysis(message: String) -> EngineError {
    EngineError::Analysis { message }
}

/// Ledger documents in input order.
#[derive(Debug, Default)]
struct RawDocs {
    docs: Docs,
    /// `applies_to` as given (empty when absent); resolved in [`BookBuilder::finish`].
    applies: Texts,
    /// Input rows replaced by a later export.
    removed: Vec<bool>,
}

/// Builds a [`Book`] from the canonical tables, the large ones chunk by chunk.
#[derive(Debug)]
pub struct BookBuilder {
    fx: FxTable,
    currencies: Vec<String>,
    customers: Customers,
    cust_index: HashMap<String, u32>,
    docs: RawDocs,
    /// Doc id → input row, built once the ledger is complete (when the first references
    /// arrive, or at [`finish`](Self::finish)).
    doc_index: Option<Index>,
    payments: Payments,
    /// Payment id → input row, built when the first references arrive (then kept up to date)
    /// or at [`finish`](Self::finish).
    pay_index: Option<Index>,
    /// Payments have arrived, so the ledger is complete.
    payments_started: bool,
    /// (payment input row, position, document input row) of every known reference.
    refs: Vec<(u32, u64, u32)>,
    /// The event span of the whole book, when this one is a shard of it.
    span: Option<(i32, i32)>,
}

impl BookBuilder {
    /// Start from the customers and fx_rates tables; `segment_columns` name the customers
    /// columns dashboards group by.
    pub fn new(
        customers: &DataFrame,
        fx_rates: &DataFrame,
        reporting_currency: &str,
        max_rate_age_days: u16,
        segment_columns: &[String],
    ) -> Result<BookBuilder> {
        let mut fx = FxTable::new(reporting_currency, max_rate_age_days);
        {
            let dates = days(fx_rates, "fx_rates", "date")?;
            let ccy = texts(fx_rates, "fx_rates", "currency")?;
            let rate = column(fx_rates, "fx_rates", "rate_to_reporting")?
                .decimal()
                .map_err(EngineError::polars("rate_to_reporting as decimal"))?
                .physical();
            for ((d, c), r) in dates.zip(ccy.iter()).zip(rate.iter()) {
                if let (Some(d), Some(c), Some(r)) = (d, c, r) {
                    fx.insert(c, d, r);
                }
            }
            fx.seal();
        }

        // Customers, sorted by id.
        let t = customers;
        let cust_ids = texts(t, "customers", "customer_id")?;
        let mut corder: Vec<usize> = (0..cust_ids.len()).collect();
        let cid: Vec<&str> = cust_ids.iter().map(|v| v.unwrap_or_default()).collect();
        corder.par_sort_unstable_by(|&a, &b| cid[a].cmp(cid[b]));
        let mut customers = Customers::default();
        let mut cust_index: HashMap<String, u32> = HashMap::default();
        for (i, &r) in corder.iter().enumerate() {
            customers.ids.push(cid[r]);
            if cust_index.insert(cid[r].to_string(), i as u32).is_some() {
                return Err(analysis(format!("customers: customer_id `{}` appears twice", cid[r])));
            }
        }
        let limits: Vec<Option<i64>> = cents(t, "customers", "credit_limit")?.collect();
        customers.credit_limit = corder.iter().map(|&r| limits[r]).collect();
        let onboarded: Vec<Option<i32>> = days(t, "customers", "onboarded_date")?.collect();
        customers.onboarded = corder.iter().map(|&r| onboarded[r]).collect();
        let score: Vec<Option<f64>> = column(t, "customers", "external_score")?
            .f64()
            .map_err(EngineError::polars("external_score as f64"))?
            .iter()
            .collect();
        customers.external_score = corder.iter().map(|&r| score[r]).collect();
        for name in segment_columns {
            customers.dims.push(dimension(t, name, &corder)?);
        }
        Ok(BookBuilder {
            fx,
            currencies: vec![reporting_currency.to_string()],
            customers,
            cust_index,
            docs: RawDocs::default(),
            doc_index: None,
            payments: Payments::default(),
            pay_index: None,
            payments_started: false,
            refs: Vec::new(),
            span: None,
        })
    }

    /// Build the book of one shard of `whole`'s customers (the customers table given to
    /// [`new`](Self::new) holds only the shard's): its dashboards use the whole book's event
    /// span, currencies and segment values, so that its partial sums line up with every other
    /// shard's and add up to the whole book's.
    pub fn shard_of(mut self, whole: &Whole) -> Result<BookBuilder> {
        if whole.segment_values.len() != self.customers.dims.len() {
            return Err(analysis(format!(
                "the shard has {} segment columns and the whole book {}; shard again with the same config",
                self.customers.dims.len(),
                whole.segment_values.len()
            )));
        }
        for (dim, values) in self.customers.dims.iter_mut().zip(&whole.segment_values) {
            for v in dim.of_customer.iter_mut() {
                let value = &dim.values[*v as usize];
                *v = values.binary_search(value).map_err(|_| {
                    analysis(format!(
                        "segment column `{}`: the shard's value `{value}` is not among the whole book's; shard again",
                        dim.column
                    ))
                })? as u32;
            }
            dim.values = values.clone();
        }
        for code in &whole.currencies {
            self.currency_index(code);
        }
        self.span = whole.span;
        Ok(self)
    }

    fn currency_index(&mut self, code: &str) -> u16 {
        match self.currencies.iter().position(|c| c == code) {
            Some(i) => i as u16,
            None => {
                self.currencies.push(code.to_string());
                (self.currencies.len() - 1) as u16
            }
        }
    }

    fn customer_of(&self, table: &str, id: Option<&str>, row: usize) -> Result<u32> {
        let id = id.unwrap_or_default();
        self.cust_index
            .get(id)
            .copied()
            .ok_or_else(|| analysis(format!("{table} row {}: customer `{id}` is not in the customers table", row + 1)))
    }

    /// Append ledger rows (a chunk of the canonical `ledger` table).
    pub fn ledger(&mut self, l: &DataFrame) -> Result<()> {
        if self.payments_started {
            return Err(analysis("ledger rows arrived after payments; the ledger must be complete first".into()));
        }
        let first = self.docs.docs.len();
        let ids = texts(l, "ledger", "doc_id")?;
        let customers = texts(l, "ledger", "customer_id")?;
        let kinds = texts(l, "ledger", "doc_type")?;
        let ccy = texts(l, "ledger", "currency")?;
        let applies = texts(l, "ledger", "applies_to")?;
        let disputed = column(l, "ledger", "disputed")?.bool().map_err(EngineError::polars("disputed as bool"))?;
        let customers = self.customers_of("ledger", customers, first)?;
        for (i, (((id, customer), k), (cur, (a, disp)))) in ids
            .iter()
            .zip(customers)
            .zip(kinds.iter())
            .zip(ccy.iter().zip(applies.iter().zip(disputed.iter())))
            .enumerate()
        {
            let row = first + i;
            let kind = k
                .and_then(DocType::parse)
                .ok_or_else(|| analysis(format!("ledger row {}: unknown doc_type {k:?}", row + 1)))?;
            let currency = self.currency_index(cur.unwrap_or_default());
            let d = &mut self.docs.docs;
            d.id.push(id.unwrap_or_default());
            d.customer.push(customer);
            d.kind.push(kind);
            d.currency.push(currency);
            d.disputed.push(disp.unwrap_or(false));
            self.docs.applies.push(a.unwrap_or_default());
        }
        let d = &mut self.docs.docs;
        d.date.extend(days(l, "ledger", "doc_date")?.map(Option::unwrap_or_default));
        d.due.extend(days(l, "ledger", "due_date")?);
        d.amount.extend(cents(l, "ledger", "amount")?.map(Option::unwrap_or_default));
        d.rate.extend(cents(l, "ledger", "fx_rate")?.map(Option::unwrap_or_default));
        d.amount_reporting.extend(cents(l, "ledger", "amount_reporting")?.map(Option::unwrap_or_default));
        self.docs.removed.resize(d.len(), false);
        Ok(())
    }

    /// Leave out ledger rows replaced by a later export (`rows` count ledger rows appended).
    pub fn remove_ledger_rows(&mut self, rows: &[u64]) {
        for &r in rows {
            if let Some(flag) = self.docs.removed.get_mut(r as usize) {
                *flag = true;
            }
        }
    }

    /// The document index over the rows not replaced by a later export.
    fn doc_index_of(docs: &RawDocs) -> Index {
        Index::of_where(&docs.docs.id, |i| !docs.removed[i])
    }

    /// Build the indexes not built yet: the two side by side when both are missing.
    fn index(&mut self) {
        let (docs, payments) = (&self.docs, &self.payments);
        match (self.doc_index.is_none(), self.pay_index.is_none()) {
            (true, true) => {
                let (d, p) = rayon::join(|| Self::doc_index_of(docs), || Index::of(&payments.id));
                self.doc_index = Some(d);
                self.pay_index = Some(p);
            }
            (true, false) => self.doc_index = Some(Self::doc_index_of(docs)),
            (false, true) => self.pay_index = Some(Index::of(&payments.id)),
            (false, false) => {}
        }
    }

    /// The customer of each id in `ids` (looked up side by side).
    fn customers_of(&self, table: &str, ids: &StringChunked, first: usize) -> Result<Vec<u32>> {
        let ids: Vec<Option<&str>> = ids.iter().collect();
        let found: Vec<Result<u32>> =
            ids.par_iter().enumerate().map(|(i, id)| self.customer_of(table, *id, first + i)).collect();
        // The first unknown customer in row order is the one reported.
        found.into_iter().collect()
    }

    /// Append payment rows (a chunk of the canonical `payments` table); the ledger must be
    /// complete.
    pub fn payments(&mut self, p: &DataFrame) -> Result<()> {
        self.payments_started = true;
        let first = self.payments.len();
        let ids = texts(p, "payments", "payment_id")?;
        let customers = texts(p, "payments", "customer_id")?;
        let ccy = texts(p, "payments", "currency")?;
        let raw_refs = texts(p, "payments", "invoice_refs")?;
        let customers = self.customers_of("payments", customers, first)?;
        for (i, (((id, customer), cur), r)) in
            ids.iter().zip(customers).zip(ccy.iter()).zip(raw_refs.iter()).enumerate()
        {
            let currency = self.currency_index(cur.unwrap_or_default());
            let pay = &mut self.payments;
            pay.id.push(id.unwrap_or_default());
            pay.customer.push(customer);
            pay.currency.push(currency);
            pay.has_refs.push(r.is_some_and(|s| !s.trim().is_empty()));
            if let Some(index) = &mut self.pay_index {
                index.insert(&pay.id, (first + i) as u32);
            }
        }
        let pay = &mut self.payments;
        pay.date.extend(days(p, "payments", "payment_date")?.map(Option::unwrap_or_default));
        pay.amount.extend(cents(p, "payments", "amount")?.map(Option::unwrap_or_default));
        pay.rate.extend(cents(p, "payments", "fx_rate")?.map(Option::unwrap_or_default));
        pay.amount_reporting.extend(cents(p, "payments", "amount_reporting")?.map(Option::unwrap_or_default));
        Ok(())
    }

    /// Append payment references (a chunk of the canonical `payment_refs` table), after the
    /// payments they belong to. References to unknown payments or documents are skipped.
    pub fn payment_refs(&mut self, r: &DataFrame) -> Result<()> {
        self.index();
        let pays = texts(r, "payment_refs", "payment_id")?;
        let positions = column(r, "payment_refs", "position")?
            .u64()
            .map_err(EngineError::polars("payment_refs.position as u64"))?;
        let docs = texts(r, "payment_refs", "doc_id")?;
        let (Some(doc_index), Some(pay_index)) = (&self.doc_index, &self.pay_index) else { return Ok(()) };
        for ((pay, pos), doc) in pays.iter().zip(positions.iter()).zip(docs.iter()) {
            let (Some(pay), Some(doc)) = (pay, doc) else { continue };
            let (Some(p), Some(d)) = (pay_index.find(&self.payments.id, pay), doc_index.find(&self.docs.docs.id, doc))
            else {
                continue;
            };
            self.refs.push((p, pos.unwrap_or_default(), d));
        }
        Ok(())
    }

    /// Sort everything into book order: documents by customer, date, receivables before
    /// credits, id; payments by customer, date, id; references by payment in the order given.
    pub fn finish(self) -> Result<Book> {
        self.finish_indexed(false).map(|(book, _)| book)
    }

    /// [`finish`](Self::finish), and, when `keep_index`, the id indexes built on the way,
    /// renumbered to book order (so a reader of book-keyed tables need not hash every id again).
    pub fn finish_indexed(mut self, keep_index: bool) -> Result<(Book, BookIndex)> {
        if keep_index {
            self.index();
        } else if self.doc_index.is_none() {
            self.doc_index = Some(Self::doc_index_of(&self.docs));
        }
        let BookBuilder {
            fx,
            currencies,
            mut customers,
            docs: mut raw,
            doc_index,
            payments: mut raw_pay,
            refs,
            pay_index,
            span,
            ..
        } = self;
        let currencies = canonical_currencies(currencies, &mut raw.docs.currency, &mut raw_pay.currency);
        let RawDocs { docs: d, applies, removed } = raw;
        let doc_index = doc_index.unwrap_or_default();

        let class = |k: DocType| u8::from(!k.is_receivable());
        let mut order: Vec<u32> = (0..d.len() as u32).filter(|&r| !removed[r as usize]).collect();
        order.par_sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            (d.customer[a], d.date[a], class(d.kind[a]))
                .cmp(&(d.customer[b], d.date[b], class(d.kind[b])))
                .then_with(|| d.id.get(a).cmp(d.id.get(b)))
        });
        let mut position = vec![u32::MAX; d.len()];
        for (i, &r) in order.iter().enumerate() {
            position[r as usize] = i as u32;
        }
        let applies_to: Vec<Option<u32>> = order
            .par_iter()
            .map(|&r| {
                let a = applies.get(r as usize);
                if a.is_empty() {
                    return None;
                }
                doc_index
                    .find(&d.id, a)
                    .filter(|&t| d.customer[t as usize] == d.customer[r as usize])
                    .map(|t| position[t as usize])
            })
            .collect();
        drop(applies);
        let doc_index = keep_index.then(|| doc_index.renumbered(&position));
        // Each column is gathered into book order and its input-order copy freed at once, so
        // building never holds two copies of the ledger.
        let Docs { id: raw_id, customer, kind, date, due, amount, currency, rate, amount_reporting, disputed, .. } = d;
        let docs = Docs {
            id: gather_texts(raw_id, &order),
            customer: gather(customer, &order),
            kind: gather(kind, &order),
            date: gather(date, &order),
            due: gather(due, &order),
            amount: gather(amount, &order),
            currency: gather(currency, &order),
            rate: gather(rate, &order),
            amount_reporting: gather(amount_reporting, &order),
            applies_to,
            disputed: gather(disputed, &order),
        };
        drop(order);
        for (i, k) in docs.kind.iter().enumerate() {
            if k.is_receivable() && docs.due[i].is_none() {
                return Err(analysis(format!("ledger: {} `{}` has no due date", k.as_str(), docs.id.get(i))));
            }
        }

        // Payments in event order, with their known references.
        let p = raw_pay;
        let mut porder: Vec<u32> = (0..p.len() as u32).collect();
        porder.par_sort_unstable_by(|&a, &b| {
            let (a, b) = (a as usize, b as usize);
            (p.customer[a], p.date[a]).cmp(&(p.customer[b], p.date[b])).then_with(|| p.id.get(a).cmp(p.id.get(b)))
        });
        let mut ppos = vec![0u32; p.len()];
        for (i, &r) in porder.iter().enumerate() {
            ppos[r as usize] = i as u32;
        }
        // (payment position, reference position, document position), sorted: references
        // grouped by payment in the order given.
        let mut known: Vec<(u32, u64, u32)> = refs
            .into_iter()
            .filter(|&(_, _, d)| position[d as usize] != u32::MAX)
            .map(|(pay, pos, d)| (ppos[pay as usize], pos, position[d as usize]))
            .collect();
        known.par_sort_unstable();
        let pay_index = pay_index.filter(|_| keep_index).map(|index| index.renumbered(&ppos));
        drop(ppos);
        // Gathered a column at a time, like the documents.
        let Payments { id: raw_id, customer, date, amount, currency, rate, amount_reporting, has_refs, .. } = p;
        let mut payments = Payments {
            id: gather_texts(raw_id, &porder),
            customer: gather(customer, &porder),
            date: gather(date, &porder),
            amount: gather(amount, &porder),
            currency: gather(currency, &porder),
            rate: gather(rate, &porder),
            amount_reporting: gather(amount_reporting, &porder),
            has_refs: gather(has_refs, &porder),
            ref_start: Vec::with_capacity(porder.len() + 1),
            refs: Vec::with_capacity(known.len()),
        };
        payments.ref_start.push(0);
        let mut next_ref = 0;
        for i in 0..porder.len() {
            let start = payments.refs.len();
            while next_ref < known.len() && known[next_ref].0 as usize == i {
                let d = known[next_ref].2;
                if docs.customer[d as usize] == payments.customer[i] && !payments.refs[start..].contains(&d) {
                    payments.refs.push(d);
                }
                next_ref += 1;
            }
            payments.ref_start.push(payments.refs.len());
        }

        customers.doc_start = starts(&docs.customer, customers.len());
        customers.pay_start = starts(&payments.customer, customers.len());
        let index = BookIndex { docs: doc_index.unwrap_or_default(), payments: pay_index.unwrap_or_default() };
        Ok((Book { fx, currencies, customers, docs, payments, span }, index))
    }
}

/// The `customers` column `name` as a grouping dimension, for the customers' rows in `order`
/// (a missing value is `UNKNOWN`).
pub(super) fn dimension(t: &DataFrame, name: &str, order: &[usize]) -> Result<Dimension> {
    let values = texts(t, "customers", name)?;
    let per_row: Vec<&str> = values.iter().map(|v| v.unwrap_or("UNKNOWN")).collect();
    let mut distinct: Vec<&str> = per_row.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let of_customer = order.iter().map(|&r| distinct.binary_search(&per_row[r]).unwrap_or_default() as u32).collect();
    Ok(Dimension { column: name.to_string(), values: distinct.into_iter().map(str::to_string).collect(), of_customer })
}

/// The currencies in canonical order, the reporting currency (first seen) first and the others
/// by code, with the documents' and payments' indexes renumbered: the order of the tables
/// that list currencies (`reconciliation`) then does not depend on which row came first.
fn canonical_currencies(mut currencies: Vec<String>, docs: &mut [u16], payments: &mut [u16]) -> Vec<String> {
    let mut order: Vec<usize> = (1..currencies.len()).collect();
    order.sort_by(|&a, &b| currencies[a].cmp(&currencies[b]));
    if order.windows(2).all(|w| w[0] < w[1]) {
        return currencies;
    }
    let mut renumber = vec![0u16; currencies.len()];
    for (new, &old) in order.iter().enumerate() {
        renumber[old] = new as u16 + 1;
    }
    for c in docs.iter_mut().chain(payments.iter_mut()) {
        *c = renumber[*c as usize];
    }
    let reporting = std::mem::take(&mut currencies[0]);
    let mut sorted = vec![reporting];
    sorted.extend(order.into_iter().map(|old| std::mem::take(&mut currencies[old])));
    sorted
}

/// `v` in `order` (input rows); `v` is freed.
fn gather<T: Copy>(v: Vec<T>, order: &[u32]) -> Vec<T> {
    order.iter().map(|&r| v[r as usize]).collect()
}

/// The texts of `t` in `order`; `t` is freed.
fn gather_texts(t: Texts, order: &[u32]) -> Texts {
    let mut out = Texts::default();
    for &r in order {
        out.push(t.get(r as usize));
    }
    out
}

/// `starts[c]..starts[c + 1]` are the positions of key `c` in `keys`, which is sorted.
fn starts(keys: &[u32], n: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(n + 1);
    let mut i = 0;
    for c in 0..n as u32 {
        out.push(i);
        while i < keys.len() && keys[i] == c {
            i += 1;
        }
    }
    out.push(keys.len());
    out
}

/// What a [`BookFeed`] sends to its thread.
enum Feed {
    Ledger(DataFrame),
    Payments(DataFrame),
    PaymentRefs(DataFrame),
    RemoveLedgerRows(Vec<u64>),
}

/// A [`BookBuilder`] on a thread of its own, fed chunks in order (at most two queue up), so
/// that indexing overlaps with validating the next chunk.
#[derive(Debug)]
pub struct BookFeed {
    sender: Option<std::sync::mpsc::SyncSender<Feed>>,
    worker: Option<std::thread::JoinHandle<Result<Book>>>,
}

impl BookBuilder {
    /// Move the builder to a thread; feed it through the returned [`BookFeed`].
    pub fn spawn(mut self) -> BookFeed {
        let (sender, feed) = std::sync::mpsc::sync_channel::<Feed>(2);
        let worker = std::thread::spawn(move || -> Result<Book> {
            for item in feed {
                match item {
                    Feed::Ledger(df) => self.ledger(&df)?,
                    Feed::Payments(df) => self.payments(&df)?,
                    Feed::PaymentRefs(df) => self.payment_refs(&df)?,
                    Feed::RemoveLedgerRows(rows) => self.remove_ledger_rows(&rows),
                }
            }
            self.finish()
        });
        BookFeed { sender: Some(sender), worker: Some(worker) }
    }
}

impl BookFeed {
    fn send(&mut self, item: Feed) -> Result<()> {
        if self.sender.as_ref().is_some_and(|s| s.send(item).is_ok()) {
            return Ok(());
        }
        // The builder stopped on an error: report it.
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(analysis("the book was already built".into())),
        }
    }

    fn join(&mut self) -> Result<Book> {
        drop(self.sender.take());
        match self.worker.take().map(std::thread::JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(analysis("building the book failed".into())),
            None => Err(analysis("the book was already built".into())),
        }
    }

    /// Append ledger rows (see [`BookBuilder::ledger`]).
    pub fn ledger(&mut self, df: &DataFrame) -> Result<()> {
        self.send(Feed::Ledger(df.clone()))
    }

    /// Append payment rows (see [`BookBuilder::payments`]).
    pub fn payments(&mut self, df: &DataFrame) -> Result<()> {
        self.send(Feed::Payments(df.clone()))
    }

    /// Append payment references (see [`BookBuilder::payment_refs`]).
    pub fn payment_refs(&mut self, df: &DataFrame) -> Result<()> {
        self.send(Feed::PaymentRefs(df.clone()))
    }

    /// Leave out ledger rows (see [`BookBuilder::remove_ledger_rows`]).
    pub fn remove_ledger_rows(&mut self, rows: &[u64]) -> Result<()> {
        self.send(Feed::RemoveLedgerRows(rows.to_vec()))
    }

    /// Wait for every chunk and sort the book (see [`BookBuilder::finish`]).
    pub fn finish(mut self) -> Result<Book> {
        self.join()
    }
}

impl Drop for BookFeed {
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
