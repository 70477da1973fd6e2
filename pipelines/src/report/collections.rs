//! What does the report show about collecting? Only for runs with an activities input: the
//! compliance findings per rule, each channel's measured effect on cures across the portfolio,
//! and the first lines of the next-best-action worklist.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ardent_engine::money::format_cents;
use serde::Serialize;

use super::data::{Source, TOP, floats, ints, texts};
use super::page::{esc, group};

/// Findings of one audit rule.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleCount {
    pub rule: String,
    pub findings: u64,
    pub customers: u64,
    pub citation: String,
}

/// A channel's effect across the portfolio (`channel_effectiveness`, segment and band ALL).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ChannelEffect {
    pub channel: String,
    pub treated_weeks: i64,
    pub cure_rate: Option<f64>,
    pub control_cure_rate: Option<f64>,
    pub uplift_low: Option<f64>,
    pub uplift_high: Option<f64>,
    pub verdict: String,
}

/// A line of `collections_worklist`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NextAction {
    pub priority_rank: i64,
    pub customer_id: String,
    pub risk_band: String,
    pub past_due: String,
    pub action: String,
    pub channel: Option<String>,
    pub contact_on: Option<String>,
    pub reason: String,
}

/// The collections section's numbers.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Collections {
    pub findings: Vec<RuleCount>,
    pub effects: Vec<ChannelEffect>,
    pub next: Vec<NextAction>,
    /// Lines of the worklist per action.
    pub actions: BTreeMap<String, u64>,
}

/// The tables the section reads.
pub const TABLES: [&str; 3] = ["compliance_findings", "channel_effectiveness", "collections_worklist"];

impl Collections {
    /// The section's numbers, when the run published the collections tables.
    pub fn gather(source: &Source) -> anyhow::Result<Option<Collections>> {
        let Some(worklist) = source.read("collections_worklist")? else { return Ok(None) };
        let mut c = Collections::default();
        if let Some(f) = source.read("compliance_findings")? {
            let (rule, customer, citation) = (texts(&f, "rule")?, texts(&f, "customer_id")?, texts(&f, "citation")?);
            let mut by_rule: BTreeMap<String, (u64, std::collections::BTreeSet<String>, String)> = BTreeMap::new();
            for i in 0..f.height() {
                let e = by_rule.entry(rule[i].clone().unwrap_or_default()).or_default();
                e.0 += 1;
                e.1.insert(customer[i].clone().unwrap_or_default());
                e.2 = citation[i].clone().unwrap_or_default();
            }
            c.findings = by_rule
                .into_iter()
                .map(|(rule, (findings, customers, citation))| RuleCount {
                    rule,
                    findings,
                    customers: customers.len() as u64,
                    citation,
                })
                .collect();
        }
        if let Some(e) = source.read("channel_effectiveness")? {
            let (segment, band, channel, verdict) =
                (texts(&e, "segment")?, texts(&e, "risk_band")?, texts(&e, "channel")?, texts(&e, "verdict")?);
            let treated = ints(&e, "treated_weeks")?;
            let (rate, control, low, high) = (
                floats(&e, "cure_rate")?,
                floats(&e, "control_cure_rate")?,
                floats(&e, "uplift_low")?,
                floats(&e, "uplift_high")?,
            );
            c.effects = (0..e.height())
                .filter(|&i| segment[i].as_deref() == Some("ALL") && band[i].as_deref() == Some("ALL"))
                .map(|i| ChannelEffect {
                    channel: channel[i].clone().unwrap_or_default(),
                    treated_weeks: treated[i].unwrap_or_default(),
                    cure_rate: rate[i],
                    control_cure_rate: control[i],
                    uplift_low: low[i],
                    uplift_high: high[i],
                    verdict: verdict[i].clone().unwrap_or_default(),
                })
                .collect();
        }
        let w = &worklist;
        let (rank, customer, band, action) =
            (ints(w, "priority_rank")?, texts(w, "customer_id")?, texts(w, "risk_band")?, texts(w, "action")?);
        let (past_due, channel, on, reason) =
            (texts(w, "past_due")?, texts(w, "channel")?, texts(w, "contact_on")?, texts(w, "reason")?);
        for a in action.iter().flatten() {
            *c.actions.entry(a.clone()).or_default() += 1;
        }
        let mut rows: Vec<usize> = (0..w.height()).collect();
        rows.sort_by_key(|&i| rank[i].unwrap_or(i64::MAX));
        c.next = rows
            .into_iter()
            .take(TOP)
            .map(|i| NextAction {
                priority_rank: rank[i].unwrap_or_default(),
                customer_id: customer[i].clone().unwrap_or_default(),
                risk_band: band[i].clone().unwrap_or_default(),
                past_due: past_due[i].clone().unwrap_or_else(|| format_cents(0)),
                action: action[i].clone().unwrap_or_default(),
                channel: channel[i].clone(),
                contact_on: on[i].clone(),
                reason: reason[i].clone().unwrap_or_default(),
            })
            .collect();
        Ok(Some(c))
    }

    /// The section's HTML.
    pub fn html(&self, body: &mut String) {
        let pct = |v: Option<f64>| v.map(|x| format!("{:.1}%", x * 100.0)).unwrap_or_else(|| "–".into());
        let pts = |v: Option<f64>| v.map(|x| format!("{:+.1}", x * 100.0)).unwrap_or_else(|| "–".into());
        body.push_str("<section><h2>Collections</h2>");
        let actions: Vec<String> =
            self.actions.iter().map(|(a, n)| format!("{} {}", group(&n.to_string()), esc(a))).collect();
        let _ = write!(
            body,
            "<p class=\"note\">Next best actions for every past-due customer: {}. Definitions: docs/definitions.md, \"Next best action\".</p>",
            actions.join(", ")
        );
        body.push_str("<h3>Compliance findings</h3>");
        if self.findings.is_empty() {
            body.push_str("<p>The audit found no breach.</p>");
        } else {
            body.push_str("<table class=\"num\"><thead><tr><th>rule</th><th>findings</th><th>customers</th><th>source</th></tr></thead><tbody>");
            for f in &self.findings {
                let _ = write!(
                    body,
                    "<tr><td class=\"t\">{}</td><td>{}</td><td>{}</td><td class=\"t\">{}</td></tr>",
                    esc(&f.rule),
                    group(&f.findings.to_string()),
                    group(&f.customers.to_string()),
                    esc(&f.citation)
                );
            }
            body.push_str("</tbody></table>");
        }
        if !self.effects.is_empty() {
            body.push_str("<h3>What works</h3><p class=\"note\">Customer-weeks past due actioned through each channel against those left alone that week, matched on segment, risk band and days past due; uplift in points with its 95% interval.</p><table class=\"num\"><thead><tr><th>channel</th><th>weeks</th><th>cure rate</th><th>without action</th><th>uplift</th><th>verdict</th></tr></thead><tbody>");
            for e in &self.effects {
                let _ = write!(
                    body,
                    "<tr><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} to {}</td><td class=\"t\">{}</td></tr>",
                    esc(&e.channel),
                    group(&e.treated_weeks.to_string()),
                    pct(e.cure_rate),
                    pct(e.control_cure_rate),
                    pts(e.uplift_low),
                    pts(e.uplift_high),
                    esc(&e.verdict)
                );
            }
            body.push_str("</tbody></table>");
        }
        if !self.next.is_empty() {
            body.push_str("<h3>Next best actions</h3><table class=\"num\"><thead><tr><th>priority</th><th>customer</th><th>band</th><th>past due</th><th>action</th><th>channel</th><th>on</th><th>why</th></tr></thead><tbody>");
            for n in &self.next {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td>{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td></tr>",
                    n.priority_rank,
                    esc(&n.customer_id),
                    esc(&n.risk_band),
                    esc(&group(&n.past_due)),
                    esc(&n.action),
                    n.channel.as_deref().map(esc).unwrap_or_else(|| "–".into()),
                    n.contact_on.as_deref().map(esc).unwrap_or_else(|| "–".into()),
                    esc(&n.reason)
                );
            }
            body.push_str("</tbody></table>");
        }
        body.push_str("</section>");
    }
}
