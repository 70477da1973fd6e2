//! The book: the validated canonical tables, indexed for analytics.
//!
//! [`Book::from_tables`] turns the `ledger`, `payments`, `payment_refs`, `customers` and
//! `fx_rates` tables (as ingest produces them, or as read back from Parquet) into dense
//! columns with integer keys: customers by index, documents grouped by customer in event
//! order, payments likewise, money as integer cents. Cash application, snapshots and every
//! dashboard table read the book; nothing writes to it.

use std::cmp::Ordering;

use foldhash::HashMap;
use polars::prelude::*;
use rayon::prelude::*;

use crate::contracts::DocType;
use crate::error::{EngineError, Result};
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

fn column<'a>(df: &'a DataFrame, table: &str, name: &str) -> Result<&'a Column> {
    df.column(name).map_err(EngineError::polars(format!("reading column `{name}` of table `{table}`")))
}

fn texts<'a>(df: &'a DataFrame, table: &str, name: &str) -> Result<&'a StringChunked> {
    column(df, table, name)?.str().map_err(EngineError::polars(format!("column `{name}` of `{table}` as text")))
}

fn cents(df: &DataFrame, table: &str, name: &str) -> Result<Vec<Option<i64>>> {
    let ca = column(df, table, name)?
        .decimal()
        .map_err(EngineError::polars(format!("column `{name}` of `{table}` as decimal")))?;
    // Contracts bound money to DECIMAL(18, s), which fits i64.
    Ok(ca.physical().iter().map(|v| v.map(|x| x as i64)).collect())
}

fn days(df: &DataFrame, table: &str, name: &str) -> Result<Vec<Option<i32>>> {
    let ca = column(df, table, name)?
        .date()
        .map_err(EngineError::polars(format!("column `{name}` of `{table}` as date")))?;
    Ok(ca.physical().iter().collect())
}

fn analysis(message: String) -> EngineError {
    EngineError::Analysis { message }
}

impl Book {
    /// Index the canonical tables; `segment_columns` name the customers columns dashboards
    /// group by.
    pub fn from_tables(
        t: BookTables<'_>,
        reporting_currency: &str,
        max_rate_age_days: u16,
        segment_columns: &[String],
    ) -> Result<Book> {
        let mut fx = FxTable::new(reporting_currency, max_rate_age_days);
        {
            let dates = days(t.fx_rates, "fx_rates", "date")?;
            let ccy = texts(t.fx_rates, "fx_rates", "currency")?;
            let rate = column(t.fx_rates, "fx_rates", "rate_to_reporting")?
                .decimal()
                .map_err(EngineError::polars("rate_to_reporting as decimal"))?
                .physical();
            for ((d, c), r) in dates.iter().zip(ccy.iter()).zip(rate.iter()) {
                if let (Some(d), Some(c), Some(r)) = (d, c, r) {
                    fx.insert(c, *d, r);
                }
            }
            fx.seal();
        }
        let mut currencies = vec![reporting_currency.to_string()];
        let mut currency_index = |code: &str| -> u16 {
            match currencies.iter().position(|c| c == code) {
                Some(i) => i as u16,
                None => {
                    currencies.push(code.to_string());
                    (currencies.len() - 1) as u16
                }
            }
        };

        // Customers, sorted by id.
        let cust_ids = texts(t.customers, "customers", "customer_id")?;
        let mut corder: Vec<usize> = (0..cust_ids.len()).collect();
        let cid: Vec<&str> = cust_ids.iter().map(|v| v.unwrap_or_default()).collect();
        corder.par_sort_unstable_by(|&a, &b| cid[a].cmp(cid[b]));
        let mut customers = Customers::default();
        let mut cust_index: HashMap<&str, u32> = HashMap::default();
        for (i, &r) in corder.iter().enumerate() {
            customers.ids.push(cid[r]);
            if cust_index.insert(cid[r], i as u32).is_some() {
                return Err(analysis(format!("customers: customer_id `{}` appears twice", cid[r])));
            }
        }
        let limits = cents(t.customers, "customers", "credit_limit")?;
        customers.credit_limit = corder.iter().map(|&r| limits[r]).collect();
        let onboarded = days(t.customers, "customers", "onboarded_date")?;
        customers.onboarded = corder.iter().map(|&r| onboarded[r]).collect();
        let score: Vec<Option<f64>> = column(t.customers, "customers", "external_score")?
            .f64()
            .map_err(EngineError::polars("external_score as f64"))?
            .iter()
            .collect();
        customers.external_score = corder.iter().map(|&r| score[r]).collect();
        for name in segment_columns {
            let values = texts(t.customers, "customers", name)?;
            let per_row: Vec<&str> = values.iter().map(|v| v.unwrap_or("UNKNOWN")).collect();
            let mut distinct: Vec<&str> = per_row.clone();
            distinct.sort_unstable();
            distinct.dedup();
            let of_customer =
                corder.iter().map(|&r| distinct.binary_search(&per_row[r]).unwrap_or_default() as u32).collect();
            customers.dims.push(Dimension {
                column: name.clone(),
                values: distinct.into_iter().map(str::to_string).collect(),
                of_customer,
            });
        }
        let customer_of = |table: &str, id: Option<&str>, row: usize| -> Result<u32> {
            let id = id.unwrap_or_default();
            cust_index.get(id).copied().ok_or_else(|| {
                analysis(format!("{table} row {}: customer `{id}` is not in the customers table", row + 1))
            })
        };

        // Documents in event order.
        let l = t.ledger;
        let doc_ids = texts(l, "ledger", "doc_id")?;
        let did: Vec<&str> = doc_ids.iter().map(|v| v.unwrap_or_default()).collect();
        let dcust = texts(l, "ledger", "customer_id")?;
        let dcust: Vec<u32> =
            dcust.iter().enumerate().map(|(i, c)| customer_of("ledger", c, i)).collect::<Result<_>>()?;
        let dkind: Vec<DocType> = texts(l, "ledger", "doc_type")?
            .iter()
            .enumerate()
            .map(|(i, k)| {
                k.and_then(DocType::parse)
                    .ok_or_else(|| analysis(format!("ledger row {}: unknown doc_type {k:?}", i + 1)))
            })
            .collect::<Result<_>>()?;
        let ddate: Vec<i32> = days(l, "ledger", "doc_date")?.into_iter().map(Option::unwrap_or_default).collect();
        let class = |k: DocType| u8::from(!k.is_receivable());
        let mut order: Vec<usize> = (0..did.len()).collect();
        order.par_sort_unstable_by(|&a, &b| {
            (dcust[a], ddate[a], class(dkind[a]))
                .cmp(&(dcust[b], ddate[b], class(dkind[b])))
                .then_with(|| did[a].cmp(did[b]))
        });
        let mut position = vec![0u32; order.len()];
        for (i, &r) in order.iter().enumerate() {
            position[r] = i as u32;
        }
        let mut doc_index: HashMap<&str, u32> = HashMap::with_capacity_and_hasher(did.len(), Default::default());
        doc_index.extend(did.iter().enumerate().map(|(r, id)| (*id, position[r])));
        let ddue = days(l, "ledger", "due_date")?;
        let damount = cents(l, "ledger", "amount")?;
        let drep = cents(l, "ledger", "amount_reporting")?;
        let drate = cents(l, "ledger", "fx_rate")?;
        let dccy = texts(l, "ledger", "currency")?;
        let dccy: Vec<u16> = dccy.iter().map(|c| currency_index(c.unwrap_or_default())).collect();
        let dapplies = texts(l, "ledger", "applies_to")?;
        let ddisputed: Vec<bool> = column(l, "ledger", "disputed")?
            .bool()
            .map_err(EngineError::polars("disputed as bool"))?
            .iter()
            .map(|v| v.unwrap_or(false))
            .collect();
        let dapplies: Vec<Option<&str>> = dapplies.iter().collect();
        let mut docs = Docs::default();
        for &r in &order {
            docs.id.push(did[r]);
            docs.customer.push(dcust[r]);
            docs.kind.push(dkind[r]);
            docs.date.push(ddate[r]);
            docs.due.push(ddue[r]);
            docs.amount.push(damount[r].unwrap_or_default());
            docs.currency.push(dccy[r]);
            docs.rate.push(drate[r].unwrap_or_default());
            docs.amount_reporting.push(drep[r].unwrap_or_default());
            docs.applies_to.push(
                dapplies[r].and_then(|a| doc_index.get(a).copied()).filter(|&d| dcust[order[d as usize]] == dcust[r]),
            );
            docs.disputed.push(ddisputed[r]);
        }
        for (i, k) in docs.kind.iter().enumerate() {
            if k.is_receivable() && docs.due[i].is_none() {
                return Err(analysis(format!("ledger: {} `{}` has no due date", k.as_str(), docs.id.get(i))));
            }
        }

        // Payments in event order, with their known references.
        let p = t.payments;
        let pids = texts(p, "payments", "payment_id")?;
        let pid: Vec<&str> = pids.iter().map(|v| v.unwrap_or_default()).collect();
        let pcust: Vec<u32> = texts(p, "payments", "customer_id")?
            .iter()
            .enumerate()
            .map(|(i, c)| customer_of("payments", c, i))
            .collect::<Result<_>>()?;
        let pdate: Vec<i32> = days(p, "payments", "payment_date")?.into_iter().map(Option::unwrap_or_default).collect();
        let mut porder: Vec<usize> = (0..pid.len()).collect();
        porder.par_sort_unstable_by(|&a, &b| (pcust[a], pdate[a]).cmp(&(pcust[b], pdate[b])).then(pid[a].cmp(pid[b])));
        let mut ppos: HashMap<&str, u32> = HashMap::with_capacity_and_hasher(pid.len(), Default::default());
        ppos.extend(porder.iter().enumerate().map(|(i, &r)| (pid[r], i as u32)));
        // (payment position, reference position, document), sorted: references grouped by
        // payment in the order given.
        let mut known_refs: Vec<(u32, u64, u32)> = {
            let rp = texts(t.payment_refs, "payment_refs", "payment_id")?;
            let rpos = column(t.payment_refs, "payment_refs", "position")?
                .u64()
                .map_err(EngineError::polars("payment_refs.position as u64"))?;
            let rdoc = texts(t.payment_refs, "payment_refs", "doc_id")?;
            rp.iter()
                .zip(rpos.iter())
                .zip(rdoc.iter())
                .filter_map(|((pay, pos), doc)| {
                    let (pi, di) = (ppos.get(pay?)?, doc_index.get(doc?)?);
                    Some((*pi, pos.unwrap_or_default(), *di))
                })
                .collect()
        };
        known_refs.par_sort_unstable();
        let pamount = cents(p, "payments", "amount")?;
        let prep = cents(p, "payments", "amount_reporting")?;
        let prate = cents(p, "payments", "fx_rate")?;
        let pccy: Vec<u16> =
            texts(p, "payments", "currency")?.iter().map(|c| currency_index(c.unwrap_or_default())).collect();
        let praw_refs = texts(p, "payments", "invoice_refs")?;
        let praw_refs: Vec<bool> = praw_refs.iter().map(|r| r.is_some_and(|s| !s.trim().is_empty())).collect();
        let mut payments = Payments {
            ref_start: Vec::with_capacity(pid.len() + 1),
            refs: Vec::with_capacity(known_refs.len()),
            ..Default::default()
        };
        payments.ref_start.push(0);
        let mut next_ref = 0;
        for (i, &r) in porder.iter().enumerate() {
            payments.id.push(pid[r]);
            payments.customer.push(pcust[r]);
            payments.date.push(pdate[r]);
            payments.amount.push(pamount[r].unwrap_or_default());
            payments.currency.push(pccy[r]);
            payments.rate.push(prate[r].unwrap_or_default());
            payments.amount_reporting.push(prep[r].unwrap_or_default());
            payments.has_refs.push(praw_refs[r]);
            let start = payments.refs.len();
            while next_ref < known_refs.len() && known_refs[next_ref].0 as usize == i {
                let d = known_refs[next_ref].2;
                if docs.customer[d as usize] == pcust[r] && !payments.refs[start..].contains(&d) {
                    payments.refs.push(d);
                }
                next_ref += 1;
            }
            payments.ref_start.push(payments.refs.len());
        }

        customers.doc_start = starts(&docs.customer, customers.len());
        customers.pay_start = starts(&payments.customer, customers.len());
        Ok(Book { fx, currencies, customers, docs, payments })
    }

    /// Earliest and latest event date (documents and payments), if there is any event.
    pub fn date_range(&self) -> Option<(i32, i32)> {
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
