//! What the collectors did: an activities log consistent with each customer's documents and
//! payments. Collectors work the accounts with a past-due balance (reminders, calls, emails,
//! letters, agencies), the debtors answer, promise, dispute or ask them to stop, and promises
//! are kept or broken by the payments the customer's behaviour already made.
//!
//! Consumer accounts are worked within the US rules the audit checks (docs/definitions.md,
//! "Compliance audit"): a validation notice first, calls from 9:00 to 20:00 local time, at
//! most one call a day, none in the 7 days after a telephone conversation, nothing after a
//! cease request. Business accounts are not (they are exempt: calls at 8:00, twice a day,
//! right after a conversation). Then, on a few consumer accounts, one violation of each kind
//! is injected and listed in `truth/compliance_violations.csv` with the activity it makes
//! unlawful, so a test can check that the audit finds exactly those. Placed legacy debts (a
//! few extra customers with one old unpaid invoice, in a jurisdiction with a one-year
//! limitation period) carry the time-barred cases.
//!
//! Every customer draws from its own stream (independent of the ledger's), so the log is the
//! same whatever the thread count, and the ledger and payments are the same with or without it.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use ardent_engine::collections::audit::AuditRule as Violation;
use ardent_engine::contracts::activity::{Channel, Code, Outcome};

use crate::model::{History, Kind, World};

/// The region (jurisdiction) of the placed legacy debts, and its limitation period in years
/// as the generated pipeline configures it.
pub const LEGACY_REGION: &str = "US-TN";
pub const LEGACY_LIMITATION_YEARS: u32 = 1;

/// A written message (starts the validation clock whatever its outcome).
fn written(channel: Channel) -> bool {
    matches!(channel, Channel::Email | Channel::Letter | Channel::Sms | Channel::Portal)
}

/// One generated activity, in the debtor's local time.
#[derive(Debug, Clone)]
pub struct Act {
    pub day: i32,
    /// Minute of the local day.
    pub minute: u32,
    pub channel: Channel,
    pub inbound: bool,
    pub outcome: Option<Outcome>,
    /// (amount in the customer's currency, cents; date; instalments).
    pub promise: Option<(i64, i32, u32)>,
    pub agent: u32,
}

impl Act {
    fn conversation(&self) -> bool {
        self.channel == Channel::Call && self.outcome.is_some_and(Outcome::is_right_party)
    }
}

/// A customer's log: activities in time order, each injected violation with the position of
/// the activity it makes unlawful.
#[derive(Debug, Clone, Default)]
pub struct Log {
    pub consumer: bool,
    pub zone: &'static str,
    pub acts: Vec<Act>,
    pub violations: Vec<(Violation, usize)>,
}

/// The debtor's IANA zone, from its country (US debtors spread over the four mainland zones).
pub fn zone_of(country: &str, index: u32) -> &'static str {
    const US: [&str; 4] = ["America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"];
    match country {
        "US" => US[(index % 4) as usize],
        "CA" => "America/Toronto",
        "DE" => "Europe/Berlin",
        "FR" => "Europe/Paris",
        "NL" => "Europe/Amsterdam",
        "GB" => "Europe/London",
        "ES" => "Europe/Madrid",
        "AU" => "Australia/Sydney",
        "SG" => "Asia/Singapore",
        "MX" => "America/Mexico_City",
        "BR" => "America/Sao_Paulo",
        _ => "UTC",
    }
}

/// The instant of a local day and minute in `zone`, as ISO 8601 UTC text.
pub fn utc_text(zone: &str, day: i32, minute: u32) -> String {
    let date: NaiveDate = crate::calendar::date(day);
    let local = NaiveDateTime::new(date, NaiveTime::from_hms_opt(minute / 60, minute % 60, 0).unwrap_or_default());
    let tz: chrono_tz::Tz = zone.parse().unwrap_or(chrono_tz::UTC);
    let utc = tz.from_local_datetime(&local).earliest().map_or(local, |t| t.naive_utc());
    utc.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn activity_rng(seed: u64, index: u32) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x00AC_7171_7135);
    rng.set_stream(u64::from(index) + 1);
    rng
}

/// The past-due balance of an account by day: receivables count from the day after they
/// are due, payments and credits from their date (the collector's view, not cash application).
struct Balance {
    /// (day, change), sorted.
    events: Vec<(i32, i64)>,
    at: usize,
    value: i64,
}

impl Balance {
    fn of(h: &History) -> Balance {
        let mut events: Vec<(i32, i64)> = Vec::new();
        for d in &h.docs {
            match (d.kind, d.due_date) {
                (Kind::Invoice | Kind::DebitMemo, Some(due)) => events.push((due + 1, d.amount)),
                (Kind::CreditMemo | Kind::WriteOff, _) => events.push((d.doc_date, -d.amount)),
                _ => {}
            }
        }
        for p in &h.payments {
            events.push((p.date, -p.amount));
        }
        events.sort_unstable();
        Balance { events, at: 0, value: 0 }
    }

    /// The past-due balance on `day` (days must be asked in order).
    fn on(&mut self, day: i32) -> i64 {
        while self.at < self.events.len() && self.events[self.at].0 <= day {
            self.value += self.events[self.at].1;
            self.at += 1;
        }
        self.value.max(0)
    }
}

const AGENTS: u32 = 24;
/// Share of consumer accounts that get one injected violation.
const INJECT_SHARE: f64 = 0.25;

/// A customer's natural log, then (on some consumer accounts) one injected violation.
pub fn simulate(world: &World, h: &History, seed: u64, rate: f64) -> Log {
    let c = &h.customer;
    let mut rng = activity_rng(seed, c.index);
    // Sole traders among the US small businesses are consumers.
    let consumer = c.country == "US" && c.segment == "smb" && rng.random::<f64>() < 0.6;
    let zone = zone_of(c.country, c.index);
    let acts = natural(world, h, consumer, rate, &mut rng);
    let mut log = Log { consumer, zone, acts, violations: Vec::new() };
    if consumer && rng.random::<f64>() < INJECT_SHARE {
        inject(world, &mut log, &mut rng);
    }
    log
}

/// `rate` scales how often an account is worked (1: every 3 to 6 days; 3: every 1 to 2).
fn natural(world: &World, h: &History, consumer: bool, rate: f64, rng: &mut ChaCha8Rng) -> Vec<Act> {
    let mut balance = Balance::of(h);
    let mut acts: Vec<Act> = Vec::new();
    let agent = rng.random_range(0..AGENTS);
    let mut episode: Option<i32> = None;
    let mut next_action = i32::MIN;
    let mut last_conversation = i32::MIN / 2;
    let mut validated = false;
    let mut placed = false;
    let mut ceased = false;
    for day in world.start..=world.end {
        let owed = balance.on(day);
        if owed == 0 {
            episode = None;
            continue;
        }
        let start = *episode.get_or_insert(day);
        let dpd = day - start;
        if ceased || dpd < 5 || day < next_action {
            continue;
        }
        next_action = day + ((f64::from(rng.random_range(3..7u32)) / rate).round() as i32).max(1);
        let mut act =
            Act { day, minute: 0, channel: Channel::Email, inbound: false, outcome: None, promise: None, agent };
        if consumer && !validated {
            validated = true;
            act.channel = Channel::Letter;
            act.minute = 30;
            act.outcome = Some(Outcome::ValidationNotice);
            acts.push(act);
            continue;
        }
        if dpd > 120 && !placed && rng.random::<f64>() < 0.5 {
            placed = true;
            act.channel = Channel::Agency;
            act.minute = 9 * 60;
            acts.push(act);
            continue;
        }
        let u: f64 = rng.random();
        act.channel = match u {
            _ if u < 0.55 => Channel::Call,
            _ if u < 0.75 => Channel::Email,
            _ if u < 0.85 && consumer => Channel::Sms,
            _ if u < 0.85 => Channel::Portal,
            _ if u < 0.97 || consumer => Channel::Letter,
            _ => Channel::Visit,
        };
        // Consumers: no call within 7 days of a conversation (an email instead).
        if consumer && act.channel == Channel::Call && day - last_conversation < 7 {
            act.channel = Channel::Email;
        }
        act.minute = match act.channel {
            Channel::Letter => 30,
            Channel::Call if consumer => rng.random_range(9 * 60..20 * 60),
            // Business hours, from 8:00 (an hour a consumer could not be called in).
            Channel::Call | Channel::Visit => rng.random_range(8 * 60..18 * 60),
            _ => rng.random_range(9 * 60..19 * 60),
        };
        if matches!(act.channel, Channel::Call | Channel::Visit) {
            let v: f64 = rng.random();
            let outcome = match v {
                _ if v < 0.48 => Outcome::NoAnswer,
                _ if v < 0.53 => Outcome::WrongParty,
                _ if v < 0.66 => Outcome::Contact,
                _ if v < 0.86 => Outcome::PromiseToPay,
                _ if v < 0.89 => Outcome::PaymentPlan,
                _ if v < 0.94 => Outcome::Dispute,
                _ if v < 0.985 => Outcome::Refused,
                _ if consumer => Outcome::CeaseRequest,
                _ => Outcome::Refused,
            };
            act.outcome = Some(outcome);
            // A debtor who will pay soon promises about when and what it pays; one who will
            // not promises anyway, and breaks it.
            let next = h.payments.iter().find(|p| p.date >= day).filter(|p| p.date - day <= 21);
            act.promise = match outcome {
                Outcome::PromiseToPay => Some(match next {
                    Some(p) => (owed.min(p.amount), (p.date + rng.random_range(-2..3)).max(day), 1),
                    None => (owed, day + rng.random_range(3..11), 1),
                }),
                Outcome::PaymentPlan => {
                    let n = rng.random_range(2..5u32);
                    Some(((owed + i64::from(n) - 1) / i64::from(n), day + rng.random_range(5..15), n))
                }
                _ => None,
            };
            if act.conversation() {
                last_conversation = day;
            }
            ceased = outcome == Outcome::CeaseRequest;
            // Businesses get called again the same afternoon now and then.
            if !consumer && act.channel == Channel::Call && rng.random::<f64>() < 0.1 {
                let again =
                    Act { minute: 18 * 60 + 30, outcome: Some(Outcome::NoAnswer), promise: None, ..act.clone() };
                acts.push(act);
                acts.push(again);
                continue;
            }
        } else if !ceased && rng.random::<f64>() < 0.06 && day + 1 < next_action && day < world.end {
            // The debtor rings back the next day.
            acts.push(act.clone());
            let v: f64 = rng.random();
            let outcome = if v < 0.5 {
                Outcome::PromiseToPay
            } else if v < 0.75 {
                Outcome::Dispute
            } else {
                Outcome::Contact
            };
            let promise = (outcome == Outcome::PromiseToPay).then(|| (owed, day + 1 + rng.random_range(3..11), 1));
            acts.push(Act {
                day: day + 1,
                minute: rng.random_range(10 * 60..17 * 60),
                channel: Channel::Call,
                inbound: true,
                outcome: Some(outcome),
                promise,
                agent,
            });
            last_conversation = day + 1;
            continue;
        }
        acts.push(act);
    }
    acts
}

/// Where in the log `kind` can be injected, if anywhere; then inject it.
fn inject(world: &World, log: &mut Log, rng: &mut ChaCha8Rng) {
    if log.acts.iter().any(|a| a.outcome == Some(Outcome::CeaseRequest)) || log.acts.len() < 4 {
        return;
    }
    let last = world.end - 30;
    let kinds = [
        Violation::ContactHours,
        Violation::CallFrequency,
        Violation::CallAfterConversation,
        Violation::AfterCease,
        Violation::ValidationNotice,
    ];
    let kind = kinds[rng.random_range(0..kinds.len())];
    let acts = &mut log.acts;
    let at = match kind {
        Violation::ContactHours => {
            // A message or an unanswered call moved out of the convenient hours.
            let candidates: Vec<usize> = (0..acts.len())
                .filter(|&i| {
                    let a = &acts[i];
                    !a.inbound
                        && (matches!(a.channel, Channel::Email | Channel::Sms)
                            || (a.channel == Channel::Call && a.outcome == Some(Outcome::NoAnswer)))
                })
                .collect();
            let Some(&i) = candidates.get(rng.random_range(0..candidates.len().max(1))) else { return };
            acts[i].minute = if rng.random::<bool>() {
                rng.random_range(7 * 60..8 * 60)
            } else {
                rng.random_range(21 * 60..22 * 60)
            };
            Some(i)
        }
        Violation::CallFrequency => {
            // Eight unanswered calls in seven days, in a window cleared of other calls.
            let first = acts[1].day;
            if first + 30 > last {
                return;
            }
            let d = rng.random_range(first + 8..(first + 60).min(last - 14).max(first + 9));
            acts.retain(|a| !(a.channel == Channel::Call && a.day >= d - 7 && a.day <= d + 14));
            for k in 0..7 {
                acts.push(call(d + k, 10 * 60 + k as u32, Outcome::NoAnswer, acts[0].agent));
            }
            acts.push(call(d + 6, 15 * 60, Outcome::NoAnswer, acts[0].agent));
            sort(acts);
            acts.iter().position(|a| a.day == d + 6 && a.minute == 15 * 60 && a.channel == Channel::Call)
        }
        Violation::CallAfterConversation => {
            let Some(j) = (0..acts.len()).find(|&j| acts[j].conversation() && acts[j].day + 8 < last) else { return };
            let (d, agent) = (acts[j].day, acts[j].agent);
            let k = rng.random_range(1..7);
            acts.retain(|a| !(a.channel == Channel::Call && a.day > d && a.day <= d + 7));
            acts.push(call(d + k, 11 * 60, Outcome::NoAnswer, agent));
            sort(acts);
            acts.iter().position(|a| a.day == d + k && a.channel == Channel::Call && a.minute == 11 * 60)
        }
        Violation::AfterCease => {
            // A conversation turned into a cease request; everything after it dropped but
            // one email a week or more later.
            let Some(j) = (0..acts.len()).find(|&j| {
                acts[j].conversation() && !acts[j].inbound && acts[j].day + 25 < last && acts[j].day > acts[0].day
            }) else {
                return;
            };
            let d = acts[j].day;
            acts[j].outcome = Some(Outcome::CeaseRequest);
            acts[j].promise = None;
            acts.truncate(j + 1);
            let mut email = call(d + rng.random_range(8..21), 12 * 60, Outcome::NoAnswer, acts[j].agent);
            email.channel = Channel::Email;
            email.outcome = None;
            acts.push(email);
            Some(acts.len() - 1)
        }
        Violation::ValidationNotice => {
            // No validation notice: the first communication left without one.
            if acts[0].outcome != Some(Outcome::ValidationNotice) {
                return;
            }
            acts.remove(0);
            acts.iter()
                .position(|a| !a.inbound && (written(a.channel) || a.conversation()))
                .filter(|&i| acts[i].day + 5 <= last)
        }
        Violation::TimeBarred => None,
    };
    if let Some(i) = at {
        log.violations.push((kind, i));
    }
}

fn call(day: i32, minute: u32, outcome: Outcome, agent: u32) -> Act {
    Act { day, minute, channel: Channel::Call, inbound: false, outcome: Some(outcome), promise: None, agent }
}

fn sort(acts: &mut [Act]) {
    acts.sort_by_key(|a| (a.day, a.minute));
}

/// A placed legacy debt: a consumer with one invoice due a month after the history starts and
/// never paid. Reminders by email before the limitation period ends; after it, one or two
/// messages that collect on a time-barred debt.
pub fn legacy(world: &World, index: u32, seed: u64) -> (Log, i64) {
    let mut rng = activity_rng(seed ^ 0x1e9a, index);
    let due = world.start + 30;
    let barred = ardent_engine::calendar::add_years(due, LEGACY_LIMITATION_YEARS);
    let agent = rng.random_range(0..AGENTS);
    let msg = |day: i32, channel: Channel, outcome: Option<Outcome>| Act {
        day,
        minute: if channel == Channel::Letter { 30 } else { 14 * 60 },
        channel,
        inbound: false,
        outcome,
        promise: None,
        agent,
    };
    let mut acts = vec![msg(due + 10, Channel::Letter, Some(Outcome::ValidationNotice))];
    let mut day = due + 40;
    while day < barred - 1 {
        acts.push(msg(day, Channel::Email, None));
        day += rng.random_range(30..60);
    }
    let mut violations = Vec::new();
    let mut day = barred + rng.random_range(0..30);
    for channel in [Channel::Email, Channel::Letter] {
        if day > world.end - 1 {
            break;
        }
        acts.push(msg(day, channel, None));
        violations.push((Violation::TimeBarred, acts.len() - 1));
        day += rng.random_range(20..60);
    }
    let amount = rng.random_range(50_000..500_000);
    (Log { consumer: true, zone: "America/Chicago", acts, violations }, amount)
}

impl Act {
    /// The columns written for this activity (after id, customer and time).
    pub fn channel_name(&self) -> &'static str {
        self.channel.as_str()
    }

    /// `inbound` or `outbound`.
    pub fn direction(&self) -> &'static str {
        if self.inbound { "inbound" } else { "outbound" }
    }

    /// The outcome as written (empty when none).
    pub fn outcome_name(&self) -> Option<&'static str> {
        self.outcome.map(Outcome::as_str)
    }
}
