"""support.source: the source a notebook shows is the source of the object it calls."""

import inspect

import pytest

from support.source import show_source, source_text


def documented(x):
    """Doubles x.

    More words.
    """
    return 2 * x


class Shifted:
    """A class with a docstring."""

    def __init__(self, by):
        self.by = by


def test_source_text_drops_the_docstring_and_keeps_the_code():
    text = source_text(documented)
    assert "Doubles" not in text
    assert text == "def documented(x):\n    return 2 * x\n"


def test_source_text_keeps_the_docstring_when_asked():
    assert source_text(documented, docstring=True) == inspect.getsource(documented)


def test_a_class_is_shown_whole_without_its_docstring():
    text = source_text(Shifted)
    assert text.startswith("class Shifted:\n    def __init__")  # no blank line left behind
    assert "self.by = by" in text
    assert "A class with a docstring" not in text


def test_a_method_is_dedented():
    assert source_text(Shifted.__init__).startswith("def __init__(self, by):")


def test_the_shown_source_is_the_object_that_runs():
    namespace = {}
    exec(source_text(documented), namespace)  # noqa: S102 - the shown text, run
    assert namespace["documented"](21) == documented(21) == 42


def test_show_source_renders_highlighted_python_whose_plain_text_is_the_source():
    shown = show_source(documented, Shifted)
    assert repr(shown) == source_text(documented) + "\n" + source_text(Shifted)
    assert "<span" in shown._repr_html_()


@pytest.mark.parametrize("bad", [42, "documented", None])
def test_anything_but_a_function_or_class_is_refused(bad):
    with pytest.raises(TypeError, match="obj must be a function, method or class"):
        source_text(bad)


def test_show_source_needs_an_object():
    with pytest.raises(TypeError, match="at least one"):
        show_source()


def wrapped_without_trace(method):
    def wrapper(self, *args):  # keeps no reference to `method`, as Sonnet's name scope does
        return method(self, *args)

    return wrapper


class Field:
    """A class whose methods are shown one by one."""

    def __init__(self, scale):
        """Stores the scale."""
        self.scale = scale

    @wrapped_without_trace
    def __call__(self, x):
        """Scales x."""
        return self.scale * x

    def unrelated(self):
        return None


def test_members_show_the_class_header_and_the_named_methods_in_order():
    text = source_text(Field, members=["__call__", "__init__"])
    assert text.startswith("class Field:\n    @wrapped_without_trace\n    def __call__(self, x):")
    assert "return self.scale * x" in text and "self.scale = scale" in text
    assert text.index("__call__") < text.index("__init__")
    assert "unrelated" not in text and "Scales x" not in text and "A class whose" not in text
    namespace = {"wrapped_without_trace": lambda f: f}
    exec(text, namespace)  # noqa: S102 - the shown text is valid Python
    assert namespace["Field"](3)(2) == 6


def test_members_keep_docstrings_when_asked_and_refuse_unknown_names_or_non_classes():
    assert '"""Scales x."""' in source_text(Field, members="__call__", docstring=True)
    with pytest.raises(ValueError, match="missing_method"):
        source_text(Field, members=["missing_method"])
    with pytest.raises(TypeError, match="members needs a class"):
        source_text(documented, members=["x"])


def test_show_source_passes_members_on():
    assert repr(show_source(Field, members=["__init__"])) == source_text(
        Field, members=["__init__"]
    )
