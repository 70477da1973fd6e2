//! What works? `channel_effectiveness`: for each segment × risk band × channel, the cure rate
//! of past-due accounts actioned through the channel in a week against comparable accounts
//! not actioned at all that week. Definitions: docs/definitions.md, "Channel effectiveness".
//!
//! The unit is a (customer, week): the customer has a receivable past due at the week's start
//! (a Monday, debtor's local dates). It is *treated* by a channel when the collector acted
//! through it that week (an outbound activity), a *control* when the collector did nothing.
//! It is *cured* when every receivable past due at the week's start is settled by the week's
//! end plus `cure_days`. Units are compared within strata of segment × the champion's risk
//! band at the month end before the week × days past due (of the oldest open receivable:
//! 1–30, 31–60, 61–90, 91+): the treated cure rate against the control rate standardised to
//! the treated units' strata, the difference (uplift) with a 95% Wald interval from the
//! per-stratum binomial variances. Treated units in a stratum without controls are counted as
//! unmatched and left out. Every count is an exact integer; rates are formed last, in key
//! order, so the table is the same whatever the thread count.

use std::borrow::Cow;
use std::collections::BTreeMap;

use foldhash::HashMap;
use polars::prelude::DataFrame;

use super::log::ActivityLog;
use crate::analytics::frame;
use crate::book::Book;
use crate::cash::Applications;
use crate::contracts::activity::{Channel, Code};
use crate::contracts::{OutType as O, TableContract, out};
use crate::error::Result;

/// The band of a customer the champion did not score at that month end (or without models).
pub const UNSCORED: u8 = u8::MAX;

/// Each customer's risk band at each month end the champion scored, and its PD at the last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Risk {
    /// Month ends scored, ascending.
    pub month_ends: Vec<i32>,
    /// Band names by index (safest first).
    pub names: Vec<String>,
    /// `band[k * customers + c]`: customer `c`'s band index at `month_ends[k]`, or [`UNSCORED`].
    pub band: Vec<u8>,
    /// Per customer, its PD at the last month end (none when not scored then).
    pub pd: Vec<Option<f64>>,
}

impl Risk {
    fn customers(&self) -> usize {
        self.pd.len()
    }

    /// Customer `c`'s band at the latest month end before `day`.
    pub fn band_before(&self, c: usize, day: i32) -> u8 {
        let k = self.month_ends.partition_point(|&m| m < day);
        if k == 0 { UNSCORED } else { self.band.get((k - 1) * self.customers() + c).copied().unwrap_or(UNSCORED) }
    }
}

/// The name of band `b` (`unscored` for [`UNSCORED`]).
pub fn band_name(risk: Option<&Risk>, b: u8) -> &str {
    match risk {
        Some(r) if b != UNSCORED => r.names.get(usize::from(b)).map_or("unscored", String::as_str),
        _ => "unscored",
    }
}

/// Days-past-due buckets of the strata: upper bounds and names.
pub const DPD_BUCKETS: [(i32, &str); 4] = [(30, "1-30"), (60, "31-60"), (90, "61-90"), (i32::MAX, "91+")];

/// The bucket of `days` past due (1 or more).
pub fn dpd_bucket(days: i32) -> u8 {
    DPD_BUCKETS.iter().position(|&(upper, _)| days <= upper).unwrap_or(DPD_BUCKETS.len() - 1) as u8
}

/// The Monday on or before `day` (day 0, 1970-01-01, was a Thursday).
pub fn week_of(day: i32) -> i32 {
    day - (day + 3).rem_euclid(7)
}

const CHANNELS: usize = Channel::ALL.len();

/// Units and cures of one stratum: per channel treated, and controls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stratum {
    /// Per channel (in `Channel::ALL` order): [units, cured].
    pub treated: [[u64; 2]; CHANNELS],
    /// [units, cured] of the weeks without any outbound activity.
    pub control: [u64; 2],
}

impl Stratum {
    fn add(&mut self, o: &Stratum) {
        for (a, b) in self.treated.iter_mut().zip(&o.treated) {
            a[0] += b[0];
            a[1] += b[1];
        }
        self.control[0] += o.control[0];
        self.control[1] += o.control[1];
    }
}

/// A stratum's key: segment value index, band index, days-past-due bucket.
pub type Key = (u32, u8, u8);

/// Every (customer, week) unit of the weeks the log covers, counted into its stratum. Weeks
/// run from the one of the log's first activity to the last whose end plus `cure_days` is
/// on or before `last_day`.
pub fn strata(
    log: &ActivityLog,
    book: &Book,
    apps: &Applications,
    risk: Option<&Risk>,
    cure_days: i32,
    last_day: i32,
) -> BTreeMap<Key, Stratum> {
    use rayon::prelude::*;
    let Some(first) = log.rows.iter().map(|a| a.local_day()).min() else { return BTreeMap::new() };
    let weeks = (week_of(first), last_day - 6 - cure_days);
    let found = (0..book.customers.len())
        .into_par_iter()
        .fold(HashMap::<Key, Stratum>::default, |mut acc, c| {
            customer_units(log, book, apps, risk, cure_days, weeks, c, &mut acc);
            acc
        })
        .reduce(HashMap::default, |mut a, b| {
            for (k, v) in b {
                a.entry(k).or_default().add(&v);
            }
            a
        });
    found.into_iter().collect()
}

#[allow(clippy::too_many_arguments)]
fn customer_units(
    log: &ActivityLog,
    book: &Book,
    apps: &Applications,
    risk: Option<&Risk>,
    cure_days: i32,
    (first_week, last_week): (i32, i32),
    c: usize,
    acc: &mut HashMap<Key, Stratum>,
) {
    let due = super::ByDue::of(&super::receivables(book, apps, c));
    let rec = &due.rows;
    if rec.is_empty() {
        return;
    }
    // The channels of the collector's actions per week.
    let mut actioned: Vec<(i32, u16)> = log
        .of_customer(c)
        .filter(|&i| log.rows[i].outbound())
        .map(|i| (week_of(log.rows[i].local_day()), 1u16 << channel_index(log.rows[i].channel)))
        .collect();
    actioned.sort_unstable_by_key(|a| a.0);
    let segment = book.customers.dims.first().map_or(0, |d| d.of_customer[c]);
    let (mut open, mut next_action) = (0, 0);
    let mut week = first_week.max(week_of(rec[0].0));
    while week <= last_week {
        // Receivables settled by the week's start stay settled: the first one not is the
        // oldest open.
        while open < rec.len() && rec[open].1 <= week {
            open += 1;
        }
        let Some(&(oldest, _)) = rec.get(open) else { break };
        if oldest < week {
            // Past due here, so the latest settlement of what is past due is known.
            let cured = u64::from(due.past_due_settled(week).is_some_and(|s| s <= week + 6 + cure_days));
            let band = risk.map_or(UNSCORED, |r| r.band_before(c, week));
            let mut mask = 0u16;
            while next_action < actioned.len() && actioned[next_action].0 <= week {
                if actioned[next_action].0 == week {
                    mask |= actioned[next_action].1;
                }
                next_action += 1;
            }
            let s = acc.entry((segment, band, dpd_bucket(week - oldest))).or_default();
            if mask == 0 {
                s.control[0] += 1;
                s.control[1] += cured;
            } else {
                for (ch, t) in s.treated.iter_mut().enumerate() {
                    if mask & (1 << ch) != 0 {
                        t[0] += 1;
                        t[1] += cured;
                    }
                }
            }
        }
        week += 7;
    }
}

fn channel_index(c: Channel) -> usize {
    Channel::ALL.iter().position(|&x| x == c).unwrap_or(0)
}

/// A channel's effect over a set of strata.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Estimate {
    /// Treated units in strata with controls, and how many of them cured.
    pub treated: u64,
    pub cured: u64,
    /// Control units of those strata.
    pub controls: u64,
    /// Treated units in strata without controls (left out).
    pub unmatched: u64,
    pub cure_rate: Option<f64>,
    /// The control cure rate standardised to the treated units' strata.
    pub control_rate: Option<f64>,
    pub uplift: Option<f64>,
    /// 95% interval of the uplift.
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// Units needed on each side before the table calls an effect.
pub const MIN_UNITS: u64 = 30;

impl Estimate {
    /// `works`, `worse`, `no_difference` (the interval holds 0) or `too_few` (fewer than
    /// [`MIN_UNITS`] treated or control units).
    pub fn verdict(&self) -> &'static str {
        match (self.low, self.high) {
            _ if self.treated < MIN_UNITS || self.controls < MIN_UNITS => "too_few",
            (Some(low), _) if low > 0.0 => "works",
            (_, Some(high)) if high < 0.0 => "worse",
            _ => "no_difference",
        }
    }
}

/// Channel `ch`'s effect over `strata`.
pub fn estimate<'a>(strata: impl Iterator<Item = &'a Stratum> + Clone, ch: usize) -> Estimate {
    let mut e = Estimate::default();
    for s in strata.clone() {
        let [n, x] = s.treated[ch];
        if s.control[0] == 0 {
            e.unmatched += n;
        } else if n > 0 {
            e.treated += n;
            e.cured += x;
            e.controls += s.control[0];
        }
    }
    if e.treated == 0 {
        return e;
    }
    let total = e.treated as f64;
    let (mut control_rate, mut var_treated, mut var_control) = (0.0, 0.0, 0.0);
    for s in strata {
        let ([n, x], [m, y]) = (s.treated[ch], s.control);
        if n == 0 || m == 0 {
            continue;
        }
        let (w, p, q) = (n as f64 / total, x as f64 / n as f64, y as f64 / m as f64);
        control_rate += w * q;
        var_treated += w * w * p * (1.0 - p) / n as f64;
        var_control += w * w * q * (1.0 - q) / m as f64;
    }
    let rate = e.cured as f64 / total;
    let uplift = rate - control_rate;
    let half = 1.96 * (var_treated + var_control).sqrt();
    e.cure_rate = Some(rate);
    e.control_rate = Some(control_rate);
    e.uplift = Some(uplift);
    e.low = Some(uplift - half);
    e.high = Some(uplift + half);
    e
}

/// One row of the table: a segment (or all), a band (or all), a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Effect {
    pub segment: Option<u32>,
    pub band: Option<u8>,
    pub channel: Channel,
    pub estimate: Estimate,
}

/// Every row: each segment × each band × each channel actioned in it, each segment × all
/// bands, and all segments × all bands (when there are segments). Rows in segment, band and
/// channel order, "all" last.
pub fn effects(strata: &BTreeMap<Key, Stratum>, has_segments: bool) -> Vec<Effect> {
    let mut groups: Vec<(Option<u32>, Option<u8>)> = Vec::new();
    let segments: Vec<u32> = {
        let mut s: Vec<u32> = strata.keys().map(|k| k.0).collect();
        s.dedup();
        s
    };
    for &seg in segments.iter().filter(|_| has_segments) {
        let mut bands: Vec<u8> = strata.keys().filter(|k| k.0 == seg).map(|k| k.1).collect();
        bands.dedup();
        groups.extend(bands.into_iter().map(|b| (Some(seg), Some(b))));
        groups.push((Some(seg), None));
    }
    if !has_segments {
        let mut bands: Vec<u8> = strata.keys().map(|k| k.1).collect();
        bands.sort_unstable();
        bands.dedup();
        groups.extend(bands.into_iter().map(|b| (None, Some(b))));
    }
    groups.push((None, None));
    let mut rows = Vec::new();
    for (seg, band) in groups {
        let of = || {
            strata
                .iter()
                .filter(move |(k, _)| seg.is_none_or(|s| k.0 == s) && band.is_none_or(|b| k.1 == b))
                .map(|(_, s)| s)
        };
        for (ch, &channel) in Channel::ALL.iter().enumerate() {
            let estimate = estimate(of(), ch);
            if estimate.treated + estimate.unmatched > 0 {
                rows.push(Effect { segment: seg, band, channel, estimate });
            }
        }
    }
    rows
}

/// `channel_effectiveness`.
pub static CHANNEL_EFFECTIVENESS_TABLE: TableContract = TableContract {
    name: "channel_effectiveness",
    doc: "What works: the cure rate of past-due accounts actioned through each channel in a week against comparable accounts not actioned that week (same segment, risk band and days past due), with the uplift's 95% interval",
    partition: None,
    columns: Cow::Borrowed(&[
        out("segment", O::Text, false, "The customers' segment (first segment column), or ALL"),
        out(
            "risk_band",
            O::Text,
            false,
            "The champion's band at the month end before the week (unscored without models), or ALL",
        ),
        out("channel", O::Text, false, "The channel the collector acted through that week"),
        out(
            "treated_weeks",
            O::Count,
            false,
            "Customer-weeks past due at the week's start with an outbound activity of the channel, in strata that have controls",
        ),
        out(
            "treated_cured",
            O::Count,
            false,
            "Of those, cured: every receivable past due at the week's start settled by the week's end + cure_days",
        ),
        out("cure_rate", O::Float, true, "treated_cured / treated_weeks"),
        out(
            "control_weeks",
            O::Count,
            false,
            "Customer-weeks past due with no outbound activity at all, in the same strata",
        ),
        out(
            "control_cure_rate",
            O::Float,
            true,
            "The controls' cure rate per stratum (segment × band × days-past-due bucket), weighted by the treated weeks in each",
        ),
        out("uplift", O::Float, true, "cure_rate - control_cure_rate"),
        out("uplift_low", O::Float, true, "Lower end of the uplift's 95% interval"),
        out("uplift_high", O::Float, true, "Upper end of the uplift's 95% interval"),
        out(
            "unmatched_weeks",
            O::Count,
            false,
            "Treated customer-weeks in strata without any control (left out of the comparison)",
        ),
        out(
            "verdict",
            O::Text,
            false,
            "works (interval above 0), worse (below 0), no_difference, or too_few (under 30 treated or control weeks)",
        ),
    ]),
};

/// The table of `rows`; `segment_name` names a segment value index.
pub fn table(rows: &[Effect], risk: Option<&Risk>, segment_name: impl Fn(u32) -> String) -> Result<DataFrame> {
    let e =
        |f: &dyn Fn(&Estimate) -> Option<f64>, name: &str| frame::float_opt(name, rows.iter().map(|r| f(&r.estimate)));
    let n = |f: &dyn Fn(&Estimate) -> u64, name: &str| frame::count(name, rows.iter().map(|r| f(&r.estimate)));
    let columns = vec![
        frame::text("segment", rows.iter().map(|r| r.segment.map_or("ALL".to_string(), &segment_name))),
        frame::text("risk_band", rows.iter().map(|r| r.band.map_or("ALL", |b| band_name(risk, b)))),
        frame::text("channel", rows.iter().map(|r| r.channel.as_str())),
        n(&|e| e.treated, "treated_weeks"),
        n(&|e| e.cured, "treated_cured"),
        e(&|e| e.cure_rate, "cure_rate"),
        n(&|e| e.controls, "control_weeks"),
        e(&|e| e.control_rate, "control_cure_rate"),
        e(&|e| e.uplift, "uplift"),
        e(&|e| e.low, "uplift_low"),
        e(&|e| e.high, "uplift_high"),
        n(&|e| e.unmatched, "unmatched_weeks"),
        frame::text("verdict", rows.iter().map(|r| r.estimate.verdict())),
    ];
    frame::frame(&CHANNEL_EFFECTIVENESS_TABLE, columns)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn stratum(treated: [u64; 2], control: [u64; 2]) -> Stratum {
        let mut s = Stratum { control, ..Stratum::default() };
        s.treated[0] = treated;
        s
    }

    #[test]
    fn weeks_start_on_monday() {
        // 1970-01-05 was a Monday; 2024-03-06 a Wednesday, its Monday 2024-03-04.
        assert_eq!(week_of(4), 4);
        assert_eq!(week_of(10), 4);
        assert_eq!(week_of(3), -3);
        let wed = crate::calendar::parse_day("2024-03-06").unwrap();
        assert_eq!(crate::calendar::from_epoch_days(week_of(wed)).to_string(), "2024-03-04");
    }

    #[test]
    fn standardises_the_controls_to_the_treated_strata() {
        // Stratum 1: 80 treated, 40 cured (0.5); controls 100, 20 cured (0.2).
        // Stratum 2: 20 treated, 18 cured (0.9); controls 50, 40 cured (0.8).
        // Stratum 3: 10 treated, no controls: unmatched.
        let strata = [stratum([80, 40], [100, 20]), stratum([20, 18], [50, 40]), stratum([10, 5], [0, 0])];
        let e = estimate(strata.iter(), 0);
        assert_eq!((e.treated, e.cured, e.controls, e.unmatched), (100, 58, 150, 10));
        assert!((e.cure_rate.unwrap() - 0.58).abs() < 1e-12);
        // 0.8 × 0.2 + 0.2 × 0.8 = 0.32 (the crude control rate, 60/150 = 0.4, would not do).
        assert!((e.control_rate.unwrap() - 0.32).abs() < 1e-12);
        assert!((e.uplift.unwrap() - 0.26).abs() < 1e-12);
        // var = 0.64·0.25/80 + 0.04·0.09/20 + 0.64·0.16/100 + 0.04·0.16/50
        let var = 0.64 * 0.25 / 80.0 + 0.04 * 0.09 / 20.0 + 0.64 * 0.16 / 100.0 + 0.04 * 0.16 / 50.0;
        assert!((e.low.unwrap() - (0.26 - 1.96 * f64::sqrt(var))).abs() < 1e-12);
        assert!((e.high.unwrap() - (0.26 + 1.96 * f64::sqrt(var))).abs() < 1e-12);
        assert_eq!(e.verdict(), "works");
        // No treated units with controls: no rates, too few.
        let e = estimate([stratum([10, 5], [0, 0])].iter(), 0);
        assert_eq!((e.cure_rate, e.unmatched, e.verdict()), (None, 10, "too_few"));
    }
}
