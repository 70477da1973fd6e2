"""Read every Parquet file of a published ardent output with an old pyarrow (12, the oldest
that installs on this Python), which refuses the Arrow types newer writers embed (string
views): every table opens, with the manifest's row count, text as strings, money as
decimal128(18, 2) and dates as date32.

    python .ci/check_old_arrow.py OUT"""

import json
import pathlib
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def main(out: pathlib.Path) -> None:
    manifest = json.loads((out / "_manifest.json").read_text())
    for table in manifest["outputs"]:
        if table.get("version") is not None:
            # A Delta table: the data files of the version this run committed.
            files = [out / table["table"] / f["path"] for f in table["files"]]
        else:
            path = out / manifest["data_prefix"] / table["path"]
            files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
        rows = 0
        for f in files:
            t = pq.read_table(f)
            rows += t.num_rows
            for name, declared in table["columns"]:
                if name not in t.schema.names:
                    continue  # a partition key lives in the folder name
                ty = t.schema.field(name).type
                if declared == "DECIMAL(18,2)":
                    assert ty == pa.decimal128(18, 2), (table["table"], name, ty)
                elif declared == "DATE":
                    assert ty == pa.date32(), (table["table"], name, ty)
                elif declared == "STRING":
                    assert pa.types.is_string(ty) or pa.types.is_large_string(ty), (table["table"], name, ty)
                elif declared == "INT64":
                    assert ty == pa.int64(), (table["table"], name, ty)
        assert rows == table["rows"], (table["table"], rows, table["rows"])
    print(f"pyarrow {pa.__version__} read {len(manifest['outputs'])} tables")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
