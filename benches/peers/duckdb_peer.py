"""The AR analytics in DuckDB SQL, written for speed: aging per month end, kpi_monthly, cohorts.

Usage: python benches/peers/duckdb_peer.py INPUT_DIR RESULT_DIR [THREADS]

INPUT_DIR holds ardent's validated tables and its cash application as plain Parquet
(ledger, customers, payments, fx_rates, applications .parquet), as a team that used ardent
only for cash application would have them. The peer writes aging.parquet, kpi_monthly.parquet
and cohorts.parquet to RESULT_DIR (money as integer cents) and prints its wall time in
seconds, reading and writing included, as JSON.

Definitions (docs/definitions.md, ardent's defaults): month-end as-of dates, buckets on days
past due (<=0, 1-30, 31-60, 61-90, 91-120, 121+), open amounts revalued at the as-of date's
rate (the latest at most 7 days old) with half-even rounding per document, delinquency =
past due, DSO over 90 days, cohorts split at the document's rate.

How it is written (what a strong SQL engineer does, and what the first version did not):
- the string ids are joined once, to integer row numbers, and never again;
- months are integers (year * 12 + month - 1), so month ends are arithmetic, not joins;
- one window per receivable over its months with applications gives the stretches of month
  ends over which its open amount does not change, and a range join on the few dozen months
  expands each stretch to its month ends (measured: 0.4 s against 4.7 s for `unnest(range(..))`);
- one ASOF join gives the month-end rates (months x currencies, a few hundred rows);
- the portfolio and the segments come from one GROUPING SETS aggregation, not a join that
  doubles the rows; KPI balances come from the per-customer aging, not from the open rows;
- segments, currencies and document types are small integers, decoded when written;
- money is BIGINT cents and rates BIGINT units of 1e-10 (no DECIMAL arithmetic).
"""

import json
import os
import sys
import time

import duckdb

SQL = r"""
CREATE MACRO month_of(d) AS CAST(year(CAST(d AS DATE)) * 12 + month(CAST(d AS DATE)) - 1 AS INTEGER);
CREATE MACRO month_end(k) AS last_day(make_date(CAST(k // 12 AS BIGINT), CAST(k % 12 + 1 AS BIGINT), 1));
-- Decimals to integers. Cents: DECIMAL(18,2) x 100 stays in 64 bits. Rates: DECIMAL(18,10) x 1e10
-- would widen to 128-bit decimals (10x slower here); a double holds every rate of at most 15
-- significant digits exactly enough that rounding returns the stored integer.
CREATE MACRO cents(x) AS CAST(x * 100 AS BIGINT);
CREATE MACRO rate_units(x) AS CAST(round(CAST(x AS DOUBLE) * 1e10) AS BIGINT);
-- Half-even rounding of cents x rate units / 1e10 (positive products).
CREATE MACRO half_even(p) AS p // 10000000000 + CASE
    WHEN 2 * (p % 10000000000) > 10000000000 THEN 1
    WHEN 2 * (p % 10000000000) = 10000000000 AND (p // 10000000000) % 2 = 1 THEN 1
    ELSE 0 END;
CREATE MACRO at_rate(cents, rate) AS half_even(CAST(cents AS BIGINT) * CAST(rate AS BIGINT));

-- Integer keys: customers, segments (-1 is the portfolio), currencies, documents.
CREATE TEMP TABLE cust AS
SELECT customer_id, CAST(file_row_number AS INTEGER) AS c, segment,
       CAST(dense_rank() OVER (ORDER BY segment) AS INTEGER) AS s
FROM read_parquet('{inp}/customers.parquet', file_row_number = true);

CREATE TEMP TABLE groups AS
SELECT DISTINCT s, 'segment' AS dimension, segment FROM cust UNION ALL SELECT -1, 'all', 'ALL';

CREATE TEMP TABLE fx AS
SELECT date, currency, rate_units(rate_to_reporting) AS rate FROM read_parquet('{inp}/fx_rates.parquet');

CREATE TEMP TABLE cur AS
SELECT currency, CAST(row_number() OVER (ORDER BY currency) AS INTEGER) AS cur
FROM (SELECT DISTINCT currency FROM fx UNION SELECT 'USD');

CREATE TEMP TABLE docs AS
SELECT CAST(l.file_row_number AS INTEGER) AS d, l.doc_id, c.c, c.s,
       CASE l.doc_type WHEN 'invoice' THEN 0 WHEN 'debit_memo' THEN 1 WHEN 'credit_memo' THEN 2 ELSE 3 END AS kind,
       l.doc_date, coalesce(l.due_date, l.doc_date) AS due, month_of(l.doc_date) AS k_doc,
       cents(l.amount) AS amt, x.cur, rate_units(l.fx_rate) AS doc_rate, cents(l.amount_reporting) AS amt_rep
FROM read_parquet('{inp}/ledger.parquet', file_row_number = true) l
JOIN cust c USING (customer_id) JOIN cur x USING (currency);

CREATE TEMP TABLE pays AS
SELECT p.payment_id, p.payment_date, c.s, rate_units(p.fx_rate) AS rate, cents(p.amount_reporting) AS amt_rep
FROM read_parquet('{inp}/payments.parquet') p JOIN cust c USING (customer_id);

CREATE TEMP TABLE bounds AS
SELECT first_day, last_day, month_of(first_day) AS k_min,
       month_of(last_day) - CASE WHEN last_day(last_day) = last_day THEN 0 ELSE 1 END AS k_max
FROM (SELECT least(min(doc_date), (SELECT min(payment_date) FROM pays)) AS first_day,
             greatest(max(doc_date), (SELECT max(payment_date) FROM pays)) AS last_day FROM docs);

-- As-of months: the month ends inside [first_day, last_day].
CREATE TEMP TABLE months AS
SELECT CAST(k AS INTEGER) AS k, month_end(k) AS t FROM bounds, range(k_min, k_max + 1) r(k);

-- The rate of each currency at each month end: the latest at most 7 days old (one ASOF join).
CREATE TEMP TABLE month_rates AS
SELECT m.k, m.t, x.cur, f.rate
FROM months m CROSS JOIN cur x
ASOF JOIN fx f ON f.currency = x.currency AND f.date <= m.t
WHERE m.t - f.date <= 7
UNION ALL SELECT m.k, m.t, x.cur, 10000000000 FROM months m, cur x WHERE x.currency = 'USD';

-- Applications on integer keys.
CREATE TEMP TABLE apps AS
SELECT d.d, d.s, d.doc_date, a.date, month_of(a.date) AS k,
       CASE a.source_type WHEN 'payment' THEN 0 WHEN 'credit_memo' THEN 1 ELSE 2 END AS source,
       a.source_id, cents(a.amount) AS cents, cents(a.source_amount) AS source_cents
FROM read_parquet('{inp}/applications.parquet') a JOIN docs d ON d.doc_id = a.invoice_id;

-- Receivables, and how each closed (fully applied: on its last application's date).
CREATE TEMP TABLE recv AS
SELECT r.d, r.c, r.s, r.kind = 0 AS is_invoice, r.doc_date, r.due, r.k_doc, r.amt, r.cur, r.doc_rate, r.amt_rep,
       a.k_first, CASE WHEN a.applied >= r.amt THEN a.last END AS closed,
       coalesce(a.any_write_off, false) AS closed_by_write_off, coalesce(a.settled_90, 0) AS settled_90
FROM docs r LEFT JOIN (
    SELECT d, sum(cents) AS applied, min(k) AS k_first, max(date) AS last, bool_or(source = 2) AS any_write_off,
           sum(cents) FILTER (WHERE date <= doc_date + 90) AS settled_90
    FROM apps GROUP BY d
) a USING (d)
WHERE r.kind IN (0, 1);

-- Stretches of months over which a receivable's open amount does not change: the first from
-- its own month to its first month with applications, then one from each such month to the
-- next (one window), with the cumulative applications and the month's own.
CREATE TEMP TABLE stretches AS
SELECT d, k_doc AS k, coalesce(k_first, 2147483647) AS k_next,
       0 AS paid, 0 AS credited, 0 AS written_off, 0 AS m_paid, 0 AS m_credited, 0 AS m_written_off
FROM recv
UNION ALL
SELECT d, k, coalesce(lead(k) OVER w, 2147483647),
       sum(m_paid) OVER w, sum(m_credited) OVER w, sum(m_written_off) OVER w, m_paid, m_credited, m_written_off
FROM (
    SELECT d, k, coalesce(sum(cents) FILTER (WHERE source = 0), 0) AS m_paid,
           coalesce(sum(cents) FILTER (WHERE source = 1), 0) AS m_credited,
           coalesce(sum(cents) FILTER (WHERE source = 2), 0) AS m_written_off
    FROM apps GROUP BY d, k
) WINDOW w AS (PARTITION BY d ORDER BY k);

-- Every receivable at every month end while it is open: stretches expanded by a range join
-- on the few dozen months.
CREATE TEMP TABLE open_rows AS
SELECT r.c, r.s, r.is_invoice, r.k_doc, r.doc_rate, x.k, x.t - r.due AS dpd, o.open, at_rate(o.open, x.rate) AS rep
FROM (SELECT d, k, k_next, amt - paid - credited - written_off AS open
      FROM stretches JOIN recv USING (d) WHERE amt - paid - credited - written_off > 0) o
JOIN months m ON m.k >= o.k AND m.k < o.k_next
JOIN recv r ON r.d = o.d
JOIN month_rates x ON x.k = m.k AND x.cur = r.cur;

CREATE TEMP TABLE aging AS
SELECT k, c, any_value(s) AS s,
       sum(CASE WHEN dpd <= 0 THEN rep ELSE 0 END) AS bucket_current,
       sum(CASE WHEN dpd BETWEEN 1 AND 30 THEN rep ELSE 0 END) AS bucket_1_30,
       sum(CASE WHEN dpd BETWEEN 31 AND 60 THEN rep ELSE 0 END) AS bucket_31_60,
       sum(CASE WHEN dpd BETWEEN 61 AND 90 THEN rep ELSE 0 END) AS bucket_61_90,
       sum(CASE WHEN dpd BETWEEN 91 AND 120 THEN rep ELSE 0 END) AS bucket_91_120,
       sum(CASE WHEN dpd > 120 THEN rep ELSE 0 END) AS bucket_121_plus,
       sum(rep) AS total_open,
       count(*) AS open_invoices,
       count(*) FILTER (WHERE dpd > 0) AS past_due_invoices,
       max(dpd) AS max_dpd
FROM open_rows GROUP BY k, c;

-- Everything below is per segment and for the portfolio (GROUPING SETS; s = -1).
CREATE TEMP TABLE balances AS
SELECT k, coalesce(s, -1) AS s,
       sum(total_open) AS ar_end, sum(bucket_current) AS ar_current, sum(total_open - bucket_current) AS ar_delinquent,
       sum(bucket_91_120 + bucket_121_plus) AS ar_90,
       sum(open_invoices) AS open_invoices, sum(past_due_invoices) AS delinquent_n
FROM aging GROUP BY GROUPING SETS ((k, s), (k));

CREATE TEMP TABLE flows AS
SELECT k_doc AS k, coalesce(s, -1) AS s,
       sum(CASE WHEN kind IN (0, 1) THEN amt_rep WHEN kind = 2 THEN -amt_rep ELSE 0 END) AS credit_sales,
       sum(CASE WHEN kind = 3 THEN amt_rep ELSE 0 END) AS write_offs
FROM docs GROUP BY GROUPING SETS ((k_doc, s), (k_doc));

CREATE TEMP TABLE daily_sales AS
SELECT doc_date AS day, coalesce(s, -1) AS s, sum(CASE WHEN kind = 2 THEN -amt_rep ELSE amt_rep END) AS sales
FROM docs WHERE kind IN (0, 1, 2) GROUP BY GROUPING SETS ((doc_date, s), (doc_date));

CREATE TEMP TABLE collected AS
SELECT month_of(payment_date) AS k, coalesce(s, -1) AS s, sum(amt_rep) AS cash_collected
FROM pays GROUP BY GROUPING SETS ((month_of(payment_date), s), (month_of(payment_date)));

CREATE TEMP TABLE applied AS
SELECT a.k, coalesce(a.s, -1) AS s, sum(at_rate(a.source_cents, p.rate)) AS cash_applied
FROM apps a JOIN pays p ON p.payment_id = a.source_id
WHERE a.source = 0 GROUP BY GROUPING SETS ((a.k, a.s), (a.k));

CREATE TEMP TABLE paid AS
SELECT month_of(closed) AS k, coalesce(s, -1) AS s,
       count(*) AS invoices_paid,
       sum(closed - doc_date) AS paid_days,
       sum(amt_rep) AS paid_amount,
       sum(CAST(amt_rep AS HUGEINT) * (closed - doc_date)) AS paid_amount_days,
       sum(CAST(amt_rep AS HUGEINT) * greatest(closed - due, 0)) AS paid_amount_late
FROM recv WHERE closed IS NOT NULL AND NOT closed_by_write_off
GROUP BY GROUPING SETS ((month_of(closed), s), (month_of(closed)));

CREATE TEMP TABLE grid AS SELECT m.k, m.t, g.s, g.dimension, g.segment FROM months m, groups g;

CREATE TEMP TABLE kpi_monthly AS
SELECT g.t AS month, g.dimension, g.segment,
       coalesce(lag(b.ar_end) OVER (PARTITION BY g.s ORDER BY g.k), 0) AS ar_begin,
       coalesce(b.ar_end, 0) AS ar_end,
       coalesce(b.ar_current, 0) AS ar_current,
       coalesce(b.ar_delinquent, 0) AS ar_delinquent,
       coalesce(f.credit_sales, 0) AS credit_sales,
       coalesce(c.cash_collected, 0) AS cash_collected,
       coalesce(a.cash_applied, 0) AS cash_applied,
       coalesce(f.write_offs, 0) AS write_offs,
       CASE WHEN g.t - 89 >= (SELECT first_day FROM bounds) AND x.sales_90 > 0
            THEN coalesce(b.ar_end, 0) / x.sales_90 * 90 END AS dso_standard,
       b.ar_delinquent / nullif(b.ar_end, 0) AS delinquency_rate_amount,
       b.delinquent_n / nullif(b.open_invoices, 0) AS delinquency_rate_count,
       b.ar_90 / nullif(b.ar_end, 0) AS share_90_plus,
       coalesce(b.open_invoices, 0) AS open_invoices,
       coalesce(p.invoices_paid, 0) AS invoices_paid,
       p.paid_days / nullif(p.invoices_paid, 0) AS avg_days_to_pay,
       p.paid_amount_days / nullif(p.paid_amount, 0) AS weighted_days_to_pay,
       p.paid_amount_late / nullif(p.paid_amount, 0) AS weighted_days_late
FROM grid g
LEFT JOIN balances b USING (k, s)
LEFT JOIN flows f USING (k, s)
LEFT JOIN collected c USING (k, s)
LEFT JOIN applied a USING (k, s)
LEFT JOIN paid p USING (k, s)
LEFT JOIN (
    SELECT g.k, g.s, sum(d.sales) AS sales_90
    FROM grid g JOIN daily_sales d ON d.s = g.s AND d.day > g.t - 90 AND d.day <= g.t
    GROUP BY ALL
) x USING (k, s);

-- Cohorts: invoices by billing month; paid / credited / written off split at the invoice's
-- rate so that the parts add up to the billed amount: each application month's change of
-- the cumulative split (the cumulative before it is the cumulative less the month's own).
CREATE TEMP TABLE cohort_base AS
SELECT k_doc AS k_cohort, coalesce(s, -1) AS s, count(*) AS invoices, sum(amt_rep) AS billed,
       sum(CASE WHEN doc_date + 90 <= (SELECT last_day FROM bounds) THEN at_rate(amt - settled_90, doc_rate) ELSE 0 END) AS open_90
FROM recv WHERE is_invoice
GROUP BY GROUPING SETS ((k_doc, s), (k_doc));

CREATE TEMP TABLE cohort_moves AS
SELECT k_doc AS k_cohort, k, coalesce(s, -1) AS s,
       sum(a0 - a1) AS d_paid, sum((a1 - b1) - (a0 - b0)) AS d_credited, sum((b1 - c1) - (b0 - c0)) AS d_written_off
FROM (
    SELECT r.k_doc, r.s, x.k,
           at_rate(r.amt - x.paid + x.m_paid, r.doc_rate) AS a0,
           at_rate(r.amt - x.paid + x.m_paid - x.credited + x.m_credited, r.doc_rate) AS b0,
           at_rate(r.amt - x.paid + x.m_paid - x.credited + x.m_credited - x.written_off + x.m_written_off, r.doc_rate) AS c0,
           at_rate(r.amt - x.paid, r.doc_rate) AS a1,
           at_rate(r.amt - x.paid - x.credited, r.doc_rate) AS b1,
           at_rate(r.amt - x.paid - x.credited - x.written_off, r.doc_rate) AS c1
    FROM stretches x JOIN recv r USING (d)
    WHERE r.is_invoice AND x.m_paid + x.m_credited + x.m_written_off <> 0
) GROUP BY GROUPING SETS ((k_doc, k, s), (k_doc, k));

CREATE TEMP TABLE cohort_61 AS
SELECT k_doc AS k_cohort, k, coalesce(s, -1) AS s, sum(at_rate(open, doc_rate)) AS open_61_plus
FROM open_rows WHERE is_invoice AND dpd >= 61
GROUP BY GROUPING SETS ((k_doc, k, s), (k_doc, k));

CREATE TEMP TABLE cohorts AS
SELECT make_date(CAST(b.k_cohort // 12 AS BIGINT), CAST(b.k_cohort % 12 + 1 AS BIGINT), 1) AS cohort_month,
       m.k - b.k_cohort AS age_months, m.t AS as_of, g.dimension, g.segment, b.invoices, b.billed,
       sum(coalesce(x.d_paid, 0)) OVER w AS paid,
       sum(coalesce(x.d_credited, 0)) OVER w AS credited,
       sum(coalesce(x.d_written_off, 0)) OVER w AS written_off,
       b.billed - sum(coalesce(x.d_paid, 0) + coalesce(x.d_credited, 0) + coalesce(x.d_written_off, 0)) OVER w AS open,
       coalesce(o.open_61_plus, 0) AS open_61_plus,
       CASE WHEN month_end(b.k_cohort) + 90 <= (SELECT last_day FROM bounds) THEN b.open_90 / nullif(b.billed, 0) END AS at_risk_rate
FROM cohort_base b
JOIN groups g USING (s)
JOIN months m ON m.k >= b.k_cohort
LEFT JOIN cohort_moves x ON x.k_cohort = b.k_cohort AND x.k = m.k AND x.s = b.s
LEFT JOIN cohort_61 o ON o.k_cohort = b.k_cohort AND o.k = m.k AND o.s = b.s
WINDOW w AS (PARTITION BY b.k_cohort, b.s ORDER BY m.k ROWS UNBOUNDED PRECEDING);
"""

OUTPUTS = {
    "aging": """SELECT m.t AS as_of, c.customer_id, bucket_current, bucket_1_30, bucket_31_60, bucket_61_90,
                       bucket_91_120, bucket_121_plus, total_open, total_open - bucket_current AS past_due,
                       open_invoices, max_dpd
                FROM aging a JOIN months m USING (k) JOIN cust c USING (c)""",
    "kpi_monthly": "SELECT * FROM kpi_monthly",
    "cohorts": "SELECT * FROM cohorts",
}


def main():
    inp, result = sys.argv[1], sys.argv[2]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else os.cpu_count()
    os.makedirs(result, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("SET preserve_insertion_order = false")
    t0 = time.perf_counter()
    steps = []
    for statement in SQL.replace("{inp}", inp).split(";\n"):
        if statement.strip():
            t = time.perf_counter()
            con.execute(statement)
            words = [w for line in statement.strip().splitlines() if not line.startswith("--") for w in line.split()]
            steps.append((" ".join(words[:4]), round(time.perf_counter() - t, 3)))
    for table, query in OUTPUTS.items():
        t = time.perf_counter()
        con.execute(f"COPY ({query}) TO '{result}/{table}.parquet' (FORMAT parquet)")
        steps.append((f"write {table}", round(time.perf_counter() - t, 3)))
    print(json.dumps({"seconds": time.perf_counter() - t0, "steps": steps}))


if __name__ == "__main__":
    main()
