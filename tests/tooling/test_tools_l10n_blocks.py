"""Markdown cut into translatable blocks and put back together (tools.l10n.blocks), and what a
translation must keep (tools.l10n.placeholders)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tools.l10n.blocks import OUTDATED_CLASS, Choice, blocks, outline, plain_words, render
from tools.l10n.placeholders import differences, placeholders

ROOT = Path(__file__).resolve().parents[2]
TEXT = """# A title

[![Open In Colab](https://colab.example/badge.svg)](https://colab.example/nb)

A paragraph with `code`, $x^2$ and [a link](https://example.org),
wrapped over two lines.

* a **first** item,
  wrapped;
* a second item

1. ordered

```python
print("never translated")
```

$$
\\int f
$$

| name | what |
| --- | --- |
| `x` | the input, $x \\| y$ |
| $0.5$ | `y` |

> quoted text
"""


def _english_texts() -> list[str]:
    """Every markdown text the repository translates: notebook cells, README, docs pages."""
    texts = [(ROOT / "README.md").read_text(encoding="utf-8")]
    texts += [page.read_text(encoding="utf-8") for page in sorted((ROOT / "docs").glob("*.md"))]
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        texts += [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    return texts


def test_blocks_are_paragraphs_headings_list_items_and_table_cells_with_words():
    found = [(block.kind, block.msgid) for block in blocks(TEXT)]
    assert found == [
        ("heading", "A title"),
        (
            "paragraph",
            "A paragraph with `code`, $x^2$ and [a link](https://example.org), "
            "wrapped over two lines.",
        ),
        ("paragraph", "a **first** item, wrapped;"),
        ("paragraph", "a second item"),
        ("paragraph", "ordered"),
        ("cell", "name"),
        ("cell", "what"),
        ("cell", "the input, $x \\| y$"),
        ("paragraph", "quoted text"),
    ]


def test_badges_code_and_math_alone_are_not_words_to_translate():
    assert not plain_words("[![Open In Colab](https://a.b/badge.svg)](https://a.b/nb)")
    assert not plain_words("`tfp.layers.MixtureNormal`, $p(y \\mid x)$")
    assert plain_words("the [notes](https://a.b)")


def test_a_text_with_nothing_translated_comes_back_unchanged():
    for text in [TEXT, *_english_texts()]:
        assert render(text, lambda block: Choice(), note="n", lang="ko") == text


def test_every_english_text_keeps_its_structure_when_each_block_is_replaced():
    for text in [TEXT, *_english_texts()]:
        same = render(text, lambda block: Choice(translation=block.msgid), note="n", lang="ko")
        assert outline(same) == outline(text)


def test_a_translation_replaces_its_block_and_keeps_list_indentation():
    def choose(block):
        return (
            Choice(translation="첫째\n항목") if block.msgid.startswith("a **first**") else Choice()
        )

    text = render(TEXT, choose, note="n", lang="ko")
    assert "* 첫째\n  항목\n* a second item" in text
    assert outline(text) == outline(TEXT)


def test_an_outdated_block_shows_the_english_then_the_note():
    def choose(block):
        return Choice(outdated=block.msgid == "a second item")

    text = render(TEXT, choose, note="Out of date.", lang="ko")
    note = f'<em class="{OUTDATED_CLASS}" lang="ko">Out of date.</em>'
    assert f"* a second item\n\n  {note}\n\n1. ordered" in text


def test_an_outdated_table_cell_gets_the_note_inside_its_cell():
    text = render(
        TEXT, lambda b: Choice(outdated=b.kind == "cell"), note="old", lang="fa", rtl=True
    )
    row = text.split("\n")[text.split("\n").index("| --- | --- |") + 1]
    assert row == (
        f'| `x` | the input, $x \\| y$ <em class="{OUTDATED_CLASS}" lang="fa" dir="rtl">old</em> |'
    )


def test_right_to_left_wraps_translated_blocks_but_not_code_math_or_english():
    def choose(block):
        return Choice(translation="ترجمه") if block.kind == "heading" else Choice()

    text = render(TEXT, choose, note="n", lang="fa", rtl=True, wrap_rtl=True)
    assert text.startswith('<div dir="rtl" lang="fa">\n\n# ترجمه\n\n</div>\n\n[![Open')
    assert text.count("<div") == 1  # the paragraphs, lists, code and math stay outside


def test_consecutive_translated_blocks_share_one_rtl_wrapper():
    text = "# T\n\nOne.\n\nTwo.\n\n```\ncode\n```\n\nThree.\n"
    out = render(text, lambda b: Choice(translation="ف"), note="n", lang="fa", wrap_rtl=True)
    assert out == (
        '<div dir="rtl" lang="fa">\n\n# ف\n\nف\n\nف\n\n</div>\n\n```\ncode\n```\n\n'
        '<div dir="rtl" lang="fa">\n\nف\n\n</div>\n'
    )


def test_placeholders_are_code_math_link_targets_code_blocks_and_html():
    found = placeholders("`a` $b$ [c](d) ![e](f.png) <br>\n\n```\ng\n```\n\n$$h$$\n")
    assert sorted(found) == [
        ("HTML", "<br>"),
        ("code", "a"),
        ("code block", "g"),
        ("image", "f.png"),
        ("link", "d"),
        ("math", "b"),
        ("math", "h"),
    ]


@pytest.mark.parametrize(
    "translation, problem",
    [
        ("`tfb.exp` 와 $e^x$ [여기](https://a.b/c)", "missing code 'tfb.Exp'"),
        ("`tfb.Exp` 와 $e^y$ [여기](https://a.b/c)", "missing math 'e^x'"),
        ("`tfb.Exp` 와 $e^x$ [여기](https://a.b/d)", "missing link 'https://a.b/c'"),
        ("`tfb.Exp` 와 $e^x$ [여기](https://a.b/c) `extra`", "added code 'extra'"),
    ],
)
def test_a_translation_that_changes_code_math_or_a_link_is_refused(translation, problem):
    english = "See `tfb.Exp` and $e^x$ [here](https://a.b/c)."
    assert problem in differences(english, translation)


def test_a_translation_may_reorder_placeholders_and_translate_link_text():
    english = "See `a` then `b` [here](https://a.b/c)."
    assert differences(english, "[여기](https://a.b/c)에서 `b` 다음 `a`를 보세요.") == []
