//! `reconciliation`: checks that the published numbers add up, per as-of date. Each check
//! recomputes a total along an independent path (documents, payments and applications
//! summed by date) and compares it with what the aging walk produced; any difference fails the run.
//!
//! - `buckets_sum_to_total_open` (reporting currency): Σ buckets = Σ total_open.
//! - `open_ar_equals_documents_minus_applications` (per currency): Σ open receivables =
//!   receivables dated ≤ t − applications dated ≤ t.
//! - `unapplied_cash_equals_payments_minus_applied` (per currency): Σ unapplied payments =
//!   payments dated ≤ t − what was applied from them by t.
//! - `ecl_roll_forward` (reporting currency, month ends, after the others): Σ over groups of
//!   the allowance's opening + charge − write-offs used = Σ closing ([`super::ecl`]).

use std::borrow::Cow;

use polars::prelude::DataFrame;

use super::Context;
use super::aging::Aging;
use super::ecl::EclCheck;
use super::frame::{boolean, date, frame, money, text};
use crate::calendar::format_day;
use crate::cash::SourceKind;
use crate::contracts::{OutType as O, TableContract, out};
use crate::error::Result;
use crate::money::format_cents;

/// `reconciliation`.
pub static RECONCILIATION_TABLE: TableContract = TableContract {
    name: "reconciliation",
    doc: "Checks that the numbers add up, per as-of date; a failed check fails the run",
    partition: None,
    columns: Cow::Borrowed(&[
        out("as_of", O::Date, false, "As-of date"),
        out("check", O::Text, false, "What is compared"),
        out("scope", O::Text, false, "Currency of the amounts"),
        out("expected", O::Money, false, "Total along the independent path"),
        out("actual", O::Money, false, "Total in the published tables"),
        out("passed", O::Bool, false, "expected = actual"),
    ]),
};

/// Totals of dated amounts per as-of date and currency: `total(k, c)` = Σ amounts in
/// currency `c` dated ≤ `as_of[k]`.
struct Dated {
    currencies: usize,
    /// `[k][c]`, cumulative over k.
    sums: Vec<i128>,
}

impl Dated {
    fn new(as_of: &[i32], currencies: usize, items: impl Iterator<Item = (u16, i32, i64)>) -> Dated {
        let mut sums = vec![0i128; as_of.len() * currencies];
        for (c, d, a) in items {
            let k = as_of.partition_point(|&t| t < d);
            if k < as_of.len() {
                sums[k * currencies + c as usize] += i128::from(a);
            }
        }
        for k in 1..as_of.len() {
            for c in 0..currencies {
                sums[k * currencies + c] += sums[(k - 1) * currencies + c];
            }
        }
        Dated { currencies, sums }
    }

    fn total(&self, k: usize, c: usize) -> i128 {
        self.sums[k * self.currencies + c]
    }
}

/// Build the `reconciliation` frame and the list of failed checks; `ecl` are the allowance's
/// checks, listed after the others.
pub fn table(ctx: &Context<'_>, aging: &Aging, ecl: &[EclCheck]) -> Result<(DataFrame, Vec<String>)> {
    let book = ctx.book;
    let docs = &book.docs;
    let pays = &book.payments;
    let apps = &ctx.apps.rows;
    let n = book.currencies.len();
    let receivables = Dated::new(
        &ctx.as_of,
        n,
        (0..docs.len())
            .filter(|&d| docs.kind[d].is_receivable())
            .map(|d| (docs.currency[d], docs.date[d], docs.amount[d])),
    );
    let applied = Dated::new(&ctx.as_of, n, apps.iter().map(|a| (docs.currency[a.invoice as usize], a.date, a.amount)));
    let payments = Dated::new(&ctx.as_of, n, (0..pays.len()).map(|p| (pays.currency[p], pays.date[p], pays.amount[p])));
    let from_payments = Dated::new(
        &ctx.as_of,
        n,
        apps.iter()
            .filter(|a| a.kind == SourceKind::Payment)
            .map(|a| (pays.currency[a.source as usize], a.date, a.source_amount)),
    );
    let mut rows: Vec<Row> = Vec::new();
    for (k, &t) in ctx.as_of.iter().enumerate() {
        let (bucket_sum, total_open) = aging.totals[k];
        rows.push((t, CHECKS[0], 0, total_open, bucket_sum));
        for c in 0..n {
            let expected = receivables.total(k, c) - applied.total(k, c);
            let actual = i128::from(aging.currency.open[k][c]);
            if expected != 0 || actual != 0 {
                rows.push((t, CHECKS[1], c, expected, actual));
            }
            let expected = payments.total(k, c) - from_payments.total(k, c);
            let actual = i128::from(aging.currency.unapplied_payments[k][c]);
            if expected != 0 || actual != 0 {
                rows.push((t, CHECKS[2], c, expected, actual));
            }
        }
    }
    with_ecl(&mut rows, ecl);
    finish(rows, &book.currencies)
}

/// The allowance's checks, in the reporting currency (every book lists it first).
fn with_ecl(rows: &mut Vec<Row>, ecl: &[EclCheck]) {
    rows.extend(ecl.iter().map(|&(check, t, expected, actual)| (t, check, 0, expected, actual)));
}

/// A reconciliation row: as-of date, check, currency (index into the currencies), expected,
/// actual.
type Row = (i32, &'static str, usize, i128, i128);

/// The checks in the order rows of one as-of date and currency are listed.
const CHECKS: [&str; 3] = [
    "buckets_sum_to_total_open",
    "open_ar_equals_documents_minus_applications",
    "unapplied_cash_equals_payments_minus_applied",
];

/// The frame and the failed checks of `rows`, in the order they are given.
fn finish(rows: Vec<Row>, currencies: &[String]) -> Result<(DataFrame, Vec<String>)> {
    let failed: Vec<String> = rows
        .iter()
        .filter(|r| r.3 != r.4)
        .map(|r| {
            format!(
                "{} as of {} ({}): expected {}, got {}",
                r.1,
                format_day(r.0),
                currencies[r.2],
                format_cents(r.3),
                format_cents(r.4)
            )
        })
        .collect();
    let df = frame(
        &RECONCILIATION_TABLE,
        vec![
            date("as_of", rows.iter().map(|r| r.0)),
            text("check", rows.iter().map(|r| r.1)),
            text("scope", rows.iter().map(|r| currencies[r.2].as_str())),
            money("expected", rows.iter().map(|r| r.3 as i64)),
            money("actual", rows.iter().map(|r| r.4 as i64)),
            boolean("passed", rows.iter().map(|r| r.3 == r.4)),
        ],
    )?;
    Ok((df, failed))
}

/// The `reconciliation` of the union of disjoint sets of customers (the shards of a run)
/// from each set's table: every check compares two sums, so the shards' expected and actual
/// totals add up per as-of date, check and currency, and the checks are taken on the sums.
/// Rows come in the order one book over every customer lists them; `currencies` are that
/// book's ([`crate::book::Whole::currencies`]). Returns the frame and the failed checks.
/// `ecl` are the allowance's checks (built from the added monthly sums, never by a shard),
/// listed after the others.
pub fn merge(parts: &[DataFrame], currencies: &[String], ecl: &[EclCheck]) -> Result<(DataFrame, Vec<String>)> {
    use crate::table_columns::{cents, days, texts};
    let mut sums: std::collections::BTreeMap<(i32, usize, usize, usize), (i128, i128)> = Default::default();
    for df in parts {
        let table = RECONCILIATION_TABLE.name;
        let rows = days(df, table, "as_of")?
            .zip(texts(df, table, "check")?.iter())
            .zip(texts(df, table, "scope")?.iter())
            .zip(cents(df, table, "expected")?.zip(cents(df, table, "actual")?));
        for (((as_of, check), scope), (expected, actual)) in rows {
            let (Some(as_of), Some(check), Some(scope)) = (as_of, check, scope) else { continue };
            let k = CHECKS.iter().position(|c| *c == check).ok_or_else(|| crate::error::EngineError::Analysis {
                message: format!(
                    "a shard's reconciliation has an unknown check `{check}`; shard again with this version"
                ),
            })?;
            let c = currencies.iter().position(|c| c == scope).ok_or_else(|| crate::error::EngineError::Analysis {
                message: format!(
                    "a shard's reconciliation names currency `{scope}`, which the run does not have; shard again"
                ),
            })?;
            // The bucket check comes first on its date, then each currency's two checks.
            let key = (as_of, usize::from(k > 0), c, k);
            let sum = sums.entry(key).or_default();
            sum.0 += i128::from(expected.unwrap_or_default());
            sum.1 += i128::from(actual.unwrap_or_default());
        }
    }
    // One book lists a currency's checks only when something is open or unapplied in it.
    let mut rows = sums
        .into_iter()
        .filter(|((_, _, _, k), (e, a))| *k == 0 || *e != 0 || *a != 0)
        .map(|((as_of, _, c, k), (e, a))| (as_of, CHECKS[k], c, e, a))
        .collect();
    with_ecl(&mut rows, ecl);
    finish(rows, currencies)
}
