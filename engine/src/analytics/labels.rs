//! Customer-level default labels for the feature panel (docs/definitions.md, "Models"): a customer observed at
//! `t0` defaults when, within `(t0, t0 + horizon]`, at least `share` of the amount open at
//! `t0` reaches `dpd` days past due while still open, or anything of it is written off.
//!
//! Only the invoices open at `t0` count, and each is checked on the day it would cross the
//! threshold, so the label is exact (no month-end sampling) and reads nothing after the
//! horizon. A row whose horizon ends after the data is unlabelled (`None`): it can be
//! scored, not trained on.
//!
//! A customer already in default at `t0` (at least `share` of its open amount is `dpd` days
//! past due that day) is not at risk of *becoming* delinquent: its label would only repeat
//! a feature. Such rows are marked [`Labels::in_default`] and left unlabelled, so models
//! learn from the customers still performing, as credit-risk practice does.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Context;
use super::features::Panel;
use super::walk::{at_rate, settled_by};
use crate::contracts::DocType;
use crate::error::{EngineError, Result};

/// `[models.label]` as written in a config; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelParams {
    /// Days after the observation date that the label looks at. Default 90.
    pub horizon_days: Option<u32>,
    /// Days past due that count as default. Default 61.
    pub dpd: Option<u32>,
    /// Share of the open amount that must reach `dpd`. Default 0.10.
    pub share: Option<f64>,
}

/// Checked label parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Labeling {
    pub horizon_days: i32,
    pub dpd: i32,
    pub share: f64,
}

impl LabelParams {
    /// Check every field and fill in the defaults.
    pub fn check(&self) -> Result<Labeling> {
        let horizon_days = self.horizon_days.unwrap_or(90);
        let dpd = self.dpd.unwrap_or(61);
        let share = self.share.unwrap_or(0.10);
        let bad = |m: String| Err(EngineError::config(m));
        if horizon_days == 0 || horizon_days > 730 {
            return bad(format!("`models.label.horizon_days` must be between 1 and 730, but is {horizon_days}"));
        }
        if dpd == 0 || dpd > 730 {
            return bad(format!("`models.label.dpd` must be between 1 and 730, but is {dpd}"));
        }
        if !(share > 0.0 && share <= 1.0) {
            return bad(format!("`models.label.share` must be in (0, 1], but is {share}"));
        }
        Ok(Labeling { horizon_days: horizon_days as i32, dpd: dpd as i32, share })
    }
}

/// Labels of the panel rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    /// Whether the customer defaults within the horizon; `None` when the horizon passes
    /// the data or the customer is already in default.
    pub label: Vec<Option<bool>>,
    /// Whether the customer is already in default at the observation date.
    pub in_default: Vec<bool>,
}

/// Customer `c` at `t0`: its label, and whether it is already in default that day (then
/// unlabelled). One pass over the documents open at `t0` serves both.
fn outcome(ctx: &Context<'_>, l: &Labeling, t0: i32, c: usize) -> (Option<bool>, bool) {
    let docs = &ctx.book.docs;
    let range = ctx.book.customers.docs(c);
    let end = t0 + l.horizon_days;
    let known = end <= ctx.last_day;
    // Reporting cents open at t0, of it already `dpd` past due, and of it still open on the
    // day it would cross `dpd` within the horizon.
    let (mut open, mut due, mut reached) = (0i64, 0i64, 0i64);
    for d in range.clone().filter(|&d| docs.kind[d].is_receivable() && docs.date[d] <= t0) {
        let rate = i128::from(docs.rate[d]);
        let left = docs.amount[d] - settled_by(ctx.apps, d, t0).total();
        if left <= 0 {
            continue;
        }
        let rep = at_rate(left, rate);
        open += rep;
        let due_day = docs.due[d].unwrap_or(docs.date[d]);
        if t0 - due_day >= l.dpd {
            due += rep;
        }
        let crossing = (due_day + l.dpd).max(t0 + 1);
        if known && crossing <= end {
            let still = docs.amount[d] - settled_by(ctx.apps, d, crossing).total();
            if still > 0 {
                reached += at_rate(still, rate);
            }
        }
    }
    let meets = |amount: i64| amount > 0 && amount as f64 >= l.share * open as f64;
    if meets(due) {
        return (None, true);
    }
    if !known {
        return (None, false);
    }
    let written_off =
        range.clone().any(|d| docs.kind[d] == DocType::WriteOff && docs.date[d] > t0 && docs.date[d] <= end);
    (Some(written_off || meets(reached)), false)
}

/// The labels of every panel row.
pub fn customer_default(ctx: &Context<'_>, panel: &Panel, labeling: &Labeling) -> Labels {
    let rows: Vec<(Option<bool>, bool)> = (0..panel.len())
        .into_par_iter()
        .map(|i| outcome(ctx, labeling, panel.as_of[i], panel.customer[i] as usize))
        .collect();
    let (label, in_default) = rows.into_iter().unzip();
    Labels { label, in_default }
}
