"""Check that a peer's aging, kpi_monthly and cohorts equal ardent's.

Usage: python benches/peers/agree.py OUT_DIR RESULT_DIR

Money must be equal to the cent (the peers write integer cents), days and ratios within
0.01 (days) and 1e-9 (shares). Rows are matched on their keys, and the key sets must be the
same (ardent's aging rows of customers with only unapplied cash, which the peers do not
compute, are left out). Prints one line per table and exits 1 on the first disagreement.
"""

import sys

import duckdb

MONEY = {
    "aging": ["bucket_current", "bucket_1_30", "bucket_31_60", "bucket_61_90", "bucket_91_120", "bucket_121_plus",
              "total_open", "past_due"],
    "kpi_monthly": ["ar_begin", "ar_end", "ar_current", "ar_delinquent", "credit_sales", "cash_collected",
                    "cash_applied", "write_offs"],
    "cohorts": ["billed", "paid", "credited", "written_off", "open", "open_61_plus"],
}
COUNTS = {
    "aging": ["open_invoices", "max_dpd"],
    "kpi_monthly": ["open_invoices", "invoices_paid"],
    "cohorts": ["invoices"],
}
# (column, tolerance): days to 0.01, shares to 1e-9.
FLOATS = {
    "aging": [],
    "kpi_monthly": [("dso_standard", 0.01), ("avg_days_to_pay", 0.01), ("weighted_days_to_pay", 0.01),
                    ("weighted_days_late", 0.01), ("delinquency_rate_amount", 1e-9),
                    ("delinquency_rate_count", 1e-9), ("share_90_plus", 1e-9)],
    "cohorts": [("at_risk_rate", 1e-9)],
}
KEYS = {
    "aging": ["as_of", "customer_id"],
    "kpi_monthly": ["month", "dimension", "segment"],
    "cohorts": ["cohort_month", "age_months", "dimension", "segment"],
}
ARDENT = {
    "aging": "read_parquet('{out}/aging/*/*.parquet', hive_partitioning = true) WHERE open_invoices > 0",
    "kpi_monthly": "read_parquet('{out}/kpi_monthly.parquet')",
    "cohorts": "read_parquet('{out}/cohorts.parquet')",
}


def check(con, out, result, table):
    keys = KEYS[table]
    on = " AND ".join(f"a.{k} = p.{k}" for k in keys)
    con.execute(f"CREATE OR REPLACE TEMP VIEW a AS SELECT * FROM {ARDENT[table].format(out=out)}")
    con.execute(f"CREATE OR REPLACE TEMP VIEW p AS SELECT * FROM read_parquet('{result}/{table}.parquet')")
    n_a, n_p = con.sql("SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM p)").fetchone()
    unmatched = con.sql(f"SELECT count(*) FROM a FULL JOIN p ON {on} WHERE a.{keys[0]} IS NULL OR p.{keys[0]} IS NULL").fetchone()[0]
    if unmatched:
        sample = con.sql(f"SELECT a.{keys[-1]}, p.{keys[-1]}, * FROM a FULL JOIN p ON {on} WHERE a.{keys[0]} IS NULL OR p.{keys[0]} IS NULL LIMIT 3").fetchall()
        return f"{table}: {unmatched} rows without a partner (ardent {n_a}, peer {n_p}); e.g. {sample}"
    conds = [f"CAST(round(a.{c} * 100) AS HUGEINT) <> CAST(p.{c} AS HUGEINT)" for c in MONEY[table]]
    conds += [f"a.{c} IS DISTINCT FROM p.{c}" for c in COUNTS[table]]
    conds += [f"(a.{c} IS NULL) <> (p.{c} IS NULL) OR abs(a.{c} - p.{c}) > {tol}" for c, tol in FLOATS[table]]
    for cond in conds:
        bad = con.sql(f"SELECT count(*) FROM a JOIN p ON {on} WHERE {cond}").fetchone()[0]
        if bad:
            col = cond.split(".")[1].split(" ")[0].rstrip(")")
            sample = con.sql(f"SELECT {', '.join('a.' + k for k in keys)}, a.{col}, p.{col} FROM a JOIN p ON {on} WHERE {cond} LIMIT 3").fetchall()
            return f"{table}: {bad} of {n_a} rows differ ({cond}); e.g. {sample}"
    compared = len(MONEY[table]) + len(COUNTS[table]) + len(FLOATS[table])
    print(f"  {table}: {n_a} rows, {compared} columns equal")
    return None


def agree(out, result):
    con = duckdb.connect()
    for table in ["aging", "kpi_monthly", "cohorts"]:
        problem = check(con, out, result, table)
        if problem:
            return problem
    return None


def identical(out, rebuilt):
    """ardent's rebuilt tables (`ardent analytics`) against its published ones: every row the same."""
    con = duckdb.connect()
    for table in ["aging", "kpi_monthly", "cohorts"]:
        q = ARDENT[table].split(" WHERE ")[0]
        a, b = q.format(out=out), q.format(out=rebuilt)
        n = con.sql(f"SELECT count(*) FROM {a}").fetchone()[0]
        diff = con.sql(f"SELECT (SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})),"
                       f" (SELECT count(*) FROM (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a}))").fetchone()
        if diff != (0, 0):
            return f"{table}: {diff[0]} published rows not rebuilt, {diff[1]} rebuilt rows not published"
        print(f"  {table}: {n} rows identical to the published table")
    return None


if __name__ == "__main__":
    if sys.argv[1] == "--identical":
        problem = identical(sys.argv[2], sys.argv[3])
    else:
        problem = agree(sys.argv[1], sys.argv[2])
    if problem:
        print("DISAGREE " + problem)
        sys.exit(1)
