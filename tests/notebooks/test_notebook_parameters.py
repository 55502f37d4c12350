"""Every notebook rejects a bad papermill parameter at once, naming it.

For each notebook in `notebooks/` (the list grows as notebooks are added) the bad values are
taken from its own `parameters` cell: a string where a number, flag or list is expected, and
a negative `EPOCHS` (or `SEED`, which every notebook declares); also a misspelt name
(papermill itself only warns) and a grid too large for memory. Each is put to the
notebook's own check cell, run in this process as the sweep runs it before a sweep
(`tools.sweep.plan.parameter_checker`): it must raise a `ParameterError` naming the
parameter. And papermill runs every notebook once with a bad value: the run must stop in
the validation cell, the one right after the parameters, before any later cell runs: no
data made, no model traced.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from tools import notebooks as nbtools
from tools.sweep.plan import parameter_checker

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


@functools.cache
def _checker(path: Path):
    checker = parameter_checker(path)
    assert checker is not None, f"{path.name} has no check cell"
    return checker


def _assert_rejected(path: Path, values: dict, *words: str) -> None:
    from support.parameters import ParameterError

    with pytest.raises(ParameterError) as caught:
        _checker(path)(values)
    for word in words:
        assert word in str(caught.value), str(caught.value)


def _notebook(prefix: str) -> Path:
    return next(path for path in NOTEBOOKS if path.name.startswith(prefix))


@pytest.mark.parametrize(("path", "pick"), CASES)
def test_a_bad_parameter_is_rejected_by_the_notebooks_check_naming_it(path, pick):
    name, value = pick(path)
    _checker(path)({})  # the defaults pass: the value given is what fails
    _assert_rejected(path, {name: value}, name)


def test_a_misspelt_parameter_is_rejected_naming_it_and_the_close_match():
    path = _notebook("02")
    assert "EPOCHS" in nbtools.declared_parameters(path)
    _assert_rejected(path, {"EPOCH": 1}, "EPOCH ", "did you mean EPOCHS?")


def test_notebook_01_rejects_more_mixture_components_than_fit_6_apart():
    path = _notebook("01")
    _assert_rejected(path, {"EVENT_SIZE": 1, "NUM_COMPONENTS": 4}, "EVENT_SIZE", "NUM_COMPONENTS")


def test_notebook_01_rejects_dimensions_where_its_components_are_too_wide_to_tell_apart():
    path = _notebook("01")
    _checker(path)({"EVENT_SIZE": 16})  # the largest allowed, at the default seed
    _assert_rejected(path, {"EVENT_SIZE": 17}, "EVENT_SIZE", "<= 16")
    # one of the draws at 16 dimensions whose components come out too wide
    _assert_rejected(path, {"EVENT_SIZE": 16, "SEED": 40}, "EVENT_SIZE", "SEED", "three of them")


@pytest.mark.parametrize("prefix", ["02", "03"])
def test_a_grid_too_large_for_memory_is_rejected(prefix):
    path = _notebook(prefix)  # a 200000 x 200000 grid: > 1 TiB
    _assert_rejected(path, {"GRID_SIZE": 200_000}, "GRID_SIZE", "GiB", "memory budget")


def test_notebook_02_rejects_a_grid_too_coarse_to_hold_the_densitys_mass():
    path = _notebook("02")
    _checker(path)({"GRID_SIZE": 30})
    _assert_rejected(path, {"GRID_SIZE": 29}, "GRID_SIZE", ">= 30")
    # The page's window, summed on its grid as section 5 does: from 30 points per axis on, the
    # sum holds the true density's mass to 0.01, a fifth of the page's check on the model's mass
    # (0.05); coarser grids can miss it by 5% or more.
    import numpy as np

    from support import data

    (line,) = [
        line.strip()
        for cell in _code_cells(path)
        for line in cell.splitlines()
        if line.strip().startswith("x, y = np.linspace(")
    ]

    def true_mass(size: int) -> float:
        namespace = {"np": np, "GRID_SIZE": size}
        exec(line, namespace)  # noqa: S102
        x, y = namespace["x"], namespace["y"]
        points = np.stack([a.ravel() for a in np.meshgrid(x, y)], axis=-1)
        return float(np.exp(data.moons_log_prob(points)).sum() * (x[1] - x[0]) * (y[1] - y[0]))

    assert all(abs(true_mass(size) - 1) < 0.01 for size in range(30, 101))
    assert any(abs(true_mass(size) - 1) > 0.05 for size in range(2, 30))


def test_notebook_02_offers_the_solvers_it_can_train_with_and_refuses_bdf():
    path = _notebook("02")
    for solver in ("rk4", "dormand_prince"):
        _checker(path)({"SOLVER": solver})
    _assert_rejected(path, {"SOLVER": "bdf"}, "SOLVER", "dormand_prince")


def test_notebook_03_accepts_both_recipes_and_rejects_any_other_naming_recipe():
    path = _notebook("03")
    for recipe in ("page", "question"):
        _checker(path)({"RECIPE": recipe})
    _assert_rejected(path, {"RECIPE": "questions"}, "RECIPE", "question")
    _assert_rejected(path, {"RECIPE": 2}, "RECIPE")


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


def _assert_stopped_by_the_check_cell(error, output: Path, *words: str) -> None:
    import nbformat

    assert error is not None, f"{output.name} ran to the end"
    assert error.ename == "ParameterError", f"{error.ename}: {error.evalue}"
    for word in words:
        assert word in error.evalue, error.evalue

    cells = [c for c in nbformat.read(output, as_version=4).cells if c.cell_type == "code"]
    failed = [i for i, c in enumerate(cells) if any(o.output_type == "error" for o in c.outputs)]
    assert len(failed) == 1
    tags = [c.metadata.get("tags", []) for c in cells]
    injected = next(i for i, t in enumerate(tags) if "injected-parameters" in t)
    assert failed[0] == injected + 1, "the check must be the cell right after the parameters"
    assert "check_parameters" in cells[failed[0]].source
    later = [c.execution_count for c in cells[failed[0] + 1 :]]
    assert not any(later), "cells after the parameter check ran"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_papermill_with_a_bad_parameter_stops_in_the_check_cell_naming_it(path, tmp_path):
    # Wrong type for two notebooks, out of range for the other two: both kinds end to end.
    pick = _wrong_type if NOTEBOOKS.index(path) % 2 == 0 else _out_of_range
    name, value = pick(path)
    output = tmp_path / path.name
    error = _run_with(path, {name: value}, output)
    _assert_stopped_by_the_check_cell(error, output, name)


@pytest.mark.slow
def test_papermill_runs_notebook_03_with_the_questions_recipe_at_smoke_size(tmp_path):
    import nbformat

    path = _notebook("03")
    parameters = {**nbtools.load_smoke_parameters(path), "RECIPE": "question"}
    output = tmp_path / path.name
    error = _run_with(path, parameters, output)
    assert error is None, f"{error.ename}: {error.evalue}"
    printed = "".join(
        out.get("text", "")
        for cell in nbformat.read(output, as_version=4).cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )
    assert "question {'num_train': 2000, 'num_components': 5" in printed
    assert "this run uses: question" in printed
    assert "MDN (question recipe)" in printed  # its gap to the truth
    assert "heaviest first" in printed  # its mixture parameters at x = 1
    assert "all sanity checks passed" in printed


# ---------------------------------------------------------------- one vocabulary, one check

#: Names once used for what the shared names below now mean (`-p` applies a name to every
#: notebook that declares it, so one meaning needs one name).
RETIRED = {
    "N_TRAIN": "NUM_TRAIN",
    "NUM_POINTS": "NUM_TRAIN",
    "N_TEST": "NUM_HELD_OUT",
    "N_SAMPLES": "NUM_SAMPLES",
    "HIDDEN_UNITS": "HIDDEN_SIZES",
}


def _code_cells(path: Path) -> list[str]:
    import nbformat

    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_notebook_declares_a_retired_name(path):
    used = set(nbtools.declared_parameters(path)) & set(RETIRED)
    assert not used, {name: f"use {RETIRED[name]}" for name in used}


def test_a_name_shared_by_notebooks_has_the_same_kind_of_value_in_each():
    kinds: dict[str, set[str]] = {}
    for path in NOTEBOOKS:
        for name, value in nbtools.declared_parameters(path).items():
            kinds.setdefault(name, set()).add(type(value).__name__)
    assert {name: k for name, k in kinds.items() if len(k) > 1} == {}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_check_cell_has_a_rule_for_every_declared_parameter_and_then_calls_setup(path):
    import re

    cells = _code_cells(path)
    check = next(source for source in cells if "check_parameters(" in source)
    ruled = set(re.findall(r"^    ([A-Z][A-Z0-9_]*)=", check, flags=re.MULTILINE))
    assert ruled == set(nbtools.declared_parameters(path))
    assert check.rstrip().endswith("support.setup(SEED);")
    assert sum("support.setup(" in source for source in cells) == 1
