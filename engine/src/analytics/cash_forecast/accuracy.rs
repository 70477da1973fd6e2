//! `cash_forecast_accuracy`: the backtest's rows added up per group, currency and week ahead,
//! for the model's median and each naive forecast.

use std::collections::BTreeMap;

use polars::prelude::DataFrame;

use super::{CASH_FORECAST_ACCURACY_TABLE, Weekly};
use crate::analytics::frame::{count, float_opt, frame, money, ratio, text};
use crate::error::Result;

const METHODS: [&str; 3] = ["p50", "naive_due_date", "naive_customer_lateness"];

#[derive(Default)]
struct Sums {
    origins: u64,
    actual: i128,
    forecast: [i128; 3],
    abs_error: [i128; 3],
    inside: u64,
}

pub(super) fn table(judged: &[Weekly], labels: &[(String, String)], currencies: &[String]) -> Result<DataFrame> {
    let mut sums: BTreeMap<(usize, usize, usize), Sums> = BTreeMap::new();
    for r in judged {
        let s = sums.entry((r.g, r.currency, r.week)).or_default();
        s.origins += 1;
        s.actual += i128::from(r.actual);
        for (m, f) in [r.p[1], r.naive[0], r.naive[1]].into_iter().enumerate() {
            s.forecast[m] += i128::from(f);
            s.abs_error[m] += i128::from((f - r.actual).abs());
        }
        s.inside += u64::from(r.p[0] <= r.actual && r.actual <= r.p[2]);
    }
    let rows: Vec<(&(usize, usize, usize), &Sums, usize)> =
        sums.iter().flat_map(|(k, s)| (0..METHODS.len()).map(move |m| (k, s, m))).collect();
    frame(
        &CASH_FORECAST_ACCURACY_TABLE,
        vec![
            text("dimension", rows.iter().map(|((g, ..), ..)| labels[*g].0.as_str())),
            text("segment", rows.iter().map(|((g, ..), ..)| labels[*g].1.as_str())),
            text("currency", rows.iter().map(|((_, c, _), ..)| currencies[*c].as_str())),
            count("week", rows.iter().map(|((.., w), ..)| *w as u64 + 1)),
            text("method", rows.iter().map(|(.., m)| METHODS[*m])),
            count("origins", rows.iter().map(|(_, s, _)| s.origins)),
            money("actual", rows.iter().map(|(_, s, _)| s.actual as i64)),
            money("forecast", rows.iter().map(|(_, s, m)| s.forecast[*m] as i64)),
            float_opt("wape", rows.iter().map(|(_, s, m)| ratio(s.abs_error[*m], s.actual))),
            float_opt("bias", rows.iter().map(|(_, s, m)| ratio(s.forecast[*m] - s.actual, s.actual))),
            float_opt("coverage", rows.iter().map(|(_, s, m)| (*m == 0).then(|| s.inside as f64 / s.origins as f64))),
        ],
    )
}
