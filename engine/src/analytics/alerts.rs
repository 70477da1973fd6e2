//! `alerts`: early warnings per month end and customer, so credit control acts before an
//! invoice is 60 days late. Each kind is a checked threshold (`[alerts]`), each alert names its
//! evidence in numbers, and `first_seen` is the first month end of the unbroken run of month
//! ends at which the customer kept raising it (within the `alerts.months` window).
//!
//! From the ledger ([`from_ledger`], per customer, so shards build their own):
//! - `credit_limit`: open receivables at the month end (month-end rate) above `utilisation` ×
//!   the customer's credit limit;
//! - `payment_pattern`: the customer's amount-weighted days late over the invoices it settled in
//!   the 90 days to the month end, more than `lateness_increase_days` above the same over the
//!   365 days before those 90, each on at least `lateness_min_invoices` invoices;
//! - `new_dispute`: invoices issued in the month, disputed and still open at its end, of at
//!   least `dispute_min_amount` (reporting currency, document rate) — the exports carry the
//!   dispute flag without a date, so a dispute is new in the month its invoice is issued.
//!
//! From the models' scores ([`from_scores`], per customer): `pd_increase` (the champion's PD up
//! by more than `pd_increase` since the month end before) and `band_drop` (its band
//! `band_drop` or more bands worse), for customers not in default at either month end.
//! A promise or payment plan broken needs the collections input (not read yet).

use std::borrow::Cow;

use polars::prelude::DataFrame;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Context;
use super::cash_forecast::Lateness;
use super::frame::{date, float_opt, frame, money_opt, text};
use super::walk::{at_rate, walk};
use crate::calendar::{format_day, month_of};
use crate::contracts::{OutType as O, TableContract, out};
use crate::error::{EngineError, Result};
use crate::money::format_cents;

/// `[alerts]` in a pipeline config; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsParams {
    /// Month ends (the latest ones) alerts are raised at. Default 12.
    pub months: Option<u32>,
    /// PD increase since the month end before that raises `pd_increase` (absolute). Default 0.10.
    pub pd_increase: Option<f64>,
    /// Bands worse since the month end before that raise `band_drop`. Default 2.
    pub band_drop: Option<u32>,
    /// Open receivables / credit limit above which `credit_limit` is raised. Default 1.0.
    pub utilisation: Option<f64>,
    /// Days late, recent over history, that raise `payment_pattern`. Default 15.
    pub lateness_increase_days: Option<f64>,
    /// Settled invoices each window needs for `payment_pattern`. Default 3.
    pub lateness_min_invoices: Option<u32>,
    /// Smallest open amount of a new disputed invoice that raises `new_dispute` (reporting
    /// currency). Default 10000.
    pub dispute_min_amount: Option<f64>,
}

/// `[alerts]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Alerts {
    pub months: u32,
    pub pd_increase: f64,
    pub band_drop: u32,
    pub utilisation: f64,
    pub lateness_increase_days: f64,
    pub lateness_min_invoices: u32,
    pub dispute_min_cents: i64,
}

impl Default for Alerts {
    fn default() -> Alerts {
        Alerts {
            months: 12,
            pd_increase: 0.10,
            band_drop: 2,
            utilisation: 1.0,
            lateness_increase_days: 15.0,
            lateness_min_invoices: 3,
            dispute_min_cents: 1_000_000,
        }
    }
}

impl AlertsParams {
    /// Check every field and fill in the defaults.
    pub fn check(&self) -> Result<Alerts> {
        let d = Alerts::default();
        let bad = |key: &str, why: &str| Err(EngineError::config(format!("`alerts.{key}` {why}")));
        let months = self.months.unwrap_or(d.months);
        if !(1..=240).contains(&months) {
            return bad("months", &format!("must be between 1 and 240, but is {months}"));
        }
        let pd_increase = self.pd_increase.unwrap_or(d.pd_increase);
        if !(pd_increase > 0.0 && pd_increase < 1.0) {
            return bad("pd_increase", &format!("must be in (0, 1), but is {pd_increase}"));
        }
        let band_drop = self.band_drop.unwrap_or(d.band_drop);
        if !(1..=4).contains(&band_drop) {
            return bad("band_drop", &format!("must be between 1 and 4 (bands A to E), but is {band_drop}"));
        }
        let utilisation = self.utilisation.unwrap_or(d.utilisation);
        if !(utilisation.is_finite() && utilisation > 0.0) {
            return bad("utilisation", &format!("must be a number above 0, but is {utilisation}"));
        }
        let lateness_increase_days = self.lateness_increase_days.unwrap_or(d.lateness_increase_days);
        if !(lateness_increase_days.is_finite() && lateness_increase_days > 0.0) {
            return bad(
                "lateness_increase_days",
                &format!("must be a number of days above 0, but is {lateness_increase_days}"),
            );
        }
        let lateness_min_invoices = self.lateness_min_invoices.unwrap_or(d.lateness_min_invoices);
        if lateness_min_invoices == 0 {
            return bad("lateness_min_invoices", "must be at least 1");
        }
        let amount = self.dispute_min_amount.unwrap_or(d.dispute_min_cents as f64 / 100.0);
        if !(amount.is_finite() && amount >= 0.0) {
            return bad("dispute_min_amount", &format!("must be an amount ≥ 0, but is {amount}"));
        }
        Ok(Alerts {
            months,
            pd_increase,
            band_drop,
            utilisation,
            lateness_increase_days,
            lateness_min_invoices,
            dispute_min_cents: (amount * 100.0).round() as i64,
        })
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    PdIncrease,
    BandDrop,
    CreditLimit,
    PaymentPattern,
    NewDispute,
    /// A promise to pay (or a plan's instalment) broken in the month (activities input).
    BrokenPromise,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::PdIncrease => "pd_increase",
            Kind::BandDrop => "band_drop",
            Kind::CreditLimit => "credit_limit",
            Kind::PaymentPattern => "payment_pattern",
            Kind::NewDispute => "new_dispute",
            Kind::BrokenPromise => "broken_promise",
        }
    }
}

/// One alert raised at a month end (its `first_seen` is found when the table is built).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub as_of: i32,
    pub customer: String,
    pub segment: String,
    pub kind: Kind,
    /// `high` when the measure is at least twice its threshold, else `medium`.
    pub high: bool,
    /// The measured number (PD increase, bands, utilisation, days late increase, new disputed
    /// amount / its threshold): never money, which is in `amount`.
    pub value: f64,
    pub threshold: f64,
    /// The money behind the alert, in reporting cents: open receivables (`credit_limit`) or the
    /// new disputed invoices' open total (`new_dispute`).
    pub amount: Option<i64>,
    pub evidence: String,
}

/// Whether a measure is far past its threshold: at least twice it.
fn high(value: f64, threshold: f64) -> bool {
    value >= 2.0 * threshold
}

fn amount(cents: i64) -> String {
    format_cents(i128::from(cents))
}

/// The month ends alerts are raised at for a book and parameters, with the month end before the
/// first (so each has the one before it): the latest `alerts.months` of the run's month ends.
pub fn window_ends(
    book: &crate::book::Book,
    apps: &crate::cash::Applications,
    analysis: &crate::analytics::params::Analysis,
) -> Vec<i32> {
    let ctx = Context::new(book, apps, analysis);
    let range = window(&ctx, analysis.alerts.months);
    if range.is_empty() {
        return Vec::new();
    }
    ctx.months[range.start - 1..range.end].to_vec()
}

/// The month ends alerts are raised at: the latest `months` (indices into `ctx.months`).
fn window(ctx: &Context<'_>, months: u32) -> std::ops::Range<usize> {
    let n = ctx.months.len();
    n.saturating_sub(months as usize).max(1)..n
}

/// The ledger's alerts of every customer of the book at the window's month ends.
pub fn from_ledger(ctx: &Context<'_>) -> Result<Vec<Alert>> {
    let a = &ctx.analysis.alerts;
    let months = window(ctx, a.months);
    if months.is_empty() {
        return Ok(Vec::new());
    }
    let book = ctx.book;
    let docs = &book.docs;
    let segment_of = |c: usize| book.customers.segment(c as u32).to_string();
    let per_customer = (0..book.customers.len())
        .into_par_iter()
        .map(|c| -> Result<Vec<Alert>> {
            let id = book.customers.ids.get(c);
            let mut out = Vec::new();
            let raise = |as_of, kind, high, value, threshold, amount, evidence: String| Alert {
                as_of,
                customer: id.to_string(),
                segment: segment_of(c),
                kind,
                high,
                value,
                threshold,
                amount,
                evidence,
            };
            // Open receivables at each month end of the window (month-end rate), and the new
            // disputed invoices of each month.
            let mut open = vec![0i64; months.len()];
            let mut disputes: Vec<(usize, i64, &str, i32)> = Vec::new();
            for d in book.customers.docs(c).filter(|&d| docs.kind[d].is_receivable()) {
                let (date, amount) = (docs.date[d], docs.amount[d]);
                let mut err = None;
                walk(ctx.apps, d, date, amount, &ctx.months, |k, s| {
                    let left = amount - s.total();
                    if !months.contains(&k) || left <= 0 || err.is_some() {
                        return;
                    }
                    match ctx.month_rate(k, d) {
                        Ok(rate) => open[k - months.start] += at_rate(left, rate),
                        Err(e) => err = Some(e),
                    }
                    if docs.disputed[d] && date > ctx.months[k - 1] {
                        let cents = at_rate(left, i128::from(docs.rate[d]));
                        if cents >= a.dispute_min_cents {
                            disputes.push((k, cents, docs.id.get(d), date));
                        }
                    }
                });
                if let Some(e) = err {
                    return Err(e);
                }
            }
            let lateness = Lateness::of(ctx, c);
            for k in months.clone() {
                let t = ctx.months[k];
                let o = open[k - months.start];
                if let Some(limit) = book.customers.credit_limit[c].filter(|&l| l > 0) {
                    let u = o as f64 / limit as f64;
                    if u > a.utilisation {
                        let evidence = format!(
                            "open receivables {} against a credit limit of {} ({:.0}%)",
                            amount(o),
                            amount(limit),
                            100.0 * u
                        );
                        out.push(raise(t, Kind::CreditLimit, high(u, a.utilisation), u, a.utilisation, Some(o), evidence));
                    }
                }
                let (recent, before) = (lateness.window(t, 90), lateness.window(t - 90, 365));
                let min = u64::from(a.lateness_min_invoices);
                if let (Some(r), Some(b)) = (recent.filter(|r| r.1 >= min), before.filter(|b| b.1 >= min)) {
                    let rise = r.0 - b.0;
                    if rise > a.lateness_increase_days {
                        let evidence = format!(
                            "paid {:.1} days late on the {} invoices settled in the 90 days to {}, against {:.1} days on {} in the year before",
                            r.0,
                            r.1,
                            format_day(t),
                            b.0,
                            b.1
                        );
                        let is_high = high(rise, a.lateness_increase_days);
                        out.push(raise(t, Kind::PaymentPattern, is_high, rise, a.lateness_increase_days, None, evidence));
                    }
                }
                let new: Vec<&(usize, i64, &str, i32)> = disputes.iter().filter(|x| x.0 == k).collect();
                if let Some(largest) = new.iter().max_by_key(|x| (x.1, std::cmp::Reverse(x.2))) {
                    let total: i64 = new.iter().map(|x| x.1).sum();
                    let evidence = format!(
                        "{} disputed invoice(s) issued in the month, {} open; the largest {} of {}: {} open",
                        new.len(),
                        amount(total),
                        largest.2,
                        format_day(largest.3),
                        amount(largest.1)
                    );
                    // The amount against its threshold (a ratio: money stays in `amount`).
                    let value = total as f64 / a.dispute_min_cents.max(1) as f64;
                    let is_high = total >= 2 * a.dispute_min_cents;
                    out.push(raise(t, Kind::NewDispute, is_high, value, 1.0, Some(total), evidence));
                }
            }
            Ok(out)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(per_customer.into_iter().flatten().collect())
}

/// A customer's score at a month end, as the models stage gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub as_of: i32,
    pub pd: f64,
    /// Band index (0 = A … 4 = E).
    pub band: usize,
    pub in_default: bool,
}

/// Band letters, by index.
const BANDS: [&str; 5] = ["A", "B", "C", "D", "E"];

/// A customer's score alerts from its scores at consecutive month ends (in date order), at the
/// month ends of `window` (the latest `alerts.months` of `months`).
pub fn from_scores(a: &Alerts, months: &[i32], customer: &str, segment: &str, scores: &[Scored]) -> Vec<Alert> {
    let first = months.len().saturating_sub(a.months as usize);
    let in_window = |t: i32| months[first..].contains(&t);
    let mut out = Vec::new();
    for w in scores.windows(2) {
        let (before, now) = (w[0], w[1]);
        // Consecutive month ends only, neither in default.
        let consecutive = month_of(now.as_of) == month_of(before.as_of) + 1;
        if !consecutive || !in_window(now.as_of) || before.in_default || now.in_default {
            continue;
        }
        let raise = |kind, high, value, threshold, evidence| Alert {
            as_of: now.as_of,
            customer: customer.to_string(),
            segment: segment.to_string(),
            kind,
            high,
            value,
            threshold,
            amount: None,
            evidence,
        };
        let rise = now.pd - before.pd;
        if rise > a.pd_increase {
            let evidence = format!(
                "PD {:.3} at {} against {:.3} at {} (+{:.3})",
                now.pd,
                format_day(now.as_of),
                before.pd,
                format_day(before.as_of),
                rise
            );
            out.push(raise(Kind::PdIncrease, high(rise, a.pd_increase), rise, a.pd_increase, evidence));
        }
        let drop = now.band as f64 - before.band as f64;
        if drop >= f64::from(a.band_drop) {
            let name = |b: usize| BANDS.get(b).copied().unwrap_or("?");
            let evidence = format!(
                "band {} at {} against {} at {} ({drop:.0} bands worse)",
                name(now.band),
                format_day(now.as_of),
                name(before.band),
                format_day(before.as_of)
            );
            let threshold = f64::from(a.band_drop);
            out.push(raise(Kind::BandDrop, high(drop, threshold), drop, threshold, evidence));
        }
    }
    out
}

/// `alerts` from every alert raised (in any order): sorted by month end, customer and kind,
/// each with the first month end of its unbroken run (raised at every month end since).
pub fn table(mut alerts: Vec<Alert>) -> Result<DataFrame> {
    alerts.sort_by(|x, y| (x.as_of, &x.customer, x.kind).cmp(&(y.as_of, &y.customer, y.kind)));
    // (customer, kind) → (first month end of the run, the last month end it was raised at).
    let mut runs: std::collections::HashMap<(&str, Kind), (i32, i32)> = Default::default();
    let mut first_seen = Vec::with_capacity(alerts.len());
    for x in &alerts {
        let run = runs.entry((x.customer.as_str(), x.kind)).or_insert((x.as_of, x.as_of));
        let follows = month_of(x.as_of) == month_of(run.1) + 1;
        if !follows {
            run.0 = x.as_of;
        }
        run.1 = x.as_of;
        first_seen.push(run.0);
    }
    frame(
        &ALERTS_TABLE,
        vec![
            date("as_of", alerts.iter().map(|x| x.as_of)),
            text("customer_id", alerts.iter().map(|x| x.customer.as_str())),
            text("segment", alerts.iter().map(|x| x.segment.as_str())),
            text("kind", alerts.iter().map(|x| x.kind.as_str())),
            text("severity", alerts.iter().map(|x| if x.high { "high" } else { "medium" })),
            float_opt("value", alerts.iter().map(|x| Some(x.value))),
            float_opt("threshold", alerts.iter().map(|x| Some(x.threshold))),
            money_opt("amount", alerts.iter().map(|x| x.amount)),
            text("evidence", alerts.iter().map(|x| x.evidence.as_str())),
            date("first_seen", first_seen),
        ],
    )
}

/// `alerts`.
pub static ALERTS_TABLE: TableContract = TableContract {
    name: "alerts",
    doc: "Early warnings per month end and customer (the latest `alerts.months` month ends): what changed, how far past its threshold, the evidence in numbers, and since when",
    partition: None,
    columns: Cow::Borrowed(&[
        out("as_of", O::Date, false, "Month end the alert was raised at"),
        out("customer_id", O::Text, false, "Customer"),
        out("segment", O::Text, false, "The customer's value of the first segment column"),
        out(
            "kind",
            O::Text,
            false,
            "pd_increase, band_drop (from the champion model's scores), credit_limit, payment_pattern, new_dispute (from the ledger), broken_promise (from the activities)",
        ),
        out(
            "severity",
            O::Text,
            false,
            "high when the measure is at least twice its threshold (PD up 0.20, 4 bands, 200% of the limit, 30 days, twice the amount); else medium",
        ),
        out(
            "value",
            O::Float,
            true,
            "The measure: PD increase, bands worse, open / credit limit, days late increase, new disputed amount / alerts.dispute_min_amount",
        ),
        out(
            "threshold",
            O::Float,
            true,
            "The `[alerts]` threshold it passed (1 for new_dispute: the amount threshold itself)",
        ),
        out(
            "amount",
            O::Money,
            true,
            "credit_limit: open receivables; new_dispute: the new disputed invoices' open total (reporting currency); null otherwise",
        ),
        out("evidence", O::Text, false, "What was seen, in numbers"),
        out(
            "first_seen",
            O::Date,
            false,
            "First month end of the unbroken run of month ends at which the customer raised this kind (within the window)",
        ),
    ]),
};

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn scored(as_of: i32, pd: f64, band: usize) -> Scored {
        Scored { as_of, pd, band, in_default: false }
    }

    #[test]
    fn a_pd_jump_and_a_two_band_drop_raise_alerts_and_small_moves_do_not() {
        let a = Alerts::default();
        // Month ends 2025-01-31 … 2025-04-30.
        let months: Vec<i32> = crate::calendar::month_ends(20_089, 20_208);
        let [jan, feb, mar, apr] = months[..] else { panic!("{months:?}") };
        // 0.03 (B) → 0.18 (D): +0.15 and two bands.
        let raised = from_scores(&a, &months, "C1", "smb", &[scored(mar, 0.03, 1), scored(apr, 0.18, 3)]);
        let kinds: Vec<Kind> = raised.iter().map(|x| x.kind).collect();
        assert_eq!(kinds, [Kind::PdIncrease, Kind::BandDrop]);
        assert!((raised[0].value - 0.15).abs() < 1e-12);
        assert!(!raised[0].high, "0.15 is less than twice 0.10");
        assert!(raised[0].evidence.contains("+0.150"), "{}", raised[0].evidence);
        assert_eq!(raised[1].evidence, "band D at 2025-04-30 against B at 2025-03-31 (2 bands worse)");
        // 0.03 → 0.12: +0.09 and one band (B → C): nothing.
        assert!(from_scores(&a, &months, "C2", "smb", &[scored(mar, 0.03, 1), scored(apr, 0.12, 2)]).is_empty());
        // Not consecutive month ends, or in default: nothing.
        assert!(from_scores(&a, &months, "C3", "smb", &[scored(jan, 0.01, 0), scored(apr, 0.5, 4)]).is_empty());
        let mut d = scored(apr, 0.5, 4);
        d.in_default = true;
        assert!(from_scores(&a, &months, "C4", "smb", &[scored(mar, 0.01, 0), d]).is_empty());
        // Outside the window of the latest month end.
        let one = Alerts { months: 1, ..Alerts::default() };
        assert!(from_scores(&one, &months, "C5", "smb", &[scored(feb, 0.01, 0), scored(mar, 0.5, 4)]).is_empty());
    }

    #[test]
    fn first_seen_is_the_start_of_the_unbroken_run() {
        let m: Vec<i32> = crate::calendar::month_ends(20_089, 20_239);
        let alert = |as_of, customer: &str| Alert {
            as_of,
            customer: customer.into(),
            segment: String::new(),
            kind: Kind::CreditLimit,
            high: false,
            value: 1.2,
            threshold: 1.0,
            amount: None,
            evidence: String::new(),
        };
        // C1 in January, February, (not March), April, May: two runs. C2 in March only.
        let all = vec![alert(m[4], "C1"), alert(m[0], "C1"), alert(m[3], "C1"), alert(m[1], "C1"), alert(m[2], "C2")];
        let df = table(all).unwrap();
        let first: Vec<i32> = df.column("first_seen").unwrap().date().unwrap().physical().into_no_null_iter().collect();
        let as_of: Vec<i32> = df.column("as_of").unwrap().date().unwrap().physical().into_no_null_iter().collect();
        assert_eq!(as_of, m[..5]);
        assert_eq!(first, [m[0], m[0], m[2], m[3], m[3]]);
    }

    #[test]
    fn thresholds_are_checked() {
        assert!(AlertsParams { pd_increase: Some(1.5), ..Default::default() }.check().is_err());
        assert!(AlertsParams { band_drop: Some(0), ..Default::default() }.check().is_err());
        assert!(AlertsParams { utilisation: Some(-1.0), ..Default::default() }.check().is_err());
        assert_eq!(
            AlertsParams { dispute_min_amount: Some(2500.5), ..Default::default() }.check().unwrap().dispute_min_cents,
            250_050
        );
    }
}
