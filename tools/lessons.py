"""Lesson cells: the code a notebook teaches, defined on its page and held by `support` too.

A code cell tagged `lesson:<module>` (for instance `lesson:support.distributions.zoo`) defines
the lesson's functions and classes in plain TFP, and the notebook uses them from there. The named
module holds the same definitions, for the tests and other notebooks: one source, two uses, as d2l's
`#@save`. Each top-level `def` or `class` of the cell must match the module's definition of the
same name character for character, from its `def` / `class` line to its end. Decorators above
that line are not compared: the package's copy may be wrapped with argument checks that the page
does not show.

`python -m tools lessons` lists the differences; `python -m tools lessons --write` copies each
notebook's definitions into the package (the notebook is the source to edit).
"""

from __future__ import annotations

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import nbformat

__all__ = [
    "LESSON_TAG",
    "Definition",
    "Difference",
    "cell_definitions",
    "cell_python",
    "differences",
    "lesson_cells",
    "module_definitions",
    "write",
]

LESSON_TAG = "lesson:"


@dataclass(frozen=True)
class Definition:
    """A top-level `def` or `class`: its name, its text (from the `def` / `class` line on) and
    the 1-based lines it spans in its file (decorators excluded)."""

    name: str
    text: str
    first_line: int
    last_line: int


@dataclass(frozen=True)
class Difference:
    """A lesson definition that the package does not hold as written on the page."""

    notebook: str
    cell: int
    module: str
    name: str
    problem: str

    def __str__(self) -> str:
        return f"{self.notebook}, cell {self.cell}: {self.name} ({self.module}): {self.problem}"


def cell_python(source: str) -> str:
    """A cell's source as Python: IPython magics and shell lines become `pass`."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")):
            line = line[: len(line) - len(stripped)] + "pass"
        lines.append(line)
    return "\n".join(lines)


def _definitions(source: str) -> dict[str, Definition]:
    """The top-level functions and classes of `source`, by name."""
    found = {}
    lines = source.splitlines()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            text = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            found[node.name] = Definition(node.name, text, node.lineno, node.end_lineno)
    return found


def lesson_cells(notebook: nbformat.NotebookNode) -> list[tuple[int, str, str]]:
    """(cell index, module name, source) of every code cell tagged `lesson:<module>`."""
    cells = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        for tag in cell.get("metadata", {}).get("tags", []):
            if tag.startswith(LESSON_TAG):
                cells.append((index, tag[len(LESSON_TAG) :], cell.source))
    return cells


def cell_definitions(source: str) -> dict[str, Definition]:
    """The functions and classes a lesson cell defines, by name."""
    return _definitions(cell_python(source))


def _module_file(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"no module {module!r}")
    return Path(spec.origin)


def module_definitions(module: str) -> dict[str, Definition]:
    """The top-level functions and classes of `module`'s source file, by name (not imported)."""
    return _definitions(_module_file(module).read_text(encoding="utf-8"))


def differences(path: str | Path) -> list[Difference]:
    """Every lesson definition of the notebook at `path` that its module does not hold as
    written, and every lesson cell that defines nothing."""
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    found = []
    for index, module, source in lesson_cells(notebook):
        defined = cell_definitions(source)
        if not defined:
            found.append(Difference(path.name, index, module, "-", "the cell defines nothing"))
            continue
        try:
            held = module_definitions(module)
        except ValueError as error:
            found.append(Difference(path.name, index, module, "-", str(error)))
            continue
        for name, definition in defined.items():
            if name not in held:
                problem = f"not defined in {module}"
            elif held[name].text != definition.text:
                problem = f"differs from {module}'s definition"
            else:
                continue
            found.append(Difference(path.name, index, module, name, problem))
    return found


def write(path: str | Path) -> list[str]:
    """Copies each lesson definition of the notebook at `path` over its module's definition of
    the same name (which must exist: a new definition is added to the module by hand, with its
    imports). Returns `module.name` of each definition it changed."""
    notebook = nbformat.read(Path(path), as_version=4)
    changed = []
    for _, module, source in lesson_cells(notebook):
        file = _module_file(module)
        for name, definition in cell_definitions(source).items():
            text = file.read_text(encoding="utf-8")
            held = _definitions(text).get(name)
            if held is None:
                raise ValueError(f"{module} defines no {name}: add it there first")
            if held.text == definition.text:
                continue
            lines = text.splitlines()
            lines[held.first_line - 1 : held.last_line] = definition.text.splitlines()
            file.write_text("\n".join(lines) + "\n", encoding="utf-8")
            changed.append(f"{module}.{name}")
    return changed
