//! How is the report laid out? One self-contained HTML page: the numbers as HTML tables (read
//! without JavaScript), the charts drawn by Chart.js (vendored in `pipelines/assets/`, MIT,
//! inlined so the page needs no network), the data as JSON in the page. After drawing, the
//! page marks each chart `data-drawn="yes"` if its canvas holds pixels and the body
//! `data-charts-drawn="<n> of <total>"`, which CI reads in headless Chromium.

use std::fmt::Write as _;

use super::data::{ReportData, Tile};

/// Chart.js 4.6.2 (UMD build), MIT licence in `pipelines/assets/chart-js-LICENSE.md`.
const CHART_JS: &str = include_str!("../../assets/chart-4.6.2.umd.min.js");

/// The charts the page draws, by canvas id, when their data exist.
pub fn charts(data: &ReportData) -> Vec<&'static str> {
    let mut ids = Vec::new();
    if !data.trends.months.is_empty() {
        ids.extend(["dso", "cei", "delinquency"]);
    }
    if !data.aging.as_of.is_empty() {
        ids.push("aging");
    }
    if !data.roll_forward.is_empty() {
        ids.push("rollforward");
    }
    if let Some(m) = &data.model {
        if !m.deciles.is_empty() {
            ids.push("calibration");
        }
        if !m.importance.is_empty() {
            ids.push("importance");
        }
    }
    ids
}

/// HTML-escape text.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn opt(v: &Option<String>) -> String {
    v.as_deref().map(|t| esc(&group(t))).unwrap_or_else(|| "–".into())
}

/// A decimal text with its integer digits grouped in thousands (`-1234567.50` →
/// `-1,234,567.50`); other text unchanged.
pub fn group(text: &str) -> String {
    let (sign, rest) = text.strip_prefix('-').map_or(("", text), |r| ("-", r));
    let (units, frac) = rest.split_once('.').map_or((rest, None), |(u, f)| (u, Some(f)));
    if units.is_empty()
        || !units.bytes().all(|b| b.is_ascii_digit())
        || !frac.is_none_or(|f| f.bytes().all(|b| b.is_ascii_digit()))
    {
        return text.to_string();
    }
    let mut grouped = String::with_capacity(units.len() + units.len() / 3);
    for (i, c) in units.chars().enumerate() {
        if i > 0 && (units.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// Money (or any decimal) for display.
fn amount(text: &str) -> String {
    esc(&group(text))
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", x * 100.0)).unwrap_or_else(|| "–".into())
}

/// A heat colour for a share in [0, 1] (white to the accent), for the heatmap tables.
fn heat(v: Option<f64>) -> String {
    match v {
        Some(x) => {
            let a = x.clamp(0.0, 1.0);
            let ink = if a > 0.55 { "; color: #fff" } else { "" };
            format!(" style=\"background: rgba(37, 99, 235, {a:.2}){ink}\"")
        }
        None => String::new(),
    }
}

/// A table of shares shaded by value: `columns` across, one row per `rows` label.
fn heat_table(corner: &str, columns: &[String], rows: &[String], values: &[Vec<Option<f64>>]) -> String {
    let mut html = format!("<table class=\"heat\"><thead><tr><th>{}</th>", esc(corner));
    for c in columns {
        let _ = write!(html, "<th>{}</th>", esc(c));
    }
    html.push_str("</tr></thead><tbody>");
    for (label, row) in rows.iter().zip(values) {
        let _ = write!(html, "<tr><th>{}</th>", esc(label));
        for v in row {
            let _ = write!(html, "<td{}>{}</td>", heat(*v), pct(*v));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
    html
}

fn tile(t: &Tile) -> String {
    let arrow = match t.direction {
        "up" => "▲",
        "down" => "▼",
        _ => "●",
    };
    let class = match t.better {
        Some(true) => "better",
        Some(false) => "worse",
        None => "neutral",
    };
    let previous = t.previous.as_deref().map(|p| format!("previous month end {}", amount(p))).unwrap_or_default();
    format!(
        "<div class=\"tile\"><div class=\"label\">{}</div><div class=\"value\">{}</div><div class=\"trend {class}\" title=\"{previous}\">{arrow} <span>{previous}</span></div></div>",
        esc(t.label),
        amount(&t.value)
    )
}

fn figure(id: &str, title: &str, note: &str) -> String {
    format!(
        "<figure class=\"chart\" id=\"fig-{id}\" data-drawn=\"no\"><figcaption>{}</figcaption><div class=\"canvas\"><canvas id=\"{id}\"></canvas></div><p class=\"note\">{}</p></figure>",
        esc(title),
        esc(note)
    )
}

/// The page.
pub fn render(data: &ReportData) -> anyhow::Result<String> {
    let json = serde_json::to_string(data)?.replace("</", "<\\/");
    let charts = charts(data);
    let mut body = String::new();
    let cur = esc(&data.currency);
    let _ = write!(
        body,
        "<header><h1>Accounts receivable report</h1><p>Run <code>{}</code>{} · amounts in {cur}</p></header>",
        esc(&data.run_id),
        data.as_of.as_deref().map(|d| format!(" · latest month end {}", esc(d))).unwrap_or_default()
    );
    if !data.tiles.is_empty() {
        body.push_str("<section><h2>Portfolio</h2><div class=\"tiles\">");
        for t in &data.tiles {
            body.push_str(&tile(t));
        }
        body.push_str("</div></section>");
    }
    if charts.contains(&"dso") {
        body.push_str("<section><h2>Collection speed</h2><div class=\"grid\">");
        body.push_str(&figure("dso", "DSO family (days)", "Standard and countback DSO, best possible DSO and average days delinquent (ADD = DSO − best DSO), portfolio, per month end."));
        body.push_str(&figure(
            "cei",
            "Collection effectiveness index (%)",
            "(AR begin + credit sales − AR end) / (AR begin + credit sales − current AR end) × 100.",
        ));
        body.push_str(&figure(
            "delinquency",
            "Delinquency (% of AR)",
            "Share of open AR past due, and 90 or more days past due, at each month end.",
        ));
        body.push_str("</div></section>");
    }
    if charts.contains(&"aging") {
        body.push_str("<section><h2>Aging</h2>");
        body.push_str(&figure(
            "aging",
            &format!("Open AR by bucket ({cur})"),
            "Every customer's open items summed per bucket at each as-of date.",
        ));
        body.push_str("</section>");
    }
    if !data.roll_forward.is_empty() {
        body.push_str("<section><h2>AR roll-forward</h2>");
        body.push_str(&figure(
            "rollforward",
            &format!("Credit sales, cash applied and write-offs ({cur})"),
            "Bars: what moved AR in the month; line: AR at month end.",
        ));
        body.push_str("<table class=\"num\"><thead><tr><th>month</th><th>AR begin</th><th>+ credit sales</th><th>− cash applied</th><th>− write-offs</th><th>± other</th><th>= AR end</th></tr></thead><tbody>");
        for r in &data.roll_forward {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.month),
                amount(&r.ar_begin),
                amount(&r.credit_sales),
                amount(&r.cash_applied),
                amount(&r.write_offs),
                amount(&r.other),
                amount(&r.ar_end)
            );
        }
        body.push_str("</tbody></table><p class=\"note\">Other: credit memos, FX revaluation and adjustments, what closes begin + sales − cash − write-offs to end, exactly.</p></section>");
    }
    let rr = &data.roll_rates;
    if !rr.from.is_empty() {
        let _ = write!(
            body,
            "<section><h2>Roll rates</h2><p class=\"note\">Share of each bucket's amount at a month end found in each state one month later, amount-weighted over {} months ({} to {}).</p>",
            rr.months.len(),
            esc(rr.months.first().map(String::as_str).unwrap_or("")),
            esc(rr.months.last().map(String::as_str).unwrap_or(""))
        );
        body.push_str(&heat_table("from \\ to", &rr.to, &rr.from, &rr.rates));
        body.push_str("</section>");
    }
    let e = &data.ecl;
    if !e.matrix.is_empty() {
        let _ = write!(
            body,
            "<section><h2>Expected credit loss</h2><p class=\"note\">The portfolio's provision matrix at {} by the roll-rate method: each bucket's share expected to be written off, from the roll rates of the lookback{}.</p>",
            esc(&e.as_of),
            e.overlay
                .filter(|&o| o != 1.0)
                .map(|o| format!(", times the forward-looking overlay {o:.3}"))
                .unwrap_or_default()
        );
        body.push_str("<table class=\"num\"><thead><tr><th>bucket</th><th>exposure</th><th>historical loss rate</th><th>adjusted loss rate</th><th>allowance</th></tr></thead><tbody>");
        for b in &e.matrix {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&b.bucket),
                amount(&b.exposure),
                pct(b.historical),
                pct(b.adjusted),
                amount(&b.allowance)
            );
        }
        body.push_str("</tbody></table><h3>Allowance roll-forward</h3><table class=\"num\"><thead><tr><th>month end</th><th>opening</th><th>− write-offs used</th><th>+ charge</th><th>= closing</th></tr></thead><tbody>");
        for f in &e.flows {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f.as_of),
                amount(&f.opening),
                amount(&f.write_offs_used),
                amount(&f.charge),
                amount(&f.closing)
            );
        }
        body.push_str("</tbody></table>");
        if !e.backtest.is_empty() {
            body.push_str("<h3>Backtest</h3><p class=\"note\">Each month end's allowance against what of the receivables then open was written off over the following months (coverage above 100%: over-provided).</p><table class=\"num\"><thead><tr><th>month end</th><th>allowance</th><th>realised write-offs</th><th>coverage</th></tr></thead><tbody>");
            for j in &e.backtest {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&j.as_of),
                    amount(&j.allowance),
                    amount(&j.realised),
                    pct(j.coverage)
                );
            }
            body.push_str("</tbody></table>");
        }
        body.push_str("</section>");
    }
    let f = &data.cash_forecast;
    if !f.weeks.is_empty() {
        let _ = write!(
            body,
            "<section><h2>Cash forecast</h2><p class=\"note\">Cash expected from the receivables open at {} in each of the next 13 weeks, portfolio by document currency: the median of the simulated futures and the range that holds 80% of them.</p>",
            esc(&f.as_of)
        );
        body.push_str("<table class=\"num\"><thead><tr><th>currency</th><th>week</th><th>ending</th><th>P10</th><th>P50</th><th>P90</th></tr></thead><tbody>");
        for w in &f.weeks {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&w.currency),
                w.week,
                esc(&w.week_end),
                amount(&w.p10),
                amount(&w.p50),
                amount(&w.p90)
            );
        }
        body.push_str("</tbody></table>");
        if !f.accuracy.is_empty() {
            let _ = write!(
                body,
                "<h3>Backtest</h3><p class=\"note\">The forecast re-made at past month ends ({}, the portfolio): weighted absolute percentage error of the median and of two naive forecasts (lower is better), and the share of weeks whose cash fell inside P10–P90 (about 80% is right).</p>",
                esc(&f.accuracy_currency)
            );
            body.push_str("<table class=\"num\"><thead><tr><th>week ahead</th><th>P50 error</th><th>due-date error</th><th>customer-lateness error</th><th>inside P10–P90</th></tr></thead><tbody>");
            for a in &f.accuracy {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    a.week,
                    pct(a.wape),
                    pct(a.naive_due_date),
                    pct(a.naive_lateness),
                    pct(a.coverage)
                );
            }
            body.push_str("</tbody></table>");
        }
        body.push_str("</section>");
    }
    let a = &data.alerts;
    if !a.counts.is_empty() {
        let _ = write!(
            body,
            "<section><h2>Alerts</h2><p class=\"note\">Early warnings at {}: customers that got riskier, broke their payment pattern, went over their credit limit or opened a large dispute.</p><table class=\"num\"><thead><tr><th>kind</th><th>alerts</th><th>new this month</th></tr></thead><tbody>",
            esc(&a.as_of)
        );
        for (kind, n, new) in &a.counts {
            let _ = write!(body, "<tr><td>{}</td><td>{n}</td><td>{new}</td></tr>", esc(kind));
        }
        body.push_str("</tbody></table><table><thead><tr><th>customer</th><th>kind</th><th>severity</th><th>since</th><th>evidence</th></tr></thead><tbody>");
        for r in &a.rows {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.customer),
                esc(&r.kind),
                esc(&r.severity),
                esc(&r.first_seen),
                esc(&r.evidence)
            );
        }
        body.push_str("</tbody></table></section>");
    }
    let c = &data.cohorts;
    if !c.cohorts.is_empty() {
        body.push_str("<section><h2>Billing cohorts</h2><p class=\"note\">Share of each billing month's amount paid by each age in months.</p>");
        let ages: Vec<String> = c.ages.iter().map(i64::to_string).collect();
        body.push_str(&heat_table("billed \\ age", &ages, &c.cohorts, &c.paid_share));
        body.push_str("</section>");
    }
    if !data.top_overdue.is_empty() {
        let _ = write!(
            body,
            "<section><h2>Most overdue customers</h2><p class=\"note\">At {}, by amount past due.</p><table class=\"num\"><thead><tr><th>customer</th><th>segment</th><th>past due</th><th>total open</th><th>max days past due</th><th>credit limit</th></tr></thead><tbody>",
            esc(data.aging.as_of.last().map(String::as_str).unwrap_or(""))
        );
        for o in &data.top_overdue {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&o.customer_id),
                o.segment.as_deref().map(esc).unwrap_or_else(|| "–".into()),
                amount(&o.past_due),
                amount(&o.total_open),
                o.max_dpd.map(|d| d.to_string()).unwrap_or_else(|| "–".into()),
                opt(&o.credit_limit)
            );
        }
        body.push_str("</tbody></table></section>");
    }
    if !data.worklist.is_empty() {
        body.push_str("<section><h2>Collections worklist</h2><p class=\"note\">The champion model's latest scores, by priority (expected loss first).</p><table class=\"num\"><thead><tr><th>priority</th><th>customer</th><th>band</th><th>PD</th><th>exposure</th><th>expected loss</th><th>action</th><th>main reason</th></tr></thead><tbody>");
        for w in &data.worklist {
            let _ = write!(
                body,
                "<tr><td>{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td></tr>",
                w.priority_rank.map(|r| r.to_string()).unwrap_or_else(|| "–".into()),
                esc(&w.customer_id),
                w.risk_band.as_deref().map(esc).unwrap_or_else(|| "–".into()),
                pct(w.pd),
                opt(&w.exposure),
                opt(&w.expected_loss),
                w.recommended_action.as_deref().map(esc).unwrap_or_else(|| "–".into()),
                w.reason_1.as_deref().map(esc).unwrap_or_else(|| "–".into())
            );
        }
        body.push_str("</tbody></table></section>");
    }
    if let Some(c) = &data.collections {
        c.html(&mut body);
    }
    if !data.quality.is_empty() {
        body.push_str("<section><h2>Data quality</h2><table class=\"num\"><thead><tr><th>input</th><th>rule</th><th>outcome</th><th>rows</th><th>share</th></tr></thead><tbody>");
        for q in &data.quality {
            let _ = write!(
                body,
                "<tr><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&q.input),
                esc(&q.rule),
                esc(&q.outcome),
                group(&q.rows.to_string()),
                pct(q.share)
            );
        }
        body.push_str("</tbody></table></section>");
    }
    if let Some(m) = &data.model {
        let _ = write!(
            body,
            "<section><h2>Model</h2><p>Champion <code>{}</code>, out-of-time AUC {}.</p><div class=\"grid\">",
            esc(&m.model_id),
            m.auc.map(|a| format!("{a:.3}")).unwrap_or_else(|| "–".into())
        );
        if charts.contains(&"calibration") {
            body.push_str(&figure(
                "calibration",
                "Calibration (out of time)",
                "Mean predicted PD against the observed default rate per decile; the diagonal is perfect calibration.",
            ));
        }
        if charts.contains(&"importance") {
            body.push_str(&figure(
                "importance",
                "Feature importance",
                "Share of the model's importance per feature (sums to 1 over all features).",
            ));
        }
        body.push_str("</div></section>");
    }
    Ok(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ardent report {run}</title>
<style>{STYLE}</style></head>
<body data-charts-total="{total}" data-charts-drawn="pending">
{body}
<footer>Made by ardent {version}. Charts: Chart.js 4.6.2 (MIT). Every number above is read from the published tables.</footer>
<script type="application/json" id="report-data">{json}</script>
<script>{CHART_JS}</script>
<script>{SCRIPT}</script>
</body></html>
"#,
        run = esc(&data.run_id),
        total = charts.len(),
        version = env!("CARGO_PKG_VERSION"),
    ))
}

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2937; margin: 0 auto; max-width: 1200px; padding: 24px; background: #f8fafc; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 10px; }
header p, .note, footer { color: #6b7280; } footer { margin-top: 32px; font-size: 12px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; }
.tile { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 14px; }
.tile .label { color: #6b7280; font-size: 12px; } .tile .value { font-size: 22px; font-weight: 600; }
.trend { font-size: 12px; } .trend.better { color: #15803d; } .trend.worse { color: #b91c1c; } .trend.neutral { color: #6b7280; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(360px, 1fr)); gap: 16px; }
figure.chart { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; margin: 0; padding: 12px; }
figcaption { font-weight: 600; } .canvas { position: relative; height: 280px; }
table { border-collapse: collapse; background: #fff; width: 100%; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #e5e7eb; padding: 4px 8px; } th { background: #f1f5f9; text-align: left; }
table.num td { text-align: right; } table.num td:first-child, table.num td:nth-child(2), table.num td.t { text-align: left; }
table.heat td { text-align: right; font-size: 12px; }
code { background: #eef2ff; padding: 1px 4px; border-radius: 4px; }
"#;

const SCRIPT: &str = r#"
(function () {
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const num = (v) => (v === null || v === undefined ? null : Number(v));
  const pct = (v) => (v === null || v === undefined ? null : 100 * v);
  const colors = ['#2563eb', '#16a34a', '#f59e0b', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d'];
  Chart.defaults.animation = false;
  Chart.defaults.maintainAspectRatio = false;
  const line = (labels, series) => ({
    type: 'line',
    data: { labels, datasets: series.map(([label, values], i) => ({ label, data: values, borderColor: colors[i % colors.length], backgroundColor: colors[i % colors.length], pointRadius: 0, spanGaps: true })) },
    options: { interaction: { mode: 'index', intersect: false } },
  });
  const t = data.trends;
  const specs = {
    dso: () => line(t.months, [['DSO standard', t.dso_standard], ['DSO countback', t.dso_countback], ['best DSO', t.best_dso_standard], ['ADD', t.add_standard]]),
    cei: () => line(t.months, [['CEI', t.cei]]),
    delinquency: () => line(t.months, [['delinquent', t.delinquency_rate_amount.map(pct)], ['90+ days', t.share_90_plus.map(pct)]]),
    aging: () => ({
      type: 'bar',
      data: { labels: data.aging.as_of, datasets: data.aging.buckets.map(([b, values], i) => ({ label: b, data: values.map(num), backgroundColor: colors[i % colors.length] })) },
      options: { scales: { x: { stacked: true }, y: { stacked: true } } },
    }),
    rollforward: () => {
      const r = data.roll_forward;
      return {
        type: 'bar',
        data: {
          labels: r.map((x) => x.month),
          datasets: [
            { label: 'credit sales', data: r.map((x) => num(x.credit_sales)), backgroundColor: colors[0] },
            { label: 'cash applied', data: r.map((x) => -num(x.cash_applied)), backgroundColor: colors[1] },
            { label: 'write-offs', data: r.map((x) => -num(x.write_offs)), backgroundColor: colors[3] },
            { type: 'line', label: 'AR end', data: r.map((x) => num(x.ar_end)), borderColor: colors[4], backgroundColor: colors[4] },
          ],
        },
      };
    },
    calibration: () => {
      const d = data.model.deciles;
      const top = Math.max(0.01, ...d.map((x) => Math.max(x[1] || 0, x[2] || 0)));
      return {
        type: 'scatter',
        data: { datasets: [
          { label: 'deciles', data: d.map((x) => ({ x: x[1], y: x[2] })), backgroundColor: colors[0], pointRadius: 5 },
          { type: 'line', label: 'perfect', data: [{ x: 0, y: 0 }, { x: top, y: top }], borderColor: '#9ca3af', pointRadius: 0 },
        ] },
        options: { scales: { x: { title: { display: true, text: 'mean predicted PD' } }, y: { title: { display: true, text: 'observed default rate' } } } },
      };
    },
    importance: () => {
      const imp = data.model.importance;
      return { type: 'bar', data: { labels: imp.map((x) => x[0]), datasets: [{ label: 'importance', data: imp.map((x) => x[1]), backgroundColor: colors[0] }] }, options: { indexAxis: 'y' } };
    },
  };
  let drawn = 0, total = 0;
  for (const [id, spec] of Object.entries(specs)) {
    const canvas = document.getElementById(id);
    if (!canvas) continue;
    total += 1;
    try {
      new Chart(canvas, spec());
      const ctx = canvas.getContext('2d');
      const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let ink = 0;
      for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) ink += 1;
      if (ink > 0) { drawn += 1; document.getElementById('fig-' + id).dataset.drawn = 'yes'; }
    } catch (e) {
      document.getElementById('fig-' + id).dataset.drawn = 'error: ' + e;
    }
  }
  document.body.dataset.chartsDrawn = drawn + ' of ' + total;
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_grouped_in_thousands_and_other_text_is_left_alone() {
        assert_eq!(group("5895635.65"), "5,895,635.65");
        assert_eq!(group("-1234.50"), "-1,234.50");
        assert_eq!(group("999.00"), "999.00");
        assert_eq!(group("1000"), "1,000");
        assert_eq!(group("C-1000"), "C-1000");
        assert_eq!(group("55.2"), "55.2");
        assert_eq!(esc("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
    }
}
