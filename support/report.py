"""Headline numbers and the HTML report of an executed notebook suite.

Inside a notebook, `headline(...)` shows a number next to its reference (a held-out NLL next
to the entropy floor, an estimate next to its closed form) and tags that output so the main
job (`nox -s notebooks`) can collect it. `build_report` reads the executed notebooks and
writes `build/index.html`: per notebook its headline table, parameters, run time, figures
and links to the executed notebook.

Used by every notebook and by the `notebooks` nox session.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nbformat

__all__ = ["HEADLINE_MIME", "headline", "collect", "build_report"]

HEADLINE_MIME = "application/vnd.tfp-notebooks.headline+json"


def _format(value: float | None, digits: int = 4) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def _headline_text(record: dict[str, Any]) -> str:
    text = f"{record['name']}: {_format(record['value'])}"
    if record.get("stderr") is not None:
        text += f" ± {_format(record['stderr'], 2)}"
    if record.get("unit"):
        text += f" {record['unit']}"
    if record.get("reference") is not None:
        label = record.get("reference_name") or "reference"
        text += f"  ({label}: {_format(record['reference'])})"
    return text


def headline(
    name: str,
    value: float,
    *,
    reference: float | None = None,
    reference_name: str | None = None,
    stderr: float | None = None,
    unit: str = "",
) -> dict[str, Any]:
    """Shows a headline number and tags it for the suite's report.

    Args:
      name: what the number is, e.g. "held-out NLL".
      value: the number.
      reference: what to compare it with (a bound, a closed form), if any.
      reference_name: what the reference is, e.g. "entropy floor".
      stderr: the Monte Carlo standard error of `value`, if it has one.
      unit: e.g. "nats".

    Returns:
      The record that was shown, as a dict.

    Raises:
      ValueError: if `name` is empty or a number is not a real number.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    record: dict[str, Any] = {"name": name, "unit": unit, "reference_name": reference_name}
    for key, number in (("value", value), ("reference", reference), ("stderr", stderr)):
        if number is None:
            record[key] = None
            continue
        try:
            record[key] = float(number)
        except (TypeError, ValueError):
            raise ValueError(f"{key} must be a real number, got {number!r}") from None
    try:
        from IPython import get_ipython
        from IPython.display import display

        in_kernel = get_ipython() is not None
    except ImportError:  # pragma: no cover - IPython ships with the notebook extras
        in_kernel = False
    if in_kernel:
        display({HEADLINE_MIME: record, "text/plain": _headline_text(record)}, raw=True)
    else:
        print(_headline_text(record))
    return record


def _title(notebook: nbformat.NotebookNode, fallback: str) -> str:
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def collect(path: str | Path) -> dict[str, Any]:
    """Headlines, figures (PNG bytes), parameters and run time of an executed notebook."""
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    headlines, figures, errors = [], [], []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if HEADLINE_MIME in data:
                headlines.append(dict(data[HEADLINE_MIME]))
            if "image/png" in data:
                figures.append(base64.b64decode(data["image/png"]))
            if output.get("output_type") == "error":
                errors.append(f"{output.get('ename')}: {output.get('evalue')}")
    papermill = notebook.metadata.get("papermill", {})
    return {
        "name": path.stem,
        "title": _title(notebook, path.stem),
        "headlines": headlines,
        "figures": figures,
        "errors": errors,
        "parameters": dict(papermill.get("parameters", {})),
        "seconds": papermill.get("duration"),
    }


def _table(rows: Iterable[Iterable[str]], header: Iterable[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.3em 0; }
.error { color: #a00; font-weight: bold; }
section { border-top: 2px solid #ddd; margin-top: 2em; }
"""


def build_report(executed_dir: str | Path, output: str | Path) -> Path:
    """Writes one HTML page summarising every executed notebook in `executed_dir`.

    Figures are written as PNG files beside the page, under `figures/<notebook>/`.

    Returns:
      The path of the page.

    Raises:
      FileNotFoundError: if `executed_dir` holds no notebooks.
    """
    executed_dir, output = Path(executed_dir), Path(output)
    notebooks = sorted(executed_dir.glob("*.ipynb"))
    if not notebooks:
        raise FileNotFoundError(f"executed_dir {str(executed_dir)!r} holds no .ipynb files")
    output.parent.mkdir(parents=True, exist_ok=True)
    summary_rows, sections = [], []
    for path in notebooks:
        info = collect(path)
        link = path.relative_to(output.parent) if path.is_relative_to(output.parent) else path
        html_page = path.with_suffix(".html")
        page_link = (
            html_page.relative_to(output.parent)
            if html_page.exists() and html_page.is_relative_to(output.parent)
            else None
        )
        seconds = info["seconds"]
        status = "failed: " + "; ".join(info["errors"]) if info["errors"] else "ran"
        summary_rows.append([info["title"], status, "" if seconds is None else f"{seconds:.0f} s"])
        parts = [f"<section id='{html.escape(info['name'])}'>"]
        parts.append(f"<h2>{html.escape(info['title'])}</h2>")
        links = f"<a href='{html.escape(str(link))}'>executed notebook (.ipynb)</a>"
        if page_link is not None:
            links += f" · <a href='{html.escape(str(page_link))}'>rendered (.html)</a>"
        parts.append(f"<p>{links}</p>")
        if info["errors"]:
            parts.append(f"<p class='error'>{html.escape(status)}</p>")
        if info["headlines"]:
            rows = []
            for h in info["headlines"]:
                value = _format(h.get("value"))
                if h.get("stderr") is not None:
                    value += f" ± {_format(h['stderr'], 2)}"
                rows.append(
                    [
                        h["name"],
                        value,
                        _format(h.get("reference")),
                        h.get("reference_name") or "",
                        h.get("unit") or "",
                    ]
                )
            parts.append(_table(rows, ["quantity", "value", "reference", "reference is", "unit"]))
        if info["parameters"]:
            params = [[k, json.dumps(v)] for k, v in info["parameters"].items()]
            parts.append("<h3>Parameters passed</h3>" + _table(params, ["parameter", "value"]))
        if seconds is not None:
            parts.append(f"<p>Run time: {seconds:.1f} s</p>")
        figure_dir = output.parent / "figures" / info["name"]
        figure_dir.mkdir(parents=True, exist_ok=True)
        for k, png in enumerate(info["figures"]):
            figure = figure_dir / f"figure-{k:02d}.png"
            figure.write_bytes(png)
            rel = figure.relative_to(output.parent)
            parts.append(f"<img src='{html.escape(str(rel))}' alt='{info['name']} figure {k}'>")
        parts.append("</section>")
        sections.append("\n".join(parts))
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>TFP notebooks: results</title><style>{_STYLE}</style></head><body>"
        "<h1>TFP notebooks: results of the last run</h1>"
        + _table(summary_rows, ["notebook", "status", "run time"])
        + "\n".join(sections)
        + "</body></html>"
    )
    output.write_text(page, encoding="utf-8")
    return output


if __name__ == "__main__":  # pragma: no cover - exercised through nox
    import sys

    if len(sys.argv) != 3:
        raise SystemExit("usage: python -m support.report EXECUTED_DIR OUTPUT_HTML")
    print(build_report(sys.argv[1], sys.argv[2]))
