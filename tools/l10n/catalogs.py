"""The gettext catalogs: one per language and English source, built and updated with Babel.

The English sources are the notebooks (`notebooks/NN_name.ipynb`, domain `NN_name`), README.md
(domain `README`, the site's home page), each page under `docs/` (domain `docs/<name>`) and
the site's own words (domain `site`). Each block (`tools.l10n.blocks`) is one message: its
location is `notebooks/NN_name.ipynb#<cell id>:<block>` or `<page>:<line>`.

Updating a catalog is Babel's `Catalog.update` against a template made from the English: a
block whose English changed is matched to its old message by similarity, keeps the old
translation and becomes fuzzy (with the old English as `#| msgid`). A block rewritten beyond
Babel's similarity cutoff is matched by its location instead (the same cell and position), so
it too becomes fuzzy rather than silently losing its translation.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from babel.messages.catalog import Catalog
from babel.messages.pofile import PoFileError, normalize, read_po, unescape, write_po

from tools.l10n import LANGUAGES, LOCALES_DIR, ROOT
from tools.l10n.blocks import blocks

__all__ = [
    "OUTDATED_NOTE",
    "SITE_MESSAGES",
    "Counts",
    "Source",
    "catalog_path",
    "counts",
    "dump",
    "load",
    "notebook_texts",
    "sources",
    "template",
    "updated",
    "written_as",
]

# The one-line note under an English block whose translation is out of date.
OUTDATED_NOTE = "The translation of this paragraph is out of date: the English is shown."
# The site's own words (domain `site`), with what each is for.
SITE_MESSAGES = {
    OUTDATED_NOTE: "shown under an English paragraph whose translation is fuzzy; one line",
    "Notebooks": "the caption of the site's navigation listing the notebooks",
    "Results": "the caption of the navigation's entry for the results page",
    "Guides": "the caption of the navigation listing the pages under docs/",
    "Sweeps": "the caption of the navigation listing the sweeps' pages",
    "Language": "the label (for screen readers) of the language switcher on every page",
}
_KIND_NOTES = {
    "heading": "a heading: one line",
    "cell": "a table cell: one line, and a | inside it must be written \\|",
}


@dataclass(frozen=True)
class Source:
    """An English source and its catalog's domain."""

    domain: str  # "01_distribution_zoo", "README", "docs/site", "site"
    path: str  # the English, relative to the repository ("" for the site's own words)

    @property
    def is_notebook(self) -> bool:
        return self.path.endswith(".ipynb")


def sources(root: Path = ROOT) -> list[Source]:
    """Every English source the catalogs translate, notebooks first."""
    root = Path(root)
    found = [
        Source(path.stem, f"notebooks/{path.name}")
        for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    ]
    if (root / "README.md").is_file():
        found.append(Source("README", "README.md"))
    found += [
        Source(f"docs/{path.stem}", f"docs/{path.name}")
        for path in sorted((root / "docs").glob("*.md"))
    ]
    return [*found, Source("site", "")]


def catalog_path(lang: str, domain: str, root: Path = ROOT) -> Path:
    """Where a language's catalog of a domain lives."""
    return Path(root) / LOCALES_DIR / lang / "LC_MESSAGES" / f"{domain}.po"


def notebook_texts(notebook: nbformat.NotebookNode, path: str) -> list[tuple[str, str]]:
    """(location, markdown) of each markdown cell of a notebook, its location `path#<cell id>`."""
    return [
        (f"{path}#{cell.get('id', k)}", cell.source)
        for k, cell in enumerate(notebook.cells)
        if cell.cell_type == "markdown"
    ]


def english_texts(source: Source, root: Path = ROOT) -> list[tuple[str, str]]:
    """(location, markdown) of an English source as the repository holds it."""
    path = Path(root) / source.path
    if source.is_notebook:
        return notebook_texts(nbformat.read(path, as_version=4), source.path)
    return [(source.path, path.read_text(encoding="utf-8"))]


def template(texts: Iterable[tuple[str, str]] | None, domain: str) -> Catalog:
    """The catalog template of English texts: one message per block, in document order.

    Args:
      texts: (location, markdown) pairs (`notebook_texts`, or a page); None for the site's own
        words.
      domain: the catalog's domain.

    Returns:
      A Babel catalog without translations.
    """
    catalog = Catalog(domain=domain, fuzzy=False)
    if texts is None:
        for msgid, comment in SITE_MESSAGES.items():
            catalog.add(msgid, auto_comments=[comment])
        return catalog
    for where, text in texts:
        by_line = not where.endswith(".ipynb") and "#" not in where
        for block in blocks(text):
            place = text.count("\n", 0, block.start) + 1 if by_line else block.ordinal + 1
            location = (where, place)
            known = catalog.get(block.msgid)
            if known is not None:
                known.locations.append(location)
                continue
            notes = [_KIND_NOTES[block.kind]] if block.kind in _KIND_NOTES else []
            catalog.add(block.msgid, locations=[location], auto_comments=notes)
    return catalog


def _new_catalog(lang: str, domain: str) -> Catalog:
    language = LANGUAGES[lang]
    where = f"the English of {domain}" if domain != "site" else "the site's own words"
    return Catalog(
        locale=lang,
        domain=domain,
        project="tfp-notebooks",
        version="main",
        copyright_holder="the tfp-notebooks authors",
        msgid_bugs_address="https://github.com/tfp-notebooks/tfp-notebooks/issues",
        language_team=f"{language.english_name} translators of tfp-notebooks",
        header_comment=(
            f"# {language.english_name} translation of {where}.\n"
            "# Made and updated by `python -m tools l10n` (nox -s l10n): translate the\n"
            "# msgstr lines only, and keep code, math and link targets exactly as in msgid.\n"
            "# Apache-2.0, as the project."
        ),
        fuzzy=False,
    )


# A line of a .po file: blank, a comment, or a keyword and one quoted string, or the string's
# continuation (Babel's reader is lenient: it takes an unclosed quote as an empty string).
_PO_LINE = re.compile(
    r'\s*|#.*|(?:(?:msgctxt|msgid|msgid_plural|msgstr(?:\[\d+\])?) )?"(?:[^"\\]|\\.)*"\s*'
)


def load(path: Path, lang: str, domain: str) -> Catalog:
    """Reads a catalog; a syntax error raises Babel's `PoFileError`."""
    with open(path, "rb") as handle:
        catalog = read_po(handle, locale=lang, domain=domain, abort_invalid=True)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not _PO_LINE.fullmatch(line):
            raise PoFileError(
                f"line {number} is not PO syntax: {line[:60]!r}", catalog, line, number
            )
    for message in catalog:  # Babel reads `#|` lines as translator comments
        message.user_comments = [c for c in message.user_comments if not c.startswith("|")]
    for msgid, previous in _previous_ids(path.read_text(encoding="utf-8")).items():
        if msgid in catalog:
            catalog[msgid].previous_id = [previous]
    return catalog


_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def _po_string(lines: list[str]) -> str:
    """The string of a .po keyword's lines (`msgid "..."` and its continuation lines)."""
    return "".join(unescape(quoted) for line in lines for quoted in _QUOTED.findall(line))


def _msgid_lines(lines: list[str]) -> tuple[int | None, list[str]]:
    """Where an entry's `msgid` keyword starts, and its lines with their continuation."""
    for at, line in enumerate(lines):
        if line.startswith("msgid "):
            end = at + 1
            while end < len(lines) and lines[end].startswith('"'):
                end += 1
            return at, lines[at:end]
    return None, []


def _previous_ids(text: str) -> dict[str, str]:
    """msgid -> the previous msgid (`#| msgid`) of each fuzzy entry: Babel writes them but
    does not read them back."""
    found = {}
    for entry in text.split("\n\n"):
        lines = entry.splitlines()
        previous = [line[3:] for line in lines if line.startswith("#| ")]
        _, current = _msgid_lines(lines)
        if previous and current and previous[0].startswith("msgid "):
            found[_po_string(current)] = _po_string(previous)
    return found


WIDTH = 76  # Babel's and gettext's line width
FORMAT_FLAGS = {"python-format", "python-brace-format"}  # Babel's guesses; see `dump`


def dump(catalog: Catalog) -> bytes:
    """A catalog as its .po file's bytes, with each fuzzy entry's previous msgid as gettext's
    `msgmerge` writes it (Babel's own `include_previous` wraps it into lines it cannot read).

    The messages are prose, never Python format strings, but Babel flags a text that reads
    as one: `python-format` for a `%` and a conversion letter ("5% of"), `python-brace-format`
    for braces (LaTeX's `$x^{n}$`). `msgfmt -c`, which translation editors such as Poedit run,
    would then refuse a translation whose `%` or braces differ from the English's. Neither
    flag is written (they are dropped from `catalog`'s messages)."""
    for message in catalog:
        message.flags -= FORMAT_FLAGS
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=WIDTH)
    previous = {m.id: m.previous_id[0] for m in catalog if m.id and m.fuzzy and m.previous_id}
    if not previous:
        return buffer.getvalue()
    entries = buffer.getvalue().decode("utf-8").split("\n\n")
    for k, entry in enumerate(entries):
        lines = entry.split("\n")
        at, current = _msgid_lines(lines)
        msgid = _po_string(current)
        if at is not None and msgid in previous:
            lines[at:at] = _previous_lines(previous[msgid])
            entries[k] = "\n".join(lines)
    return "\n\n".join(entries).encode("utf-8")


def _previous_lines(previous: str) -> list[str]:
    """`#| msgid "..."` and its `#| "..."` continuation lines."""
    first, *rest = normalize(previous, width=WIDTH - len("#| ")).split("\n")
    return [f"#| msgid {first}"] + [f"#| {line}" for line in rest]


def updated(english: Catalog, existing: Catalog | None, lang: str, domain: str) -> Catalog:
    """A language's catalog brought up to the English template.

    Args:
      english: the template (`template`).
      existing: the catalog as it was (None: a new one).
      lang: the language's code.
      domain: the catalog's domain.

    Returns:
      A catalog with a message per English block, in the English's order: a block it knew keeps
      its translation; a changed block is fuzzy with the old translation and the old English
      (`previous_id`); a removed one is obsolete.
    """
    catalog = existing if existing is not None else _new_catalog(lang, domain)
    previous = {m.id: m.previous_id for m in catalog if m.id and m.fuzzy and m.previous_id}
    catalog.update(english, update_creation_date=False)
    for message in catalog:  # Babel keeps an entry's flags, but not its previous msgid
        if message.fuzzy and not message.previous_id and message.id in previous:
            message.previous_id = list(previous[message.id])
    _match_by_location(catalog)
    return catalog


def _match_by_location(catalog: Catalog) -> None:
    """Gives an untranslated message the translation of an obsolete one from the same place,
    as fuzzy: Babel's similarity match misses a block rewritten from scratch."""
    at: dict[tuple, object] = {}
    for key, old in catalog.obsolete.items():
        for location in old.locations if old.string else ():
            at.setdefault(tuple(location), key)
    for message in catalog:
        if not message.id or message.string:
            continue
        for location in message.locations:
            key = at.get(tuple(location))
            old = catalog.obsolete.pop(key, None) if key is not None else None
            if old is not None:
                message.string = old.string
                message.flags.add("fuzzy")
                message.previous_id = [old.id]
                break


@dataclass(frozen=True)
class Counts:
    """How much of a catalog is translated."""

    translated: int
    fuzzy: int
    untranslated: int


def counts(catalog: Catalog) -> Counts:
    """Translated (and current), fuzzy and untranslated messages of a catalog."""
    messages = [m for m in catalog if m.id]
    fuzzy = sum(bool(m.string) and m.fuzzy for m in messages)
    translated = sum(bool(m.string) and not m.fuzzy for m in messages)
    return Counts(translated, fuzzy, len(messages) - translated - fuzzy)


_GENERATED_BY = re.compile(rb'^"Generated-By: [^"]*"\n', re.MULTILINE)


def written_as(path: Path, text: bytes) -> bool:
    """Whether the file at `path` holds `text` (what `dump` writes), but for line endings and
    the `Generated-By` header line, which names the Babel version that wrote it."""

    def comparable(data: bytes) -> bytes:
        return _GENERATED_BY.sub(b"", data.replace(b"\r\n", b"\n"))

    return comparable(path.read_bytes()) == comparable(text)
