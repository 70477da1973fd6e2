//! Calendar arithmetic on epoch days (1970-01-01 = day 0) and months (`year × 12 + month − 1`),
//! and the as-of dates a run reports on.

use chrono::{Datelike, NaiveDate, Weekday};

/// Days between 0001-01-01 (chrono's day 1 of the common era) and 1970-01-01, the epoch of
/// polars' `Date`.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Days since 1970-01-01 of a calendar date (polars' physical `Date`).
pub fn epoch_days(date: NaiveDate) -> i32 {
    use chrono::Datelike;
    date.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

/// The calendar date of a polars `Date` value.
pub fn from_epoch_days(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + EPOCH_DAYS_FROM_CE).unwrap_or(NaiveDate::MIN)
}

/// The day `years` calendar years after `day` (29 February goes to 28 February); limitation
/// periods run in calendar years.
pub fn add_years(day: i32, years: u32) -> i32 {
    use chrono::Datelike;
    let d = from_epoch_days(day);
    let target = d.year() + years as i32;
    d.with_year(target).or_else(|| d.with_day(28).and_then(|x| x.with_year(target))).map_or(i32::MAX, epoch_days)
}

/// The month (`year × 12 + month − 1`) that `day` falls in.
pub fn month_of(day: i32) -> i32 {
    let d = from_epoch_days(day);
    d.year() * 12 + d.month0() as i32
}

/// The first day of `month`.
pub fn month_start(month: i32) -> i32 {
    let (y, m) = (month.div_euclid(12), month.rem_euclid(12) as u32 + 1);
    epoch_days(NaiveDate::from_ymd_opt(y, m, 1).unwrap_or_default())
}

/// The last day of `month`.
pub fn month_end(month: i32) -> i32 {
    month_start(month + 1) - 1
}

/// Calendar days in `month`.
pub fn days_in_month(month: i32) -> i32 {
    month_end(month) - month_start(month) + 1
}

/// Whether `day` is the last day of its month.
pub fn is_month_end(day: i32) -> bool {
    month_of(day + 1) != month_of(day)
}

/// `YYYY-MM-DD`.
pub fn format_day(day: i32) -> String {
    from_epoch_days(day).format("%Y-%m-%d").to_string()
}

/// A `YYYY-MM-DD` date as epoch days, or `None` when it is not one.
pub fn parse_day(s: &str) -> Option<i32> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok().map(epoch_days)
}

/// Which dates snapshots are taken at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Every month end.
    MonthEnd,
    /// Every Sunday.
    WeekEnd,
    /// These dates (sorted, distinct).
    Dates(Vec<i32>),
}

/// The as-of dates of `schedule` in `[first, last]`.
pub fn as_of_dates(schedule: &Schedule, first: i32, last: i32) -> Vec<i32> {
    match schedule {
        Schedule::MonthEnd => month_ends(first, last),
        Schedule::WeekEnd => {
            let first_sunday =
                (first..first + 7).find(|&d| from_epoch_days(d).weekday() == Weekday::Sun).unwrap_or(first);
            (first_sunday..=last).step_by(7).collect()
        }
        Schedule::Dates(dates) => dates.iter().copied().filter(|d| (first..=last).contains(d)).collect(),
    }
}

/// Month ends in `[first, last]`.
pub fn month_ends(first: i32, last: i32) -> Vec<i32> {
    if last < first {
        return Vec::new();
    }
    (month_of(first)..=month_of(last)).map(month_end).filter(|d| (first..=last).contains(d)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> i32 {
        epoch_days(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default())
    }

    #[test]
    fn months_know_their_length_including_leap_february() {
        assert_eq!(days_in_month(month_of(day("2024-02-10"))), 29);
        assert_eq!(days_in_month(month_of(day("2025-02-10"))), 28);
        assert_eq!(month_end(month_of(day("2025-12-03"))), day("2025-12-31"));
        assert!(is_month_end(day("2024-02-29")));
        assert!(!is_month_end(day("2025-02-27")));
    }

    #[test]
    fn schedules_stay_inside_the_data_range() {
        let ends = as_of_dates(&Schedule::MonthEnd, day("2024-01-15"), day("2024-04-30"));
        assert_eq!(ends, vec![day("2024-01-31"), day("2024-02-29"), day("2024-03-31"), day("2024-04-30")]);
        let weeks = as_of_dates(&Schedule::WeekEnd, day("2025-11-01"), day("2025-11-20"));
        assert_eq!(weeks, vec![day("2025-11-02"), day("2025-11-09"), day("2025-11-16")]);
        assert!(month_ends(day("2024-01-02"), day("2024-01-30")).is_empty());
    }
}
