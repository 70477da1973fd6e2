//! Collections: what the collectors did and whether it was lawful. Built only when an
//! activities input is configured (runs without one publish exactly what they did before).
//!
//! [`log::LogBuilder`] gathers the validated activities as ingest streams them and
//! [`log::ActivityLog`] holds them in event order by book customer; [`kpi::judge`] judges every
//! activity on its customer's payments and receivables (promises kept, cash collected after
//! contact, cures) and [`kpi::table`] adds them into `collections_monthly` and
//! `collections_agents`; [`audit::audit`] checks each consumer activity against `[compliance]`
//! and [`findings_table`] writes `compliance_findings`. [`build`] does all of it.

pub mod audit;
pub mod effect;
pub mod kpi;
pub mod log;
pub mod worklist;

use std::borrow::Cow;

use polars::prelude::*;

use crate::book::Book;
use crate::contracts::activity::Code;
use crate::contracts::{OutType as O, TableContract, out};
use crate::error::{EngineError, Result};
use audit::Finding;
use log::ActivityLog;

/// Every breach of a compliance rule by a consumer activity.
pub static COMPLIANCE_FINDINGS_TABLE: TableContract = TableContract {
    name: "compliance_findings",
    doc: "Consumer collection activities that break a `[compliance]` rule (FDCPA / Regulation F), one row per activity and rule, with the evidence",
    partition: None,
    columns: Cow::Borrowed(&[
        out(
            "rule",
            O::Text,
            false,
            "contact_hours, call_frequency, call_after_conversation, after_cease, validation_notice or time_barred",
        ),
        out("customer_id", O::Text, false, "Debtor"),
        out("activity_id", O::Text, false, "The activity in breach (validation_notice: the initial communication)"),
        out("occurred_at", O::Timestamp, false, "When it happened (UTC)"),
        out("local_time", O::Text, false, "When it happened in the debtor's local time (YYYY-MM-DD HH:MM)"),
        out("channel", O::Text, false, "The activity's channel"),
        out("agent", O::Text, true, "Who acted"),
        out("severity", O::Text, false, "high (barred outright, or against the debtor's request) or medium"),
        out(
            "evidence",
            O::Text,
            false,
            "What the audit saw: the times, counts and earlier activities that make the breach",
        ),
        out("citation", O::Text, false, "The rule's source"),
    ]),
};

/// Customer `c`'s receivables (invoices and debit memos with a due date): (document date, due
/// date, the day its applications settled it in full or `i32::MAX` while open).
pub fn receivables(book: &Book, apps: &crate::cash::Applications, c: usize) -> Vec<(i32, i32, i32)> {
    book.customers
        .docs(c)
        .filter(|&d| book.docs.kind[d].is_receivable())
        .filter_map(|d| {
            let due = book.docs.due[d]?;
            let mut left = book.docs.amount[d];
            let settled = apps.of_invoice(d).find_map(|a| {
                left -= a.amount;
                (left <= 0).then_some(a.date)
            });
            Some((book.docs.date[d], due, settled.unwrap_or(i32::MAX)))
        })
        .collect()
}

/// A customer's receivables by due date: (due, settled day or `i32::MAX` while open),
/// ascending, and the latest settlement among those due so far.
#[derive(Debug, Clone, Default)]
pub struct ByDue {
    pub rows: Vec<(i32, i32)>,
    latest_settled: Vec<i32>,
}

impl ByDue {
    /// From [`receivables`]' (document date, due date, settled) rows.
    pub fn of(receivables: &[(i32, i32, i32)]) -> ByDue {
        let mut rows: Vec<(i32, i32)> = receivables.iter().map(|&(_, due, settled)| (due, settled)).collect();
        rows.sort_unstable();
        let mut latest = i32::MIN;
        let latest_settled = rows
            .iter()
            .map(|&(_, s)| {
                latest = latest.max(s);
                latest
            })
            .collect();
        ByDue { rows, latest_settled }
    }

    /// When the customer has receivables past due on `day` (due before it, not settled by
    /// it), the day the last of them was settled (`i32::MAX` when one is still open).
    pub fn past_due_settled(&self, day: i32) -> Option<i32> {
        let k = self.rows.partition_point(|r| r.0 < day);
        // The latest settlement among the receivables due so far is past `day` exactly when one
        // of them is still open on `day`, and then it is the latest of those open.
        (k > 0 && self.latest_settled[k - 1] > day).then(|| self.latest_settled[k - 1])
    }
}

/// The tables a run publishes only when an activities input is configured.
pub const NEED_ACTIVITIES: [&str; 6] = [
    "activities",
    "collections_monthly",
    "collections_agents",
    "compliance_findings",
    "channel_effectiveness",
    "collections_worklist",
];

/// The collections tables, in publishing order.
pub fn contracts() -> Vec<TableContract> {
    vec![
        kpi::monthly_contract(),
        kpi::agents_contract(),
        COMPLIANCE_FINDINGS_TABLE.clone(),
        effect::CHANNEL_EFFECTIVENESS_TABLE.clone(),
        worklist::COLLECTIONS_WORKLIST_TABLE.clone(),
    ]
}

/// The collections tables of one run, in [`contracts`] order, the `broken_promise` alerts,
/// and what the run reports.
#[derive(Debug)]
pub struct Built {
    pub tables: Vec<(TableContract, DataFrame)>,
    pub alerts: Vec<crate::analytics::alerts::Alert>,
    pub activities: usize,
    pub findings: usize,
    /// Wall time per step, in milliseconds.
    pub timings: Vec<(&'static str, u64)>,
}

/// Build the collections tables from the log: KPIs (`[collections]`), the audit
/// (`[compliance]`), the channels' effects (by the champion's bands in `risk`, when models
/// ran), the worklist and the broken-promise alerts at the alerts' month ends. `last_day` is
/// the last day the data covers.
pub fn build(
    log: &ActivityLog,
    book: &Book,
    apps: &crate::cash::Applications,
    places: &audit::Jurisdictions,
    risk: Option<&effect::Risk>,
    analysis: &crate::analytics::params::Analysis,
    last_day: i32,
) -> Result<Built> {
    let (params, rules) = (&analysis.collections, &analysis.compliance);
    let mut timings = Vec::new();
    let mut started = std::time::Instant::now();
    let mut lap = |step: &'static str| {
        timings.push((step, started.elapsed().as_millis() as u64));
        started = std::time::Instant::now();
    };
    let cells = kpi::judge(log, book, apps, params, last_day);
    let alerts =
        kpi::promise_alerts(log, book, &cells.broken, &crate::analytics::alerts::window_ends(book, apps, analysis));
    let costs = params.costs.is_some();
    let monthly_contract = kpi::monthly_contract();
    let segments = book.customers.dims.first();
    let monthly = kpi::table(
        &monthly_contract,
        &cells.by_segment,
        |g| segments.map_or("ALL".to_string(), |d| d.values[g as usize].clone()),
        costs,
    )?;
    let agents_contract = kpi::agents_contract();
    let agents = kpi::table(
        &agents_contract,
        &cells.by_agent,
        |g| if g == u32::MAX { "UNASSIGNED".to_string() } else { log.agents.get(g as usize).to_string() },
        costs,
    )?;
    drop(cells);
    lap("kpis");
    let findings = if rules.enabled { audit::audit(log, book, apps, places, rules, last_day) } else { Vec::new() };
    let table = findings_table(&findings, log, book)?;
    lap("audit");
    let strata = effect::strata(log, book, apps, risk, params.cure_days, last_day);
    let effects = effect::effects(&strata, segments.is_some());
    let segment_name = |g: u32| segments.map_or("ALL".to_string(), |d| d.values[g as usize].clone());
    let effectiveness = effect::table(&effects, risk, segment_name)?;
    lap("effectiveness");
    let inputs = worklist::Inputs { apps, risk, strata: &strata, places, rules, params, last_day };
    let lines = worklist::worklist(log, book, inputs);
    let worklist = worklist::table(&lines, book, risk, rules, last_day)?;
    lap("worklist");
    Ok(Built {
        tables: vec![
            (monthly_contract, monthly),
            (agents_contract, agents),
            (COMPLIANCE_FINDINGS_TABLE.clone(), table),
            (effect::CHANNEL_EFFECTIVENESS_TABLE.clone(), effectiveness),
            (worklist::COLLECTIONS_WORKLIST_TABLE.clone(), worklist),
        ],
        alerts,
        activities: log.len(),
        findings: findings.len(),
        timings,
    })
}

/// The `compliance_findings` table.
pub fn findings_table(findings: &[Finding], log: &ActivityLog, book: &Book) -> Result<DataFrame> {
    let n = findings.len();
    let (mut rule, mut customer, mut activity, mut at, mut local) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut channel, mut agent, mut severity, mut evidence, mut citation) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for f in findings {
        let i = f.activity;
        rule.push(f.rule.as_str());
        customer.push(book.customers.ids.get(log.rows[i].customer as usize));
        activity.push(log.id(i));
        at.push(log.rows[i].at);
        let m = log.rows[i].local_minute();
        local.push(format!(
            "{} {:02}:{:02}",
            crate::calendar::from_epoch_days(m.div_euclid(1440) as i32),
            m.rem_euclid(1440) / 60,
            m.rem_euclid(60)
        ));
        channel.push(log.rows[i].channel.as_str());
        agent.push(log.agent_name(i));
        severity.push(f.rule.severity());
        evidence.push(f.evidence.as_str());
        citation.push(f.rule.citation());
    }
    let text = |name: &str, v: &[&str]| Column::new(name.into(), v);
    DataFrame::new(
        n,
        vec![
            text("rule", &rule),
            text("customer_id", &customer),
            text("activity_id", &activity),
            Int64Chunked::from_vec("occurred_at".into(), at)
                .into_datetime(TimeUnit::Microseconds, Some(polars::prelude::TimeZone::UTC))
                .into_column(),
            Column::new("local_time".into(), local),
            text("channel", &channel),
            Column::new("agent".into(), agent),
            text("severity", &severity),
            text("evidence", &evidence),
            text("citation", &citation),
        ],
    )
    .map_err(EngineError::polars("building compliance_findings"))
}
