"""Read every table of a published ardent output with Apache Spark in local mode, as a data
platform would: counts must arrive as bigint (LongType), money as decimal(18,2), dates as date,
and every table with the manifest's row count. Delta tables are read as the Parquet files of the
version the manifest names (Spark's own Delta reader needs the delta-spark jars from Maven, which
this machine cannot reach; deltalake and DuckDB read the Delta log elsewhere in CI).

    python .ci/check_spark.py OUT"""

import json
import pathlib
import sys

from pyspark.sql import SparkSession
from pyspark.sql import types as T

EXPECTED = {
    "INT64": T.LongType(),
    "DECIMAL(18,2)": T.DecimalType(18, 2),
    "DECIMAL(18,10)": T.DecimalType(18, 10),
    "DATE": T.DateType(),
    "STRING": T.StringType(),
    "DOUBLE": T.DoubleType(),
    "BOOLEAN": T.BooleanType(),
}


def main(out: pathlib.Path) -> None:
    manifest = json.loads((out / "_manifest.json").read_text())
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("ardent-reader-check")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    for table in manifest["outputs"]:
        if table.get("version") is not None:
            base = out / table["table"]
            files = [str(base / f["path"]) for f in table["files"]]
        else:
            base = out / manifest["data_prefix"] / table["path"]
            files = [str(p) for p in sorted(base.rglob("*.parquet"))] if base.is_dir() else [str(base)]
        if not files:
            assert table["rows"] == 0, table["table"]
            continue
        df = spark.read.option("basePath", str(base)).parquet(*files)
        rows = df.count()
        assert rows == table["rows"], (table["table"], rows, table["rows"])
        fields = {f.name: f.dataType for f in df.schema.fields}
        for name, declared in table["columns"]:
            want = EXPECTED.get(declared)
            if want is not None:
                assert fields[name] == want, (table["table"], name, fields[name], declared)
        print(f"  {table['table']:<22} {rows:>9} rows  read by Spark {spark.version}")
    spark.stop()


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
