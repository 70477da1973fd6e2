//! What every table builder reads: the book, the cash applications and the run's settings,
//! the dashboard groups (the portfolio and every segment value), the as-of dates and month
//! ends, and the rates that revalue open amounts at each of them.

use super::params;
use crate::book::Book;
use crate::calendar::{self, format_day, month_end, month_of, month_start};
use crate::cash::Applications;
use crate::error::{EngineError, Result};

use super::Analysis;

/// Dashboard groups: the whole portfolio (`all` / `ALL`), then every value of every
/// segment column.
#[derive(Debug, Clone)]
pub struct Groups {
    /// (dimension, segment) per group.
    pub labels: Vec<(String, String)>,
    offsets: Vec<usize>,
}

impl Groups {
    fn new(book: &Book) -> Groups {
        let mut labels = vec![("all".to_string(), "ALL".to_string())];
        let mut offsets = Vec::new();
        for dim in &book.customers.dims {
            offsets.push(labels.len());
            labels.extend(dim.values.iter().map(|v| (dim.column.clone(), v.clone())));
        }
        Groups { labels, offsets }
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Never empty (the portfolio is a group).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The groups of the first segment column, if any: every customer is in exactly one of
    /// them, so they add up to the portfolio.
    pub fn first_dimension(&self) -> Option<std::ops::Range<usize>> {
        let start = *self.offsets.first()?;
        Some(start..self.offsets.get(1).copied().unwrap_or(self.labels.len()))
    }

    /// The groups customer `c` belongs to (always starting with the portfolio).
    pub fn of(&self, book: &Book, c: usize) -> Vec<usize> {
        let mut out = vec![0];
        for (dim, &off) in book.customers.dims.iter().zip(&self.offsets) {
            out.push(off + dim.of_customer[c] as usize);
        }
        out
    }
}

/// What every table builder reads.
#[derive(Debug)]
pub struct Context<'a> {
    pub book: &'a Book,
    pub apps: &'a Applications,
    pub analysis: &'a Analysis,
    pub groups: Groups,
    /// Aging snapshot dates.
    pub as_of: Vec<i32>,
    /// Month ends for the monthly tables, preceded by the day before the first month
    /// (index 0, the opening balance).
    pub months: Vec<i32>,
    /// `rates[k][currency]`: revaluation rate at `as_of[k]`.
    as_of_rates: Vec<Vec<Option<i128>>>,
    month_rates: Vec<Vec<Option<i128>>>,
    /// Last event date considered.
    pub last_day: i32,
}

impl Context<'_> {
    fn rate_at(&self, table: &[Vec<Option<i128>>], dates: &[i32], k: usize, currency: u16) -> Result<i128> {
        table[k][currency as usize].ok_or_else(|| EngineError::Analysis {
            message: format!(
                "no FX rate for {} within {} days before the as-of date {}, so open amounts cannot be revalued. Add rates to fx_rates, or set `analytics.revaluation = \"document\"`",
                self.book.currencies[currency as usize],
                self.book.fx.max_age_days(),
                format_day(dates[k])
            ),
        })
    }

    /// Rate that converts an open amount of document `d` at aging date `k`.
    pub fn as_of_rate(&self, k: usize, d: usize) -> Result<i128> {
        match self.analysis.revaluation {
            params::Revaluation::Document => Ok(i128::from(self.book.docs.rate[d])),
            params::Revaluation::AsOf => self.rate_at(&self.as_of_rates, &self.as_of, k, self.book.docs.currency[d]),
        }
    }

    /// Rate that converts an open amount of document `d` at month date `k`.
    pub fn month_rate(&self, k: usize, d: usize) -> Result<i128> {
        match self.analysis.revaluation {
            params::Revaluation::Document => Ok(i128::from(self.book.docs.rate[d])),
            params::Revaluation::AsOf => self.rate_at(&self.month_rates, &self.months, k, self.book.docs.currency[d]),
        }
    }

    /// Rate for an unapplied amount in `currency` (own rate `own` under document revaluation).
    pub fn unapplied_rate(&self, k: usize, currency: u16, own: i64) -> Result<i128> {
        match self.analysis.revaluation {
            params::Revaluation::Document => Ok(i128::from(own)),
            params::Revaluation::AsOf => self.rate_at(&self.as_of_rates, &self.as_of, k, currency),
        }
    }

    /// Index of the monthly date that `day` falls in (the month end on or after it).
    pub fn month_index(&self, day: i32) -> Option<usize> {
        let k = self.months.partition_point(|&t| t < day);
        (k >= 1 && k < self.months.len()).then_some(k)
    }

    /// Age of open document `d` at `t` on the aging basis.
    pub fn age(&self, d: usize, t: i32) -> i32 {
        match self.analysis.buckets.basis {
            params::AgingBasis::DueDate => t - self.book.docs.due[d].unwrap_or(self.book.docs.date[d]),
            params::AgingBasis::DocDate => t - self.book.docs.date[d],
        }
    }
}

fn rates(book: &Book, dates: &[i32]) -> Vec<Vec<Option<i128>>> {
    dates.iter().map(|&t| book.currencies.iter().map(|c| book.fx.rate(c, t)).collect()).collect()
}

impl<'a> Context<'a> {
    /// The as-of dates and rates of a run over `book` with `analysis`.
    pub fn new(book: &'a Book, apps: &'a Applications, analysis: &'a Analysis) -> Context<'a> {
        let (first, last) = book.date_range().unwrap_or((0, -1));
        let first = analysis.from.map_or(first, |f| f.max(first));
        // An explicit `to` may lie after the last event: an export taken on the 7th holds
        // the month-end before it even when nothing was posted on its last days.
        let last = analysis.to.unwrap_or(last);
        let as_of = calendar::as_of_dates(&analysis.schedule, first, last);
        let mut months = Vec::new();
        if last >= first {
            let ends = calendar::month_ends(first, last);
            if !ends.is_empty() {
                months.push(month_start(month_of(first)) - 1);
                months.extend(ends);
            }
        }
        debug_assert!(months.iter().skip(1).all(|&t| t == month_end(month_of(t))));
        Context {
            book,
            apps,
            analysis,
            groups: Groups::new(book),
            as_of_rates: rates(book, &as_of),
            month_rates: rates(book, &months),
            as_of,
            months,
            last_day: last,
        }
    }
}
