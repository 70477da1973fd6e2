"""The AR analytics in pandas: aging per month end, kpi_monthly and cohorts.

Usage: python benches/peers/pandas_peer.py OUT_DIR RESULT_DIR

The same inputs, definitions and outputs as duckdb_peer.py (see there), written the way a
pandas user would vectorise them: integer cents, one row per open receivable and month end,
group-bys per segment (the portfolio is the sum of its segments), and half-even rounding
in int64. Prints its wall time in seconds as JSON.
"""

import json
import os
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

D = 10_000_000_000  # rate units


def read(path, columns, money=(), rates=()):
    """A Parquet table as pandas, decimals as int64 cents or rate units."""
    t = pq.read_table(path, columns=columns)
    out = {}
    for name in columns:
        col = t.column(name)
        if name in money or name in rates:
            scale = 100 if name in money else D
            # Exact: every value here has at most 10 significant digits after scaling
            # (cents below 2^53), so the float round trip returns the same integer.
            out[name] = np.round(pc.cast(col, pa.float64()).to_numpy() * scale).astype(np.int64)
        else:
            out[name] = col.to_pandas()
    return pd.DataFrame(out)


def half_even(p):
    q, r = np.divmod(p, D)
    return q + ((2 * r > D) | ((2 * r == D) & (q % 2 == 1)))


def month_end(dates):
    return (dates + pd.offsets.MonthEnd(0)).values.astype("datetime64[D]")


def with_all(df, keys, sums):
    """Per-segment sums plus the portfolio (dimension all) as their sum."""
    seg = df.groupby(keys + ["segment"], sort=False)[sums].sum().reset_index()
    seg.insert(len(keys), "dimension", "segment")
    tot = seg.groupby(keys, sort=False)[sums].sum().reset_index()
    tot.insert(len(keys), "dimension", "all")
    tot.insert(len(keys) + 1, "segment", "ALL")
    return pd.concat([tot, seg], ignore_index=True)


def main():
    out, result = sys.argv[1], sys.argv[2]
    os.makedirs(result, exist_ok=True)
    t0 = time.perf_counter()

    customers = read(f"{out}/customers.parquet", ["customer_id", "segment"])
    docs = read(f"{out}/ledger.parquet",
                ["doc_id", "customer_id", "doc_type", "doc_date", "due_date", "amount", "currency", "fx_rate",
                 "amount_reporting"], money=("amount", "amount_reporting"), rates=("fx_rate",))
    docs = docs.merge(customers, on="customer_id")
    docs["doc_date"] = docs["doc_date"].astype("datetime64[s]")
    docs["due"] = docs["due_date"].astype("datetime64[s]").fillna(docs["doc_date"])
    payments = read(f"{out}/payments.parquet", ["payment_id", "customer_id", "payment_date", "amount_reporting", "fx_rate"],
                    money=("amount_reporting",), rates=("fx_rate",))
    payments["payment_date"] = payments["payment_date"].astype("datetime64[s]")
    payments = payments.merge(customers, on="customer_id")
    fx = read(f"{out}/fx_rates.parquet", ["date", "currency", "rate_to_reporting"], rates=("rate_to_reporting",))
    fx["date"] = fx["date"].astype("datetime64[s]")
    apps = read(f"{out}/applications.parquet",
                ["source_type", "source_id", "invoice_id", "customer_id", "date", "amount", "source_amount"],
                money=("amount", "source_amount"))
    apps["date"] = apps["date"].astype("datetime64[s]")

    first = min(docs["doc_date"].min(), payments["payment_date"].min())
    last = max(docs["doc_date"].max(), payments["payment_date"].max())
    months = pd.date_range(first, last, freq="ME")
    months = months[(months >= first) & (months <= last)].values.astype("datetime64[s]")

    # Revaluation rates at each month end: the latest at most 7 days old.
    grid = pd.DataFrame({"t": np.repeat(months, fx["currency"].nunique()),
                         "currency": np.tile(fx["currency"].unique(), len(months))}).sort_values("t")
    rates = pd.merge_asof(grid, fx.sort_values("date"), left_on="t", right_on="date", by="currency",
                          tolerance=pd.Timedelta(days=7))
    rates = pd.concat([rates[["t", "currency", "rate_to_reporting"]].dropna(),
                       pd.DataFrame({"t": months, "currency": "USD", "rate_to_reporting": D})])
    rates["rate_to_reporting"] = rates["rate_to_reporting"].astype(np.int64)

    # Applications per receivable: the closing date (first date the total reaches the amount).
    kind = apps["source_type"]
    apps["paid"] = np.where(kind == "payment", apps["amount"], 0)
    apps["credited"] = np.where(kind == "credit_memo", apps["amount"], 0)
    apps["written_off"] = np.where(kind == "write_off", apps["amount"], 0)
    apps["wo"] = kind == "write_off"
    days = apps.groupby(["invoice_id", "date"], sort=True).agg(applied=("amount", "sum"), wo=("wo", "max")).reset_index()
    g = days.groupby("invoice_id", sort=False)
    days["cum"] = g["applied"].cumsum()
    days["any_wo"] = g["wo"].cummax()
    recv = docs[docs["doc_type"].isin(["invoice", "debit_memo"])]
    days = days.merge(recv[["doc_id", "amount"]], left_on="invoice_id", right_on="doc_id")
    closing = days[days["cum"] >= days["amount"]].groupby("invoice_id", sort=False).first()
    recv = recv.merge(closing[["date", "any_wo"]].rename(columns={"date": "closed"}), left_on="doc_id",
                      right_index=True, how="left")

    # Applications per receivable and month end.
    apps["t"] = month_end(apps["date"])
    am = apps.groupby(["invoice_id", "t"], sort=True)[["amount", "paid", "credited", "written_off"]].sum().reset_index()
    for c in ["paid", "credited", "written_off"]:
        am[c] = am.groupby("invoice_id", sort=False)[c].cumsum()

    # Every receivable at every month end from its date while it is open.
    start = np.searchsorted(months, month_end(recv["doc_date"]))
    closed = recv["closed"].values.astype("datetime64[s]")
    end = np.where(np.isnat(closed), len(months), np.searchsorted(months, closed, side="left"))
    n = np.maximum(end - start, 0)
    idx = np.repeat(np.arange(len(recv)), n)
    k = np.repeat(start, n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    rows = recv.iloc[idx][["doc_id", "customer_id", "segment", "currency", "due", "amount", "fx_rate"]].reset_index(drop=True)
    rows["t"] = months[k]
    rows = rows.merge(am[["invoice_id", "t", "amount"]].rename(columns={"invoice_id": "doc_id", "amount": "applied"}),
                      on=["doc_id", "t"], how="left")
    rows["applied"] = rows["applied"].fillna(0).astype(np.int64)
    rows["open"] = rows["amount"] - rows.groupby("doc_id", sort=False)["applied"].cumsum()
    rows = rows.merge(rates, on=["t", "currency"])
    rows["rep"] = half_even(rows["open"].values * rows["rate_to_reporting"].values)
    rows["dpd"] = (rows["t"] - rows["due"]).dt.days

    dpd, rep = rows["dpd"].values, rows["rep"].values
    edges = [("bucket_current", dpd <= 0), ("bucket_1_30", (dpd >= 1) & (dpd <= 30)),
             ("bucket_31_60", (dpd >= 31) & (dpd <= 60)), ("bucket_61_90", (dpd >= 61) & (dpd <= 90)),
             ("bucket_91_120", (dpd >= 91) & (dpd <= 120)), ("bucket_121_plus", dpd > 120)]
    for name, mask in edges:
        rows[name] = np.where(mask, rep, 0)
    rows["past_due"] = np.where(dpd > 0, rep, 0)
    rows["ar_90"] = np.where(dpd > 90, rep, 0)
    rows["delinquent_n"] = (dpd > 0).astype(np.int64)
    rows["one"] = 1
    aging = rows.groupby(["t", "customer_id"], sort=False).agg(
        **{name: (name, "sum") for name, _ in edges}, total_open=("rep", "sum"), past_due=("past_due", "sum"),
        open_invoices=("one", "sum"), max_dpd=("dpd", "max")).reset_index().rename(columns={"t": "as_of"})

    # kpi_monthly.
    balances = with_all(rows.rename(columns={"rep": "ar_end", "bucket_current": "ar_current", "past_due": "ar_delinquent",
                                             "one": "open_invoices"}), ["t"],
                        ["ar_end", "ar_current", "ar_delinquent", "ar_90", "open_invoices", "delinquent_n"])
    docs["t"] = month_end(docs["doc_date"])
    sign = docs["doc_type"].map({"invoice": 1, "debit_memo": 1, "credit_memo": -1, "write_off": 0})
    docs["credit_sales"] = sign * docs["amount_reporting"]
    docs["write_offs"] = np.where(docs["doc_type"] == "write_off", docs["amount_reporting"], 0)
    flows = with_all(docs, ["t"], ["credit_sales", "write_offs"])
    payments["t"] = month_end(payments["payment_date"])
    collected = with_all(payments.rename(columns={"amount_reporting": "cash_collected"}), ["t"], ["cash_collected"])
    pay_apps = apps[apps["source_type"] == "payment"].merge(payments[["payment_id", "fx_rate"]], left_on="source_id",
                                                       right_on="payment_id")
    pay_apps["cash_applied"] = half_even(pay_apps["source_amount"].values * pay_apps["fx_rate"].values)
    pay_apps = pay_apps.merge(customers, on="customer_id")
    applied = with_all(pay_apps, ["t"], ["cash_applied"])
    paid = recv[recv["closed"].notna() & ~recv["any_wo"].fillna(False).astype(bool)].copy()
    paid["t"] = month_end(paid["closed"])
    paid["invoices_paid"] = 1
    paid["paid_days"] = (paid["closed"] - paid["doc_date"]).dt.days
    paid["paid_amount"] = paid["amount_reporting"]
    paid["paid_amount_days"] = paid["amount_reporting"] * paid["paid_days"]
    paid["paid_amount_late"] = paid["amount_reporting"] * (paid["closed"] - paid["due"]).dt.days.clip(lower=0)
    paid = with_all(paid, ["t"], ["invoices_paid", "paid_days", "paid_amount", "paid_amount_days", "paid_amount_late"])
    # Credit sales of the last 90 days: a cumulative daily series per group.
    sales = docs[docs["doc_type"] != "write_off"]
    daily = with_all(sales.assign(day=sales["doc_date"]), ["day"], ["credit_sales"])
    window = []
    for (dim, seg), s in daily.groupby(["dimension", "segment"]):
        s = s.set_index("day")["credit_sales"].sort_index().cumsum()
        # Cumulative sales up to each date (0 before the first).
        cum = np.concatenate([[0], s.values])
        at = lambda d: cum[s.index.searchsorted(d, side="right")]
        for t in months:
            window.append((t, dim, seg, at(t) - at(t - np.timedelta64(90, "D"))))
    window = pd.DataFrame(window, columns=["t", "dimension", "segment", "sales_90"])

    keys = ["t", "dimension", "segment"]
    base = window[keys]
    kpi = base.copy()
    for part in [balances, flows, collected, applied, paid, window]:
        kpi = kpi.merge(part, on=keys, how="left")
    kpi = kpi.sort_values(keys).reset_index(drop=True)
    sums = ["ar_end", "ar_current", "ar_delinquent", "ar_90", "open_invoices", "delinquent_n", "credit_sales",
             "write_offs", "cash_collected", "cash_applied", "invoices_paid", "paid_days", "paid_amount",
             "paid_amount_days", "paid_amount_late"]
    kpi[sums] = kpi[sums].fillna(0).astype(np.int64)
    kpi["ar_begin"] = kpi.groupby(["dimension", "segment"])["ar_end"].shift(1).fillna(0).astype(np.int64)
    full = kpi["t"] - np.timedelta64(89, "D") >= first
    kpi["dso_standard"] = np.where(full & (kpi["sales_90"] > 0), kpi["ar_end"] / kpi["sales_90"] * 90, np.nan)
    ratio = lambda a, b: np.where(kpi[b] != 0, kpi[a] / kpi[b].where(kpi[b] != 0, 1), np.nan)
    kpi["delinquency_rate_amount"] = ratio("ar_delinquent", "ar_end")
    kpi["delinquency_rate_count"] = ratio("delinquent_n", "open_invoices")
    kpi["share_90_plus"] = ratio("ar_90", "ar_end")
    kpi["avg_days_to_pay"] = ratio("paid_days", "invoices_paid")
    kpi["weighted_days_to_pay"] = ratio("paid_amount_days", "paid_amount")
    kpi["weighted_days_late"] = ratio("paid_amount_late", "paid_amount")
    kpi = kpi.rename(columns={"t": "month"})

    # Cohorts: invoices by billing month, split at the document's rate.
    inv = recv[recv["doc_type"] == "invoice"]
    r = lambda x, rate: half_even(x * rate)
    cum = am.merge(inv[["doc_id", "segment", "doc_date", "amount", "fx_rate"]].rename(columns={"amount": "amt"}),
                   left_on="invoice_id", right_on="doc_id")
    a, rate = cum["amt"].values, cum["fx_rate"].values
    p, c, w = cum["paid"].values, cum["credited"].values, cum["written_off"].values
    cum["c_paid"] = r(a, rate) - r(a - p, rate)
    cum["c_credited"] = r(a - p, rate) - r(a - p - c, rate)
    cum["c_written_off"] = r(a - p - c, rate) - r(a - p - c - w, rate)
    g = cum.groupby("doc_id", sort=False)
    for col in ["c_paid", "c_credited", "c_written_off"]:
        cum["d" + col[1:]] = cum[col] - g[col].shift(1).fillna(0).astype(np.int64)
    cum["cohort_t"] = month_end(cum["doc_date"])
    moves = with_all(cum, ["cohort_t", "t"], ["d_paid", "d_credited", "d_written_off"])
    settled_90 = apps.merge(inv[["doc_id", "doc_date"]], left_on="invoice_id", right_on="doc_id")
    settled_90 = settled_90[settled_90["date"] <= settled_90["doc_date"] + pd.Timedelta(days=90)]
    settled_90 = settled_90.groupby("doc_id")["amount"].sum().rename("settled_90")
    inv = inv.merge(settled_90, left_on="doc_id", right_index=True, how="left")
    inv["open_90"] = np.where(inv["doc_date"] + pd.Timedelta(days=90) <= last,
                              r(inv["amount"].values - inv["settled_90"].fillna(0).astype(np.int64).values,
                                inv["fx_rate"].values), 0)
    inv["cohort_t"] = month_end(inv["doc_date"])
    inv["invoices"] = 1
    cbase = with_all(inv.rename(columns={"amount_reporting": "billed"}), ["cohort_t"], ["invoices", "billed", "open_90"])
    o61 = rows[(rows["dpd"] >= 61)].merge(inv[["doc_id", "cohort_t"]], on="doc_id")
    o61["open_61_plus"] = r(o61["open"].values, o61["fx_rate"].values)
    o61 = with_all(o61, ["cohort_t", "t"], ["open_61_plus"])
    ages = cbase.merge(pd.DataFrame({"t": months}), how="cross")
    ages = ages[ages["t"] >= ages["cohort_t"]]
    ages = ages.merge(moves, on=["cohort_t", "t", "dimension", "segment"], how="left")
    ages = ages.merge(o61, on=["cohort_t", "t", "dimension", "segment"], how="left")
    ages = ages.sort_values(["cohort_t", "dimension", "segment", "t"]).reset_index(drop=True)
    num = ["d_paid", "d_credited", "d_written_off", "open_61_plus"]
    ages[num] = ages[num].fillna(0).astype(np.int64)
    g = ages.groupby(["cohort_t", "dimension", "segment"], sort=False)
    ages["paid"] = g["d_paid"].cumsum()
    ages["credited"] = g["d_credited"].cumsum()
    ages["written_off"] = g["d_written_off"].cumsum()
    ages["open"] = ages["billed"] - ages["paid"] - ages["credited"] - ages["written_off"]
    pos = {t: i for i, t in enumerate(months)}
    ages["age_months"] = ages["t"].map(pos) - ages["cohort_t"].map(pos)
    ages["cohort_month"] = ages["cohort_t"].values.astype("datetime64[M]").astype("datetime64[s]")
    mature = ages["cohort_t"] + pd.Timedelta(days=90) <= last
    ages["at_risk_rate"] = np.where(mature & (ages["billed"] != 0), ages["open_90"] / ages["billed"].where(ages["billed"] != 0, 1), np.nan)
    cohorts = ages.rename(columns={"t": "as_of"})

    for name, df in [("aging", aging), ("kpi_monthly", kpi), ("cohorts", cohorts)]:
        df = df.copy()
        for c in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[c].dtype):
                df[c] = df[c].values.astype("datetime64[D]")
        df.to_parquet(f"{result}/{name}.parquet", index=False)
    print(json.dumps({"seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
