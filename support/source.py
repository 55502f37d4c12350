"""The lesson on the page: the exact source of a `support` function or class, shown in a
notebook.

A notebook's lesson is TFP code. Where that code lives in `support` (because tests and other
notebooks need it too), the notebook shows it with `show_source(...)`: the source rendered is
read from the very object the notebook then calls, so what the learner reads is what runs and
there is no second copy to drift. Used by every notebook that imports such a piece.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

__all__ = ["show_source", "source_text"]


def _without_docstring(source: str) -> str:
    tree = ast.parse(source)
    node = tree.body[0]
    body = getattr(node, "body", None)
    if not body or not isinstance(body[0], ast.Expr):
        return source
    first = body[0]
    if not (isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)):
        return source
    lines = source.splitlines(keepends=True)
    # Drop the docstring's lines (1-based, inclusive); the rest of the body stays as written.
    rest = lines[first.end_lineno :]
    if rest and not rest[0].strip():  # the blank line that separated the docstring
        rest = rest[1:]
    return "".join(lines[: first.lineno - 1] + rest)


def _members(source: str, names: list[str], docstring: bool) -> str:
    """A class's header line(s) (its docstring left out) and the named methods only."""
    tree = ast.parse(source).body[0]
    lines = source.splitlines(keepends=True)
    first = tree.body[0]
    decorators = getattr(first, "decorator_list", [])
    kept = lines[: (decorators[0] if decorators else first).lineno - 1]
    found = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
            top = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            text = textwrap.dedent("".join(lines[top - 1 : node.end_lineno]))
            if not docstring:
                text = _without_docstring(text)
            found[node.name] = textwrap.indent(text, "    ")
    missing = [name for name in names if name not in found]
    if missing:
        raise ValueError(f"members {missing} are not defined in the class's own body")
    return "".join(kept) + "\n".join(found[name] for name in names)


def source_text(obj, *, docstring: bool = False, members=None) -> str:
    """The source of a function, method or class, dedented, as the interpreter read it.

    Args:
      obj: a function, method or class defined in a Python file.
      docstring: keep the docstrings (by default they are dropped: the notebook's prose says
        what the code does, and the code is what the learner reads).
      members: for a class, the names of the methods to show (in this order) under its
        header, instead of the whole class. Reading them from the class's source also works
        for methods a decorator wraps without keeping the original (Sonnet's `__call__`).

    Returns:
      The source text, ending with a newline.

    Raises:
      TypeError: if `obj` is not a function, method or class, or `members` is given for
        anything but a class.
      ValueError: if a name in `members` is not a method defined in the class's body.
    """
    target = inspect.unwrap(obj) if callable(obj) else obj
    if not (inspect.isfunction(target) or inspect.ismethod(target) or inspect.isclass(target)):
        raise TypeError(f"obj must be a function, method or class, got {obj!r}")
    if members is not None and not inspect.isclass(target):
        raise TypeError(f"members needs a class, got {obj!r}")
    source = textwrap.dedent(inspect.getsource(target))
    if members is not None:
        members = [members] if isinstance(members, str) else list(members)
        source = _members(source, members, docstring)
    elif not docstring:
        source = _without_docstring(source)
    return source if source.endswith("\n") else source + "\n"


def show_source(*objects, docstring: bool = False, members=None):
    """Shows the source of `objects` in a notebook, highlighted as Python.

    Args:
      *objects: functions, methods or classes, shown one after the other.
      docstring: keep their docstrings.
      members: for classes, the methods to show under each class's header (`source_text`).

    Returns:
      An `IPython.display.Code`: a notebook renders it highlighted, and its plain-text form
      (what papermill and a terminal show) is the source itself.

    Raises:
      TypeError: if no object is given, or one is not a function, method or class.
    """
    if not objects:
        raise TypeError("show_source needs at least one function or class")
    text = "\n\n".join(
        source_text(obj, docstring=docstring, members=members).rstrip("\n") for obj in objects
    )
    from IPython.display import Code  # IPython comes with the notebook kernel

    return Code(text + "\n", language="python")
