"""Each language's glossary: one agreed rendering per term (`locales/<lang>/glossary.csv`).

The file is a CSV with the columns `term,translation,forms,note` (the layout translation
platforms import as a glossary, with `forms` the rendering's inflected forms a sentence may need,
separated by `;`, such as a Persian plural). TFP's API names are not terms: they stay in code
font, untranslated, and the placeholder check keeps them so. `python -m tools l10n` lists each
current translation whose English uses a term without the translation holding its rendering; it
reports, it does not fail.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog

from tools.l10n import LOCALES_DIR, ROOT

__all__ = ["REQUIRED_TERMS", "Term", "glossary_path", "misses", "read_glossary"]

# Terms every glossary renders (the issue that asked for translations names them).
REQUIRED_TERMS = (
    "bijector",
    "normalizing flow",
    "mixture density network",
    "importance sampling",
    "Renyi divergence",
)
_CODE_OR_MATH = re.compile(r"`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\]\([^)]*\)")


@dataclass(frozen=True)
class Term:
    """A glossary entry."""

    term: str
    translation: str
    forms: tuple[str, ...] = ()
    note: str = ""

    def rendered_in(self, translation: str) -> bool:
        """Whether a translation holds the rendering or one of its forms."""
        return any(form in translation for form in (self.translation, *self.forms))

    def used_in(self, prose: str) -> bool:
        """Whether English prose (with code, math and link targets blanked: `_prose`) uses the
        term."""
        return _term_pattern(self.term).search(prose) is not None


def _prose(english: str) -> str:
    """English without its code, math and link targets."""
    return _CODE_OR_MATH.sub(" ", english)


@cache
def _term_pattern(term: str) -> re.Pattern:
    """The term's words, apart from other words, with an optional plural ending."""
    words = r"\s+".join(re.escape(word) for word in term.split())
    return re.compile(rf"(?<![\w-]){words}(?:s|es)?(?![\w-])", re.IGNORECASE)


def glossary_path(lang: str, root: Path = ROOT) -> Path:
    return Path(root) / LOCALES_DIR / lang / "glossary.csv"


def read_glossary(lang: str, root: Path = ROOT) -> list[Term]:
    """A language's glossary, in its file's order.

    Raises:
      ValueError: if the file lacks a column, or a row its term or translation.
    """
    with open(glossary_path(lang, root), encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    terms = []
    for number, row in enumerate(rows, start=2):
        if not (row.get("term") or "").strip() or not (row.get("translation") or "").strip():
            raise ValueError(f"{glossary_path(lang, root)}:{number}: term and translation needed")
        forms = tuple(f.strip() for f in (row.get("forms") or "").split(";") if f.strip())
        terms.append(
            Term(row["term"].strip(), row["translation"].strip(), forms, row.get("note") or "")
        )
    return terms


def misses(catalog: Catalog, terms: list[Term]) -> list[str]:
    """Each current translation whose English uses a term its translation does not render."""
    found = []
    ordered = sorted(terms, key=lambda t: -len(t.term))  # "normalizing flow" before "flow"
    for message in catalog:
        if not message.id or not message.string or message.fuzzy:
            continue
        prose = _prose(message.id)
        for term in ordered:
            if not term.used_in(prose):
                continue
            if not term.rendered_in(message.string):
                found.append(f"{term.term!r} is {term.translation!r} in: {message.id[:60]!r}")
            # A longer term covers its words: "flow" is not counted again in "normalizing flow".
            prose = re.sub(re.escape(term.term), " ", prose, flags=re.IGNORECASE)
    return found
