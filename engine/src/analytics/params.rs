//! `[analytics]` parameters as written in a pipeline config ([`AnalyticsParams`]) and their
//! checked twin ([`Analysis`]).

use serde::{Deserialize, Serialize};

use crate::calendar::Schedule;
use crate::error::{EngineError, Result};

/// Which date an open item's age counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgingBasis {
    /// Days past due (the default).
    #[default]
    DueDate,
    /// Days since the document date.
    DocDate,
}

/// How CEI measures a month's collectible sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CeiVariant {
    /// (AR_begin + sales − AR_end) / (AR_begin + sales − current AR_end) over the month.
    #[default]
    PeriodSales,
    /// The same over the last `cei_months` months, with sales / `cei_months`.
    AverageSales,
}

/// Which rate converts an open amount to the reporting currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Revaluation {
    /// The as-of date's rate (revaluation; the default).
    #[default]
    AsOf,
    /// The document date's rate.
    Document,
}

/// `snapshots = "month_end" | "week_end" | ["2025-03-31", ...]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SnapshotsParam {
    Every(String),
    Dates(Vec<String>),
}

/// `[analytics]` in a pipeline config. Every field is optional; defaults are documented.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalyticsParams {
    /// Dates of the aging snapshots: `"month_end"` (default), `"week_end"` (Sundays), or a
    /// list of `YYYY-MM-DD` dates.
    pub snapshots: Option<SnapshotsParam>,
    /// First as-of date considered (default: the first event date).
    pub from: Option<String>,
    /// Last as-of date considered (default: the last event date; a later date, such as the
    /// day the export was taken, reports the month ends up to it).
    pub to: Option<String>,
    /// Upper edges of the aging buckets in days. Default `[0, 30, 60, 90, 120]`: current,
    /// 1-30, 31-60, 61-90, 91-120, 121+.
    pub bucket_edges: Option<Vec<i64>>,
    /// `due_date` (default) or `doc_date`.
    pub aging_basis: Option<AgingBasis>,
    /// Days of credit sales in the standard DSO. Default 90.
    pub dso_days: Option<u32>,
    /// `period_sales` (default) or `average_sales`.
    pub cei: Option<CeiVariant>,
    /// Months of the `average_sales` CEI. Default 3.
    pub cei_months: Option<u32>,
    /// An open amount is delinquent when more than this many days past due. Default 0.
    pub delinquency_days: Option<u32>,
    /// Customers columns that dashboards are split by. Default `["segment"]`.
    pub segment_columns: Option<Vec<String>>,
    /// `as_of` (default) or `document`.
    pub revaluation: Option<Revaluation>,
    /// Trailing days of paid invoices in `customer_payment_stats`. Default 365.
    pub payment_stats_days: Option<u32>,
}

/// Aging buckets: bucket `i` holds ages in `(edges[i-1], edges[i]]`, the last one everything
/// above the last edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets {
    pub basis: AgingBasis,
    pub edges: Vec<i32>,
    /// Short names: `current`, `1_30`, …, `121_plus`.
    pub names: Vec<String>,
}

impl Buckets {
    /// The bucket of an age in days.
    pub fn index(&self, age: i32) -> usize {
        self.edges.partition_point(|&e| e < age)
    }

    /// Number of buckets (edges + 1).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Never empty.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Checked analytics parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub schedule: Schedule,
    pub from: Option<i32>,
    pub to: Option<i32>,
    pub buckets: Buckets,
    pub dso_days: u32,
    pub cei: CeiVariant,
    pub cei_months: u32,
    pub delinquency_days: u32,
    pub segment_columns: Vec<String>,
    pub revaluation: Revaluation,
    pub payment_stats_days: u32,
    /// `[ecl]` (a section of its own in a config; the default until the settings set it).
    pub ecl: super::ecl::Ecl,
    /// `[cash_forecast]` (a section of its own in a config).
    pub cash_forecast: super::cash_forecast::CashForecast,
    /// `[alerts]` (a section of its own in a config).
    pub alerts: super::alerts::Alerts,
    /// `[compliance]` (a section of its own in a config; read only with an activities input).
    pub compliance: crate::collections::audit::Compliance,
    /// `[collections]` (a section of its own in a config; read only with an activities input).
    pub collections: crate::collections::kpi::Collections,
}

/// Customers columns that can split dashboards.
pub const SEGMENT_COLUMNS: [&str; 4] = ["segment", "industry", "region", "country"];

fn config(msg: String) -> EngineError {
    EngineError::config(msg)
}

fn date(key: &str, s: &str) -> Result<i32> {
    crate::calendar::parse_day(s)
        .ok_or_else(|| config(format!("`analytics.{key}` = \"{s}\" is not a date; write it as YYYY-MM-DD")))
}

impl AnalyticsParams {
    /// Check every field and fill in the defaults.
    pub fn check(&self) -> Result<Analysis> {
        let schedule = match &self.snapshots {
            None => Schedule::MonthEnd,
            Some(SnapshotsParam::Every(s)) => match s.as_str() {
                "month_end" => Schedule::MonthEnd,
                "week_end" => Schedule::WeekEnd,
                other => {
                    return Err(config(format!(
                        "`analytics.snapshots` = \"{other}\" is not known; use \"month_end\", \"week_end\" or a list of dates"
                    )));
                }
            },
            Some(SnapshotsParam::Dates(list)) => {
                if list.is_empty() {
                    return Err(config("`analytics.snapshots` is an empty list; give at least one date".into()));
                }
                let mut dates = list.iter().map(|s| date("snapshots", s)).collect::<Result<Vec<_>>>()?;
                dates.sort_unstable();
                dates.dedup();
                Schedule::Dates(dates)
            }
        };
        let from = self.from.as_deref().map(|s| date("from", s)).transpose()?;
        let to = self.to.as_deref().map(|s| date("to", s)).transpose()?;
        if let (Some(f), Some(t)) = (from, to)
            && t < f
        {
            return Err(config(format!(
                "`analytics.to` ({}) is before `analytics.from` ({})",
                self.to.as_deref().unwrap_or_default(),
                self.from.as_deref().unwrap_or_default()
            )));
        }
        let basis = self.aging_basis.unwrap_or_default();
        let edges = self.bucket_edges.clone().unwrap_or_else(|| match basis {
            AgingBasis::DueDate => vec![0, 30, 60, 90, 120],
            AgingBasis::DocDate => vec![30, 60, 90, 120],
        });
        let buckets = check_buckets(basis, &edges)?;
        let positive = |key: &str, v: Option<u32>, default: u32, max: u32| -> Result<u32> {
            let v = v.unwrap_or(default);
            if v == 0 || v > max {
                return Err(config(format!("`analytics.{key}` must be between 1 and {max}, but is {v}")));
            }
            Ok(v)
        };
        let dso_days = positive("dso_days", self.dso_days, 90, 3660)?;
        let cei_months = positive("cei_months", self.cei_months, 3, 120)?;
        let payment_stats_days = positive("payment_stats_days", self.payment_stats_days, 365, 3660)?;
        let delinquency_days = self.delinquency_days.unwrap_or(0);
        if delinquency_days > 3650 {
            return Err(config(format!(
                "`analytics.delinquency_days` must be at most 3650, but is {delinquency_days}"
            )));
        }
        let segment_columns = self.segment_columns.clone().unwrap_or_else(|| vec!["segment".to_string()]);
        for c in &segment_columns {
            if !SEGMENT_COLUMNS.contains(&c.as_str()) {
                return Err(config(format!(
                    "`analytics.segment_columns` names `{c}`, which is not a customers column that can split dashboards. Valid columns are: {}",
                    SEGMENT_COLUMNS.join(", ")
                )));
            }
        }
        let mut seen = segment_columns.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != segment_columns.len() {
            return Err(config("`analytics.segment_columns` names a column twice".into()));
        }
        Ok(Analysis {
            schedule,
            from,
            to,
            buckets,
            dso_days,
            cei: self.cei.unwrap_or_default(),
            cei_months,
            delinquency_days,
            segment_columns,
            revaluation: self.revaluation.unwrap_or_default(),
            payment_stats_days,
            ecl: super::ecl::Ecl::default(),
            cash_forecast: super::cash_forecast::CashForecast::default(),
            alerts: super::alerts::Alerts::default(),
            compliance: crate::collections::audit::Compliance::default(),
            collections: crate::collections::kpi::Collections::default(),
        })
    }
}

fn check_buckets(basis: AgingBasis, edges: &[i64]) -> Result<Buckets> {
    if edges.is_empty() {
        return Err(config("`analytics.bucket_edges` is empty; give at least one edge, e.g. [0, 30, 60, 90]".into()));
    }
    for w in edges.windows(2) {
        if w[1] <= w[0] {
            return Err(config(format!(
                "`analytics.bucket_edges` must be strictly increasing, but {} is followed by {}",
                w[0], w[1]
            )));
        }
    }
    let (first, last) = (edges[0], edges[edges.len() - 1]);
    match basis {
        AgingBasis::DueDate if first != 0 => {
            return Err(config(format!(
                "`analytics.bucket_edges` must start at 0 with `aging_basis = \"due_date\"` (so that amounts not yet due have their own `current` bucket), but starts at {first}"
            )));
        }
        AgingBasis::DocDate if first <= 0 => {
            return Err(config(format!(
                "`analytics.bucket_edges` must start above 0 with `aging_basis = \"doc_date\"`, but starts at {first}"
            )));
        }
        _ => {}
    }
    if last > 3650 {
        return Err(config(format!("`analytics.bucket_edges` must stay within 3650 days, but ends at {last}")));
    }
    let edges: Vec<i32> = edges.iter().map(|&e| e as i32).collect();
    let mut names = Vec::with_capacity(edges.len() + 1);
    names.push(if edges[0] == 0 { "current".to_string() } else { format!("0_{}", edges[0]) });
    for w in edges.windows(2) {
        names.push(format!("{}_{}", w[0] + 1, w[1]));
    }
    names.push(format!("{}_plus", edges[edges.len() - 1] + 1));
    Ok(Buckets { basis, edges, names })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_buckets_follow_design() {
        let a = AnalyticsParams::default().check().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.buckets.names, ["current", "1_30", "31_60", "61_90", "91_120", "121_plus"]);
        let b = &a.buckets;
        assert_eq!([-5, 0, 1, 30, 31, 90, 91, 120, 121].map(|d| b.index(d)), [0, 0, 1, 1, 2, 3, 4, 4, 5]);
    }

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        let err = |p: AnalyticsParams| p.check().err().map(|e| e.to_string()).unwrap_or_default();
        let e = err(AnalyticsParams { bucket_edges: Some(vec![0, 60, 30]), ..Default::default() });
        assert!(e.contains("strictly increasing, but 60 is followed by 30"), "{e}");
        let e = err(AnalyticsParams { bucket_edges: Some(vec![30, 60]), ..Default::default() });
        assert!(e.contains("must start at 0"), "{e}");
        let e = err(AnalyticsParams { segment_columns: Some(vec!["name".into()]), ..Default::default() });
        assert!(e.contains("`name`") && e.contains("region"), "{e}");
        let e = err(AnalyticsParams { snapshots: Some(SnapshotsParam::Every("daily".into())), ..Default::default() });
        assert!(e.contains("\"daily\""), "{e}");
        let e = err(AnalyticsParams { dso_days: Some(0), ..Default::default() });
        assert!(e.contains("dso_days") && e.contains("but is 0"), "{e}");
        let doc = AnalyticsParams { aging_basis: Some(AgingBasis::DocDate), ..Default::default() }.check();
        assert_eq!(doc.map(|a| a.buckets.names).unwrap_or_default(), ["0_30", "31_60", "61_90", "91_120", "121_plus"]);
    }
}
