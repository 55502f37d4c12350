"""The `support` package's layers: its modules import one way only and no developer tooling,
and CONTRIBUTING.md's layout table names every one of them.

Walks every module's imports with `ast` (module level and inside functions alike, so a lazy
import cannot hide a cycle) without importing anything. An import of `support.a.b` is an
edge to that module only: a package's `__init__` re-exporting its submodules is not a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "support"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imported_modules(name: str, path: Path) -> set[str]:
    """The `support` modules that module `name` imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = name.split(".")
                package = package[: len(package) - node.level + (1 if is_package else 0)]
                base = ".".join(package + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in MODULES else base)
    return {module for module in found if module in MODULES and module != name}


GRAPH = {name: _imported_modules(name, path) for name, path in MODULES.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_chain():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_walk_sees_the_known_edges():
    # The FFJORD layers are known edges: if the walk missed them, the cycle test would pass
    # on a package it never read.
    assert "support.flows.ffjord" in GRAPH["support.flows.flow_eval"]
    assert {"support.flows.ode", "support.flows.solvers", "support.flows.traces"} <= GRAPH[
        "support.flows.ffjord"
    ]
    assert "support.runtime" in GRAPH["support"]


def test_support_has_no_import_cycle():
    cycles = _cycles(GRAPH)
    assert not cycles, "modules that import each other, directly or in a loop: " + "; ".join(
        " <-> ".join(cycle) for cycle in cycles
    )


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        ("support.flows.ode", "support.flows.traces"),
        ("support.flows.traces", "support.flows.runge_kutta"),
        ("support.flows.rk_stages", "support.flows.runge_kutta"),
        ("support.flows.runge_kutta", "support.flows.solvers"),
        ("support.flows.solvers", "support.flows.single_solve"),
        ("support.flows.single_solve", "support.flows.ffjord"),
        ("support.flows.ffjord", "support.flows.flow_eval"),
    ],
)
def test_the_ffjord_layers_import_one_way(lower, upper):
    def reaches(start, goal, seen=()):
        return start == goal or any(
            reaches(nxt, goal, (*seen, start)) for nxt in GRAPH[start] if nxt not in seen
        )

    assert not reaches(lower, upper), f"{lower} must not import {upper}, even indirectly"


# The packages by concern and what each may import (CONTRIBUTING.md, "Layers"): the core
# modules import only each other; each package imports the core and the packages listed.
CORE = {"_checks", "runtime", "estimate", "report", "parameters", "batching"}
MAY_IMPORT = {
    "data": CORE,
    "training": CORE,
    "flows": CORE,
    "estimators": CORE,
    "plotting": CORE,
    "distributions": CORE | {"training"},
    "mdn": CORE | {"distributions"},
}


def _concern(module: str) -> str:
    """`support.flows.ode` -> `flows`; `support.runtime` -> `runtime`; `support` -> `support`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "support"


def test_every_package_is_in_the_layer_map():
    concerns = {_concern(name) for name in MODULES} - {"support"}
    assert concerns <= CORE | set(MAY_IMPORT), sorted(concerns - CORE - set(MAY_IMPORT))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_imports_only_the_layers_below_its_package(name):
    concern = _concern(name)
    if concern == "support":  # the package's __init__ re-exports from every layer
        return
    allowed = CORE if concern in CORE else MAY_IMPORT[concern]
    outside = sorted(
        target
        for target in GRAPH[name]
        if _concern(target) != concern and _concern(target) not in allowed
    )
    assert outside == [], f"{name} ({concern}) imports {outside}: see CONTRIBUTING's Layers"


def test_the_layer_check_sees_a_forbidden_edge():
    # flows must not import training: the check would name such an edge.
    assert "training" not in MAY_IMPORT["flows"]
    assert any(_concern(t) == "training" for t in GRAPH["support.distributions.fitting"])


def test_no_module_defines_a_module_level_getattr():
    offenders = [
        name
        for name, path in MODULES.items()
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name == "__getattr__"
    ]
    assert offenders == []


def _third_party_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


TOOLING = {"nbformat", "nbconvert", "papermill", "nbval", "tools"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_package_imports_no_developer_tooling(name):
    assert not _third_party_imports(MODULES[name]) & TOOLING


def test_the_wheel_holds_support_only_and_nbformat_is_not_a_core_dependency():
    import tomllib

    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    assert project["tool"]["setuptools"]["packages"]["find"]["include"] == ["support*"]
    core = " ".join(project["project"]["dependencies"])
    assert not any(tool in core for tool in TOOLING)
    assert any(
        r.startswith("nbformat") for r in project["project"]["optional-dependencies"]["notebooks"]
    )


def _contributing_layout() -> str:
    text = (PACKAGE.parent / "CONTRIBUTING.md").read_text(encoding="utf-8")
    start = text.index("## Layout")
    return text[start : text.index("\n## ", start + 1)]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_contributing_layout_table_names_every_module(name):
    path = MODULES[name].relative_to(PACKAGE)
    layout = _contributing_layout()
    if path.parent != Path("."):  # a subpackage: its folder has a row of its own
        assert f"`support/{path.parent}/`" in layout, f"no row for support/{path.parent}/"
    elif path.name != "__init__.py":
        assert f"`{path.name}`" in layout or f"`support/{path.name}`" in layout, path.name


def test_contributing_layout_table_names_every_top_level_folder():
    import subprocess

    listed = subprocess.run(
        ["git", "ls-files"], cwd=PACKAGE.parent, capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        pytest.skip("not a git checkout: the tracked folders are unknown")
    folders = {line.split("/")[0] for line in listed.stdout.splitlines() if "/" in line}
    layout = _contributing_layout()
    missing = sorted(f for f in folders if f"`{f}/" not in layout)
    assert missing == []
