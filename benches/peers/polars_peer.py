"""The AR analytics in polars (Python, lazy), written for speed: aging, kpi_monthly, cohorts.

Usage: python benches/peers/polars_peer.py INPUT_DIR RESULT_DIR

The same inputs, definitions and outputs as duckdb_peer.py (see there), and the same plan:
integer keys joined once, months as integers, one cumulative window per receivable giving the
stretches of months over which its open amount does not change, `int_ranges(..).explode()` to
expand them to month ends, one as-of join for month-end rates, per-segment sums with the
portfolio as their sum, int64 cents and rate units with half-even rounding. Frames used more
than once are collected once. Prints its wall time in seconds (reading and writing included)
as JSON.
"""

import json
import os
import sys
import time

import polars as pl

D = 10_000_000_000  # rate units
NEVER = 2**31 - 1
DOC_TYPES = pl.Enum(["invoice", "debit_memo", "credit_memo", "write_off"])
SOURCE_TYPES = pl.Enum(["payment", "credit_memo", "write_off"])


def cents(name):
    # Exact: cents stay far below 2^53, so the float round trip returns the stored integer.
    return (pl.col(name).cast(pl.Float64) * 100).round().cast(pl.Int64)


def rate_units(name):
    # Exact for rates of at most 15 significant digits (these have 11).
    return (pl.col(name).cast(pl.Float64) * 1e10).round().cast(pl.Int64)


def at_rate(cents_expr, rate_expr):
    """Half-even rounding of cents x rate units / 1e10 (positive products; int64 holds
    amounts up to 7 million at rates up to 1.3, as DuckDB's BIGINT)."""
    p = cents_expr * rate_expr
    q = p // D
    r = p % D
    return q + ((2 * r > D) | ((2 * r == D) & (q % 2 == 1))).cast(pl.Int64)


def month_of(expr):
    return (expr.dt.year().cast(pl.Int32) * 12 + expr.dt.month().cast(pl.Int32) - 1).cast(pl.Int32)


def month_end(expr):
    return pl.date(expr // 12, expr % 12 + 1, 1).dt.month_end()


def with_all(df, keys, sums):
    """Per-segment sums (s >= 0) plus the portfolio (s = -1) as their sum."""
    seg = df.group_by(keys + ["s"]).agg([pl.col(c).sum() for c in sums])
    tot = seg.group_by(keys).agg([pl.col(c).sum() for c in sums]).with_columns(s=pl.lit(-1, pl.Int32))
    return pl.concat([seg.with_columns(pl.col("s").cast(pl.Int32)), tot.select(seg.columns)])


def main():
    inp, result = sys.argv[1], sys.argv[2]
    os.makedirs(result, exist_ok=True)
    t0 = time.perf_counter()
    p = lambda t: os.path.join(inp, f"{t}.parquet")  # noqa: E731

    cust = (pl.scan_parquet(p("customers")).select("customer_id", "segment").with_row_index("c")
            .with_columns(s=(pl.col("segment").rank("dense") - 1).cast(pl.Int32)).collect())
    groups = pl.concat([cust.select("s", "segment").unique().with_columns(dimension=pl.lit("segment")),
                        pl.DataFrame({"s": [-1], "segment": ["ALL"], "dimension": ["all"]},
                                     schema={"s": pl.Int32, "segment": pl.String, "dimension": pl.String})])
    fx = pl.scan_parquet(p("fx_rates")).select("date", "currency", rate=rate_units("rate_to_reporting")).collect()
    currencies = sorted(set(fx["currency"].unique().to_list()) | {"USD"})
    cur_t = pl.Enum(currencies)

    docs = (pl.scan_parquet(p("ledger"))
            .select("doc_id", "customer_id", pl.col("doc_type").cast(DOC_TYPES), "doc_date",
                    due=pl.coalesce("due_date", "doc_date"), k_doc=month_of(pl.col("doc_date")),
                    amt=cents("amount"), cur=pl.col("currency").cast(cur_t), doc_rate=rate_units("fx_rate"),
                    amt_rep=cents("amount_reporting"))
            .with_row_index("d")
            .join(cust.lazy().select("customer_id", "c", "s"), on="customer_id")
            .drop("customer_id")
            .collect())
    pays = (pl.scan_parquet(p("payments"))
            .select("payment_id", "customer_id", "payment_date", rate=rate_units("fx_rate"),
                    amt_rep=cents("amount_reporting"))
            .join(cust.lazy().select("customer_id", "s"), on="customer_id").drop("customer_id").collect())

    first_day = min(docs["doc_date"].min(), pays["payment_date"].min())
    last_day = max(docs["doc_date"].max(), pays["payment_date"].max())
    k_min = first_day.year * 12 + first_day.month - 1
    k_max = last_day.year * 12 + last_day.month - 1
    months = pl.DataFrame({"k": pl.int_range(k_min, k_max + 1, eager=True).cast(pl.Int32)}).with_columns(
        t=month_end(pl.col("k")))
    months = months.filter(pl.col("t") <= last_day)
    k_max = months["k"].max()

    # Month-end rates: the latest at most 7 days old (one as-of join), USD at 1.
    month_rates = (months.join(pl.DataFrame({"currency": [c for c in currencies if c != "USD"]}), how="cross")
                   .sort("t")
                   .join_asof(fx.sort("date"), left_on="t", right_on="date", by="currency", strategy="backward",
                              tolerance="7d")
                   .filter(pl.col("rate").is_not_null())
                   .select("k", "t", cur=pl.col("currency").cast(cur_t), rate="rate"))
    month_rates = pl.concat([month_rates, months.select("k", "t", cur=pl.lit("USD").cast(cur_t),
                                                         rate=pl.lit(D, pl.Int64))])

    apps = (pl.scan_parquet(p("applications"))
            .select("invoice_id", "date", pl.col("source_type").cast(SOURCE_TYPES), "source_id", cents=cents("amount"),
                    source_cents=cents("source_amount"))
            .join(docs.lazy().select("doc_id", "d", "s", "doc_date"), left_on="invoice_id", right_on="doc_id")
            .select("d", "s", "doc_date", "date", "source_type", "source_id", "cents", "source_cents",
                    k=month_of(pl.col("date")))
            .collect())

    per_doc = apps.lazy().group_by("d").agg(
        applied=pl.col("cents").sum(), k_first=pl.col("k").min(), last=pl.col("date").max(),
        any_write_off=(pl.col("source_type") == "write_off").any(),
        settled_90=pl.col("cents").filter(pl.col("date") <= pl.col("doc_date") + pl.duration(days=90)).sum())
    recv = (docs.lazy().filter(pl.col("doc_type").is_in(["invoice", "debit_memo"]))
            .join(per_doc, on="d", how="left")
            .with_columns(is_invoice=pl.col("doc_type") == "invoice",
                          closed=pl.when(pl.col("applied") >= pl.col("amt")).then(pl.col("last")),
                          closed_by_write_off=pl.col("any_write_off").fill_null(False),
                          settled_90=pl.col("settled_90").fill_null(0))
            .collect())

    # Stretches: the first from the receivable's month to its first month with applications,
    # then one per such month, with cumulative and own applications.
    # Sorted by receivable and month, a running sum less its value at the receivable's first
    # row is the receivable's own running sum (no per-group window).
    first_of_d = pl.col("d").is_first_distinct()
    running = lambda c: pl.col(c).cum_sum() - pl.when(first_of_d).then(pl.col(c).cum_sum() - pl.col(c)).forward_fill()  # noqa: E731
    app_months = (apps.lazy().group_by("d", "k").agg(
        m_paid=pl.col("cents").filter(pl.col("source_type") == "payment").sum(),
        m_credited=pl.col("cents").filter(pl.col("source_type") == "credit_memo").sum(),
        m_written_off=pl.col("cents").filter(pl.col("source_type") == "write_off").sum())
        .sort("d", "k")
        .with_columns(k_next=pl.when(pl.col("d") == pl.col("d").shift(-1)).then(pl.col("k").shift(-1)).otherwise(NEVER),
                      paid=running("m_paid"), credited=running("m_credited"), written_off=running("m_written_off")))
    zero = pl.lit(0, pl.Int64)
    first = recv.lazy().select("d", k="k_doc", k_next=pl.col("k_first").fill_null(NEVER), m_paid=zero,
                               m_credited=zero, m_written_off=zero, paid=zero, credited=zero, written_off=zero)
    stretches = pl.concat([first, app_months.select(first.collect_schema().names())], how="vertical_relaxed").collect()

    open_rows = (stretches.lazy()
                 .join(recv.lazy().select("d", "c", "s", "is_invoice", "k_doc", "due", "amt", "cur", "doc_rate"), on="d")
                 .with_columns(open=pl.col("amt") - pl.col("paid") - pl.col("credited") - pl.col("written_off"))
                 .filter((pl.col("open") > 0) & (pl.col("k") <= k_max))
                 .with_columns(k=pl.int_ranges("k", pl.min_horizontal("k_next", pl.lit(k_max + 1))).cast(pl.List(pl.Int32)))
                 .explode("k")
                 .join(month_rates.lazy(), on=["k", "cur"])
                 .select("c", "s", "is_invoice", "k_doc", "doc_rate", "k", "open",
                         dpd=(pl.col("t") - pl.col("due")).dt.total_days(), rep=at_rate(pl.col("open"), pl.col("rate")))
                 .collect())

    dpd, rep = pl.col("dpd"), pl.col("rep")
    buckets = {"bucket_current": dpd <= 0, "bucket_1_30": dpd.is_between(1, 30), "bucket_31_60": dpd.is_between(31, 60),
               "bucket_61_90": dpd.is_between(61, 90), "bucket_91_120": dpd.is_between(91, 120),
               "bucket_121_plus": dpd > 120}
    aging = (open_rows.lazy()
             .with_columns([pl.when(cond).then(rep).otherwise(0).alias(name) for name, cond in buckets.items()]
                           + [(dpd > 0).cast(pl.UInt32).alias("past_due_invoices")])
             .group_by("k", "c").agg(
                 [pl.col("s").first()] + [pl.col(name).sum() for name in buckets]
                 + [rep.sum().alias("total_open"), pl.len().alias("open_invoices"), pl.col("past_due_invoices").sum(),
                    dpd.max().alias("max_dpd")])
             .collect())

    # KPIs per segment and for the portfolio.
    balances = with_all(aging.with_columns(
        ar_end=pl.col("total_open"), ar_current=pl.col("bucket_current"),
        ar_delinquent=pl.col("total_open") - pl.col("bucket_current"),
        ar_90=pl.col("bucket_91_120") + pl.col("bucket_121_plus"), delinquent_n=pl.col("past_due_invoices")),
        ["k"], ["ar_end", "ar_current", "ar_delinquent", "ar_90", "open_invoices", "delinquent_n"])
    kind = pl.col("doc_type")
    flows = with_all(docs.with_columns(
        k=pl.col("k_doc"),
        credit_sales=pl.when(kind.is_in(["invoice", "debit_memo"])).then(pl.col("amt_rep"))
        .when(kind == "credit_memo").then(-pl.col("amt_rep")).otherwise(0),
        write_offs=pl.when(kind == "write_off").then(pl.col("amt_rep")).otherwise(0)),
        ["k"], ["credit_sales", "write_offs"])
    daily = with_all(docs.filter(kind.is_in(["invoice", "debit_memo", "credit_memo"])).with_columns(
        day=pl.col("doc_date"), sales=pl.when(kind == "credit_memo").then(-pl.col("amt_rep")).otherwise(pl.col("amt_rep"))),
        ["day"], ["sales"])
    collected = with_all(pays.with_columns(k=month_of(pl.col("payment_date")), cash_collected=pl.col("amt_rep")),
                         ["k"], ["cash_collected"])
    applied = with_all(apps.filter(pl.col("source_type") == "payment")
                       .join(pays.select("payment_id", "rate"), left_on="source_id", right_on="payment_id")
                       .with_columns(cash_applied=at_rate(pl.col("source_cents"), pl.col("rate"))),
                       ["k"], ["cash_applied"])
    paid_docs = recv.filter(pl.col("closed").is_not_null() & ~pl.col("closed_by_write_off")).with_columns(
        k=month_of(pl.col("closed")), days=(pl.col("closed") - pl.col("doc_date")).dt.total_days(),
        late=pl.max_horizontal((pl.col("closed") - pl.col("due")).dt.total_days(), pl.lit(0)), invoices_paid=pl.lit(1))
    paid = with_all(paid_docs.with_columns(paid_days=pl.col("days"), paid_amount=pl.col("amt_rep"),
                                           paid_amount_days=pl.col("amt_rep") * pl.col("days"),
                                           paid_amount_late=pl.col("amt_rep") * pl.col("late")),
                    ["k"], ["invoices_paid", "paid_days", "paid_amount", "paid_amount_days", "paid_amount_late"])
    grid = months.join(groups, how="cross")
    sales_90 = (grid.join(daily, on="s").filter((pl.col("day") > pl.col("t") - pl.duration(days=90)) & (pl.col("day") <= pl.col("t")))
                .group_by("k", "s").agg(sales_90=pl.col("sales").sum()))
    b = grid.join(balances, on=["k", "s"], how="left")
    for frame in (flows, collected, applied, paid, sales_90):
        b = b.join(frame, on=["k", "s"], how="left")
    b = b.sort("s", "k")
    z = lambda c: pl.col(c).fill_null(0)  # noqa: E731
    nz = lambda c: pl.when(pl.col(c) != 0).then(pl.col(c))  # noqa: E731
    kpi = b.select(
        month="t", dimension="dimension", segment="segment",
        ar_begin=pl.col("ar_end").shift(1).over("s").fill_null(0), ar_end=z("ar_end"), ar_current=z("ar_current"),
        ar_delinquent=z("ar_delinquent"), credit_sales=z("credit_sales"), cash_collected=z("cash_collected"),
        cash_applied=z("cash_applied"), write_offs=z("write_offs"),
        dso_standard=pl.when((pl.col("t") - pl.duration(days=89) >= first_day) & (pl.col("sales_90") > 0))
        .then(z("ar_end") / pl.col("sales_90") * 90),
        delinquency_rate_amount=pl.col("ar_delinquent") / nz("ar_end"),
        delinquency_rate_count=pl.col("delinquent_n") / nz("open_invoices"),
        share_90_plus=pl.col("ar_90") / nz("ar_end"),
        open_invoices=z("open_invoices"), invoices_paid=z("invoices_paid"),
        avg_days_to_pay=pl.col("paid_days") / nz("invoices_paid"),
        weighted_days_to_pay=pl.col("paid_amount_days") / nz("paid_amount"),
        weighted_days_late=pl.col("paid_amount_late") / nz("paid_amount"))

    # Cohorts: invoices by billing month, the split at the invoice's rate per application
    # month (the cumulative split after the month less the one before it).
    inv = recv.filter(pl.col("is_invoice"))
    cohort_base = with_all(inv.with_columns(
        k_cohort=pl.col("k_doc"), invoices=pl.lit(1),
        billed=pl.col("amt_rep"),
        open_90=pl.when(pl.col("doc_date") + pl.duration(days=90) <= last_day)
        .then(at_rate(pl.col("amt") - pl.col("settled_90"), pl.col("doc_rate"))).otherwise(0)),
        ["k_cohort"], ["invoices", "billed", "open_90"])
    amt, r = pl.col("amt"), pl.col("doc_rate")
    p0, c0, w0 = (pl.col("paid") - pl.col("m_paid"), pl.col("credited") - pl.col("m_credited"),
                  pl.col("written_off") - pl.col("m_written_off"))
    p1, c1, w1 = pl.col("paid"), pl.col("credited"), pl.col("written_off")
    split = [("a0", amt - p0), ("b0", amt - p0 - c0), ("c0", amt - p0 - c0 - w0),
             ("a1", amt - p1), ("b1", amt - p1 - c1), ("c1", amt - p1 - c1 - w1)]
    a0, b0, c0_, a1, b1, c1_ = (pl.col(n) for n, _ in split)
    moves = with_all(
        stretches.filter((pl.col("m_paid") + pl.col("m_credited") + pl.col("m_written_off")) != 0)
        .join(inv.select("d", "s", "k_doc", "amt", "doc_rate"), on="d")
        .with_columns([at_rate(e, r).alias(n) for n, e in split])
        .with_columns(k_cohort=pl.col("k_doc"), d_paid=a0 - a1, d_credited=(a1 - b1) - (a0 - b0),
                      d_written_off=(b1 - c1_) - (b0 - c0_)),
        ["k_cohort", "k"], ["d_paid", "d_credited", "d_written_off"])
    o61 = with_all(open_rows.filter(pl.col("is_invoice") & (pl.col("dpd") >= 61))
                   .with_columns(k_cohort=pl.col("k_doc"), open_61_plus=at_rate(pl.col("open"), pl.col("doc_rate"))),
                   ["k_cohort", "k"], ["open_61_plus"])
    cohorts = (cohort_base.join(groups, on="s").join(months, how="cross").filter(pl.col("k") >= pl.col("k_cohort"))
               .join(moves, on=["k_cohort", "k", "s"], how="left").join(o61, on=["k_cohort", "k", "s"], how="left")
               .sort("k_cohort", "s", "k")
               .with_columns([z(c).cum_sum().over("k_cohort", "s").alias(c[2:]) for c in ("d_paid", "d_credited", "d_written_off")])
               .select(cohort_month=pl.date(pl.col("k_cohort") // 12, pl.col("k_cohort") % 12 + 1, 1),
                       age_months=pl.col("k") - pl.col("k_cohort"), as_of="t", dimension="dimension", segment="segment",
                       invoices="invoices", billed="billed", paid="paid", credited="credited", written_off="written_off",
                       open=pl.col("billed") - pl.col("paid") - pl.col("credited") - pl.col("written_off"),
                       open_61_plus=z("open_61_plus"),
                       at_risk_rate=pl.when(month_end(pl.col("k_cohort")) + pl.duration(days=90) <= last_day)
                       .then(pl.col("open_90") / nz("billed"))))

    (aging.lazy().join(months.lazy(), on="k").join(cust.lazy().select("c", "customer_id"), on="c")
     .select(as_of="t", customer_id="customer_id", bucket_current="bucket_current", bucket_1_30="bucket_1_30",
             bucket_31_60="bucket_31_60", bucket_61_90="bucket_61_90", bucket_91_120="bucket_91_120",
             bucket_121_plus="bucket_121_plus", total_open="total_open",
             past_due=pl.col("total_open") - pl.col("bucket_current"), open_invoices="open_invoices", max_dpd="max_dpd")
     .sink_parquet(os.path.join(result, "aging.parquet")))
    kpi.write_parquet(os.path.join(result, "kpi_monthly.parquet"))
    cohorts.write_parquet(os.path.join(result, "cohorts.parquet"))
    print(json.dumps({"seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
