"""Sweeps: one notebook run over a grid of parameter values times seeds, one table of results.

python -m tools sweep 04 -g NUM_SAMPLES 1000 4000 --seeds 0:3 --smoke
python -m tools sweep 02 -g HIDDEN_SIZES "[8, 8]" "[16, 16]" -g TRACE exact hutchinson \\
    --seeds 0:5 --workers 2                     # a Dask LocalCluster of 2 worker processes
python -m tools sweep 02 -g EPOCHS 50 100 --scheduler tcp://HOST:8786   # a Dask cluster

`-g NAME V1 V2 ...` is one axis of the grid (each value read as YAML, as `-p` reads it); the
runs are every combination of the axes (Hydra's `NAME=a,b,c` product) times every seed of
`--seeds` (`0:5` is 0 to 4, `1,7,9` those three), which goes into the notebook's `SEED`.
Each run is one papermill run into `build/sweeps/<sweep>/runs/<NAME=value,...,seed=N>/`. Before
anything runs, every run's parameters pass the notebook's own check cell
(`support.check_parameters`), evaluated here on its rules without running the notebook.

What a run ends with is written at once (`result.json` last, atomically); running the same
sweep again skips the runs that succeeded with the same notebook, parameters, seed and
package versions, and repeats the others. The tables (`tools.sweep.results`): `results.csv`
(a row per run) and `aggregate.csv` (per grid point, mean and standard error across seeds).
One sweep at a time runs in a folder: a second one stops at once, naming the first (`sweep.lock`,
`support.training.storage.lock`, which the operating system releases when its sweep ends, however
it ends).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools.notebooks import BUILD_DIR, ROOT
from tools.sweep import results as sweep_results
from tools.sweep.plan import LIMIT, Plan, SweepError, find_notebook, make_plan, parse_seeds

__all__ = ["LOCK", "build_parser", "lock_folder", "main", "run_sweep"]

LOCK = "sweep.lock"
"""The lock file in a sweep's folder: the sweep that holds it (pid, host, since when)."""


def _git_commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    return commit + (
        "+dirty" if commit and git("status", "--porcelain", "--untracked-files=no") else ""
    )


def lock_folder(folder: Path):
    """Takes the sweep folder's lock (`sweep.lock`); returns the open lock file (close it to
    release it).

    Raises:
      SweepError: if another sweep holds it, naming that sweep's pid, host and start time.
    """
    from support.training.storage import lock

    folder.mkdir(parents=True, exist_ok=True)
    try:
        return lock(
            str(folder),
            name=LOCK,
            what="sweep folder",
            clash="two sweeps must not run the same runs into one folder",
            advice="Wait for that sweep to end or stop it, or give this one another --name "
            "or --out.",
        )
    except RuntimeError as error:
        raise SweepError(str(error)) from None


def run_sweep(plan: Plan, engine, echo=None) -> list[dict[str, Any]]:
    """Runs what is not finished yet, saving each run as it ends; returns every record.

    Raises:
      SweepError: before anything runs, if another sweep is running in the same folder.
    """
    held = lock_folder(plan.folder)
    try:
        return _run_sweep(plan, engine, echo or (lambda text: print(text, flush=True)))
    finally:
        held.close()


def _run_sweep(plan: Plan, engine, echo) -> list[dict[str, Any]]:
    from tools.sweep.results import finished, plot_headlines, read_record, write_record

    runs_dir = plan.folder / "runs"
    swept = list(plan.grid)
    by_name = {run.name: run for run in plan.runs}
    info = {
        "notebook": plan.notebook.name,
        "grid": plan.grid,
        "seeds": plan.seeds,
        "fixed": plan.fixed,
        "swept": swept,
        "runs": list(by_name),
    }
    sweep_results.write_atomic(plan.folder / "sweep.json", json.dumps(info, indent=1).encode())
    todo = [run for run in plan.runs if not finished(runs_dir / run.name, run.key)]
    echo(
        f"sweep {plan.folder}: {len(plan.runs)} runs, {len(plan.runs) - len(todo)} finished "
        f"already, {len(todo)} to run {engine.describe()}"
    )
    notebook, commit = plan.notebook.read_bytes(), _git_commit()

    def records() -> list[dict[str, Any]]:
        found = (read_record(runs_dir / name) for name in by_name)
        return [record for record in found if record is not None]

    def done(name: str, outcome: dict[str, Any]) -> None:
        if outcome.get("status") == "terminated" and not outcome.get("notebook"):
            return  # stopped before it began: nothing to keep
        run = by_name[name]
        record = outcome | {"run": name, "key": run.key, "point": run.point, "seed": run.seed}
        record |= {"parameters": run.parameters, "git_commit": commit}
        record = write_record(runs_dir / name, plan.notebook.name, record)
        error = f": {record.get('error_name')}: {record.get('error_value')}"
        echo(f"  {name}: {record['status']}" + ("" if record["status"] == "ok" else error))
        sweep_results.write_tables(plan.folder, swept, records())

    if todo:
        engine.run(((run.name, notebook, run.parameters) for run in todo), done)
    final = records()
    sweep_results.write_tables(plan.folder, swept, final)
    plot_headlines(plan.folder, swept, final)
    return final


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools sweep",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("notebook", help="a notebook of the suite (01, ffjord, ...) or a .ipynb file")
    add(
        "-g",
        "--grid",
        nargs="+",
        action="append",
        default=[],
        metavar="NAME VALUE",
        help="one axis of the grid: a parameter and its values (YAML)",
    )
    add(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="a parameter fixed for every run (YAML)",
    )
    add("--seeds", help="A:B (A to B - 1) or a,b,c; default: the notebook's own SEED")
    add("--smoke", action="store_true", help="start from the notebook's smoke parameters")
    add("--name", help="the sweep's folder name (default: the notebook and the swept names)")
    add("--out", type=Path, default=BUILD_DIR / "sweeps", help="where sweeps' folders go")
    add("--limit", type=int, default=LIMIT, help=f"most runs without --yes ({LIMIT})")
    add("--yes", action="store_true", help="run a grid larger than --limit")
    add("--jobs", type=int, help="runs at once here (default: half the cores, at least 2)")
    add(
        "--threads",
        type=int,
        help="TensorFlow threads per run (default: cores / runs at once; 0: TensorFlow's own "
        "default)",
    )
    add("--timeout", type=float, default=3600.0, help="seconds before a run is stopped")
    add("--scheduler", help="run on this Dask scheduler, e.g. tcp://HOST:8786")
    add("--workers", type=int, help="run on a Dask LocalCluster of this many processes")
    add("--dry-run", action="store_true", help="check and list the runs, run nothing")
    add("--site", action="store_true", help="then build the sweep's site page (tools.site)")
    return parser


def _engine(args):
    from tools.sweep.engines import DaskEngine, LocalEngine

    cores = os.cpu_count() or 1
    threads = None if args.threads == 0 else args.threads
    if args.scheduler or args.workers:
        if threads is None and args.threads is None and args.workers:
            threads = max(1, cores // args.workers)
        return DaskEngine(args.scheduler, args.workers, threads, args.timeout)
    jobs = args.jobs or max(2, cores // 2)
    if threads is None and args.threads is None:
        threads = max(1, cores // jobs)
    return LocalEngine(jobs, threads, args.timeout)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds) if args.seeds else None
        notebook = find_notebook(args.notebook)
        fixed = [tuple(pair) for pair in args.parameter]
        plan = make_plan(
            notebook,
            args.grid,
            seeds,
            fixed,
            smoke=args.smoke,
            name=args.name,
            out=args.out,
            limit=args.limit,
            yes=args.yes,
        )
    except (ValueError, SystemExit) as error:
        print(f"sweep: {error}\nnothing was started", file=sys.stderr)
        return 2
    engine = _engine(args)
    if args.dry_run:
        print(f"{len(plan.runs)} runs of {notebook.name} into {plan.folder}, {engine.describe()}")
        for run in plan.runs:
            print(f"  {run.name}: {json.dumps(run.parameters)}")
        return 0
    from tools.sweep import run as sweep_run

    def stop(signum, frame):
        print("sweep: stopping; the runs in flight are stopped and saved", flush=True)
        if args.scheduler or args.workers:
            raise KeyboardInterrupt
        sweep_run.stop_all()

    again = shlex.join(["python", "-m", "tools", "sweep", *argv])
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        records = run_sweep(plan, engine)
    except SweepError as error:
        print(f"sweep: {error}\nnothing was started", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"sweep: stopped; to go on where it stopped, run the same command: {again}")
        return 143
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    ok = sum(record.get("status") == "ok" for record in records)
    if args.site:
        from tools import site

        site.main(["--sweep", str(plan.folder), "--out", str(plan.folder / "site")])
    print(f"sweep: {ok} of {len(plan.runs)} runs ok; {plan.folder / 'results.csv'}")
    if ok < len(plan.runs):
        print(
            f"sweep: to rerun the {len(plan.runs) - ok} that did not succeed (the {ok} that did "
            f"{'is' if ok == 1 else 'are'} kept), run the same command again: {again}"
        )
    if sweep_run.LOCAL.stopping.is_set():
        return 143
    return 0 if ok == len(plan.runs) else 1
