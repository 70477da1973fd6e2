"""Read every Parquet file of a published ardent output with DuckDB and with pyarrow, and
check what BI tools depend on: the manifest's row counts, DECIMAL(18,2) money, DATE dates.
With a scores file from `ardent score --model OUT/models/scorecard`, also check that the
exported scorecard SQL, run by DuckDB on the features table, gives the same PDs; with
`--scorecard-sql MODEL_DIR TABLE SCORES ID_COLUMN`, check that of any scorecard on any table."""

import json
import pathlib
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq


def main(out: pathlib.Path) -> None:
    manifest = json.loads((out / "_manifest.json").read_text())
    con = duckdb.connect()
    for table in manifest["outputs"]:
        path = out / table["path"]
        partition = table.get("partitioned_by")
        if partition:
            # Hive-style folders: DuckDB and pyarrow take the key from the folder names.
            source = f"read_parquet('{path}/*/*.parquet', hive_partitioning = true)"
            arrow = pq.read_table(path, partitioning="hive")
            parts = con.execute(f"select count(distinct {partition[0]}) from {source}").fetchone()[0]
            assert parts == partition[1], (table["table"], parts, partition)
        else:
            source = f"read_parquet('{path}')"
            arrow = pq.read_table(path)
        rows = con.execute(f"select count(*) from {source}").fetchone()[0]
        assert rows == arrow.num_rows == table["rows"], (table["table"], rows, arrow.num_rows, table["rows"])
        duck_types = dict(con.execute(f"select column_name, column_type from (describe select * from {source})").fetchall())
        for name, declared in table["columns"]:
            field = arrow.schema.field(name)
            if partition and name == partition[0]:
                assert duck_types[name] == "DATE", (table["table"], name, duck_types[name])
                continue
            if declared == "DECIMAL(18,2)":
                assert field.type == pa.decimal128(18, 2), (table["table"], name, field.type)
                assert duck_types[name] == "DECIMAL(18,2)", (table["table"], name, duck_types[name])
            elif declared == "DATE":
                assert field.type == pa.date32(), (table["table"], name, field.type)
                assert duck_types[name] == "DATE", (table["table"], name, duck_types[name])
        print(f"  {table['table']:<22} {rows:>9} rows  read by DuckDB and pyarrow")
    total = con.execute(f"select sum(amount) from read_parquet('{out / 'ledger.parquet'}')").fetchone()[0]
    print(f"  ledger amount sum via DuckDB: {total}")
    # BI cross-check: the portfolio's AR at the last month end equals the aging total as of that date.
    kpi, aging = out / "kpi_monthly.parquet", out / "aging"
    ar_end, as_of = con.execute(
        f"select ar_end, month from read_parquet('{kpi}') where segment = 'ALL' order by month desc limit 1"
    ).fetchone()
    aged = con.execute(
        f"select sum(total_open) from read_parquet('{aging}/*/*.parquet', hive_partitioning = true) where as_of = ?",
        [as_of],
    ).fetchone()[0]
    assert ar_end == aged, (ar_end, aged, as_of)
    print(f"  AR at {as_of}: kpi_monthly {ar_end} = aging {aged}")


def check_scorecard_sql(model_dir: pathlib.Path, table: pathlib.Path, scores: pathlib.Path, key: str = "") -> None:
    """The scorecard's SQL, run by DuckDB on `table` (Parquet or CSV), gives the PDs that
    `ardent score` wrote to `scores`, matched by row number in both Parquet files, or by the
    id column `key`."""
    model = json.loads((model_dir / "model.json").read_text())["model"]
    part = model["parts"][0]
    offset, factor = part["fitted"]["offset"], part["fitted"]["factor"]
    a, b = part["calibration"]["a"], part["calibration"]["b"]
    sql = "\n".join(l for l in (model_dir / "scorecard.sql").read_text().splitlines() if not l.startswith("--"))
    con = duckdb.connect()

    def rows(path: pathlib.Path) -> str:
        if path.suffix == ".csv":
            return f"read_csv('{path}')"
        return f"(select file_row_number as r, * from read_parquet('{path}', file_row_number = true))"

    on = f'"{key}"' if key else "r"
    result = con.execute(
        f"""select 1 / (1 + exp(-({a} * (({offset} - points) / {factor}) + {b}))) as pd_sql, s.pd
            from (select {on} as k, ({sql})::double as points from {rows(table)}) f
            join (select {on} as k, pd from {rows(scores)}) s using (k)"""
    ).fetchall()
    worst = max(abs(r[0] - r[1]) for r in result)
    assert result and worst < 1e-9, (len(result), worst)
    print(f"  {model_dir.name}/scorecard.sql in DuckDB = ardent score on {len(result)} rows of {table.name} (largest PD difference {worst:.1e})")


if __name__ == "__main__":
    if sys.argv[1] == "--scorecard-sql":
        check_scorecard_sql(pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3]), pathlib.Path(sys.argv[4]), sys.argv[5])
    else:
        main(pathlib.Path(sys.argv[1]))
        if len(sys.argv) > 2:
            out = pathlib.Path(sys.argv[1])
            check_scorecard_sql(out / "models" / "scorecard", out / "features.parquet", pathlib.Path(sys.argv[2]))
