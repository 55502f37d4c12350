"""Golden cells: the regression checks a notebook keeps its output for.

A code cell whose first line is `# NBVAL_CHECK_OUTPUT` keeps its output in git, and
`pytest --nbval-lax` compares it (`nox -s tests`). `refresh_goldens` copies those outputs
from an executed copy back into the source notebook (`python -m tools goldens`).
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import nbformat

__all__ = ["GOLDEN_MARK", "golden_cells", "refresh_goldens", "strip"]

GOLDEN_MARK = "# NBVAL_CHECK_OUTPUT"


def golden_cells(notebook: nbformat.NotebookNode) -> list[int]:
    """Indexes of the code cells whose output is a regression golden."""
    return [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and cell.source.lstrip().startswith(GOLDEN_MARK)
    ]


def refresh_goldens(source: str | Path, executed: str | Path) -> int:
    """Copies the golden cells' outputs from an executed copy back into the source notebook.

    Every other cell is left without outputs or execution count; golden cells get
    `keep_output` metadata (so nbstripout keeps them) and an execution count (nbval needs
    one). Returns the number of golden cells written.

    Raises:
      ValueError: if a golden cell is missing from `executed` or raised an error there.
    """
    source, executed = Path(source), Path(executed)
    original = nbformat.read(source, as_version=4)
    ran = nbformat.read(executed, as_version=4)
    ran_by_source = {}
    for cell in ran.cells:
        if cell.cell_type == "code":
            ran_by_source.setdefault(cell.source, cell)
    goldens = set(golden_cells(original))
    count = 0
    for i, cell in enumerate(original.cells):
        if cell.cell_type != "code":
            continue
        if i in goldens:
            match = ran_by_source.get(cell.source)
            if match is None:
                raise ValueError(f"golden cell {i} of {source.name} not found in {executed}")
            outputs = copy.deepcopy(match.get("outputs", []))
            count += 1
            for output in outputs:
                if output.get("output_type") == "error":
                    raise ValueError(f"golden cell {i} of {source.name} raised an error")
                if output.get("output_type") == "execute_result":
                    output["execution_count"] = count
            cell.outputs = outputs
            cell.execution_count = count
            cell.metadata["keep_output"] = True
        else:
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("keep_output", None)
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    nbformat.write(original, source)
    return count


def strip(path: Path) -> None:
    """Normalises a notebook as the lint session expects (nbstripout, keeping counts)."""
    try:
        import nbstripout  # noqa: F401
    except ImportError:
        raise SystemExit("nbstripout is not installed: pip install -e '.[lint]'") from None
    subprocess.run([sys.executable, "-m", "nbstripout", "--keep-count", str(path)], check=True)
