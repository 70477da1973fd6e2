"""Are two published ardent outputs the same tables? Compares every table of the first
output's manifest with the second's, row by row in published order (partitions by as-of
date), values exactly. Prints one line per table and exits 1 on any difference.

    python compare.py OUT_A OUT_B [--skip TABLE ...]

Used by the sharded-run test (`pipelines/ray/test_cluster.py`) to check that a run split
across a Ray cluster publishes what `ardent run` publishes.
"""

import argparse
import json
import sys
from pathlib import Path

import polars as pl


def table_files(root: Path, manifest: dict, output: dict) -> list[Path]:
    """The data files of one published table, partitions in as-of order."""
    if output.get("version") is not None:
        files = [root / output["table"] / f["path"] for f in output.get("files", [])]
    else:
        prefix = manifest["data_prefix"]
        path = output["path"]
        held = [
            f["path"]
            for f in manifest["files"]
            if f["path"].endswith(".parquet") and (f["path"] == path or (path.endswith("/") and f["path"].startswith(path)))
        ]
        files = [root / (prefix + p) for p in held]
    return sorted(files, key=lambda p: str(p))


def read_table(root: Path, manifest: dict, output: dict) -> pl.DataFrame:
    frames = []
    for f in table_files(root, manifest, output):
        df = pl.read_parquet(f)
        part = next((s.split("=", 1)[1] for s in f.parts if s.startswith("as_of=")), None)
        if part is not None and "as_of" not in df.columns:
            df = df.with_columns(pl.lit(part).alias("as_of"))
        frames.append(df)
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="vertical")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--skip", nargs="*", default=[], help="tables not compared")
    args = parser.parse_args()
    ma = json.loads((args.a / "_manifest.json").read_text())
    mb = json.loads((args.b / "_manifest.json").read_text())
    tables_a = {o["table"]: o for o in ma["outputs"]}
    tables_b = {o["table"]: o for o in mb["outputs"]}
    different = 0
    if list(tables_a) != list(tables_b):
        print(f"tables differ: {list(tables_a)} against {list(tables_b)}")
        different += 1
    for name, oa in tables_a.items():
        if name in args.skip or name not in tables_b:
            continue
        a = read_table(args.a, ma, oa)
        b = read_table(args.b, mb, tables_b[name])
        if a.schema != b.schema:
            print(f"{name:<24} DIFFERENT schema: {a.schema} against {b.schema}")
            different += 1
        elif not a.equals(b, null_equal=True):
            rows = a.height if a.height != b.height else None
            detail = f"{a.height} against {b.height} rows" if rows else "same row count, other values or order"
            print(f"{name:<24} DIFFERENT: {detail}")
            different += 1
        else:
            print(f"{name:<24} identical ({a.height} rows)")
    return 1 if different else 0


if __name__ == "__main__":
    sys.exit(main())
