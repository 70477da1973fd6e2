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

    /// The lateness class at `t` (see [`class_of`]).
    pub(super) fn class(&self, t: i32) -> usize {
        class_of(self.mean(t, CLASS_DAYS), self.dates.first().is_some_and(|&d| d <= t))
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
                let classes: Vec<usize> = grid.iter().map(|&s| lateness[c].class(s)).collect();
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
