"""Translations of the notebooks and the site: Korean, Simplified Chinese and Persian.

The English is the one source. Its prose (the notebooks' markdown cells, README.md, the pages
under `docs/`, the site's own words) is cut into blocks (`blocks`: paragraphs, headings, table
cells), one gettext message per block, kept in `locales/<lang>/LC_MESSAGES/<domain>.po`
(`catalogs`, with Babel). Everything else is copied from the English, never translated:

* `notebooks/<lang>/NN_name.ipynb` (`translate`) are the English notebooks with their markdown
  blocks replaced by the catalog's translations: code cells are the English cells, byte for
  byte;
* the site of each language (`tools.site --languages`) is built from the same executed
  notebooks, so its outputs are the English run's.

A block whose English changed since it was translated is *fuzzy*: every page shows the English
block with a one-line note that its translation is out of date, never the old translation.
`checks` finds what CI refuses (a catalog that does not parse, a translation whose code, math or
link targets differ from the English, a stale catalog or translated notebook); coverage is only
reported. `python -m tools l10n` updates everything (`nox -s l10n`), `--check` only checks.

This module holds only constants, so the site's configuration can import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["LANGUAGES", "LOCALES_DIR", "ROOT", "SOURCE_LANGUAGE", "Language"]

ROOT = Path(__file__).resolve().parent.parent.parent
LOCALES_DIR = "locales"
SOURCE_LANGUAGE = "en"


@dataclass(frozen=True)
class Language:
    """A language the suite is translated into."""

    code: str  # gettext's and Sphinx's code: ko, zh_CN, fa
    name: str  # its own name for itself, as the language switcher shows it
    english_name: str
    rtl: bool = False

    @property
    def tag(self) -> str:
        """The BCP 47 tag HTML's `lang` takes (zh-CN for zh_CN)."""
        return self.code.replace("_", "-")


# The translations, in the order the language switcher lists them after English.
LANGUAGES = {
    language.code: language
    for language in (
        Language("ko", "한국어", "Korean"),
        Language("zh_CN", "简体中文", "Simplified Chinese"),
        Language("fa", "فارسی", "Persian", rtl=True),
    )
}
