//! `kpi_monthly`: the numbers a finance team runs the business on, per month and segment —
//! AR, credit sales, cash, the DSO family (standard, countback, best possible, ADD), CEI,
//! delinquency, days to pay, bad debt and collection rate (docs/definitions.md).
//!
//! [`Monthly::build`] walks every receivable once across the month ends and accumulates,
//! per month and group, the balances that KPIs, [`super::cohorts`] and
//! [`super::roll_rates`] need, in exact integer cents; ratios are taken only at the end.

use std::borrow::Cow;

use polars::prelude::DataFrame;
use rayon::prelude::*;

use super::Context;
use super::frame::{count, date, float_opt, frame, money, ratio, text};
use super::params::CeiVariant;
use super::walk::{Settled, at_rate, closing, movement, settled_by, walk};
use crate::calendar::{days_in_month, month_of};
use crate::cash::SourceKind;
use crate::contracts::{DocType, OutType as O, TableContract, out};
use crate::error::{EngineError, Result};

/// `kpi_monthly`.
pub static KPI_MONTHLY_TABLE: TableContract = TableContract {
    name: "kpi_monthly",
    doc: "Monthly AR KPIs per segment (dimension `all`, segment `ALL` is the portfolio); money in the reporting currency",
    partition: None,
    columns: Cow::Borrowed(&[
        out("month", O::Date, false, "Month end"),
        out("dimension", O::Text, false, "all, or the customers column the segment comes from"),
        out("segment", O::Text, false, "ALL, or the segment value"),
        out("ar_begin", O::Money, false, "Open AR at the previous month end"),
        out("ar_end", O::Money, false, "Open AR (invoices and debit memos) at the month end"),
        out("ar_current", O::Money, false, "Open AR not yet due at the month end"),
        out("ar_delinquent", O::Money, false, "Open AR more than `delinquency_days` past due"),
        out("credit_sales", O::Money, false, "Invoices + debit memos − credit memos dated in the month"),
        out("cash_collected", O::Money, false, "Payments received in the month"),
        out("cash_applied", O::Money, false, "Payments applied to invoices in the month"),
        out("write_offs", O::Money, false, "Write-offs dated in the month"),
        out(
            "dso_standard",
            O::Float,
            true,
            "ar_end / credit sales of the last `dso_days` days × `dso_days` (null until the data covers that window)",
        ),
        out("dso_countback", O::Float, true, "Countback DSO (null when the history cannot absorb ar_end)"),
        out("best_dso_standard", O::Float, true, "Standard method with ar_current in place of ar_end"),
        out("best_dso_countback", O::Float, true, "Countback method with ar_current in place of ar_end"),
        out("add_standard", O::Float, true, "Average days delinquent: dso_standard − best_dso_standard"),
        out("add_countback", O::Float, true, "dso_countback − best_dso_countback"),
        out("cei", O::Float, true, "Collection effectiveness index, percent"),
        out("cei_variant", O::Text, false, "period_sales, or average_sales_<n>m"),
        out("delinquency_rate_amount", O::Float, true, "ar_delinquent / ar_end"),
        out("delinquency_rate_count", O::Float, true, "Delinquent open documents / open documents"),
        out("share_90_plus", O::Float, true, "Open AR more than 90 days past due / ar_end"),
        out("open_invoices", O::Count, false, "Open invoices and debit memos at the month end"),
        out("invoices_paid", O::Count, false, "Invoices and debit memos settled in the month without a write-off"),
        out("avg_days_to_pay", O::Float, true, "Mean of (settlement date − document date) over invoices_paid"),
        out("weighted_days_to_pay", O::Float, true, "The same, weighted by amount"),
        out("weighted_days_late", O::Float, true, "Σ amount × max(0, settlement − due) / Σ amount"),
        out("bad_debt_ratio", O::Float, true, "write_offs / credit_sales"),
        out("collection_rate", O::Float, true, "cash_applied / (ar_begin + credit_sales)"),
    ]),
};

// Fields of the per-(month, group) accumulator.
const AR: usize = 0;
const AR_CURRENT: usize = 1;
const AR_DELINQUENT: usize = 2;
const AR_90: usize = 3;
const OPEN_N: usize = 4;
const DELINQUENT_N: usize = 5;
const SALES: usize = 6;
const CASH_COLLECTED: usize = 7;
const CASH_APPLIED: usize = 8;
const WRITE_OFFS: usize = 9;
const PAID_N: usize = 10;
const PAID_DAYS: usize = 11;
const PAID_AMOUNT: usize = 12;
const PAID_AMOUNT_DAYS: usize = 13;
const PAID_AMOUNT_LATE: usize = 14;
const KPI_FIELDS: usize = 15;

// Fields of the per-(cohort, age, group) accumulator.
/// Billed amount (only at age 0) and invoice count (age 0).
pub const C_BILLED: usize = 0;
pub const C_INVOICES: usize = 1;
/// Changes of the cumulative paid / credited / written-off amounts at this age.
pub const C_PAID: usize = 2;
pub const C_CREDITED: usize = 3;
pub const C_WRITTEN_OFF: usize = 4;
/// Open amount ≥ 61 days past due at this age.
pub const C_OPEN_61: usize = 5;
/// Open amount 90 days after billing (only at age 0; used when the cohort is mature).
pub const C_OPEN_AT_90: usize = 6;
pub const COHORT_FIELDS: usize = 7;

/// Monthly balances and flows per group, exact. Every field is a sum over customers, so the
/// `Monthly` of disjoint sets of customers (the shards of a run) add up, with
/// [`Monthly::merge`], to the one of their union; it is written between the steps of a
/// sharded run as JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Monthly {
    /// Number of month indices (the opening date plus the month ends).
    pub k_count: usize,
    pub groups: usize,
    pub buckets: usize,
    /// `[k][g][field]`.
    kpi: Vec<i128>,
    /// `[day][g]` credit sales per day from `months[0] + 1`.
    daily_sales: Vec<i128>,
    /// `[c][a][g][field]` with `c, a < k_count`.
    cohorts: Vec<i128>,
    /// `[k][g][from][to]`, `to` in buckets then paid, credited, written off.
    roll: Vec<i128>,
    /// `[k][g][bucket]` open receivables at the month end, at the month end's rate.
    bucket_ar: Vec<i128>,
    /// `[k][g]` what of the receivables open at month end `k` was written off in the
    /// `ecl.backtest_months` months after it, at `k`'s rate (0 where those months go past the
    /// data).
    realised: Vec<i128>,
}

impl Monthly {
    fn zero(ctx: &Context<'_>) -> Monthly {
        let k_count = ctx.months.len();
        let groups = ctx.groups.len();
        let buckets = ctx.analysis.buckets.len();
        let days = ctx.months.last().map_or(0, |&l| (l - ctx.months[0]) as usize);
        Monthly {
            k_count,
            groups,
            buckets,
            kpi: vec![0; k_count * groups * KPI_FIELDS],
            daily_sales: vec![0; days * groups],
            cohorts: vec![0; k_count * k_count * groups * COHORT_FIELDS],
            roll: vec![0; k_count * groups * buckets * (buckets + 3)],
            bucket_ar: vec![0; k_count * groups * buckets],
            realised: vec![0; k_count * groups],
        }
    }

    fn add(mut self, o: Monthly) -> Monthly {
        for (a, b) in [
            (&mut self.kpi, &o.kpi),
            (&mut self.daily_sales, &o.daily_sales),
            (&mut self.cohorts, &o.cohorts),
            (&mut self.roll, &o.roll),
            (&mut self.bucket_ar, &o.bucket_ar),
            (&mut self.realised, &o.realised),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        self
    }

    /// The sums of two sets of customers (of books over the same month ends, groups and
    /// buckets: shards of one run).
    pub fn merge(self, o: Monthly) -> Result<Monthly> {
        if (self.k_count, self.groups, self.buckets) != (o.k_count, o.groups, o.buckets) {
            return Err(EngineError::Analysis {
                message: format!(
                    "monthly partial sums of different shapes ({} months × {} groups × {} buckets against {} × {} × {}): the shards were not cut from one run; shard again",
                    self.k_count, self.groups, self.buckets, o.k_count, o.groups, o.buckets
                ),
            });
        }
        Ok(self.add(o))
    }

    /// A KPI accumulator field.
    fn kpi(&self, k: usize, g: usize, f: usize) -> i128 {
        self.kpi[(k * self.groups + g) * KPI_FIELDS + f]
    }

    fn kpi_mut(&mut self, k: usize, g: usize, f: usize) -> &mut i128 {
        &mut self.kpi[(k * self.groups + g) * KPI_FIELDS + f]
    }

    /// A cohort accumulator field (after [`Monthly::build`], paid / credited / written off
    /// are cumulative).
    pub fn cohort(&self, c: usize, a: usize, g: usize, f: usize) -> i128 {
        self.cohorts[((c * self.k_count + a) * self.groups + g) * COHORT_FIELDS + f]
    }

    fn cohort_mut(&mut self, c: usize, a: usize, g: usize, f: usize) -> &mut i128 {
        &mut self.cohorts[((c * self.k_count + a) * self.groups + g) * COHORT_FIELDS + f]
    }

    /// Amount of group `g` that moved from bucket `from` at month `k − 1` to `to` at `k`.
    pub fn roll(&self, k: usize, g: usize, from: usize, to: usize) -> i128 {
        self.roll[((k * self.groups + g) * self.buckets + from) * (self.buckets + 3) + to]
    }

    fn roll_mut(&mut self, k: usize, g: usize, from: usize, to: usize) -> &mut i128 {
        &mut self.roll[((k * self.groups + g) * self.buckets + from) * (self.buckets + 3) + to]
    }

    /// Open receivables of group `g` in aging bucket `b` at month end `k`, at that month end's
    /// rate (the buckets of `ar_end`).
    pub fn bucket_open(&self, k: usize, g: usize, b: usize) -> i128 {
        self.bucket_ar[(k * self.groups + g) * self.buckets + b]
    }

    fn bucket_open_mut(&mut self, k: usize, g: usize, b: usize) -> &mut i128 {
        &mut self.bucket_ar[(k * self.groups + g) * self.buckets + b]
    }

    /// What of group `g`'s receivables open at month end `k` was written off within
    /// `ecl.backtest_months` months after it (at `k`'s rate); only meaningful when month end
    /// `k + ecl.backtest_months` is in the data.
    pub fn realised_write_offs(&self, k: usize, g: usize) -> i128 {
        self.realised[k * self.groups + g]
    }

    /// Write-offs of group `g` dated in month `k` (`kpi_monthly.write_offs`).
    pub fn write_offs(&self, k: usize, g: usize) -> i128 {
        self.kpi(k, g, WRITE_OFFS)
    }

    /// Walk every customer's documents once across the month ends.
    pub fn build(ctx: &Context<'_>) -> Result<Monthly> {
        if ctx.months.is_empty() {
            return Ok(Monthly::zero(ctx));
        }
        let n = ctx.book.customers.len();
        let chunks = (rayon::current_num_threads() * 4).max(1);
        let size = n.div_ceil(chunks).max(1);
        let parts: Vec<Monthly> = (0..n.div_ceil(size))
            .into_par_iter()
            .map(|i| {
                let mut acc = Monthly::zero(ctx);
                for c in i * size..((i + 1) * size).min(n) {
                    acc.customer(ctx, c)?;
                }
                Ok(acc)
            })
            .collect::<Result<_>>()?;
        let mut total = parts.into_iter().fold(Monthly::zero(ctx), Monthly::add);
        // Paid / credited / written off were recorded as changes per age: make them cumulative.
        for c in 0..total.k_count {
            for g in 0..total.groups {
                for f in [C_PAID, C_CREDITED, C_WRITTEN_OFF] {
                    let mut run = 0;
                    for a in 0..total.k_count - c {
                        run += total.cohort(c, a, g, f);
                        *total.cohort_mut(c, a, g, f) = run;
                    }
                }
            }
        }
        Ok(total)
    }

    fn customer(&mut self, ctx: &Context<'_>, c: usize) -> Result<()> {
        let book = ctx.book;
        let docs = &book.docs;
        let groups = ctx.groups.of(book, c);
        let first_day = ctx.months[0] + 1;
        let last_month = *ctx.months.last().unwrap_or(&0);
        let mut scratch = Scratch::default();
        for d in book.customers.docs(c) {
            let kind = docs.kind[d];
            let day = docs.date[d];
            if let Some(k) = ctx.month_index(day) {
                let rep = i128::from(docs.amount_reporting[d]);
                let (field, sign) = match kind {
                    DocType::Invoice | DocType::DebitMemo => (SALES, 1),
                    DocType::CreditMemo => (SALES, -1),
                    DocType::WriteOff => (WRITE_OFFS, 1),
                };
                for &g in &groups {
                    *self.kpi_mut(k, g, field) += sign * rep;
                    if field == SALES {
                        self.daily_sales[(day - first_day) as usize * self.groups + g] += sign * rep;
                    }
                }
            }
            if kind.is_receivable() {
                self.receivable(ctx, d, &groups, last_month, &mut scratch)?;
            }
        }
        let pays = &book.payments;
        for p in book.customers.payments(c) {
            if let Some(k) = ctx.month_index(pays.date[p]) {
                for &g in &groups {
                    *self.kpi_mut(k, g, CASH_COLLECTED) += i128::from(pays.amount_reporting[p]);
                }
            }
        }
        Ok(())
    }

    fn receivable(
        &mut self,
        ctx: &Context<'_>,
        d: usize,
        groups: &[usize],
        last_month: i32,
        scratch: &mut Scratch,
    ) -> Result<()> {
        let docs = &ctx.book.docs;
        let amount = docs.amount[d];
        let due = docs.due[d].unwrap_or(docs.date[d]);
        let doc_rate = i128::from(docs.rate[d]);
        let cohort = if docs.kind[d] == DocType::Invoice { ctx.month_index(docs.date[d]) } else { None };
        let threshold = ctx.analysis.delinquency_days as i32;
        let mut prev: Option<(usize, Settled)> = None;
        let mut prev_cum = [0i64; 3];
        let mut error: Option<EngineError> = None;
        // For the allowance's backtest: the written-off total at each month end walked (from
        // the first), and the month ends the invoice was open at with their rate.
        let Scratch { written_off_at, open_at } = scratch;
        written_off_at.clear();
        open_at.clear();
        let mut first_k = None;
        walk(ctx.apps, d, docs.date[d], amount, &ctx.months, |k, s| {
            if error.is_some() {
                return;
            }
            first_k.get_or_insert(k);
            written_off_at.push(s.written_off);
            let t = ctx.months[k];
            let open = amount - s.total();
            if open > 0 {
                let rate = match ctx.month_rate(k, d) {
                    Ok(r) => r,
                    Err(e) => {
                        error = Some(e);
                        return;
                    }
                };
                open_at.push((k, rate, s.written_off));
                let rep = i128::from(at_rate(open, rate));
                let dpd = t - due;
                let bucket = ctx.analysis.buckets.index(ctx.age(d, t));
                for &g in groups {
                    *self.kpi_mut(k, g, AR) += rep;
                    *self.bucket_open_mut(k, g, bucket) += rep;
                    *self.kpi_mut(k, g, OPEN_N) += 1;
                    if dpd <= 0 {
                        *self.kpi_mut(k, g, AR_CURRENT) += rep;
                    }
                    if dpd > threshold {
                        *self.kpi_mut(k, g, AR_DELINQUENT) += rep;
                        *self.kpi_mut(k, g, DELINQUENT_N) += 1;
                    }
                    if dpd > 90 {
                        *self.kpi_mut(k, g, AR_90) += rep;
                    }
                }
            }
            // Roll from the previous month end, at the document's rate.
            if let Some((pk, ps)) = prev
                && pk + 1 == k
            {
                let before = amount - ps.total();
                if before > 0 {
                    let from = ctx.analysis.buckets.index(ctx.age(d, ctx.months[pk]));
                    let m = movement(before, s - ps, doc_rate);
                    let nb = self.buckets;
                    for &g in groups {
                        if m.open > 0 {
                            let to = ctx.analysis.buckets.index(ctx.age(d, t));
                            *self.roll_mut(k, g, from, to) += i128::from(m.open);
                        }
                        *self.roll_mut(k, g, from, nb) += i128::from(m.paid);
                        *self.roll_mut(k, g, from, nb + 1) += i128::from(m.credited);
                        *self.roll_mut(k, g, from, nb + 2) += i128::from(m.written_off);
                    }
                }
            }
            if let Some(ck) = cohort
                && k >= ck
            {
                let a = k - ck;
                let m = movement(amount, s, doc_rate);
                let cum = [m.paid, m.credited, m.written_off];
                for &g in groups {
                    for (i, f) in [C_PAID, C_CREDITED, C_WRITTEN_OFF].into_iter().enumerate() {
                        *self.cohort_mut(ck, a, g, f) += i128::from(cum[i] - prev_cum[i]);
                    }
                    if open > 0 && t - due >= 61 {
                        *self.cohort_mut(ck, a, g, C_OPEN_61) += i128::from(m.open);
                    }
                }
                prev_cum = cum;
            }
            prev = Some((k, s));
        });
        if let Some(e) = error {
            return Err(e);
        }
        // Written off within the horizon after each month end it was open at (the walk stops
        // once the invoice is closed, so later month ends have its final total).
        let horizon = ctx.analysis.ecl.backtest_months as usize;
        if let (Some(k0), Some(&last)) = (first_k, written_off_at.last()) {
            for &(k, rate, before) in open_at.iter() {
                let end = k + horizon;
                if end >= self.k_count {
                    continue;
                }
                let after = written_off_at.get(end - k0).copied().unwrap_or(last);
                let lost = i128::from(at_rate(after - before, rate));
                if lost != 0 {
                    for &g in groups {
                        self.realised[k * self.groups + g] += lost;
                    }
                }
            }
        }
        if let Some(ck) = cohort {
            let billed = i128::from(docs.amount_reporting[d]);
            let at_90 = docs.date[d] + 90;
            let open_90 = if at_90 <= ctx.last_day {
                let s = settled_by(ctx.apps, d, at_90);
                i128::from(at_rate(amount - s.total(), doc_rate))
            } else {
                0
            };
            for &g in groups {
                *self.cohort_mut(ck, 0, g, C_BILLED) += billed;
                *self.cohort_mut(ck, 0, g, C_INVOICES) += 1;
                *self.cohort_mut(ck, 0, g, C_OPEN_AT_90) += open_90;
            }
        }
        if let Some((closed, written_off)) = closing(ctx.apps, d, amount)
            && !written_off
            && closed <= last_month
            && let Some(k) = ctx.month_index(closed)
        {
            let rep = i128::from(docs.amount_reporting[d]);
            let days = i128::from(closed - docs.date[d]);
            let late = i128::from((closed - due).max(0));
            for &g in groups {
                *self.kpi_mut(k, g, PAID_N) += 1;
                *self.kpi_mut(k, g, PAID_DAYS) += days;
                *self.kpi_mut(k, g, PAID_AMOUNT) += rep;
                *self.kpi_mut(k, g, PAID_AMOUNT_DAYS) += rep * days;
                *self.kpi_mut(k, g, PAID_AMOUNT_LATE) += rep * late;
            }
        }
        // Cash applied in the month, at the payment's rate.
        for a in ctx.apps.of_invoice(d).filter(|a| a.kind == SourceKind::Payment) {
            if let Some(k) = ctx.month_index(a.date) {
                let rep = i128::from(at_rate(a.source_amount, i128::from(ctx.book.payments.rate[a.source as usize])));
                for &g in groups {
                    *self.kpi_mut(k, g, CASH_APPLIED) += rep;
                }
            }
        }
        Ok(())
    }
}

/// Buffers one customer's receivables reuse in [`Monthly::build`].
#[derive(Default)]
struct Scratch {
    /// Written off by each month end the walk visited, from the first.
    written_off_at: Vec<i64>,
    /// (month end, rate, written off by then) of each month end the receivable was open at.
    open_at: Vec<(usize, i128, i64)>,
}

/// Countback DSO: walk back from the latest month; while the remaining AR is at least the
/// month's sales, take them and count the month's days; the last month counts the remaining
/// share of its days. `months` is (sales, calendar days), latest first. `None` when the
/// history cannot absorb the AR.
pub fn countback(ar: i128, months: &[(i128, i32)]) -> Option<f64> {
    let mut remaining = ar;
    let mut days = 0.0;
    for &(sales, month_days) in months {
        if sales > 0 && remaining < sales {
            return Some(days + remaining as f64 / sales as f64 * f64::from(month_days));
        }
        // A month without net sales is a month the AR is older than.
        remaining -= sales;
        days += f64::from(month_days);
        if remaining == 0 && sales > 0 {
            return Some(days);
        }
    }
    (remaining <= 0).then_some(days)
}

/// Build the `kpi_monthly` frame.
pub fn table(ctx: &Context<'_>, m: &Monthly) -> Result<DataFrame> {
    let a = ctx.analysis;
    let n = a.dso_days as i32;
    let cei_variant = match a.cei {
        CeiVariant::PeriodSales => "period_sales".to_string(),
        CeiVariant::AverageSales => format!("average_sales_{}m", a.cei_months),
    };
    let mut rows: Vec<KpiRow> = Vec::new();
    for k in 1..m.k_count {
        let t = ctx.months[k];
        for g in 0..m.groups {
            let f = |k: usize, field: usize| m.kpi(k, g, field);
            // Credit sales in (t − N, t], from the daily series (which starts after months[0]).
            let first_day = ctx.months[0] + 1;
            let lo = (t - n + 1 - first_day).max(0) as usize;
            let hi = (t - first_day) as usize;
            let sales_n: i128 = (lo..=hi).map(|day| m.daily_sales[day * m.groups + g]).sum();
            // Only with a full window of history: a partial window would overstate DSO.
            let full_window = t - n + 1 >= first_day;
            let standard = |ar: i128| (full_window && sales_n > 0).then(|| ar as f64 / sales_n as f64 * f64::from(n));
            let history: Vec<(i128, i32)> =
                (1..=k).rev().map(|j| (f(j, SALES), days_in_month(month_of(ctx.months[j])))).collect();
            let ar_end = f(k, AR);
            let current = f(k, AR_CURRENT);
            let dso_standard = standard(ar_end);
            let best_standard = standard(current);
            let dso_countback = countback(ar_end, &history);
            let best_countback = countback(current, &history);
            let cei = match a.cei {
                CeiVariant::PeriodSales => {
                    let collectible = f(k - 1, AR) + f(k, SALES);
                    ratio(collectible - ar_end, collectible - current).map(|x| x * 100.0)
                }
                CeiVariant::AverageSales => {
                    let months = a.cei_months as usize;
                    (k >= months)
                        .then(|| {
                            let sales: i128 = (k + 1 - months..=k).map(|j| f(j, SALES)).sum();
                            let collectible = f(k - months, AR) as f64 + sales as f64 / months as f64;
                            let den = collectible - current as f64;
                            (den != 0.0).then(|| (collectible - ar_end as f64) / den * 100.0)
                        })
                        .flatten()
                }
            };
            let diff = |x: Option<f64>, y: Option<f64>| x.zip(y).map(|(x, y)| x - y);
            rows.push(KpiRow {
                month: t,
                group: g,
                money: [
                    f(k - 1, AR),
                    ar_end,
                    current,
                    f(k, AR_DELINQUENT),
                    f(k, SALES),
                    f(k, CASH_COLLECTED),
                    f(k, CASH_APPLIED),
                    f(k, WRITE_OFFS),
                ],
                floats: [
                    dso_standard,
                    dso_countback,
                    best_standard,
                    best_countback,
                    diff(dso_standard, best_standard),
                    diff(dso_countback, best_countback),
                    cei,
                    ratio(f(k, AR_DELINQUENT), ar_end),
                    ratio(f(k, DELINQUENT_N), f(k, OPEN_N)),
                    ratio(f(k, AR_90), ar_end),
                    ratio(f(k, PAID_DAYS), f(k, PAID_N)),
                    ratio(f(k, PAID_AMOUNT_DAYS), f(k, PAID_AMOUNT)),
                    ratio(f(k, PAID_AMOUNT_LATE), f(k, PAID_AMOUNT)),
                    (f(k, SALES) > 0).then(|| f(k, WRITE_OFFS) as f64 / f(k, SALES) as f64),
                    ratio(f(k, CASH_APPLIED), f(k - 1, AR) + f(k, SALES)),
                ],
                counts: [f(k, OPEN_N) as u64, f(k, PAID_N) as u64],
            });
        }
    }
    let labels = &ctx.groups.labels;
    let money_col = |name: &str, i: usize| money(name, rows.iter().map(|r| r.money[i] as i64));
    let float_col = |name: &str, i: usize| float_opt(name, rows.iter().map(|r| r.floats[i]));
    frame(
        &KPI_MONTHLY_TABLE,
        vec![
            date("month", rows.iter().map(|r| r.month)),
            text("dimension", rows.iter().map(|r| labels[r.group].0.as_str())),
            text("segment", rows.iter().map(|r| labels[r.group].1.as_str())),
            money_col("ar_begin", 0),
            money_col("ar_end", 1),
            money_col("ar_current", 2),
            money_col("ar_delinquent", 3),
            money_col("credit_sales", 4),
            money_col("cash_collected", 5),
            money_col("cash_applied", 6),
            money_col("write_offs", 7),
            float_col("dso_standard", 0),
            float_col("dso_countback", 1),
            float_col("best_dso_standard", 2),
            float_col("best_dso_countback", 3),
            float_col("add_standard", 4),
            float_col("add_countback", 5),
            float_col("cei", 6),
            text("cei_variant", rows.iter().map(|_| cei_variant.as_str())),
            float_col("delinquency_rate_amount", 7),
            float_col("delinquency_rate_count", 8),
            float_col("share_90_plus", 9),
            count("open_invoices", rows.iter().map(|r| r.counts[0])),
            count("invoices_paid", rows.iter().map(|r| r.counts[1])),
            float_col("avg_days_to_pay", 10),
            float_col("weighted_days_to_pay", 11),
            float_col("weighted_days_late", 12),
            float_col("bad_debt_ratio", 13),
            float_col("collection_rate", 14),
        ],
    )
}

struct KpiRow {
    month: i32,
    group: usize,
    money: [i128; 8],
    floats: [Option<f64>; 15],
    counts: [u64; 2],
}

#[cfg(test)]
mod tests {
    use super::countback;

    #[test]
    fn countback_worked_example() {
        // AR 212,000; sales 100,000 / 80,000 / 70,000 (latest first), 30-day months:
        // 30 + 30 + 32/70 × 30 ≈ 73.71 days.
        let cents = |units: i128| units * 100;
        let dso = countback(cents(212_000), &[(cents(100_000), 30), (cents(80_000), 30), (cents(70_000), 30)]);
        let expected = 30.0 + 30.0 + 32.0 / 70.0 * 30.0;
        assert!(dso.is_some_and(|d| (d - expected).abs() < 1e-9), "{dso:?}");
        assert!(dso.is_some_and(|d| (d - 73.71).abs() < 0.005));
    }

    #[test]
    fn countback_edges() {
        assert_eq!(countback(0, &[(100, 31)]), Some(0.0));
        assert_eq!(countback(100, &[(100, 31), (50, 30)]), Some(31.0));
        assert_eq!(countback(50, &[(100, 30)]), Some(15.0));
        // More AR than the whole history of sales explains: undefined.
        assert_eq!(countback(500, &[(100, 31), (100, 30)]), None);
        // A month without sales is a month the AR is older than.
        assert_eq!(countback(150, &[(0, 31), (300, 30)]), Some(46.0));
    }
}
