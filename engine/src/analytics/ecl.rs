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
//!
//! The loss-rate method on billing cohorts (`method = loss_rate`, one `ALL` row per month end
//! and group) is CECL's vintage approach: the rates of invoices by months since billing, from
//! the write-offs of older billing vintages at the same age (`docs/definitions.md`).
//!
//! The PD method (`method = pd`, with `ecl.lgd` set) adds one `ALL` row per month end and group
//! from the models' scores: Σ over customers of min(1, PD × overlay) × LGD × open receivables,
//! each to the cent ([`PdSums`], built in the models stage; a customer already in default
//! counts with PD 1), with its own roll-forward. Both methods are judged in `ecl_backtest`.
//! Definitions and a worked example: `docs/definitions.md`, "Expected credit loss".

use std::borrow::Cow;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use super::Context;
use super::frame::{count, count_opt, date, float_opt, frame, money, money_opt, text};
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
        out(
            "method",
            O::Text,
            false,
            "roll_rate: the provision matrix by the roll-rate (migration) method; loss_rate: billing cohorts' historical loss rates by age (ALL rows only); pd: Σ PD × LGD × exposure from the champion model (ALL rows only)",
        ),
        out("bucket", O::Text, false, "Aging bucket, or ALL for the totals and the roll-forward"),
        out("exposure", O::Money, false, "Open receivables in the bucket at as_of (as_of rate)"),
        out(
            "months_observed",
            O::Count,
            true,
            "roll_rate: month-to-month transitions in the lookback the rates rest on; loss_rate: vintages behind the youngest age's rate; null for pd",
        ),
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
    /// Loss given default of the PD method: the share of a defaulted customer's exposure that
    /// is lost. The PD method runs only when it is set: ardent's default label is a
    /// delinquency event (`models.label`), most of which is paid in the end, so no default
    /// value would be honest (on `m` the share of defaulted exposure later written off is
    /// about 4%).
    pub lgd: Option<f64>,
    /// Loss given default per value of the first segment column, where it differs from `lgd`.
    pub lgd_by_segment: Option<std::collections::BTreeMap<String, f64>>,
}

/// `[ecl]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Ecl {
    pub lookback_months: u32,
    pub scenarios: Vec<ScenarioParams>,
    pub backtest_months: u32,
    /// The PD method's loss given default (none: the PD method does not run).
    pub lgd: Option<f64>,
    pub lgd_by_segment: std::collections::BTreeMap<String, f64>,
}

impl Default for Ecl {
    fn default() -> Ecl {
        Ecl {
            lookback_months: 24,
            scenarios: Vec::new(),
            backtest_months: 12,
            lgd: None,
            lgd_by_segment: Default::default(),
        }
    }
}

impl Ecl {
    /// The loss given default of a customer of `segment` (the first segment column's value),
    /// when the PD method runs.
    pub fn lgd_of(&self, segment: &str) -> Option<f64> {
        self.lgd.map(|lgd| self.lgd_by_segment.get(segment).copied().unwrap_or(lgd))
    }

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
        let lgd = self.lgd;
        let lgd_by_segment = self.lgd_by_segment.clone().unwrap_or_default();
        if lgd.is_none() && !lgd_by_segment.is_empty() {
            return Err(config(
                "`ecl.lgd_by_segment` needs `ecl.lgd` too (the loss given default of the other segments)".into(),
            ));
        }
        for (name, v) in lgd
            .map(|v| ("lgd".to_string(), v))
            .into_iter()
            .chain(lgd_by_segment.iter().map(|(s, v)| (format!("lgd_by_segment.{s}"), *v)))
        {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                return Err(config(format!("`ecl.{name}` must be between 0 and 1, but is {v}")));
            }
        }
        Ok(Ecl { lookback_months, scenarios, backtest_months, lgd, lgd_by_segment })
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

/// The PD method's sums per month end and group (the models stage adds every scored
/// customer-month; the shards' sums add up): exposure, Σ PD × LGD × exposure and the same with
/// the overlay, each customer's amount rounded to the cent. Customers already in default count
/// with PD 1.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PdSums {
    /// Month end → per group `[exposure, expected loss, expected loss with the overlay]`.
    pub months: std::collections::BTreeMap<i32, Vec<[i128; 3]>>,
}

impl PdSums {
    /// Add a customer of `groups` at month end `as_of`.
    pub fn add(&mut self, as_of: i32, groups: &[usize], customer: Customer) {
        let Customer { exposure, pd, lgd, overlay } = customer;
        let e = i128::from(exposure.max(0));
        let expected = share(e, (pd * lgd).clamp(0.0, 1.0));
        let adjusted = share(e, ((pd * overlay).min(1.0) * lgd).clamp(0.0, 1.0));
        let month = self.months.entry(as_of).or_default();
        for &g in groups {
            if month.len() <= g {
                month.resize(g + 1, [0; 3]);
            }
            month[g][0] += e;
            month[g][1] += expected;
            month[g][2] += adjusted;
        }
    }

    /// Add another part's sums (a shard's).
    pub fn merge(&mut self, other: &PdSums) {
        for (&as_of, groups) in &other.months {
            let month = self.months.entry(as_of).or_default();
            if month.len() < groups.len() {
                month.resize(groups.len(), [0; 3]);
            }
            for (a, b) in month.iter_mut().zip(groups) {
                for f in 0..3 {
                    a[f] += b[f];
                }
            }
        }
    }
}

/// A scored customer at a month end, as the PD method counts it.
#[derive(Debug, Clone, Copy)]
pub struct Customer {
    /// Open receivables, in reporting cents (a negative balance counts as 0).
    pub exposure: i64,
    pub pd: f64,
    pub lgd: f64,
    /// The forward-looking overlay (PD × overlay is capped at 1).
    pub overlay: f64,
}

/// One row of `ecl`, with its place: month end index, group, method (0 roll rate, 1 PD).
struct Row {
    k: usize,
    g: usize,
    method: usize,
    bucket: String,
    exposure: i128,
    observed: Option<u64>,
    historical: Option<f64>,
    adjusted: Option<f64>,
    allowance: i128,
    flow: Option<Flow>,
}

/// The roll-forward of a group's allowance over a month.
struct Flow {
    opening: i128,
    used: i128,
    charge: i128,
    closing: i128,
}

impl Flow {
    /// From the previous closing (`None` at a method's first month end: opening 0) to
    /// `closing`, with `used` written off in the month: the charge is what closes it.
    fn after(previous: Option<i128>, closing: i128, used: i128) -> Flow {
        let opening = previous.unwrap_or(0);
        Flow { opening, used, charge: closing - opening + used, closing }
    }
}

/// The methods of `ecl`, in the order of their rows.
const METHODS: [&str; 3] = ["roll_rate", "loss_rate", "pd"];

/// What the `ecl` and `ecl_backtest` tables are made of once the monthly sums are built: the
/// roll-rate method's rows and checks, and what the PD method (from the models, which run
/// later) needs to join them ([`Parts::finish`]).
pub struct Parts {
    rows: Vec<Row>,
    /// The roll-rate method's reconciliation checks, one per month end.
    pub checks: Vec<EclCheck>,
    months: Vec<i32>,
    labels: Vec<(String, String)>,
    /// `[k][g]` write-offs dated in month `k`, and written off within the horizon of the
    /// receivables open at `k`.
    write_offs: Vec<Vec<i128>>,
    realised: Vec<Vec<i128>>,
    horizon: usize,
    overlay: f64,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ecl::Parts").field("rows", &self.rows.len()).field("months", &self.months.len()).finish()
    }
}

/// The loss-rate method at month end `k` for group `g`: its exposure (invoices still open, by
/// billing month), allowance, exposure-weighted rate and the vintages its youngest age rests on.
struct Vintages {
    exposure: i128,
    allowance: i128,
    historical: Option<f64>,
    vintages: u64,
}

/// The historical loss-rate method on billing cohorts (CECL's vintage approach), point in time:
/// for each age `a` in months since billing, the rate is what the last `lookback` vintages
/// whose outcome `horizon` months later is known at `k` (billed in month `c` with
/// `c + a + horizon ≤ k`) wrote off between ages `a` and `a + horizon`, over what they still
/// had open at age `a`; ages older than any judged vintage take the oldest judged age's rate.
/// The invoices billed in month `k − a` and still open at `k` are that age's exposure (at their
/// document rate, as the cohorts are).
fn vintages(m: &Monthly, k: usize, g: usize, horizon: usize, lookback: usize, overlay: f64) -> Vintages {
    use super::kpi::{C_BILLED, C_CREDITED, C_PAID, C_WRITTEN_OFF};
    let open = |c: usize, a: usize| {
        m.cohort(c, 0, g, C_BILLED)
            - m.cohort(c, a, g, C_PAID)
            - m.cohort(c, a, g, C_CREDITED)
            - m.cohort(c, a, g, C_WRITTEN_OFF)
    };
    let (mut exposure, mut allowance, mut weighted, mut rated) = (0i128, 0i128, 0.0f64, 0i128);
    let mut last_rate: Option<f64> = None;
    let mut vintages = 0u64;
    // Ages from the youngest: an age with no judged vintage keeps the previous age's rate.
    for a in 0..k {
        let newest = k.checked_sub(a + horizon).filter(|&c| c >= 1);
        if let Some(newest) = newest {
            let oldest = newest.saturating_sub(lookback - 1).max(1);
            let (mut lost, mut held) = (0i128, 0i128);
            for c in oldest..=newest {
                lost += m.cohort(c, a + horizon, g, C_WRITTEN_OFF) - m.cohort(c, a, g, C_WRITTEN_OFF);
                held += open(c, a);
            }
            if a == 0 {
                vintages = (newest + 1 - oldest) as u64;
            }
            if held > 0 {
                last_rate = Some(lost as f64 / held as f64);
            }
        }
        let e = open(k - a, a);
        if e <= 0 {
            continue;
        }
        exposure += e;
        if let Some(r) = last_rate {
            allowance += share(e, (r * overlay).min(1.0));
            weighted += e as f64 * r;
            rated += e;
        }
    }
    Vintages { exposure, allowance, historical: (rated > 0).then(|| weighted / rated as f64), vintages }
}

/// The roll-rate and loss-rate methods' rows and checks (see the module's documentation),
/// from the monthly sums; the roll-forward check is (opening + charge − write-offs used,
/// closing) summed over both methods and every group, the opening being the previous month
/// end's closing.
pub fn build(ctx: &Context<'_>, m: &Monthly) -> Result<Parts> {
    let ecl = &ctx.analysis.ecl;
    let names = &ctx.analysis.buckets.names;
    let nb = m.buckets;
    let overlay = ecl.overlay();
    let lookback = ecl.lookback_months as usize;
    let mut rows = Vec::new();
    let mut checks = Vec::new();
    // The previous month end's closing allowance per group, of each method.
    let mut closing: [Vec<Option<i128>>; 2] = [vec![None; m.groups], vec![None; m.groups]];
    let horizon = ecl.backtest_months as usize;
    for k in 1..m.k_count {
        let as_of = ctx.months[k];
        let first = k.saturating_sub(lookback - 1).max(1);
        let mut roll_forward = (0i128, 0i128);
        let mut close = |method: usize, g: usize, allowance: i128| {
            let flow = Flow::after(closing[method][g].replace(allowance), allowance, m.write_offs(k, g));
            roll_forward.0 += flow.opening + flow.charge - flow.used;
            roll_forward.1 += flow.closing;
            flow
        };
        for g in 0..m.groups {
            let v = vintages(m, k, g, horizon, lookback, overlay);
            rows.push(Row {
                k,
                g,
                method: 1,
                bucket: "ALL".into(),
                exposure: v.exposure,
                observed: Some(v.vintages),
                historical: v.historical,
                adjusted: (v.exposure > 0).then(|| v.allowance as f64 / v.exposure as f64),
                allowance: v.allowance,
                flow: Some(close(1, g, v.allowance)),
            });
        }
        for g in 0..m.groups {
            let mut moved = vec![vec![0i128; nb + 3]; nb];
            for kk in first..=k {
                for (from, row) in moved.iter_mut().enumerate() {
                    for (to, cell) in row.iter_mut().enumerate() {
                        *cell += m.roll(kk, g, from, to);
                    }
                }
            }
            let observed = Some((k + 1 - first) as u64);
            let rates = loss_rates(&moved, nb);
            let (mut exposure, mut allowance, mut weighted, mut rated) = (0i128, 0i128, 0.0f64, 0i128);
            for (b, name) in names.iter().enumerate().take(nb) {
                let e = m.bucket_open(k, g, b);
                let adjusted = rates[b].map(|r| (r * overlay).min(1.0));
                let a = adjusted.map_or(0, |r| share(e, r));
                exposure += e;
                allowance += a;
                if let Some(r) = rates[b] {
                    weighted += e as f64 * r;
                    rated += e;
                }
                let bucket = name.clone();
                rows.push(Row {
                    k,
                    g,
                    method: 0,
                    bucket,
                    exposure: e,
                    observed,
                    historical: rates[b],
                    adjusted,
                    allowance: a,
                    flow: None,
                });
            }
            rows.push(Row {
                k,
                g,
                method: 0,
                bucket: "ALL".into(),
                exposure,
                observed,
                historical: (rated > 0).then(|| weighted / rated as f64),
                adjusted: (exposure > 0).then(|| allowance as f64 / exposure as f64),
                allowance,
                flow: Some(close(0, g, allowance)),
            });
        }
        checks.push(("ecl_roll_forward", as_of, roll_forward.0, roll_forward.1));
    }
    let per_month = |f: &dyn Fn(usize, usize) -> i128| -> Vec<Vec<i128>> {
        (0..m.k_count).map(|k| (0..m.groups).map(|g| f(k, g)).collect()).collect()
    };
    Ok(Parts {
        rows,
        checks,
        months: ctx.months.clone(),
        labels: ctx.groups.labels.clone(),
        write_offs: per_month(&|k, g| m.write_offs(k, g)),
        realised: per_month(&|k, g| m.realised_write_offs(k, g)),
        horizon: ecl.backtest_months as usize,
        overlay,
    })
}

impl Parts {
    /// The `ecl` and `ecl_backtest` tables: the roll-rate method's rows, and with `pd` (the
    /// models' sums) the PD method's, one `ALL` row per month end and group the models scored,
    /// with its own roll-forward (its opening is 0 at the first month end it has).
    pub fn finish(mut self, pd: Option<&PdSums>) -> Result<(DataFrame, DataFrame)> {
        if let Some(pd) = pd {
            let mut closing: Vec<Option<i128>> = vec![None; self.labels.len()];
            for (k, &as_of) in self.months.iter().enumerate().skip(1) {
                let Some(groups) = pd.months.get(&as_of) else { continue };
                for (g, &[exposure, expected, adjusted]) in groups.iter().enumerate() {
                    let flow = Flow::after(closing[g].replace(adjusted), adjusted, self.write_offs[k][g]);
                    self.rows.push(Row {
                        k,
                        g,
                        method: 2,
                        bucket: "ALL".into(),
                        exposure,
                        observed: None,
                        historical: (exposure > 0).then(|| expected as f64 / exposure as f64),
                        adjusted: (exposure > 0).then(|| adjusted as f64 / exposure as f64),
                        allowance: adjusted,
                        flow: Some(flow),
                    });
                }
            }
        }
        // By month end, group, method; a method's buckets in their order, ALL last.
        self.rows.sort_by_key(|r| (r.k, r.g, r.method));
        let backtest = self.backtest()?;
        Ok((self.frame()?, backtest))
    }

    fn frame(&self) -> Result<DataFrame> {
        let r = &self.rows;
        let flow = |f: fn(&Flow) -> i128| r.iter().map(move |x| x.flow.as_ref().map(|x| f(x) as i64));
        frame(
            &ECL_TABLE,
            vec![
                date("as_of", r.iter().map(|x| self.months[x.k])),
                text("dimension", r.iter().map(|x| self.labels[x.g].0.as_str())),
                text("segment", r.iter().map(|x| self.labels[x.g].1.as_str())),
                text("method", r.iter().map(|x| METHODS[x.method])),
                text("bucket", r.iter().map(|x| x.bucket.as_str())),
                money("exposure", r.iter().map(|x| x.exposure as i64)),
                count_opt("months_observed", r.iter().map(|x| x.observed)),
                float_opt("historical_loss_rate", r.iter().map(|x| x.historical)),
                float_opt("overlay", r.iter().map(|_| Some(self.overlay))),
                float_opt("adjusted_loss_rate", r.iter().map(|x| x.adjusted)),
                money("allowance", r.iter().map(|x| x.allowance as i64)),
                money_opt("opening_allowance", flow(|f| f.opening)),
                money_opt("write_offs_used", flow(|f| f.used)),
                money_opt("charge", flow(|f| f.charge)),
                money_opt("closing_allowance", flow(|f| f.closing)),
            ],
        )
    }

    /// Every method's `ALL` row at each month end `k` with `k + horizon` in the data, against
    /// the write-offs realised on the receivables open at `k`.
    fn backtest(&self) -> Result<DataFrame> {
        let last = self.months.len().saturating_sub(self.horizon);
        let judged: Vec<&Row> = self.rows.iter().filter(|r| r.flow.is_some() && r.k < last).collect();
        let realised = |r: &Row| self.realised[r.k][r.g];
        frame(
            &ECL_BACKTEST_TABLE,
            vec![
                date("as_of", judged.iter().map(|r| self.months[r.k])),
                text("dimension", judged.iter().map(|r| self.labels[r.g].0.as_str())),
                text("segment", judged.iter().map(|r| self.labels[r.g].1.as_str())),
                text("method", judged.iter().map(|r| METHODS[r.method])),
                count("horizon_months", judged.iter().map(|_| self.horizon as u64)),
                money("exposure", judged.iter().map(|r| r.exposure as i64)),
                money("allowance", judged.iter().map(|r| r.allowance as i64)),
                money("realised_write_offs", judged.iter().map(|r| realised(r) as i64)),
                money("difference", judged.iter().map(|r| (r.allowance - realised(r)) as i64)),
                float_opt("coverage", judged.iter().map(|r| super::frame::ratio(r.allowance, realised(r)))),
            ],
        )
    }
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
        out("exposure", O::Money, false, "The method's exposure at as_of (as_of rate)"),
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

/// The tables of the allowance, in publishing order (after the models', whose PDs the PD
/// method uses).
pub fn contracts() -> [TableContract; 2] {
    [ECL_TABLE.clone(), ECL_BACKTEST_TABLE.clone()]
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
    fn pd_sums_are_exact_per_customer_and_add_up_in_any_order() {
        // Two customers in groups [0, 1] and [0, 2]: exposure 1000.00 at PD 0.2 and 500.00 at
        // PD 0.9 (overlay 1.5 caps it at 1), LGD 0.5; a negative exposure counts as 0.
        let customers = [(vec![0, 1], 100_000, 0.2), (vec![0, 2], 50_000, 0.9), (vec![0, 2], -7_000, 0.5)];
        let mut whole = PdSums::default();
        let customer = |e: i64, pd: f64| Customer { exposure: e, pd, lgd: 0.5, overlay: 1.5 };
        for (groups, e, pd) in &customers {
            whole.add(19_000, groups, customer(*e, *pd));
        }
        assert_eq!(
            whole.months[&19_000],
            vec![[150_000, 10_000 + 22_500, 15_000 + 25_000], [100_000, 10_000, 15_000], [50_000, 22_500, 25_000]]
        );
        let (mut a, mut b) = (PdSums::default(), PdSums::default());
        b.add(19_000, &customers[1].0, customer(customers[1].1, customers[1].2));
        a.add(19_000, &customers[2].0, customer(customers[2].1, customers[2].2));
        a.add(19_000, &customers[0].0, customer(customers[0].1, customers[0].2));
        b.merge(&a);
        assert_eq!(b, whole);
    }

    #[test]
    fn the_pd_method_rolls_its_allowance_forward_and_is_backtested() {
        // Month ends k = 1, 2, 3 (k = 0 is the opening day); one group; the models scored
        // months 2 and 3 only. Write-offs 40.00 in month 3; 25.00 of what was open at month 2
        // was written off within the 1-month horizon.
        let months = vec![19_000, 19_030, 19_060, 19_090];
        let parts = Parts {
            rows: Vec::new(),
            checks: Vec::new(),
            months: months.clone(),
            labels: vec![("all".into(), "ALL".into())],
            write_offs: vec![vec![0], vec![0], vec![0], vec![4_000]],
            realised: vec![vec![0], vec![0], vec![2_500], vec![0]],
            horizon: 1,
            overlay: 1.0,
        };
        let mut pd = PdSums::default();
        pd.months.insert(months[2], vec![[100_000, 3_000, 3_000]]);
        pd.months.insert(months[3], vec![[80_000, 1_500, 2_000]]);
        let (table, backtest) = parts.finish(Some(&pd)).unwrap();
        let cents = |df: &DataFrame, col: &str| -> Vec<Option<i128>> {
            df.column(col).unwrap().decimal().unwrap().physical().iter().collect()
        };
        assert_eq!(table.height(), 2);
        assert_eq!(cents(&table, "allowance"), [Some(3_000), Some(2_000)]);
        assert_eq!(cents(&table, "opening_allowance"), [Some(0), Some(3_000)]);
        assert_eq!(cents(&table, "write_offs_used"), [Some(0), Some(4_000)]);
        // Month 3: 2,000 − 3,000 + 4,000.
        assert_eq!(cents(&table, "charge"), [Some(3_000), Some(3_000)]);
        let rate: Vec<Option<f64>> = table.column("historical_loss_rate").unwrap().f64().unwrap().iter().collect();
        assert_eq!(rate, [Some(0.03), Some(1_500.0 / 80_000.0)]);
        // Only month 2 has its horizon (month 3) in the data.
        assert_eq!(backtest.height(), 1);
        assert_eq!(cents(&backtest, "realised_write_offs"), [Some(2_500)]);
        assert_eq!(cents(&backtest, "difference"), [Some(500)]);
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
