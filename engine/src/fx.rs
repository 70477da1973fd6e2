//! Exchange rates: which rate converts an amount in currency `c` on date `d` to the reporting
//! currency. [`FxTable`] is built from the validated `fx_rates` input; a rate holds from its
//! date until the next rate of the currency, for at most `max_rate_age_days` (so weekend and
//! holiday gaps of a business-day table are covered, but a stale table is not silently used).

use foldhash::HashMap;

use crate::contracts::RATE_SCALE;
use crate::money::convert_half_even;

/// The rate 1.0 in fixed point.
pub const RATE_ONE: i128 = 10i128.pow(RATE_SCALE as u32);

/// Rates per currency, sorted by date.
#[derive(Debug, Clone)]
pub struct FxTable {
    reporting: String,
    max_age_days: i32,
    rates: HashMap<String, Vec<(i32, i128)>>,
    /// After [`FxTable::seal`]: per currency, which rate applies on each day from its first
    /// rate to `max_age_days` after its last, so a lookup is an index (ingest converts every
    /// amount; a binary search per amount was 7% of `m` ingest's CPU).
    daily: HashMap<String, Daily>,
}

/// Which rate applies on each day of a range: an index into the currency's sorted points.
#[derive(Debug, Clone, Default)]
struct Daily {
    first: i32,
    /// `NONE` where no rate is recent enough.
    index: Vec<u32>,
}

impl Daily {
    const NONE: u32 = u32::MAX;
    /// Days laid out at most (4 MB); a table spanning more is searched instead.
    const MAX_DAYS: i64 = 1 << 20;

    /// Every day's rate from sorted points: a rate holds until the next one, for at most
    /// `max_age_days`. 4 bytes a day: 4.4 kB for three years of one currency.
    fn new(points: &[(i32, i128)], max_age_days: i32) -> Option<Daily> {
        let (&(first, _), &(last, _)) = (points.first()?, points.last()?);
        let days = i64::from(last) - i64::from(first) + i64::from(max_age_days) + 1;
        if days > Self::MAX_DAYS || points.len() >= Self::NONE as usize {
            return None;
        }
        let mut index = vec![Self::NONE; days as usize];
        for (k, &(date, _)) in points.iter().enumerate() {
            let until = points.get(k + 1).map_or(date + max_age_days, |&(next, _)| (next - 1).min(date + max_age_days));
            for day in date..=until {
                index[(day - first) as usize] = k as u32;
            }
        }
        Some(Daily { first, index })
    }

    fn point(&self, date: i32) -> Option<usize> {
        let day = usize::try_from(i64::from(date) - i64::from(self.first)).ok()?;
        self.index.get(day).copied().filter(|&k| k != Self::NONE).map(|k| k as usize)
    }
}

impl FxTable {
    /// An empty table: only the reporting currency converts.
    pub fn new(reporting: impl Into<String>, max_age_days: u16) -> Self {
        FxTable {
            reporting: reporting.into(),
            max_age_days: i32::from(max_age_days),
            rates: HashMap::default(),
            daily: HashMap::default(),
        }
    }

    /// How many days a rate stays valid after its date.
    pub fn max_age_days(&self) -> i32 {
        self.max_age_days
    }

    /// The reporting currency.
    pub fn reporting(&self) -> &str {
        &self.reporting
    }

    /// Add a rate (fixed point, [`RATE_SCALE`] decimals) for `currency` on `date` (epoch days).
    pub fn insert(&mut self, currency: &str, date: i32, rate: i128) {
        self.rates.entry(currency.to_string()).or_default().push((date, rate));
    }

    /// Sort the rates and lay them out by day; call once after the last insert.
    pub fn seal(&mut self) {
        for v in self.rates.values_mut() {
            v.sort_unstable();
        }
        self.daily =
            self.rates.iter().filter_map(|(c, p)| Some((c.clone(), Daily::new(p, self.max_age_days)?))).collect();
    }

    /// The rates of one currency, for converting many amounts without looking it up again.
    pub fn series(&self, currency: &str) -> Option<FxSeries<'_>> {
        if currency == self.reporting {
            return Some(FxSeries { points: None, daily: None, max_age_days: self.max_age_days });
        }
        self.rates.get(currency).map(|p| FxSeries {
            points: Some(p),
            daily: self.daily.get(currency),
            max_age_days: self.max_age_days,
        })
    }

    /// The rate that applies to `currency` on `date`, if any.
    pub fn rate(&self, currency: &str, date: i32) -> Option<i128> {
        self.series(currency)?.rate(date)
    }

    /// Convert minor units of `currency` on `date` to reporting minor units (half-even).
    pub fn convert(&self, currency: &str, date: i32, amount: i128) -> Option<(i128, i128)> {
        self.series(currency)?.convert(date, amount)
    }
}

/// The rates of one currency (or the reporting currency itself, rate 1).
#[derive(Debug, Clone, Copy)]
pub struct FxSeries<'a> {
    /// Sorted (date, rate); `None` for the reporting currency.
    points: Option<&'a [(i32, i128)]>,
    /// The points laid out by day, when the table is sealed and spans few enough days.
    daily: Option<&'a Daily>,
    max_age_days: i32,
}

impl FxSeries<'_> {
    /// The rate on `date`, if one is recent enough.
    pub fn rate(&self, date: i32) -> Option<i128> {
        let Some(points) = self.points else { return Some(RATE_ONE) };
        if let Some(daily) = self.daily {
            return daily.point(date).map(|k| points[k].1);
        }
        let idx = points.partition_point(|(d, _)| *d <= date);
        let (d, r) = *points.get(idx.checked_sub(1)?)?;
        (date - d <= self.max_age_days).then_some(r)
    }

    /// (rate, converted amount) on `date`.
    pub fn convert(&self, date: i32, amount: i128) -> Option<(i128, i128)> {
        let rate = self.rate(date)?;
        Some((rate, convert_half_even(amount, rate, RATE_SCALE as u32)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_holds_until_the_next_one_within_the_age_limit() {
        let mut fx = FxTable::new("USD", 3);
        fx.insert("EUR", 10, 11 * RATE_ONE / 10);
        fx.insert("EUR", 12, 12 * RATE_ONE / 10);
        fx.seal();
        assert_eq!(fx.rate("EUR", 9), None);
        assert_eq!(fx.rate("EUR", 10), Some(11 * RATE_ONE / 10));
        assert_eq!(fx.rate("EUR", 11), Some(11 * RATE_ONE / 10));
        assert_eq!(fx.rate("EUR", 15), Some(12 * RATE_ONE / 10));
        assert_eq!(fx.rate("EUR", 16), None);
        assert_eq!(fx.rate("GBP", 11), None);
        assert_eq!(fx.rate("USD", -5), Some(RATE_ONE));
        assert_eq!(fx.convert("EUR", 12, 1_000), Some((12 * RATE_ONE / 10, 1_200)));
    }

    /// The rule the daily layout must give: the latest rate on or before the date, if it is
    /// at most `max_age` days old.
    fn searched(points: &[(i32, i128)], max_age: i32, date: i32) -> Option<i128> {
        let idx = points.partition_point(|(d, _)| *d <= date);
        let (d, r) = *points.get(idx.checked_sub(1)?)?;
        (date - d <= max_age).then_some(r)
    }

    #[test]
    fn the_daily_layout_gives_the_latest_recent_enough_rate_on_every_day() {
        for max_age in [0u16, 1, 3, 7] {
            let mut fx = FxTable::new("USD", max_age);
            // Gaps shorter and longer than the age limit, and a negative epoch day.
            let dates = [-3, -2, 0, 1, 2, 6, 7, 20, 21, 22, 40];
            let points: Vec<(i32, i128)> = dates.iter().map(|&d| (d, RATE_ONE + i128::from(d + 100))).collect();
            for &(d, r) in points.iter().rev() {
                fx.insert("EUR", d, r);
            }
            fx.seal();
            for date in -10..60 {
                let expected = searched(&points, i32::from(max_age), date);
                assert_eq!(fx.rate("EUR", date), expected, "max age {max_age}, day {date}");
            }
        }
        let empty = FxTable::new("USD", 7);
        assert_eq!(empty.rate("EUR", 0), None);
        // A table spanning more days than are laid out is searched, with the same result.
        let mut wide = FxTable::new("USD", 7);
        let points = [(-400_000, 2 * RATE_ONE), (0, 3 * RATE_ONE), (700_000, 4 * RATE_ONE)];
        for (d, r) in points {
            wide.insert("EUR", d, r);
        }
        wide.seal();
        assert!(wide.daily.is_empty(), "too wide to lay out");
        for date in [-400_001, -400_000, -399_993, -399_992, 0, 7, 8, 700_000, 700_007, 700_008] {
            assert_eq!(wide.rate("EUR", date), searched(&points, 7, date), "day {date}");
        }
    }
}
