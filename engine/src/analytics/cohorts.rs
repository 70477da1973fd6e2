//! `cohorts`: billing vintages. For the invoices billed in month `c`, at each age `a`
//! (the month end `a` months later): the share of the billed amount paid, credited,
//! written off, still open and open at 61+ days past due; and the at-risk rate, the share
//! still unpaid 90 days after billing. Amounts use each invoice's document-date rate, so
//! FX moves do not change the shares.

use std::borrow::Cow;

use polars::prelude::DataFrame;

use super::Context;
use super::frame::{count, date, float_opt, frame, money, ratio, text};
use super::kpi::{C_BILLED, C_CREDITED, C_INVOICES, C_OPEN_61, C_OPEN_AT_90, C_PAID, C_WRITTEN_OFF, Monthly};
use crate::calendar::{month_of, month_start};
use crate::contracts::{OutType as O, TableContract, out};
use crate::error::Result;

/// `cohorts`.
pub static COHORTS_TABLE: TableContract = TableContract {
    name: "cohorts",
    doc: "Invoice vintages by billing month and age in months, per segment; money in the reporting currency at document-date rates",
    partition: None,
    columns: Cow::Borrowed(&[
        out("cohort_month", O::Date, false, "First day of the billing month"),
        out("age_months", O::Count, false, "Months since the billing month (0 = its own month end)"),
        out("as_of", O::Date, false, "Month end at which the cohort is measured"),
        out("dimension", O::Text, false, "all, or the customers column the segment comes from"),
        out("segment", O::Text, false, "ALL, or the segment value"),
        out("invoices", O::Count, false, "Invoices billed in the month"),
        out("billed", O::Money, false, "Amount billed"),
        out("paid", O::Money, false, "Paid by payments up to as_of"),
        out("credited", O::Money, false, "Reduced by credit memos up to as_of"),
        out("written_off", O::Money, false, "Written off up to as_of"),
        out("open", O::Money, false, "Still open at as_of"),
        out("open_61_plus", O::Money, false, "Open at as_of and at least 61 days past due"),
        out("paid_share", O::Float, true, "paid / billed"),
        out("open_share", O::Float, true, "open / billed"),
        out("dpd61_share", O::Float, true, "open_61_plus / billed"),
        out("written_off_share", O::Float, true, "written_off / billed"),
        out(
            "at_risk_rate",
            O::Float,
            true,
            "Share of billed still open 90 days after each invoice's date (null until the whole cohort is 90 days old)",
        ),
    ]),
};

/// Build the `cohorts` frame.
pub fn table(ctx: &Context<'_>, m: &Monthly) -> Result<DataFrame> {
    struct Row {
        c: usize,
        a: usize,
        g: usize,
        v: [i128; 7],
        at_risk: Option<f64>,
    }
    let mut rows = Vec::new();
    for c in 1..m.k_count {
        // Mature when the cohort's last day is 90 days in the past.
        let mature = ctx.months[c] + 90 <= ctx.last_day;
        for g in 0..m.groups {
            if m.cohort(c, 0, g, C_INVOICES) == 0 {
                continue;
            }
            let billed = m.cohort(c, 0, g, C_BILLED);
            let at_risk = if mature { ratio(m.cohort(c, 0, g, C_OPEN_AT_90), billed) } else { None };
            for a in 0..m.k_count - c {
                let mut v = [0i128; 7];
                v[0] = m.cohort(c, 0, g, C_INVOICES);
                v[1] = billed;
                v[2] = m.cohort(c, a, g, C_PAID);
                v[3] = m.cohort(c, a, g, C_CREDITED);
                v[4] = m.cohort(c, a, g, C_WRITTEN_OFF);
                v[5] = billed - v[2] - v[3] - v[4];
                v[6] = m.cohort(c, a, g, C_OPEN_61);
                rows.push(Row { c, a, g, v, at_risk });
            }
        }
    }
    let labels = &ctx.groups.labels;
    let share = |i: usize| float_opt("", rows.iter().map(move |r| ratio(r.v[i], r.v[1])));
    frame(
        &COHORTS_TABLE,
        vec![
            date("cohort_month", rows.iter().map(|r| month_start(month_of(ctx.months[r.c])))),
            count("age_months", rows.iter().map(|r| r.a as u64)),
            date("as_of", rows.iter().map(|r| ctx.months[r.c + r.a])),
            text("dimension", rows.iter().map(|r| labels[r.g].0.as_str())),
            text("segment", rows.iter().map(|r| labels[r.g].1.as_str())),
            count("invoices", rows.iter().map(|r| r.v[0] as u64)),
            money("billed", rows.iter().map(|r| r.v[1] as i64)),
            money("paid", rows.iter().map(|r| r.v[2] as i64)),
            money("credited", rows.iter().map(|r| r.v[3] as i64)),
            money("written_off", rows.iter().map(|r| r.v[4] as i64)),
            money("open", rows.iter().map(|r| r.v[5] as i64)),
            money("open_61_plus", rows.iter().map(|r| r.v[6] as i64)),
            share(2).with_name("paid_share".into()),
            share(5).with_name("open_share".into()),
            share(6).with_name("dpd61_share".into()),
            share(4).with_name("written_off_share".into()),
            float_opt("at_risk_rate", rows.iter().map(|r| r.at_risk)),
        ],
    )
}
