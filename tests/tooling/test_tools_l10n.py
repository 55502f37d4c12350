"""The translations (tools.l10n): the repository's catalogs and translated notebooks pass the
checks CI runs, every translated code cell is the English cell, and an English change makes
exactly its translations fuzzy, shown as English with the out-of-date note."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from babel.messages.catalog import Catalog

from tools.l10n import LANGUAGES
from tools.l10n.blocks import OUTDATED_CLASS, blocks
from tools.l10n.catalogs import OUTDATED_NOTE, catalog_path, counts, dump, load
from tools.l10n.checks import check
from tools.l10n.command import main, update
from tools.l10n.glossary import REQUIRED_TERMS, Term, misses, read_glossary
from tools.l10n.translate import COLAB, site_words

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ZOO = "01_distribution_zoo"
# A paragraph of notebook 01's title cell, translated in every language.
PARAGRAPH = "so gradient descent can move them. Two tools make that work:"
CHANGED = "so gradient descent can move them. Two tools make it work:"


def _cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for cell in cells:  # stored as a list of lines or one string: compare the text
        cell["source"] = "".join(cell["source"])
    return cells


@pytest.fixture
def repo(tmp_path) -> Path:
    """A copy of what the translations read and write: notebooks, README, docs, locales."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "locales", root / "locales")
    (root / "docs").mkdir(parents=True)
    for page in (ROOT / "docs").glob("*.md"):
        shutil.copy2(page, root / "docs" / page.name)
    shutil.copy2(ROOT / "README.md", root / "README.md")
    (root / "notebooks").mkdir()
    for path in NOTEBOOKS:
        shutil.copy2(path, root / "notebooks" / path.name)
    for lang in LANGUAGES:
        shutil.copytree(ROOT / "notebooks" / lang, root / "notebooks" / lang)
    return root


def _edit_english(root: Path, old: str, new: str, notebook: str = ZOO) -> tuple[str, str]:
    """Edits a paragraph of a notebook's English; returns its message ids before and after."""
    path = root / "notebooks" / f"{notebook}.ipynb"
    english = nbformat.read(path, as_version=4)
    cell = next(c for c in english.cells if c.cell_type == "markdown" and old in c.source)
    before = next(b.msgid for b in blocks(cell.source) if old in b.msgid)
    cell.source = cell.source.replace(old, new)
    after = next(b.msgid for b in blocks(cell.source) if new in b.msgid)
    nbformat.write(english, path)
    return before, after


def test_the_repositorys_catalogs_and_translated_notebooks_pass_the_checks():
    report = check(ROOT)
    assert report.problems == []
    assert {lang for lang, _ in report.counts} == set(LANGUAGES)


@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_code_cell_of_a_translated_notebook_is_the_english_cell(lang, path):
    english, translated = _cells(path), _cells(ROOT / "notebooks" / lang / path.name)
    assert [c["cell_type"] for c in translated] == [c["cell_type"] for c in english]
    for theirs, ours in zip(english, translated, strict=True):
        if theirs["cell_type"] == "code":
            assert ours["source"].encode() == theirs["source"].encode()
            assert ours == theirs


@pytest.mark.parametrize("lang", list(LANGUAGES))
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_a_translated_notebook_has_its_title_translated_and_opens_its_own_copy_in_colab(lang, path):
    english, translated = _cells(path)[0]["source"], _cells(ROOT / "notebooks" / lang / path.name)
    title = next(line for line in translated[0]["source"].splitlines() if line.startswith("# "))
    assert title != english.splitlines()[0] and not title.isascii()
    assert f"{COLAB}notebooks/{lang}/{path.name}" in translated[0]["source"]
    assert f"{COLAB}notebooks/{path.name}" not in translated[0]["source"]


def test_persian_prose_is_wrapped_right_to_left_for_jupyter_and_code_blocks_are_not():
    cell = _cells(ROOT / "notebooks" / "fa" / "03_mdn_cardioid.ipynb")[0]["source"]
    assert cell.startswith('<div dir="rtl" lang="fa">\n\n# ')
    fence = cell.index("```python")
    assert cell.rfind("</div>", 0, fence) > cell.rfind('<div dir="rtl"', 0, fence)


def test_a_changed_english_paragraph_becomes_fuzzy_in_every_catalog_and_shows_the_note(repo):
    stale = {  # what the stored catalogs already mark out of date
        lang: {m.id for m in load(catalog_path(lang, ZOO, ROOT), lang, ZOO) if m.id and m.fuzzy}
        for lang in LANGUAGES
    }
    before, after = _edit_english(repo, PARAGRAPH, CHANGED)
    update(repo)
    for lang in LANGUAGES:
        catalog = load(catalog_path(lang, ZOO, repo), lang, ZOO)
        old = load(catalog_path(lang, ZOO, ROOT), lang, ZOO)[before].string
        assert {m.id for m in catalog if m.id and m.fuzzy} == stale[lang] | {after}, lang
        assert catalog[after].previous_id == [before] and catalog[after].string == old
        assert counts(catalog).fuzzy == len(stale[lang]) + 1
        cell = _cells(repo / "notebooks" / lang / f"{ZOO}.ipynb")[0]["source"]
        note = site_words(lang, repo)[OUTDATED_NOTE]
        assert note != OUTDATED_NOTE  # the note is in the language
        shown = cell.index(CHANGED)
        assert cell.index(f'class="{OUTDATED_CLASS}"', shown) < cell.index(note, shown)
        assert old not in cell  # never the old translation
    for lang in LANGUAGES:  # the rest of the title cell is still translated, code untouched
        translated = repo / "notebooks" / lang / f"{ZOO}.ipynb"
        assert _cells(translated)[0]["source"] != _cells(repo / "notebooks" / f"{ZOO}.ipynb")[0]
    assert check(repo).problems == []  # fuzzy is staleness shown, not an error


def test_a_paragraph_rewritten_from_scratch_is_marked_fuzzy_by_its_place(repo):
    new = "Entirely different words now stand here, about nothing that was said before."
    path = repo / "notebooks" / f"{ZOO}.ipynb"
    english = nbformat.read(path, as_version=4)
    paragraph = next(b for b in blocks(english.cells[0].source) if PARAGRAPH in b.msgid)
    source = english.cells[0].source
    english.cells[0].source = source[: paragraph.start] + new + source[paragraph.end :]
    nbformat.write(english, path)
    update(repo)
    for lang in LANGUAGES:
        catalog = load(catalog_path(lang, ZOO, repo), lang, ZOO)
        stale = {m.id for m in load(catalog_path(lang, ZOO, ROOT), lang, ZOO) if m.fuzzy}
        assert {m.id for m in catalog if m.id and m.fuzzy} - stale == {new}
        assert catalog[new].previous_id == [paragraph.msgid]


def test_updating_twice_writes_nothing_the_second_time(repo):
    _edit_english(repo, PARAGRAPH, CHANGED)
    assert update(repo)
    assert update(repo) == []


def test_the_check_refuses_a_translation_that_changes_code(repo):
    path = catalog_path("ko", ZOO, repo)
    catalog = load(path, "ko", ZOO)
    message = next(m for m in catalog if m.id and "`FillScaleTriL`" in m.id)
    message.string = message.string.replace("`FillScaleTriL`", "`FillScaleTril`")
    path.write_bytes(dump(catalog))
    problems = check(repo, ["ko"]).problems
    assert any("missing code 'FillScaleTriL'" in p for p in problems), problems
    update(repo, ["ko"])  # the notebook shows the English and the note, not the broken text
    cell = _cells(repo / "notebooks" / "ko" / f"{ZOO}.ipynb")[0]["source"]
    assert "`FillScaleTril`" not in cell and OUTDATED_CLASS in cell


def test_the_check_refuses_a_translation_that_splits_a_table_cell(repo):
    lang, domain = "zh_CN", "04_entropy_monte_carlo"
    path = catalog_path(lang, domain, repo)
    catalog = load(path, lang, domain)
    catalog["the worst-case ratio (minimum description length)"].string = "最坏情况 | 比值"
    path.write_bytes(dump(catalog))
    problems = check(repo, [lang]).problems
    assert any("a table cell's translation holds a bare |" in p for p in problems), problems


def test_the_check_refuses_a_catalog_that_does_not_parse(repo):
    path = catalog_path("fa", "README", repo)
    broken = path.read_text(encoding="utf-8") + '\nmsgid "x"\nmsgstr "an unclosed quote\n'
    path.write_text(broken, encoding="utf-8")
    problems = check(repo, ["fa"]).problems
    assert any(p.startswith("locales/fa/LC_MESSAGES/README.po: does not parse") for p in problems)


def test_the_check_refuses_a_translated_notebook_whose_code_differs(repo):
    path = repo / "notebooks" / "zh_CN" / "02_ffjord_moons.ipynb"
    notebook = nbformat.read(path, as_version=4)
    cell = next(c for c in notebook.cells if c.cell_type == "code")
    cell.source += "\nprint('changed')"
    nbformat.write(notebook, path)
    problems = check(repo, ["zh_CN"]).problems
    assert any("02_ffjord_moons.ipynb: code cell" in p for p in problems), problems


def test_the_check_refuses_translations_left_behind_by_an_english_change(repo):
    _edit_english(repo, PARAGRAPH, CHANGED)
    problems = check(repo, ["fa"]).problems
    assert f"locales/fa/LC_MESSAGES/{ZOO}.po: stale (run python -m tools l10n)" in problems
    assert f"notebooks/fa/{ZOO}.ipynb: stale (run python -m tools l10n)" in problems


def test_the_check_does_not_care_how_much_is_translated(repo):
    path = catalog_path("ko", ZOO, repo)
    catalog = load(path, "ko", ZOO)
    for message in catalog:
        message.string = "" if message.id else message.string
    path.write_bytes(dump(catalog))
    update(repo, ["ko"])
    assert check(repo, ["ko"]).problems == []


def test_the_command_prints_counts_per_language_and_catalog(capsys):
    assert main(["--check"]) == 0
    out = capsys.readouterr().out
    assert "translated  fuzzy  untranslated" in out
    for lang in LANGUAGES:
        for path in NOTEBOOKS:
            assert any(line.split()[:2] == [lang, path.stem] for line in out.splitlines())


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_every_glossary_renders_the_terms_the_issue_names(lang):
    terms = {term.term: term for term in read_glossary(lang)}
    assert set(REQUIRED_TERMS) <= set(terms)
    assert len({term.translation for term in terms.values()}) == len(terms)  # one rendering each


def test_a_translation_that_ignores_the_glossary_is_reported():
    catalog = Catalog(locale="ko")
    catalog.add("Stack a few bijectors.", "바이젝터 몇 개를 쌓습니다.")
    catalog.add("A normalizing flow learns.", "정규화 플로우가 학습합니다.")
    catalog.add("`tfb.Exp` is a bijector in code only? No: `bijector` here.", "코드")
    terms = [Term("bijector", "바이젝터"), Term("normalizing flow", "정규화 흐름")]
    assert misses(catalog, terms) == [
        "'normalizing flow' is '정규화 흐름' in: 'A normalizing flow learns.'",
        "'bijector' is '바이젝터' in: '`tfb.Exp` is a bijector in code only? No: `bijector` here.'",
    ]


def test_the_check_refuses_a_translation_that_changes_the_markdown_structure(repo):
    path = catalog_path("fa", ZOO, repo)
    catalog = load(path, "fa", ZOO)
    message = next(m for m in catalog if m.id and m.id.startswith("**variables**"))
    message.string = "۱. **متغیرها** اعداد آزاد را نگه می‌دارند\n\n- دوم"  # a list, two blocks
    message.flags.discard("fuzzy")  # a current translation: the check reads it
    path.write_bytes(dump(catalog))
    problems = check(repo, ["fa"]).problems
    assert any("changes the Markdown structure" in p for p in problems), problems


def test_a_fuzzy_entrys_long_previous_msgid_reads_back_as_written(tmp_path):
    catalog = Catalog(locale="ko", domain=ZOO)
    old = 'The "old" English paragraph, long enough to wrap over several lines. ' * 4
    catalog.add("The new English paragraph.", "옛 번역", flags=["fuzzy"], previous_id=[old])
    written = dump(catalog)
    assert b"\n#| msgid " in written and b"\n# |" not in written  # gettext's form, no comments
    path = tmp_path / "zoo.po"
    path.write_bytes(written)
    again = load(path, "ko", ZOO)
    message = again["The new English paragraph."]
    assert message.previous_id == [old] and message.user_comments == []
    assert dump(again) == written  # stable however often it is read and written


def test_readmes_table_opens_each_languages_copy_of_each_notebook_in_colab():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        row = next(line for line in readme.splitlines() if line.startswith(f"| [{path.stem[:2]} "))
        for lang in LANGUAGES:
            link = f"{COLAB}notebooks/{lang}/{path.name})"
            assert link in row, (path.name, lang)
            assert (ROOT / "notebooks" / lang / path.name).is_file()


# `python -m tools l10n` as `nox -s l10n` runs it: in an environment with the `l10n` extra
# alone, so nothing outside it may be imported on the way (Pillow, papermill, TensorFlow, ...).
ONLY_THE_L10N_EXTRA = """
import runpy, sys
OUTSIDE = {"PIL", "papermill", "tensorflow", "tensorflow_probability", "support", "matplotlib",
           "sonnet", "tf_keras", "numpy", "scipy", "pandas", "dask", "distributed", "sphinx"}
class Outside:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in OUTSIDE:
            raise ModuleNotFoundError(f"{name} is not in the l10n extra")
sys.meta_path.insert(0, Outside())
sys.argv = ["tools", "l10n", "--check"]
runpy.run_module("tools", run_name="__main__", alter_sys=True)
"""


def test_the_l10n_command_checks_the_repository_as_nox_runs_it():
    done = subprocess.run(  # what `nox -s l10n -- --check` runs, as its own process
        [sys.executable, "-c", ONLY_THE_L10N_EXTRA],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "translated  fuzzy  untranslated" in done.stdout
    for lang in LANGUAGES:
        assert f"{lang} " in done.stdout and "04_entropy_monte_carlo" in done.stdout


@pytest.mark.parametrize(
    "english, translation",
    [
        ("A rate that falls to 5% of its start.", "시작값의 5%까지 떨어지는 학습률."),
        ("The error falls like $1/\\sqrt{n}$ and $x^{n}$.", "오차는 $1/\\sqrt{n}$처럼, $x^{m}$."),
    ],
    ids=["percent", "braces"],
)
def test_prose_that_reads_as_a_format_string_is_not_flagged_as_one(tmp_path, english, translation):
    catalog = Catalog(locale="ko", domain=ZOO)
    catalog.add(english, translation)
    written = dump(catalog)
    assert b"-format" not in written
    path = tmp_path / "zoo.po"
    path.write_bytes(written)
    if shutil.which("msgfmt"):  # gettext's own check, as translation editors run it
        checked = subprocess.run(
            ["msgfmt", "-c", "-o", os.devnull, str(path)], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stderr


FORMAT_FLAG = re.compile(r"^#,.*\bpython-(brace-)?format\b", re.MULTILINE)


def test_no_catalog_in_the_repository_flags_prose_as_a_format_string():
    flagged = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "locales").rglob("*.po"))
        if FORMAT_FLAG.search(path.read_text(encoding="utf-8"))
    ]
    assert flagged == []


def test_a_catalog_written_otherwise_is_stale_and_rewritten_once(repo):
    path = catalog_path("ko", ZOO, repo)
    text = path.read_text(encoding="utf-8")
    at = text.index("\nmsgid ", text.index("\nmsgid ") + 1)  # the first message after the header
    path.write_text(text[:at] + "\n#, python-format" + text[at:], encoding="utf-8")
    assert any(p.startswith(f"{path.relative_to(repo)}: stale") for p in check(repo).problems)
    assert update(repo) == [path]
    assert update(repo) == [] and path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize(
    "rewrite",
    [
        lambda text: text.replace('"Generated-By: Babel ', '"Generated-By: Babel 0.'),
        lambda text: text.replace("\n", "\r\n"),
    ],
    ids=["another-babel-version", "crlf"],
)
def test_a_catalog_from_another_babel_or_with_crlf_line_ends_is_not_stale(repo, rewrite):
    path = catalog_path("ko", ZOO, repo)
    text = path.read_text(encoding="utf-8")
    changed = rewrite(text)
    assert changed != text
    path.write_bytes(changed.encode("utf-8"))
    assert not any(p.startswith(f"{path.relative_to(repo)}:") for p in check(repo).problems)
    assert update(repo) == []
