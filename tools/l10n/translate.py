"""English Markdown and notebooks put into another language with its catalogs.

A `Localizer` holds one language's catalog of one English source, brought up to date with that
English in memory (as `python -m tools l10n` would write it), so what it shows is never older
than the English it is given: a block is shown translated only when its message is translated,
not fuzzy and keeps the English's code, math and links; a fuzzy block is shown in English with
the out-of-date note; anything else in English.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from pathlib import Path

import nbformat
from babel.messages.catalog import Catalog

from tools.l10n import LANGUAGES, ROOT
from tools.l10n.blocks import Block, Choice, render
from tools.l10n.catalogs import (
    OUTDATED_NOTE,
    SITE_MESSAGES,
    catalog_path,
    load,
    notebook_texts,
    template,
    updated,
)
from tools.l10n.placeholders import differences

__all__ = [
    "COLAB",
    "Localizer",
    "current_catalog",
    "localizer",
    "site_words",
    "translated_notebook",
]

COLAB = "https://colab.research.google.com/github/tfp-notebooks/tfp-notebooks/blob/main/"
_COLAB_NOTEBOOK = re.compile(re.escape(COLAB) + r"notebooks/(?=[0-9][0-9]_[\w-]+\.ipynb)")
_LINK_TARGET = re.compile(r"(\]\()([^)\s]+)(\))")


def current_catalog(
    lang: str, domain: str, texts: Iterable[tuple[str, str]] | None, root: Path = ROOT
) -> Catalog:
    """A language's catalog of a domain, as the repository holds it, updated in memory to the
    English `texts` (None: the site's own words)."""
    path = catalog_path(lang, domain, root)
    existing = load(path, lang, domain) if path.is_file() else None
    return updated(template(texts, domain), existing, lang, domain)


def _translation(catalog: Catalog, msgid: str) -> str | None:
    """The message's translation if it is current and keeps the English's placeholders."""
    message = catalog.get(msgid)
    if message is None or not message.string or message.fuzzy:
        return None
    return None if differences(msgid, message.string) else message.string


def site_words(lang: str, root: Path = ROOT) -> dict[str, str]:
    """The site's own words (`catalogs.SITE_MESSAGES`) in a language, English where untranslated."""
    catalog = current_catalog(lang, "site", None, root)
    return {msgid: _translation(catalog, msgid) or msgid for msgid in SITE_MESSAGES}


class Localizer:
    """One language's translations of one English source.

    Args:
      lang: the language's code (`tools.l10n.LANGUAGES`).
      catalog: its catalog, up to date with the English (`current_catalog`).
      note: the out-of-date note in that language.
    """

    def __init__(self, lang: str, catalog: Catalog, note: str = OUTDATED_NOTE):
        self.language = LANGUAGES[lang]
        self.catalog = catalog
        self.note = note

    def choose(self, block: Block) -> Choice:
        message = self.catalog.get(block.msgid)
        if message is None or not message.string:
            return Choice()
        translation = _translation(self.catalog, block.msgid)
        if translation is not None and not (block.kind != "paragraph" and "\n\n" in translation):
            return Choice(translation=translation)
        return Choice(outdated=True)  # fuzzy, or a translation that lost code, math or links

    def markdown(self, text: str, wrap_rtl: bool = False) -> str:
        """English Markdown in this language (`blocks.render`)."""
        return render(
            text,
            self.choose,
            note=self.note,
            lang=self.language.tag,
            rtl=self.language.rtl,
            wrap_rtl=wrap_rtl and self.language.rtl,
        )


def localizer(
    lang: str,
    domain: str,
    texts: Iterable[tuple[str, str]],
    root: Path = ROOT,
    catalog: Catalog | None = None,
) -> Localizer:
    """The `Localizer` of English `texts` (`catalogs.notebook_texts`, or [(page, text)]), with
    `catalog`, their `current_catalog` when the caller has it already."""
    note = site_words(lang, root)[OUTDATED_NOTE]
    if catalog is None:
        catalog = current_catalog(lang, domain, list(texts), root)
    return Localizer(lang, catalog, note)


def _relocated(markdown: str, lang: str, relative: bool = True) -> str:
    """Links of a notebook in another language: Colab opens the language's copy (in
    `notebooks/<lang>/`), and, with `relative`, a relative link (not to a sibling notebook)
    reaches one folder up from there."""

    def retarget(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"[a-z][a-z0-9+.-]*:|#|/", target) or re.match(r"[0-9][0-9]_", target):
            return match.group(0)
        return f"{match.group(1)}../{target}{match.group(3)}"

    markdown = _COLAB_NOTEBOOK.sub(f"{COLAB}notebooks/{lang}/", markdown)
    return _LINK_TARGET.sub(retarget, markdown) if relative else markdown


def translated_notebook(
    english: nbformat.NotebookNode,
    path: str,
    lang: str,
    root: Path = ROOT,
    *,
    for_jupyter: bool = True,
    catalog: Catalog | None = None,
) -> nbformat.NotebookNode:
    """A notebook in another language: the English with only its markdown cells translated.

    Args:
      english: the English notebook (as stored, or executed: outputs are kept as they are).
      path: its path in the repository, `notebooks/NN_name.ipynb` (the catalog's domain and
        the messages' locations).
      lang: the language's code.
      root: the repository (its `locales/`).
      for_jupyter: the copy stored in `notebooks/<lang>/`: right-to-left prose wrapped in
        `<div dir="rtl">` for Jupyter and Colab, relative links pointing from there. False for
        the site, which styles direction itself and keeps the English layout. Either way the
        Colab badge opens the language's copy.
      catalog: the notebook's `current_catalog` in `lang`, when the caller has it already.

    Returns:
      A new notebook; every code cell is the English cell, unchanged.
    """
    texts = notebook_texts(english, path)
    local = localizer(lang, Path(path).stem, texts, root, catalog)
    notebook = copy.deepcopy(english)
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        text = local.markdown(cell.source, wrap_rtl=for_jupyter)
        cell.source = _relocated(text, lang, relative=for_jupyter)
    return notebook
