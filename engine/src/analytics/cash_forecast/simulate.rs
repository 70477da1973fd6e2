//! The forecast at one date: every invoice open at it, its weekly chance of being paid over
//! the next 13 weeks from the hazards, and the weekly totals of many simulated futures, in
//! which each customer pays its invoices together (one draw per customer and future decides
//! all of its invoices: comonotone; a customer's draws over the futures are the evenly spaced
//! `(r + 0.5) / paths` in a seeded order of its own, so each invoice is paid in exactly its
//! share of the futures) and the whole portfolio pays faster or slower together (one shock per
//! future). Also what happened (when the weeks are in the data) and the two
//! naive forecasts. Every total is an integer sum over customers, so parts add up exactly
//! and the result does not depend on the thread count.

use rayon::prelude::*;

use super::hazards::Hazards;
use super::history::Standing;
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
    /// Futures (by the customer's rank, see [`ranks_paid_by`]) paid by the end of each week.
    ranks_paid_by: [u32; WEEKS],
}

/// How many of a customer's `paths` futures have the invoice paid by the end of each week: the
/// customer's futures are ranked, the one at rank `r` draws `u = (r + 0.5) / paths`, and the
/// invoice is paid by week `k` where `u < P_k`: the first `⌈P_k × paths − 0.5⌉` ranks.
fn ranks_paid_by(paid_by: &[f64; WEEKS], paths: usize) -> [u32; WEEKS] {
    paid_by.map(|p| (p * paths as f64 - 0.5).ceil().clamp(0.0, paths as f64) as u32)
}

/// The first `need` futures of a customer's ranking, a seeded shuffle of `0..paths`
/// (Fisher–Yates from the front, so only the ranks that are paid within the horizon are drawn):
/// `order[r]` is the future at rank `r`. Each customer's draws over its futures are then the
/// `paths` strata of (0, 1) exactly (a Latin hypercube over customers).
fn shuffle(key: u64, order: &mut Vec<u32>, paths: usize, need: usize) {
    order.clear();
    order.extend(0..paths as u32);
    let mut bits = 0u64;
    for i in 0..need.min(paths - 1) {
        // Two 32-bit draws per hash; the index by multiply-shift (no division).
        bits = if i % 2 == 0 { mix(key ^ mix(i as u64 / 2 + 1)) } else { bits >> 32 };
        let j = i + (((bits & 0xffff_ffff) * (paths - i) as u64) >> 32) as usize;
        order.swap(i, j);
    }
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
    standing: &Standing,
    portfolio_late: f64,
    params: &CashForecast,
) -> Totals {
    let book = ctx.book;
    let docs = &book.docs;
    let (groups, currencies, paths) = (ctx.groups.len(), book.currencies.len(), params.paths as usize);
    let portfolio_from = ctx.groups.first_dimension();
    let mut totals = (0..book.customers.len())
        .into_par_iter()
        .with_min_len(8192)
        .fold(
            || (Totals::new(groups, currencies, paths), Vec::<Open>::new(), Vec::<u32>::new()),
            |(mut out, mut open, mut order), c| {
                open.clear();
                let gs = ctx.groups.of(book, c);
                let (class, late) = standing.at(c, t);
                let late = late.unwrap_or(portfolio_late.round() as i32);
                for d in book.customers.docs(c).filter(|&d| docs.date[d] <= t && standing.settled_from[d] > t) {
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
                    let by = chances(hazards, class, docs.disputed[d], t, due);
                    open.push(Open { currency, amount: left, ranks_paid_by: ranks_paid_by(&by, paths) });
                }
                if open.iter().any(|inv| inv.ranks_paid_by[WEEKS - 1] > 0) {
                    let key = hash(params.seed, book.customers.ids.get(c).as_bytes()) ^ mix(t as u64);
                    // The portfolio's futures are its first segment column's, added up below.
                    let simulated = if portfolio_from.is_some() { &gs[1..] } else { &gs[..] };
                    play(key, &open, simulated, &mut out, &mut order);
                }
                (out, open, order)
            },
        )
        .map(|(out, ..)| out)
        .reduce(|| Totals::new(groups, currencies, paths), |a, b| a.add(&b));
    if let Some(segments) = portfolio_from {
        let row = WEEKS * paths;
        for currency in 0..currencies {
            for g in segments.clone() {
                let from = (g * currencies + currency) * row;
                for i in 0..row {
                    totals.simulated[currency * row + i] += totals.simulated[from + i];
                }
            }
        }
    }
    totals
}

/// One customer's open invoices in every future: ranked by the customer's shuffle keyed by
/// `key`, each invoice's amount is added, for each of `groups`, to the week in which the future
/// at that rank has it paid (nothing when not within the horizon).
fn play(key: u64, open: &[Open], groups: &[usize], out: &mut Totals, order: &mut Vec<u32>) {
    let paths = out.paths;
    let need = open.iter().map(|inv| inv.ranks_paid_by[WEEKS - 1] as usize).max().unwrap_or(0);
    shuffle(key, order, paths, need);
    for inv in open {
        for &g in groups {
            let mut from = 0;
            for (w, &to) in inv.ranks_paid_by.iter().enumerate() {
                let slot = out.slot(g, inv.currency, w);
                let row = &mut out.simulated[slot * paths..(slot + 1) * paths];
                for &f in &order[from..to as usize] {
                    row[f as usize] += inv.amount;
                }
                from = to as usize;
            }
        }
    }
}

/// The portfolio's expected cash per week from the invoices open at `t` (reporting cents at
/// the documents' rates), and what was paid on them in each week that is in the data: the
/// quick forecast whose past errors give the futures their portfolio-wide spread.
pub(super) fn expected_and_actual(
    ctx: &Context<'_>,
    t: i32,
    hazards: &Hazards,
    standing: &Standing,
) -> ([i64; WEEKS], [i64; WEEKS]) {
    let docs = &ctx.book.docs;
    (0..ctx.book.customers.len())
        .into_par_iter()
        .with_min_len(256)
        .map(|c| {
            let (mut expected, mut actual) = ([0i64; WEEKS], [0i64; WEEKS]);
            let (class, _) = standing.at(c, t);
            for d in ctx.book.customers.docs(c).filter(|&d| docs.date[d] <= t && standing.settled_from[d] > t) {
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
    #![allow(clippy::unwrap_used)]
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
    fn a_week_takes_the_ranks_whose_draw_is_below_its_chance() {
        // The future at rank r draws (r + 0.5) / 200: below 0.3 for r < 59.5.
        let mut by = [0.9; WEEKS];
        (by[0], by[1]) = (0.3, 0.3);
        let ranks = ranks_paid_by(&by, 200);
        assert_eq!(&ranks[..3], &[60, 60, 180]);
        assert_eq!(ranks_paid_by(&[0.0; WEEKS], 200), [0; WEEKS]);
        assert_eq!(ranks_paid_by(&[1.0; WEEKS], 200), [200; WEEKS]);
        // A chance right at a draw: 0.0025 = (0 + 0.5) / 200 is not below it.
        assert_eq!(ranks_paid_by(&[0.0025; WEEKS], 200)[0], 0);
        assert_eq!(ranks_paid_by(&[0.0026; WEEKS], 200)[0], 1);
    }

    #[test]
    fn a_shuffle_is_a_seeded_permutation_drawn_from_the_front() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        shuffle(11, &mut a, 200, 200);
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..200).collect::<Vec<u32>>());
        // Drawing fewer ranks gives the same first ranks.
        shuffle(11, &mut b, 200, 37);
        assert_eq!(a[..37], b[..37]);
        shuffle(12, &mut b, 200, 200);
        assert_ne!(a, b);
        // Every future is equally likely at rank 0 (4,000 keys, 20 futures: 200 each expected,
        // standard deviation 13.8).
        let mut count = [0; 20];
        for key in 0..4000u64 {
            shuffle(mix(key), &mut a, 20, 1);
            count[a[0] as usize] += 1;
        }
        assert!(count.iter().all(|n| (140..260).contains(n)), "{count:?}");
    }

    #[test]
    fn a_customers_invoices_are_paid_together_in_exactly_their_share_of_the_futures() {
        let paths = 200;
        let mut fast = [1.0; WEEKS];
        (fast[0], fast[1]) = (0.5, 0.8);
        let mut slow = [0.6; WEEKS];
        (slow[0], slow[1], slow[2]) = (0.1, 0.2, 0.4);
        let open = [
            Open { currency: 0, amount: 1000, ranks_paid_by: ranks_paid_by(&fast, paths) },
            Open { currency: 0, amount: 7, ranks_paid_by: ranks_paid_by(&slow, paths) },
        ];
        let mut out = Totals::new(2, 1, paths);
        play(hash(7, b"C1"), &open, &[1], &mut out, &mut Vec::new());
        let week = |w: usize| &out.simulated[out.slot(1, 0, w) * paths..(out.slot(1, 0, w) + 1) * paths];
        // Week totals over the futures are exactly each invoice's share: 100, 60 and 40 of 200
        // futures for the fast one in weeks 1-3; 20, 20, 40 and then 40 for the slow one.
        let sums: Vec<i64> = (0..WEEKS).map(|w| week(w).iter().sum()).collect();
        assert_eq!(&sums[..4], &[1000 * 100 + 7 * 20, 1000 * 60 + 7 * 20, 1000 * 40 + 7 * 40, 7 * 40]);
        assert!(sums[4..].iter().all(|&x| x == 0));
        // The same draw decides both: where the slow invoice is paid, the fast one was paid that
        // week or before, and each is paid at most once per future.
        for f in 0..paths {
            let weeks: Vec<i64> = (0..WEEKS).map(|w| week(w)[f]).collect();
            let slow_week = weeks.iter().position(|&x| x % 1000 == 7);
            let fast_week = weeks.iter().position(|&x| x >= 1000);
            assert!(fast_week.is_some(), "the fast invoice is paid by week 2 in every future");
            if let Some(s) = slow_week {
                assert!(fast_week.unwrap() <= s);
            }
            assert!(weeks.iter().sum::<i64>() == 1000 || weeks.iter().sum::<i64>() == 1007);
        }
        // Nothing went to the group that was not asked for.
        assert!(out.simulated[..out.slot(1, 0, 0) * paths].iter().all(|&x| x == 0));
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
