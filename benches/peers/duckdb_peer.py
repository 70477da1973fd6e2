"""The AR analytics in DuckDB SQL: aging per month end, kpi_monthly and cohorts.

Usage: python benches/peers/duckdb_peer.py OUT_DIR RESULT_DIR [THREADS]

OUT_DIR is an ardent output folder: the peer reads its validated tables (ledger, payments,
customers, fx_rates) and its cash application (applications.parquet), as a team that used
ardent only for cash application would. It writes aging.parquet, kpi_monthly.parquet and
cohorts.parquet to RESULT_DIR and prints its wall time in seconds as JSON.

The definitions are docs/definitions.md with ardent's defaults: month-end as-of dates, buckets on days
past due (≤0, 1-30, 31-60, 61-90, 91-120, 121+), open amounts revalued at the as-of date's
rate (the latest rate at most 7 days old), half-even rounding of each document's converted
amount, delinquency = past due, DSO over 90 days, cohorts at document-date rates.
"""

import json
import os
import sys
import time

import duckdb

SQL = r"""
-- Integer money: cents, and rates in units of 1e-10.
CREATE TEMP TABLE docs AS
SELECT doc_id, l.customer_id, doc_type, doc_date, coalesce(due_date, doc_date) AS due,
       CAST(amount * 100 AS BIGINT) AS amt, currency,
       CAST(fx_rate * 10000000000 AS BIGINT) AS doc_rate,
       CAST(amount_reporting * 100 AS BIGINT) AS amt_rep,
       c.segment
FROM read_parquet('{out}/ledger.parquet') l JOIN read_parquet('{out}/customers.parquet') c USING (customer_id);

CREATE TEMP TABLE bounds AS
SELECT least(min(doc_date), (SELECT min(payment_date) FROM read_parquet('{out}/payments.parquet'))) AS first_day,
       greatest(max(doc_date), (SELECT max(payment_date) FROM read_parquet('{out}/payments.parquet'))) AS last_day
FROM docs;

-- Month ends in [first, last], and k = their index from 1 (0 is the day before the first month).
CREATE TEMP TABLE months AS
SELECT CAST(m AS DATE) AS t, row_number() OVER (ORDER BY m) AS k
FROM bounds, generate_series(date_trunc('month', first_day), last_day, INTERVAL 1 MONTH) g(s),
     LATERAL (SELECT last_day(s) AS m)
WHERE m BETWEEN first_day AND last_day;

-- Month end on or after a date.
CREATE MACRO month_end_of(d) AS last_day(d);

-- Half-even rounding of cents × rate units / 1e10 (both positive). BIGINT holds the product
-- for amounts up to 7 million at rates up to 1.3; ardent's own arithmetic is 128-bit.
CREATE MACRO half_even(p) AS p // 10000000000 + CASE
    WHEN 2 * (p % 10000000000) > 10000000000 THEN 1
    WHEN 2 * (p % 10000000000) = 10000000000 AND (p // 10000000000) % 2 = 1 THEN 1
    ELSE 0 END;
CREATE MACRO at_rate(cents, rate) AS half_even(CAST(cents AS BIGINT) * CAST(rate AS BIGINT));

-- Revaluation rate of each currency at each month end: the latest at most 7 days old.
CREATE TEMP TABLE month_rates AS
SELECT m.t, m.currency, CAST(f.rate_to_reporting * 10000000000 AS BIGINT) AS rate
FROM (SELECT * FROM months, (SELECT DISTINCT currency FROM read_parquet('{out}/fx_rates.parquet'))) m
ASOF JOIN read_parquet('{out}/fx_rates.parquet') f ON f.currency = m.currency AND f.date <= m.t
WHERE m.t - f.date <= 7
UNION ALL SELECT t, 'USD', 10000000000 FROM months;

CREATE TEMP TABLE apps AS
SELECT invoice_id, customer_id, date, source_type, CAST(amount * 100 AS BIGINT) AS cents,
       source_id, CAST(source_amount * 100 AS BIGINT) AS source_cents
FROM read_parquet('{out}/applications.parquet');

-- Cumulative applications per receivable at each date they changed.
CREATE TEMP TABLE app_days AS
SELECT invoice_id, date,
       sum(sum(cents)) OVER w AS applied,
       bool_or(bool_or(source_type = 'write_off')) OVER w AS any_write_off
FROM apps GROUP BY invoice_id, date
WINDOW w AS (PARTITION BY invoice_id ORDER BY date ROWS UNBOUNDED PRECEDING);

CREATE TEMP TABLE recv AS
SELECT d.*, c.date AS closed, c.any_write_off AS closed_by_write_off
FROM docs d
LEFT JOIN (
    SELECT a.invoice_id, min(a.date) AS date, arg_min(a.any_write_off, a.date) AS any_write_off
    FROM app_days a JOIN docs x ON x.doc_id = a.invoice_id
    WHERE a.applied >= x.amt
    GROUP BY a.invoice_id
) c ON c.invoice_id = d.doc_id
WHERE d.doc_type IN ('invoice', 'debit_memo');

-- Applications per receivable and month end: in the month, and cumulative.
CREATE TEMP TABLE app_months AS
SELECT invoice_id, t, applied,
       sum(paid) OVER w AS paid, sum(credited) OVER w AS credited, sum(written_off) OVER w AS written_off
FROM (
    SELECT invoice_id, month_end_of(date) AS t, sum(cents) AS applied,
           coalesce(sum(cents) FILTER (WHERE source_type = 'payment'), 0) AS paid,
           coalesce(sum(cents) FILTER (WHERE source_type = 'credit_memo'), 0) AS credited,
           coalesce(sum(cents) FILTER (WHERE source_type = 'write_off'), 0) AS written_off
    FROM apps GROUP BY ALL
)
WINDOW w AS (PARTITION BY invoice_id ORDER BY t ROWS UNBOUNDED PRECEDING);

-- Every receivable at every month end from its date while it is open.
CREATE TEMP TABLE open_rows AS
SELECT r.doc_id, r.customer_id, r.currency, r.due, r.doc_rate, m.t, m.t - r.due AS dpd,
       r.amt - sum(coalesce(a.applied, 0)) OVER (PARTITION BY r.doc_id ORDER BY m.t ROWS UNBOUNDED PRECEDING) AS open
FROM recv r
JOIN months m ON m.t >= r.doc_date AND (r.closed IS NULL OR m.t < r.closed)
LEFT JOIN app_months a ON a.invoice_id = r.doc_id AND a.t = m.t;

CREATE TEMP TABLE open_rep AS
SELECT o.*, at_rate(o.open, x.rate) AS rep
FROM open_rows o JOIN month_rates x ON x.t = o.t AND x.currency = o.currency;

CREATE TEMP TABLE aging AS
SELECT t AS as_of, customer_id,
       sum(CASE WHEN dpd <= 0 THEN rep ELSE 0 END) AS bucket_current,
       sum(CASE WHEN dpd BETWEEN 1 AND 30 THEN rep ELSE 0 END) AS bucket_1_30,
       sum(CASE WHEN dpd BETWEEN 31 AND 60 THEN rep ELSE 0 END) AS bucket_31_60,
       sum(CASE WHEN dpd BETWEEN 61 AND 90 THEN rep ELSE 0 END) AS bucket_61_90,
       sum(CASE WHEN dpd BETWEEN 91 AND 120 THEN rep ELSE 0 END) AS bucket_91_120,
       sum(CASE WHEN dpd > 120 THEN rep ELSE 0 END) AS bucket_121_plus,
       sum(rep) AS total_open,
       sum(CASE WHEN dpd > 0 THEN rep ELSE 0 END) AS past_due,
       count(*) AS open_invoices,
       max(dpd) AS max_dpd
FROM open_rep GROUP BY t, customer_id;

-- Groups: the portfolio, then every segment.
CREATE TEMP TABLE groups AS
SELECT customer_id, 'all' AS dimension, 'ALL' AS segment FROM read_parquet('{out}/customers.parquet')
UNION ALL SELECT customer_id, 'segment', segment FROM read_parquet('{out}/customers.parquet');

CREATE TEMP TABLE balances AS
SELECT o.t, g.dimension, g.segment,
       sum(rep) AS ar_end,
       sum(CASE WHEN dpd <= 0 THEN rep ELSE 0 END) AS ar_current,
       sum(CASE WHEN dpd > 0 THEN rep ELSE 0 END) AS ar_delinquent,
       sum(CASE WHEN dpd > 90 THEN rep ELSE 0 END) AS ar_90,
       count(*) AS open_invoices,
       count(*) FILTER (WHERE dpd > 0) AS delinquent_n
FROM open_rep o JOIN groups g USING (customer_id) GROUP BY ALL;

CREATE TEMP TABLE flows AS
SELECT month_end_of(doc_date) AS t, g.dimension, g.segment,
       sum(CASE WHEN doc_type IN ('invoice', 'debit_memo') THEN amt_rep WHEN doc_type = 'credit_memo' THEN -amt_rep ELSE 0 END) AS credit_sales,
       sum(CASE WHEN doc_type = 'write_off' THEN amt_rep ELSE 0 END) AS write_offs
FROM docs d JOIN groups g USING (customer_id) GROUP BY ALL;

CREATE TEMP TABLE daily_sales AS
SELECT doc_date AS day, g.dimension, g.segment,
       sum(CASE WHEN doc_type = 'credit_memo' THEN -amt_rep ELSE amt_rep END) AS sales
FROM docs d JOIN groups g USING (customer_id)
WHERE doc_type IN ('invoice', 'debit_memo', 'credit_memo') GROUP BY ALL;

CREATE TEMP TABLE collected AS
SELECT month_end_of(payment_date) AS t, g.dimension, g.segment,
       sum(CAST(amount_reporting * 100 AS BIGINT)) AS cash_collected
FROM read_parquet('{out}/payments.parquet') p JOIN groups g USING (customer_id) GROUP BY ALL;

CREATE TEMP TABLE applied AS
SELECT month_end_of(a.date) AS t, g.dimension, g.segment,
       sum(at_rate(a.source_cents, p.fx_rate)) AS cash_applied
FROM apps a JOIN (SELECT payment_id, CAST(fx_rate * 10000000000 AS BIGINT) AS fx_rate
                   FROM read_parquet('{out}/payments.parquet')) p ON p.payment_id = a.source_id
JOIN groups g ON g.customer_id = a.customer_id
WHERE a.source_type = 'payment' GROUP BY ALL;

CREATE TEMP TABLE paid AS
SELECT month_end_of(closed) AS t, g.dimension, g.segment,
       count(*) AS invoices_paid,
       sum(closed - doc_date) AS paid_days,
       sum(amt_rep) AS paid_amount,
       sum(CAST(amt_rep AS HUGEINT) * (closed - doc_date)) AS paid_amount_days,
       sum(CAST(amt_rep AS HUGEINT) * greatest(closed - due, 0)) AS paid_amount_late
FROM recv r JOIN groups g USING (customer_id)
WHERE closed IS NOT NULL AND NOT closed_by_write_off GROUP BY ALL;

CREATE TEMP TABLE grid AS
SELECT m.t, m.k, x.dimension, x.segment FROM months m, (SELECT DISTINCT dimension, segment FROM groups) x;

CREATE TEMP TABLE kpi_monthly AS
SELECT g.t AS month, g.dimension, g.segment,
       coalesce(lag(b.ar_end) OVER (PARTITION BY g.dimension, g.segment ORDER BY g.t), 0) AS ar_begin,
       coalesce(b.ar_end, 0) AS ar_end,
       coalesce(b.ar_current, 0) AS ar_current,
       coalesce(b.ar_delinquent, 0) AS ar_delinquent,
       coalesce(f.credit_sales, 0) AS credit_sales,
       coalesce(c.cash_collected, 0) AS cash_collected,
       coalesce(a.cash_applied, 0) AS cash_applied,
       coalesce(f.write_offs, 0) AS write_offs,
       CASE WHEN g.t - 89 >= (SELECT first_day FROM bounds) AND s.sales_90 > 0
            THEN coalesce(b.ar_end, 0) / s.sales_90 * 90 END AS dso_standard,
       b.ar_delinquent / nullif(b.ar_end, 0) AS delinquency_rate_amount,
       b.delinquent_n / nullif(b.open_invoices, 0) AS delinquency_rate_count,
       b.ar_90 / nullif(b.ar_end, 0) AS share_90_plus,
       coalesce(b.open_invoices, 0) AS open_invoices,
       coalesce(p.invoices_paid, 0) AS invoices_paid,
       p.paid_days / nullif(p.invoices_paid, 0) AS avg_days_to_pay,
       p.paid_amount_days / nullif(p.paid_amount, 0) AS weighted_days_to_pay,
       p.paid_amount_late / nullif(p.paid_amount, 0) AS weighted_days_late
FROM grid g
LEFT JOIN balances b USING (t, dimension, segment)
LEFT JOIN flows f USING (t, dimension, segment)
LEFT JOIN collected c USING (t, dimension, segment)
LEFT JOIN applied a USING (t, dimension, segment)
LEFT JOIN paid p USING (t, dimension, segment)
LEFT JOIN (
    SELECT g.t, g.dimension, g.segment, sum(d.sales) AS sales_90
    FROM grid g JOIN daily_sales d ON d.dimension = g.dimension AND d.segment = g.segment
         AND d.day > g.t - 90 AND d.day <= g.t
    GROUP BY ALL
) s USING (t, dimension, segment);

-- Cohorts: invoices by billing month; paid / credited / written off split at the
-- document's rate so that the parts add up to the billed amount.
CREATE TEMP TABLE inv AS
SELECT r.*, month_end_of(r.doc_date) AS cohort_t FROM recv r WHERE doc_type = 'invoice';

CREATE TEMP TABLE cum AS
SELECT i.doc_id, i.customer_id, i.cohort_t, a.t,
       at_rate(i.amt, i.doc_rate) - at_rate(i.amt - coalesce(a.paid, 0), i.doc_rate) AS paid,
       at_rate(i.amt - coalesce(a.paid, 0), i.doc_rate)
         - at_rate(i.amt - coalesce(a.paid, 0) - coalesce(a.credited, 0), i.doc_rate) AS credited,
       at_rate(i.amt - coalesce(a.paid, 0) - coalesce(a.credited, 0), i.doc_rate)
         - at_rate(i.amt - coalesce(a.paid, 0) - coalesce(a.credited, 0) - coalesce(a.written_off, 0), i.doc_rate) AS written_off
FROM inv i JOIN app_months a ON a.invoice_id = i.doc_id;

CREATE TEMP TABLE cum_delta AS
SELECT cohort_t, t, customer_id,
       paid - coalesce(lag(paid) OVER w, 0) AS d_paid,
       credited - coalesce(lag(credited) OVER w, 0) AS d_credited,
       written_off - coalesce(lag(written_off) OVER w, 0) AS d_written_off
FROM cum WINDOW w AS (PARTITION BY doc_id ORDER BY t);

CREATE TEMP TABLE cohort_base AS
SELECT i.cohort_t, g.dimension, g.segment, count(*) AS invoices, sum(i.amt_rep) AS billed,
       sum(CASE WHEN i.doc_date + 90 <= (SELECT last_day FROM bounds)
                THEN at_rate(i.amt - coalesce(s.settled, 0), i.doc_rate) ELSE 0 END) AS open_90
FROM inv i JOIN groups g USING (customer_id)
LEFT JOIN (
    SELECT a.invoice_id, sum(a.cents) AS settled FROM apps a JOIN inv i ON i.doc_id = a.invoice_id
    WHERE a.date <= i.doc_date + 90 GROUP BY 1
) s ON s.invoice_id = i.doc_id
GROUP BY ALL;

CREATE TEMP TABLE cohort_moves AS
SELECT cohort_t, t, g.dimension, g.segment,
       sum(d_paid) AS d_paid, sum(d_credited) AS d_credited, sum(d_written_off) AS d_written_off
FROM cum_delta JOIN groups g USING (customer_id) GROUP BY ALL;

CREATE TEMP TABLE cohort_61 AS
SELECT i.cohort_t, o.t, g.dimension, g.segment, sum(at_rate(o.open, o.doc_rate)) AS open_61_plus
FROM open_rows o JOIN inv i USING (doc_id) JOIN groups g ON g.customer_id = o.customer_id
WHERE o.dpd >= 61 GROUP BY ALL;

CREATE TEMP TABLE cohorts AS
SELECT CAST(date_trunc('month', b.cohort_t) AS DATE) AS cohort_month, m.k - c.k AS age_months, m.t AS as_of,
       b.dimension, b.segment, b.invoices, b.billed,
       sum(coalesce(x.d_paid, 0)) OVER w AS paid,
       sum(coalesce(x.d_credited, 0)) OVER w AS credited,
       sum(coalesce(x.d_written_off, 0)) OVER w AS written_off,
       b.billed - sum(coalesce(x.d_paid, 0) + coalesce(x.d_credited, 0) + coalesce(x.d_written_off, 0)) OVER w AS open,
       coalesce(o.open_61_plus, 0) AS open_61_plus,
       CASE WHEN b.cohort_t + 90 <= (SELECT last_day FROM bounds) THEN b.open_90 / nullif(b.billed, 0) END AS at_risk_rate
FROM cohort_base b
JOIN months c ON c.t = b.cohort_t
JOIN months m ON m.t >= b.cohort_t
LEFT JOIN cohort_moves x ON x.cohort_t = b.cohort_t AND x.t = m.t AND x.dimension = b.dimension AND x.segment = b.segment
LEFT JOIN cohort_61 o ON o.cohort_t = b.cohort_t AND o.t = m.t AND o.dimension = b.dimension AND o.segment = b.segment
WINDOW w AS (PARTITION BY b.cohort_t, b.dimension, b.segment ORDER BY m.t ROWS UNBOUNDED PRECEDING);
"""


def main():
    out, result = sys.argv[1], sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else os.cpu_count()
    os.makedirs(result, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    t0 = time.perf_counter()
    steps = []
    for statement in SQL.replace("{out}", out).split(";\n"):
        if statement.strip():
            t = time.perf_counter()
            con.execute(statement)
            name = statement.strip().splitlines()[-1] if statement.strip().startswith("--") else statement.strip()
            steps.append((" ".join(name.split()[:4]), round(time.perf_counter() - t, 2)))
    for table in ["aging", "kpi_monthly", "cohorts"]:
        con.execute(f"COPY {table} TO '{result}/{table}.parquet' (FORMAT parquet)")
    print(json.dumps({"seconds": time.perf_counter() - t0, "steps": steps}))


if __name__ == "__main__":
    main()
