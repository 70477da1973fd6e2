//! Day arithmetic on epoch days (days since 1970-01-01, polars' `Date`).

use chrono::{Datelike, Months, NaiveDate};

pub use ardent_engine::calendar::{epoch_days as day, from_epoch_days as date};

/// Month of year (1–12) of a day.
pub fn month_of_year(d: i32) -> u32 {
    date(d).month()
}

/// First days of `months` consecutive months ending with the month of `end`, plus the day
/// after that month.
pub fn month_starts(end: NaiveDate, months: u32) -> Vec<i32> {
    let last_first = end.with_day(1).unwrap_or(end);
    let first = last_first - Months::new(months - 1);
    (0..=months).map(|k| day(first + Months::new(k))).collect()
}

/// Pre-formatted `YYYY-MM-DD` strings for a range of days (formatting dates is the hot loop
/// of CSV writing).
#[derive(Debug)]
pub struct DateText {
    base: i32,
    text: Vec<[u8; 10]>,
}

impl DateText {
    /// Cover `from..=to`.
    pub fn new(from: i32, to: i32) -> Self {
        let text = (from..=to)
            .map(|d| {
                let s = date(d).format("%Y-%m-%d").to_string();
                let mut b = [b'0'; 10];
                b.copy_from_slice(&s.as_bytes()[..10]);
                b
            })
            .collect();
        DateText { base: from, text }
    }

    /// The text of a day.
    pub fn get(&self, d: i32) -> &str {
        match usize::try_from(d - self.base).ok().and_then(|i| self.text.get(i)) {
            Some(b) => std::str::from_utf8(b).unwrap_or("1970-01-01"),
            None => "1970-01-01",
        }
    }
}
