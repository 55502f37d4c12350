"""A notebook's lesson cells and `support` hold the same code (tools/lessons.py).

The code a notebook teaches is defined in its cells, tagged `lesson:<module>`, and used from
there; `support` holds the same definitions for the tests and later cells. These tests fail when
the two differ, and show on a small notebook and module that the check can fail.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

from tools import lessons

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0*.ipynb"))

MODULE = """import functools


def checked(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return fn(*args)

    return wrapper


@checked
def double(x):
    return 2 * x


class Shift:
    def __call__(self, x):
        return x + 1
"""


@pytest.fixture
def lesson(tmp_path, monkeypatch):
    """A module `lesson_demo` on the path and a notebook whose lesson cell defines its pieces."""
    (tmp_path / "lesson_demo.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lesson_demo", raising=False)

    def notebook(source: str, tag: str = "lesson:lesson_demo") -> Path:
        book = nbformat.v4.new_notebook()
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = [tag]
        book.cells = [nbformat.v4.new_code_cell("import numpy"), cell]
        path = tmp_path / "01_demo.ipynb"
        nbformat.write(book, path)
        return path

    return notebook


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem[:2] for p in NOTEBOOKS])
def test_every_lesson_cell_is_what_support_holds(path):
    assert lessons.differences(path) == []


def test_a_definition_held_as_written_passes_and_decorators_are_not_compared(lesson):
    source = MODULE.split("@checked\n", 1)[1]  # double and Shift, as the module writes them
    assert lessons.differences(lesson(source)) == []


def test_a_changed_body_is_a_difference_naming_the_definition(lesson):
    found = lessons.differences(lesson("def double(x):\n    return 3 * x\n"))
    assert [(d.cell, d.name, d.problem) for d in found] == [
        (1, "double", "differs from lesson_demo's definition")
    ]


def test_a_definition_the_module_lacks_is_a_difference(lesson):
    found = lessons.differences(lesson("def triple(x):\n    return 3 * x\n"))
    assert [d.problem for d in found] == ["not defined in lesson_demo"]


def test_a_lesson_cell_that_defines_nothing_or_names_no_module_is_a_difference(lesson):
    assert [d.problem for d in lessons.differences(lesson("x = 1\n"))] == [
        "the cell defines nothing"
    ]
    found = lessons.differences(lesson("def f():\n    pass\n", tag="lesson:no_such_module"))
    assert found[0].problem == "no module 'no_such_module'"


def test_write_copies_the_notebook_definition_into_the_module(lesson, tmp_path):
    path = lesson("def double(x):\n    return x + x\n")
    assert lessons.write(path) == ["lesson_demo.double"]
    text = (tmp_path / "lesson_demo.py").read_text()
    assert "@checked\ndef double(x):\n    return x + x\n" in text
    assert "class Shift" in text
    assert lessons.differences(path) == []
    with pytest.raises(ValueError, match="defines no triple"):
        lessons.write(lesson("def triple(x):\n    return 3 * x\n"))
