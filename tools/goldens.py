"""Golden cells: the regression checks of the smoke run, kept beside the notebooks.

A code cell tagged `nbval-check-output` (nbval's own tag, out of the learner's sight) is a
golden cell. Its output from the
smoke run (the small CI parameters, `notebooks/smoke/`) is kept in a file of its own,
`notebooks/goldens/<notebook stem>.json`, never in the notebook: the notebooks in git carry no
outputs at all, so nothing a learner reads on GitHub or in Colab can contradict the defaults on
the page. `record` writes that file from an executed smoke run (`python -m tools goldens`);
`inject` puts the recorded outputs into the golden cells of a prepared copy, which
`pytest --nbval-lax` then executes and compares (`nox -s tests`). `check` compares a smoke run
executed elsewhere the same way, without running it again (CI: the Colab stand-in's run). A
golden cell whose source changed, or a smoke set that changed, has no golden and stops the run
until it is re-recorded.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import nbformat

__all__ = [
    "GOLDEN_DIR",
    "GOLDEN_TAG",
    "check",
    "golden_cells",
    "golden_path",
    "inject",
    "load",
    "record",
    "strip",
]

GOLDEN_TAG = "nbval-check-output"
GOLDEN_DIR = Path(__file__).resolve().parent.parent / "notebooks" / "goldens"


def golden_cells(notebook: nbformat.NotebookNode) -> list[int]:
    """Indexes of the code cells whose output is a regression golden."""
    return [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and GOLDEN_TAG in cell.get("metadata", {}).get("tags", [])
    ]


def golden_path(notebook: str | Path, golden_dir: Path = GOLDEN_DIR) -> Path:
    """Where the goldens of `notebook` are kept: `<golden_dir>/<notebook stem>.json`."""
    return Path(golden_dir) / f"{Path(notebook).stem}.json"


def record(
    source: str | Path,
    executed: str | Path,
    parameters: dict[str, Any],
    golden_dir: Path = GOLDEN_DIR,
) -> int:
    """Writes the golden cells' outputs of an executed smoke run to the notebook's golden file.

    Args:
      source: the notebook in `notebooks/`.
      executed: the same notebook executed with `parameters`.
      parameters: the smoke parameters it ran with (kept in the file: `inject` refuses a
        golden recorded with other parameters).
      golden_dir: the folder of golden files.

    Returns:
      The number of golden cells recorded.

    Raises:
      ValueError: if a golden cell is missing from `executed` or raised an error there.
    """
    source, executed = Path(source), Path(executed)
    original = nbformat.read(source, as_version=4)
    ran = nbformat.read(executed, as_version=4)
    ran_by_source: dict[str, Any] = {}
    for cell in ran.cells:
        if cell.cell_type == "code":
            ran_by_source.setdefault(cell.source, cell)
    cells = []
    for i in golden_cells(original):
        match = ran_by_source.get(original.cells[i].source)
        if match is None:
            raise ValueError(f"golden cell {i} of {source.name} not found in {executed}")
        outputs = copy.deepcopy(match.get("outputs", []))
        for output in outputs:
            if output.get("output_type") == "error":
                raise ValueError(f"golden cell {i} of {source.name} raised an error")
            output.pop("execution_count", None)
        cells.append({"source": original.cells[i].source, "outputs": outputs})
    path = golden_path(source, golden_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {"notebook": source.name, "parameters": parameters, "cells": cells}
    path.write_text(json.dumps(content, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return len(cells)


def load(notebook: str | Path, golden_dir: Path = GOLDEN_DIR) -> dict[str, Any]:
    """The recorded goldens of `notebook`.

    Raises:
      ValueError: if the notebook has no golden file.
    """
    path = golden_path(notebook, golden_dir)
    if not path.exists():
        raise ValueError(f"{path} is missing: record it with `python -m tools goldens`")
    return json.loads(path.read_text(encoding="utf-8"))


def inject(prepared: str | Path, parameters: dict[str, Any], golden_dir: Path = GOLDEN_DIR) -> int:
    """Puts the recorded golden outputs into the golden cells of a prepared (parameterised,
    not executed) copy, so that `pytest --nbval-lax` compares them.

    Returns:
      The number of golden cells filled.

    Raises:
      ValueError: if the goldens were recorded with other parameters, or a golden cell has no
        recorded output (its source changed since): re-record with `python -m tools goldens`.
    """
    prepared = Path(prepared)
    recorded = load(prepared, golden_dir)
    again = f"re-record with `python -m tools goldens --only {prepared.stem[:2]}`"
    if recorded["parameters"] != parameters:
        raise ValueError(
            f"the goldens of {prepared.name} were recorded with {recorded['parameters']}, "
            f"not the smoke parameters {parameters}: {again}"
        )
    by_source = {cell["source"]: cell["outputs"] for cell in recorded["cells"]}
    notebook = nbformat.read(prepared, as_version=4)
    count = 0
    for i in golden_cells(notebook):
        cell = notebook.cells[i]
        if cell.source not in by_source:
            raise ValueError(f"golden cell {i} of {prepared.name} has no recorded output: {again}")
        count += 1
        outputs = [nbformat.from_dict(o) for o in copy.deepcopy(by_source[cell.source])]
        for output in outputs:
            if output.get("output_type") == "execute_result":
                output["execution_count"] = count
        cell.outputs = outputs
        cell.execution_count = count  # nbval compares only cells that have one
    nbformat.write(notebook, prepared)
    return count


# What `pytest --nbval-lax` leaves out of a comparison (nbval's IPyNbFile.skip_compare).
NBVAL_SKIPPED = (
    "metadata",
    "traceback",
    "prompt_number",
    "output_type",
    "name",
    "execution_count",
    "application/vnd.jupyter.widget-view+json",
    "image/png",
    "image/jpeg",
)


def check(executed: str | Path, golden_dir: Path = GOLDEN_DIR) -> list[str]:
    """Compares the golden cells of a notebook executed with the smoke parameters (by papermill,
    e.g. the Colab stand-in's run) with their recorded outputs, as `pytest --nbval-lax` compares
    them: streams merged by name, and the keys nbval skips left out.

    Args:
      executed: the executed notebook (`NN_name.ipynb`, papermill's metadata included).
      golden_dir: the folder of golden files.

    Returns:
      One line per problem: a run with other parameters than the goldens', a golden cell
      missing, failed or with other outputs. Empty when every golden cell matches.

    Raises:
      ValueError: if the notebook has no golden file.
    """
    from nbval.plugin import coalesce_streams, transform_streams_for_comparison

    def comparable(outputs: list) -> dict[str, list]:
        outputs = [nbformat.from_dict(copy.deepcopy(o)) for o in outputs]
        grouped = defaultdict(list)  # nbval's grouping: by key, in order within a key
        for output in transform_streams_for_comparison(coalesce_streams(outputs)):
            for key, value in output.items():
                if key == "data":
                    for kind, data in value.items():
                        if kind not in NBVAL_SKIPPED:
                            grouped[kind].append(data)
                elif key not in NBVAL_SKIPPED:
                    grouped[key].append(value)
        return dict(grouped)

    executed = Path(executed)
    recorded = load(executed, golden_dir)
    notebook = nbformat.read(executed, as_version=4)
    ran_with = notebook.metadata.get("papermill", {}).get("parameters")
    if ran_with != recorded["parameters"]:
        return [
            f"{executed.name}: ran with {ran_with}, the goldens were recorded with "
            f"{recorded['parameters']}"
        ]
    ran = {}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            ran.setdefault(cell.source, cell)
    problems = []
    for number, golden in enumerate(recorded["cells"], start=1):
        where = f"{executed.name}: golden cell {number} ({golden['source'].splitlines()[0]!r})"
        cell = ran.get(golden["source"])
        if cell is None:
            problems.append(f"{where} is not in the executed notebook")
        elif any(o.get("output_type") == "error" for o in cell.outputs):
            problems.append(f"{where} raised an error")
        else:
            got, expected = comparable(cell.outputs), comparable(golden["outputs"])
            if got != expected:
                problems.append(f"{where} printed {got}, the golden is {expected}")
    return problems


def strip(path: Path) -> None:
    """Removes every output and execution count from a notebook, as git keeps it (`nox -s
    lint` checks with `nbstripout --verify`). A `keep_output` mark, which would make
    nbstripout keep a cell's output, is dropped first."""
    try:
        import nbstripout  # noqa: F401
    except ImportError:
        raise SystemExit("nbstripout is not installed: pip install -e '.[lint]'") from None
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        cell.metadata.pop("keep_output", None)
    nbformat.write(notebook, path)
    subprocess.run([sys.executable, "-m", "nbstripout", str(path)], check=True)
