"""Markdown cut into translatable blocks, and put back together with their translations.

A block is a paragraph, a heading or a table cell, found with markdown-it-py (the parser MyST
uses, with the site's dollar math and colon fences). Its message id is its Markdown source with
the lines joined by single spaces, so rewrapping a paragraph changes nothing. Code blocks, math
blocks, HTML and blocks without a word to translate (a badge, a cell holding only code or math)
are not blocks: they stay as the English has them.

`render` splices translations into the English text: every character outside a translated
block is the English's, so a text whose blocks all fall back to the English comes out unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from html import escape

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.colon_fence import colon_fence_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin

__all__ = [
    "OUTDATED_CLASS",
    "Block",
    "Choice",
    "blocks",
    "outline",
    "parser",
    "plain_words",
    "render",
]

# The class of the note a fuzzy block carries (the site's style sheet and the tests find it).
OUTDATED_CLASS = "l10n-outdated"
_MARKER = re.compile(r"[^\s>]")  # what a list marker leaves as indentation: spaces
_LETTER = re.compile(r"[^\W\d_]")


@cache
def parser() -> MarkdownIt:
    """CommonMark with tables, raw HTML, and MyST's dollar math, amsmath and colon fences."""
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    md.use(dollarmath_plugin, allow_labels=True, allow_space=True, allow_digits=True)
    return md.use(amsmath_plugin).use(colon_fence_plugin)


@dataclass(frozen=True)
class Block:
    """One translatable block of a Markdown text.

    `start:end` is its source in the text (for a paragraph, from its first word to the end of
    its last line); `after` is where a note goes (the end of its last line, or of a table cell);
    `indent` is what continuation lines start with (a list item's or a quote's indentation);
    `top` numbers the top-level block it belongs to (a list, a table, a paragraph).
    """

    kind: str  # "paragraph", "heading" or "cell"
    msgid: str
    start: int
    end: int
    after: int
    indent: str
    top: int
    ordinal: int  # its position among the text's blocks


@lru_cache(maxsize=16384)
def plain_words(markdown: str) -> bool:
    """Whether a Markdown fragment has a word to translate: a letter outside code, math, HTML,
    link targets and images (an image's alt text is inside its token, not among these)."""
    for token in parser().parseInline(markdown):
        for child in token.children or []:
            if child.type == "text" and _LETTER.search(child.content):
                return True
    return False


def _normalise(content: str) -> str:
    return " ".join(line.strip() for line in content.split("\n")).strip()


def _line_starts(text: str) -> list[int]:
    return [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]


def _line_end(text: str, starts: list[int], line: int) -> int:
    """The offset of the end of `line` (before its newline)."""
    return starts[line + 1] - 1 if line + 1 < len(starts) else len(text)


def _cells(line: str) -> list[tuple[int, int]]:
    """The (start, end) of each cell's stripped text in a table row, GFM's way: unescaped pipes
    split cells, even inside code spans; a pipe that opens or closes the row is not a cell."""
    pipes = [m.start() for m in re.finditer(r"(?<!\\)\|", line)]
    bounds = [-1, *pipes, len(line)]
    spans = []
    for left, right in zip(bounds, bounds[1:], strict=False):
        raw = line[left + 1 : right]
        stripped = raw.strip()
        begin = left + 1 + (raw.index(stripped) if stripped else 0)
        spans.append((begin, begin + len(stripped)))
    if pipes and not line[: pipes[0]].strip():
        spans = spans[1:]
    if pipes and not line[pipes[-1] + 1 :].strip():
        spans = spans[:-1]
    return spans


def _is_top(token: Token) -> bool:
    return token.level == 0 and token.nesting >= 0 and token.map is not None


def blocks(text: str) -> list[Block]:
    """The translatable blocks of a Markdown text, in order.

    Args:
      text: a markdown cell's source or a page's text.

    Returns:
      One `Block` per paragraph, heading or table cell with a word to translate.
    """
    return list(_blocks(text))


@lru_cache(maxsize=4096)  # each text is read several times: templates, catalogs, notebooks
def _blocks(text: str) -> tuple[Block, ...]:
    tokens = parser().parse(text)
    starts = _line_starts(text)
    found: list[Block] = []
    top, row, cell = -1, (0, []), -1
    for k, token in enumerate(tokens):
        top += _is_top(token)
        if token.type == "tr_open" and token.map:
            line = token.map[0]
            row, cell = (line, _cells(text[starts[line] : _line_end(text, starts, line)])), -1
        cell += token.type in ("th_open", "td_open")
        if token.type != "inline" or not plain_words(token.content):
            continue
        opener = tokens[k - 1]
        if opener.type in ("th_open", "td_open"):
            block = _cell(text, starts, token, row, cell, top, len(found))
        else:
            block = _block(text, starts, token, opener, top, len(found))
        if block is not None:
            found.append(block)
    return tuple(found)


def _cell(text, starts, inline, row, cell, top, ordinal) -> Block | None:
    line, spans = row
    if cell >= len(spans):
        return None
    begin, end = spans[cell]
    start, stop = starts[line] + begin, starts[line] + end
    source = text[start:stop]  # the cell's Markdown: an escaped pipe stays escaped
    if source.replace("\\|", "|") != inline.content.strip():
        return None  # not where GFM's split puts it: leave the cell as it is
    return Block("cell", _normalise(source), start, stop, stop, "", top, ordinal)


def _block(text, starts, inline, opener, top, ordinal) -> Block | None:
    if opener.map is None:
        return None
    first, last = opener.map[0], opener.map[1] - 1
    kind = "heading" if opener.type == "heading_open" else "paragraph"
    if kind == "heading" and opener.markup in ("=", "-"):  # setext: the text above its rule
        last -= 1
    line = text[starts[first] : _line_end(text, starts, first)]
    head = inline.content.split("\n", 1)[0].strip()
    column = line.find(head)
    if column < 0:
        return None
    prefix = line[:column]
    start = starts[first] + column
    if kind == "heading" and opener.markup.startswith("#"):
        end = start + len(head)
    else:
        end = _line_end(text, starts, last)
    after = _line_end(text, starts, opener.map[1] - 1)
    indent = _MARKER.sub(" ", prefix)
    return Block(kind, _normalise(inline.content), start, end, after, indent, top, ordinal)


def outline(text: str) -> list[str]:
    """The block structure of a Markdown text (token types and nesting, no content): a
    translation must leave it as the English has it."""
    return list(_outline(text))


@lru_cache(maxsize=16384)  # `check` compares every message on each run; a text parses once
def _outline(text: str) -> tuple[str, ...]:
    return tuple(f"{t.level}:{t.type}" for t in parser().parse(text) if t.nesting >= 0)


@dataclass(frozen=True)
class Choice:
    """What to show for one block: a translation, or the English (with a note if outdated)."""

    translation: str | None = None
    outdated: bool = False


def _note(note: str, lang: str, rtl: bool) -> str:
    direction = ' dir="rtl"' if rtl else ""
    return f'<em class="{OUTDATED_CLASS}" lang="{lang}"{direction}>{escape(note, quote=False)}</em>'


def render(
    text: str,
    choose: Callable[[Block], Choice],
    *,
    note: str,
    lang: str,
    rtl: bool = False,
    wrap_rtl: bool = False,
) -> str:
    """`text` with each block replaced as `choose` says.

    Args:
      text: the English Markdown.
      choose: for each block, its `Choice`.
      note: the one-line note under an outdated block (in the target language).
      lang: the BCP 47 tag of the target language (for the note's `lang`).
      rtl: whether the target language is written right to left (the note's direction).
      wrap_rtl: also wrap each top-level block holding a translation in
        `<div dir="rtl" lang=...>` (for Jupyter's and Colab's markdown, which no style sheet
        reaches); code blocks, math blocks and English blocks stay outside, left to right.

    Returns:
      The translated Markdown.
    """
    edits: list[tuple[int, int, int, str]] = []  # (start, order, end, replacement)
    translated_tops: dict[int, list[Block]] = {}
    found = blocks(text)
    for block in found:
        choice = choose(block)
        if choice.translation is not None:
            edits.append((block.start, 1, block.end, _reindent(choice.translation, block)))
            translated_tops.setdefault(block.top, []).append(block)
        elif choice.outdated:
            edits.append((block.after, 2, block.after, _with_note(text, block, note, lang, rtl)))
    if wrap_rtl and translated_tops:
        edits += _rtl_wraps(text, translated_tops, lang)
    out, cursor = [], 0
    for start, _, end, replacement in sorted(edits):
        out.append(text[cursor:start])
        out.append(replacement)
        cursor = max(cursor, end)
    out.append(text[cursor:])
    return "".join(out)


def _reindent(translation: str, block: Block) -> str:
    lines = [line.strip() for line in translation.strip().split("\n")]
    if block.kind != "paragraph":
        return " ".join(line for line in lines if line)
    return ("\n" + block.indent).join(lines)


def _with_note(text: str, block: Block, note: str, lang: str, rtl: bool) -> str:
    html = _note(note, lang, rtl)
    if block.kind == "cell":
        return " " + html
    blank = "\n" + block.indent.rstrip()
    rest = text[block.after + 1 :]
    gap = blank if rest and not rest.split("\n", 1)[0].strip(" >") == "" else ""
    return f"{blank}\n{block.indent}{html}{gap}"


def _rtl_wraps(text: str, tops: dict[int, list[Block]], lang: str) -> list:
    """Insertions that open an rtl div before, and close it after, each run of consecutive
    top-level blocks that hold a translation (code and English blocks break a run)."""
    starts = _line_starts(text)
    spans = {}
    top = -1
    for token in parser().parse(text):
        if not _is_top(token):
            continue
        top += 1
        if top in tops:
            first, stop = token.map
            while (
                stop - 1 > first
                and not text[starts[stop - 1] : _line_end(text, starts, stop - 1)].strip()
            ):
                stop -= 1  # a list's map takes in the blank line after it
            spans[top] = (starts[first], _line_end(text, starts, stop - 1))
    edits = []
    for top, (begin, end) in spans.items():
        if top - 1 not in spans:
            edits.append((begin, 0, begin, f'<div dir="rtl" lang="{lang}">\n\n'))
        if top + 1 not in spans:
            rest = text[end + 1 :]
            gap = "\n" if rest and not rest.startswith("\n") else ""
            edits.append((end, 3, end, f"\n\n</div>{gap}"))
    return edits
