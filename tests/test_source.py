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
