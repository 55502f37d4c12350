"""A sweep's plan: its runs, each one's folder name, parameters and key, all checked by the
notebook's own rules (`support.check_parameters` in its check cell) before anything runs."""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import itertools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from tools.notebooks import (
    BUILD_DIR,
    declared_parameters,
    notebooks,
    parameters_cell,
    parameters_for,
    parse_value,
)

__all__ = [
    "LIMIT",
    "Plan",
    "Run",
    "SweepError",
    "find_notebook",
    "make_plan",
    "parameter_checker",
    "parse_seeds",
]

LIMIT = 64  # runs a sweep may have without --yes
SEED_NAME = "SEED"
PACKAGES = ("tfp-notebooks-support", "tensorflow", "tensorflow-probability")


class SweepError(ValueError):
    """A sweep that must not start: an unknown name, an empty or too large grid, a bad value."""


@dataclass
class Run:
    name: str  # also its folder's name
    parameters: dict[str, Any]  # everything papermill injects
    point: dict[str, Any]  # the swept values
    seed: int | None
    key: str = ""


@dataclass
class Plan:
    notebook: Path
    folder: Path
    grid: dict[str, list[Any]]
    seeds: list[int | None]
    fixed: dict[str, Any]
    runs: list[Run] = field(default_factory=list)


def parse_seeds(text: str) -> list[int]:
    """`A:B` is A to B - 1 (Python's range), `a,b,c` those seeds, `n` seed n alone."""
    try:
        if ":" in text:
            start, stop = (int(part) for part in text.split(":"))
            seeds = list(range(start, stop))
        else:
            seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise SweepError(f"--seeds must read A:B or a,b,c (integers), got {text!r}") from None
    if not seeds:
        raise SweepError(f"--seeds {text} holds no seed: the grid would be empty")
    if min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise SweepError(f"--seeds {text} must list distinct non-negative seeds")
    return seeds


def _slug(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "-".join(_slug(v) for v in value) or "empty"
    return re.sub(r"[^A-Za-z0-9.+_-]", "_", str(value))[:40]


def _source_without_magics(source: str) -> str:
    return re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.MULTILINE)


def _is_check(node: ast.AST) -> bool:
    """True for a statement calling `check_parameters` (as `support.check_parameters`, too)."""
    return any(
        isinstance(n, ast.Call)
        and getattr(n.func, "attr", getattr(n.func, "id", None)) == "check_parameters"
        for n in ast.walk(node)
    )


def parameter_checker(path: Path):
    """A function that applies the notebook's check cell to a dict of parameters.

    It runs, in a fresh namespace, the import statements of the cells before the check cell
    (`import support` imports TensorFlow, once), the parameters cell, the values given, and
    the check cell's `check_parameters(...)` statements only (not `support.setup`). None if
    the notebook has no check cell.
    """
    notebook = nbformat.read(path, as_version=4)
    imports, parameters_source = [], parameters_cell(notebook).source
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(_source_without_magics(cell.source))
        checks = [node for node in tree.body if _is_check(node)]
        if checks:
            break
        imports += [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    else:
        return None
    namespace: dict[str, Any] = {"__name__": "__sweep_check__"}
    exec(compile(ast.Module(body=imports, type_ignores=[]), str(path), "exec"), namespace)
    exec(compile(parameters_source, f"{path.name}: parameters", "exec"), namespace)
    check = compile(ast.Module(body=checks, type_ignores=[]), f"{path.name}: check", "exec")

    def apply(values: dict[str, Any]) -> None:
        exec(check, dict(namespace, **values))

    return apply


def find_notebook(text: str) -> Path:
    """A notebook file, or the suite's one notebook whose name contains `text`."""
    if text.endswith(".ipynb") and Path(text).is_file():
        return Path(text).resolve()
    found = notebooks(text)
    if len(found) != 1:
        names = ", ".join(p.name for p in found)
        raise SweepError(f"{text!r} must name one notebook, it matches {names}")
    return found[0]


def _packages() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = ""
    return found


def make_plan(
    notebook: Path,
    grid: Sequence[Sequence[str]],
    seeds: list[int] | None,
    fixed: Sequence[tuple[str, str]] = (),
    *,
    smoke: bool = False,
    name: str | None = None,
    out: Path = BUILD_DIR / "sweeps",
    limit: int = LIMIT,
    yes: bool = False,
) -> Plan:
    """Every run of the sweep, each checked by the notebook's own rules; nothing runs.

    Raises:
      SweepError: naming an unknown parameter, an axis without values, a grid over `limit`
        runs (unless `yes`), or the runs whose values the notebook's check cell rejects.
    """
    declared = declared_parameters(notebook)
    axes: dict[str, list[Any]] = {}
    for name_, *values in grid:
        if name_ in axes:
            raise SweepError(f"-g {name_} is given twice: list all its values after one -g")
        if not values:
            raise SweepError(f"-g {name_} has no values: the grid would be empty")
        axes[name_] = [parse_value(v) for v in values]
        if len({json.dumps(v, sort_keys=True) for v in axes[name_]}) != len(values):
            raise SweepError(f"-g {name_} lists a value twice: {' '.join(values)}")
    unknown = [n for n in [*axes, *(n for n, _ in fixed)] if n not in declared]
    if unknown:
        raise SweepError(
            f"{notebook.name} has no parameter {', '.join(unknown)} "
            f"(it declares {', '.join(declared)})"
        )
    if SEED_NAME in axes or SEED_NAME in dict(fixed):
        raise SweepError(f"sweep seeds with --seeds, not -g/-p {SEED_NAME}")
    if seeds is not None and SEED_NAME not in declared:
        raise SweepError(f"{notebook.name} declares no {SEED_NAME}: drop --seeds")
    base = parameters_for(notebook, list(fixed), smoke=smoke)
    fixed_values = {k: v for k, v in base.items() if k not in axes}  # the grid wins
    plan = Plan(
        notebook, Path(out) / (name or _default_name(notebook, axes)), axes, [], fixed_values
    )
    plan.seeds = seeds if seeds is not None else [declared.get(SEED_NAME)]
    total = len(plan.seeds) * len(list(itertools.product(*axes.values())))
    if total > limit and not yes:
        raise SweepError(f"the sweep has {total} runs, more than {limit}: add --yes to run it")
    digest = hashlib.sha256(notebook.read_bytes()).hexdigest()
    packages = _packages()
    for values in itertools.product(*axes.values()):
        point = dict(zip(axes, values, strict=True))
        for seed in plan.seeds:
            parameters = base | point | ({} if seed is None else {SEED_NAME: seed})
            label = [f"{k}={_slug(v)}" for k, v in point.items()]
            label += [] if seed is None else [f"seed={seed}"]
            record = {"notebook": digest, "parameters": parameters, "packages": packages}
            key = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
            plan.runs.append(Run(",".join(label) or "default", parameters, point, seed, key))
    if len({run.name for run in plan.runs}) < len(plan.runs):  # values with the same slug
        for run in plan.runs:
            run.name += "-" + run.key[:8]
    _check_values(notebook, plan.runs)
    return plan


def _default_name(notebook: Path, axes: dict[str, list[Any]]) -> str:
    return "-".join([notebook.stem, *axes]) if axes else notebook.stem


def _check_values(notebook: Path, runs: list[Run]) -> None:
    checker = parameter_checker(notebook)
    if checker is None:
        return
    problems = []
    for run in runs:
        try:
            checker(run.parameters)
        except Exception as error:  # ParameterError, or a relation's own error
            problems.append(f"{run.name}: {type(error).__name__}: {error}")
    if problems:
        raise SweepError(f"{notebook.name} rejects these runs:\n  " + "\n  ".join(problems))
