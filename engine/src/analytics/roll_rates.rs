//! `roll_rates`: where the open amount in each aging bucket at one month end went by the
//! next — another bucket (a roll forward, or a cure back to current), paid, credited or
//! written off. Amounts use each invoice's document-date rate and are split so that the
//! rows of a `from_bucket` add up exactly to what it held.

use std::borrow::Cow;

use polars::prelude::DataFrame;

use super::Context;
use super::frame::{date, float_opt, frame, money, ratio, text};
use super::kpi::Monthly;
use crate::contracts::{OutType as O, TableContract, out};
use crate::error::Result;

/// `roll_rates`.
pub static ROLL_RATES_TABLE: TableContract = TableContract {
    name: "roll_rates",
    doc: "Month-to-month transitions of open amount between aging buckets, per segment (rows with a zero amount are left out)",
    partition: None,
    columns: Cow::Borrowed(&[
        out("month", O::Date, false, "Month end of the transition (from the previous month end to this one)"),
        out("dimension", O::Text, false, "all, or the customers column the segment comes from"),
        out("segment", O::Text, false, "ALL, or the segment value"),
        out("from_bucket", O::Text, false, "Aging bucket at the previous month end"),
        out("to_bucket", O::Text, false, "Aging bucket at this month end, or paid, credited, written_off"),
        out("amount", O::Money, false, "Amount that moved (reporting currency, document-date rate)"),
        out("rate", O::Float, false, "amount / everything in from_bucket at the previous month end"),
    ]),
};

/// Build the `roll_rates` frame.
pub fn table(ctx: &Context<'_>, m: &Monthly) -> Result<DataFrame> {
    let names = &ctx.analysis.buckets.names;
    let nb = m.buckets;
    let to_name = |to: usize| -> &str {
        match to.checked_sub(nb) {
            None => names[to].as_str(),
            Some(0) => "paid",
            Some(1) => "credited",
            Some(_) => "written_off",
        }
    };
    let mut rows: Vec<(usize, usize, usize, usize, i128, f64)> = Vec::new();
    for k in 1..m.k_count {
        for g in 0..m.groups {
            for from in 0..nb {
                let total: i128 = (0..nb + 3).map(|to| m.roll(k, g, from, to)).sum();
                for to in 0..nb + 3 {
                    let amount = m.roll(k, g, from, to);
                    if amount != 0 {
                        rows.push((k, g, from, to, amount, ratio(amount, total).unwrap_or(0.0)));
                    }
                }
            }
        }
    }
    let labels = &ctx.groups.labels;
    frame(
        &ROLL_RATES_TABLE,
        vec![
            date("month", rows.iter().map(|r| ctx.months[r.0])),
            text("dimension", rows.iter().map(|r| labels[r.1].0.as_str())),
            text("segment", rows.iter().map(|r| labels[r.1].1.as_str())),
            text("from_bucket", rows.iter().map(|r| names[r.2].as_str())),
            text("to_bucket", rows.iter().map(|r| to_name(r.3))),
            money("amount", rows.iter().map(|r| r.4 as i64)),
            float_opt("rate", rows.iter().map(|r| Some(r.5))),
        ],
    )
}
