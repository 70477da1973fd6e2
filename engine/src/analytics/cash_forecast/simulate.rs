//! The forecast at one date: every invoice open at it, its weekly chance of being paid over
//! the next 13 weeks from the hazards, and the weekly totals of many simulated futures, in
//! which each customer pays its invoices together (one draw per customer and future decides
//! all of its invoices: comonotone) and the whole portfolio pays faster or slower together
//! (one shock per future). Also what happened (when the weeks are in the data) and the two
//! naive forecasts. Every total is an integer sum over customers, so parts add up exactly
//! and the result does not depend on the thread count.

use rayon::prelude::*;

use super::hazards::Hazards;
use super::history::{BASELINE_DAYS, Lateness};
use super::{CashForecast, WEEKS, cell};
use crate::analytics::Context;
use crate::analytics::walk::settled_by;
use crate::cash::SourceKind;

/// Weekly totals of one forecast, per (group, currency, week); document currency, cents.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Totals {
    pub groups: usize,
    pub currencies: usize,
    pub paths: usize,
    /// Each simulated future's total: `[slot * paths + path]`, `slot` = [`Totals::slot`].
    pub simulated: Vec<i64>,
    /// Paid in the week on the invoices open at the forecast date (0 past the data's end).
    pub actual: Vec<i64>,
    /// Every open invoice paid on its due date (in week 1 when already past due).
    pub naive_due: Vec<i64>,
    /// Every open invoice paid its customer's average days late after its due date.
    pub naive_lateness: Vec<i64>,
    /// Open at the forecast date, per (group, currency).
    pub open: Vec<i64>,
}

impl Totals {
    fn new(groups: usize, currencies: usize, paths: usize) -> Totals {
        let slots = groups * currencies * WEEKS;
        Totals {
            groups,
            currencies,
            paths,
            simulated: vec![0; slots * paths],
            actual: vec![0; slots],
            naive_due: vec![0; slots],
            naive_lateness: vec![0; slots],
            open: vec![0; groups * currencies],
        }
    }

    /// Index of (group, currency, week).
    pub fn slot(&self, g: usize, currency: usize, week: usize) -> usize {
        (g * self.currencies + currency) * WEEKS + week
    }

    fn add(mut self, o: &Totals) -> Totals {
        self.add_from(o);
        self
    }

    /// Add another part's totals (another chunk of customers, another shard's).
    pub fn add_from(&mut self, o: &Totals) {
        for (a, b) in [
            (&mut self.simulated, &o.simulated),
            (&mut self.actual, &o.actual),
            (&mut self.naive_due, &o.naive_due),
            (&mut self.naive_lateness, &o.naive_lateness),
            (&mut self.open, &o.open),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
    }
}

/// FNV-1a then a splitmix64 finish: a stable hash of bytes under a seed.
pub(super) fn hash(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

pub(super) fn mix(mut h: u64) -> u64 {
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A uniform number in (0, 1) from a hash.
pub(super) fn uniform(h: u64) -> f64 {
    ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// The chance that an invoice of lateness class `class` due on `due`, open at `t`, is paid by
/// the end of each of the 13 weeks, from the hazards of the cells it passes through.
fn chances(hazards: &Hazards, class: usize, disputed: bool, t: i32, due: i32) -> [f64; WEEKS] {
    let (mut paid, mut other) = ([0.0; WEEKS], [0.0; WEEKS]);
    for k in 0..WEEKS {
        let i = cell(class, disputed, t + 7 * k as i32, due);
        (paid[k], other[k]) = (hazards.paid[i], hazards.other[i]);
    }
    paid_by(&paid, &other)
}

/// Week (0-based) of a day after `t`, if within the horizon.
fn week_of(t: i32, day: i32) -> Option<usize> {
    let w = ((day.max(t + 1) - t - 1) / 7) as usize;
    (w < WEEKS).then_some(w)
}

/// One open invoice at the forecast date.
struct Open {
    currency: usize,
    amount: i64,
    /// Chance of having been paid by the end of each week.
    paid_by: [f64; WEEKS],
}

/// The chance that an invoice open at the forecast date is paid by the end of each week, from
/// its weekly chances of being paid (`paid`) or leaving otherwise (`other`) while open.
pub(super) fn paid_by(paid: &[f64; WEEKS], other: &[f64; WEEKS]) -> [f64; WEEKS] {
    let (mut alive, mut cumulative) = (1.0f64, 0.0f64);
    let mut out = [0.0; WEEKS];
    for k in 0..WEEKS {
        let p = paid[k].min(1.0 - other[k]);
        cumulative += alive * p;
        out[k] = cumulative;
        alive *= 1.0 - p - other[k];
    }
    out
}

/// The forecast at `t` (see the module documentation). `portfolio_late` is the naive
/// baseline's days late for customers with no settlement in the year before `t`.
pub(super) fn forecast(
    ctx: &Context<'_>,
    t: i32,
    hazards: &Hazards,
    lateness: &[Lateness],
    portfolio_late: f64,
    params: &CashForecast,
) -> Totals {
    let book = ctx.book;
    let docs = &book.docs;
    let (groups, currencies, paths) = (ctx.groups.len(), book.currencies.len(), params.paths as usize);
    let customers: Vec<usize> = (0..book.customers.len()).collect();
    customers
        .par_chunks(512)
        .map(|chunk| {
            let mut out = Totals::new(groups, currencies, paths);
            // The chunk's open invoices, and per customer its key, invoices and groups.
            let mut open: Vec<Open> = Vec::new();
            let mut owners: Vec<(u64, std::ops::Range<usize>, Vec<usize>)> = Vec::new();
            for &c in chunk {
                let first = open.len();
                let gs = ctx.groups.of(book, c);
                let class = lateness[c].class(t);
                let late = lateness[c].mean(t, BASELINE_DAYS).unwrap_or(portfolio_late).round() as i32;
                for d in book.customers.docs(c).filter(|&d| docs.kind[d].is_receivable() && docs.date[d] <= t) {
                    let left = docs.amount[d] - settled_by(ctx.apps, d, t).total();
                    if left <= 0 {
                        continue;
                    }
                    let currency = docs.currency[d] as usize;
                    let due = docs.due[d].unwrap_or(docs.date[d]);
                    let mut received = [0i64; WEEKS];
                    for a in ctx.apps.of_invoice(d).filter(|a| a.kind == SourceKind::Payment && a.date > t) {
                        match week_of(t, a.date) {
                            Some(w) => received[w] += a.amount,
                            None => break,
                        }
                    }
                    for &g in &gs {
                        out.open[g * currencies + currency] += left;
                        let slot = |w: usize| (g * currencies + currency) * WEEKS + w;
                        for (w, &r) in received.iter().enumerate() {
                            out.actual[slot(w)] += r;
                        }
                        if let Some(w) = week_of(t, due) {
                            out.naive_due[slot(w)] += left;
                        }
                        if let Some(w) = week_of(t, due + late) {
                            out.naive_lateness[slot(w)] += left;
                        }
                    }
                    open.push(Open {
                        currency,
                        amount: left,
                        paid_by: chances(hazards, class, docs.disputed[d], t, due),
                    });
                }
                if open.len() > first {
                    let key = hash(params.seed, book.customers.ids.get(c).as_bytes()) ^ mix(t as u64);
                    owners.push((key, first..open.len(), gs));
                }
            }
            // One more bin per (group, currency) than weeks: "not paid within the horizon".
            let bins = WEEKS + 1;
            let mut week_totals = vec![0i64; groups * currencies * bins];
            for p in 0..paths {
                week_totals.fill(0);
                for (key, invoices, gs) in &owners {
                    let u = uniform(mix(key ^ mix(p as u64 + 1)));
                    for inv in &open[invoices.clone()] {
                        // The week in which the chance of having been paid passes u: the number
                        // of weeks by whose end it has not (counted without branching).
                        let k: usize = inv.paid_by.iter().map(|&c| usize::from(c <= u)).sum();
                        for &g in gs {
                            week_totals[(g * currencies + inv.currency) * bins + k] += inv.amount;
                        }
                    }
                }
                for (i, &x) in week_totals.iter().enumerate() {
                    if i % bins < WEEKS {
                        out.simulated[(i / bins * WEEKS + i % bins) * paths + p] += x;
                    }
                }
            }
            out
        })
        .reduce(|| Totals::new(groups, currencies, paths), |a, b| a.add(&b))
}

/// The portfolio's expected cash per week from the invoices open at `t` (reporting cents at
/// the documents' rates), and what was paid on them in each week that is in the data: the
/// quick forecast whose past errors give the futures their portfolio-wide spread.
pub(super) fn expected_and_actual(
    ctx: &Context<'_>,
    t: i32,
    hazards: &Hazards,
    lateness: &[Lateness],
) -> ([i64; WEEKS], [i64; WEEKS]) {
    let docs = &ctx.book.docs;
    (0..ctx.book.customers.len())
        .into_par_iter()
        .with_min_len(256)
        .map(|c| {
            let (mut expected, mut actual) = ([0i64; WEEKS], [0i64; WEEKS]);
            let class = lateness[c].class(t);
            for d in ctx.book.customers.docs(c).filter(|&d| docs.kind[d].is_receivable() && docs.date[d] <= t) {
                let left = docs.amount[d] - settled_by(ctx.apps, d, t).total();
                if left <= 0 {
                    continue;
                }
                let rate = i128::from(docs.rate[d]);
                let due = docs.due[d].unwrap_or(docs.date[d]);
                let by = chances(hazards, class, docs.disputed[d], t, due);
                let amount = crate::analytics::walk::at_rate(left, rate) as f64;
                let mut before = 0.0;
                for k in 0..WEEKS {
                    // To the cent per invoice: integer sums do not depend on the thread count.
                    expected[k] += (amount * (by[k] - before)).round() as i64;
                    before = by[k];
                }
                for a in ctx.apps.of_invoice(d).filter(|a| a.kind == SourceKind::Payment && a.date > t) {
                    match week_of(t, a.date) {
                        Some(w) => actual[w] += crate::analytics::walk::at_rate(a.amount, rate),
                        None => break,
                    }
                }
            }
            (expected, actual)
        })
        .reduce(
            || ([0; WEEKS], [0; WEEKS]),
            |(mut e, mut a), (e2, a2)| {
                for k in 0..WEEKS {
                    e[k] += e2[k];
                    a[k] += a2[k];
                }
                (e, a)
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chance_of_being_paid_by_a_week_compounds_the_weekly_hazards() {
        let mut paid = [0.0; WEEKS];
        let mut other = [0.0; WEEKS];
        (paid[0], paid[1], paid[2]) = (0.5, 0.5, 1.0);
        other[1] = 0.2;
        let by = paid_by(&paid, &other);
        // Week 1: half paid. Week 2: of the half left, 50% paid and 20% credited. Week 3: the
        // remaining 0.5 × 0.3 = 0.15 is paid.
        assert_eq!(by[0], 0.5);
        assert_eq!(by[1], 0.75);
        assert!((by[2] - 0.9).abs() < 1e-12);
        assert!((by[WEEKS - 1] - 0.9).abs() < 1e-12, "credited amounts are never cash");
        // A hazard never takes more than is left after the other exits.
        let (mut p, mut o) = ([0.0; WEEKS], [0.0; WEEKS]);
        (p[0], o[0]) = (0.9, 0.5);
        assert_eq!(paid_by(&p, &o)[0], 0.5);
    }

    #[test]
    fn weeks_count_from_the_day_after_the_forecast_date() {
        assert_eq!(week_of(100, 101), Some(0));
        assert_eq!(week_of(100, 107), Some(0));
        assert_eq!(week_of(100, 108), Some(1));
        assert_eq!(week_of(100, 50), Some(0), "a date already passed falls in week 1");
        assert_eq!(week_of(100, 100 + 7 * WEEKS as i32), Some(WEEKS - 1));
        assert_eq!(week_of(100, 101 + 7 * WEEKS as i32), None);
    }

    #[test]
    fn draws_are_uniform_and_stable() {
        let key = hash(7, b"C0000001");
        assert_eq!(key, hash(7, b"C0000001"));
        assert_ne!(key, hash(8, b"C0000001"));
        let u: Vec<f64> = (0..10_000u64).map(|p| uniform(mix(key ^ mix(p + 1)))).collect();
        assert!(u.iter().all(|&x| x > 0.0 && x < 1.0));
        let mean = u.iter().sum::<f64>() / u.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let below = u.iter().filter(|&&x| x < 0.1).count();
        assert!((900..1100).contains(&below), "{below}");
    }
}
