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


def source_text(obj, *, docstring: bool = False) -> str:
    """The source of a function, method or class, dedented, as the interpreter read it.

    Args:
      obj: a function, method or class defined in a Python file.
      docstring: keep the docstring (by default it is dropped: the notebook's prose says
        what the code does, and the code is what the learner reads).

    Returns:
      The source text, ending with a newline.

    Raises:
      TypeError: if `obj` is not a function, method or class.
    """
    target = inspect.unwrap(obj) if callable(obj) else obj
    if not (inspect.isfunction(target) or inspect.ismethod(target) or inspect.isclass(target)):
        raise TypeError(f"obj must be a function, method or class, got {obj!r}")
    source = textwrap.dedent(inspect.getsource(target))
    if not docstring:
        source = _without_docstring(source)
    return source if source.endswith("\n") else source + "\n"


def show_source(*objects, docstring: bool = False):
    """Shows the source of `objects` in a notebook, highlighted as Python.

    Args:
      *objects: functions, methods or classes, shown one after the other.
      docstring: keep their docstrings.

    Returns:
      An `IPython.display.Code`: a notebook renders it highlighted, and its plain-text form
      (what papermill and a terminal show) is the source itself.

    Raises:
      TypeError: if no object is given, or one is not a function, method or class.
    """
    if not objects:
        raise TypeError("show_source needs at least one function or class")
    text = "\n\n".join(source_text(obj, docstring=docstring).rstrip("\n") for obj in objects)
    from IPython.display import Code  # IPython comes with the notebook kernel

    return Code(text + "\n", language="python")
