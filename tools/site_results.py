"""The site's results page: what every executed notebook reported, read from its outputs.

A notebook reports a headline number with `support.headline(...)`, which displays it with
the MIME type `HEADLINE_MIME`; the main job (`nox -s notebooks`) keeps those outputs in the
executed notebooks, papermill adds the parameters passed in and the run times (JupyterLab
records run times too, with its `recordTiming` setting, as the browser check sets). This module
reads them back and writes the results page of the site (`tools.site`): per notebook its
headline numbers next to their references, its parameters, its run time and its key figure.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import nbformat

from tools.notebooks import read_parameters

__all__ = [
    "HEADLINE_MIME",
    "KeyFigure",
    "executed_notebooks",
    "format_number",
    "key_figure",
    "read_results",
    "results_page",
]

HEADLINE_MIME = "application/vnd.tfp-notebooks.headline+json"  # what support.headline shows
NOTEBOOK_NAME = "[0-9][0-9]_*.ipynb"


def executed_notebooks(folder: str | Path) -> list[Path]:
    """The executed notebooks (`NN_name.ipynb`) in `folder`, in order.

    Raises:
      FileNotFoundError: if there are none, saying how to make them.
    """
    folder = Path(folder)
    found = sorted(folder.glob(NOTEBOOK_NAME)) if folder.is_dir() else []
    if not found:
        raise FileNotFoundError(
            f"notebooks folder {str(folder)!r} holds no executed notebooks (NN_name.ipynb): "
            "run `nox -s notebooks` first (or `nox -s notebooks -- --smoke` for a quick run)"
        )
    return found


def format_number(value: float | None, digits: int = 4) -> str:
    """A number as the results page shows it: `digits` significant digits, "" for None."""
    if value is None:
        return ""
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def _jupyter_span(execution: dict[str, str]) -> tuple[datetime, datetime] | None:
    """(start, end) of a cell's run from Jupyter's timing metadata (`iopub.execute_input` to
    `shell.execute_reply`, UTC), or None if it has none."""
    try:
        start, end = execution["iopub.execute_input"], execution["shell.execute_reply"]
        return _utc(start), _utc(end)
    except (KeyError, TypeError, ValueError):
        return None


def _utc(stamp: str) -> datetime:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _heading(source: str, level: str) -> str | None:
    for line in source.splitlines():
        if line.startswith(level + " "):
            return line[len(level) + 1 :].strip()
    return None


def _defaults(source: str) -> dict[str, str]:
    """The parameters cell's assignments, each as its source text (`read_parameters`)."""
    try:
        return read_parameters(source, as_source=True)
    except ValueError:  # a broken parameters cell: its error output says why
        return {}


def read_results(path: str | Path) -> dict[str, Any]:
    """What the results page shows of one executed notebook.

    Returns:
      A dict with `name` (file stem), `title` (the H1), `headlines` (the records shown by
      `support.headline`), `errors` ("Name: message" of each error output), `defaults` (the
      parameters cell's values, as source text), `parameters` (those passed in, from
      papermill), `seconds` and `started` (papermill's, else those of the cells' Jupyter
      timing metadata, or None) and `slowest_cells` ((section, seconds) pairs, slowest first,
      at most three).
    """
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    info: dict[str, Any] = {"name": path.stem, "title": path.stem, "headlines": [], "errors": []}
    info["defaults"], section, timed, spans = {}, "", [], []
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            if info["title"] == path.stem and _heading(cell.source, "#"):
                info["title"] = _heading(cell.source, "#")
            section = _heading(cell.source, "##") or section
            continue
        if cell.cell_type != "code":
            continue
        if "parameters" in cell.metadata.get("tags", []) and not info["defaults"]:
            info["defaults"] = _defaults(cell.source)
        duration = cell.metadata.get("papermill", {}).get("duration")
        span = _jupyter_span(cell.metadata.get("execution", {}))
        if span is not None:
            spans.append(span)
            duration = duration if duration is not None else (span[1] - span[0]).total_seconds()
        if duration is not None:
            timed.append((section or "setup", float(duration)))
        for output in cell.get("outputs", []):
            if HEADLINE_MIME in output.get("data", {}):
                info["headlines"].append(dict(output["data"][HEADLINE_MIME]))
            if output.get("output_type") == "error":
                info["errors"].append(f"{output.get('ename')}: {output.get('evalue')}")
    papermill = notebook.metadata.get("papermill", {})
    info["parameters"] = dict(papermill.get("parameters", {}))
    info["seconds"], info["started"] = papermill.get("duration"), papermill.get("start_time")
    if info["seconds"] is None and spans:  # run in JupyterLab: first start to last reply
        first, last = min(s[0] for s in spans), max(s[1] for s in spans)
        info["seconds"], info["started"] = (last - first).total_seconds(), first.isoformat()
    info["slowest_cells"] = sorted(timed, key=lambda pair: -pair[1])[:3]
    return info


class KeyFigure(NamedTuple):
    """A notebook's key figure: its `format` ("png"), its `data` and its `section` (the `##`
    heading above it, "" before the first)."""

    format: str
    data: bytes
    section: str


def key_figure(path: str | Path) -> KeyFigure | None:
    """The notebook's key figure: the first drawn by a cell tagged `gallery`, else its first
    PNG; None if it drew none. The one choice of figure for the results page and the README's
    gallery (`tools.gallery`)."""
    notebook = nbformat.read(Path(path), as_version=4)
    found, section = [], ""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            section = _heading(cell.source, "##") or section
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if "image/png" in output.get("data", {}):
                tagged = "gallery" in cell.metadata.get("tags", [])
                data = base64.b64decode(output["data"]["image/png"])
                found.append((not tagged, KeyFigure("png", data, section)))
    if not found:
        return None
    return min(found, key=lambda pair: pair[0])[1]


def _text(value: Any) -> str:
    """Plain text for MyST: every markdown punctuation mark escaped, on one line."""
    return re.sub(r"([\\`*_{}\[\]<>()#+\-.!|$~])", r"\\\1", " ".join(str(value).split()))


def _list_table(caption: str, name: str, header: Sequence[str], rows: list[list[str]]) -> str:
    lines = [f"```{{list-table}} {caption}", ":header-rows: 1", f":name: {name}", ""]
    for row in [[_text(h) for h in header], *rows]:
        lines += [f"* - {row[0]}"] + [f"  - {cell}" for cell in row[1:]]
    return "\n".join(lines + ["```", ""])


def _headline_rows(headlines: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for record in headlines:
        value, reference, stderr = (
            record.get("value"),
            record.get("reference"),
            record.get("stderr"),
        )
        shown = format_number(value)
        if stderr is not None:
            shown += f" ± {format_number(stderr, 2)}"
        gap = gap_se = ""
        if value is not None and reference is not None:
            gap = f"{value - reference:+.3g}"
            if stderr:
                gap_se = f"{(value - reference) / stderr:+.1f}"
        cells = [record["name"], shown, format_number(reference), record.get("reference_name")]
        rows.append([_text(c or "") for c in [*cells, gap, gap_se, record.get("unit")]])
    return rows


def _parameter_rows(info: dict[str, Any]) -> list[list[str]]:
    passed, defaults = info["parameters"], info["defaults"]
    rows = []
    for name in list(defaults) + [n for n in passed if n not in defaults]:
        if name in passed:
            value, source = json.dumps(passed[name]), "passed in"
            if name in defaults:
                source += f" (default {defaults[name]})"
        else:
            value, source = defaults[name], "default"
        rows.append([_text(name), _text(value), _text(source)])
    return rows


def _timing(info: dict[str, Any]) -> str:
    if info["seconds"] is None:
        return "Run time: not recorded."
    text = f"Run time: {info['seconds']:.1f} s"
    if info["started"]:
        text += f", started {str(info['started'])[:19].replace('T', ' ')} UTC"
    slowest = ", ".join(
        f"{section} ({seconds:.1f} s)" for section, seconds in info["slowest_cells"]
    )
    return _text(text + "." + (f" Slowest cells: {slowest}." if slowest else ""))


def _section(info: dict[str, Any]) -> str:
    anchor = info["name"].replace("_", "-")
    parts = [f"(results-{anchor})=", f"## {_text(info['title'])}", ""]
    link = f"[the executed notebook](notebooks/{info['name']}.ipynb)"
    if info["errors"]:
        parts.append(f"**Failed**: {_text('; '.join(info['errors']))}. See {link}.\n")
    else:
        parts.append(f"Ran without error; read {link}.\n")
    if info["headlines"]:
        header = ["quantity", "value", "reference", "reference is", "gap", "gap / s.e.", "unit"]
        rows = _headline_rows(info["headlines"])
        parts.append(_list_table("Headline numbers", f"headlines-{anchor}", header, rows))
    if _parameter_rows(info):
        rows = _parameter_rows(info)
        header = ["parameter", "value", "source"]
        parts.append(_list_table("Parameters", f"parameters-{anchor}", header, rows))
    parts.append(_timing(info) + "\n")
    if info.get("figure"):
        parts.append(f"![{_text(info['title'])}: key figure]({info['figure']})\n")
    return "\n".join(parts)


def results_page(results: list[dict[str, Any]]) -> str:
    """The results page (MyST markdown) of the records of `read_results`, one section each.

    A record may carry `figure`, the path of its key figure beside the page.
    """
    summary = []
    for info in results:
        status = "failed" if info["errors"] else "ran"
        seconds = "" if info["seconds"] is None else f"{info['seconds']:.0f} s"
        title = f"[{_text(info['title'])}](#results-{info['name'].replace('_', '-')})"
        summary.append([title, status, str(len(info["headlines"])), _text(seconds)])
    header = ["notebook", "status", "headline numbers", "run time"]
    intro = (
        "# Results of the last run\n\n"
        "Each headline number sits next to its reference (a bound or a closed form); "
        "*gap / s.e.* is the gap in Monte Carlo standard errors. Every notebook lists the "
        "parameters it ran with and how long it took.\n\n"
    )
    return (
        intro
        + _list_table("Notebooks", "results-summary", header, summary)
        + "\n".join(_section(info) for info in results)
    )
