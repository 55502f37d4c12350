"""A sweep's page on the site (`python -m tools.site --sweep build/sweeps/<sweep>`).

Read from the sweep's folder only (`sweep.json`, `results.csv`, `aggregate.csv`,
`plots/*.png`, written by `python -m tools sweep`), so the site needs neither TensorFlow nor
matplotlib: what was swept, a row per grid point (mean and standard error across seeds, the
within-run standard error apart), each headline's plot, and a row per run.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tools.site_results import _list_table, _text, format_number

__all__ = ["read_sweep", "sweep_page"]


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def read_sweep(folder: str | Path) -> dict:
    """`sweep.json` with the rows of `results.csv` and `aggregate.csv` and the plots.

    Raises:
      FileNotFoundError: if `folder` holds no `sweep.json`, saying how to make one.
    """
    folder = Path(folder)
    if not (folder / "sweep.json").is_file():
        raise FileNotFoundError(
            f"sweep folder {str(folder)!r} has no sweep.json: run `python -m tools sweep` first"
        )
    info = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))
    info["name"] = folder.name
    info["results"] = _rows(folder / "results.csv")
    info["aggregate"] = _rows(folder / "aggregate.csv")
    info["plots"] = sorted((folder / "plots").glob("*.png"))
    return info


def _number(text: str, digits: int = 4) -> str:
    try:
        return format_number(float(text), digits)
    except ValueError:
        return text


def sweep_page(info: dict, figures: str) -> str:
    """The MyST page of `read_sweep`'s record; the plots are under `figures/` beside it."""
    name, swept = info["name"], info["swept"]
    anchor = "".join(c if c.isalnum() else "-" for c in name.lower())
    statuses: dict[str, int] = {}
    for row in info["results"]:
        statuses[row["status"]] = statuses.get(row["status"], 0) + 1
    counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items())) or "none yet"
    grid = "; ".join(
        f"{k}: {', '.join(json.dumps(v) for v in vs)}" for k, vs in info["grid"].items()
    )
    fixed = ", ".join(f"{k}={json.dumps(v)}" for k, v in info["fixed"].items()) or "none"
    parts = [
        f"(sweep-{anchor})=",
        f"# Sweep {_text(name)}",
        "",
        _text(
            f"Notebook {info['notebook']}, {len(info['runs'])} runs ({counts}). "
            f"Grid: {grid or 'one point'}. Seeds: {', '.join(map(str, info['seeds']))}. "
            f"Fixed parameters: {fixed}."
        ),
        "",
        "*mean* and *s.e.* are across the seeds that ran without error (the spread of the "
        "seeds); *stderr* is the mean of the standard errors each run reported itself.",
        "",
    ]
    headlines = [c[: -len(" mean")] for c in (info["aggregate"] or [{}])[0] if c.endswith(" mean")]
    rows = []  # long: a row per headline and grid point, so many headlines stay readable
    for h in headlines:
        for row in info["aggregate"]:
            cells = [h, *(row[n] for n in swept), f"{row['ok']} of {row['runs']}"]
            cells += [_number(row[f"{h} mean"]), _number(row[f"{h} se"], 2)]
            cells += [_number(row[f"{h} mean stderr"], 2), _number(row[f"{h} reference"])]
            rows.append([_text(c) for c in cells])
    header = ["headline", *swept, "ok", "mean", "s.e.", "stderr", "reference"]
    parts.append(_list_table("Per grid point", f"sweep-{anchor}-points", header, rows))
    for plot in info["plots"]:
        parts += [f"![{_text(plot.stem)}]({figures}/{plot.name})", ""]
    rows = []
    for row in info["results"]:
        error = f"{row['error_name']}: {row['error_value']}" if row["error_name"] else ""
        cells = [row["run"], row["status"], error, _number(row["seconds"], 3), row["host"]]
        rows.append([_text(c) for c in cells])
    header = ["run", "status", "error", "seconds", "host"]  # the headlines: results.csv
    parts.append(_list_table("Every run", f"sweep-{anchor}-runs", header, rows))
    return "\n".join(parts)
