"""The HTML report of an executed notebook suite (`build/index.html`).

`collect` reads one executed notebook: its headline numbers (the records
`support.report.headline` tags in a kernel), its figures (PNG) and animations (GIF) with the
section each belongs to, every parameter it ran with (defaults and those passed in), its run
time with the slowest cells, and its errors. `build_report` writes one page of all of them,
linking to the executed notebooks (`python -m tools run` and `python -m tools report`).
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nbformat

from support.report import HEADLINE_MIME, format_number
from tools.notebooks import read_parameters

__all__ = ["build_report", "collect"]


def _heading(cell: nbformat.NotebookNode, level: str) -> str | None:
    for line in cell.source.splitlines():
        if line.startswith(level + " "):
            return line[len(level) + 1 :].strip()
    return None


def collect(path: str | Path) -> dict[str, Any]:
    """Reads what the report shows from one executed notebook.

    Args:
      path: an executed `.ipynb` (papermill's metadata is used when present).

    Returns:
      A dict with `name` (file stem), `title` (the H1), `headlines` (records of `headline`),
      `figures` (PNG bytes, in order), `figure_sections` (the `##` heading above each
      figure), `animations` (GIF bytes, in order) and `animation_sections`, `media` (every
      figure and animation in notebook order, as dicts with `format` "png" or "gif", `data`
      and `section`), `errors` ("Name: message" of each error output), `parameters` (those passed
      in), `defaults` (the parameters cell's values), `seconds` (run time or None),
      `started` (ISO time or None) and `slowest_cells` ((section, seconds) pairs, slowest
      first, at most three).
    """
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    title, section = path.stem, ""
    headlines, figures, sections, errors, timed = [], [], [], [], []
    animations, animation_sections, media = [], [], []
    defaults: dict[str, Any] = {}
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            if title == path.stem and _heading(cell, "#"):
                title = _heading(cell, "#")
            section = _heading(cell, "##") or section
            continue
        if cell.cell_type != "code":
            continue
        if "parameters" in cell.metadata.get("tags", []) and not defaults:
            try:
                defaults = read_parameters(cell.source)
            except ValueError:  # a broken parameters cell: its error output says why
                defaults = {}
        duration = cell.metadata.get("papermill", {}).get("duration")
        if duration is not None:
            timed.append((section or "setup", float(duration)))
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if HEADLINE_MIME in data:
                headlines.append(dict(data[HEADLINE_MIME]))
            if "image/png" in data:
                figures.append(base64.b64decode(data["image/png"]))
                sections.append(section)
                media.append({"format": "png", "data": figures[-1], "section": section})
            elif "image/gif" in data:
                animations.append(base64.b64decode(data["image/gif"]))
                animation_sections.append(section)
                media.append({"format": "gif", "data": animations[-1], "section": section})
            if output.get("output_type") == "error":
                errors.append(f"{output.get('ename')}: {output.get('evalue')}")
    papermill = notebook.metadata.get("papermill", {})
    return {
        "name": path.stem,
        "title": title,
        "headlines": headlines,
        "figures": figures,
        "figure_sections": sections,
        "animations": animations,
        "animation_sections": animation_sections,
        "media": media,
        "errors": errors,
        "parameters": dict(papermill.get("parameters", {})),
        "defaults": defaults,
        "seconds": papermill.get("duration"),
        "started": papermill.get("start_time"),
        "slowest_cells": sorted(timed, key=lambda pair: -pair[1])[:3],
    }


def _table(rows: Iterable[Iterable[str]], header: Iterable[str], attrs: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows
    )  # cells are escaped by the callers (some hold links)
    return f"<table{attrs}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _headline_rows(headlines: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for h in headlines:
        value, reference, stderr = h.get("value"), h.get("reference"), h.get("stderr")
        shown = format_number(value)
        if stderr is not None:
            shown += f" ± {format_number(stderr, 2)}"
        gap = gap_se = ""
        if value is not None and reference is not None:
            gap = f"{value - reference:+.3g}"
            if stderr:
                gap_se = f"{(value - reference) / stderr:+.1f}"
        cells = [h["name"], shown, format_number(reference), h.get("reference_name") or "", gap]
        cells = [html.escape(c) for c in cells + [gap_se, h.get("unit") or ""]]
        cells[1] = f"<span class='value'>{cells[1]}</span>"
        rows.append(cells)
    return rows


def _parameter_rows(info: dict[str, Any]) -> list[list[str]]:
    passed, defaults = info["parameters"], info["defaults"]
    rows = []
    for name in list(defaults) + [n for n in passed if n not in defaults]:
        if name in passed:
            value = json.dumps(passed[name])
            how = "passed in" + (f" (default {defaults[name]!r})" if name in defaults else "")
        else:
            value, how = repr(defaults[name]), "default"
        rows.append([html.escape(name), html.escape(value), html.escape(how)])
    return rows


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1150px; margin: 2em auto; padding: 0 1em;
       color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
th { background: #f3f3f3; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr));
           gap: 1em; align-items: start; }
figure { margin: 0; } figcaption { color: #555; font-size: 0.9em; }
img { max-width: 100%; border: 1px solid #eee; }
.error { color: #a00; font-weight: bold; } .meta { color: #555; }
section { border-top: 2px solid #ddd; margin-top: 2em; }
"""


def _rel(path: Path, base: Path) -> Path | None:
    return path.relative_to(base) if path.exists() and path.is_relative_to(base) else None


def _section(info: dict[str, Any], path: Path, root: Path) -> str:
    name = html.escape(info["name"])
    parts = [f"<section id='{name}'>", f"<h2>{html.escape(info['title'])}</h2>"]
    link = _rel(path, root) or path.resolve()
    links = f"<a href='{html.escape(str(link))}'>executed notebook (.ipynb)</a>"
    page = _rel(path.with_suffix(".html"), root)
    if page is not None:
        links += f" · <a href='{html.escape(str(page))}'>rendered (.html)</a>"
    parts.append(f"<p>{links}</p>")
    if info["errors"]:
        parts.append(f"<p class='error'>failed: {html.escape('; '.join(info['errors']))}</p>")
    if info["headlines"]:
        header = ["quantity", "value", "reference", "reference is", "gap", "gap / s.e.", "unit"]
        parts.append("<h3>Headline numbers</h3>")
        parts.append(_table(_headline_rows(info["headlines"]), header, " class='headlines'"))
    if info["media"]:
        parts.append("<h3>Figures</h3><div class='figures'>")
        figure_dir = root / "figures" / info["name"]
        figure_dir.mkdir(parents=True, exist_ok=True)
        for k, item in enumerate(info["media"]):
            figure = figure_dir / f"figure-{k:02d}.{item['format']}"
            figure.write_bytes(item["data"])
            src = html.escape(str(figure.relative_to(root)))
            label = f"Figure {k + 1}" + (" (animated)" if item["format"] == "gif" else "")
            where = item["section"]
            caption = html.escape(label + (f": {where}" if where else ""))
            parts.append(
                f"<figure><img src='{src}' alt='{name} figure {k + 1}' data-figure='{k}'>"
                f"<figcaption>{caption}</figcaption></figure>"
            )
        parts.append("</div>")
    rows = _parameter_rows(info)
    if rows:
        parts.append("<h3>Parameters</h3>" + _table(rows, ["parameter", "value", "source"]))
    if info["seconds"] is not None:
        timing = f"Run time: {info['seconds']:.1f} s"
        if info["started"]:
            timing += f", started {html.escape(str(info['started'])[:19].replace('T', ' '))} UTC"
        slow = ", ".join(f"{html.escape(s)} ({t:.1f} s)" for s, t in info["slowest_cells"])
        parts.append(f"<p class='meta'>{timing}." + (f" Slowest cells: {slow}." if slow else ""))
    parts.append("</section>")
    return "\n".join(parts)


def build_report(executed_dir: str | Path, output: str | Path) -> Path:
    """Writes one HTML page summarising every executed notebook in `executed_dir`.

    Figures and animations are written as PNG and GIF files beside the page, under
    `figures/<notebook>/`, numbered in notebook order.

    Args:
      executed_dir: the folder of executed notebooks (`build/notebooks`).
      output: the page to write (`build/index.html`).

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
    summary, sections = [], []
    for path in notebooks:
        info = collect(path)
        status = "failed: " + "; ".join(info["errors"]) if info["errors"] else "ran"
        seconds = "" if info["seconds"] is None else f"{info['seconds']:.0f} s"
        anchor = f"<a href='#{html.escape(info['name'])}'>{html.escape(info['title'])}</a>"
        counts = [str(len(info["headlines"])), str(len(info["media"]))]
        summary.append([anchor, html.escape(status), *counts, seconds])
        sections.append(_section(info, path, output.parent))
    header = ["notebook", "status", "headline numbers", "figures", "run time"]
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>TFP notebooks: results</title><style>{_STYLE}</style></head><body>"
        "<h1>TFP notebooks: results of the last run</h1>"
        "<p class='meta'>Each headline number sits next to its reference (a bound or a closed "
        "form); <em>gap / s.e.</em> is the gap in Monte Carlo standard errors.</p>"
        + _table(summary, header, " class='summary'")
        + "\n".join(sections)
        + "</body></html>"
    )
    output.write_text(page, encoding="utf-8")
    return output
