//! `ecl`: the expected credit loss allowance on trade receivables at every month end, by the
//! roll-rate (migration) method of a provision matrix — IFRS 9's simplified approach and one of
//! CECL's loss-rate methods — with a forward-looking overlay and the allowance's roll-forward.
//!
//! For each month end `t`, group (the portfolio and every segment) and aging bucket `b`, over
//! the `lookback_months` month-to-month transitions ending at `t` (point in time: nothing after
//! `t` is used), amount-weighted:
//!
//! - `w_b` = written off straight from `b` / everything in `b` at the month ends before;
//! - `r_b` = rolled on into an older bucket / everything in `b` (b not the oldest);
//! - the oldest bucket keeps amounts for months, so its loss rate is the share of what left it
//!   (paid, credited or written off) that was written off;
//! - loss rate `L_oldest` = that share; `L_b = w_b + r_b · L_(b+1)`: with no direct
//!   write-offs, the product of the roll rates from `b` through the oldest bucket into
//!   write-off, the textbook migration method;
//! - adjusted rate = min(1, `L_b` × the overlay: Σ scenario weight × multiplier);
//! - allowance = open receivables in `b` at `t` (month-end rate) × adjusted rate, to the cent.
//!
//! A bucket whose rate needs a transition the lookback did not see (no amount in it, or none
//! left the oldest bucket) has no rate and no allowance; `months_observed` says how many
//! transitions a rate rests on. The `ALL` row of a group carries the totals and the
//! roll-forward: opening (the previous month end's closing; 0 at the first), write-offs used
//! (write-offs dated in the month), charge = closing − opening + write-offs used, closing.
//! Definitions and a worked example: `docs/definitions.md`, "Expected credit loss".

use std::borrow::Cow;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use super::Context;
use super::frame::{count, date, float_opt, frame, money, money_opt, text};
use super::kpi::Monthly;
use crate::contracts::{OutType as O, TableContract, out};
use crate::error::{EngineError, Result};

/// `ecl`.
pub static ECL_TABLE: TableContract = TableContract {
    name: "ecl",
    doc: "Expected credit loss allowance per month end, segment, method and aging bucket (the provision matrix), with the allowance's roll-forward on each ALL row",
    partition: None,
    columns: Cow::Borrowed(&[
        out("as_of", O::Date, false, "Month end"),
        out("dimension", O::Text, false, "all, or the customers column the segment comes from"),
        out("segment", O::Text, false, "ALL, or the segment value"),
        out("method", O::Text, false, "roll_rate: the provision matrix by the roll-rate (migration) method"),
        out("bucket", O::Text, false, "Aging bucket, or ALL for the totals and the roll-forward"),
        out("exposure", O::Money, false, "Open receivables in the bucket at as_of (as_of rate)"),
        out("months_observed", O::Count, false, "Month-to-month transitions in the lookback the rate rests on"),
        out(
            "historical_loss_rate",
            O::Float,
            true,
            "Share of the bucket expected to be written off, from the lookback (ALL: exposure-weighted); null without history",
        ),
        out("overlay", O::Float, false, "Forward-looking multiplier: Σ scenario weight × multiplier"),
        out("adjusted_loss_rate", O::Float, true, "min(1, historical × overlay) (ALL: allowance / exposure)"),
        out("allowance", O::Money, false, "exposure × adjusted_loss_rate, to the cent (0 without a rate)"),
        out(
            "opening_allowance",
            O::Money,
            true,
            "ALL rows: the previous month end's closing allowance (0 at the first)",
        ),
        out(
            "write_offs_used",
            O::Money,
            true,
            "ALL rows: write-offs dated in the month, charged against the allowance",
        ),
        out("charge", O::Money, true, "ALL rows: the period's impairment expense, closing − opening + write-offs used"),
        out("closing_allowance", O::Money, true, "ALL rows: the allowance at as_of"),
    ]),
};

/// A forward-looking scenario (`[[ecl.scenarios]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioParams {
    pub name: String,
    /// Probability weight; the weights add up to 1.
    pub weight: f64,
    /// Loss-rate multiplier under the scenario (1 = history repeats).
    pub multiplier: f64,
}

/// `[ecl]` in a pipeline config; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EclParams {
    /// Month-to-month transitions averaged into the roll rates. Default 24.
    pub lookback_months: Option<u32>,
    /// Forward-looking scenarios, weighted (default: none, history repeats).
    pub scenarios: Option<Vec<ScenarioParams>>,
    /// A single management overlay multiplier instead of scenarios (e.g. 1.1).
    pub overlay: Option<f64>,
    /// Months after each month end over which `ecl_backtest` counts the write-offs realised
    /// on the receivables open at it. Default 12.
    pub backtest_months: Option<u32>,
}

/// `[ecl]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Ecl {
    pub lookback_months: u32,
    pub scenarios: Vec<ScenarioParams>,
    pub backtest_months: u32,
}

impl Default for Ecl {
    fn default() -> Ecl {
        Ecl { lookback_months: 24, scenarios: Vec::new(), backtest_months: 12 }
    }
}

impl Ecl {
    /// The overlay multiplier: Σ weight × multiplier (1 without scenarios).
    pub fn overlay(&self) -> f64 {
        if self.scenarios.is_empty() { 1.0 } else { self.scenarios.iter().map(|s| s.weight * s.multiplier).sum() }
    }
}

fn config(msg: String) -> EngineError {
    EngineError::config(msg)
}

impl EclParams {
    /// Check every field and fill in the defaults.
    pub fn check(&self) -> Result<Ecl> {
        let lookback_months = self.lookback_months.unwrap_or(24);
        if !(1..=600).contains(&lookback_months) {
            return Err(config(format!("`ecl.lookback_months` must be between 1 and 600, but is {lookback_months}")));
        }
        let scenarios = match (&self.scenarios, self.overlay) {
            (Some(_), Some(_)) => {
                return Err(config(
                    "`ecl.scenarios` and `ecl.overlay` are alternatives: give weighted scenarios or one overlay".into(),
                ));
            }
            (None, None) => Vec::new(),
            (None, Some(m)) => vec![ScenarioParams { name: "overlay".into(), weight: 1.0, multiplier: m }],
            (Some(list), None) => list.clone(),
        };
        let mut total = 0.0;
        for s in &scenarios {
            if s.name.trim().is_empty() {
                return Err(config("an `ecl.scenarios` entry has an empty name".into()));
            }
            if !(s.weight.is_finite() && s.weight > 0.0 && s.weight <= 1.0) {
                return Err(config(format!(
                    "`ecl.scenarios` `{}`: weight must be in (0, 1], but is {}",
                    s.name, s.weight
                )));
            }
            if !(s.multiplier.is_finite() && s.multiplier >= 0.0) {
                return Err(config(format!(
                    "`ecl` scenario `{}`: the multiplier must be a number ≥ 0, but is {}",
                    s.name, s.multiplier
                )));
            }
            total += s.weight;
        }
        if !scenarios.is_empty() && (total - 1.0).abs() > 1e-9 {
            return Err(config(format!("the weights of `ecl.scenarios` must add up to 1, but add up to {total}")));
        }
        let mut names: Vec<&str> = scenarios.iter().map(|s| s.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return Err(config("`ecl.scenarios` names a scenario twice".into()));
        }
        let backtest_months = self.backtest_months.unwrap_or(12);
        if !(1..=120).contains(&backtest_months) {
            return Err(config(format!("`ecl.backtest_months` must be between 1 and 120, but is {backtest_months}")));
        }
        Ok(Ecl { lookback_months, scenarios, backtest_months })
    }
}

/// The loss rates of the buckets (oldest last) from the lookback's transitions `moved`
/// (`[from][to]`, `to` in buckets then paid, credited, written off), and the transitions'
/// count behind them. `None` where the history does not give a rate.
pub fn loss_rates(moved: &[Vec<i128>], buckets: usize) -> Vec<Option<f64>> {
    let written_off = buckets + 2;
    let mut rates: Vec<Option<f64>> = vec![None; buckets];
    let Some(oldest) = buckets.checked_sub(1) else { return rates };
    let row = &moved[oldest];
    let exits = row[buckets] + row[buckets + 1] + row[written_off];
    rates[oldest] = (exits > 0).then(|| row[written_off] as f64 / exits as f64);
    for b in (0..oldest).rev() {
        let row = &moved[b];
        let held: i128 = row.iter().sum();
        let onward: i128 = row[b + 1..buckets].iter().sum();
        rates[b] = match (held > 0, rates[b + 1]) {
            (true, Some(next)) => Some(row[written_off] as f64 / held as f64 + onward as f64 / held as f64 * next),
            (true, None) if onward == 0 => Some(row[written_off] as f64 / held as f64),
            _ => None,
        };
    }
    rates
}

/// `cents × rate`, to the cent (half away from zero).
fn share(cents: i128, rate: f64) -> i128 {
    (cents as f64 * rate).round() as i128
}

/// One reconciliation check of the allowance per month end: (check, as_of, expected, actual).
pub type EclCheck = (&'static str, i32, i128, i128);

/// The allowance of one method per month end (`k`, from 1) and group, with the exposure it
/// covers: what [`backtest`] judges.
#[derive(Debug, Clone, Default)]
pub struct Allowances {
    pub method: &'static str,
    /// `[k][g]`: (exposure, allowance).
    pub at: Vec<Vec<(i128, i128)>>,
}

/// The `ecl` table with its checks and the allowances the backtest judges.
#[derive(Debug)]
pub struct Built {
    pub table: DataFrame,
    pub checks: Vec<EclCheck>,
    pub allowances: Vec<Allowances>,
}

/// The `ecl` table, and its reconciliation check per month end: the roll-forward (opening +
/// charge − write-offs used = closing, the opening being the previous month end's closing),
/// summed over every group.
pub fn table(ctx: &Context<'_>, m: &Monthly) -> Result<Built> {
    let ecl = &ctx.analysis.ecl;
    let names = &ctx.analysis.buckets.names;
    let nb = m.buckets;
    let overlay = ecl.overlay();
    let lookback = ecl.lookback_months as usize;
    let labels = &ctx.groups.labels;
    let mut rows = Rows::default();
    let mut checks = Vec::new();
    let mut closing = vec![0i128; m.groups];
    let mut allowances = Allowances { method: "roll_rate", at: vec![Vec::new(); m.k_count] };
    for k in 1..m.k_count {
        let as_of = ctx.months[k];
        let first = k.saturating_sub(lookback - 1).max(1);
        let mut roll_forward = (0i128, 0i128);
        for g in 0..m.groups {
            let mut moved = vec![vec![0i128; nb + 3]; nb];
            for kk in first..=k {
                for (from, row) in moved.iter_mut().enumerate() {
                    for (to, cell) in row.iter_mut().enumerate() {
                        *cell += m.roll(kk, g, from, to);
                    }
                }
            }
            let observed = (k + 1 - first) as u64;
            let rates = loss_rates(&moved, nb);
            let (dimension, segment) = (&labels[g].0, &labels[g].1);
            let (mut exposure, mut allowance, mut weighted) = (0i128, 0i128, 0.0f64);
            let mut rated = 0i128;
            for b in 0..nb {
                let e = m.bucket_open(k, g, b);
                let adjusted = rates[b].map(|r| (r * overlay).min(1.0));
                let a = adjusted.map_or(0, |r| share(e, r));
                exposure += e;
                allowance += a;
                if let Some(r) = rates[b] {
                    weighted += e as f64 * r;
                    rated += e;
                }
                rows.push(as_of, dimension, segment, &names[b], e, observed, rates[b], overlay, adjusted, a, None);
            }
            let opening = if k == 1 { 0 } else { closing[g] };
            let used = m.write_offs(k, g);
            let charge = allowance - opening + used;
            closing[g] = allowance;
            let historical = (rated > 0).then(|| weighted / rated as f64);
            let effective = (exposure > 0).then(|| allowance as f64 / exposure as f64);
            let flow = Some(Flow { opening, used, charge, closing: allowance });
            rows.push(
                as_of, dimension, segment, "ALL", exposure, observed, historical, overlay, effective, allowance, flow,
            );
            roll_forward.0 += opening + charge - used;
            roll_forward.1 += allowance;
            allowances.at[k].push((exposure, allowance));
        }
        checks.push(("ecl_roll_forward", as_of, roll_forward.0, roll_forward.1));
    }
    Ok(Built { table: rows.frame()?, checks, allowances: vec![allowances] })
}

/// `ecl_backtest`.
pub static ECL_BACKTEST_TABLE: TableContract = TableContract {
    name: "ecl_backtest",
    doc: "Each method's allowance at a month end against the write-offs then realised on the receivables open at it over the following `ecl.backtest_months` months (month ends whose horizon the data covers)",
    partition: None,
    columns: Cow::Borrowed(&[
        out("as_of", O::Date, false, "Month end of the allowance"),
        out("dimension", O::Text, false, "all, or the customers column the segment comes from"),
        out("segment", O::Text, false, "ALL, or the segment value"),
        out("method", O::Text, false, "The allowance's method (see `ecl`)"),
        out("horizon_months", O::Count, false, "Months after as_of the realised write-offs are counted over"),
        out("exposure", O::Money, false, "Open receivables at as_of (as_of rate)"),
        out("allowance", O::Money, false, "The method's allowance at as_of"),
        out(
            "realised_write_offs",
            O::Money,
            false,
            "What of the receivables open at as_of was written off within the horizon (as_of rate)",
        ),
        out("difference", O::Money, false, "allowance − realised_write_offs (positive: over-provided)"),
        out("coverage", O::Float, true, "allowance / realised_write_offs (null when nothing was written off)"),
    ]),
};

/// The `ecl_backtest` table of `allowances` (each method's): every month end `k` with
/// `k + backtest_months` in the data, every group.
pub fn backtest(ctx: &Context<'_>, m: &Monthly, allowances: &[Allowances]) -> Result<DataFrame> {
    let horizon = ctx.analysis.ecl.backtest_months as usize;
    let labels = &ctx.groups.labels;
    let mut rows: Vec<(i32, usize, &str, i128, i128, i128)> = Vec::new();
    for k in 1..m.k_count.saturating_sub(horizon) {
        for g in 0..m.groups {
            for a in allowances {
                if let Some(&(exposure, allowance)) = a.at.get(k).and_then(|at| at.get(g)) {
                    rows.push((ctx.months[k], g, a.method, exposure, allowance, m.realised_write_offs(k, g)));
                }
            }
        }
    }
    frame(
        &ECL_BACKTEST_TABLE,
        vec![
            date("as_of", rows.iter().map(|r| r.0)),
            text("dimension", rows.iter().map(|r| labels[r.1].0.as_str())),
            text("segment", rows.iter().map(|r| labels[r.1].1.as_str())),
            text("method", rows.iter().map(|r| r.2)),
            count("horizon_months", rows.iter().map(|_| horizon as u64)),
            money("exposure", rows.iter().map(|r| r.3 as i64)),
            money("allowance", rows.iter().map(|r| r.4 as i64)),
            money("realised_write_offs", rows.iter().map(|r| r.5 as i64)),
            money("difference", rows.iter().map(|r| (r.4 - r.5) as i64)),
            float_opt("coverage", rows.iter().map(|r| super::frame::ratio(r.4, r.5))),
        ],
    )
}

/// The roll-forward of a group's allowance over a month.
struct Flow {
    opening: i128,
    used: i128,
    charge: i128,
    closing: i128,
}

/// The table's rows, column by column.
#[derive(Default)]
struct Rows {
    as_of: Vec<i32>,
    dimension: Vec<String>,
    segment: Vec<String>,
    bucket: Vec<String>,
    exposure: Vec<i64>,
    observed: Vec<u64>,
    historical: Vec<Option<f64>>,
    overlay: Vec<f64>,
    adjusted: Vec<Option<f64>>,
    allowance: Vec<i64>,
    flow: Vec<Option<Flow>>,
}

impl Rows {
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        as_of: i32,
        dimension: &str,
        segment: &str,
        bucket: &str,
        exposure: i128,
        observed: u64,
        historical: Option<f64>,
        overlay: f64,
        adjusted: Option<f64>,
        allowance: i128,
        flow: Option<Flow>,
    ) {
        self.as_of.push(as_of);
        self.dimension.push(dimension.to_string());
        self.segment.push(segment.to_string());
        self.bucket.push(bucket.to_string());
        self.exposure.push(exposure as i64);
        self.observed.push(observed);
        self.historical.push(historical);
        self.overlay.push(overlay);
        self.adjusted.push(adjusted);
        self.allowance.push(allowance as i64);
        self.flow.push(flow);
    }

    fn frame(self) -> Result<DataFrame> {
        let flow = |f: fn(&Flow) -> i128| self.flow.iter().map(move |x| x.as_ref().map(|x| f(x) as i64));
        frame(
            &ECL_TABLE,
            vec![
                date("as_of", self.as_of.iter().copied()),
                text("dimension", self.dimension.iter().map(String::as_str)),
                text("segment", self.segment.iter().map(String::as_str)),
                text("method", self.as_of.iter().map(|_| "roll_rate")),
                text("bucket", self.bucket.iter().map(String::as_str)),
                money("exposure", self.exposure.iter().copied()),
                count("months_observed", self.observed.iter().copied()),
                float_opt("historical_loss_rate", self.historical.iter().copied()),
                float_opt("overlay", self.overlay.iter().map(|&o| Some(o))),
                float_opt("adjusted_loss_rate", self.adjusted.iter().copied()),
                money("allowance", self.allowance.iter().copied()),
                money_opt("opening_allowance", flow(|f| f.opening)),
                money_opt("write_offs_used", flow(|f| f.used)),
                money_opt("charge", flow(|f| f.charge)),
                money_opt("closing_allowance", flow(|f| f.closing)),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Transitions `[from][to]` of 3 buckets (then paid, credited, written off).
    fn moved(rows: [[i128; 6]; 3]) -> Vec<Vec<i128>> {
        rows.iter().map(|r| r.to_vec()).collect()
    }

    #[test]
    fn forward_rolls_give_the_product_of_the_roll_rates() {
        // current: 1000 held, 200 roll to 1-30, 800 paid.
        // 1-30: 400 held, 100 roll to 31+, 300 paid.
        // 31+: 50 exit, 10 of them written off; 150 stay.
        let m = moved([[0, 200, 0, 800, 0, 0], [0, 0, 100, 300, 0, 0], [0, 0, 150, 30, 10, 10]]);
        let r = loss_rates(&m, 3);
        assert_eq!(r[2], Some(0.2));
        assert_eq!(r[1], Some(0.25 * 0.2));
        assert!((r[0].unwrap() - 0.2 * 0.25 * 0.2).abs() < 1e-15);
    }

    #[test]
    fn direct_write_offs_add_to_the_chain_and_missing_history_gives_no_rate() {
        // 1-30 writes 40 of 400 off directly and rolls 100 on.
        let m = moved([[0, 0, 0, 0, 0, 0], [0, 0, 100, 260, 0, 40], [0, 0, 0, 40, 0, 10]]);
        let r = loss_rates(&m, 3);
        assert_eq!(r[2], Some(0.2));
        assert!((r[1].unwrap() - (0.1 + 0.25 * 0.2)).abs() < 1e-15);
        assert_eq!(r[0], None, "nothing was current in the lookback");
        // Nothing left the oldest bucket: no rate for it, nor for a bucket rolling into it.
        let m = moved([[0, 0, 0, 10, 0, 0], [0, 0, 5, 5, 0, 0], [0, 0, 9, 0, 0, 0]]);
        let r = loss_rates(&m, 3);
        assert_eq!(r[2], None);
        assert_eq!(r[1], None);
        assert_eq!(r[0], Some(0.0), "current never rolled on, so it needs no older rate");
    }

    #[test]
    fn scenarios_must_weigh_one_and_overlay_is_their_weighted_multiplier() {
        let p = EclParams {
            scenarios: Some(vec![
                ScenarioParams { name: "base".into(), weight: 0.6, multiplier: 1.0 },
                ScenarioParams { name: "downturn".into(), weight: 0.4, multiplier: 1.5 },
            ]),
            ..Default::default()
        };
        assert!((p.check().unwrap().overlay() - 1.2).abs() < 1e-12);
        let mut bad = p.clone();
        bad.scenarios.as_mut().unwrap()[1].weight = 0.3;
        assert!(bad.check().unwrap_err().to_string().contains("add up to 1"));
        let both = EclParams { overlay: Some(1.1), ..p };
        assert!(both.check().unwrap_err().to_string().contains("alternatives"));
        assert_eq!(EclParams { overlay: Some(1.1), ..Default::default() }.check().unwrap().overlay(), 1.1);
        assert_eq!(EclParams::default().check().unwrap(), Ecl::default());
    }
}
