"""`python -m tools l10n`: update the catalogs and translated notebooks from the English, then
check them and print, per language and source, what is translated, fuzzy and untranslated.

python -m tools l10n               # update locales/ and notebooks/<lang>/, then check (nox -s l10n)
python -m tools l10n --check       # check only, write nothing (what CI's tests check)
python -m tools l10n --lang fa     # one language

Exits 1 on a problem CI refuses (`tools.l10n.checks`); coverage and glossary misses are only
printed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from babel.messages.pofile import PoFileError

from tools.l10n import LANGUAGES, ROOT
from tools.l10n.catalogs import catalog_path, dump, sources, written_as
from tools.l10n.checks import Report, check, expected_catalog, expected_notebook, translated_path

__all__ = ["main", "print_report", "update"]


def update(root: Path = ROOT, languages: Sequence[str] = tuple(LANGUAGES)) -> list[Path]:
    """Writes every catalog and translated notebook that the English has moved away from.

    Returns:
      The files written. A catalog that does not parse is left alone (`check` reports it).
    """
    root = Path(root)
    written = []
    for lang in languages:
        for source in sources(root):
            path = catalog_path(lang, source.domain, root)
            try:
                expected = expected_catalog(lang, source, root)
            except PoFileError:  # the stored catalog does not parse: left alone
                continue
            text = dump(expected)
            if not path.is_file() or not written_as(path, text):
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(text)
                written.append(path)
            if not source.is_notebook:
                continue
            target = translated_path(lang, source, root)
            text = expected_notebook(lang, source, root, expected)
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")
                written.append(target)
    return written


def print_report(report: Report, out=None) -> None:
    """The counts table, then glossary misses, then problems (to `out`, default stdout)."""
    out = out or sys.stdout
    print(
        f"{'language':<9}{'catalog':<28}{'translated':>11}{'fuzzy':>7}{'untranslated':>14}",
        file=out,
    )
    for (lang, domain), n in report.counts.items():
        line = f"{lang:<9}{domain:<28}{n.translated:>11}{n.fuzzy:>7}{n.untranslated:>14}"
        print(line, file=out)
    for miss in report.glossary:
        print(f"glossary: {miss}", file=out)
    for problem in report.problems:
        print(f"problem: {problem}", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools l10n", description=__doc__)
    parser.add_argument("--check", action="store_true", help="check only, write nothing")
    parser.add_argument(
        "--lang", action="append", choices=sorted(LANGUAGES), help="only this language"
    )
    args = parser.parse_args(argv)
    languages = args.lang or list(LANGUAGES)
    if not args.check:
        for path in update(ROOT, languages):
            print(f"wrote {path.relative_to(ROOT)}")
    report = check(ROOT, languages)
    print_report(report)
    if report.problems:
        print(f"{len(report.problems)} problem(s)", file=sys.stderr)
        return 1
    return 0
