"""The site in every language (tools.site with tools.l10n), built with Sphinx from a small
synthetic executed notebook: the translated page shows the translation, the English run's
outputs and a language switcher; after an English paragraph changes, the page shows the new
English with the out-of-date note, never the old translation."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from tools import site
from tools.l10n.blocks import OUTDATED_CLASS
from tools.l10n.catalogs import OUTDATED_NOTE, catalog_path, dump, load
from tools.l10n.command import update

pytestmark = pytest.mark.slow  # three Sphinx builds

TITLE, PARAGRAPH = "A small zoo", "Each `tfb.Exp` keeps a scale positive, $\\sigma > 0$."
TRANSLATIONS = {
    "ko": {
        TITLE: "작은 동물원",
        PARAGRAPH: "각 `tfb.Exp`는 척도를 양수로 유지합니다, $\\sigma > 0$.",
        OUTDATED_NOTE: "이 문단의 번역은 최신이 아닙니다.",
    },
    "fa": {
        TITLE: "باغ وحش کوچک",
        PARAGRAPH: "هر `tfb.Exp` مقیاس را مثبت نگه می‌دارد، $\\sigma > 0$.",
        OUTDATED_NOTE: "ترجمه این بند به‌روز نیست.",
    },
}


def _notebook(paragraph: str, executed: bool) -> nbformat.NotebookNode:
    output = new_output("stream", name="stdout", text="scale = 0.6931\n")
    cells = [
        new_markdown_cell(f"# {TITLE}\n\n{paragraph}", id="title"),
        new_code_cell("print('scale =', 0.6931)", id="code", outputs=[output] if executed else []),
    ]
    metadata = {  # as a kernel leaves them: myst-nb takes the code cells' lexer from them
        "kernelspec": {"name": "python3", "display_name": "Python 3"},
        "language_info": {"name": "python", "pygments_lexer": "ipython3"},
    }
    return new_notebook(cells=cells, metadata=metadata)


def _write(root: Path, executed: Path, paragraph: str) -> None:
    nbformat.write(_notebook(paragraph, False), root / "notebooks" / "01_zoo.ipynb")
    nbformat.write(_notebook(paragraph, True), executed / "01_zoo.ipynb")


@pytest.fixture
def repo(tmp_path):
    """A repository with one notebook translated into Korean and Persian, and its executed run."""
    root, executed = tmp_path / "repo", tmp_path / "executed"
    for folder in (root / "notebooks", root / "docs", executed):
        folder.mkdir(parents=True)
    (root / "README.md").write_text("# Suite\n\n[01 Zoo](notebooks/01_zoo.ipynb)\n")
    (root / "docs" / "guide.md").write_text(
        "# Guide\n\nRead [the zoo](../notebooks/01_zoo.ipynb).\n"
    )
    _write(root, executed, PARAGRAPH)
    update(root, list(TRANSLATIONS))
    for lang, strings in TRANSLATIONS.items():
        for domain in ("01_zoo", "site"):
            path = catalog_path(lang, domain, root)
            catalog = load(path, lang, domain)
            for message in catalog:
                message.string = strings.get(message.id, message.string) if message.id else ""
            path.write_bytes(dump(catalog))
    return root, executed


def _text(page: Path) -> str:
    return re.sub(r"\s+", " ", page.read_text(encoding="utf-8"))


def test_each_language_gets_the_translated_page_with_the_english_outputs(repo, tmp_path):
    root, executed = repo
    out = tmp_path / "site"
    site.build(executed, out, root, languages=["en", "ko", "fa"])
    english = _text(out / "notebooks" / "01_zoo.html")
    korean = _text(out / "ko" / "notebooks" / "01_zoo.html")
    persian = _text(out / "fa" / "notebooks" / "01_zoo.html")
    assert "작은 동물원" in korean and "척도를 양수로 유지합니다" in korean
    assert "scale = 0.6931" in korean and "scale = 0.6931" in persian
    assert '<html lang="fa"' in persian and '<html lang="ko"' in korean
    assert "작은 동물원" not in english
    # the switcher links each page's counterparts, from every language
    for page, to_root in ((english, "../"), (korean, "../../"), (persian, "../../")):
        for lang, folder in (("en", ""), ("ko", "ko/"), ("fa", "fa/")):
            assert f'href="{to_root}{folder}notebooks/01_zoo.html" hreflang="{lang}"' in page
    assert 'hreflang="fa" lang="fa" dir="rtl"' in english  # Persian's name reads right to left
    # Colab opens the language's copy; the download is the executed notebook in the language
    assert "blob/main/notebooks/fa/01_zoo.ipynb" in persian
    download = nbformat.read(out / "fa" / "_sources" / "notebooks" / "01_zoo.ipynb", 4)
    assert "باغ وحش کوچک" in download.cells[0].source
    assert download.cells[1] == nbformat.read(executed / "01_zoo.ipynb", 4).cells[1]
    assert site.check_site(out) == []


def test_a_changed_english_paragraph_shows_in_english_with_the_note(repo, tmp_path):
    root, executed = repo
    changed = PARAGRAPH.replace("positive", "strictly positive")
    _write(root, executed, changed)
    update(root, list(TRANSLATIONS))
    for lang in TRANSLATIONS:
        catalog = load(catalog_path(lang, "01_zoo", root), lang, "01_zoo")
        assert [m.id for m in catalog if m.id and m.fuzzy] == [changed]
    out = tmp_path / "site"
    site.build(executed, out, root, languages=["en", "ko"])
    korean = _text(out / "ko" / "notebooks" / "01_zoo.html")
    assert "strictly positive" in korean and "작은 동물원" in korean
    assert "척도를 양수로 유지합니다" not in korean  # never the old translation
    note = re.search(rf'<em class="{OUTDATED_CLASS}" lang="ko">([^<]*)</em>', korean)
    assert note and note.group(1) == "이 문단의 번역은 최신이 아닙니다."
    assert korean.index("strictly positive") < korean.index(OUTDATED_CLASS)


def test_the_site_is_english_alone_when_asked(repo, tmp_path):
    root, executed = repo
    out = tmp_path / "site"
    site.build(executed, out, root, languages=["en"])
    assert not (out / "ko").exists()
    assert "l10n-switcher" not in (out / "index.html").read_text(encoding="utf-8")


def test_the_languages_must_start_with_english_and_be_known(repo, tmp_path):
    root, executed = repo
    for languages in (["ko", "en"], ["en", "xx"]):
        with pytest.raises(ValueError, match="English, then any of"):
            site.build(executed, tmp_path / "site", root, languages=languages)
