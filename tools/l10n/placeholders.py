"""What a translation must keep exactly: inline code, math, link and image targets, code blocks
and raw HTML. A translation may reorder them and translate everything around them (link texts,
an image's alt text, emphasis), but it must hold each one as many times as the English does."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

from markdown_it.token import Token

from tools.l10n.blocks import parser

__all__ = ["differences", "placeholders"]

_KINDS = {
    "code_inline": "code",
    "math_inline": "math",
    "math_inline_double": "math",
    "math_block": "math",
    "math_block_label": "math",
    "amsmath": "math",
    "fence": "code block",
    "code_block": "code block",
    "colon_fence": "code block",
    "html_inline": "HTML",
    "html_block": "HTML",
}


def _walk(tokens: Iterable[Token]):
    for token in tokens:
        yield token
        yield from _walk(token.children or [])


def placeholders(markdown: str) -> Counter:
    """The multiset of what must survive translation unchanged, as (kind, text) pairs.

    >>> sorted(placeholders("See `tfb.Exp` and $e^x$ [here](https://a.b/c)."))
    [('code', 'tfb.Exp'), ('link', 'https://a.b/c'), ('math', 'e^x')]
    """
    return Counter(_placeholders(markdown))


@lru_cache(maxsize=16384)  # `check` compares every message on each run; a text parses once
def _placeholders(markdown: str) -> tuple[tuple[str, str], ...]:
    found = []
    for token in _walk(parser().parse(markdown)):
        if token.type in _KINDS:
            found.append((_KINDS[token.type], token.content.strip()))
        elif token.type == "link_open":
            found.append(("link", str(token.attrGet("href"))))
        elif token.type == "image":
            found.append(("image", str(token.attrGet("src"))))
    return tuple(found)


def differences(english: str, translation: str) -> list[str]:
    """What the translation lost or added of the English's placeholders, one line each (empty
    when it keeps them all).

    >>> differences("`x` is $1$", "`x` は $1$")
    []
    >>> differences("`x` is $1$", "x は $2$")
    ["missing code 'x'", "missing math '1'", "added math '2'"]
    """
    want, have = placeholders(english), placeholders(translation)
    lines = []
    for what, counts in (("missing", want - have), ("added", have - want)):
        for (kind, text), n in counts.items():
            lines.append(f"{what} {kind} {text!r}" + (f" ({n} times)" if n > 1 else ""))
    return lines
