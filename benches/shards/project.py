"""How much faster would a sharded run be on W workers? Measures every step of a sharded run
on this machine and projects the wall time on W workers from the measurements.

    python benches/shards/project.py --ardent target/release/ardent --config DATA/pipeline.toml \
        --work /tmp/shards-l --shards 4 16 64 [--ray-overhead]

For the data of `--config`, models included (`--no-models` for the dashboards only):

- `ardent run` on one machine, timed (wall, peak RSS);
- for each N: `ardent shard validate --shards N` (validation cutting the shards on the way),
  `split` (finding them cut), every `shard run` one after the other (each shard's wall, peak
  RSS, bytes read and written, from ardent's JSON events), every `shard draw`, `train`, every
  `shard score`, and `merge` (into a plain Parquet output);
- with `--ray-overhead`: a local Ray cluster (head + 2 workers) runs the bundled sample with
  64 shards, and Ray's cost per task is taken as each task's round trip seen by the driver
  minus the ardent process's own time (serial steps), and as the shard wave's wall time times
  the nodes minus the processes' time, per task (shard tasks).

A worker is taken to be this machine (its cores, its disk); the projection on W workers with
N = W shards is

    T(W) = validate and cut(W) + split(W) + max over shards of shard run(W)
           + max over shards of draw(W) + train(W) + max over shards of score(W) + merge(W)
           + Ray's overhead

with every term measured (the overhead: 4 serial round trips plus 3 shard tasks', or 3 and 1
without the models). Prints a
table and writes everything to `--work/projection.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def timed(command: list[str]) -> dict:
    """Run `command` under /usr/bin/time; its wall seconds, peak RSS and JSON events."""
    t = time.time()
    proc = subprocess.run(["/usr/bin/time", "-f", "__rss_kb %M"] + command, capture_output=True, text=True)
    wall = time.time() - t
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(command)}\n{proc.stderr[-3000:]}")
    rss = 0
    events = []
    for line in proc.stderr.splitlines():
        if line.startswith("__rss_kb "):
            rss = int(line.split()[1])
        elif line.startswith("{"):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return {"seconds": round(wall, 3), "peak_rss_mb": round(rss / 1024, 1), "events": events}


def event(result: dict, name: str) -> dict:
    return next((e for e in result["events"] if e.get("event") == name), {})


def ray_overhead() -> dict:
    """Ray's cost per task on a local cluster (measured in a child process: Ray's client ends
    its process a minute after the cluster it talked to stops)."""
    proc = subprocess.run([sys.executable, __file__, "--ray-overhead-only"], capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        sys.exit(f"measuring Ray's overhead failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1])


def measure_ray_overhead() -> dict:
    """Ray's cost per task on a local cluster, from a 64-shard run of the bundled sample."""
    sys.path.insert(0, str(ROOT / "pipelines" / "ray"))
    import tempfile

    import ardent_ray
    import ray
    from test_cluster import Cluster

    temp = Path(tempfile.mkdtemp(prefix="ardent-ray-", dir="/tmp"))
    cluster = Cluster(Path(sys.executable).parent / "ray", temp, workers=2)
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait(3)
        nodes = len([n for n in ray.nodes() if n.get("Alive")])
        sets = ["models.enabled=false", "run.table_format=parquet"]
        ardent = os.environ["ARDENT_BIN"]
        ardent_ray.run(None, str(temp / "warm"), str(temp / "warm-out"), 3, ardent, sets)
        record = ardent_ray.run(None, str(temp / "work"), str(temp / "out"), 64, ardent, sets)
        ray.shutdown()
    finally:
        cluster.stop()
    serial = [s for s in record["steps"] if s["step"] in ("shard validate", "shard split", "shard merge")]
    shards = [s for s in record["steps"] if s["step"] == "shard run"]
    per_serial = sum(s["round_trip_seconds"] - s["seconds"] for s in serial) / len(serial)
    per_shard = (record["shards_run_wall_seconds"] * nodes - sum(s["seconds"] for s in shards)) / len(shards)
    return {
        "nodes": nodes,
        "serial_round_trips": [round(s["round_trip_seconds"] - s["seconds"], 3) for s in serial],
        "per_serial_task_seconds": round(per_serial, 3),
        "per_shard_task_seconds": round(max(per_shard, 0.0), 3),
        "shards_wall_seconds": record["shards_run_wall_seconds"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ardent", required=True, type=Path)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--shards", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--ray-overhead", action="store_true")
    parser.add_argument("--no-models", action="store_true", help="the dashboards only (models.enabled=false)")
    parser.add_argument("--ray-overhead-only", action="store_true", help=argparse.SUPPRESS)
    if "--ray-overhead-only" in sys.argv:
        print(json.dumps(measure_ray_overhead()), flush=True)
        os._exit(0)
    args = parser.parse_args()
    ardent = str(args.ardent.resolve())
    os.environ["ARDENT_BIN"] = ardent
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    sets = ["--set", "run.table_format=parquet"]
    if args.no_models:
        sets += ["--set", "models.enabled=false"]
    models = not args.no_models
    base = [ardent, "--log-format", "json"]
    common = ["--config", str(args.config.resolve()), *sets]
    record: dict = {"config": str(args.config), "machine": os.uname().nodename, "cores": os.cpu_count()}

    single = timed(base + ["run", "--out", str(work / "single"), *common])
    record["single"] = {k: single[k] for k in ("seconds", "peak_rss_mb")}
    record["single"]["timings_ms"] = event(single, "run_summary").get("timings_ms")
    print(f"one machine: {single['seconds']:.1f} s, peak {single['peak_rss_mb']:.0f} MB")
    record["runs"] = []
    for n in args.shards:
        shards = ["--work", str(work), "--shards", str(n), *common]
        # Validation cuts the shards on the way (`--shards`); the split step then finds them.
        validate = timed(base + ["shard", "validate", *shards])
        split = timed(base + ["shard", "split", *shards])
        runs = []
        for i in range(n):
            r = timed(base + ["shard", "run", *shards, "--shard", str(i)])
            done = event(r, "shard_done")
            runs.append(
                {
                    "seconds": r["seconds"],
                    "peak_rss_mb": r["peak_rss_mb"],
                    "bytes_read": done.get("bytes_read"),
                    "bytes_written": done.get("bytes_written"),
                    "documents": done.get("documents"),
                }
            )

        def wave(step: str, done_event: str) -> list[dict]:
            out = []
            for i in range(n):
                r = timed(base + ["shard", step, *shards, "--shard", str(i)])
                out.append(
                    {
                        "seconds": r["seconds"],
                        "peak_rss_mb": r["peak_rss_mb"],
                        "bytes_written": event(r, done_event).get("bytes_written"),
                    }
                )
            return out

        draws, train, scores = [], {"seconds": 0.0, "peak_rss_mb": 0.0}, []
        if models:
            draws = wave("draw", "shard_drawn")
            train = timed(base + ["shard", "train", *shards])
            scores = wave("score", "shard_scored")
        merge = timed(base + ["shard", "merge", *shards, "--out", str(work / f"out-{n}")])
        row = {
            "shards": n,
            "validate": {k: validate[k] for k in ("seconds", "peak_rss_mb")},
            "split": {k: split[k] for k in ("seconds", "peak_rss_mb")},
            "shard_runs": runs,
            "shard_draws": draws,
            "train": {k: train[k] for k in ("seconds", "peak_rss_mb")},
            "shard_scores": scores,
            "merge": {k: merge[k] for k in ("seconds", "peak_rss_mb")},
        }
        record["runs"].append(row)
        slowest = max(r["seconds"] for r in runs)
        total = sum(r["seconds"] for r in runs)
        print(
            f"N={n:<3} validate and cut {validate['seconds']:.1f} s ({validate['peak_rss_mb']:.0f} MB),"
            f" split {split['seconds']:.1f} s; shards: slowest {slowest:.1f} s,"
            f" sum {total:.1f} s, peak {max(r['peak_rss_mb'] for r in runs):.0f} MB, read"
            f" {max(r['bytes_read'] or 0 for r in runs) / 1e6:.0f} MB, wrote {max(r['bytes_written'] or 0 for r in runs) / 1e6:.0f} MB"
            f" (largest shard); merge {merge['seconds']:.1f} s ({merge['peak_rss_mb']:.0f} MB)"
        )
        if models:
            print(
                f"      draw: slowest {max(r['seconds'] for r in draws):.1f} s, peak {max(r['peak_rss_mb'] for r in draws):.0f} MB;"
                f" train {train['seconds']:.1f} s ({train['peak_rss_mb']:.0f} MB);"
                f" score: slowest {max(r['seconds'] for r in scores):.1f} s, peak {max(r['peak_rss_mb'] for r in scores):.0f} MB"
            )
    overhead = ray_overhead() if args.ray_overhead else None
    record["ray_overhead"] = overhead
    print("\nprojected wall time on W workers (each like this machine), N = W shards:")
    print(
        f"{'W':>4} {'validate':>9} {'split':>7} {'shard':>7} {'draw':>7} {'train':>7} {'score':>7} {'merge':>7}"
        f" {'ray':>6} {'total':>7} {'vs one machine':>15}"
    )
    record["projection"] = []
    for row in record["runs"]:
        w = row["shards"]
        ray_cost = 0.0
        if overhead:
            serial, waves = (4, 3) if models else (3, 1)
            ray_cost = serial * overhead["per_serial_task_seconds"] + waves * overhead["per_shard_task_seconds"]
        shard = max(r["seconds"] for r in row["shard_runs"])
        draw = max((r["seconds"] for r in row["shard_draws"]), default=0.0)
        score = max((r["seconds"] for r in row["shard_scores"]), default=0.0)
        train = row["train"]["seconds"]
        validate = row["validate"]["seconds"]
        total = validate + row["split"]["seconds"] + shard + draw + train + score + row["merge"]["seconds"] + ray_cost
        speedup = single["seconds"] / total
        record["projection"].append({"workers": w, "seconds": round(total, 1), "speedup": round(speedup, 2)})
        print(
            f"{w:>4} {validate:>8.1f}s {row['split']['seconds']:>6.1f}s {shard:>6.1f}s {draw:>6.1f}s {train:>6.1f}s"
            f" {score:>6.1f}s {row['merge']['seconds']:>6.1f}s {ray_cost:>5.2f}s {total:>6.1f}s {speedup:>14.2f}x"
        )
    (work / "projection.json").write_text(json.dumps(record, indent=2))
    print(f"\nwritten to {work / 'projection.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
