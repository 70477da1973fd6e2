"""Read every Parquet file of a published ardent output with DuckDB and with pyarrow, and
check what BI tools depend on: the manifest's row counts, DECIMAL(18,2) money, DATE dates."""

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
        arrow = pq.read_table(path)
        rows = con.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0]
        assert rows == arrow.num_rows == table["rows"], (table["table"], rows, arrow.num_rows, table["rows"])
        duck_types = dict(con.execute(f"select column_name, column_type from (describe select * from read_parquet('{path}'))").fetchall())
        for name, declared in table["columns"]:
            field = arrow.schema.field(name)
            if declared == "DECIMAL(18,2)":
                assert field.type == pa.decimal128(18, 2), (table["table"], name, field.type)
                assert duck_types[name] == "DECIMAL(18,2)", (table["table"], name, duck_types[name])
            elif declared == "DATE":
                assert field.type == pa.date32(), (table["table"], name, field.type)
                assert duck_types[name] == "DATE", (table["table"], name, duck_types[name])
        print(f"  {table['table']:<14} {rows:>9} rows  read by DuckDB and pyarrow")
    total = con.execute(f"select sum(amount) from read_parquet('{out / 'ledger.parquet'}')").fetchone()[0]
    print(f"  ledger amount sum via DuckDB: {total}")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
