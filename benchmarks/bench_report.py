"""Summaries, table and plot of `bench_ffjord.py`'s runs (several seeds per path).

`summarise(runs)` reduces one path's per-seed results to median, min and max of each timing;
`ratios(paths, ...)` divides the baseline's times by another path's (ratio of the medians,
plus the smallest and largest ratio of two runs with the same seed); `table(...)` prints them;
`plot(...)` draws held-out NLL against wall time for every path and seed (matplotlib, Agg);
`run_row(...)` and `append_run(...)` keep one row per full run in `benchmarks/runs.csv`.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

__all__ = [
    "LABELS",
    "RUN_COLUMNS",
    "TIMINGS",
    "append_run",
    "plot",
    "ratios",
    "run_row",
    "summarise",
    "table",
]

#: Human names of the benchmark's paths, in the order they are shown.
LABELS = {
    "baseline": "tutorial",
    "baseline_hutchinson": "tutorial, Hutchinson",
    "fast": "fast (default)",
    "hutchinson": "fast, Hutchinson",
    "torch": "torchdiffeq",
}

#: Per-run numbers that are summarised over seeds (median, min, max).
TIMINGS = (
    "setup_seconds",
    "first_step_seconds",
    "first_step_since_start",
    "first_step_trace_seconds",
    "median_step_ms_early",
    "median_step_ms_late",
    "nfe_per_step_early",
    "nfe_per_step_late",
    "epochs",
    "final_nll",
    "final_gap",
    "seconds_to_target",
    "seconds_to_target_3_epoch_mean",
    "training_seconds_to_target",
    "training_seconds_to_target_3_epoch_mean",
)


def _stats(values: list) -> dict | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return {
        "median": float(np.median(present)),
        "min": float(np.min(present)),
        "max": float(np.max(present)),
        "runs": len(present),
        "of": len(values),
    }


def summarise(runs: list[dict]) -> dict:
    """Median, min and max over the runs (seeds) of each of `TIMINGS`.

    A run that never reached the target has None there; the summary counts only the runs
    that did (`runs` of `of`).
    """
    return {key: _stats([run.get(key) for run in runs]) for key in TIMINGS}


def ratios(paths: dict, key: str) -> dict:
    """The baseline's `key` over each other path's: ratio of medians and per-seed range."""
    out = {}
    base = {run["seed"]: run.get(key) for run in paths["baseline"]["runs"]}
    base_median = (paths["baseline"]["summary"].get(key) or {}).get("median")
    for name, path in paths.items():
        if name == "baseline":
            continue
        median = (path["summary"].get(key) or {}).get("median")
        per_seed = [
            base[run["seed"]] / run[key]
            for run in path["runs"]
            if run.get(key) and base.get(run["seed"])
        ]
        out[name] = {
            "of_medians": base_median / median if base_median and median else None,
            "min": min(per_seed) if per_seed else None,
            "max": max(per_seed) if per_seed else None,
        }
    return out


def table(paths: dict, target: float) -> str:
    """A plain-text table: one column per path, `median (min-max)` over seeds."""
    rows = [
        ("imports, data, model (s)", "setup_seconds", "{:.1f}"),
        ("first step (s)", "first_step_seconds", "{:.1f}"),
        ("  ... since process start (s)", "first_step_since_start", "{:.1f}"),
        ("  ... of which tracing (s)", "first_step_trace_seconds", "{:.1f}"),
        ("median step, first 3 epochs (ms)", "median_step_ms_early", "{:.1f}"),
        ("median step, last 3 epochs (ms)", "median_step_ms_late", "{:.1f}"),
        ("forward NFE per step, early", "nfe_per_step_early", "{:.0f}"),
        ("forward NFE per step, late", "nfe_per_step_late", "{:.0f}"),
        ("epochs run", "epochs", "{:.0f}"),
        ("final held-out NLL (nats)", "final_nll", "{:.3f}"),
        ("final gap to the true density", "final_gap", "{:.3f}"),
        (f"start to NLL <= {target} (s)", "seconds_to_target", "{:.1f}"),
        ("  ... 3-epoch mean <= target (s)", "seconds_to_target_3_epoch_mean", "{:.1f}"),
        (f"training start to NLL <= {target} (s)", "training_seconds_to_target", "{:.1f}"),
        ("  ... 3-epoch mean <= target (s)", "training_seconds_to_target_3_epoch_mean", "{:.1f}"),
    ]
    names = [name for name in LABELS if name in paths]
    width = 22
    lines = [
        f"{'median (min-max) over seeds':34s}" + "".join(f"{LABELS[n]:>{width}s}" for n in names)
    ]
    for label, key, fmt in rows:
        cells = []
        for name in names:
            stats = paths[name]["summary"].get(key)
            if stats is None:
                cells.append("-")
                continue
            text = fmt.format(stats["median"])
            if stats["runs"] > 1:
                text += f" ({fmt.format(stats['min'])}-{fmt.format(stats['max'])})"
            if stats["runs"] < stats["of"]:
                text += f" [{stats['runs']}/{stats['of']}]"
            cells.append(text)
        lines.append(f"{label:34s}" + "".join(f"{c:>{width}s}" for c in cells))
    return "\n".join(lines)


def plot(paths: dict, out: Path, *, target: float, floor: float | None = None) -> Path:
    """Held-out NLL against wall time, every path and seed, saved as a small PNG at `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = dict(
        zip(LABELS, ["tab:grey", "tab:purple", "tab:blue", "tab:orange", "tab:green"], strict=True)
    )
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for name in (n for n in LABELS if n in paths):
        for k, run in enumerate(paths[name]["runs"]):
            curve = run["curve"]
            ax.plot(
                [c["seconds"] for c in curve],
                [c["nll"] for c in curve],
                color=colours[name],
                alpha=0.8,
                linewidth=1,
                label=LABELS[name] if k == 0 else None,
            )
    ax.axhline(target, color="black", linestyle="--", linewidth=0.8, label=f"target {target}")
    if floor is not None:
        ax.axhline(floor, color="tab:red", linestyle=":", linewidth=0.8, label="true density")
    ax.set_xscale("log")
    ax.set_ylim(max(0.0, (floor or target) - 0.1), 2.0)
    ax.set_xlabel("seconds since process start (log scale)")
    ax.set_ylabel("held-out NLL (nats)")
    ax.set_title("FFJORD on the moons: held-out NLL against wall time")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


#: The columns of `benchmarks/runs.csv`, one row per full run of `bench_ffjord.py`: when and
#: where it ran, then the default path ("fast") against the tutorial in the same run (medians
#: over the seeds; the ratios are the tutorial's time over the fast path's, with the smallest
#: and largest ratio of two runs with the same seed). An empty cell is a number not recorded.
RUN_COLUMNS = (
    "date_utc",
    "commit",
    "machine",
    "cpus",
    "seeds",
    "fast_first_step_s",
    "tutorial_first_step_s",
    "first_step_ratio",
    "fast_training_s_to_target",
    "tutorial_training_s_to_target",
    "training_speedup",
    "training_speedup_min",
    "training_speedup_max",
    "training_speedup_3_epoch_mean",
    "fast_final_gap",
    "note",
)


def _number(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def run_row(results: dict, *, commit: str, note: str = "") -> dict:
    """One row of `RUN_COLUMNS` from a run's results (what `bench_ffjord.py` writes as JSON).

    Args:
      results: the run's results: `date`, `machine`, `seeds`, `paths` with each path's
        `summary`, and `training_speedup_to_target` (`_3_epoch_mean`).
      commit: the commit the run measured.
      note: free text, e.g. what changed since the run before.

    Returns:
      The row, each value a string.
    """

    def median(path: str, key: str) -> float | None:
        return ((results["paths"][path]["summary"].get(key)) or {}).get("median")

    fast_first = median("fast", "first_step_seconds")
    tutorial_first = median("baseline", "first_step_seconds")
    speedup = results["training_speedup_to_target"]["fast"]
    mean_speedup = results["training_speedup_to_target_3_epoch_mean"]["fast"]
    machine = results["machine"]
    return {
        "date_utc": results["date"].removesuffix(" UTC"),
        "commit": commit,
        "machine": machine.get("model") or machine.get("processor") or "",
        "cpus": str(machine.get("cpus") or ""),
        "seeds": str(len(results["seeds"])),
        "fast_first_step_s": _number(fast_first, 2),
        "tutorial_first_step_s": _number(tutorial_first, 1),
        "first_step_ratio": _number(
            tutorial_first / fast_first if fast_first and tutorial_first else None, 1
        ),
        "fast_training_s_to_target": _number(median("fast", "training_seconds_to_target"), 1),
        "tutorial_training_s_to_target": _number(
            median("baseline", "training_seconds_to_target"), 1
        ),
        "training_speedup": _number(speedup["of_medians"], 1),
        "training_speedup_min": _number(speedup["min"], 1),
        "training_speedup_max": _number(speedup["max"], 1),
        "training_speedup_3_epoch_mean": _number(mean_speedup["of_medians"], 1),
        "fast_final_gap": _number(median("fast", "final_gap"), 3),
        "note": note,
    }


def append_run(path: str | Path, row: dict) -> Path:
    """Appends `row` to the CSV at `path`, writing the header first if the file is new.

    Raises:
      ValueError: if `row`'s keys are not `RUN_COLUMNS`, or an existing file's header is not
        `RUN_COLUMNS` (nothing is written then).
    """
    path = Path(path)
    if tuple(row) != RUN_COLUMNS:
        raise ValueError(f"row must have the columns {RUN_COLUMNS}, got {tuple(row)}")
    new = not path.exists() or path.stat().st_size == 0
    if not new:
        with path.open(newline="", encoding="utf-8") as file:
            header = tuple(next(csv.reader(file), ()))
        if header != RUN_COLUMNS:
            raise ValueError(f"{path} has the columns {header}, not {RUN_COLUMNS}")
    with path.open("a", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=RUN_COLUMNS, lineterminator="\n")
        if new:
            writer.writeheader()
        writer.writerow(row)
    return path
