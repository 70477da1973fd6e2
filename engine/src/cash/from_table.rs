//! Which applications does a published `applications` table hold? [`applications_from_table`]
//! reads the table back onto the [`Book`] it was computed from, so the dashboards can be
//! rebuilt from a run's published tables without applying cash again (`ardent analytics`).
//!
//! The result equals [`apply_cash`](super::apply_cash) on the same book: rows are put in
//! event order whatever the table's row order (customer; date; credit memos and write-offs
//! before payments; source in book order; invoices oldest due first), and what stayed
//! unapplied is each source's amount less what the table applied from it.

use polars::prelude::*;
use rayon::prelude::*;

use super::{Application, Applications, Rule, SourceKind, index_by_invoice};
use crate::book::{Book, BookIndex};
use crate::contracts::DocType;
use crate::error::{EngineError, Result};
use crate::table_columns::{cents, column, texts};

fn problem(row: usize, message: String) -> EngineError {
    EngineError::Analysis {
        message: format!(
            "applications row {row}: {message}; the applications table must come from the same run as the ledger and payments read with it"
        ),
    }
}

fn kind_of(text: &str) -> Option<SourceKind> {
    [SourceKind::Payment, SourceKind::CreditMemo, SourceKind::WriteOff].into_iter().find(|k| k.as_str() == text)
}

fn rule_of(text: &str) -> Option<Rule> {
    Rule::ALL.into_iter().find(|r| r.as_str() == text)
}

/// Rows parsed per task.
const CHUNK: usize = 1 << 16;

/// The applications of `table` (the `applications` output table) on `book`, whose ids
/// `index` finds.
pub fn applications_from_table(book: &Book, index: &BookIndex, table: &DataFrame) -> Result<Applications> {
    const T: &str = "applications";
    let kind = texts(table, T, "source_type")?;
    let source = texts(table, T, "source_id")?;
    let invoice = texts(table, T, "invoice_id")?;
    let rule = texts(table, T, "rule")?;
    let date = column(table, T, "date")?
        .date()
        .map_err(EngineError::polars("column `date` of `applications` as date"))?
        .physical()
        .clone();
    let amount: Vec<Option<i64>> = cents(table, T, "amount")?.collect();
    let source_amount: Vec<Option<i64>> = cents(table, T, "source_amount")?.collect();

    // Parsed in chunks side by side; the first bad row in table order is the one reported.
    let n = table.height();
    let parts: Vec<Result<Vec<Application>>> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|part| {
            let (from, len) = (part * CHUNK, CHUNK.min(n - part * CHUNK));
            let at = |ca: &StringChunked| ca.slice(from as i64, len);
            let (kind, source, invoice, rule) = (at(kind), at(source), at(invoice), at(rule));
            let date = date.slice(from as i64, len);
            let mut rows = Vec::with_capacity(len);
            for (j, ((((k, s), inv), r), d)) in
                kind.iter().zip(source.iter()).zip(invoice.iter()).zip(rule.iter()).zip(date.iter()).enumerate()
            {
                let i = from + j;
                rows.push(parse_row(book, index, i, k, s, inv, r, d, amount[i], source_amount[i])?);
            }
            Ok(rows)
        })
        .collect();
    let mut rows = Vec::with_capacity(n);
    for part in parts {
        rows.extend(part?);
    }

    // Event order, as apply_cash writes it (a table ardent wrote is in it already).
    let key = |a: &Application| {
        let customer = match a.kind {
            SourceKind::Payment => book.payments.customer[a.source as usize],
            SourceKind::CreditMemo | SourceKind::WriteOff => book.docs.customer[a.source as usize],
        };
        let due = book.docs.due[a.invoice as usize].unwrap_or(book.docs.date[a.invoice as usize]);
        (customer, a.date, a.kind == SourceKind::Payment, a.source, due, a.invoice)
    };
    if !rows.par_windows(2).all(|w| key(&w[0]) < key(&w[1])) {
        rows.par_sort_unstable_by_key(key);
    }

    let mut payment_unapplied = book.payments.amount.clone();
    let mut credit_unapplied: Vec<i64> =
        (0..book.docs.len()).map(|d| if book.docs.kind[d].is_receivable() { 0 } else { book.docs.amount[d] }).collect();
    for a in &rows {
        let left = match a.kind {
            SourceKind::Payment => &mut payment_unapplied[a.source as usize],
            SourceKind::CreditMemo | SourceKind::WriteOff => &mut credit_unapplied[a.source as usize],
        };
        *left -= a.source_amount;
        if *left < 0 {
            let id = match a.kind {
                SourceKind::Payment => book.payments.id.get(a.source as usize),
                SourceKind::CreditMemo | SourceKind::WriteOff => book.docs.id.get(a.source as usize),
            };
            return Err(EngineError::Analysis {
                message: format!(
                    "applications: {} `{id}` is applied beyond its amount; the applications table must come from the same run as the ledger and payments read with it",
                    a.kind.as_str()
                ),
            });
        }
    }
    let (invoice_start, by_invoice) = index_by_invoice(&rows, book.docs.len());
    for d in 0..book.docs.len() {
        let applied: i64 =
            by_invoice[invoice_start[d]..invoice_start[d + 1]].iter().map(|&i| rows[i as usize].amount).sum();
        if applied > book.docs.amount[d] {
            return Err(EngineError::Analysis {
                message: format!(
                    "applications: {} `{}` receives {applied} cents, more than its amount {}; the applications table must come from the same run as the ledger and payments read with it",
                    book.docs.kind[d].as_str(),
                    book.docs.id.get(d),
                    book.docs.amount[d]
                ),
            });
        }
    }
    Ok(Applications { rows, payment_unapplied, credit_unapplied, invoice_start, by_invoice })
}

/// Row `i` of the table, on the book.
#[allow(clippy::too_many_arguments)]
fn parse_row(
    book: &Book,
    index: &BookIndex,
    i: usize,
    k: Option<&str>,
    s: Option<&str>,
    inv: Option<&str>,
    r: Option<&str>,
    d: Option<i32>,
    amount: Option<i64>,
    source_amount: Option<i64>,
) -> Result<Application> {
    let missing = |c: &str| problem(i, format!("`{c}` is empty"));
    let k = k.ok_or_else(|| missing("source_type"))?;
    let kind = kind_of(k)
        .ok_or_else(|| problem(i, format!("source_type `{k}` is none of payment, credit_memo, write_off")))?;
    let s = s.ok_or_else(|| missing("source_id"))?;
    let source = match kind {
        SourceKind::Payment => index.payment(book, s),
        SourceKind::CreditMemo | SourceKind::WriteOff => index.doc(book, s).filter(|&d| {
            let want = if kind == SourceKind::CreditMemo { DocType::CreditMemo } else { DocType::WriteOff };
            book.docs.kind[d as usize] == want
        }),
    }
    .ok_or_else(|| problem(i, format!("source_id `{s}` is no {k} of the book")))?;
    let inv = inv.ok_or_else(|| missing("invoice_id"))?;
    let invoice = index
        .doc(book, inv)
        .filter(|&d| book.docs.kind[d as usize].is_receivable())
        .ok_or_else(|| problem(i, format!("invoice_id `{inv}` is no invoice or debit memo of the ledger")))?;
    let r = r.ok_or_else(|| missing("rule"))?;
    let rule = rule_of(r).ok_or_else(|| problem(i, format!("rule `{r}` is not a cash application rule")))?;
    let (Some(date), Some(amount), Some(source_amount)) = (d, amount, source_amount) else {
        return Err(problem(i, "`date`, `amount` or `source_amount` is empty".into()));
    };
    if amount <= 0 || source_amount <= 0 {
        return Err(problem(i, format!("amounts must be positive, not {amount} and {source_amount} cents")));
    }
    Ok(Application { kind, source, invoice, date, amount, source_amount, rule })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::analytics::frame::{boolean, count, date, date_opt, money, text, text_opt};
    use crate::book::BookTables;

    fn rates(name: &str, n: usize) -> Column {
        Int128Chunked::from_vec(name.into(), vec![10_000_000_000; n]).into_decimal_unchecked(18, 10).into_column()
    }

    /// One customer, one 100.00 invoice, one 40.00 payment naming it.
    fn book() -> Book {
        let customers = DataFrame::new(
            1,
            vec![
                text("customer_id", ["C1"]),
                text("segment", ["SMB"]),
                money("credit_limit", [100_000]),
                date_opt("onboarded_date", [None]),
                Float64Chunked::from_iter_options("external_score".into(), [None].into_iter()).into_column(),
            ],
        )
        .unwrap();
        let fx = DataFrame::new(
            0,
            vec![date("date", []), text("currency", Vec::<&str>::new()), rates("rate_to_reporting", 0)],
        )
        .unwrap();
        let ledger = DataFrame::new(
            1,
            vec![
                text("doc_id", ["I1"]),
                text("customer_id", ["C1"]),
                text("doc_type", ["invoice"]),
                date("doc_date", [20_000]),
                date_opt("due_date", [Some(20_030)]),
                money("amount", [10_000]),
                text("currency", ["USD"]),
                rates("fx_rate", 1),
                money("amount_reporting", [10_000]),
                text_opt("applies_to", [None]),
                boolean("disputed", [false]),
            ],
        )
        .unwrap();
        let payments = DataFrame::new(
            1,
            vec![
                text("payment_id", ["P1"]),
                text("customer_id", ["C1"]),
                date("payment_date", [20_010]),
                money("amount", [4_000]),
                text("currency", ["USD"]),
                rates("fx_rate", 1),
                money("amount_reporting", [4_000]),
                text("invoice_refs", ["I1"]),
            ],
        )
        .unwrap();
        let refs = DataFrame::new(
            1,
            vec![text("payment_id", ["P1"]), count("position", [1]), text("doc_id", ["I1"]), boolean("known", [true])],
        )
        .unwrap();
        let tables = BookTables {
            ledger: &ledger,
            payments: &payments,
            payment_refs: &refs,
            customers: &customers,
            fx_rates: &fx,
        };
        Book::from_tables(tables, "USD", 7, &["segment".to_string()]).unwrap()
    }

    fn table(invoice: &str, source: &str, cents: i64) -> DataFrame {
        DataFrame::new(
            1,
            vec![
                text("source_type", ["payment"]),
                text("source_id", [source]),
                text("invoice_id", [invoice]),
                date("date", [20_010]),
                money("amount", [cents]),
                money("source_amount", [cents]),
                text("rule", ["reference"]),
            ],
        )
        .unwrap()
    }

    /// A table that does not belong to the book is refused with the row and the id named,
    /// and what stayed unapplied is the source's amount less what the table applied from it.
    #[test]
    fn rows_that_do_not_fit_the_book_are_named() {
        let b = book();
        let index = BookIndex::of(&b);
        let apps = applications_from_table(&b, &index, &table("I1", "P1", 3_000)).unwrap();
        assert_eq!(apps.payment_unapplied, vec![1_000]);
        assert_eq!(apps.of_invoice(0).map(|a| a.amount).collect::<Vec<_>>(), vec![3_000]);

        let err = applications_from_table(&b, &index, &table("I9", "P1", 3_000)).unwrap_err().to_string();
        assert!(err.contains("applications row 0") && err.contains("`I9`") && err.contains("same run"), "{err}");
        let err = applications_from_table(&b, &index, &table("I1", "P7", 3_000)).unwrap_err().to_string();
        assert!(err.contains("source_id `P7` is no payment"), "{err}");
        let err = applications_from_table(&b, &index, &table("I1", "P1", 5_000)).unwrap_err().to_string();
        assert!(err.contains("`P1` is applied beyond its amount"), "{err}");
    }
}
