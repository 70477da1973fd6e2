"""The ingest rules of docs/contracts.md in DuckDB SQL, as a yardstick for `ardent validate`.

Usage: python benches/peers/ingest_duckdb.py DATA_DIR [THREADS]

DATA_DIR is a generated Parquet export set (`ardent generate --format parquet`). The query
reads the four inputs and, for the ledger and payments, decides the first rule each row
fails — required values, positive amounts, known document type, due date present and not
before the document date, a three-letter currency, a known customer, an FX rate at most 7
days old (ASOF join), the amount converted with half-even rounding (in 64-bit integers, exact only up to about
7 million at a rate of 1.3; ardent's arithmetic is 128-bit) — then the duplicate
ids among the rows that passed (the first in file order wins), and the payment references
that name no accepted document. It prints the rows per rule and the wall time as JSON.

It does less than ardent: nothing is kept or written, there is no quarantine row with the
original values and a message, and the currency check is a pattern rather than ISO 4217, and the reporting currency is USD
(as the generator writes).
"""

import json
import sys
import time

import duckdb

SQL = r"""
-- Half-even rounding of cents x rate units / 1e10, in BIGINT as benches/peers/duckdb_peer.py
-- does (DECIMAL(38) arithmetic took 1.4 s of the ledger alone).
CREATE MACRO half_even(p) AS p // 10000000000 + CASE
    WHEN 2 * (p % 10000000000) > 10000000000 THEN 1
    WHEN 2 * (p % 10000000000) = 10000000000 AND (p // 10000000000) % 2 = 1 THEN 1
    ELSE 0 END;

CREATE TEMP TABLE customers AS
SELECT DISTINCT trim(customer_id) AS customer_id
FROM read_parquet('{d}/customers.parquet') WHERE nullif(trim(customer_id), '') IS NOT NULL;

CREATE TEMP TABLE fx AS
SELECT date, currency, CAST(rate_to_reporting * 10000000000 AS BIGINT) AS rate
FROM read_parquet('{d}/fx_rates.parquet')
WHERE rate_to_reporting > 0;

CREATE TEMP TABLE ledger AS
WITH l AS (SELECT *, row_number() OVER () AS rn FROM read_parquet('{d}/ledger.parquet')),
j AS (
    SELECT l.*, c.customer_id AS known_customer, f.rate, f.date AS rate_date
    FROM l
    LEFT JOIN customers c ON c.customer_id = trim(l.customer_id)
    ASOF LEFT JOIN fx f ON f.currency = l.currency AND f.date <= l.doc_date
)
SELECT rn, trim(doc_id) AS doc_id, CASE
    WHEN nullif(trim(doc_id), '') IS NULL OR nullif(trim(customer_id), '') IS NULL
      OR nullif(trim(doc_type), '') IS NULL OR doc_date IS NULL OR amount IS NULL
      OR nullif(trim(currency), '') IS NULL THEN 'missing_value'
    WHEN amount <= 0 THEN 'non_positive_amount'
    WHEN doc_type NOT IN ('invoice', 'credit_memo', 'debit_memo', 'write_off') THEN 'unknown_doc_type'
    WHEN due_date IS NULL AND doc_type IN ('invoice', 'debit_memo') THEN 'missing_due_date'
    WHEN due_date < doc_date THEN 'due_before_doc_date'
    WHEN NOT regexp_full_match(currency, '[A-Z]{{3}}') THEN 'unknown_currency'
    WHEN known_customer IS NULL THEN 'unknown_customer'
    WHEN currency <> 'USD' AND (rate IS NULL OR doc_date - rate_date > 7) THEN 'missing_fx_rate'
    END AS rule,
    half_even(CAST(amount * 100 AS BIGINT) * CASE WHEN currency = 'USD' THEN 10000000000 ELSE rate END) AS amount_reporting
FROM j;

{ledger_rules}

CREATE TEMP TABLE payments AS
WITH p AS (SELECT *, row_number() OVER () AS rn FROM read_parquet('{d}/payments.parquet')),
j AS (
    SELECT p.*, c.customer_id AS known_customer, f.rate, f.date AS rate_date
    FROM p
    LEFT JOIN customers c ON c.customer_id = trim(p.customer_id)
    ASOF LEFT JOIN fx f ON f.currency = p.currency AND f.date <= p.payment_date
)
SELECT rn, trim(payment_id) AS payment_id, invoice_refs, CASE
    WHEN nullif(trim(payment_id), '') IS NULL OR nullif(trim(customer_id), '') IS NULL
      OR payment_date IS NULL OR amount IS NULL OR nullif(trim(currency), '') IS NULL THEN 'missing_value'
    WHEN amount <= 0 THEN 'non_positive_amount'
    WHEN NOT regexp_full_match(currency, '[A-Z]{{3}}') THEN 'unknown_currency'
    WHEN known_customer IS NULL THEN 'unknown_customer'
    WHEN currency <> 'USD' AND (rate IS NULL OR payment_date - rate_date > 7) THEN 'missing_fx_rate'
    END AS rule,
    half_even(CAST(amount * 100 AS BIGINT) * CASE WHEN currency = 'USD' THEN 10000000000 ELSE rate END) AS amount_reporting
FROM j;

{payment_rules}

CREATE TEMP TABLE unknown_refs AS
WITH refs AS (
    SELECT trim(unnest(string_split(invoice_refs, ';'))) AS doc_id FROM payments WHERE rule IS NULL
)
SELECT count(*) AS refs, count(*) FILTER (WHERE l.doc_id IS NULL) AS unknown
FROM refs r LEFT JOIN (SELECT DISTINCT doc_id FROM ledger WHERE rule IS NULL) l USING (doc_id)
WHERE r.doc_id <> '';
"""

# Rows per first failed rule; among the rows that passed, an id seen before in file order is
# a duplicate.
RULES = r"""
CREATE TEMP TABLE {name}_rules AS
SELECT rule, count(*) AS rows, sum(amount_reporting) AS amount
FROM (
    SELECT coalesce(rule, CASE WHEN row_number() OVER (PARTITION BY rule IS NULL, {id} ORDER BY rn) > 1
                               THEN 'duplicate_id' ELSE 'accepted' END) AS rule, amount_reporting
    FROM {table}
) GROUP BY ALL;
"""


def main() -> None:
    data = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    start = time.perf_counter()
    rules = {
        "ledger_rules": RULES.format(name="ledger", id="doc_id", table="ledger"),
        "payment_rules": RULES.format(name="payment", id="payment_id", table="payments"),
    }
    con.execute(SQL.format(d=data, **rules))
    seconds = time.perf_counter() - start
    rows = con.execute(
        "SELECT (SELECT count(*) FROM ledger) + (SELECT count(*) FROM payments)"
        " + (SELECT count(*) FROM customers) + (SELECT count(*) FROM fx)"
    ).fetchone()[0]
    result = {
        "seconds": round(seconds, 3),
        "rows": rows,
        "rows_per_second": round(rows / seconds),
        "threads": threads,
        "ledger": dict(con.execute("SELECT rule, rows FROM ledger_rules ORDER BY rule").fetchall()),
        "payments": dict(con.execute("SELECT rule, rows FROM payment_rules ORDER BY rule").fetchall()),
        "payment_refs": dict(zip(("refs", "unknown"), con.execute("SELECT * FROM unknown_refs").fetchone())),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
