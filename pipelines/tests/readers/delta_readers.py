"""Read ardent's Delta tables in an S3-compatible store without ardent (deltalake for Python),
for pipelines/tests/object_storage.rs. Credentials and the endpoint come from the environment
(AWS_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ALLOW_HTTP).

  delta_readers.py poll ROOT STOP_FILE READERS TABLE=ROWS ...
      READERS processes read each TABLE at ROOT/TABLE, latest version, until STOP_FILE exists;
      every read must hold exactly ROWS rows (a partial table would not). Prints a JSON summary;
      exits 1 if any read failed or was short.
  delta_readers.py versions ROOT MANIFEST
      Reads every table at the version the manifest names (time travel) and checks its rows
      and its column types against the manifest. Exits 1 on a difference.
"""

import json
import multiprocessing
import os
import sys
import time

from deltalake import DeltaTable


def options():
    return {
        "AWS_ENDPOINT_URL": os.environ["AWS_ENDPOINT"],
        "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
        "AWS_REGION": os.environ.get("AWS_REGION", "us-east-1"),
        "AWS_ALLOW_HTTP": os.environ.get("AWS_ALLOW_HTTP", "true"),
    }


def reader(args):
    root, stop, expected = args
    reads, problems, versions = 0, [], set()
    while not os.path.exists(stop):
        for table, rows in expected.items():
            try:
                dt = DeltaTable(f"{root}/{table}", storage_options=options())
                got = dt.to_pyarrow_table().num_rows
                versions.add(dt.version())
                if got != rows:
                    problems.append(f"{table} version {dt.version()}: {got} rows, a whole version has {rows}")
            except Exception as e:  # noqa: BLE001 - every failure is a finding
                problems.append(f"{table}: {type(e).__name__}: {e}")
            reads += 1
    return reads, problems, sorted(versions)


def poll(root, stop, readers, pairs):
    expected = {p.split("=")[0]: int(p.split("=")[1]) for p in pairs}
    with multiprocessing.Pool(readers) as pool:
        results = pool.map(reader, [(root, stop, expected)] * readers)
    reads = sum(r[0] for r in results)
    problems = [p for r in results for p in r[1]]
    versions = sorted({v for r in results for v in r[2]})
    print(json.dumps({"readers": readers, "reads": reads, "versions_seen": versions, "problems": problems[:20]}))
    return 1 if problems else 0


# The Arrow type a reader must see for each documented Parquet type.
ARROW = {
    "STRING": ("string", "large_string", "string_view"),
    "DATE": ("date32[day]",),
    "DECIMAL(18,2)": ("decimal128(18, 2)",),
    "DECIMAL(18,10)": ("decimal128(18, 10)",),
    "BOOLEAN": ("bool",),
    "INT64": ("int64",),
    "DOUBLE": ("double",),
    "TIMESTAMP(MICROS,UTC)": ("timestamp[us, tz=UTC]", "timestamp[us, tz=+00:00]"),
}


def versions(root, manifest_path):
    manifest = json.load(open(manifest_path))
    problems = []
    for o in manifest["outputs"]:
        try:
            dt = DeltaTable(f"{root}/{o['table']}", version=o["version"], storage_options=options())
            table = dt.to_pyarrow_table()
        except Exception as e:  # noqa: BLE001 - a version that cannot be read is a finding
            problems.append(f"{o['table']}@{o['version']}: {type(e).__name__}: {e}")
            continue
        if table.num_rows != o["rows"]:
            problems.append(f"{o['table']}@{o['version']}: {table.num_rows} rows, the manifest says {o['rows']}")
        for name, documented in o["columns"]:
            field = table.schema.field(name)
            if str(field.type) not in ARROW[documented]:
                problems.append(f"{o['table']}.{name}: {field.type}, documented {documented}")
        for field in dt.schema().fields:
            documented = dict((n, t) for n, t in o["columns"])
            if field.name not in documented:
                problems.append(f"{o['table']}: undocumented column {field.name}")
    print(json.dumps({"tables": len(manifest["outputs"]), "problems": problems[:20]}))
    return 1 if problems else 0


if __name__ == "__main__":
    if sys.argv[1] == "poll":
        code = poll(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:])
    elif sys.argv[1] == "versions":
        code = versions(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown mode {sys.argv[1]}")
    # deltalake's runtime threads can abort the interpreter's shutdown ("terminate called
    # without an active exception") after the work is done: leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
