"""Read every Parquet file of a published ardent output with DuckDB and with pyarrow, and
check what BI tools depend on: the manifest's row counts, DECIMAL(18,2) money, DATE dates.
Delta tables are read both as the data files of the version the manifest names and with
deltalake at that version (time travel), which must agree.
With a scores file from `ardent score --model OUT/models/scorecard`, also check that the
exported scorecard SQL, run by DuckDB on the features table, gives the same PDs; with
`--scorecard-sql MODEL_DIR TABLE SCORES ID_COLUMN`, check that of any scorecard on any table."""

import json
import pathlib
import sys

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from deltalake import DeltaTable


def table_files(out: pathlib.Path, manifest: dict, table: dict) -> tuple[pathlib.Path, list[pathlib.Path]]:
    """The folder (or file) of a published table and its data files: for a Delta table those of
    the version the manifest names (older versions' files may still lie in the folder)."""
    if table.get("version") is not None:
        base = out / table["table"]
        return base, [base / f["path"] for f in table["files"]]
    path = out / manifest["data_prefix"] / table["path"]
    return path, sorted(path.rglob("*.parquet")) if path.is_dir() else [path]


def sql_source(files: list[pathlib.Path], partitioned: bool) -> str:
    listed = ", ".join(f"'{f}'" for f in files)
    return f"read_parquet([{listed}], hive_partitioning = {str(partitioned).lower()})"


def main(out: pathlib.Path) -> None:
    manifest = json.loads((out / "_manifest.json").read_text())
    con = duckdb.connect()
    for table in manifest["outputs"]:
        path, files = table_files(out, manifest, table)
        partition = table.get("partitioned_by")
        if partition:
            # Hive-style folders: DuckDB and pyarrow take the key from the folder names.
            source = sql_source(files, True)
            arrow = ds.dataset([str(f) for f in files], format="parquet", partitioning="hive",
                               partition_base_dir=str(path)).to_table()
            parts = con.execute(f"select count(distinct {partition[0]}) from {source}").fetchone()[0]
            assert parts == partition[1], (table["table"], parts, partition)
        else:
            source = sql_source(files, False)
            arrow = pq.read_table(files[0])
        if table.get("version") is not None:
            delta = DeltaTable(str(path), version=table["version"]).to_pyarrow_table()
            assert delta.num_rows == table["rows"], (table["table"], delta.num_rows, table["rows"])
            for name, declared in table["columns"]:
                ty = delta.schema.field(name).type
                if declared == "DECIMAL(18,2)":
                    assert ty == pa.decimal128(18, 2), (table["table"], name, ty)
                elif declared == "DATE":
                    assert ty == pa.date32(), (table["table"], name, ty)
                elif declared == "INT64":
                    assert ty == pa.int64(), (table["table"], name, ty)
        rows = con.execute(f"select count(*) from {source}").fetchone()[0]
        assert rows == arrow.num_rows == table["rows"], (table["table"], rows, arrow.num_rows, table["rows"])
        duck_types = dict(con.execute(f"select column_name, column_type from (describe select * from {source})").fetchall())
        for name, declared in table["columns"]:
            field = arrow.schema.field(name)
            if partition and name == partition[0]:
                assert duck_types[name] == "DATE", (table["table"], name, duck_types[name])
                continue
            if declared == "INT64":
                assert field.type == pa.int64(), (table["table"], name, field.type)
                assert duck_types[name] == "BIGINT", (table["table"], name, duck_types[name])
            if declared == "DECIMAL(18,2)":
                assert field.type == pa.decimal128(18, 2), (table["table"], name, field.type)
                assert duck_types[name] == "DECIMAL(18,2)", (table["table"], name, duck_types[name])
            elif declared == "DATE":
                assert field.type == pa.date32(), (table["table"], name, field.type)
                assert duck_types[name] == "DATE", (table["table"], name, duck_types[name])
        readers = "DuckDB, pyarrow and deltalake" if table.get("version") is not None else "DuckDB and pyarrow"
        print(f"  {table['table']:<22} {rows:>9} rows  read by {readers}")
    by_name = {t["table"]: t for t in manifest["outputs"]}
    source = lambda name: sql_source(table_files(out, manifest, by_name[name])[1], name == "aging")
    total = con.execute(f"select sum(amount) from {source('ledger')}").fetchone()[0]
    print(f"  ledger amount sum via DuckDB: {total}")
    # BI cross-check: the portfolio's AR at the last month end equals the aging total as of that date.
    ar_end, as_of = con.execute(
        f"select ar_end, month from {source('kpi_monthly')} where segment = 'ALL' order by month desc limit 1"
    ).fetchone()
    aged = con.execute(f"select sum(total_open) from {source('aging')} where as_of = ?", [as_of]).fetchone()[0]
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
            manifest = json.loads((out / "_manifest.json").read_text())
            features = next(t for t in manifest["outputs"] if t["table"] == "features")
            _, files = table_files(out, manifest, features)
            check_scorecard_sql(out / "models" / "scorecard", files[0], pathlib.Path(sys.argv[2]))
