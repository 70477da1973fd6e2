"""ardent against DuckDB and pandas/scikit-learn on the same data, in one run (issue 6).

Usage (from the repository root; `.ci/run` has created the venv):
    ~/.cache/ardent/venv/bin/python benches/peers/run.py [--preset m] [--seed 42] [--skip-models]

1. Generates the data set once (Parquet) under ~/.cache/ardent/bench-data/<preset>-parquet-seed<seed>.
2. Runs `ardent run` on it end to end (ingest, cash application, analytics, models, publish),
   and reads its analytics stage time from its JSON log.
3. Runs the peers on ardent's validated tables and its `applications` table (cash application
   is out of their scope): duckdb_peer.py (DuckDB SQL, 2 threads) and pandas_peer.py.
4. Checks that each peer's aging, kpi_monthly and cohorts equal ardent's (agree.py: money to
   the cent, days to 0.01) and stops if they do not: the comparison is of equal work.
5. Fits the logistic regression of ardent and of scikit-learn on the same matrix (models.py).
6. Prints wall time and peak memory of each, and ardent's ratio to each.

Every program runs as its own process, so its peak RSS is its own (os.wait4).
"""

import argparse
import json
import os
import platform
import re
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
        "print(json.dumps({'code': p.returncode, 'out': p.stdout, 'err': p.stderr[-5000:], 'wall': w,"
        " 'peak_mb': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))"
    )
    p = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=True)
    r = json.loads(p.stdout)
    if r["code"] != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r['code']}):\n{r['err']}")
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="m")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2, help="threads for DuckDB (ardent uses every core)")
    ap.add_argument("--skip-models", action="store_true", help="leave out the logistic comparison")
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
    a = run_alone([ardent, "--log-format", "json", "run", "--config", os.path.join(data, "pipeline.toml"), "--out", out])
    log = a["err"] + a["out"]
    analytics_ms = int(re.findall(r"analytics: \d+ as-of dates, \d+ kpi rows in (\d+) ms", log)[-1])
    laps = dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+) ms", re.findall(r"applications \d+ ms[^\"]*", log)[-1]))
    rows = [("ardent run, end to end (ingest, cash application, analytics, models, publish)", a["wall"], a["peak_mb"])]
    ardent_analytics = analytics_ms / 1000
    in_scope = (laps["aging"] + laps["kpi_cohorts_roll_rates"]) / 1000

    peers = {}
    for name, script, extra in [("DuckDB SQL", "duckdb_peer.py", [str(args.threads)]),
                                ("pandas", "pandas_peer.py", [])]:
        print(f"{name}...", flush=True)
        result = os.path.join(work, script.split("_")[0])
        r = run_alone([sys.executable, os.path.join(HERE, script), out, result, *extra])
        check = subprocess.run([sys.executable, os.path.join(HERE, "agree.py"), out, result], capture_output=True, text=True)
        print(check.stdout, end="")
        if check.returncode != 0:
            sys.exit(f"{name} does not agree with ardent, so its time means nothing:\n{check.stdout}{check.stderr}")
        peers[name] = (r["wall"], r["peak_mb"], json.loads(r["out"].strip().splitlines()[-1])["seconds"])

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
    print(f"machine: {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB; data: {args.preset} preset, seed {args.seed}")
    print(f"{'what':<84} {'wall_s':>7} {'peak_MB':>8}")
    for what, wall, peak in rows:
        print(f"{what:<84} {wall:>7.2f} {peak:>8.0f}")
    print(f"{'ardent analytics stage (cash application + every dashboard table, written)':<84} {ardent_analytics:>7.2f} {'':>8}")
    print(f"{'  of which aging, kpi_monthly, cohorts and roll rates':<84} {in_scope:>7.2f} {'':>8}")
    for name, (wall, peak, inner) in peers.items():
        print(f"{name + ': aging, kpi_monthly, cohorts (process wall)':<84} {wall:>7.2f} {peak:>8.0f}")
    print()
    for name, (wall, _, inner) in peers.items():
        print(f"ardent analytics / {name}: {ardent_analytics / inner:.2f} (aim: {'<= 1.0' if 'Duck' in name else '<= 0.2'}; "
              f"{name} query time {inner:.2f} s)")
    print(f"ardent run end to end: {a['wall']:.1f} s (aim: under 20 s)")
    if logistic:
        print(f"logistic on {logistic['rows']} rows x {logistic['design_columns']} columns: ardent {logistic['ardent_fit_s']:.2f} s "
              f"(AUC {logistic['ardent_auc']:.4f}), scikit-learn {logistic['sklearn_fit_s']:.2f} s (AUC {logistic['sklearn_auc']:.4f}); "
              f"ratio {logistic['ardent_fit_s'] / logistic['sklearn_fit_s']:.2f} (aim <= 1.0 at an AUC within 0.002)")


if __name__ == "__main__":
    main()
