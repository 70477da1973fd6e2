//! Which numbers does the report show? Each is read from a published table and carried as the
//! table holds it: money as exact decimal text (summed in cents), ratios as the table's floats,
//! so a test can check the page against the tables and the page never shows a rounded sum.

use std::collections::BTreeMap;

use ardent_engine::money::format_cents;
use polars::prelude::*;
use serde::Serialize;

pub use crate::published::TableFiles as Source;

/// One headline number with its month-on-month change.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Tile {
    pub label: &'static str,
    /// As the table holds it (money in the reporting currency, days, percent).
    pub value: String,
    pub previous: Option<String>,
    /// `up`, `down` or `flat` against the previous month end.
    pub direction: &'static str,
    /// Whether the move is an improvement (`None` when flat or unknown).
    pub better: Option<bool>,
}

/// Month-end series of the portfolio (kpi_monthly, `segment = ALL`).
#[derive(Debug, Default, Serialize)]
pub struct Trends {
    pub months: Vec<String>,
    pub dso_standard: Vec<Option<f64>>,
    pub dso_countback: Vec<Option<f64>>,
    pub best_dso_standard: Vec<Option<f64>>,
    pub add_standard: Vec<Option<f64>>,
    pub cei: Vec<Option<f64>>,
    pub delinquency_rate_amount: Vec<Option<f64>>,
    pub share_90_plus: Vec<Option<f64>>,
}

/// Open AR per bucket per as-of date (aging summed over customers).
#[derive(Debug, Default, Serialize)]
pub struct AgingStack {
    pub as_of: Vec<String>,
    /// (bucket, amount per as-of date as decimal text)
    pub buckets: Vec<(String, Vec<String>)>,
    pub total: Vec<String>,
}

/// One month of the AR roll-forward: begin + credit sales − cash applied − write-offs + other
/// = end, where `other` (credit memos, FX revaluation, adjustments) is what closes it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RollForward {
    pub month: String,
    pub ar_begin: String,
    pub credit_sales: String,
    pub cash_applied: String,
    pub write_offs: String,
    pub other: String,
    pub ar_end: String,
}

/// Amount-weighted roll rates over the last months: the share of each bucket's amount at a
/// month end found in each state at the next.
#[derive(Debug, Default, Serialize)]
pub struct RollMatrix {
    pub months: Vec<String>,
    pub from: Vec<String>,
    pub to: Vec<String>,
    /// `rates[i][j]`: from `from[i]` to `to[j]`, `None` where nothing moved that way.
    pub rates: Vec<Vec<Option<f64>>>,
}

/// Share of each billing month's amount paid by each age (cohorts, `segment = ALL`).
#[derive(Debug, Default, Serialize)]
pub struct CohortGrid {
    pub cohorts: Vec<String>,
    pub ages: Vec<i64>,
    pub paid_share: Vec<Vec<Option<f64>>>,
}

/// A customer with the most past due at the latest as-of date.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Overdue {
    pub customer_id: String,
    pub segment: Option<String>,
    pub past_due: String,
    pub total_open: String,
    pub max_dpd: Option<i64>,
    pub credit_limit: Option<String>,
}

/// A line of the collections worklist (customer_scores, by priority).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Work {
    pub priority_rank: Option<i64>,
    pub customer_id: String,
    pub risk_band: Option<String>,
    pub pd: Option<f64>,
    pub exposure: Option<String>,
    pub expected_loss: Option<String>,
    pub recommended_action: Option<String>,
    pub reason_1: Option<String>,
}

/// A row of data_quality that counted something.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Quality {
    pub input: String,
    pub rule: String,
    pub outcome: String,
    pub rows: i64,
    pub share: Option<f64>,
}

/// The champion model: out-of-time calibration and what drives it.
#[derive(Debug, Default, Serialize)]
pub struct Model {
    pub model_id: String,
    pub auc: Option<f64>,
    pub deciles: Vec<(i64, Option<f64>, Option<f64>)>,
    pub importance: Vec<(String, Option<f64>)>,
}

/// One bucket of the portfolio's provision matrix at the latest month end.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EclBucket {
    pub bucket: String,
    pub exposure: String,
    pub historical: Option<f64>,
    pub adjusted: Option<f64>,
    pub allowance: String,
}

/// The portfolio allowance's movement over a month.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EclFlow {
    pub as_of: String,
    pub opening: String,
    pub write_offs_used: String,
    pub charge: String,
    pub closing: String,
}

/// A month end's allowance against the write-offs that followed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EclJudged {
    pub as_of: String,
    pub allowance: String,
    pub realised: String,
    pub coverage: Option<f64>,
}

/// The expected credit loss of the portfolio (roll-rate method).
#[derive(Debug, Default, Serialize)]
pub struct Ecl {
    pub as_of: String,
    pub overlay: Option<f64>,
    pub matrix: Vec<EclBucket>,
    pub flows: Vec<EclFlow>,
    pub backtest: Vec<EclJudged>,
}

/// One week of the portfolio's cash forecast in one currency.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CashWeek {
    pub currency: String,
    pub week: i64,
    pub week_end: String,
    pub p10: String,
    pub p50: String,
    pub p90: String,
}

/// How close the forecast came at one week ahead over the backtest (one currency).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CashAccuracy {
    pub week: i64,
    pub wape: Option<f64>,
    pub naive_due_date: Option<f64>,
    pub naive_lateness: Option<f64>,
    pub coverage: Option<f64>,
}

/// The portfolio's cash forecast and its backtest.
#[derive(Debug, Default, Serialize)]
pub struct CashForecast {
    pub as_of: String,
    pub weeks: Vec<CashWeek>,
    /// The currency the accuracy is shown for (the one with the most cash in the backtest).
    pub accuracy_currency: String,
    pub accuracy: Vec<CashAccuracy>,
}

/// One alert of the latest month end.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AlertRow {
    pub customer: String,
    pub kind: String,
    pub severity: String,
    pub first_seen: String,
    pub evidence: String,
}

/// The alerts of the latest month end: how many per kind, and the first [`TOP`] (high first,
/// then new ones, by kind).
#[derive(Debug, Default, Serialize)]
pub struct AlertList {
    pub as_of: String,
    /// (kind, alerts, of which first seen at as_of).
    pub counts: Vec<(String, usize, usize)>,
    pub rows: Vec<AlertRow>,
}

/// Everything the report shows.
#[derive(Debug, Default, Serialize)]
pub struct ReportData {
    pub run_id: String,
    pub currency: String,
    pub as_of: Option<String>,
    pub tiles: Vec<Tile>,
    pub trends: Trends,
    pub aging: AgingStack,
    pub roll_forward: Vec<RollForward>,
    pub roll_rates: RollMatrix,
    pub ecl: Ecl,
    pub cash_forecast: CashForecast,
    pub alerts: AlertList,
    pub cohorts: CohortGrid,
    pub top_overdue: Vec<Overdue>,
    pub worklist: Vec<Work>,
    pub quality: Vec<Quality>,
    pub model: Option<Model>,
    /// Only for runs with an activities input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collections: Option<super::collections::Collections>,
}

/// Months shown in the roll-forward and averaged in the roll rates; cohorts shown.
pub const RECENT_MONTHS: usize = 12;
/// Customers in the overdue list and the worklist.
pub const TOP: usize = 15;

pub(super) fn texts(df: &DataFrame, name: &str) -> anyhow::Result<Vec<Option<String>>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

pub(super) fn floats(df: &DataFrame, name: &str) -> anyhow::Result<Vec<Option<f64>>> {
    let c = df.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().collect())
}

pub(super) fn ints(df: &DataFrame, name: &str) -> anyhow::Result<Vec<Option<i64>>> {
    let c = df.column(name)?.cast(&DataType::Int64)?;
    Ok(c.i64()?.iter().collect())
}

/// A `DECIMAL(18,2)` column in cents.
fn cents(df: &DataFrame, name: &str) -> anyhow::Result<Vec<Option<i128>>> {
    let c = df.column(name)?;
    let d = anyhow::Context::with_context(c.decimal(), || format!("{name} is not a decimal column"))?;
    anyhow::ensure!(d.scale() == 2, "{name} has scale {}, not 2", d.scale());
    Ok(d.physical().iter().collect())
}

/// The last [`RECENT_MONTHS`] of `rows` (in date order).
fn recent(rows: &[usize]) -> &[usize] {
    &rows[rows.len().saturating_sub(RECENT_MONTHS)..]
}

fn money(v: Option<i128>) -> String {
    format_cents(v.unwrap_or_default())
}

impl ReportData {
    /// Gather the report's numbers from `source`.
    pub fn gather(source: &Source, run_id: &str, currency: &str, champion: Option<&str>) -> anyhow::Result<ReportData> {
        let mut data = ReportData { run_id: run_id.to_string(), currency: currency.to_string(), ..Default::default() };
        if let Some(kpi) = source.read("kpi_monthly")? {
            data.portfolio(&kpi)?;
        }
        if source.has("aging") {
            data.aging(source)?;
        }
        if let Some(roll) = source.read("roll_rates")? {
            data.roll_rates(&roll)?;
        }
        if let Some(ecl) = source.read("ecl")? {
            data.ecl(&ecl, source.read("ecl_backtest")?.as_ref())?;
        }
        if let Some(forecast) = source.read("cash_forecast")? {
            data.cash_forecast(&forecast, source.read("cash_forecast_accuracy")?.as_ref())?;
        }
        if let Some(alerts) = source.read("alerts")? {
            data.alerts(&alerts)?;
        }
        if let Some(cohorts) = source.read("cohorts")? {
            data.cohorts(&cohorts)?;
        }
        if let Some(scores) = source.read("customer_scores")? {
            data.worklist(&scores)?;
        }
        if let Some(quality) = source.read("data_quality")? {
            data.quality(&quality)?;
        }
        data.collections = super::collections::Collections::gather(source)?;
        if let Some(id) = champion {
            data.model(source, id)?;
        }
        Ok(data)
    }

    /// Trends, tiles and the roll-forward from the portfolio rows of kpi_monthly.
    fn portfolio(&mut self, kpi: &DataFrame) -> anyhow::Result<()> {
        let segment = texts(kpi, "segment")?;
        let month = texts(kpi, "month")?;
        let mut rows: Vec<usize> = (0..kpi.height()).filter(|&i| segment[i].as_deref() == Some("ALL")).collect();
        rows.sort_by(|&a, &b| month[a].cmp(&month[b]));
        let pick = |v: Vec<Option<f64>>| rows.iter().map(|&i| v[i]).collect::<Vec<_>>();
        let t = &mut self.trends;
        t.months = rows.iter().map(|&i| month[i].clone().unwrap_or_default()).collect();
        t.dso_standard = pick(floats(kpi, "dso_standard")?);
        t.dso_countback = pick(floats(kpi, "dso_countback")?);
        t.best_dso_standard = pick(floats(kpi, "best_dso_standard")?);
        t.add_standard = pick(floats(kpi, "add_standard")?);
        t.cei = pick(floats(kpi, "cei")?);
        t.delinquency_rate_amount = pick(floats(kpi, "delinquency_rate_amount")?);
        t.share_90_plus = pick(floats(kpi, "share_90_plus")?);
        let [begin, end, sales, cash, written] =
            ["ar_begin", "ar_end", "credit_sales", "cash_applied", "write_offs"].map(|c| cents(kpi, c));
        let (begin, end, sales, cash, written) = (begin?, end?, sales?, cash?, written?);
        for &i in rows.iter().rev().take(RECENT_MONTHS).rev() {
            let v = |c: &[Option<i128>]| c[i].unwrap_or_default();
            let other = v(&end) - v(&begin) - v(&sales) + v(&cash) + v(&written);
            self.roll_forward.push(RollForward {
                month: month[i].clone().unwrap_or_default(),
                ar_begin: format_cents(v(&begin)),
                credit_sales: format_cents(v(&sales)),
                cash_applied: format_cents(v(&cash)),
                write_offs: format_cents(v(&written)),
                other: format_cents(other),
                ar_end: format_cents(v(&end)),
            });
        }
        let (Some(&last), previous) = (rows.last(), rows.len().checked_sub(2).map(|i| rows[i])) else {
            return Ok(());
        };
        self.as_of = month[last].clone();
        let money_tile = |label: &'static str, col: &[Option<i128>], lower_is_better: Option<bool>| {
            let (now, before) = (col[last].unwrap_or_default(), previous.map(|p| col[p].unwrap_or_default()));
            tile(label, format_cents(now), before.map(format_cents), before.map(|b| now.cmp(&b)), lower_is_better)
        };
        let float_tile = |label: &'static str, col: &[Option<f64>], scale: f64, lower_is_better: bool| {
            let show = |v: Option<f64>| v.map(|x| format!("{:.1}", x * scale)).unwrap_or_else(|| "–".into());
            let now = col[last];
            let before = previous.and_then(|p| col[p]);
            let order = match (now, before) {
                (Some(n), Some(b)) => n.partial_cmp(&b),
                _ => None,
            };
            tile(label, show(now), previous.map(|p| show(col[p])), order, Some(lower_is_better))
        };
        self.tiles = vec![
            money_tile("AR at month end", &end, None),
            float_tile("DSO (standard, days)", &floats(kpi, "dso_standard")?, 1.0, true),
            float_tile("Best DSO (days)", &floats(kpi, "best_dso_standard")?, 1.0, true),
            float_tile("ADD (days)", &floats(kpi, "add_standard")?, 1.0, true),
            float_tile("CEI (%)", &floats(kpi, "cei")?, 1.0, false),
            float_tile("Delinquent AR (%)", &floats(kpi, "delinquency_rate_amount")?, 100.0, true),
            float_tile("90+ days (%)", &floats(kpi, "share_90_plus")?, 100.0, true),
            money_tile("Cash applied in the month", &cash, Some(false)),
        ];
        Ok(())
    }

    /// The aging stack and the overdue list from the aging partitions, read one at a time (on
    /// `l` they hold millions of rows).
    fn aging(&mut self, source: &Source) -> anyhow::Result<()> {
        let files = source.files_of("aging");
        let mut dates: Vec<String> = files.iter().filter_map(|(d, _)| d.clone()).collect();
        dates.sort();
        dates.dedup();
        let mut buckets: Vec<String> = Vec::new();
        let mut sums: Vec<Vec<i128>> = Vec::new();
        let mut total = vec![0i128; dates.len()];
        // The latest date's customers with something past due.
        let mut overdue: Vec<Overdue> = Vec::new();
        let mut past_due_cents: Vec<i128> = Vec::new();
        for (k, date) in dates.iter().enumerate() {
            for file in files.iter().filter(|(d, _)| d.as_deref() == Some(date.as_str())) {
                let aging = crate::published::read_file(file, None)?;
                if buckets.is_empty() {
                    buckets = aging
                        .get_column_names()
                        .iter()
                        .filter_map(|n| n.as_str().strip_prefix("bucket_").map(str::to_string))
                        .collect();
                    sums = vec![vec![0i128; dates.len()]; buckets.len()];
                }
                for (b, name) in buckets.iter().enumerate() {
                    sums[b][k] += cents(&aging, &format!("bucket_{name}"))?.iter().flatten().sum::<i128>();
                }
                let total_open = cents(&aging, "total_open")?;
                total[k] += total_open.iter().flatten().sum::<i128>();
                if k + 1 < dates.len() {
                    continue;
                }
                let (customer, segment) = (texts(&aging, "customer_id")?, texts(&aging, "segment")?);
                let (past_due, limit, dpd) =
                    (cents(&aging, "past_due")?, cents(&aging, "credit_limit")?, ints(&aging, "max_dpd")?);
                for i in (0..aging.height()).filter(|&i| past_due[i].unwrap_or_default() > 0) {
                    past_due_cents.push(past_due[i].unwrap_or_default());
                    overdue.push(Overdue {
                        customer_id: customer[i].clone().unwrap_or_default(),
                        segment: segment[i].clone(),
                        past_due: money(past_due[i]),
                        total_open: money(total_open[i]),
                        max_dpd: dpd[i],
                        credit_limit: limit[i].map(format_cents),
                    });
                }
            }
        }
        self.aging = AgingStack {
            as_of: dates,
            buckets: buckets
                .into_iter()
                .zip(sums)
                .map(|(b, s)| (b, s.into_iter().map(format_cents).collect()))
                .collect(),
            total: total.into_iter().map(format_cents).collect(),
        };
        let mut order: Vec<usize> = (0..overdue.len()).collect();
        order.sort_by(|&a, &b| {
            past_due_cents[b].cmp(&past_due_cents[a]).then_with(|| overdue[a].customer_id.cmp(&overdue[b].customer_id))
        });
        self.top_overdue = order.into_iter().take(TOP).map(|i| overdue[i].clone()).collect();
        Ok(())
    }

    /// Amount-weighted roll rates of the portfolio over the last [`RECENT_MONTHS`] months.
    fn roll_rates(&mut self, roll: &DataFrame) -> anyhow::Result<()> {
        let (segment, month) = (texts(roll, "segment")?, texts(roll, "month")?);
        let (from, to, amount) = (texts(roll, "from_bucket")?, texts(roll, "to_bucket")?, cents(roll, "amount")?);
        let mut months: Vec<String> = (0..roll.height())
            .filter(|&i| segment[i].as_deref() == Some("ALL"))
            .filter_map(|i| month[i].clone())
            .collect();
        months.sort();
        months.dedup();
        let recent: Vec<String> = months.iter().rev().take(RECENT_MONTHS).rev().cloned().collect();
        // States in the order the bucket edges give them, then the exits.
        let mut states: Vec<String> = Vec::new();
        let mut sums: BTreeMap<(String, String), i128> = BTreeMap::new();
        let mut out_of: BTreeMap<String, i128> = BTreeMap::new();
        for i in 0..roll.height() {
            let (Some(f), Some(t), Some(m)) = (&from[i], &to[i], &month[i]) else { continue };
            if segment[i].as_deref() != Some("ALL") || !recent.contains(m) {
                continue;
            }
            for s in [f, t] {
                if !states.contains(s) {
                    states.push(s.clone());
                }
            }
            let a = amount[i].unwrap_or_default();
            *sums.entry((f.clone(), t.clone())).or_default() += a;
            *out_of.entry(f.clone()).or_default() += a;
        }
        let exits = ["paid", "credited", "written_off"];
        let mut buckets: Vec<String> = states.iter().filter(|s| !exits.contains(&s.as_str())).cloned().collect();
        buckets.sort_by_key(|b| bucket_order(b));
        let mut to_states = buckets.clone();
        to_states.extend(exits.iter().filter(|e| states.iter().any(|s| s == *e)).map(|e| e.to_string()));
        let rates = buckets
            .iter()
            .map(|f| {
                let total = out_of.get(f).copied().unwrap_or_default();
                to_states
                    .iter()
                    .map(|t| {
                        let moved = sums.get(&(f.clone(), t.clone())).copied()?;
                        (total > 0).then(|| moved as f64 / total as f64)
                    })
                    .collect()
            })
            .collect();
        self.roll_rates = RollMatrix { months: recent, from: buckets, to: to_states, rates };
        Ok(())
    }

    /// The latest month end's alerts.
    fn alerts(&mut self, alerts: &DataFrame) -> anyhow::Result<()> {
        let (as_of, customer, kind) = (texts(alerts, "as_of")?, texts(alerts, "customer_id")?, texts(alerts, "kind")?);
        let (severity, first_seen, evidence) =
            (texts(alerts, "severity")?, texts(alerts, "first_seen")?, texts(alerts, "evidence")?);
        let Some(latest) = as_of.iter().flatten().max().cloned() else { return Ok(()) };
        let text = |v: &[Option<String>], i: usize| v[i].clone().unwrap_or_default();
        let mut rows: Vec<usize> =
            (0..alerts.height()).filter(|&i| as_of[i].as_deref() == Some(latest.as_str())).collect();
        let mut counts: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
        for &i in &rows {
            let c = counts.entry(text(&kind, i)).or_default();
            c.0 += 1;
            c.1 += usize::from(first_seen[i] == as_of[i]);
        }
        rows.sort_by_key(|&i| (severity[i].as_deref() != Some("high"), first_seen[i] != as_of[i], text(&kind, i), i));
        self.alerts = AlertList {
            counts: counts.into_iter().map(|(k, (n, new))| (k, n, new)).collect(),
            rows: rows
                .iter()
                .take(TOP)
                .map(|&i| AlertRow {
                    customer: text(&customer, i),
                    kind: text(&kind, i),
                    severity: text(&severity, i),
                    first_seen: text(&first_seen, i),
                    evidence: text(&evidence, i),
                })
                .collect(),
            as_of: latest,
        };
        Ok(())
    }

    /// The portfolio's 13 weeks per currency, and the backtest's accuracy per week ahead in the
    /// currency with the most cash.
    fn cash_forecast(&mut self, forecast: &DataFrame, accuracy: Option<&DataFrame>) -> anyhow::Result<()> {
        let (segment, currency, as_of, week_end) = (
            texts(forecast, "segment")?,
            texts(forecast, "currency")?,
            texts(forecast, "as_of")?,
            texts(forecast, "week_end")?,
        );
        let (week, p10, p50, p90) =
            (ints(forecast, "week")?, cents(forecast, "p10")?, cents(forecast, "p50")?, cents(forecast, "p90")?);
        for i in (0..forecast.height()).filter(|&i| segment[i].as_deref() == Some("ALL")) {
            self.cash_forecast.as_of = as_of[i].clone().unwrap_or_default();
            self.cash_forecast.weeks.push(CashWeek {
                currency: currency[i].clone().unwrap_or_default(),
                week: week[i].unwrap_or_default(),
                week_end: week_end[i].clone().unwrap_or_default(),
                p10: money(p10[i]),
                p50: money(p50[i]),
                p90: money(p90[i]),
            });
        }
        let Some(a) = accuracy else { return Ok(()) };
        let (segment, currency, method) = (texts(a, "segment")?, texts(a, "currency")?, texts(a, "method")?);
        let (week, actual, wape, coverage) =
            (ints(a, "week")?, cents(a, "actual")?, floats(a, "wape")?, floats(a, "coverage")?);
        let portfolio: Vec<usize> = (0..a.height()).filter(|&i| segment[i].as_deref() == Some("ALL")).collect();
        let mut totals: std::collections::BTreeMap<&str, i128> = Default::default();
        for &i in portfolio.iter().filter(|&&i| method[i].as_deref() == Some("p50")) {
            *totals.entry(currency[i].as_deref().unwrap_or_default()).or_default() += actual[i].unwrap_or_default();
        }
        let Some((&top, _)) = totals.iter().max_by_key(|(c, v)| (**v, std::cmp::Reverse(**c))) else { return Ok(()) };
        self.cash_forecast.accuracy_currency = top.to_string();
        let of = |w: i64, m: &str, values: &[Option<f64>]| {
            portfolio
                .iter()
                .find(|&&i| {
                    currency[i].as_deref() == Some(top) && week[i] == Some(w) && method[i].as_deref() == Some(m)
                })
                .and_then(|&i| values[i])
        };
        let mut weeks: Vec<i64> = portfolio.iter().filter_map(|&i| week[i]).collect();
        weeks.sort_unstable();
        weeks.dedup();
        self.cash_forecast.accuracy = weeks
            .into_iter()
            .map(|w| CashAccuracy {
                week: w,
                wape: of(w, "p50", &wape),
                naive_due_date: of(w, "naive_due_date", &wape),
                naive_lateness: of(w, "naive_customer_lateness", &wape),
                coverage: of(w, "p50", &coverage),
            })
            .collect();
        Ok(())
    }

    /// The portfolio's provision matrix at the latest month end, the allowance's movement over
    /// the last [`RECENT_MONTHS`] month ends, and the last judged month ends of the backtest.
    fn ecl(&mut self, ecl: &DataFrame, backtest: Option<&DataFrame>) -> anyhow::Result<()> {
        let (segment, method, bucket, as_of) =
            (texts(ecl, "segment")?, texts(ecl, "method")?, texts(ecl, "bucket")?, texts(ecl, "as_of")?);
        let rows: Vec<usize> = (0..ecl.height())
            .filter(|&i| segment[i].as_deref() == Some("ALL") && method[i].as_deref() == Some("roll_rate"))
            .collect();
        let Some(latest) = rows.iter().filter_map(|&i| as_of[i].clone()).max() else { return Ok(()) };
        let (exposure, allowance) = (cents(ecl, "exposure")?, cents(ecl, "allowance")?);
        let (historical, adjusted, overlay) =
            (floats(ecl, "historical_loss_rate")?, floats(ecl, "adjusted_loss_rate")?, floats(ecl, "overlay")?);
        let (opening, used, charge, closing) = (
            cents(ecl, "opening_allowance")?,
            cents(ecl, "write_offs_used")?,
            cents(ecl, "charge")?,
            cents(ecl, "closing_allowance")?,
        );
        let at_latest = |i: &usize| as_of[*i].as_deref() == Some(latest.as_str());
        self.ecl.as_of = latest.clone();
        self.ecl.overlay = rows.iter().find(|i| at_latest(i)).and_then(|&i| overlay[i]);
        self.ecl.matrix = rows
            .iter()
            .filter(|i| at_latest(i))
            .map(|&i| EclBucket {
                bucket: bucket[i].clone().unwrap_or_default(),
                exposure: money(exposure[i]),
                historical: historical[i],
                adjusted: adjusted[i],
                allowance: money(allowance[i]),
            })
            .collect();
        let totals: Vec<usize> = rows.iter().copied().filter(|&i| bucket[i].as_deref() == Some("ALL")).collect();
        self.ecl.flows = recent(&totals)
            .iter()
            .map(|&i| EclFlow {
                as_of: as_of[i].clone().unwrap_or_default(),
                opening: money(opening[i]),
                write_offs_used: money(used[i]),
                charge: money(charge[i]),
                closing: money(closing[i]),
            })
            .collect();
        if let Some(b) = backtest {
            let (segment, method, as_of) = (texts(b, "segment")?, texts(b, "method")?, texts(b, "as_of")?);
            let (allowance, realised, coverage) =
                (cents(b, "allowance")?, cents(b, "realised_write_offs")?, floats(b, "coverage")?);
            let judged: Vec<usize> = (0..b.height())
                .filter(|&i| segment[i].as_deref() == Some("ALL") && method[i].as_deref() == Some("roll_rate"))
                .collect();
            self.ecl.backtest = recent(&judged)
                .iter()
                .map(|&i| EclJudged {
                    as_of: as_of[i].clone().unwrap_or_default(),
                    allowance: money(allowance[i]),
                    realised: money(realised[i]),
                    coverage: coverage[i],
                })
                .collect();
        }
        Ok(())
    }

    /// Paid share by age of the last [`RECENT_MONTHS`] billing months, at the latest as-of date.
    fn cohorts(&mut self, cohorts: &DataFrame) -> anyhow::Result<()> {
        let (segment, cohort, as_of) =
            (texts(cohorts, "segment")?, texts(cohorts, "cohort_month")?, texts(cohorts, "as_of")?);
        let (age, paid) = (ints(cohorts, "age_months")?, floats(cohorts, "paid_share")?);
        let portfolio: Vec<usize> = (0..cohorts.height()).filter(|&i| segment[i].as_deref() == Some("ALL")).collect();
        let mut months: Vec<String> = portfolio.iter().filter_map(|&i| cohort[i].clone()).collect();
        months.sort();
        months.dedup();
        let shown: Vec<String> = months.iter().rev().take(RECENT_MONTHS).rev().cloned().collect();
        let max_age = portfolio
            .iter()
            .filter(|&&i| cohort[i].as_ref().is_some_and(|c| shown.contains(c)))
            .filter_map(|&i| age[i])
            .max()
            .unwrap_or_default();
        let ages: Vec<i64> = (0..=max_age.min(RECENT_MONTHS as i64)).collect();
        let mut grid = vec![vec![None; ages.len()]; shown.len()];
        // Each (cohort, age) cell once: the row whose as-of date is that age's month end.
        let mut seen: BTreeMap<(usize, usize), String> = BTreeMap::new();
        for &i in &portfolio {
            let (Some(c), Some(a)) = (&cohort[i], age[i]) else { continue };
            let (Some(r), Ok(k)) = (shown.iter().position(|s| s == c), usize::try_from(a)) else { continue };
            if k >= ages.len() {
                continue;
            }
            let when = as_of[i].clone().unwrap_or_default();
            if seen.get(&(r, k)).is_none_or(|w| when > *w) {
                seen.insert((r, k), when);
                grid[r][k] = paid[i];
            }
        }
        self.cohorts = CohortGrid { cohorts: shown, ages, paid_share: grid };
        Ok(())
    }

    /// The worklist: the latest scores by priority.
    fn worklist(&mut self, scores: &DataFrame) -> anyhow::Result<()> {
        let as_of = texts(scores, "as_of")?;
        let Some(latest) = as_of.iter().flatten().max().cloned() else { return Ok(()) };
        let rank = ints(scores, "priority_rank")?;
        let (customer, band, action, reason) = (
            texts(scores, "customer_id")?,
            texts(scores, "risk_band")?,
            texts(scores, "recommended_action")?,
            texts(scores, "reason_1")?,
        );
        let (pd, exposure, loss) = (floats(scores, "pd")?, cents(scores, "exposure")?, cents(scores, "expected_loss")?);
        let mut rows: Vec<usize> =
            (0..scores.height()).filter(|&i| as_of[i].as_deref() == Some(latest.as_str())).collect();
        rows.sort_by(|&a, &b| {
            rank[a].unwrap_or(i64::MAX).cmp(&rank[b].unwrap_or(i64::MAX)).then_with(|| customer[a].cmp(&customer[b]))
        });
        self.worklist = rows
            .into_iter()
            .take(TOP)
            .map(|i| Work {
                priority_rank: rank[i],
                customer_id: customer[i].clone().unwrap_or_default(),
                risk_band: band[i].clone(),
                pd: pd[i],
                exposure: exposure[i].map(format_cents),
                expected_loss: loss[i].map(format_cents),
                recommended_action: action[i].clone(),
                reason_1: reason[i].clone(),
            })
            .collect();
        Ok(())
    }

    /// The data_quality rows that counted something.
    fn quality(&mut self, quality: &DataFrame) -> anyhow::Result<()> {
        let (input, rule, outcome) = (texts(quality, "input")?, texts(quality, "rule")?, texts(quality, "outcome")?);
        let (rows, share) = (ints(quality, "rows")?, floats(quality, "share")?);
        self.quality = (0..quality.height())
            .filter(|&i| rows[i].unwrap_or_default() > 0)
            .map(|i| Quality {
                input: input[i].clone().unwrap_or_default(),
                rule: rule[i].clone().unwrap_or_default(),
                outcome: outcome[i].clone().unwrap_or_default(),
                rows: rows[i].unwrap_or_default(),
                share: share[i],
            })
            .collect();
        Ok(())
    }

    /// The champion's out-of-time AUC, calibration deciles and feature importance.
    fn model(&mut self, source: &Source, id: &str) -> anyhow::Result<()> {
        let mut model = Model { model_id: id.to_string(), ..Default::default() };
        if let Some(metrics) = source.read("model_metrics")? {
            let (ids, sample, auc) =
                (texts(&metrics, "model_id")?, texts(&metrics, "sample")?, floats(&metrics, "auc")?);
            model.auc = (0..metrics.height())
                .find(|&i| ids[i].as_deref() == Some(id) && sample[i].as_deref() == Some("out_of_time"))
                .and_then(|i| auc[i]);
        }
        if let Some(cal) = source.read("model_calibration")? {
            let (ids, decile) = (texts(&cal, "model_id")?, ints(&cal, "decile")?);
            let (pd, observed) = (floats(&cal, "mean_pd")?, floats(&cal, "observed_rate")?);
            let mut rows: Vec<(i64, Option<f64>, Option<f64>)> = (0..cal.height())
                .filter(|&i| ids[i].as_deref() == Some(id))
                .map(|i| (decile[i].unwrap_or_default(), pd[i], observed[i]))
                .collect();
            rows.sort_by_key(|r| r.0);
            model.deciles = rows;
        }
        if let Some(imp) = source.read("feature_importance")? {
            let (ids, feature, rank) = (texts(&imp, "model_id")?, texts(&imp, "feature")?, ints(&imp, "rank")?);
            let importance = floats(&imp, "importance")?;
            let mut rows: Vec<usize> = (0..imp.height()).filter(|&i| ids[i].as_deref() == Some(id)).collect();
            rows.sort_by_key(|&i| rank[i].unwrap_or(i64::MAX));
            model.importance =
                rows.into_iter().take(TOP).map(|i| (feature[i].clone().unwrap_or_default(), importance[i])).collect();
        }
        self.model = Some(model);
        Ok(())
    }
}

/// Buckets in age order: `current`, then by their first day (`1_30` < `31_60` < `121_plus`).
fn bucket_order(bucket: &str) -> i64 {
    if bucket == "current" {
        return -1;
    }
    bucket.split('_').next().and_then(|d| d.parse().ok()).unwrap_or(i64::MAX)
}

/// A tile; `order` is now against before, `lower_is_better` says which way is good.
fn tile(
    label: &'static str,
    value: String,
    previous: Option<String>,
    order: Option<std::cmp::Ordering>,
    lower_is_better: Option<bool>,
) -> Tile {
    use std::cmp::Ordering::*;
    let direction = match order {
        Some(Greater) => "up",
        Some(Less) => "down",
        _ => "flat",
    };
    let better = match (order, lower_is_better) {
        (Some(Greater), Some(lower)) => Some(!lower),
        (Some(Less), Some(lower)) => Some(lower),
        _ => None,
    };
    Tile { label, value, previous, direction, better }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_sort_by_age_and_tiles_say_which_way_is_better() {
        let mut b = vec!["121_plus", "1_30", "current", "91_120", "31_60"];
        b.sort_by_key(|x| bucket_order(x));
        assert_eq!(b, ["current", "1_30", "31_60", "91_120", "121_plus"]);
        let t = tile("DSO", "40.0".into(), Some("42.0".into()), Some(std::cmp::Ordering::Less), Some(true));
        assert_eq!((t.direction, t.better), ("down", Some(true)));
        let t = tile("CEI", "80.0".into(), Some("85.0".into()), Some(std::cmp::Ordering::Less), Some(false));
        assert_eq!((t.direction, t.better), ("down", Some(false)));
        let t = tile("AR", "1.00".into(), None, None, None);
        assert_eq!((t.direction, t.better), ("flat", None));
    }
}
