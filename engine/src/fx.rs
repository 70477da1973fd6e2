//! Exchange rates: which rate converts an amount in currency `c` on date `d` to the reporting
//! currency. [`FxTable`] is built from the validated `fx_rates` input; a rate holds from its
//! date until the next rate of the currency, for at most `max_rate_age_days` (so weekend and
//! holiday gaps of a business-day table are covered, but a stale table is not silently used).

use foldhash::HashMap;

use crate::contracts::RATE_SCALE;
use crate::ingest::parse::convert_half_even;

/// The rate 1.0 in fixed point.
pub const RATE_ONE: i128 = 10i128.pow(RATE_SCALE as u32);

/// Rates per currency, sorted by date.
#[derive(Debug, Clone)]
pub struct FxTable {
    reporting: String,
    max_age_days: i32,
    rates: HashMap<String, Vec<(i32, i128)>>,
}

impl FxTable {
    /// An empty table: only the reporting currency converts.
    pub fn new(reporting: impl Into<String>, max_age_days: u16) -> Self {
        FxTable { reporting: reporting.into(), max_age_days: i32::from(max_age_days), rates: HashMap::default() }
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

    /// Sort the rates; call once after the last insert.
    pub fn seal(&mut self) {
        for v in self.rates.values_mut() {
            v.sort_unstable();
        }
    }

    /// The rates of one currency, for converting many amounts without looking it up again.
    pub fn series(&self, currency: &str) -> Option<FxSeries<'_>> {
        if currency == self.reporting {
            return Some(FxSeries { points: None, max_age_days: self.max_age_days });
        }
        self.rates.get(currency).map(|p| FxSeries { points: Some(p), max_age_days: self.max_age_days })
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
    /// `None` for the reporting currency.
    points: Option<&'a [(i32, i128)]>,
    max_age_days: i32,
}

impl FxSeries<'_> {
    /// The rate on `date`, if one is recent enough.
    pub fn rate(&self, date: i32) -> Option<i128> {
        let Some(points) = self.points else { return Some(RATE_ONE) };
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
}
