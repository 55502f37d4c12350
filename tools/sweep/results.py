"""What a sweep keeps: each run's record, the results table, the aggregate and the plots.

A sweep's folder, `build/sweeps/<sweep>/`:

* `sweep.json`: the notebook, the grid, the seeds and the fixed parameters;
* `runs/<run>/`: the executed notebook and `result.json`, written when the run ends
  (atomically, the notebook first, the record last: a record means the run is complete);
* `results.csv`: a row per run: its swept values, seed, status, error, start, duration, host,
  git commit, TensorFlow and TFP versions, and each headline (`support.headline`, read by
  `tools.site_results.read_results`) with its stderr and reference;
* `aggregate.csv`: a row per grid point: runs ok of total, and per headline the mean across
  the seeds that ran, its standard error across seeds (`se`), and apart from it the mean
  within-run standard error (`mean stderr`, the Monte Carlo error each run reported);
* `plots/*.png`: each headline against the first swept parameter, error bars across seeds.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "aggregate_rows",
    "finished",
    "plot_headlines",
    "read_record",
    "results_rows",
    "write_atomic",
    "write_record",
    "write_tables",
]

RECORD = "result.json"


def write_atomic(path: Path, data: bytes) -> None:
    """Writes `data` to `path` through a temporary file beside it and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def read_record(folder: Path) -> dict[str, Any] | None:
    """The record of the run in `folder`, or None if it has none (or a broken one)."""
    try:
        return json.loads((Path(folder) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def finished(folder: Path, key: str) -> bool:
    """True if the run in `folder` succeeded with this key (notebook, parameters, seed,
    package versions): a sweep run again skips it."""
    record = read_record(folder)
    return record is not None and record.get("status") == "ok" and record.get("key") == key


def write_record(folder: Path, notebook_name: str, record: dict[str, Any]) -> dict[str, Any]:
    """Saves one ended run: its executed notebook (if any), then its record, each atomically.

    `record` holds the outcome of `tools.sweep.run.execute_run` (its `notebook` bytes are
    written to `folder/notebook_name`) and the run's own fields; the headlines and error
    outputs are read from the executed notebook. Returns the record as saved.
    """
    from tools.site_results import read_results

    record = dict(record)
    executed, folder = record.pop("notebook", None), Path(folder)
    record["headlines"] = []
    if executed:
        write_atomic(folder / notebook_name, executed)
        try:
            record["headlines"] = read_results(folder / notebook_name)["headlines"]
        except Exception as error:  # a truncated notebook: keep the run's status
            record["read_error"] = f"{type(error).__name__}: {error}"
    if record.get("status") == "ok":
        record.pop("log", None)
    text = json.dumps(record, indent=1, sort_keys=True, default=str)
    write_atomic(folder / RECORD, text.encode("utf-8"))
    return record


def _headline_names(records: Sequence[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for record in records:
        names += [h["name"] for h in record.get("headlines", []) if h["name"] not in names]
    return names


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    return json.dumps(value) if isinstance(value, list | tuple | dict) else value


def results_rows(swept: Sequence[str], records: Sequence[dict[str, Any]]) -> list[dict]:
    """A row per run: its swept values, seed, status and metadata, every headline."""
    rows = []
    for record in records:
        row = {"run": record["run"], **{n: _cell(record["point"].get(n)) for n in swept}}
        row["seed"] = _cell(record.get("seed"))
        for name in ("status", "error_name", "error_value", "started", "seconds", "host"):
            row[name] = _cell(record.get(name))
        row["kernel_retried"] = record.get("kernel_retried", False)
        for name in ("git_commit", "tensorflow", "tensorflow_probability"):
            row[name] = record.get(name, "")
        row["parameters"] = json.dumps(record.get("parameters", {}), sort_keys=True)
        for headline in record.get("headlines", []):
            name = headline["name"]
            row[name] = headline.get("value")
            row[f"{name} stderr"] = _cell(headline.get("stderr"))
            row[f"{name} reference"] = _cell(headline.get("reference"))
        rows.append(row)
    return rows


def _mean_se(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    variance = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return mean, math.sqrt(variance / len(values))


def aggregate_rows(swept: Sequence[str], records: Sequence[dict[str, Any]]) -> list[dict]:
    """A row per grid point (in the order first seen): runs ok of total, and per headline
    the mean across seeds, the standard error across seeds (`se`, from their spread) and
    the mean within-run standard error (`mean stderr`), kept apart."""
    points: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        points.setdefault(json.dumps([record["point"].get(n) for n in swept]), []).append(record)
    names, rows = _headline_names(records), []
    for group in points.values():
        row = {n: _cell(group[0]["point"].get(n)) for n in swept}
        ok = [r for r in group if r.get("status") == "ok"]
        row["runs"], row["ok"] = len(group), len(ok)
        for name in names:
            found = [h for r in ok for h in r.get("headlines", []) if h["name"] == name]
            mean, se = _mean_se([h["value"] for h in found if h.get("value") is not None])
            stderrs = [h["stderr"] for h in found if h.get("stderr") is not None]
            references = {h.get("reference") for h in found}
            row[f"{name} mean"], row[f"{name} se"] = _cell(mean), _cell(se)
            row[f"{name} n"] = len(found)
            row[f"{name} mean stderr"] = _cell(_mean_se(stderrs)[0])
            row[f"{name} reference"] = _cell(references.pop() if len(references) == 1 else None)
        rows.append(row)
    return rows


def _csv(rows: Sequence[dict[str, Any]]) -> bytes:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    text = io.StringIO()
    writer = csv.DictWriter(text, columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")


def write_tables(folder: Path, swept: Sequence[str], records: Sequence[dict]) -> None:
    """Rewrites `results.csv` and `aggregate.csv` from the records so far."""
    write_atomic(Path(folder) / "results.csv", _csv(results_rows(swept, records)))
    write_atomic(Path(folder) / "aggregate.csv", _csv(aggregate_rows(swept, records)))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def plot_headlines(folder: Path, swept: Sequence[str], records: Sequence[dict]) -> list[Path]:
    """One PNG per headline in `folder/plots/`: its mean across seeds against the first
    swept parameter (a line per value of the others), error bars of one standard error
    across seeds, the reference dashed when all points share it. Returns the files."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, written = aggregate_rows(swept, records), []
    if not swept or not rows:
        return written
    x_name, others = swept[0], list(swept[1:])
    xs = list(dict.fromkeys(row[x_name] for row in rows))
    numeric = all(_number(x) is not None for x in xs)
    position = {x: (float(x) if numeric else k) for k, x in enumerate(xs)}
    for name in _headline_names(records):
        figure, axes = plt.subplots(figsize=(6, 4))
        lines: dict[str, list[dict]] = {}
        for row in rows:
            label = ", ".join(f"{n}={row[n]}" for n in others)
            lines.setdefault(label, []).append(row)
        for label, group in lines.items():
            group = [r for r in group if _number(r[f"{name} mean"]) is not None]
            if group:
                x = [position[r[x_name]] for r in group]
                y = [r[f"{name} mean"] for r in group]
                bars = [_number(r[f"{name} se"]) or 0.0 for r in group]
                axes.errorbar(x, y, yerr=bars, marker="o", capsize=4, label=label or None)
        references = {row[f"{name} reference"] for row in rows} - {""}
        if len(references) == 1:
            axes.axhline(references.pop(), color="gray", linestyle="--", label="reference")
        if (
            numeric
            and min(position.values()) > 0
            and max(position.values()) >= 100 * min(position.values())
        ):
            axes.set_xscale("log")
        if not numeric:
            axes.set_xticks(list(position.values()), [str(x) for x in xs])
        axes.set_xlabel(x_name)
        axes.set_ylabel(name)
        axes.set_title(f"{name}: mean ± s.e. across seeds")
        if axes.get_legend_handles_labels()[1]:
            axes.legend()
        slug = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") or "headline"
        path = Path(folder) / "plots" / f"{slug}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        written.append(path)
    return written
