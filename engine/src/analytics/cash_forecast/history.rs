//! What the payment history says at any date, point in time: each customer's lateness (from
//! the invoices it settled) and the weekly payment hazards of open invoices, counted once over
//! the whole history on a grid of weekly observation dates so that any forecast date can add
//! up the weeks that ended by it.

use rayon::prelude::*;

use super::{CELLS, cell, class_of};
use crate::analytics::Context;
use crate::cash::SourceKind;

/// Days of settlements a customer's lateness class is read from.
pub(super) const CLASS_DAYS: i32 = 60;
/// Days of settlements the naive "customer's average lateness" baseline reads.
pub(super) const BASELINE_DAYS: i32 = 365;

/// A customer's settled invoices in date order, as prefix sums: enough to read its
/// amount-weighted days late over any window of settlement dates.
#[derive(Debug, Clone, Default)]
pub struct Lateness {
    dates: Vec<i32>,
    /// Σ weight and Σ weight × days late of the first `i` settlements (`len + 1` entries).
    weight: Vec<i128>,
    weighted_late: Vec<i128>,
}

impl Lateness {
    /// Every customer's.
    pub(super) fn all(ctx: &Context<'_>) -> Vec<Lateness> {
        (0..ctx.book.customers.len()).into_par_iter().map(|c| Lateness::of(ctx, c)).collect()
    }

    /// Customer `c`'s invoices closed by payment (not written off): the date the last of the
    /// invoice was applied, its days late (that date − due date) and its amount in reporting
    /// cents at the document's rate as the weight.
    pub fn of(ctx: &Context<'_>, c: usize) -> Lateness {
        let docs = &ctx.book.docs;
        let mut closed: Vec<(i32, i32, i64)> = Vec::new();
        for d in ctx.book.customers.docs(c).filter(|&d| docs.kind[d].is_receivable()) {
            let due = docs.due[d].unwrap_or(docs.date[d]);
            if let Some((date, false)) = crate::analytics::walk::closing(ctx.apps, d, docs.amount[d]) {
                closed.push((date, date - due, docs.amount_reporting[d]));
            }
        }
        closed.sort_unstable();
        let mut l = Lateness {
            dates: Vec::with_capacity(closed.len()),
            weight: Vec::with_capacity(closed.len() + 1),
            weighted_late: Vec::with_capacity(closed.len() + 1),
        };
        let (mut w, mut wl) = (0i128, 0i128);
        l.weight.push(0);
        l.weighted_late.push(0);
        for (date, late, amount) in closed {
            w += i128::from(amount);
            wl += i128::from(amount) * i128::from(late);
            l.dates.push(date);
            l.weight.push(w);
            l.weighted_late.push(wl);
        }
        l
    }

    /// (Σ weight, Σ weight × days late) of the settlements dated in `(t − days, t]`.
    pub(super) fn sums(&self, t: i32, days: i32) -> (i128, i128) {
        let lo = self.dates.partition_point(|&d| d <= t - days);
        let hi = self.dates.partition_point(|&d| d <= t);
        (self.weight[hi] - self.weight[lo], self.weighted_late[hi] - self.weighted_late[lo])
    }

    /// [`Lateness::sums`] at each of `dates` (ascending), in one walk over the settlements.
    pub(super) fn sums_at<'a>(&'a self, dates: &'a [i32], days: i32) -> impl Iterator<Item = (i128, i128)> + 'a {
        let (mut lo, mut hi) = (0, 0);
        dates.iter().map(move |&t| {
            while lo < self.dates.len() && self.dates[lo] <= t - days {
                lo += 1;
            }
            while hi < self.dates.len() && self.dates[hi] <= t {
                hi += 1;
            }
            (self.weight[hi] - self.weight[lo], self.weighted_late[hi] - self.weighted_late[lo])
        })
    }

    /// [`Lateness::class`] at each of `dates` (ascending).
    pub(super) fn classes_at(&self, dates: &[i32]) -> Vec<usize> {
        let first = self.dates.first().copied();
        self.sums_at(dates, CLASS_DAYS)
            .zip(dates)
            .map(|((w, wl), &t)| class_of((w > 0).then(|| wl as f64 / w as f64), first.is_some_and(|d| d <= t)))
            .collect()
    }

    /// Amount-weighted days late of the settlements in `(t − days, t]` and how many there
    /// were, if any.
    pub fn window(&self, t: i32, days: i32) -> Option<(f64, u64)> {
        let lo = self.dates.partition_point(|&d| d <= t - days);
        let hi = self.dates.partition_point(|&d| d <= t);
        self.mean(t, days).map(|m| (m, (hi - lo) as u64))
    }

    /// Amount-weighted days late of the settlements in `(t − days, t]`, if any.
    pub(super) fn mean(&self, t: i32, days: i32) -> Option<f64> {
        let (w, wl) = self.sums(t, days);
        (w > 0).then(|| wl as f64 / w as f64)
    }
}

/// [`Standing`]'s days late of a customer with no settlement in the window.
const NO_LATENESS: i16 = i16::MIN;

/// Where every customer and document stands at each forecast date, read once for all dates
/// (the forecasts are made at many dates over the same customers).
pub(super) struct Standing {
    /// The forecast dates, ascending.
    dates: Vec<i32>,
    /// Lateness class of customer `c` at date `i`: `[c * dates + i]`.
    class: Vec<u8>,
    /// The customer's amount-weighted days late over the [`BASELINE_DAYS`] to the date,
    /// rounded to a day and held within ±32,767 (90 years either way falls outside any
    /// horizon just the same); [`NO_LATENESS`]: no settlement in them. Two bytes, for the
    /// largest books' sake.
    late: Vec<i16>,
    /// Per document, the day from which it is surely settled: from it on, the applications
    /// dated on or before a day always add up to the document's amount (`i32::MAX`: never;
    /// `i32::MIN` for documents that are not receivables). A forecast at `t` skips the
    /// documents with this day on or before `t` without walking their applications; the
    /// others are checked exactly.
    pub settled_from: Vec<i32>,
}

impl Standing {
    pub(super) fn of(ctx: &Context<'_>, lateness: &[Lateness], dates: Vec<i32>) -> Standing {
        let n = dates.len();
        let customers = ctx.book.customers.len();
        let (mut class, mut late) = (vec![0u8; customers * n], vec![NO_LATENESS; customers * n]);
        class.par_chunks_mut(n.max(1)).zip(late.par_chunks_mut(n.max(1))).enumerate().for_each(|(c, (class, late))| {
            for (x, k) in class.iter_mut().zip(lateness[c].classes_at(&dates)) {
                *x = k as u8;
            }
            for (x, (w, wl)) in late.iter_mut().zip(lateness[c].sums_at(&dates, BASELINE_DAYS)) {
                if w > 0 {
                    *x = (wl as f64 / w as f64).round().clamp(-f64::from(i16::MAX), f64::from(i16::MAX)) as i16;
                }
            }
        });
        let docs = &ctx.book.docs;
        let settled_from = (0..docs.kind.len())
            .into_par_iter()
            .with_min_len(4096)
            .map(|d| {
                if !docs.kind[d].is_receivable() {
                    return i32::MIN;
                }
                let (mut applied, mut from) = (0i64, i32::MAX);
                for a in ctx.apps.of_invoice(d) {
                    applied += a.amount;
                    if applied < docs.amount[d] {
                        from = i32::MAX;
                    } else if from == i32::MAX {
                        from = a.date;
                    }
                }
                from
            })
            .collect();
        Standing { dates, class, late, settled_from }
    }

    /// Customer `c`'s lateness class and rounded days late (see the fields) at forecast date
    /// `t`, which must be one of the dates.
    pub(super) fn at(&self, c: usize, t: i32) -> (usize, Option<i32>) {
        let i = self.dates.binary_search(&t).expect("a forecast date");
        let j = c * self.dates.len() + i;
        (usize::from(self.class[j]), (self.late[j] != NO_LATENESS).then(|| i32::from(self.late[j])))
    }
}

/// Weekly observation dates: every month end and the three weeks after it, each with its
/// whole week in the data.
pub(super) fn grid(ctx: &Context<'_>) -> Vec<i32> {
    let mut starts = Vec::new();
    for &m in ctx.months.iter().skip(1) {
        for j in 0..4 {
            let s = m + 7 * j;
            if s + 7 <= ctx.last_day {
                starts.push(s);
            }
        }
    }
    starts
}

/// What was seen in one cell over one observed week: the open amount at its start, what of
/// it was paid in the week and what left otherwise (credited, written off), reporting cents
/// at the document's rate; and how many invoices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Seen {
    pub open: i64,
    pub paid: i64,
    pub other: i64,
    pub invoices: i64,
}

impl std::ops::AddAssign for Seen {
    fn add_assign(&mut self, o: Seen) {
        self.open += o.open;
        self.paid += o.paid;
        self.other += o.other;
        self.invoices += o.invoices;
    }
}

/// Every observed week of every open invoice, summed per (grid date, cell):
/// `seen[g * CELLS + cell]`. Integer sums, so parts of the customers add up exactly.
pub(super) fn observe(ctx: &Context<'_>, grid: &[i32], lateness: &[Lateness]) -> Vec<Seen> {
    let docs = &ctx.book.docs;
    (0..ctx.book.customers.len())
        .into_par_iter()
        .fold(
            || vec![Seen::default(); grid.len() * CELLS],
            |mut seen, c| {
                let classes = lateness[c].classes_at(grid);
                for d in ctx.book.customers.docs(c).filter(|&d| docs.kind[d].is_receivable()) {
                    let (amount, date) = (docs.amount[d], docs.date[d]);
                    let due = docs.due[d].unwrap_or(date);
                    let rate = i128::from(docs.rate[d]);
                    let apps: Vec<_> = ctx.apps.of_invoice(d).collect();
                    let (mut i, mut applied) = (0, 0i64);
                    for (g, &s) in grid.iter().enumerate().skip(grid.partition_point(|&s| s < date)) {
                        while i < apps.len() && apps[i].date <= s {
                            applied += apps[i].amount;
                            i += 1;
                        }
                        let open = amount - applied;
                        if open <= 0 {
                            break;
                        }
                        let (mut paid, mut other) = (0i64, 0i64);
                        for a in apps[i..].iter().take_while(|a| a.date <= s + 7) {
                            match a.kind {
                                SourceKind::Payment => paid += a.amount,
                                SourceKind::CreditMemo | SourceKind::WriteOff => other += a.amount,
                            }
                        }
                        let (paid, other) = (paid.min(open), other.min(open - paid.min(open)));
                        let r = |x: i64| crate::analytics::walk::at_rate(x, rate);
                        seen[g * CELLS + cell(classes[g], docs.disputed[d], s, due)] +=
                            Seen { open: r(open), paid: r(paid), other: r(other), invoices: 1 };
                    }
                }
                seen
            },
        )
        .reduce(
            || vec![Seen::default(); grid.len() * CELLS],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
                a
            },
        )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_walk_over_the_settlements_gives_every_dates_window() {
        // Settled on days 10, 10, 40, 100 and 101, 20, −5, 0, 30 and 3 days late, 100.00 each.
        let closed = [(10, 20), (10, -5), (40, 0), (100, 30), (101, 3)];
        let mut l = Lateness { dates: vec![], weight: vec![0], weighted_late: vec![0] };
        for (date, late) in closed {
            l.dates.push(date);
            l.weight.push(l.weight.last().unwrap() + 10_000);
            l.weighted_late.push(l.weighted_late.last().unwrap() + 10_000 * late);
        }
        let dates: Vec<i32> = (-5..200).step_by(3).collect();
        for days in [1, 60, 365] {
            let walked: Vec<(i128, i128)> = l.sums_at(&dates, days).collect();
            let searched: Vec<(i128, i128)> = dates.iter().map(|&t| l.sums(t, days)).collect();
            assert_eq!(walked, searched, "window of {days} days");
        }
        // By hand: at day 70 the 60-day window holds day 40 only (0 days late); at day 101 it
        // holds 40, 100 and 101: (0 + 30 + 3) / 3 = 11 days late, class "≤ 20".
        assert_eq!(l.sums(70, 60), (10_000, 0));
        let classes = l.classes_at(&[5, 9, 10, 70, 101, 200]);
        assert_eq!(classes, vec![0, 0, class_of(Some(7.5), true), 2, class_of(Some(11.0), true), 1]);
    }
}
