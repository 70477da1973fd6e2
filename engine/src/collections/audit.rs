//! Was the collecting lawful? The compliance audit checks every consumer activity of the log
//! against the US rules for third-party and first-party collectors of consumer debts (the
//! FDCPA, 15 U.S.C. 1692 et seq., and Regulation F, 12 CFR part 1006), each rule a parameter of
//! `[compliance]` (docs/definitions.md, "Compliance audit"), and lists each breach as a finding
//! with its evidence. Business debts are exempt unless `include_business` is set.
//!
//! A debt here is a customer's account: the activities of one customer are about one debt.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::log::{Activity, ActivityLog};
use crate::book::Book;
use crate::calendar::from_epoch_days;
use crate::cash::Applications;
use crate::contracts::activity::{Channel, Code, Direction, Outcome};
use crate::error::{EngineError, Result};

/// `[compliance]` in a pipeline config; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplianceParams {
    /// Run the audit when an activities input is configured. Default true.
    pub enabled: Option<bool>,
    /// Audit business debts too (the FDCPA covers consumer debts only). Default false.
    pub include_business: Option<bool>,
    /// The convenient hours in the debtor's local time, `[from, until)` in whole hours
    /// (12 CFR 1006.6(b)(1)(i): after 8 a.m. and before 9 p.m.). Default [8, 21].
    pub contact_hours: Option<[u32; 2]>,
    /// Channels the contact-hours rule applies to. Default call, sms, email, visit.
    pub hours_channels: Option<Vec<String>>,
    /// Call attempts about one debt allowed within `call_window_days` consecutive days
    /// (12 CFR 1006.14(b)(2)(i)(A)). Default 7.
    pub max_calls: Option<u32>,
    /// The window of `max_calls`, in consecutive local days. Default 7.
    pub call_window_days: Option<u32>,
    /// Days after a telephone conversation about a debt in which no call may be placed, the
    /// conversation's day being the first (12 CFR 1006.14(b)(2)(i)(B)). Default 7.
    pub after_conversation_days: Option<u32>,
    /// Channels still allowed after a cease-communication request (the notices 15 U.S.C.
    /// 1692c(c) permits: efforts ended, a remedy that may or will be invoked). Default legal.
    pub cease_permitted_channels: Option<Vec<String>>,
    /// Days after the initial communication by which the validation notice must have been
    /// sent (15 U.S.C. 1692g(a); 12 CFR 1006.34(a)). Default 5.
    pub validation_days: Option<u32>,
    /// Statute of limitations in years by jurisdiction: the customer's `region`, else its
    /// `country`, else `default`. Default `{ default = 6 }` (state law varies, 3 to 10 years
    /// for written contracts: set the states you collect in).
    pub limitation_years: Option<BTreeMap<String, u32>>,
    /// Channels that count as collecting on a time-barred debt. Default every channel
    /// (Regulation F itself bars suits and threats of suit, 12 CFR 1006.26(b); several
    /// states restrict more).
    pub time_barred_channels: Option<Vec<String>>,
}

/// `[compliance]`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Compliance {
    pub enabled: bool,
    pub include_business: bool,
    /// Local minutes of the day: contacts at `[from, until)` are allowed.
    pub hours: (u32, u32),
    pub hours_channels: Vec<Channel>,
    pub max_calls: u32,
    pub call_window_days: u32,
    pub after_conversation_days: u32,
    pub cease_permitted: Vec<Channel>,
    pub validation_days: u32,
    pub limitation_years: BTreeMap<String, u32>,
    pub time_barred_channels: Vec<Channel>,
}

impl Default for Compliance {
    fn default() -> Compliance {
        Compliance {
            enabled: true,
            include_business: false,
            hours: (8 * 60, 21 * 60),
            hours_channels: vec![Channel::Call, Channel::Sms, Channel::Email, Channel::Visit],
            max_calls: 7,
            call_window_days: 7,
            after_conversation_days: 7,
            cease_permitted: vec![Channel::Legal],
            validation_days: 5,
            limitation_years: BTreeMap::from([("default".to_string(), 6)]),
            time_barred_channels: Channel::ALL.to_vec(),
        }
    }
}

fn channels(key: &str, names: &[String]) -> Result<Vec<Channel>> {
    names
        .iter()
        .map(|n| {
            Channel::parse(n.trim()).ok_or_else(|| {
                EngineError::config(format!(
                    "`compliance.{key}` lists \"{n}\", which is not a channel; use {}",
                    Channel::spellings()
                ))
            })
        })
        .collect()
}

impl ComplianceParams {
    /// Check every field and fill in the defaults.
    pub fn check(&self) -> Result<Compliance> {
        let d = Compliance::default();
        let bad = |key: &str, why: String| Err(EngineError::config(format!("`compliance.{key}` {why}")));
        let hours = match self.contact_hours {
            None => d.hours,
            Some([from, until]) if from < until && until <= 24 => (from * 60, until * 60),
            Some([from, until]) => {
                return bad(
                    "contact_hours",
                    format!("must be [from, until) with from < until <= 24, but is [{from}, {until}]"),
                );
            }
        };
        let positive = |key: &str, v: Option<u32>, default: u32, max: u32| -> Result<u32> {
            let v = v.unwrap_or(default);
            if (1..=max).contains(&v) {
                Ok(v)
            } else {
                Err(EngineError::config(format!("`compliance.{key}` must be between 1 and {max}, but is {v}")))
            }
        };
        let limitation_years = self.limitation_years.clone().unwrap_or(d.limitation_years);
        if let Some((k, v)) = limitation_years.iter().find(|(_, v)| !(1..=100).contains(*v)) {
            return bad("limitation_years", format!("gives {k} {v} years; a period is 1 to 100 years"));
        }
        Ok(Compliance {
            enabled: self.enabled.unwrap_or(d.enabled),
            include_business: self.include_business.unwrap_or(d.include_business),
            hours,
            hours_channels: match &self.hours_channels {
                Some(c) => channels("hours_channels", c)?,
                None => d.hours_channels,
            },
            max_calls: positive("max_calls", self.max_calls, d.max_calls, 1000)?,
            call_window_days: positive("call_window_days", self.call_window_days, d.call_window_days, 366)?,
            after_conversation_days: positive(
                "after_conversation_days",
                self.after_conversation_days,
                d.after_conversation_days,
                366,
            )?,
            cease_permitted: match &self.cease_permitted_channels {
                Some(c) => channels("cease_permitted_channels", c)?,
                None => d.cease_permitted,
            },
            validation_days: positive("validation_days", self.validation_days, d.validation_days, 366)?,
            limitation_years,
            time_barred_channels: match &self.time_barred_channels {
                Some(c) => channels("time_barred_channels", c)?,
                None => d.time_barred_channels,
            },
        })
    }
}

/// The rules the audit checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuditRule {
    ContactHours,
    CallFrequency,
    CallAfterConversation,
    AfterCease,
    ValidationNotice,
    TimeBarred,
}

impl AuditRule {
    /// Every rule, in report order.
    pub const ALL: [AuditRule; 6] = [
        AuditRule::ContactHours,
        AuditRule::CallFrequency,
        AuditRule::CallAfterConversation,
        AuditRule::AfterCease,
        AuditRule::ValidationNotice,
        AuditRule::TimeBarred,
    ];

    /// Output spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditRule::ContactHours => "contact_hours",
            AuditRule::CallFrequency => "call_frequency",
            AuditRule::CallAfterConversation => "call_after_conversation",
            AuditRule::AfterCease => "after_cease",
            AuditRule::ValidationNotice => "validation_notice",
            AuditRule::TimeBarred => "time_barred",
        }
    }

    /// Parse the output spelling.
    pub fn parse(s: &str) -> Option<AuditRule> {
        AuditRule::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Where the rule comes from.
    pub fn citation(self) -> &'static str {
        match self {
            AuditRule::ContactHours => "15 U.S.C. 1692c(a)(1); 12 CFR 1006.6(b)(1)(i)",
            AuditRule::CallFrequency => "12 CFR 1006.14(b)(2)(i)(A)",
            AuditRule::CallAfterConversation => "12 CFR 1006.14(b)(2)(i)(B)",
            AuditRule::AfterCease => "15 U.S.C. 1692c(c); 12 CFR 1006.6(c)",
            AuditRule::ValidationNotice => "15 U.S.C. 1692g(a); 12 CFR 1006.34(a)(1)",
            AuditRule::TimeBarred => "12 CFR 1006.26(b); state statutes of limitations",
        }
    }

    /// `high` for contact the debtor asked not to have or the law bars outright, `medium`
    /// for the rest.
    pub fn severity(self) -> &'static str {
        match self {
            AuditRule::AfterCease | AuditRule::TimeBarred | AuditRule::CallFrequency => "high",
            AuditRule::ContactHours | AuditRule::CallAfterConversation | AuditRule::ValidationNotice => "medium",
        }
    }
}

/// One breach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: AuditRule,
    /// Index into the log.
    pub activity: usize,
    pub evidence: String,
}

/// What the audit needs of a customer besides the log.
#[derive(Debug, Clone, Default)]
pub struct Jurisdictions {
    /// Per book customer: its limitation period in years.
    pub years: Vec<u32>,
}

impl Jurisdictions {
    /// Each book customer's period, from the validated `customers` table's `region` and
    /// `country`.
    pub fn from_customers(book: &Book, customers: &polars::prelude::DataFrame, rules: &Compliance) -> Result<Self> {
        let text = |name: &str| {
            customers
                .column(name)
                .and_then(|c| c.str().cloned())
                .map_err(EngineError::polars(format!("reading column `{name}` of `customers`")))
        };
        let (ids, region, country) = (text("customer_id")?, text("region")?, text("country")?);
        let at: foldhash::HashMap<&str, usize> =
            ids.iter().enumerate().filter_map(|(i, id)| id.map(|id| (id, i))).collect();
        let (mut regions, mut countries) = (Vec::new(), Vec::new());
        for c in 0..book.customers.len() {
            let row = at.get(book.customers.ids.get(c)).copied();
            regions.push(row.and_then(|r| region.get(r)).map(str::to_string));
            countries.push(row.and_then(|r| country.get(r)).map(str::to_string));
        }
        Ok(Jurisdictions::of(book, &regions, &countries, rules))
    }

    /// Each customer's period: `region`, else `country`, else `default` of the table (a
    /// customer matching none is not checked when the table has no `default`).
    pub fn of(book: &Book, regions: &[Option<String>], countries: &[Option<String>], rules: &Compliance) -> Self {
        let fallback = rules.limitation_years.get("default").copied().unwrap_or(0);
        let years = (0..book.customers.len())
            .map(|c| {
                let by =
                    |v: Option<&Option<String>>| v.and_then(|v| v.as_ref()).and_then(|k| rules.limitation_years.get(k));
                by(regions.get(c)).or_else(|| by(countries.get(c))).copied().unwrap_or(fallback)
            })
            .collect();
        Jurisdictions { years }
    }
}

fn local_text(minute: i64) -> String {
    let day = minute.div_euclid(1440) as i32;
    let m = minute.rem_euclid(1440);
    format!("{} {:02}:{:02}", from_epoch_days(day), m / 60, m % 60)
}

/// A written message or a right-party conversation: what starts the validation clock.
fn is_communication(channel: Channel, outcome: Option<Outcome>) -> bool {
    match channel {
        Channel::Letter | Channel::Email | Channel::Sms | Channel::Portal => true,
        Channel::Call | Channel::Visit => outcome.is_some_and(Outcome::is_right_party),
        Channel::Agency | Channel::Legal => false,
    }
}

/// Check every consumer activity; findings in log order, then rule order. `last_day` is the
/// last day the data covers (a notice still due after it is not a finding yet).
pub fn audit(
    log: &ActivityLog,
    book: &Book,
    apps: &Applications,
    places: &Jurisdictions,
    rules: &Compliance,
    last_day: i32,
) -> Vec<Finding> {
    use rayon::prelude::*;
    let per_customer: Vec<Vec<Finding>> = (0..book.customers.len())
        .into_par_iter()
        .map(|c| audit_customer(log, book, apps, places, rules, last_day, c))
        .collect();
    per_customer.into_iter().flatten().collect()
}

fn audit_customer(
    log: &ActivityLog,
    book: &Book,
    apps: &Applications,
    places: &Jurisdictions,
    rules: &Compliance,
    last_day: i32,
    c: usize,
) -> Vec<Finding> {
    let range = log.of_customer(c);
    if !range.clone().any(|i| log.rows[i].consumer || rules.include_business) {
        return Vec::new();
    }
    let years = places.years.get(c).copied().unwrap_or(0);
    let open = if years > 0 { super::receivables(book, apps, c) } else { Vec::new() };
    let rows = &log.rows[range.clone()];
    let mut out = audit_rows(rows, &|k| log.id(range.start + k), &open, years, rules, last_day);
    for f in &mut out {
        f.activity += range.start;
    }
    out
}

/// Check the activities of one customer (in event order; `id` names the `k`-th), whose
/// receivables are `open` ([`super::receivables`]) and limitation period `years` (0: none);
/// findings name the activities by their position in `rows`.
pub(crate) fn audit_rows<'a>(
    rows: &[Activity],
    id: &dyn Fn(usize) -> &'a str,
    open: &[(i32, i32, i32)],
    years: u32,
    rules: &Compliance,
    last_day: i32,
) -> Vec<Finding> {
    let audited = |i: usize| rows[i].consumer || rules.include_business;
    let range = 0..rows.len();
    let mut out = Vec::new();
    let outbound = |i: usize| rows[i].direction == Direction::Outbound;
    // Calls placed, for the frequency rule: (local day, index).
    let mut calls: std::collections::VecDeque<(i32, usize)> = Default::default();
    let mut conversation: Option<usize> = None;
    let mut cease: Option<usize> = None;
    let mut initial: Option<usize> = None;
    let mut validated = false;
    for i in range {
        if !audited(i) {
            continue;
        }
        let (channel, outcome, day) = (rows[i].channel, rows[i].outcome, rows[i].local_day());
        let minute = rows[i].local_minute().rem_euclid(1440) as u32;
        if outbound(i) {
            if rules.hours_channels.contains(&channel) && !(rules.hours.0..rules.hours.1).contains(&minute) {
                out.push(Finding {
                    rule: AuditRule::ContactHours,
                    activity: i,
                    evidence: format!(
                        "{} at {} debtor's local time, outside {:02}:00-{:02}:00",
                        channel.as_str(),
                        local_text(rows[i].local_minute()),
                        rules.hours.0 / 60,
                        rules.hours.1 / 60
                    ),
                });
            }
            if channel == Channel::Call {
                while calls.front().is_some_and(|&(d, _)| d <= day - rules.call_window_days as i32) {
                    calls.pop_front();
                }
                calls.push_back((day, i));
                if calls.len() > rules.max_calls as usize {
                    let first = calls.front().map_or(i, |&(_, k)| k);
                    out.push(Finding {
                        rule: AuditRule::CallFrequency,
                        activity: i,
                        evidence: format!(
                            "call {} within {} days (since {} on {}); at most {} allowed",
                            calls.len(),
                            rules.call_window_days,
                            id(first),
                            from_epoch_days(rows[first].local_day()),
                            rules.max_calls
                        ),
                    });
                }
                if let Some(j) = conversation
                    && day - rows[j].local_day() < rules.after_conversation_days as i32
                {
                    out.push(Finding {
                        rule: AuditRule::CallAfterConversation,
                        activity: i,
                        evidence: format!(
                            "call on {}, {} days after the telephone conversation {} on {}",
                            from_epoch_days(day),
                            day - rows[j].local_day(),
                            id(j),
                            from_epoch_days(rows[j].local_day())
                        ),
                    });
                }
            }
            if let Some(j) = cease
                && !rules.cease_permitted.contains(&channel)
            {
                out.push(Finding {
                    rule: AuditRule::AfterCease,
                    activity: i,
                    evidence: format!(
                        "{} on {} after the cease-communication request {} on {}",
                        channel.as_str(),
                        from_epoch_days(day),
                        id(j),
                        from_epoch_days(rows[j].local_day())
                    ),
                });
            }
            if years > 0 && rules.time_barred_channels.contains(&channel) {
                let barred = open
                    .iter()
                    .filter(|&&(doc_date, _, settled)| doc_date <= day && settled > day)
                    .map(|&(_, due, _)| due)
                    .filter(|&due| crate::calendar::add_years(due, years) <= day)
                    .min();
                if let Some(due) = barred {
                    out.push(Finding {
                        rule: AuditRule::TimeBarred,
                        activity: i,
                        evidence: format!(
                            "{} on {} about a receivable due {}, past the {years}-year limitation period on {}",
                            channel.as_str(),
                            from_epoch_days(day),
                            from_epoch_days(due),
                            from_epoch_days(crate::calendar::add_years(due, years))
                        ),
                    });
                }
            }
            if initial.is_none() && is_communication(channel, outcome) {
                initial = Some(i);
            }
        }
        if outcome == Some(Outcome::ValidationNotice) && outbound(i) {
            validated |= initial.is_none_or(|k| day <= rows[k].local_day() + rules.validation_days as i32);
            if initial.is_none() {
                initial = Some(i);
            }
        }
        if channel == Channel::Call && outcome.is_some_and(Outcome::is_right_party) {
            conversation = Some(i);
        }
        if outcome == Some(Outcome::CeaseRequest) && cease.is_none() {
            cease = Some(i);
        }
    }
    if let Some(k) = initial {
        let deadline = rows[k].local_day() + rules.validation_days as i32;
        if !validated && deadline <= last_day {
            out.push(Finding {
                rule: AuditRule::ValidationNotice,
                activity: k,
                evidence: format!(
                    "initial communication ({}) on {}; no validation notice by {}",
                    rows[k].channel.as_str(),
                    from_epoch_days(rows[k].local_day()),
                    from_epoch_days(deadline)
                ),
            });
        }
    }
    out.sort_by_key(|f| (f.activity, f.rule));
    out
}
