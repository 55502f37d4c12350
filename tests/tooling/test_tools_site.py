"""The static site: staging its sources and checking the built pages (Sphinx itself runs in
`nox -s site` and the browser check)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from tools import site
from tools.site_results import HEADLINE_MIME

BADGE = "[![Open In Colab](https://colab.example/badge.svg)](https://colab.example/nb)"
README = f"""# Suite

| notebook | open |
| --- | --- |
| [01 Zoo](notebooks/01_zoo.ipynb) | {BADGE} |

![gallery](docs/gallery/01_zoo.png) and [the benchmarks](benchmarks/README.md#speed),
[a section](#suite), [elsewhere](https://example.org/page).
"""


def test_home_page_keeps_links_to_what_the_site_holds():
    page = site.home_page(README, {"notebooks/01_zoo.ipynb", "docs/gallery/01_zoo.png"})
    assert "[01 Zoo](notebooks/01_zoo.ipynb)" in page
    assert "![gallery](docs/gallery/01_zoo.png)" in page
    assert "[a section](#suite)" in page and "(https://example.org/page)" in page


def test_home_page_sends_other_relative_links_to_the_repository():
    page = site.home_page(README, set())
    assert f"[the benchmarks]({site.REPOSITORY}/blob/main/benchmarks/README.md#speed)" in page
    assert f"[01 Zoo]({site.REPOSITORY}/blob/main/notebooks/01_zoo.ipynb)" in page


def test_home_page_shows_remote_badges_as_their_link_text():
    page = site.home_page(README, set())
    assert "[Open In Colab](https://colab.example/nb)" in page
    assert "badge.svg" not in page


def test_home_page_lists_the_docs_pages_in_the_order_of_the_readmes_last_links():
    readme = (
        "Intro: [speed](docs/speed.md).\n\n## Read more\n\n"
        "* [parameters](./docs/parameters.md#checks)\n* [speed](docs/speed.md)\n"
    )
    staged = {"docs/parameters.md", "docs/speed.md", "docs/colab.md", "notebooks/01_a.ipynb"}
    page = site.home_page(readme, staged)
    toc = page.split(":caption: Guides", 1)[1].split("```", 1)[0]
    # the closing list's order, not the intro's; a page README does not link comes last
    assert toc.split() == [":maxdepth:", "1", "docs/parameters", "docs/speed", "docs/colab"]


def test_docs_pages_keep_links_inside_the_site_and_send_the_rest_to_the_repository():
    text = (
        "[p](parameters.md#p) [n](../notebooks/01_zoo.ipynb) [home](../README.md#two-commands) "
        "[b](../benchmarks/README.md#latest) [s](sweeps.md) [w](https://example.org/x) [a](#here)"
    )
    staged = {"docs/parameters.md", "docs/speed.md", "notebooks/01_zoo.ipynb"}
    page = site.docs_page(text, "docs/speed.md", staged)
    assert "[p](parameters.md#p)" in page and "[n](../notebooks/01_zoo.ipynb)" in page
    assert "[home](../index.md#two-commands)" in page  # README.md is the site's home page
    assert f"[b]({site.REPOSITORY}/blob/main/benchmarks/README.md#latest)" in page
    assert f"[s]({site.REPOSITORY}/blob/main/docs/sweeps.md)" in page  # not (yet) a page
    assert "[w](https://example.org/x)" in page and "[a](#here)" in page


def test_home_page_lists_the_staged_notebooks_in_its_navigation():
    page = site.home_page(README, {"notebooks/02_b.ipynb", "notebooks/01_a.ipynb", "x.png"})
    toc = page.split("```{toctree}", 1)[1].split("```", 1)[0]
    assert toc.strip().splitlines()[-2:] == ["notebooks/01_a", "notebooks/02_b"]
    assert "\nresults\n" in page


@pytest.fixture
def repo(tmp_path):
    """A repository root with a README and a gallery, and one executed notebook."""
    root = tmp_path / "repo"
    (root / "docs" / "gallery").mkdir(parents=True)
    (root / "docs" / "gallery" / "01_zoo.png").write_bytes(b"png")
    (root / "docs" / "speed.md").write_text(
        "# Speed\n\n[home](../README.md), [zoo](../notebooks/01_zoo.ipynb)\n"
    )
    (root / "README.md").write_text(README)
    headline = new_output(
        "display_data", data={HEADLINE_MIME: {"name": "NLL", "value": 1.0}, "text/plain": "NLL"}
    )
    notebook = new_notebook(
        cells=[new_markdown_cell(f"# Zoo\n\n{BADGE}"), new_code_cell("h()", outputs=[headline])]
    )
    executed = tmp_path / "executed"
    executed.mkdir()
    nbformat.write(notebook, executed / "01_zoo.ipynb")
    return root, executed


def test_stage_writes_home_results_notebooks_and_gallery(repo, tmp_path):
    root, executed = repo
    src = tmp_path / "src"
    assert site.stage(executed, src, root) == [executed / "01_zoo.ipynb"]
    assert (src / "docs" / "gallery" / "01_zoo.png").read_bytes() == b"png"
    assert "[01 Zoo](notebooks/01_zoo.ipynb)" in (src / "index.md").read_text()
    assert "headlines-01-zoo" in (src / "results.md").read_text()


def test_stage_writes_each_docs_page_and_puts_it_in_the_navigation(repo, tmp_path):
    root, executed = repo
    src = tmp_path / "src"
    site.stage(executed, src, root)
    speed = (src / "docs" / "speed.md").read_text()
    assert "[home](../index.md)" in speed and "[zoo](../notebooks/01_zoo.ipynb)" in speed
    toc = (src / "index.md").read_text().split(":caption: Guides", 1)[1]
    assert "docs/speed" in toc.split("```", 1)[0]


def test_staged_notebooks_keep_headline_text_but_not_remote_pictures(repo, tmp_path):
    root, executed = repo
    site.stage(executed, tmp_path / "src", root)
    staged = nbformat.read(tmp_path / "src" / "notebooks" / "01_zoo.ipynb", as_version=4)
    assert staged.cells[0].source == "# Zoo\n\n[Open In Colab](https://colab.example/nb)"
    assert staged.cells[1].outputs[0]["data"] == {"text/plain": "NLL"}


def test_stage_empties_an_old_staging_folder(repo, tmp_path):
    root, executed = repo
    (tmp_path / "src" / "notebooks").mkdir(parents=True)
    (tmp_path / "src" / "notebooks" / "09_gone.ipynb").write_text("{}")
    site.stage(executed, tmp_path / "src", root)
    assert not (tmp_path / "src" / "notebooks" / "09_gone.ipynb").exists()


def test_stage_refuses_a_folder_without_executed_notebooks(repo, tmp_path):
    root, _ = repo
    with pytest.raises(FileNotFoundError, match="nox -s notebooks"):
        site.stage(tmp_path / "missing", tmp_path / "src", root)
    assert not (tmp_path / "src").exists()  # nothing was done


def _page(path, body):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<!doctype html><html><head></head><body>{body}</body></html>")


@pytest.fixture
def built(tmp_path):
    """A small site whose every link resolves."""
    out = tmp_path / "site"
    _page(out / "index.html", "<a href='notebooks/a.html#fit'>a</a><a href='#top' id='top'>t</a>")
    _page(out / "notebooks" / "a.html", "<h2 id='fit'>Fit</h2><img src='../_images/f.png'>")
    (out / "_images").mkdir()
    (out / "_images" / "f.png").write_bytes(b"png")
    _page(out / "_static" / "macros.html", "<a href=\"{{ pathto('x') }}\">template</a>")
    return out


def test_check_site_passes_a_site_whose_links_resolve(built):
    assert site.check_site(built) == []


def test_check_site_finds_a_missing_page_and_a_missing_image(built):
    _page(built / "results.html", "<a href='notebooks/b.html'>b</a><img src='_images/g.png'>")
    assert site.check_site(built) == [
        "results.html: broken link notebooks/b.html",
        "results.html: broken link _images/g.png",
    ]


def test_check_site_finds_a_missing_anchor(built):
    _page(built / "results.html", "<a href='notebooks/a.html#gone'>a</a>")
    assert site.check_site(built) == ["results.html: no anchor #gone for notebooks/a.html#gone"]


def test_check_site_finds_a_link_out_of_the_site(built):
    _page(built / "results.html", "<a href='../outside.html'>out</a>")
    (built.parent / "outside.html").write_text("elsewhere")
    assert site.check_site(built) == ["results.html: broken link ../outside.html"]


def test_check_site_refuses_resources_from_another_host(built):
    body = "<script src='https://cdn.example/mathjax.js'></script><a href='https://x.org'>x</a>"
    _page(built / "results.html", body)
    assert site.check_site(built) == [
        "results.html: loads https://cdn.example/mathjax.js from another host"
    ]


def test_check_site_needs_a_built_site(tmp_path):
    with pytest.raises(FileNotFoundError, match="site .* has no index.html"):
        site.check_site(tmp_path)


class _FakeSphinx:
    """Stands in for sphinx-build: writes a one-page site, or fails."""

    def __init__(self, returncode=0):
        self.returncode, self.commands = returncode, []

    def __call__(self, command, check=False):
        self.commands.append(command)
        out = Path(command[-1])
        _page(out / "index.html", "<a href='results.html'>results</a>")
        _page(out / "results.html", "")
        (out / "_sources" / "notebooks").mkdir(parents=True)
        (out / "_sources" / "notebooks" / "01_zoo.ipynb").write_text("staged copy")
        return subprocess.CompletedProcess(command, self.returncode)


def test_build_runs_sphinx_strictly_and_offers_each_notebook_as_it_ran(repo, tmp_path, monkeypatch):
    root, executed = repo
    sphinx = _FakeSphinx()
    monkeypatch.setattr(site.subprocess, "run", sphinx)
    index = site.build(executed, tmp_path / "out", root)
    assert index == tmp_path / "out" / "index.html"
    (command,) = sphinx.commands
    assert {"-W", "-n", "-E"} <= set(command) and command[-2] == str(tmp_path / "out-src")
    assert command[command.index("-c") + 1] == str(site.CONF_DIR)
    downloaded = tmp_path / "out" / "_sources" / "notebooks" / "01_zoo.ipynb"
    assert downloaded.read_bytes() == (executed / "01_zoo.ipynb").read_bytes()


def test_build_fails_when_sphinx_fails(repo, tmp_path, monkeypatch):
    root, executed = repo
    monkeypatch.setattr(site.subprocess, "run", _FakeSphinx(returncode=1))
    with pytest.raises(RuntimeError, match="sphinx-build failed"):
        site.build(executed, tmp_path / "out", root)


def test_build_fails_on_a_broken_link_in_the_built_site(repo, tmp_path, monkeypatch):
    root, executed = repo
    sphinx = _FakeSphinx()

    def broken(command, check=False):
        result = sphinx(command, check)
        _page(Path(command[-1]) / "results.html", "<a href='gone.html'>gone</a>")
        return result

    monkeypatch.setattr(site.subprocess, "run", broken)
    with pytest.raises(RuntimeError, match="results.html: broken link gone.html"):
        site.build(executed, tmp_path / "out", root)


def test_main_explains_a_missing_notebooks_folder(tmp_path, capsys):
    assert site.main(["--notebooks", str(tmp_path / "none"), "--out", str(tmp_path / "s")]) == 1
    assert "run `nox -s notebooks` first" in capsys.readouterr().err
