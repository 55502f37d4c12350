"""Sweep throughput: N smoke runs of one notebook, one after another against the sweep's
engines, in one run, as ratios to the sequential time.

    python benchmarks/bench_sweep.py                      # notebook 04, 4 runs, 2 at a time
    python benchmarks/bench_sweep.py --notebook 03 --runs 6 --jobs 3

Five ways, the same N runs each (seeds 0 to N - 1, the smoke parameters):

* sequential: one run at a time, TensorFlow's own threads (every core);
* local: the local engine (`--jobs` runs at once), with the threads setting
  (`TF_NUM_INTRAOP_THREADS` / `TF_NUM_INTEROP_THREADS` = cores / jobs) and without it;
* dask: a Dask LocalCluster of `--jobs` worker processes, with and without it.

It prints a markdown table (seconds, runs per minute, speed-up over sequential) for
benchmarks/README.md. Run it on a quiet machine: other work on the cores skews every row.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.notebooks import parameters_for  # noqa: E402
from tools.sweep.engines import DaskEngine, LocalEngine  # noqa: E402
from tools.sweep.plan import find_notebook  # noqa: E402
from tools.sweep.run import execute_run  # noqa: E402


class Sequential:
    def describe(self) -> str:
        return "one at a time"

    def run(self, tasks, done) -> None:
        for name, notebook, parameters in tasks:
            done(name, execute_run(notebook, parameters))


def _time(engine, notebook: bytes, base: dict, runs: int) -> tuple[float, int, list[str]]:
    """Seconds for the runs, how many ended ok, and a line per run that did not."""
    tasks = [(f"seed={k}", notebook, base | {"SEED": k}) for k in range(runs)]
    outcomes = []
    start = time.perf_counter()
    engine.run(tasks, lambda name, outcome: outcomes.append((name, outcome)))
    seconds = time.perf_counter() - start
    failures = [
        f"{name}: {outcome['status']}, {outcome.get('error_name')}: {outcome.get('error_value')}"
        for name, outcome in outcomes
        if outcome["status"] != "ok"
    ]
    return seconds, len(outcomes) - len(failures), failures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notebook", default="04", help="which notebook (its smoke set)")
    parser.add_argument("--runs", type=int, default=4, help="runs per way")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once (and Dask workers)")
    args = parser.parse_args(argv)
    path = find_notebook(args.notebook)
    notebook, base = path.read_bytes(), parameters_for(path, smoke=True)
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    ways = [
        ("sequential", Sequential()),
        (f"local, {args.jobs} at once, {threads} thread(s)", LocalEngine(args.jobs, threads, None)),
        (f"local, {args.jobs} at once, TF's threads", LocalEngine(args.jobs, None, None)),
        (
            f"dask, {args.jobs} workers, {threads} thread(s)",
            DaskEngine(None, args.jobs, threads, None),
        ),
        (f"dask, {args.jobs} workers, TF's threads", DaskEngine(None, args.jobs, None, None)),
    ]
    print(f"{path.name}, {args.runs} smoke runs per way, {os.cpu_count()} cores\n")
    print("| way | seconds | runs ok | runs / minute | speed-up |")
    print("|---|---:|---:|---:|---:|")
    sequential = None
    failed = []
    for label, engine in ways:
        seconds, ok, failures = _time(engine, notebook, base, args.runs)
        sequential = sequential or seconds
        rate = 60 * args.runs / seconds
        print(f"| {label} | {seconds:.1f} | {ok} | {rate:.2f} | {sequential / seconds:.2f}x |")
        failed += [f"{label}, {line}" for line in failures]
    if failed:  # a failed run ends early and flatters its row: the table does not hold
        print("\nruns that did not end ok (the table does not compare like with like):")
        print("\n".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
