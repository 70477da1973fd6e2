//! What did collecting achieve? The collections KPIs per month (of the debtor's local date of
//! the activity) × segment × channel (`collections_monthly`) and per month × agent × channel
//! (`collections_agents`), from exact integer sums taken per activity and added; ratios last.
//! Definitions: docs/definitions.md, "Collections KPIs".
//!
//! Each activity is judged on its customer's own history: the promise it recorded is kept when
//! the payments applied to the customer's receivables from the activity's day to the promised
//! date plus a grace period (cash application's exact dates) add up to the promised amount (each instalment of a plan by its date); a payment is
//! credited to the latest right-party contact at most `collected_within_days` before it; an
//! action on an account with past-due receivables cures it when every one of them is settled
//! within `cure_days` (from the applications' exact dates).

use std::borrow::Cow;
use std::collections::BTreeMap;

use foldhash::HashMap;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use super::log::ActivityLog;
use crate::analytics::frame;
use crate::book::Book;
use crate::calendar::{from_epoch_days, month_of, month_start};
use crate::cash::Applications;
use crate::contracts::activity::{Channel, Code, Outcome};
use crate::contracts::{OutColumn, OutType as O, TableContract, out};
use crate::error::{EngineError, Result};

/// `[collections]` in a pipeline config; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionsParams {
    /// Days after a promised date (or a plan's instalment date) that payments still keep the
    /// promise. Default 3.
    pub promise_grace_days: Option<u32>,
    /// Days after a right-party contact in which a payment is credited to it. Default 30.
    pub collected_within_days: Option<u32>,
    /// A right-party contact is a first contact when the customer had none in this many days
    /// before. Default 30.
    pub first_contact_days: Option<u32>,
    /// Days after an action on a past-due account in which settling every past-due
    /// receivable counts as a cure. Default 30.
    pub cure_days: Option<u32>,
    /// Cost of one activity per channel, in the reporting currency (at most 2 decimals):
    /// `costs = { call = 2.40, letter = 0.85 }`. Default: none (no cost columns filled).
    pub costs: Option<BTreeMap<String, f64>>,
}

/// `[collections]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Collections {
    pub promise_grace_days: i32,
    pub collected_within_days: i32,
    pub first_contact_days: i32,
    pub cure_days: i32,
    /// Cents per activity, by channel (in `Channel::ALL` order); `None` when not configured.
    pub costs: Option<Vec<i64>>,
}

impl Default for Collections {
    fn default() -> Collections {
        Collections {
            promise_grace_days: 3,
            collected_within_days: 30,
            first_contact_days: 30,
            cure_days: 30,
            costs: None,
        }
    }
}

impl CollectionsParams {
    /// Check every field and fill in the defaults.
    pub fn check(&self) -> Result<Collections> {
        let d = Collections::default();
        let days = |key: &str, v: Option<u32>, default: i32, min: u32| -> Result<i32> {
            match v {
                None => Ok(default),
                Some(v) if (min..=3650).contains(&v) => Ok(v as i32),
                Some(v) => {
                    Err(EngineError::config(format!("`collections.{key}` must be between {min} and 3650, but is {v}")))
                }
            }
        };
        let costs = match &self.costs {
            None => None,
            Some(map) => {
                let mut cents = vec![0i64; Channel::ALL.len()];
                for (name, &amount) in map {
                    let Some(k) = Channel::ALL.iter().position(|c| c.as_str() == name.trim()) else {
                        return Err(EngineError::config(format!(
                            "`collections.costs.{name}`: not a channel; use {}",
                            Channel::spellings()
                        )));
                    };
                    let scaled = amount * 100.0;
                    if !((0.0..1e9).contains(&amount) && (scaled - scaled.round()).abs() < 1e-6) {
                        return Err(EngineError::config(format!(
                            "`collections.costs.{name}` must be an amount >= 0 with at most 2 decimals, but is {amount}"
                        )));
                    }
                    cents[k] = scaled.round() as i64;
                }
                Some(cents)
            }
        };
        Ok(Collections {
            promise_grace_days: days("promise_grace_days", self.promise_grace_days, d.promise_grace_days, 0)?,
            collected_within_days: days(
                "collected_within_days",
                self.collected_within_days,
                d.collected_within_days,
                1,
            )?,
            first_contact_days: days("first_contact_days", self.first_contact_days, d.first_contact_days, 1)?,
            cure_days: days("cure_days", self.cure_days, d.cure_days, 1)?,
            costs,
        })
    }
}

/// What became of a promise (or a payment plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromiseStatus {
    Kept,
    /// Broken at `deadline` (an instalment's date + grace): `due` cents were due by then and
    /// `paid` were paid.
    Broken {
        deadline: i32,
        due: i64,
        paid: i64,
    },
    /// Not due yet (plus grace) at the data's last day.
    Pending,
}

/// The exact sums of one (month, group, channel); every KPI is a ratio of two of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sums {
    pub activities: u64,
    pub attempts: u64,
    pub attempts_contacted: u64,
    pub attempts_right_party: u64,
    pub inbound: u64,
    pub right_party_contacts: u64,
    pub first_contacts: u64,
    pub first_contact_resolutions: u64,
    pub promises: u64,
    pub promised_cents: i64,
    pub promises_kept: u64,
    pub promises_broken: u64,
    pub promises_pending: u64,
    pub collected_cents: i64,
    pub disputes: u64,
    pub disputes_closed: u64,
    pub dispute_days: u64,
    pub actioned_past_due: u64,
    pub cured: u64,
    pub cost_cents: i64,
}

impl Sums {
    fn add(&mut self, o: &Sums) {
        self.activities += o.activities;
        self.attempts += o.attempts;
        self.attempts_contacted += o.attempts_contacted;
        self.attempts_right_party += o.attempts_right_party;
        self.inbound += o.inbound;
        self.right_party_contacts += o.right_party_contacts;
        self.first_contacts += o.first_contacts;
        self.first_contact_resolutions += o.first_contact_resolutions;
        self.promises += o.promises;
        self.promised_cents += o.promised_cents;
        self.promises_kept += o.promises_kept;
        self.promises_broken += o.promises_broken;
        self.promises_pending += o.promises_pending;
        self.collected_cents += o.collected_cents;
        self.disputes += o.disputes;
        self.disputes_closed += o.disputes_closed;
        self.dispute_days += o.dispute_days;
        self.actioned_past_due += o.actioned_past_due;
        self.cured += o.cured;
        self.cost_cents += o.cost_cents;
    }
}

/// The sums of every cell of both tables, and the broken promises (for the alerts).
#[derive(Debug, Clone, Default)]
pub struct Cells {
    /// (month, segment value index, channel index) → sums.
    pub by_segment: HashMap<(i32, u32, u8), Sums>,
    /// (month, agent index or `u32::MAX`, channel index) → sums.
    pub by_agent: HashMap<(i32, u32, u8), Sums>,
    /// (activity, deadline, due, paid) of every broken promise.
    pub broken: Vec<(usize, i32, i64, i64)>,
}

impl Cells {
    fn merge(mut self, other: Cells) -> Cells {
        for (k, v) in other.by_segment {
            self.by_segment.entry(k).or_default().add(&v);
        }
        for (k, v) in other.by_agent {
            self.by_agent.entry(k).or_default().add(&v);
        }
        self.broken.extend(other.broken);
        self
    }
}

/// The customer's history the KPIs read: payments by day with running totals, the payments'
/// applications to its receivables likewise, and receivables by due date with the running
/// latest settlement.
pub(super) struct History {
    /// Payment days, ascending, and the reporting cents paid up to and including each.
    pay_days: Vec<i32>,
    paid_through: Vec<i64>,
    /// Days payments were applied to the customer's receivables (cash application's dates),
    /// ascending, and the reporting cents applied up to and including each.
    applied_days: Vec<i32>,
    applied_through: Vec<i64>,
    /// Receivables by due date.
    due: super::ByDue,
}

impl History {
    /// Customer `c`'s history; `receivables` are its [`super::receivables`].
    pub(super) fn of(book: &Book, apps: &Applications, c: usize, receivables: &[(i32, i32, i32)]) -> History {
        let (mut pay_days, mut paid_through) = (Vec::new(), Vec::new());
        let mut total = 0i64;
        for p in book.customers.payments(c) {
            total += book.payments.amount_reporting[p];
            pay_days.push(book.payments.date[p]);
            paid_through.push(total);
        }
        // Applications of payments, at the payment's rate (what the customer paid towards them).
        let mut applied: Vec<(i32, i64)> = book
            .customers
            .docs(c)
            .filter(|&d| book.docs.kind[d].is_receivable())
            .flat_map(|d| apps.of_invoice(d))
            .filter(|a| a.kind == crate::cash::SourceKind::Payment)
            .map(|a| {
                let rate = i128::from(book.payments.rate[a.source as usize]);
                (a.date, crate::money::at_rate_scale_10(a.source_amount, rate))
            })
            .collect();
        applied.sort_unstable();
        let mut total = 0i64;
        let applied_through = applied
            .iter()
            .map(|&(_, cents)| {
                total += cents;
                total
            })
            .collect();
        let applied_days = applied.iter().map(|a| a.0).collect();
        History { pay_days, paid_through, applied_days, applied_through, due: super::ByDue::of(receivables) }
    }

    /// Reporting cents of payments applied to the customer's receivables on days `from..=to`.
    fn applied(&self, from: i32, to: i32) -> i64 {
        let through = |day: i32| {
            let k = self.applied_days.partition_point(|&d| d <= day);
            if k == 0 { 0 } else { self.applied_through[k - 1] }
        };
        through(to) - through(from - 1)
    }

    /// See [`super::ByDue::past_due_settled`].
    pub(super) fn past_due_settled(&self, day: i32) -> Option<i32> {
        self.due.past_due_settled(day)
    }
}

/// The date `k` months after `day` (the day of month kept where it exists, else the month's
/// last day).
pub(super) fn add_months(day: i32, k: u32) -> i32 {
    use chrono::Months;
    let d = from_epoch_days(day);
    d.checked_add_months(Months::new(k)).map_or(i32::MAX, crate::calendar::epoch_days)
}

/// A promise made on `made` of `instalments` × `amount` reporting cents, the first due on
/// `first`, later ones monthly: kept when, for every instalment, the payments applied to the
/// customer's receivables from `made` to its date plus `grace` (application dates) add up to
/// the instalments due so far.
pub(super) fn promise_status(
    h: &History,
    made: i32,
    amount: i64,
    first: i32,
    instalments: u16,
    grace: i32,
    last_day: i32,
) -> PromiseStatus {
    for k in 0..u32::from(instalments.max(1)) {
        let deadline = add_months(first, k).saturating_add(grace);
        if deadline > last_day {
            return PromiseStatus::Pending;
        }
        let (due, paid) = (amount * (i64::from(k) + 1), h.applied(made, deadline));
        if paid < due {
            return PromiseStatus::Broken { deadline, due, paid };
        }
    }
    PromiseStatus::Kept
}

/// Judge every activity of the log and add it into its cells.
pub fn judge(log: &ActivityLog, book: &Book, apps: &Applications, params: &Collections, last_day: i32) -> Cells {
    use rayon::prelude::*;
    (0..book.customers.len())
        .into_par_iter()
        .fold(Cells::default, |mut cells, c| {
            judge_customer(log, book, apps, params, last_day, c, &mut cells);
            cells
        })
        .reduce(Cells::default, Cells::merge)
}

fn channel_index(c: Channel) -> u8 {
    Channel::ALL.iter().position(|&x| x == c).unwrap_or(0) as u8
}

fn judge_customer(
    log: &ActivityLog,
    book: &Book,
    apps: &Applications,
    p: &Collections,
    last_day: i32,
    c: usize,
    cells: &mut Cells,
) {
    let range = log.of_customer(c);
    if range.is_empty() {
        return;
    }
    let h = History::of(book, apps, c, &super::receivables(book, apps, c));
    let first = range.start;
    let mut sums: Vec<Sums> = vec![Sums::default(); range.len()];
    let mut kept: Vec<bool> = vec![false; range.len()];
    // Right-party contacts in time order, for first contacts and the collected credit.
    let rpc: Vec<usize> = range.clone().filter(|&i| log.rows[i].outcome.is_some_and(Outcome::is_right_party)).collect();
    for i in range.clone() {
        let a = &log.rows[i];
        let s = &mut sums[i - first];
        let (day, outcome) = (a.local_day(), a.outcome);
        s.activities = 1;
        if let Some(costs) = &p.costs {
            s.cost_cents = costs[usize::from(channel_index(a.channel))];
        }
        if a.outbound() {
            s.attempts = 1;
            s.attempts_contacted = u64::from(outcome.is_some_and(Outcome::is_contact));
            s.attempts_right_party = u64::from(outcome.is_some_and(Outcome::is_right_party));
            if let Some(settled) = h.past_due_settled(day)
                && day + p.cure_days <= last_day
            {
                s.actioned_past_due = 1;
                s.cured = u64::from(settled <= day + p.cure_days);
            }
        } else {
            s.inbound = 1;
        }
        if outcome.is_some_and(Outcome::is_right_party) {
            s.right_party_contacts = 1;
        }
        if outcome.is_some_and(Outcome::is_promise) && a.promised > 0 {
            s.promises = 1;
            s.promised_cents = a.promised;
            match promise_status(&h, day, a.promised, a.promised_date, a.instalments, p.promise_grace_days, last_day) {
                PromiseStatus::Kept => {
                    s.promises_kept = 1;
                    kept[i - first] = true;
                }
                PromiseStatus::Broken { deadline, due, paid } => {
                    s.promises_broken = 1;
                    cells.broken.push((i, deadline, due, paid));
                }
                PromiseStatus::Pending => s.promises_pending = 1,
            }
        }
        if outcome == Some(Outcome::Dispute) {
            s.disputes = 1;
            // Closed by a later `resolved`, or when the last receivable past due at the
            // dispute is settled.
            let resolved = (i + 1..range.end)
                .find(|&k| log.rows[k].outcome == Some(Outcome::Resolved))
                .map(|k| log.rows[k].local_day());
            let settled = h.past_due_settled(day).filter(|&d| d != i32::MAX);
            if let Some(closed) = [resolved, settled].into_iter().flatten().min().filter(|&d| d <= last_day) {
                s.disputes_closed = 1;
                s.dispute_days = (closed - day).max(0) as u64;
            }
        }
    }
    // First contacts: no right-party contact in the `first_contact_days` before; resolved when
    // its outcome is `resolved` or a promise that was kept.
    for (k, &i) in rpc.iter().enumerate() {
        let day = log.rows[i].local_day();
        let earlier = k > 0 && day - log.rows[rpc[k - 1]].local_day() < p.first_contact_days;
        if !earlier {
            let s = &mut sums[i - first];
            s.first_contacts = 1;
            s.first_contact_resolutions = u64::from(log.rows[i].outcome == Some(Outcome::Resolved) || kept[i - first]);
        }
    }
    // Each payment credited to the latest right-party contact on or before its day, within
    // `collected_within_days`.
    let mut previous = 0;
    for (k, &day) in h.pay_days.iter().enumerate() {
        let cents = h.paid_through[k] - previous;
        previous = h.paid_through[k];
        let credited = rpc.iter().rev().find(|&&i| log.rows[i].local_day() <= day);
        if let Some(&i) = credited
            && day - log.rows[i].local_day() <= p.collected_within_days
        {
            sums[i - first].collected_cents += cents;
        }
    }
    let segment = book.customers.dims.first().map_or(0, |d| d.of_customer[c]);
    for (k, s) in sums.iter().enumerate() {
        let a = &log.rows[first + k];
        let (month, channel) = (month_of(a.local_day()), channel_index(a.channel));
        cells.by_segment.entry((month, segment, channel)).or_default().add(s);
        cells.by_agent.entry((month, a.agent, channel)).or_default().add(s);
    }
}

/// The columns both tables share after their keys.
const MEASURES: &[OutColumn] = &[
    out("activities", O::Count, false, "Activities (both directions)"),
    out("attempts", O::Count, false, "Outbound activities"),
    out("contact_rate", O::Float, true, "Outbound activities that reached someone / attempts"),
    out("right_party_rate", O::Float, true, "Outbound activities that reached the debtor / attempts"),
    out("inbound", O::Count, false, "Inbound activities (the debtor got in touch)"),
    out("right_party_contacts", O::Count, false, "Activities, either direction, with the debtor reached"),
    out(
        "first_contacts",
        O::Count,
        false,
        "Right-party contacts with none of the customer's in the first_contact_days before",
    ),
    out(
        "first_contact_resolution_rate",
        O::Float,
        true,
        "First contacts that resolved the matter (outcome resolved, or a promise kept) / first contacts",
    ),
    out("promises", O::Count, false, "Promises to pay and payment plans recorded"),
    out("promise_rate", O::Float, true, "promises / right_party_contacts"),
    out("promised_amount", O::Money, false, "Amount promised (plans: one instalment), reporting currency"),
    out(
        "promises_kept",
        O::Count,
        false,
        "Promises paid in full (payments applied to the customer's receivables) by their date + promise_grace_days (every instalment of a plan)",
    ),
    out("promises_broken", O::Count, false, "Promises (or an instalment) not paid by their date + grace"),
    out("promises_pending", O::Count, false, "Promises not yet due (+ grace) at the data's last day"),
    out("promise_kept_rate", O::Float, true, "promises_kept / (promises_kept + promises_broken)"),
    out(
        "collected_after_contact",
        O::Money,
        false,
        "Payments credited to these right-party contacts (each payment to the latest contact within collected_within_days before it)",
    ),
    out("disputes", O::Count, false, "Activities that recorded a dispute"),
    out(
        "disputes_closed",
        O::Count,
        false,
        "Disputes closed by the data's last day (a later resolved, or the disputed receivables settled)",
    ),
    out("dispute_days_mean", O::Float, true, "Mean days from dispute to close, over closed disputes"),
    out(
        "actioned_past_due",
        O::Count,
        false,
        "Outbound activities on accounts with a past-due receivable, cure_days or more before the data's last day",
    ),
    out("cured", O::Count, false, "Of those, accounts whose past-due receivables were all settled within cure_days"),
    out("cure_rate", O::Float, true, "cured / actioned_past_due"),
    out("cost", O::Money, true, "Activities × the channel's configured cost (null without `collections.costs`)"),
    out("cost_per_collected", O::Float, true, "cost / collected_after_contact"),
];

fn contract(name: &'static str, doc: &'static str, group: OutColumn) -> TableContract {
    let mut columns = vec![
        out("month", O::Date, false, "First day of the month of the activity (debtor's local date)"),
        group,
        out("channel", O::Text, false, "Channel"),
    ];
    columns.extend_from_slice(MEASURES);
    TableContract { name, doc, partition: None, columns: Cow::Owned(columns) }
}

/// `collections_monthly`: per month × segment × channel.
pub fn monthly_contract() -> TableContract {
    contract(
        "collections_monthly",
        "Collections KPIs per month, segment and channel: contact, right-party, first-contact resolution, promise and cure rates, cash collected after contact, dispute cycle time, cost",
        out("segment", O::Text, false, "The customer's segment (first segment column)"),
    )
}

/// `collections_agents`: per month × agent × channel.
pub fn agents_contract() -> TableContract {
    contract(
        "collections_agents",
        "Collections KPIs per month, agent and channel (the same measures as collections_monthly)",
        out("agent", O::Text, false, "Agent or team ('UNASSIGNED' when the activity names none)"),
    )
}

/// The table of `cells` (month × group × channel), rows sorted by month, group name and
/// channel; `group_name` names a group index.
pub fn table(
    contract: &TableContract,
    cells: &HashMap<(i32, u32, u8), Sums>,
    group_name: impl Fn(u32) -> String,
    costs: bool,
) -> Result<DataFrame> {
    let mut rows: Vec<(i32, String, u8, &Sums)> =
        cells.iter().map(|(&(m, g, ch), s)| (m, group_name(g), ch, s)).collect();
    rows.sort_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    let col = |f: &dyn Fn(&Sums) -> u64, name: &str| frame::count(name, rows.iter().map(|r| f(r.3)));
    let rate = |f: &dyn Fn(&Sums) -> Option<f64>, name: &str| frame::float_opt(name, rows.iter().map(|r| f(r.3)));
    let columns = vec![
        frame::date("month", rows.iter().map(|r| month_start(r.0))),
        frame::text(contract.columns[1].name.as_ref(), rows.iter().map(|r| r.1.as_str())),
        frame::text("channel", rows.iter().map(|r| Channel::ALL[usize::from(r.2)].as_str())),
        col(&|s| s.activities, "activities"),
        col(&|s| s.attempts, "attempts"),
        rate(&|s| ratio(s.attempts_contacted, s.attempts), "contact_rate"),
        rate(&|s| ratio(s.attempts_right_party, s.attempts), "right_party_rate"),
        col(&|s| s.inbound, "inbound"),
        col(&|s| s.right_party_contacts, "right_party_contacts"),
        col(&|s| s.first_contacts, "first_contacts"),
        rate(&|s| ratio(s.first_contact_resolutions, s.first_contacts), "first_contact_resolution_rate"),
        col(&|s| s.promises, "promises"),
        rate(&|s| ratio(s.promises, s.right_party_contacts), "promise_rate"),
        frame::money("promised_amount", rows.iter().map(|r| r.3.promised_cents)),
        col(&|s| s.promises_kept, "promises_kept"),
        col(&|s| s.promises_broken, "promises_broken"),
        col(&|s| s.promises_pending, "promises_pending"),
        rate(&|s| ratio(s.promises_kept, s.promises_kept + s.promises_broken), "promise_kept_rate"),
        frame::money("collected_after_contact", rows.iter().map(|r| r.3.collected_cents)),
        col(&|s| s.disputes, "disputes"),
        col(&|s| s.disputes_closed, "disputes_closed"),
        rate(&|s| ratio(s.dispute_days, s.disputes_closed), "dispute_days_mean"),
        col(&|s| s.actioned_past_due, "actioned_past_due"),
        col(&|s| s.cured, "cured"),
        rate(&|s| ratio(s.cured, s.actioned_past_due), "cure_rate"),
        frame::money_opt("cost", rows.iter().map(|r| costs.then_some(r.3.cost_cents))),
        rate(
            &|s| (costs && s.collected_cents > 0).then(|| s.cost_cents as f64 / s.collected_cents as f64),
            "cost_per_collected",
        ),
    ];
    frame::frame(contract, columns)
}

/// The `broken_promise` alerts: at each month end of `months`, the customers with a promise
/// (or a plan's instalment) whose date plus grace fell in the month and was not paid. `value`
/// is how many broke in the month (threshold 1, `high` from 2), `amount` what was still
/// unpaid of them (reporting cents).
pub fn promise_alerts(
    log: &ActivityLog,
    book: &Book,
    broken: &[(usize, i32, i64, i64)],
    months: &[i32],
) -> Vec<crate::analytics::alerts::Alert> {
    use crate::analytics::alerts::{Alert, Kind};
    // In log order, whatever order the threads found them in.
    let mut broken = broken.to_vec();
    broken.sort_unstable();
    // (month end, customer) → (count, unpaid, evidence of the first).
    let mut raised: BTreeMap<(i32, u32), (u32, i64, String)> = BTreeMap::new();
    for &(i, deadline, due, paid) in &broken {
        let k = months.partition_point(|&t| t < deadline);
        let Some(&t) = months.get(k) else { continue };
        if k == 0 || months[k - 1] >= deadline {
            continue;
        }
        let what = if log.rows[i].instalments > 1 { "plan" } else { "promise" };
        let entry = raised.entry((t, log.rows[i].customer)).or_insert_with(|| {
            (
                0,
                0,
                format!(
                    "{what} of {} by {} made on {} ({}): {} due by {} with grace, {} paid",
                    crate::money::format_cents(i128::from(log.rows[i].promised)),
                    from_epoch_days(log.rows[i].promised_date),
                    from_epoch_days(log.rows[i].local_day()),
                    log.rows[i].channel.as_str(),
                    crate::money::format_cents(i128::from(due)),
                    from_epoch_days(deadline),
                    crate::money::format_cents(i128::from(paid))
                ),
            )
        });
        entry.0 += 1;
        entry.1 += due - paid;
    }
    raised
        .into_iter()
        .map(|((t, c), (count, unpaid, evidence))| Alert {
            as_of: t,
            customer: book.customers.ids.get(c as usize).to_string(),
            segment: book.customers.segment(c).to_string(),
            kind: Kind::BrokenPromise,
            high: count >= 2,
            value: f64::from(count),
            threshold: 1.0,
            amount: Some(unpaid),
            evidence: if count > 1 { format!("{count} broken; first: {evidence}") } else { evidence },
        })
        .collect()
}
