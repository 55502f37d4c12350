"""Reading a notebook's code cells as Python, for the tests that parse or run them: the same
reading as `tools.lessons` (IPython magics and shell lines become `pass`)."""

from tools.lessons import cell_python

__all__ = ["cell_python"]
