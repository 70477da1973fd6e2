//! What did collecting achieve? The collections KPIs per month (of the debtor's local date of
//! the activity) × segment × channel (`collections_monthly`) and per month × agent × channel
//! (`collections_agents`), from exact integer sums taken per activity and added; ratios last.
//! Definitions: docs/definitions.md, "Collections KPIs".
//!
//! Each activity is judged on its customer's own history: the promise it recorded is kept when
//! the customer's payments from the activity's day to the promised date plus a grace period
//! add up to the promised amount (each instalment of a plan by its date); a payment is
//! credited to the latest right-party contact at most `collected_within_days` before it; an
//! action on an account with past-due receivables cures it when every one of them is settled
//! within `cure_days` (from the applications' exact dates).

use std::borrow::Cow;
use std::collections::BTreeMap;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use super::log::ActivityLog;
use crate::analytics::frame;
use crate::book::Book;
use crate::calendar::{from_epoch_days, month_of, month_start};
use crate::cash::Applications;
use crate::contracts::activity::{Channel, Code, Direction, Outcome};
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
                    if !(amount >= 0.0 && amount < 1e9 && (scaled - scaled.round()).abs() < 1e-6) {
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

/// What one activity contributes, and to which cells.
#[derive(Debug, Clone, Default)]
pub struct Judged {
    pub sums: Sums,
    pub promise: Option<PromiseStatus>,
}

/// The customer's history the KPIs read: payments (day, reporting cents) and receivables
/// (due day, settled day or `i32::MAX`).
struct History {
    payments: Vec<(i32, i64)>,
    receivables: Vec<(i32, i32, i32)>,
}

impl History {
    fn of(book: &Book, apps: &Applications, c: usize) -> History {
        let payments =
            book.customers.payments(c).map(|p| (book.payments.date[p], book.payments.amount_reporting[p])).collect();
        let receivables = book
            .customers
            .docs(c)
            .filter(|&d| book.docs.kind[d].is_receivable())
            .filter_map(|d| {
                let due = book.docs.due[d]?;
                let mut left = book.docs.amount[d];
                let mut settled = i32::MAX;
                for a in apps.of_invoice(d) {
                    left -= a.amount;
                    if left <= 0 {
                        settled = a.date;
                        break;
                    }
                }
                Some((book.docs.date[d], due, settled))
            })
            .collect();
        History { payments, receivables }
    }

    /// Reporting cents paid on days `from..=to`.
    fn paid(&self, from: i32, to: i32) -> i64 {
        self.payments.iter().filter(|(d, _)| (from..=to).contains(d)).map(|(_, a)| a).sum()
    }

    /// The settlement days of the receivables past due on `day` (issued, due before it, not
    /// settled by it).
    fn past_due(&self, day: i32) -> impl Iterator<Item = i32> + '_ {
        self.receivables
            .iter()
            .filter(move |&&(doc, due, settled)| doc <= day && due < day && settled > day)
            .map(|r| r.2)
    }
}

/// The date `k` months after `day` (the day of month kept where it exists, else the month's
/// last day).
fn add_months(day: i32, k: u32) -> i32 {
    use chrono::Months;
    let d = from_epoch_days(day);
    d.checked_add_months(Months::new(k)).map_or(i32::MAX, crate::calendar::epoch_days)
}

/// A promise made on `made` of `instalments` × `amount` reporting cents, the first due on
/// `first`, later ones monthly: kept when, for every instalment, the payments from `made` to
/// its date plus `grace` add up to the instalments due so far.
fn promise_status(
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
        let (due, paid) = (amount * (i64::from(k) + 1), h.paid(made, deadline));
        if paid < due {
            return PromiseStatus::Broken { deadline, due, paid };
        }
    }
    PromiseStatus::Kept
}

/// Judge every activity of the log (in log order).
pub fn judge(log: &ActivityLog, book: &Book, apps: &Applications, params: &Collections, last_day: i32) -> Vec<Judged> {
    use rayon::prelude::*;
    let per_customer: Vec<Vec<Judged>> = (0..book.customers.len())
        .into_par_iter()
        .map(|c| judge_customer(log, book, apps, params, last_day, c))
        .collect();
    per_customer.into_iter().flatten().collect()
}

fn judge_customer(
    log: &ActivityLog,
    book: &Book,
    apps: &Applications,
    p: &Collections,
    last_day: i32,
    c: usize,
) -> Vec<Judged> {
    let range = log.of_customer(c);
    if range.is_empty() {
        return Vec::new();
    }
    let h = History::of(book, apps, c);
    let mut out: Vec<Judged> = range.clone().map(|_| Judged::default()).collect();
    let first = range.start;
    // Right-party contacts in time order, for first contacts and the collected credit.
    let rpc: Vec<usize> = range.clone().filter(|&i| log.outcome[i].is_some_and(Outcome::is_right_party)).collect();
    for i in range.clone() {
        let s = &mut out[i - first].sums;
        let (day, outcome) = (log.local_day(i), log.outcome[i]);
        s.activities = 1;
        if let Some(costs) = &p.costs {
            s.cost_cents = costs[Channel::ALL.iter().position(|&ch| ch == log.channel[i]).unwrap_or(0)];
        }
        let outbound = log.direction[i] == Direction::Outbound;
        if outbound {
            s.attempts = 1;
            s.attempts_contacted = u64::from(outcome.is_some_and(Outcome::is_contact));
            s.attempts_right_party = u64::from(outcome.is_some_and(Outcome::is_right_party));
            let past_due: Vec<i32> = h.past_due(day).collect();
            if !past_due.is_empty() && day + p.cure_days <= last_day {
                s.actioned_past_due = 1;
                s.cured = u64::from(past_due.iter().all(|&settled| settled <= day + p.cure_days));
            }
        } else {
            s.inbound = 1;
        }
        if outcome.is_some_and(Outcome::is_right_party) {
            s.right_party_contacts = 1;
        }
        if outcome.is_some_and(Outcome::is_promise) && log.promised[i] > 0 {
            s.promises = 1;
            s.promised_cents = log.promised[i];
            let status = promise_status(
                &h,
                day,
                log.promised[i],
                log.promised_date[i],
                log.instalments[i],
                p.promise_grace_days,
                last_day,
            );
            match status {
                PromiseStatus::Kept => s.promises_kept = 1,
                PromiseStatus::Broken { .. } => s.promises_broken = 1,
                PromiseStatus::Pending => s.promises_pending = 1,
            }
            out[i - first].promise = Some(status);
        }
        if outcome == Some(Outcome::Dispute) {
            let s = &mut out[i - first].sums;
            s.disputes = 1;
            // Closed by a later `resolved`, or when the last receivable past due at the
            // dispute is settled.
            let resolved =
                (i + 1..range.end).find(|&k| log.outcome[k] == Some(Outcome::Resolved)).map(|k| log.local_day(k));
            let settled = h.past_due(day).max().filter(|&d| d != i32::MAX);
            if let Some(closed) = [resolved, settled].into_iter().flatten().min().filter(|&d| d <= last_day) {
                s.disputes_closed = 1;
                s.dispute_days = (closed - day).max(0) as u64;
            }
        }
    }
    // First contacts: no right-party contact in the `first_contact_days` before; resolved when
    // its outcome is `resolved` or a promise that was kept.
    for (k, &i) in rpc.iter().enumerate() {
        let day = log.local_day(i);
        let earlier = k > 0 && day - log.local_day(rpc[k - 1]) < p.first_contact_days;
        if !earlier {
            let j = &mut out[i - first];
            j.sums.first_contacts = 1;
            j.sums.first_contact_resolutions =
                u64::from(log.outcome[i] == Some(Outcome::Resolved) || j.promise == Some(PromiseStatus::Kept));
        }
    }
    // Each payment credited to the latest right-party contact on or before its day, within
    // `collected_within_days`.
    for &(day, cents) in &h.payments {
        let credited = rpc.iter().rev().find(|&&i| log.local_day(i) <= day);
        if let Some(&i) = credited
            && day - log.local_day(i) <= p.collected_within_days
        {
            out[i - first].sums.collected_cents += cents;
        }
    }
    out
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
        "Promises paid in full by their date + promise_grace_days (every instalment of a plan)",
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

/// The table of `judged` grouped by month × `group_of(activity)` × channel, rows sorted by
/// key.
pub fn table(
    contract: &TableContract,
    log: &ActivityLog,
    judged: &[Judged],
    group_of: impl Fn(usize) -> String,
    costs: bool,
) -> Result<DataFrame> {
    let mut cells: BTreeMap<(i32, String, usize), Sums> = BTreeMap::new();
    for (i, j) in judged.iter().enumerate() {
        let channel = Channel::ALL.iter().position(|&c| c == log.channel[i]).unwrap_or(0);
        let key = (month_of(log.local_day(i)), group_of(i), channel);
        cells.entry(key).or_default().add(&j.sums);
    }
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64);
    let rows: Vec<(&(i32, String, usize), &Sums)> = cells.iter().collect();
    let col = |f: &dyn Fn(&Sums) -> u64, name: &str| frame::count(name, rows.iter().map(|(_, s)| f(s)));
    let rate = |f: &dyn Fn(&Sums) -> Option<f64>, name: &str| frame::float_opt(name, rows.iter().map(|(_, s)| f(s)));
    let columns = vec![
        frame::date("month", rows.iter().map(|(k, _)| month_start(k.0))),
        frame::text(contract.columns[1].name.as_ref(), rows.iter().map(|(k, _)| k.1.as_str())),
        frame::text("channel", rows.iter().map(|(k, _)| Channel::ALL[k.2].as_str())),
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
        frame::money("promised_amount", rows.iter().map(|(_, s)| s.promised_cents)),
        col(&|s| s.promises_kept, "promises_kept"),
        col(&|s| s.promises_broken, "promises_broken"),
        col(&|s| s.promises_pending, "promises_pending"),
        rate(&|s| ratio(s.promises_kept, s.promises_kept + s.promises_broken), "promise_kept_rate"),
        frame::money("collected_after_contact", rows.iter().map(|(_, s)| s.collected_cents)),
        col(&|s| s.disputes, "disputes"),
        col(&|s| s.disputes_closed, "disputes_closed"),
        rate(&|s| ratio(s.dispute_days, s.disputes_closed), "dispute_days_mean"),
        col(&|s| s.actioned_past_due, "actioned_past_due"),
        col(&|s| s.cured, "cured"),
        rate(&|s| ratio(s.cured, s.actioned_past_due), "cure_rate"),
        frame::money_opt("cost", rows.iter().map(|(_, s)| costs.then_some(s.cost_cents))),
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
    judged: &[Judged],
    months: &[i32],
) -> Vec<crate::analytics::alerts::Alert> {
    use crate::analytics::alerts::{Alert, Kind};
    // (month end, customer) → (count, unpaid, evidence of the first).
    let mut raised: BTreeMap<(i32, u32), (u32, i64, String)> = BTreeMap::new();
    for (i, j) in judged.iter().enumerate() {
        let Some(PromiseStatus::Broken { deadline, due, paid }) = j.promise else { continue };
        let k = months.partition_point(|&t| t < deadline);
        let Some(&t) = months.get(k) else { continue };
        if k == 0 || months[k - 1] >= deadline {
            continue;
        }
        let what = if log.instalments[i] > 1 { "plan" } else { "promise" };
        let entry = raised.entry((t, log.customer[i])).or_insert_with(|| {
            (
                0,
                0,
                format!(
                    "{what} of {} by {} made on {} ({}): {} due by {} with grace, {} paid",
                    crate::money::format_cents(i128::from(log.promised[i])),
                    from_epoch_days(log.promised_date[i]),
                    from_epoch_days(log.local_day(i)),
                    log.channel[i].as_str(),
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
