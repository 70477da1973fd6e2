//! Who to work next, how and when? `collections_worklist`: every customer with a receivable
//! past due at the data's last day, ranked by expected loss, with the next best action: the
//! channel that measurably works for its segment and risk band (`channel_effectiveness`), on
//! the first day the compliance rules allow it, after any promise still running, with the
//! validation notice first when a consumer has not had one. Definitions: docs/definitions.md,
//! "Next best action".
//!
//! A recommendation is checked by the audit itself: the contact is added to the customer's
//! log as a right-party contact at the start of the allowed hours (the strictest case for the
//! call rules) and the audit must find nothing against it, else the next day is tried, then
//! the next channel. An account on which no channel passes within [`HORIZON_DAYS`] is put on
//! hold with the rule that blocks it.

use std::borrow::Cow;

use polars::prelude::DataFrame;

use super::audit::{Compliance, Jurisdictions, audit_rows};
use std::collections::BTreeMap;

use foldhash::HashMap;

use super::effect::{DPD_BUCKETS, Estimate, Key, Risk, Stratum, UNSCORED, band_name, dpd_bucket, estimate};
use super::kpi::{Collections, History, PromiseStatus, add_months, promise_status};
use super::log::{Activity, ActivityLog};
use crate::analytics::frame;
use crate::book::Book;
use crate::calendar::from_epoch_days;
use crate::cash::Applications;
use crate::contracts::activity::{Channel, Code, Direction, Outcome};
use crate::contracts::{OutType as O, TableContract, out};
use crate::error::Result;

/// Days after the first possible day in which a recommended contact is looked for.
pub const HORIZON_DAYS: i32 = 14;
/// A better-ranked channel is preferred when it is allowed within this many days of the
/// first possible day; otherwise the earliest allowed channel wins.
pub const MAX_WAIT_DAYS: i32 = 7;
/// The channels tried, in this order, when no channel measurably works for accounts like the
/// customer's.
pub const DEFAULT_ORDER: [Channel; 4] = [Channel::Letter, Channel::Email, Channel::Call, Channel::Sms];
/// Escalations rather than contacts: recommended only for accounts more than 90 days past due.
pub const ESCALATIONS: [Channel; 2] = [Channel::Agency, Channel::Legal];

/// What the collector should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send the validation notice (a consumer who has not had one).
    ValidationNotice,
    /// A promise or a plan instalment is still running: follow up the day after its deadline.
    AwaitPromise,
    /// A dispute is open: contact to resolve it.
    ResolveDispute,
    /// Contact to collect.
    Contact,
    /// No contact is allowed within the horizon (a cease request, a time-barred debt, …).
    Hold,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ValidationNotice => "validation_notice",
            Action::AwaitPromise => "await_promise",
            Action::ResolveDispute => "resolve_dispute",
            Action::Contact => "contact",
            Action::Hold => "hold",
        }
    }
}

/// One line of the worklist.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub customer: usize,
    pub band: u8,
    pub pd: Option<f64>,
    /// Open receivables and the past-due part, reporting cents at the documents' rates.
    pub open_cents: i64,
    pub past_due_cents: i64,
    pub days_past_due: i32,
    pub expected_loss: Option<i64>,
    /// From the customer's latest activity; none without activities (then treated as a
    /// consumer: the rules apply).
    pub consumer: Option<bool>,
    pub promise: Option<String>,
    pub open_dispute: bool,
    pub cease_requested: bool,
    pub action: Action,
    pub channel: Option<Channel>,
    pub contact_on: Option<i32>,
    /// Whether the channel has contact hours (`contact_hours` then shows them).
    pub hours: bool,
    pub reason: String,
}

/// Everything the worklist reads besides the log and the book.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    pub apps: &'a Applications,
    pub risk: Option<&'a Risk>,
    /// The channel-effectiveness strata ([`super::effect::strata`]).
    pub strata: &'a BTreeMap<Key, Stratum>,
    pub places: &'a Jurisdictions,
    pub rules: &'a Compliance,
    pub params: &'a Collections,
    /// The last day the data covers: the worklist is as of it.
    pub last_day: i32,
}

/// The worklist, in priority order.
pub fn worklist(log: &ActivityLog, book: &Book, inputs: Inputs<'_>) -> Vec<Line> {
    use rayon::prelude::*;
    let works = works(inputs.strata);
    let mut lines: Vec<Line> =
        (0..book.customers.len()).into_par_iter().filter_map(|c| line(log, book, &inputs, &works, c)).collect();
    let ids = &book.customers.ids;
    lines.sort_by(|a, b| {
        b.expected_loss
            .unwrap_or(0)
            .cmp(&a.expected_loss.unwrap_or(0))
            .then(b.past_due_cents.cmp(&a.past_due_cents))
            .then_with(|| ids.get(a.customer).cmp(ids.get(b.customer)))
    });
    lines
}

/// Reporting cents of `left` document cents of document `d`, at its rate (as the ledger
/// converted it).
fn reporting(book: &Book, d: usize, left: i64) -> i64 {
    crate::money::at_rate_scale_10(left, i128::from(book.docs.rate[d]))
}

fn line(log: &ActivityLog, book: &Book, inputs: &Inputs<'_>, works: &Works, c: usize) -> Option<Line> {
    let as_of = inputs.last_day;
    let (mut open_cents, mut past_due_cents, mut oldest) = (0i64, 0i64, i32::MAX);
    for d in book.customers.docs(c).filter(|&d| book.docs.kind[d].is_receivable()) {
        let Some(due) = book.docs.due[d] else { continue };
        let left = book.docs.amount[d] - inputs.apps.of_invoice(d).map(|a| a.amount).sum::<i64>();
        if left <= 0 {
            continue;
        }
        let cents = reporting(book, d, left);
        open_cents += cents;
        if due < as_of {
            past_due_cents += cents;
            oldest = oldest.min(due);
        }
    }
    if oldest == i32::MAX {
        return None;
    }
    let band = inputs.risk.map_or(UNSCORED, |r| r.band_before(c, as_of + 1));
    let pd = inputs.risk.and_then(|r| r.pd.get(c).copied().flatten());
    let range = log.of_customer(c);
    let rows = &log.rows[range.clone()];
    let consumer = rows.last().map(|a| a.consumer);
    let audited = consumer.unwrap_or(true) || inputs.rules.include_business;
    let receivables = super::receivables(book, inputs.apps, c);
    let history = History::of(book, inputs.apps, c, &receivables);
    let p = inputs.params;
    // The latest promise and when it runs out.
    let mut promise = None;
    let mut earliest = as_of + 1;
    if let Some(a) = rows.iter().rev().find(|a| a.outcome.is_some_and(Outcome::is_promise) && a.promised > 0) {
        let made = a.local_day();
        let amount = crate::money::format_cents(i128::from(a.promised));
        let what = if a.instalments > 1 { "plan" } else { "promise" };
        promise = Some(
            match promise_status(
                &history,
                made,
                a.promised,
                a.promised_date,
                a.instalments,
                p.promise_grace_days,
                as_of,
            ) {
                PromiseStatus::Kept => format!("{what} of {amount} made {} kept", from_epoch_days(made)),
                PromiseStatus::Broken { deadline, due, paid } => format!(
                    "{what} of {amount} made {} broken: {} due by {}, {} paid",
                    from_epoch_days(made),
                    crate::money::format_cents(i128::from(due)),
                    from_epoch_days(deadline),
                    crate::money::format_cents(i128::from(paid))
                ),
                PromiseStatus::Pending => {
                    let deadline = (0..u32::from(a.instalments.max(1)))
                        .map(|k| add_months(a.promised_date, k).saturating_add(p.promise_grace_days))
                        .find(|&d| d > as_of)
                        .unwrap_or(as_of);
                    earliest = earliest.max(deadline.saturating_add(1));
                    format!(
                        "{what} of {amount} made {} running until {}",
                        from_epoch_days(made),
                        from_epoch_days(deadline)
                    )
                }
            },
        );
    }
    let awaiting = earliest > as_of + 1;
    let open_dispute =
        rows.iter().enumerate().rev().find(|(_, a)| a.outcome == Some(Outcome::Dispute)).is_some_and(|(k, a)| {
            let resolved = rows[k + 1..].iter().any(|b| b.outcome == Some(Outcome::Resolved));
            let settled = history.past_due_settled(a.local_day()).is_some_and(|d| d <= as_of);
            !resolved && !settled
        });
    let cease_requested = rows.iter().any(|a| a.outcome == Some(Outcome::CeaseRequest));
    let validated = rows.iter().any(|a| a.outbound() && a.outcome == Some(Outcome::ValidationNotice));
    let segment = book.customers.dims.first().map_or(0, |d| d.of_customer[c]);
    // A missing validation notice is owed now, promise or not.
    let (action, ranked) = if audited && !validated {
        earliest = as_of + 1;
        (Action::ValidationNotice, vec![(Channel::Letter, "the validation notice comes first".to_string())])
    } else {
        let action = if awaiting {
            Action::AwaitPromise
        } else if open_dispute {
            Action::ResolveDispute
        } else {
            Action::Contact
        };
        (action, rank(inputs, works, (segment, band, dpd_bucket(as_of - oldest))))
    };
    // The debtor's clock: its time zone as last given, else the latest activity's offset.
    let zone = log.zone_of(c).and_then(crate::ingest::timestamp::Zone::parse);
    let fallback = rows.last().map_or(0, |a| a.offset_minutes);
    let years = inputs.places.years.get(c).copied().unwrap_or(0);
    let id = |k: usize| if k < rows.len() { log.id(range.start + k) } else { "recommended" };
    // Try each channel from the first possible day; keep the best-ranked one allowed within
    // MAX_WAIT_DAYS, else the earliest allowed.
    let mut hypothetical: Vec<Activity> = rows.to_vec();
    let mut blocked: Option<String> = None;
    let mut chosen: Option<(Channel, i32, &str)> = None;
    for (channel, why) in &ranked {
        let allowed = (earliest..earliest + HORIZON_DAYS).find(|&day| {
            hypothetical.truncate(rows.len());
            hypothetical.push(candidate(c, *channel, action, day, (zone, fallback), audited, inputs.rules));
            let last = day + inputs.rules.validation_days as i32;
            let findings = audit_rows(&hypothetical, &id, &receivables, years, inputs.rules, last);
            match findings.iter().find(|f| f.activity == rows.len()) {
                Some(f) => {
                    blocked.get_or_insert_with(|| format!("{}: {}", f.rule.as_str(), f.evidence));
                    false
                }
                None => true,
            }
        });
        if let Some(day) = allowed {
            if day <= earliest + MAX_WAIT_DAYS {
                chosen = Some((*channel, day, why));
                break;
            }
            if chosen.is_none_or(|(_, d, _)| day < d) {
                chosen = Some((*channel, day, why));
            }
        }
    }
    let hours_channel = |ch: Channel| inputs.rules.hours_channels.contains(&ch);
    let (action, channel, contact_on, hours, reason) = match chosen {
        Some((channel, day, why)) => {
            let reason = if action == Action::AwaitPromise {
                format!("follow up if the promise is not kept; {why}")
            } else {
                why.to_string()
            };
            (action, Some(channel), Some(day), hours_channel(channel), reason)
        }
        None => (
            Action::Hold,
            None,
            None,
            false,
            format!(
                "no channel allowed within {HORIZON_DAYS} days ({})",
                blocked.unwrap_or_else(|| "no channel to try".to_string())
            ),
        ),
    };
    Some(Line {
        customer: c,
        band,
        pd,
        open_cents,
        past_due_cents,
        days_past_due: as_of - oldest,
        expected_loss: pd.map(|pd| (pd * open_cents as f64).round() as i64),
        consumer,
        promise,
        open_dispute,
        cease_requested,
        action,
        channel,
        contact_on,
        hours,
        reason,
    })
}

/// The hypothetical contact the audit checks: outbound at the start of the allowed hours of
/// the debtor's `day`, a right-party contact for calls and visits (a telephone conversation
/// and a communication: the strictest case), the notice itself for the validation notice.
fn candidate(
    c: usize,
    channel: Channel,
    action: Action,
    day: i32,
    (zone, fallback): (Option<crate::ingest::timestamp::Zone>, i16),
    audited: bool,
    rules: &Compliance,
) -> Activity {
    let local_minute = i64::from(day) * 1440 + i64::from(rules.hours.0);
    let local = crate::calendar::from_epoch_days(day).and_hms_opt(rules.hours.0 / 60, rules.hours.0 % 60, 0);
    let offset = zone
        .zip(local)
        .and_then(|(z, local)| z.instant_of_local(local))
        .map_or(fallback, |(_, seconds)| (seconds / 60) as i16);
    let outcome = match (action, channel) {
        (Action::ValidationNotice, _) => Some(Outcome::ValidationNotice),
        (_, Channel::Call | Channel::Visit) => Some(Outcome::Contact),
        _ => None,
    };
    Activity {
        at: (local_minute - i64::from(offset)) * 60_000_000,
        promised: 0,
        customer: c as u32,
        id: 0,
        agent: u32::MAX,
        promised_date: i32::MIN,
        offset_minutes: offset,
        instalments: 0,
        channel,
        direction: Direction::Outbound,
        outcome,
        consumer: audited,
    }
}

/// Which strata an estimate pools: a segment, band and days-past-due bucket, each or all.
type Scope = (Option<u32>, Option<u8>, Option<u8>);

/// Per scope: whether any channel has enough weeks there to be judged, and the channels that
/// measurably work there (interval above 0), best lower bound first.
type Works = HashMap<Scope, (bool, Vec<(Channel, Estimate)>)>;

/// The channels that work in every scope the worklist may ask about: each stratum, each
/// segment × band, each segment, and all.
fn works(strata: &BTreeMap<Key, Stratum>) -> Works {
    let mut scopes: Vec<Scope> = vec![(None, None, None)];
    for &(s, b, d) in strata.keys() {
        scopes.extend([(Some(s), Some(b), Some(d)), (Some(s), Some(b), None), (Some(s), None, None)]);
    }
    scopes.sort_unstable();
    scopes.dedup();
    scopes
        .into_iter()
        .map(|scope @ (s, b, d)| {
            let of = || {
                strata
                    .iter()
                    .filter(move |(k, _)| {
                        s.is_none_or(|s| k.0 == s) && b.is_none_or(|b| k.1 == b) && d.is_none_or(|d| k.2 == d)
                    })
                    .map(|(_, v)| v)
            };
            let estimates: Vec<(Channel, Estimate)> =
                Channel::ALL.iter().enumerate().map(|(ch, &channel)| (channel, estimate(of(), ch))).collect();
            let judged = estimates.iter().any(|(_, e)| e.verdict() != "too_few");
            let mut found: Vec<(Channel, Estimate)> =
                estimates.into_iter().filter(|(_, e)| e.verdict() == "works").collect();
            // Stable: equal bounds keep the channels' order.
            found.sort_by(|x, y| y.1.low.unwrap_or(f64::MIN).total_cmp(&x.1.low.unwrap_or(f64::MIN)));
            (scope, (judged, found))
        })
        .collect()
}

/// The channels to try for an account in stratum `key`, with why: the first scope with enough
/// weeks to judge decides, from the account's stratum to its segment and band, its segment,
/// and all accounts: the channels that work there, or, when none does, [`DEFAULT_ORDER`].
/// Escalations ([`ESCALATIONS`]) only past 90 days.
fn rank(inputs: &Inputs<'_>, works: &Works, (segment, band, dpd): Key) -> Vec<(Channel, String)> {
    let escalate = usize::from(dpd) + 1 == DPD_BUCKETS.len();
    let scopes = [
        (Some(segment), Some(band), Some(dpd)),
        (Some(segment), Some(band), None),
        (Some(segment), None, None),
        (None, None, None),
    ];
    for scope in scopes {
        let Some((judged, found)) = works.get(&scope) else { continue };
        let text = match scope {
            (_, Some(b), Some(d)) => format!(
                "accounts of its segment, band {} and {} days past due",
                band_name(inputs.risk, b),
                DPD_BUCKETS[usize::from(d)].1
            ),
            (_, Some(b), None) => format!("accounts of its segment and band {}", band_name(inputs.risk, b)),
            (Some(_), None, _) => "accounts of its segment".to_string(),
            _ => "all accounts".to_string(),
        };
        let found: Vec<&(Channel, Estimate)> =
            found.iter().filter(|(c, _)| escalate || !ESCALATIONS.contains(c)).collect();
        if !found.is_empty() {
            return found.into_iter().map(|(c, e)| (*c, why(*c, e, &text))).collect();
        }
        if *judged {
            return default_order(&format!("no channel measured better than no action for {text}"));
        }
    }
    default_order("too few weeks to measure any channel for accounts like this")
}

fn default_order(why: &str) -> Vec<(Channel, String)> {
    DEFAULT_ORDER.iter().map(|&c| (c, format!("{why}; default order"))).collect()
}

fn why(channel: Channel, e: &Estimate, scope: &str) -> String {
    let pct = |x: Option<f64>| x.map_or(0.0, |x| 100.0 * x);
    format!(
        "{}: cure rate {:.1}% against {:.1}% without action that week (uplift {:+.1} pts, 95% interval {:+.1} to {:+.1}; {scope})",
        channel.as_str(),
        pct(e.cure_rate),
        pct(e.control_rate),
        pct(e.uplift),
        pct(e.low),
        pct(e.high)
    )
}

/// `collections_worklist`.
pub static COLLECTIONS_WORKLIST_TABLE: TableContract = TableContract {
    name: "collections_worklist",
    doc: "The next best action for every customer past due at the data's last day, by priority: risk, exposure, promise and dispute status, the channel measured to work for accounts like it, and the first day the compliance rules allow it",
    partition: None,
    columns: Cow::Borrowed(&[
        out("as_of", O::Date, false, "The data's last day"),
        out(
            "priority_rank",
            O::Count,
            false,
            "1 = first: highest expected loss, then largest past-due amount, then customer id",
        ),
        out("customer_id", O::Text, false, "Customer"),
        out("segment", O::Text, false, "The customer's value of the first segment column"),
        out("risk_band", O::Text, false, "The champion's band at the latest month end (unscored without models)"),
        out("pd", O::Float, true, "The champion's PD at the latest month end"),
        out("open_receivables", O::Money, false, "Open receivables at as_of (reporting currency, documents' rates)"),
        out("past_due", O::Money, false, "Of which past due"),
        out("days_past_due", O::Count, false, "Days the oldest open receivable is past due"),
        out("expected_loss", O::Money, true, "pd × open_receivables"),
        out("consumer", O::Bool, true, "Consumer debt, from the latest activity (unknown without activities)"),
        out("promise", O::Text, true, "The latest promise or plan: running until, kept, or broken"),
        out("open_dispute", O::Bool, false, "A dispute recorded and not closed"),
        out("cease_requested", O::Bool, false, "The debtor asked the collector to cease communication"),
        out(
            "action",
            O::Text,
            false,
            "validation_notice, await_promise (follow up after the deadline), resolve_dispute, contact, or hold (no contact allowed)",
        ),
        out("channel", O::Text, true, "Recommended channel"),
        out("contact_on", O::Date, true, "The first day the compliance rules allow it (debtor's local date)"),
        out("contact_hours", O::Text, true, "Allowed local hours for channels with contact hours"),
        out(
            "reason",
            O::Text,
            false,
            "Why this channel (its measured effect) or why on hold (the rule that blocks contact)",
        ),
    ]),
};

/// The table of `lines` (in priority order) as of `as_of`.
pub fn table(lines: &[Line], book: &Book, risk: Option<&Risk>, rules: &Compliance, as_of: i32) -> Result<DataFrame> {
    let hours = format!("{:02}:00-{:02}:00", rules.hours.0 / 60, rules.hours.1 / 60);
    let columns = vec![
        frame::date("as_of", lines.iter().map(|_| as_of)),
        frame::count("priority_rank", 1..=lines.len() as u64),
        frame::text("customer_id", lines.iter().map(|l| book.customers.ids.get(l.customer))),
        frame::text("segment", lines.iter().map(|l| book.customers.segment(l.customer as u32))),
        frame::text("risk_band", lines.iter().map(|l| band_name(risk, l.band))),
        frame::float_opt("pd", lines.iter().map(|l| l.pd)),
        frame::money("open_receivables", lines.iter().map(|l| l.open_cents)),
        frame::money("past_due", lines.iter().map(|l| l.past_due_cents)),
        frame::count("days_past_due", lines.iter().map(|l| l.days_past_due as u64)),
        frame::money_opt("expected_loss", lines.iter().map(|l| l.expected_loss)),
        frame::boolean_opt("consumer", lines.iter().map(|l| l.consumer)),
        frame::text_opt("promise", lines.iter().map(|l| l.promise.as_deref())),
        frame::boolean("open_dispute", lines.iter().map(|l| l.open_dispute)),
        frame::boolean("cease_requested", lines.iter().map(|l| l.cease_requested)),
        frame::text("action", lines.iter().map(|l| l.action.as_str())),
        frame::text_opt("channel", lines.iter().map(|l| l.channel.map(Channel::as_str))),
        frame::date_opt("contact_on", lines.iter().map(|l| l.contact_on)),
        frame::text_opt("contact_hours", lines.iter().map(|l| l.hours.then_some(hours.as_str()))),
        frame::text("reason", lines.iter().map(|l| l.reason.as_str())),
    ];
    frame::frame(&COLLECTIONS_WORKLIST_TABLE, columns)
}
