//! `cash_forecast`: the cash expected in each of the 13 weeks after a date from the invoices
//! open at it, with P10 / P50 / P90 of each week's total per group (the portfolio and every
//! segment) and currency; `cash_forecast_backtest` and `cash_forecast_accuracy`: the same
//! forecast made at past month ends (point in time) against what was paid, next to two naive
//! forecasts.
//!
//! The model is a discrete-time hazard on the weekly invoice panel (`history.rs`,
//! `hazards.rs`): for each cell — the customer's lateness class (its amount-weighted days late
//! over the 60 days of settlements before the date), whether the invoice is disputed, and the
//! position against the due date — the share of the open amount paid in a week, over the
//! `lookback_weeks` weeks observed before the forecast date, recent weeks weighing more. A
//! forecast (`simulate.rs`) plays `paths` seeded futures of each open invoice: one draw per
//! customer and future decides all of the customer's invoices (customers pay several invoices
//! together), a customer's draws over the futures evenly spaced in a seeded order of its own.
//! Each future's week totals are then moved by one portfolio-wide draw at
//! the week's spread: how far past quick forecasts at that week ahead missed (the whole book
//! paying faster or slower). The quantiles are the futures' week totals. Definitions and a
//! worked example: `docs/definitions.md`, "Cash forecast".

mod accuracy;
mod hazards;
mod history;
mod simulate;

pub use history::Lateness;

use std::borrow::Cow;

use polars::prelude::DataFrame;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Context;
use super::frame::{count, date, float_opt, frame, money, text};
use crate::contracts::{OutType as O, TableContract, out};
use crate::error::{EngineError, Result};

/// Weeks forecast.
pub const WEEKS: usize = 13;
/// Lateness classes: no settlement ever, none in the window (but before it: a customer that
/// stopped paying), then days late ≤ 0, ≤ 5, ≤ 10, ≤ 20, ≤ 30, ≤ 45, ≤ 60, more.
pub(crate) const CLASSES: usize = 10;
const CLASS_EDGES: [f64; CLASSES - 3] = [0.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0];
/// Positions relative to the due date at the start of a week (`s − due`, days): by the week
/// up to 3 weeks before it (9 or more weeks before is one position), by the day within two
/// weeks either side of it, by the week from 2 to 30 (or more) weeks after it.
pub(crate) const REL: usize = WEEKS_BEFORE + NEAR + WEEKS_AFTER;
const WEEKS_BEFORE: usize = 7;
const NEAR_DAYS: i32 = 14;
const NEAR: usize = 2 * NEAR_DAYS as usize + 1;
const WEEKS_AFTER: usize = 29;
/// Hazard cells: class × disputed × week relative to due.
pub(crate) const CELLS: usize = CLASSES * 2 * REL;
/// Observed weeks a forecast needs before it is made (a quarter).
const MIN_WEEKS: usize = 13;

/// The lateness class of an amount-weighted days late (`None`: no settlement in the window;
/// `settled_before`: but some before it).
pub(crate) fn class_of(days_late: Option<f64>, settled_before: bool) -> usize {
    match days_late {
        None => usize::from(settled_before),
        Some(x) => 2 + CLASS_EDGES.iter().take_while(|&&edge| x > edge).count(),
    }
}

/// Index of the position `s − due` (days) among [`REL`].
fn rel_index(days: i32) -> usize {
    if days < -NEAR_DAYS {
        // Weeks before due: −9 (or more) … −3.
        (days.div_euclid(7).max(-(WEEKS_BEFORE as i32) - 2) + WEEKS_BEFORE as i32 + 2) as usize
    } else if days <= NEAR_DAYS {
        WEEKS_BEFORE + (days + NEAR_DAYS) as usize
    } else {
        // Weeks after due: 2 … 30 (or more).
        WEEKS_BEFORE + NEAR + (days.div_euclid(7) as usize - 2).min(WEEKS_AFTER - 1)
    }
}

/// The hazard cell of an invoice of lateness class `class` due on `due`, in the week starting
/// the day after `s`.
pub(crate) fn cell(class: usize, disputed: bool, s: i32, due: i32) -> usize {
    (class * 2 + usize::from(disputed)) * REL + rel_index(s - due)
}

/// `[cash_forecast]` in a pipeline config; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CashForecastParams {
    /// Build the cash forecast's tables. Default true.
    pub enabled: Option<bool>,
    /// Weeks of observed payments the hazards are estimated from. Default 52.
    pub lookback_weeks: Option<u32>,
    /// Simulated futures per forecast. Default 200.
    pub paths: Option<u32>,
    /// Past month ends re-forecast in the backtest (the latest ones whose 13 weeks are in the
    /// data). Default 24; 0 turns the backtest off.
    pub backtest_origins: Option<u32>,
    /// Seed of the simulation. Default 7.
    pub seed: Option<u64>,
    /// Half-life of an observed week's weight in the hazards, in weeks: recent weeks count
    /// more, so the hazards follow a portfolio that starts paying faster or slower. Default 4.
    pub half_life_weeks: Option<u32>,
}

/// `[cash_forecast]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CashForecast {
    pub enabled: bool,
    pub lookback_weeks: u32,
    pub paths: u32,
    pub backtest_origins: u32,
    pub seed: u64,
    pub half_life_weeks: u32,
}

impl Default for CashForecast {
    fn default() -> CashForecast {
        CashForecast {
            enabled: true,
            lookback_weeks: 52,
            paths: 200,
            backtest_origins: 24,
            seed: 7,
            half_life_weeks: 4,
        }
    }
}

impl CashForecastParams {
    /// Check every field and fill in the defaults.
    pub fn check(&self) -> Result<CashForecast> {
        let d = CashForecast::default();
        let c = CashForecast {
            enabled: self.enabled.unwrap_or(d.enabled),
            lookback_weeks: self.lookback_weeks.unwrap_or(d.lookback_weeks),
            paths: self.paths.unwrap_or(d.paths),
            backtest_origins: self.backtest_origins.unwrap_or(d.backtest_origins),
            seed: self.seed.unwrap_or(d.seed),
            half_life_weeks: self.half_life_weeks.unwrap_or(d.half_life_weeks),
        };
        let range = |key: &str, v: u32, lo: u32, hi: u32| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(EngineError::config(format!("`cash_forecast.{key}` must be between {lo} and {hi}, but is {v}")))
            }
        };
        range("lookback_weeks", c.lookback_weeks, MIN_WEEKS as u32, 520)?;
        range("paths", c.paths, 20, 10_000)?;
        range("backtest_origins", c.backtest_origins, 0, 240)?;
        range("half_life_weeks", c.half_life_weeks, 1, 520)?;
        Ok(c)
    }
}

/// A weekly forecast quantile by nearest rank: the smallest total with at least `q` of the
/// futures at or below it.
fn quantile(sorted: &[i64], q: f64) -> i64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// One forecast's weekly rows: per (group, currency) with something open, 13 weeks.
struct Weekly {
    t: i32,
    g: usize,
    currency: usize,
    week: usize,
    open: i64,
    expected: i64,
    p: [i64; 3],
    actual: i64,
    naive: [i64; 2],
    spread: f64,
    weeks_observed: usize,
}

/// Each future's portfolio-wide draw: a standard normal, the same in every week of the future.
fn draws(seed: u64, t: i32, paths: usize) -> Vec<f64> {
    use simulate::{mix, uniform};
    (0..paths)
        .map(|p| {
            let h = mix(seed ^ mix(((t as u64) << 32) ^ p as u64 ^ 0x5eed_5eed));
            let (u1, u2) = (uniform(h), uniform(mix(h ^ 0x9e37_79b9_7f4a_7c15)));
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}

/// The portfolio-wide spread of the forecast at `t`, per week ahead: the root mean square of
/// log(actual / expected) of the quick forecasts at the month ends before `t` whose week had
/// ended by `t` and that lie within `lookback_weeks`; `fallback` where fewer than three.
fn spread(past: &[(i32, [i64; WEEKS], [i64; WEEKS])], t: i32, lookback_weeks: u32, fallback: f64) -> [f64; WEEKS] {
    let mut out = [fallback; WEEKS];
    for (k, o) in out.iter_mut().enumerate() {
        let logs: Vec<f64> = past
            .iter()
            .filter(|(p, ..)| p + 7 * (k as i32 + 1) <= t && *p > t - 7 * lookback_weeks as i32)
            .filter(|(_, e, a)| e[k] > 0 && a[k] > 0)
            .map(|(_, e, a)| (a[k] as f64 / e[k] as f64).ln())
            .collect();
        if logs.len() >= MIN_SPREAD_ORIGINS {
            *o = (logs.iter().map(|x| x * x).sum::<f64>() / logs.len() as f64).sqrt();
        }
    }
    out
}

/// Past forecasts a spread needs.
const MIN_SPREAD_ORIGINS: usize = 3;

fn weekly(
    t: i32,
    totals: &simulate::Totals,
    spread: &[f64; WEEKS],
    draws: &[f64],
    weeks_observed: usize,
) -> Vec<Weekly> {
    let mut rows = Vec::new();
    let paths = totals.paths;
    for g in 0..totals.groups {
        for currency in 0..totals.currencies {
            let open = totals.open[g * totals.currencies + currency];
            if open == 0 {
                continue;
            }
            for (week, &spread) in spread.iter().enumerate() {
                let slot = totals.slot(g, currency, week);
                // Each future's total moved by its portfolio-wide draw at this week's spread.
                let mut futures: Vec<i64> = totals.simulated[slot * paths..(slot + 1) * paths]
                    .iter()
                    .zip(draws)
                    .map(|(&x, z)| (x as f64 * (spread * z).exp()).round() as i64)
                    .collect();
                futures.sort_unstable();
                let sum: i128 = futures.iter().map(|&x| i128::from(x)).sum();
                let expected = ((2 * sum + paths as i128) / (2 * paths as i128)) as i64;
                rows.push(Weekly {
                    t,
                    g,
                    currency,
                    week,
                    open,
                    expected,
                    p: [quantile(&futures, 0.1), quantile(&futures, 0.5), quantile(&futures, 0.9)],
                    actual: totals.actual[slot],
                    naive: [totals.naive_due[slot], totals.naive_lateness[slot]],
                    spread,
                    weeks_observed,
                });
            }
        }
    }
    rows
}

/// Build `cash_forecast` (at the data's last day), `cash_forecast_backtest` and
/// `cash_forecast_accuracy` on one machine: [`History`], then [`Parts`], then
/// [`Parts::finish`].
pub fn build(ctx: &Context<'_>) -> Result<[DataFrame; 3]> {
    let lateness = history::Lateness::all(ctx);
    let history = History::of(ctx, &lateness);
    Parts::of(ctx, &history, &history::Standing::of(ctx, &lateness, forecast_dates(ctx))).finish(ctx)
}

/// What the payment history says, summed over customers: the observed weeks per hazard cell
/// and the naive baseline's lateness sums at each forecast date. Integer sums, so the
/// shards of a run add theirs up into exactly the one machine's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    grid: Vec<i32>,
    /// Non-empty (grid date × cell) entries: index, open, paid, other, invoices.
    seen: Vec<(u32, [i64; 4])>,
    /// At each forecast date: Σ weight and Σ weight × days late of the year's settlements.
    late: Vec<(i32, i128, i128)>,
}

/// Every date a forecast is made at: the month ends and the data's last day.
fn forecast_dates(ctx: &Context<'_>) -> Vec<i32> {
    let mut dates: Vec<i32> = ctx.months.iter().skip(1).copied().collect();
    if dates.last() != Some(&ctx.last_day) {
        dates.push(ctx.last_day);
    }
    dates
}

impl History {
    /// The history of this book's customers.
    pub fn build(ctx: &Context<'_>) -> History {
        History::of(ctx, &history::Lateness::all(ctx))
    }

    fn of(ctx: &Context<'_>, lateness: &[history::Lateness]) -> History {
        let grid = history::grid(ctx);
        let seen = history::observe(ctx, &grid, lateness);
        let seen = seen
            .iter()
            .enumerate()
            .filter(|(_, s)| s.invoices > 0)
            .map(|(i, s)| (i as u32, [s.open, s.paid, s.other, s.invoices]))
            .collect();
        let dates = forecast_dates(ctx);
        let sums = lateness
            .par_iter()
            .fold(
                || vec![(0i128, 0i128); dates.len()],
                |mut acc, l| {
                    for (a, (w, wl)) in acc.iter_mut().zip(l.sums_at(&dates, history::BASELINE_DAYS)) {
                        a.0 += w;
                        a.1 += wl;
                    }
                    acc
                },
            )
            .reduce(
                || vec![(0, 0); dates.len()],
                |mut a, b| {
                    for (x, y) in a.iter_mut().zip(b) {
                        x.0 += y.0;
                        x.1 += y.1;
                    }
                    a
                },
            );
        let late = dates.into_iter().zip(sums).map(|(t, (w, wl))| (t, w, wl)).collect();
        History { grid, seen, late }
    }

    /// Add another part of the customers' history (a shard's).
    pub fn merge(&mut self, other: &History) -> Result<()> {
        if self.grid != other.grid || self.late.len() != other.late.len() {
            return Err(EngineError::Analysis {
                message: "the cash forecast's histories of the shards cover different dates; run the shards again"
                    .into(),
            });
        }
        let mut all: std::collections::BTreeMap<u32, [i64; 4]> = self.seen.iter().copied().collect();
        for (i, s) in &other.seen {
            let x = all.entry(*i).or_default();
            for (a, b) in x.iter_mut().zip(s) {
                *a += b;
            }
        }
        self.seen = all.into_iter().collect();
        for (a, b) in self.late.iter_mut().zip(&other.late) {
            a.1 += b.1;
            a.2 += b.2;
        }
        Ok(())
    }

    fn cells(&self) -> Vec<history::Seen> {
        let mut seen = vec![history::Seen::default(); self.grid.len() * CELLS];
        for &(i, [open, paid, other, invoices]) in &self.seen {
            seen[i as usize] = history::Seen { open, paid, other, invoices };
        }
        seen
    }

    fn portfolio_late(&self, t: i32) -> f64 {
        self.late.iter().find(|l| l.0 == t).map_or(0.0, |&(_, w, wl)| if w > 0 { wl as f64 / w as f64 } else { 0.0 })
    }
}

/// One forecast's sums over customers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Made {
    t: i32,
    totals: simulate::Totals,
    shock_sd: f64,
    weeks: usize,
}

/// The forecasts' sums over this book's customers, made from the whole [`History`]: the quick
/// forecast at every month end (for the spreads) and the simulated futures at the backtest's
/// month ends and the data's last day. Integer sums: the shards' add up exactly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Parts {
    past: Vec<(i32, [i64; WEEKS], [i64; WEEKS])>,
    made: Vec<Made>,
}

impl Parts {
    /// The parts of this book's customers.
    pub fn build(ctx: &Context<'_>, history: &History) -> Parts {
        Parts::of(ctx, history, &history::Standing::of(ctx, &history::Lateness::all(ctx), forecast_dates(ctx)))
    }

    fn of(ctx: &Context<'_>, history: &History, standing: &history::Standing) -> Parts {
        let params = &ctx.analysis.cash_forecast;
        let seen = history.cells();
        let grid = &history.grid;
        let hazards_at = |t: i32| hazards::at(&seen, grid, t, params.lookback_weeks, params.half_life_weeks, MIN_WEEKS);
        let past = ctx
            .months
            .iter()
            .skip(1)
            .filter_map(|&t| {
                let hz = hazards_at(t)?;
                let (e, a) = simulate::expected_and_actual(ctx, t, &hz, standing);
                Some((t, e, a))
            })
            .collect();
        let horizon = 7 * WEEKS as i32;
        let judged: Vec<i32> = ctx.months.iter().skip(1).copied().filter(|&t| t + horizon <= ctx.last_day).collect();
        let mut dates: Vec<i32> = judged.iter().rev().take(params.backtest_origins as usize).rev().copied().collect();
        dates.push(ctx.last_day);
        let made = dates
            .into_iter()
            .filter_map(|t| {
                let hz = hazards_at(t)?;
                let totals = simulate::forecast(ctx, t, &hz, standing, history.portfolio_late(t), params);
                Some(Made { t, totals, shock_sd: hz.shock_sd, weeks: hz.weeks })
            })
            .collect();
        Parts { past, made }
    }

    /// Add another shard's parts.
    pub fn merge(&mut self, other: &Parts) -> Result<()> {
        let same = self.past.len() == other.past.len()
            && self.made.len() == other.made.len()
            && self.past.iter().zip(&other.past).all(|(a, b)| a.0 == b.0)
            && self.made.iter().zip(&other.made).all(|(a, b)| a.t == b.t && a.weeks == b.weeks);
        if !same {
            return Err(EngineError::Analysis {
                message: "the cash forecast's parts of the shards were made at different dates; run the shards again"
                    .into(),
            });
        }
        for (a, b) in self.past.iter_mut().zip(&other.past) {
            for k in 0..WEEKS {
                a.1[k] += b.1[k];
                a.2[k] += b.2[k];
            }
        }
        for (a, b) in self.made.iter_mut().zip(&other.made) {
            a.totals.add_from(&b.totals);
        }
        Ok(())
    }

    /// The three tables from the summed parts.
    pub fn finish(&self, ctx: &Context<'_>) -> Result<[DataFrame; 3]> {
        let params = &ctx.analysis.cash_forecast;
        let mut judged = Vec::new();
        let mut live = Vec::new();
        for m in &self.made {
            let spread = spread(&self.past, m.t, params.lookback_weeks, m.shock_sd);
            let rows = weekly(m.t, &m.totals, &spread, &draws(params.seed, m.t, params.paths as usize), m.weeks);
            if m.t == ctx.last_day { live = rows } else { judged.extend(rows) }
        }
        let labels = &ctx.groups.labels;
        let currencies = &ctx.book.currencies;
        let forecast = frame(
            &CASH_FORECAST_TABLE,
            vec![
                date("as_of", live.iter().map(|r| r.t)),
                text("dimension", live.iter().map(|r| labels[r.g].0.as_str())),
                text("segment", live.iter().map(|r| labels[r.g].1.as_str())),
                text("currency", live.iter().map(|r| currencies[r.currency].as_str())),
                count("week", live.iter().map(|r| r.week as u64 + 1)),
                date("week_start", live.iter().map(|r| r.t + 7 * r.week as i32 + 1)),
                date("week_end", live.iter().map(|r| r.t + 7 * (r.week as i32 + 1))),
                money("open_at_as_of", live.iter().map(|r| r.open)),
                money("expected", live.iter().map(|r| r.expected)),
                money("p10", live.iter().map(|r| r.p[0])),
                money("p50", live.iter().map(|r| r.p[1])),
                money("p90", live.iter().map(|r| r.p[2])),
                float_opt("spread", live.iter().map(|r| Some(r.spread))),
                count("weeks_observed", live.iter().map(|r| r.weeks_observed as u64)),
            ],
        )?;
        let backtest = frame(
            &CASH_FORECAST_BACKTEST_TABLE,
            vec![
                date("as_of", judged.iter().map(|r| r.t)),
                text("dimension", judged.iter().map(|r| labels[r.g].0.as_str())),
                text("segment", judged.iter().map(|r| labels[r.g].1.as_str())),
                text("currency", judged.iter().map(|r| currencies[r.currency].as_str())),
                count("week", judged.iter().map(|r| r.week as u64 + 1)),
                money("actual", judged.iter().map(|r| r.actual)),
                money("expected", judged.iter().map(|r| r.expected)),
                money("p10", judged.iter().map(|r| r.p[0])),
                money("p50", judged.iter().map(|r| r.p[1])),
                money("p90", judged.iter().map(|r| r.p[2])),
                money("naive_due_date", judged.iter().map(|r| r.naive[0])),
                money("naive_customer_lateness", judged.iter().map(|r| r.naive[1])),
            ],
        )?;
        let accuracy = accuracy::table(&judged, labels, currencies)?;
        Ok([forecast, backtest, accuracy])
    }
}

/// `cash_forecast`.
pub static CASH_FORECAST_TABLE: TableContract = TableContract {
    name: "cash_forecast",
    doc: "Cash expected from the invoices open at the data's last day in each of the next 13 weeks, per group and currency (document currency), with the P10 / P50 / P90 of the week's total over the simulated futures",
    partition: None,
    columns: Cow::Borrowed(&[
        out("as_of", O::Date, false, "The forecast date (the data's last day)"),
        out("dimension", O::Text, false, "all, or the customers column the segment comes from"),
        out("segment", O::Text, false, "ALL, or the segment value"),
        out("currency", O::Text, false, "Document currency; every amount of the row is in it"),
        out("week", O::Count, false, "Week after as_of, 1 to 13"),
        out("week_start", O::Date, false, "First day of the week (as_of + 7 × (week − 1) + 1)"),
        out("week_end", O::Date, false, "Last day of the week (as_of + 7 × week)"),
        out("open_at_as_of", O::Money, false, "Receivables open at as_of in the group and currency"),
        out("expected", O::Money, false, "Mean of the simulated futures' week totals"),
        out("p10", O::Money, false, "10th percentile of the week's total (nearest rank over the futures)"),
        out("p50", O::Money, false, "Median of the week's total"),
        out("p90", O::Money, false, "90th percentile of the week's total"),
        out(
            "spread",
            O::Float,
            true,
            "Portfolio-wide error the futures are widened by: root mean square of log(actual / expected) of past forecasts at this week ahead",
        ),
        out("weeks_observed", O::Count, false, "Observed weeks of payments the hazards rest on"),
    ]),
};

/// `cash_forecast_backtest`.
pub static CASH_FORECAST_BACKTEST_TABLE: TableContract = TableContract {
    name: "cash_forecast_backtest",
    doc: "The forecast re-made at past month ends (point in time: only what was known then) against the cash then paid on the invoices open at it, week by week, next to two naive forecasts",
    partition: None,
    columns: Cow::Borrowed(&[
        out("as_of", O::Date, false, "Month end the forecast was made at"),
        out("dimension", O::Text, false, "all, or the customers column the segment comes from"),
        out("segment", O::Text, false, "ALL, or the segment value"),
        out("currency", O::Text, false, "Document currency; every amount of the row is in it"),
        out("week", O::Count, false, "Week after as_of, 1 to 13"),
        out("actual", O::Money, false, "Paid in the week on the invoices open at as_of"),
        out("expected", O::Money, false, "The forecast's mean"),
        out("p10", O::Money, false, "The forecast's 10th percentile"),
        out("p50", O::Money, false, "The forecast's median"),
        out("p90", O::Money, false, "The forecast's 90th percentile"),
        out(
            "naive_due_date",
            O::Money,
            false,
            "Naive forecast: every open invoice paid on its due date (week 1 when past due)",
        ),
        out(
            "naive_customer_lateness",
            O::Money,
            false,
            "Naive forecast: every open invoice paid its customer's average days late (amount-weighted, the year before as_of) after its due date (week 1 when that day has passed)",
        ),
    ]),
};

/// `cash_forecast_accuracy`.
pub static CASH_FORECAST_ACCURACY_TABLE: TableContract = TableContract {
    name: "cash_forecast_accuracy",
    doc: "How close each forecast came over the backtest, per group, currency and week ahead: weighted absolute percentage error, bias, and for the model the share of weeks inside P10–P90",
    partition: None,
    columns: Cow::Borrowed(&[
        out("dimension", O::Text, false, "all, or the customers column the segment comes from"),
        out("segment", O::Text, false, "ALL, or the segment value"),
        out("currency", O::Text, false, "Document currency"),
        out("week", O::Count, false, "Week ahead, 1 to 13"),
        out("method", O::Text, false, "p50 (the model's median), naive_due_date or naive_customer_lateness"),
        out("origins", O::Count, false, "Month ends judged"),
        out("actual", O::Money, false, "Σ actual over the origins"),
        out("forecast", O::Money, false, "Σ forecast over the origins"),
        out("wape", O::Float, true, "Σ |forecast − actual| / Σ actual (null when nothing was paid)"),
        out("bias", O::Float, true, "Σ (forecast − actual) / Σ actual (positive: forecast too high)"),
        out("coverage", O::Float, true, "p50 rows: share of the origins whose actual lay within P10–P90"),
    ]),
};

/// The cash forecast's tables, in publishing order.
pub fn contracts() -> [TableContract; 3] {
    [CASH_FORECAST_TABLE.clone(), CASH_FORECAST_BACKTEST_TABLE.clone(), CASH_FORECAST_ACCURACY_TABLE.clone()]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn classes_split_the_days_late_at_their_edges() {
        assert_eq!(class_of(None, false), 0);
        assert_eq!(class_of(None, true), 1);
        assert_eq!(class_of(Some(-3.0), true), 2);
        assert_eq!(class_of(Some(0.0), true), 2);
        assert_eq!(class_of(Some(0.5), true), 3);
        assert_eq!(class_of(Some(60.0), true), 8);
        assert_eq!(class_of(Some(61.0), true), 9);
    }

    #[test]
    fn positions_are_weeks_far_from_due_and_days_near_it() {
        assert_eq!(rel_index(-1000), 0);
        assert_eq!(rel_index(-63), 0);
        assert_eq!(rel_index(-56), 1);
        assert_eq!(rel_index(-15), WEEKS_BEFORE - 1);
        assert_eq!(rel_index(-14), WEEKS_BEFORE);
        assert_eq!(rel_index(0), WEEKS_BEFORE + 14);
        assert_eq!(rel_index(14), WEEKS_BEFORE + NEAR - 1);
        assert_eq!(rel_index(15), WEEKS_BEFORE + NEAR);
        assert_eq!(rel_index(21), WEEKS_BEFORE + NEAR + 1);
        assert_eq!(rel_index(30 * 7), REL - 1);
        assert_eq!(rel_index(5000), REL - 1);
        // Every position is reached, in order.
        let all: Vec<usize> = (-70..=220).map(rel_index).collect();
        assert!(all.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1));
        assert_eq!((all[0], *all.last().unwrap()), (0, REL - 1));
        assert_eq!(cell(3, true, 100, 100), (3 * 2 + 1) * REL + WEEKS_BEFORE + 14);
    }

    #[test]
    fn quantiles_are_nearest_ranks() {
        let v: Vec<i64> = (1..=200).collect();
        assert_eq!(quantile(&v, 0.1), 20);
        assert_eq!(quantile(&v, 0.5), 100);
        assert_eq!(quantile(&v, 0.9), 180);
        assert_eq!(quantile(&[5], 0.1), 5);
    }

    #[test]
    fn parameters_are_checked() {
        assert!(CashForecastParams { paths: Some(5), ..Default::default() }.check().is_err());
        assert!(CashForecastParams { lookback_weeks: Some(4), ..Default::default() }.check().is_err());
        assert_eq!(CashForecastParams::default().check().unwrap(), CashForecast::default());
    }
}
