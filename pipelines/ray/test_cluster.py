"""A sharded run on a real Ray cluster publishes what `ardent run` publishes.

    python test_cluster.py --ardent target/release/ardent

Starts a Ray cluster on 127.0.0.1 (a head and two worker nodes, one CPU each, each a `ray start
--block` process), then for the bundled sample and a generated `s` ledger:

- runs `ardent run` on one machine, models included;
- runs the sharded pipeline through `ardent_ray.py` with 1, 3 and 4 shards and checks that
  every published table, every model file and the manifest's account of the models are
  identical to the single-machine run's, and that the shards ran on more than one node;
- once with an `ardent` that fails its first shard task with an I/O error (exit code 6): Ray
  retries the task and the tables are still identical;
- once with a shard folder left half-written by a dead attempt: the step starts it afresh.

Stops the nodes by their process ids. Exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import compare  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A head and `workers` worker nodes on 127.0.0.1, stopped by process id."""

    def __init__(self, ray_bin: Path, temp: Path, workers: int):
        self.procs: list[subprocess.Popen] = []
        self.commands: list[tuple[list[str], Path]] = []
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
        common = ["--num-cpus=1", "--object-store-memory=100000000", "--node-ip-address=127.0.0.1", "--block"]
        logs = temp / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        head = [str(ray_bin), "start", "--head", f"--port={self.port}", "--include-dashboard=false", f"--temp-dir={temp / 'ray'}"]
        self._start(head + common, logs / "head.log")
        for w in range(workers):
            self._start([str(ray_bin), "start", f"--address={self.address}"] + common, logs / f"worker-{w}.log")

    def _start(self, command: list[str], log: Path, at: int | None = None) -> None:
        out = open(log, "a")
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        if at is None:
            self.procs.append(proc)
            self.commands.append((command, log))
        else:
            self.procs[at] = proc
        time.sleep(3)

    def wait(self, nodes: int, timeout: float = 180) -> None:
        """Wait for `nodes` live nodes; a worker node that gave up starting (a slow, loaded
        machine) is started again, twice at most."""
        import ray

        restarts = 0
        deadline = time.time() + timeout
        while time.time() < deadline:
            alive = [n for n in ray.nodes() if n.get("Alive")]
            if len(alive) >= nodes:
                return
            for i, p in enumerate(self.procs[1:], start=1):
                if p.poll() is not None and restarts < 2:
                    restarts += 1
                    command, log = self.commands[i]
                    print(f"worker node {i} stopped starting (exit {p.returncode}); starting it again", flush=True)
                    self._start(command, log, at=i)
            time.sleep(1)
        raise RuntimeError(f"the cluster did not reach {nodes} nodes in {timeout} s")

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def identical(a: Path, b: Path) -> list[str]:
    """The tables that differ between two published outputs (empty when every one is identical)."""
    import json

    ma = json.loads((a / "_manifest.json").read_text())
    mb = json.loads((b / "_manifest.json").read_text())
    ta = {o["table"]: o for o in ma["outputs"]}
    tb = {o["table"]: o for o in mb["outputs"]}
    if list(ta) != list(tb):
        return [f"table lists differ: {list(ta)} against {list(tb)}"]
    bad = []
    for name in ta:
        x = compare.read_table(a, ma, ta[name])
        y = compare.read_table(b, mb, tb[name])
        if x.schema != y.schema or not x.equals(y, null_equal=True):
            bad.append(f"{name} ({x.height} against {y.height} rows)")
    if ma.get("models") != mb.get("models"):
        bad.append("the manifests' models differ")
    for c in (ma.get("models") or {}).get("candidates", []):
        da, db = a / ma["data_prefix"] / c["path"], b / mb["data_prefix"] / c["path"]
        files = sorted(p.name for p in da.iterdir())
        if files != sorted(p.name for p in db.iterdir()):
            bad.append(f"{c['path']}: other files")
        bad += [f"{c['path']}{f} differs" for f in files if (da / f).read_bytes() != (db / f).read_bytes()]
    return bad


def flaky_ardent(real: Path, temp: Path) -> Path:
    """An `ardent` that fails its first `shard run` with exit code 6 (an I/O error)."""
    marker = temp / "failed-once"
    script = temp / "flaky-ardent"
    script.write_text(
        "#!/bin/sh\n"
        'case " $* " in *" shard run "*)\n'
        f'  if [ ! -e "{marker}" ]; then touch "{marker}"; echo "disk went away" >&2; exit 6; fi ;;\n'
        "esac\n"
        f'exec "{real}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ardent", required=True, type=Path)
    args = parser.parse_args()
    ardent = args.ardent.resolve()
    ray_bin = Path(sys.executable).parent / "ray"
    temp = Path(tempfile.mkdtemp(prefix="ardent-ray-", dir="/tmp"))
    failures: list[str] = []
    cluster = Cluster(ray_bin, temp, workers=2)
    try:
        import ray

        import ardent_ray

        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait(3)
        print(f"cluster: {len(ray.nodes())} nodes at {cluster.address}")
        s_data = temp / "s-data"
        subprocess.run([ardent, "-q", "generate", "--preset", "s", "--out", s_data], check=True)
        datasets = {"sample": None, "s": str(s_data / "pipeline.toml")}
        sets = ["run.table_format=parquet"]
        for name, config in datasets.items():
            single = temp / f"{name}-single"
            command = [ardent, "-q", "run", "--out", single]
            command += ["--config", config] if config else []
            for s in sets:
                command += ["--set", s]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            for shards in (1, 3, 4):
                out, work = temp / f"{name}-{shards}", temp / f"{name}-{shards}-work"
                t = time.time()
                record = ardent_ray.run(config, str(work), str(out), shards, str(ardent), sets)
                nodes = {s["node"] for s in record["steps"] if s["step"] == "shard run"}
                bad = identical(single, out)
                print(
                    f"{name:<7} {shards} shard(s): {len(bad) == 0 and 'identical' or 'DIFFERENT'}"
                    f" in {time.time() - t:.1f} s, shards on {len(nodes)} node(s)"
                )
                failures += [f"{name}, {shards} shards: {b}" for b in bad]
                if shards >= 3 and len(nodes) < 2:
                    failures.append(f"{name}, {shards} shards: every shard ran on one node")
        # A task that fails with a retryable error is retried by Ray; the run is unchanged.
        out, work = temp / "sample-retried", temp / "sample-retried-work"
        ardent_ray.run(None, str(work), str(out), 3, str(flaky_ardent(ardent, temp)), sets)
        bad = identical(temp / "sample-single", out)
        print(f"sample  3 shards, first shard task failed and retried: {'identical' if not bad else 'DIFFERENT'}")
        failures += [f"retried run: {b}" for b in bad]
        if not (temp / "failed-once").exists():
            failures.append("the flaky ardent never failed: the retry was not exercised")
        # A half-written shard folder (an attempt that died) is started afresh.
        split = next(work.glob("split-*"))
        shard = split / "shard-0001" / "out"
        (shard / "_complete.json").unlink()
        (shard / "applications.parquet").write_bytes(b"half a file")
        common = ["--work", str(work), "--shards", "3"] + [x for s in sets for x in ("--set", s)]
        subprocess.run([ardent, "-q", "shard", "run", "--shard", "1", *common], check=True)
        again = temp / "sample-redone"
        subprocess.run([ardent, "-q", "shard", "merge", "--out", str(again), *common], check=True)
        bad = identical(temp / "sample-single", again)
        print(f"sample  3 shards, a half-written shard folder redone: {'identical' if not bad else 'DIFFERENT'}")
        failures += [f"redone shard: {b}" for b in bad]
        ray.shutdown()
    finally:
        cluster.stop()
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        print(f"(work left in {temp})")
        return 1
    shutil.rmtree(temp, ignore_errors=True)
    print("sharded runs on the Ray cluster publish the single-machine tables")
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # Ray's client ends its process a minute after the cluster it talked to stops: leave first.
    os._exit(code)
