"""Every notebook rejects a bad papermill parameter at once, naming it.

For each notebook in `notebooks/` (the list grows as notebooks are added) papermill runs it
with one bad parameter taken from its own `parameters` cell: a string where a number, flag
or list is expected, and a negative `EPOCHS` (or `SEED`, which every notebook declares).
The run must stop in the validation cell, the one right after the parameters, with a
`ParameterError` whose message names that parameter, before any later cell runs: no data
made, no model traced.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools import notebooks as nbtools

NOTEBOOKS = nbtools.notebooks()


def _wrong_type(path: Path) -> tuple[str, object]:
    """The first parameter whose default is not a string, given a string."""
    for name, value in nbtools.declared_parameters(path).items():
        if not isinstance(value, str):
            return name, "not-a-number"
    pytest.skip(f"{path.name} declares only string parameters")


def _out_of_range(path: Path) -> tuple[str, object]:
    declared = nbtools.declared_parameters(path)
    name = "EPOCHS" if "EPOCHS" in declared else "SEED"
    assert name in declared, f"{path.name} declares no SEED in its parameters cell"
    return name, -1


CASES = [
    pytest.param(path, pick, id=f"{path.stem}-{kind}")
    for path in NOTEBOOKS
    for kind, pick in (("wrong-type", _wrong_type), ("out-of-range", _out_of_range))
]


def _run_with(path: Path, parameters: dict, output: Path):
    import papermill

    try:
        papermill.execute_notebook(
            str(path),
            str(output),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(path.parent),
            progress_bar=False,
            log_output=False,
            execution_timeout=300,
        )
    except papermill.PapermillExecutionError as error:
        return error
    return None


@pytest.mark.slow
@pytest.mark.parametrize(("path", "pick"), CASES)
def test_a_bad_parameter_stops_the_notebook_with_a_message_naming_it(path, pick, tmp_path):
    import nbformat

    name, value = pick(path)
    output = tmp_path / path.name
    error = _run_with(path, {name: value}, output)

    assert error is not None, f"{path.name} ran to the end with {name} = {value!r}"
    assert error.ename == "ParameterError", f"{error.ename}: {error.evalue}"
    assert name in error.evalue, error.evalue

    cells = [c for c in nbformat.read(output, as_version=4).cells if c.cell_type == "code"]
    failed = [i for i, c in enumerate(cells) if any(o.output_type == "error" for o in c.outputs)]
    assert len(failed) == 1
    tags = [c.metadata.get("tags", []) for c in cells]
    injected = next(i for i, t in enumerate(tags) if "injected-parameters" in t)
    assert failed[0] == injected + 1, "the check must be the cell right after the parameters"
    assert "check_parameters" in cells[failed[0]].source
    later = [c.execution_count for c in cells[failed[0] + 1 :]]
    assert not any(later), "cells after the parameter check ran"
