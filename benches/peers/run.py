"""ardent against strong peers on the same data and equal work, in one run (issues 6 and 22).

Usage (from the repository root; `.ci/run` has created the venv):
    ~/.cache/ardent/venv/bin/python benches/peers/run.py [--preset m] [--seed 42] [--skip-models]

1. Generates the data set once (Parquet) under ~/.cache/ardent/bench-data/<preset>-parquet-seed<seed>.
2. Runs `ardent run` on it end to end (ingest, cash application, analytics, models, publish) with
   plain Parquet tables, which are the inputs of step 3.
3. Equal work: `ardent analytics OUT --to DIR --tables aging,kpi_monthly,cohorts` reads the
   validated tables and the applications from Parquet and writes the three tables, and so do
   the peers, written for speed: duckdb_peer.py (DuckDB SQL, 2 threads) and polars_peer.py.
   Before any time is reported, ardent's rebuilt tables must equal its published ones row for
   row, and each peer's must equal ardent's (agree.py: money to the cent, days to 0.01).
4. Fits ardent's learners and scikit-learn (newton-cholesky) / LightGBM on the same matrix (models.py).
5. Prints wall time (each program a process of its own, reading and writing included) and peak
   memory of each, and ardent's ratio to the fastest peer. `--repeat N` times each N times and
   reports the median.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CACHE = os.path.expanduser("~/.cache/ardent")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(CACHE, "target"))


def run_alone(cmd):
    """Run `cmd` in a fresh Python child so that RUSAGE_CHILDREN holds only its peak."""
    probe = (
        "import resource, subprocess, sys, json, time;"
        "t = time.perf_counter();"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        "w = time.perf_counter() - t;"
        "print(json.dumps({'code': p.returncode, 'out': p.stdout, 'err': p.stderr, 'wall': w,"
        " 'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))"
    )
    p = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=True)
    r = json.loads(p.stdout)
    if r["code"] != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r['code']}):\n{r['err'][-5000:]}")
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="m")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2, help="threads for DuckDB (ardent uses every core)")
    ap.add_argument("--skip-models", action="store_true", help="leave out the model comparison")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each equal-work program (median reported)")
    args = ap.parse_args()

    print("building ardent (release)...", flush=True)
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "ardent"], cwd=ROOT, check=True,
                   env={**os.environ, "CARGO_TARGET_DIR": TARGET})
    ardent = os.path.join(TARGET, "release", "ardent")
    data = os.path.join(CACHE, "bench-data", f"{args.preset}-parquet-seed{args.seed}")
    if not os.path.exists(os.path.join(data, "pipeline.toml")):
        print(f"generating {data}...", flush=True)
        subprocess.run([ardent, "generate", "--preset", args.preset, "--seed", str(args.seed), "--format", "parquet",
                        "--out", data], check=True)
    work = os.path.join(CACHE, "peers", f"{args.preset}-seed{args.seed}")
    out = os.path.join(work, "ardent-out")
    subprocess.run(["rm", "-rf", work], check=True)
    os.makedirs(work)

    print("ardent run...", flush=True)
    a = run_alone([ardent, "--log-format", "json", "run", "--config", os.path.join(data, "pipeline.toml"), "--out", out,
                   "--set", "run.table_format=parquet"])
    events = [json.loads(line) for line in (a["err"] + a["out"]).splitlines() if line.startswith("{")]
    analytics_ms = next(e for e in events if e.get("event") == "run_summary")["timings_ms"]["analytics"]
    laps = next(e for e in events if e.get("event") == "analytics_timings")["timings_ms"]
    ardent_analytics = analytics_ms / 1000
    in_scope = (laps["aging"] + laps["kpi_cohorts_roll_rates"]) / 1000

    equal = ["aging", "kpi_monthly", "cohorts"]
    timed = {}
    rebuilt = os.path.join(work, "ardent-analytics")
    programs = [
        ("ardent analytics", lambda: [ardent, "analytics", out, "--to", rebuilt, "--tables", ",".join(equal)], rebuilt),
        ("DuckDB SQL", lambda: [sys.executable, os.path.join(HERE, "duckdb_peer.py"), out, os.path.join(work, "duckdb"),
                                str(args.threads)], os.path.join(work, "duckdb")),
        ("polars", lambda: [sys.executable, os.path.join(HERE, "polars_peer.py"), out, os.path.join(work, "polars")],
         os.path.join(work, "polars")),
    ]
    for name, cmd, result in programs:
        walls, peak = [], 0
        for _ in range(args.repeat):
            subprocess.run(["rm", "-rf", result], check=True)
            print(f"{name}...", flush=True)
            r = run_alone(cmd())
            walls.append(r["wall"])
            peak = max(peak, r["peak_mb"])
        if name.startswith("ardent"):
            same = subprocess.run([sys.executable, os.path.join(HERE, "agree.py"), "--identical", out, result],
                                  capture_output=True, text=True)
        else:
            same = subprocess.run([sys.executable, os.path.join(HERE, "agree.py"), out, result], capture_output=True, text=True)
        print(same.stdout, end="")
        if same.returncode != 0:
            sys.exit(f"{name} does not agree with ardent's published tables, so its time means nothing:\n{same.stdout}{same.stderr}")
        timed[name] = (statistics.median(walls), min(walls), max(walls), peak)

    logistic = None
    if not args.skip_models:
        matrix = os.path.join(work, "matrix")
        print("exporting the feature matrix and fitting the logistic regressions...", flush=True)
        subprocess.run(["cargo", "run", "-q", "--release", "-p", "ardent-bench", "--example", "models", "--", data,
                        "--export", matrix], cwd=ROOT, check=True, capture_output=True,
                       env={**os.environ, "CARGO_TARGET_DIR": TARGET})
        m = subprocess.run([sys.executable, os.path.join(HERE, "models.py"), matrix, "--json"], cwd=ROOT, check=True,
                           capture_output=True, text=True, env={**os.environ, "CARGO_TARGET_DIR": TARGET})
        logistic = json.loads(m.stdout.strip().splitlines()[-1])

    cpu = platform.processor() or platform.machine()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print()
    print(f"machine: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB; data: {args.preset} preset, seed {args.seed}; "
          f"median of {args.repeat}")
    print(f"{'what':<92} {'wall_s':>7} {'min':>6} {'max':>6} {'peak_MB':>8}")
    print(f"{'ardent run, end to end (ingest, cash application, analytics, models, publish)':<92} {a['wall']:>7.2f} "
          f"{'':>6} {'':>6} {a['peak_mb']:>8.0f}")
    print(f"{'  its analytics stage (cash application + every dashboard table, written)':<92} {ardent_analytics:>7.2f}")
    print(f"{'  of which aging, kpi_monthly, cohorts and roll rates':<92} {in_scope:>7.2f}")
    for name, (med, lo, hi, peak) in timed.items():
        what = f"{name}: read Parquet inputs, build aging, kpi_monthly, cohorts, write Parquet"
        print(f"{what:<92} {med:>7.2f} {lo:>6.2f} {hi:>6.2f} {peak:>8.0f}")
    print()
    fastest = min((v[0], k) for k, v in timed.items() if not k.startswith("ardent"))
    ours = timed["ardent analytics"][0]
    print(f"equal work: ardent / fastest peer ({fastest[1]}) = {ours / fastest[0]:.2f} (aim <= 0.5)")
    for name, (med, *_rest) in timed.items():
        if not name.startswith("ardent"):
            print(f"  ardent / {name} = {ours / med:.2f}")
    print(f"ardent run end to end: {a['wall']:.1f} s (aim: under 15 s)")
    if logistic:
        print(f"logistic on {logistic['rows']} rows x {logistic['design_columns']} columns: ardent {logistic['ardent_fit_s']:.2f} s "
              f"(AUC {logistic['ardent_auc']:.4f}), scikit-learn newton-cholesky {logistic['sklearn_fit_s']:.2f} s "
              f"(AUC {logistic['sklearn_auc']:.4f}); ratio {logistic['ardent_fit_s'] / logistic['sklearn_fit_s']:.2f} "
              f"(lbfgs tol=1e-8, the old peer: {logistic['sklearn_lbfgs_fit_s']:.2f} s)")
        print(f"gbdt: ardent {logistic['gbdt_fit_s']:.2f} s (AUC {logistic['gbdt_auc']:.4f}), LightGBM "
              f"{logistic['lightgbm_fit_s']:.2f} s (AUC {logistic['lightgbm_auc']:.4f}); ratio "
              f"{logistic['gbdt_fit_s'] / logistic['lightgbm_fit_s']:.2f} (aim <= 1.0)")


if __name__ == "__main__":
    main()
