"""Run ardent split by customer on a Ray cluster.

    python ardent_ray.py --config pipeline.toml --work /shared/ardent-work --out /shared/ardent-out \
        --shards 16 [--address ray://head:10001 | auto] [--ardent /opt/ardent/bin/ardent] [--set KEY=VALUE ...]

Each step is a Ray task that runs the `ardent` binary on whichever node Ray picks:

1. `ardent shard validate`   one task: ingest and validate every input once (ids are unique
                             across the whole export), published to WORK/validated, the rows
                             cut into N shards by a stable hash of the customer id on the way;
2. `ardent shard split`      one task: finds the shards cut (or cuts them from WORK/validated);
3. `ardent shard run`        N tasks, side by side: cash application, per-customer tables and
                             the dashboards' exact partial sums of one shard, and the count of
                             its feature panels' labelled rows per month end;
4. `ardent shard draw`       N tasks: the shard's rows the models' split keeps (the split
                             decided on every shard's counts, as one machine decides it);
5. `ardent shard train`      one task: the models trained on every shard's rows;
6. `ardent shard score`      N tasks: the shard's customers and open invoices scored;
7. `ardent shard merge`      one task: sums added, rows put in order, the run published to
                             --out atomically (the output's write lock is held meanwhile).

With the models off (`--set models.enabled=false`), steps 4 to 6 return at once.

Every node needs the `ardent` binary (the same version) and the work folder at the same path
(a shared file system); --out may be a folder every node sees or an object-store URL. A task
whose step folder is already complete returns at once, and one that died half-way is redone
from a clean folder, so Ray may retry any task (a lost node, a pre-empted worker): the publish
in step 7 is the only step readers see. Failures that a retry cannot mend (a config error, bad
data: exit codes 2 to 5, 7) stop the run with ardent's own message.

Prints one JSON object with each step's wall time, node and ardent's own timings, and exits
with the failed step's exit code when a step fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import ray

# ardent's exit codes that a retry may mend: internal error (1), I/O (6), the output's write
# lock held by another run (8); and deaths by a signal (negative).
RETRYABLE = {1, 6, 8}


class StepFailed(Exception):
    """A step that failed for a reason a retry cannot mend: `StepFailed(message, exit_code)`."""

    @property
    def code(self) -> int:
        return self.args[1] if len(self.args) > 1 else 1

    def __str__(self) -> str:
        return str(self.args[0])


class StepInterrupted(Exception):
    """A step that may succeed when tried again."""


def _events(stderr: str) -> list[dict]:
    out = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


@ray.remote(max_retries=3, retry_exceptions=[StepInterrupted])
def step(ardent: str, args: list[str], threads: int | None) -> dict:
    """Run `ardent <args>` with JSON diagnostics; return its timing and summary events."""
    started = time.time()
    command = [ardent, "--log-format", "json"]
    if threads:
        command += ["--threads", str(threads)]
    try:
        proc = subprocess.run(command + args, capture_output=True, text=True)
    except FileNotFoundError:
        node = ray.get_runtime_context().get_node_id()
        raise StepFailed(f"no ardent binary `{ardent}` on node {node}: install it on every node, or pass --ardent PATH", 2)
    events = _events(proc.stderr)
    name = " ".join(args[:2])
    if proc.returncode != 0:
        errors = [e.get("message", "") for e in events if e.get("level") == "error"]
        message = errors[-1] if errors else proc.stderr.strip()[-2000:]
        if proc.returncode < 0 or proc.returncode in RETRYABLE:
            raise StepInterrupted(f"ardent {name} stopped (exit code {proc.returncode}): {message}")
        raise StepFailed(f"ardent {name} failed with exit code {proc.returncode}: {message}", proc.returncode)
    keep = {"split_done", "shard_done", "shard_drawn", "trained", "shard_scored", "run_summary"}
    return {
        "step": name,
        "args": args[2:],
        "seconds": round(time.time() - started, 3),
        "node": ray.get_runtime_context().get_node_id(),
        "events": [e for e in events if e.get("event") in keep],
    }


def run(
    config: str | None,
    work: str,
    out: str,
    shards: int,
    ardent: str = "ardent",
    sets: list[str] | None = None,
    threads: int | None = None,
    cpus_per_shard: float = 1,
) -> dict:
    """Run the seven steps on the Ray cluster this process is connected to; returns the record."""
    if __name__ != "__main__":
        # Imported (by a scheduler's code, a test): ship this module's code with the tasks, so
        # the workers need not have it on their path.
        ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    common = ["--work", work]
    if config:
        common += ["--config", config]
    for s in sets or []:
        common += ["--set", s]
    n = ["--shards", str(shards)]
    record: dict = {"shards": shards, "steps": []}
    started = time.time()

    def one(args: list[str], cpus: float = 1) -> dict:
        t = time.time()
        result = ray.get(step.options(num_cpus=cpus).remote(ardent, args, threads))
        # What Ray adds to the process's own time: scheduling, starting a worker, results.
        result["round_trip_seconds"] = round(time.time() - t, 3)
        record["steps"].append(result)
        return result

    one(["shard", "validate", *n, *common])
    # Validation cut the shards on the way; the split step finds them complete (and cuts
    # them from the validated tables only if they are not).
    one(["shard", "split", *n, *common])
    def each(what: str) -> None:
        t = time.time()
        tasks = [
            step.options(num_cpus=cpus_per_shard, scheduling_strategy="SPREAD").remote(
                ardent, ["shard", what, *n, "--shard", str(i), *common], threads
            )
            for i in range(shards)
        ]
        record["steps"].extend(ray.get(tasks))
        record[f"shards_{what}_wall_seconds"] = round(time.time() - t, 3)

    each("run")
    each("draw")
    one(["shard", "train", *n, *common], cpus=cpus_per_shard)
    each("score")
    one(["shard", "merge", *n, "--out", out, *common])
    record["total_seconds"] = round(time.time() - started, 3)
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description="Run ardent split by customer on a Ray cluster.")
    parser.add_argument("--config", help="pipeline config (default: ardent's bundled sample)")
    parser.add_argument("--work", required=True, help="work folder on a file system every node shares")
    parser.add_argument("--out", required=True, help="output location (a shared folder or an object-store URL)")
    parser.add_argument("--shards", type=int, required=True)
    parser.add_argument("--address", default=os.environ.get("RAY_ADDRESS", "auto"), help="Ray cluster address")
    parser.add_argument("--ardent", default="ardent", help="path of the ardent binary on every node")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--threads", type=int, help="worker threads per ardent process")
    parser.add_argument("--cpus-per-shard", type=float, default=1, help="CPUs Ray reserves per shard task")
    args = parser.parse_args()
    if args.shards < 1:
        parser.error("--shards must be at least 1")
    ray.init(address=args.address, log_to_driver=False)
    try:
        record = run(
            args.config,
            os.path.abspath(args.work),
            args.out if "://" in args.out else os.path.abspath(args.out),
            args.shards,
            args.ardent,
            args.sets,
            args.threads,
            args.cpus_per_shard,
        )
    except StepFailed as e:
        print(str(e), file=sys.stderr)
        return e.code
    except ray.exceptions.RayTaskError as e:
        cause = e.as_instanceof_cause()
        print(str(cause), file=sys.stderr)
        return getattr(cause, "code", 1)
    print(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
