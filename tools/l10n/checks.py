"""What CI refuses in the translations, and what is only reported.

Refused (`Report.problems`): a catalog that does not parse; a current translation whose inline
code, math, link targets, code blocks or HTML differ from its English (`placeholders`), or that
changes the Markdown's block structure (a table cell split in two, a paragraph become a list); a
translated notebook whose cells are not the English's cells (every code cell byte for byte); a
catalog or translated notebook that `python -m tools l10n` would change (the English moved on
without them). Reported only: how much is translated, and glossary misses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError

from tools.l10n import LANGUAGES, ROOT
from tools.l10n.blocks import Choice, blocks, outline, render
from tools.l10n.catalogs import (
    Counts,
    Source,
    catalog_path,
    counts,
    dump,
    english_texts,
    load,
    sources,
    written_as,
)
from tools.l10n.glossary import glossary_path, misses, read_glossary
from tools.l10n.placeholders import differences
from tools.l10n.translate import current_catalog, translated_notebook

_PIPE = re.compile(r"(?<!\\)\|")  # a pipe that would split a table cell

__all__ = [
    "Report",
    "check",
    "expected_catalog",
    "expected_notebook",
    "notebook_problems",
    "translated_path",
]


@dataclass
class Report:
    """The outcome of checking every language's catalogs and notebooks."""

    problems: list[str] = field(default_factory=list)  # CI fails on any
    counts: dict[tuple[str, str], Counts] = field(default_factory=dict)  # (lang, domain)
    glossary: list[str] = field(default_factory=list)  # reported only


def translated_path(lang: str, source: Source, root: Path = ROOT) -> Path:
    """Where a notebook's translation is stored: `notebooks/<lang>/NN_name.ipynb`."""
    return Path(root) / "notebooks" / lang / Path(source.path).name


def expected_catalog(lang: str, source: Source, root: Path = ROOT) -> Catalog:
    """A catalog as `python -m tools l10n` writes it: the stored one updated to the English.

    Raises:
      PoFileError: if the stored catalog does not parse.
    """
    texts = english_texts(source, root) if source.path else None
    return current_catalog(lang, source.domain, texts, root)


def expected_notebook(
    lang: str, source: Source, root: Path = ROOT, catalog: Catalog | None = None
) -> str:
    """A translated notebook's text as `python -m tools l10n` writes it (`catalog`: its
    `expected_catalog`, when the caller has it already)."""
    english = nbformat.read(Path(root) / source.path, as_version=4)
    notebook = translated_notebook(english, source.path, lang, root, catalog=catalog)
    return nbformat.writes(notebook) + "\n"


def _translation_problems(catalog: Catalog, texts, where: str) -> list[str]:
    problems = []
    for message in catalog:
        if message.id and message.string and not message.fuzzy:
            for difference in differences(message.id, message.string):
                problems.append(f"{where}: {difference} in {message.id[:50]!r}")

    def current(block) -> Choice:
        message = catalog.get(block.msgid)
        if message is None or not message.string or message.fuzzy:
            return Choice()
        return Choice(translation=message.string)

    for location, text in texts or []:
        for block in blocks(text):
            message = catalog.get(block.msgid)
            if block.kind == "cell" and message and _PIPE.search(message.string or ""):
                problems.append(f"{where}: a table cell's translation holds a bare | ({location})")
        translated = render(text, current, note="", lang="und")
        if outline(translated) != outline(text):
            problems.append(f"{where}: a translation changes the Markdown structure of {location}")
    return problems


def notebook_problems(english: nbformat.NotebookNode, translated: nbformat.NotebookNode) -> list:
    """How a translated notebook departs from its English beyond its markdown: cells added,
    removed or reordered, a code cell (source, outputs, metadata, id) not the English's."""
    if [c.cell_type for c in english.cells] != [c.cell_type for c in translated.cells]:
        return ["its cells are not the English's cells"]
    return [
        f"code cell {k} ({ours.get('id')}) differs from the English"
        for k, (theirs, ours) in enumerate(zip(english.cells, translated.cells, strict=True))
        if theirs.cell_type == "code" and theirs != ours
    ]


def _check_notebook(
    lang: str, source: Source, root: Path, report: Report, catalog: Catalog | None
) -> None:
    path = translated_path(lang, source, root)
    name = path.relative_to(root)
    if not path.is_file():
        report.problems.append(f"{name}: missing (run python -m tools l10n)")
        return
    english = nbformat.read(Path(root) / source.path, as_version=4)
    stored = path.read_text(encoding="utf-8")
    for problem in notebook_problems(english, nbformat.reads(stored, as_version=4)):
        report.problems.append(f"{name}: {problem}")
    try:
        if stored != expected_notebook(lang, source, root, catalog):
            report.problems.append(f"{name}: stale (run python -m tools l10n)")
    except PoFileError:
        pass  # reported with its catalog


def check(root: Path = ROOT, languages: list[str] | None = None) -> Report:
    """Checks every catalog and translated notebook of `languages` (default: all)."""
    root = Path(root)
    report = Report()
    for lang in languages or list(LANGUAGES):
        terms = read_glossary(lang, root) if glossary_path(lang, root).is_file() else []
        for source in sources(root):
            path = catalog_path(lang, source.domain, root)
            where = str(path.relative_to(root))
            expected = None
            if not path.is_file():
                report.problems.append(f"{where}: missing (run python -m tools l10n)")
            else:
                try:
                    stored = load(path, lang, source.domain)
                except PoFileError as error:
                    report.problems.append(f"{where}: does not parse: {error}")
                    continue
                texts = english_texts(source, root) if source.path else None
                report.problems += _translation_problems(stored, texts, where)
                expected = expected_catalog(lang, source, root)
                if not written_as(path, dump(expected)):
                    report.problems.append(f"{where}: stale (run python -m tools l10n)")
                report.counts[(lang, source.domain)] = counts(stored)
                report.glossary += [f"{where}: {miss}" for miss in misses(stored, terms)]
            if source.is_notebook:
                _check_notebook(lang, source, root, report, expected)
    return report
