"""The static site (`nox -s site`, `build/site`) in Chromium, served on 127.0.0.1 as a web
host would serve it: it has a page per notebook and per page under `docs/`, every page loads
without a console error, every figure and equation renders, every headline number is on the
results page next to its reference, the results page says each notebook ran and links its
page, search finds each notebook by a word of its text, each notebook page has its launch
buttons, and no link inside the site is broken. Screenshots go to `build/browser/site/`."""

from __future__ import annotations

import functools
import http.server
import json
import re
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tools.site_results import HEADLINE_MIME, format_number

REPOSITORY = "tfp-notebooks/tfp-notebooks"
DOCS = Path(__file__).resolve().parents[1] / "docs"  # the pages every site holds
MATH = "span.math, div.math"  # how Sphinx marks an equation, as in PAGE_STATE
PAGE_STATE = """() => ({
  ids: [...document.querySelectorAll('[id]')].map((e) => e.id)
    .concat([...document.querySelectorAll('a[name]')].map((a) => a.name)),
  links: [...document.querySelectorAll('a[href]')].map((a) => a.href),
  images: [...document.querySelectorAll('img')].map((img) => ({
    src: img.currentSrc || img.src, complete: img.complete, width: img.naturalWidth,
    output: img.closest('.cell_output') !== null })),
  math: document.querySelectorAll('span.math, div.math').length,
  typeset: [...document.querySelectorAll('span.math, div.math')]
    .filter((m) => m.querySelector('mjx-container') !== null).length,
  mathErrors: document.querySelectorAll('mjx-merror').length,
})"""
TYPESET = "() => window.MathJax && MathJax.startup && MathJax.startup.promise"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test reports what matters
        pass


@pytest.fixture(scope="module")
def site_url(request):
    """The built site, served from its folder on a free loopback port."""
    root = Path(request.config.getoption("--site")).resolve()
    if not (root / "index.html").is_file():
        pytest.fail(f"no site at {root}: run `nox -s site` (after `nox -s notebooks`) first")
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _pages(root: Path) -> list[str]:
    """The English pages (a translation's pages, under `<lang>/`, share their templates; the
    Persian test below opens one)."""
    translations = {path.name for path in root.iterdir() if (path / "index.html").is_file()}
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*.html")
        if p.relative_to(root).parts[0] not in {"_static", *translations}
    )


@pytest.fixture(scope="module")
def visited(site_url, browser, output_dir):
    """Every page of the site, opened once: what it logged and what it shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    root, url = site_url
    shots = output_dir / "site"
    shots.mkdir(exist_ok=True)
    found = {}
    page = browser.new_page()
    try:
        for name in _pages(root):
            problems = []
            on_console = lambda m: m.type == "error" and problems.append(m.text)  # noqa: B023,E731
            on_error = lambda e: problems.append(str(e))  # noqa: B023,E731
            on_failed = lambda r: problems.append(f"failed {r.url}")  # noqa: B023,E731
            page.on("console", on_console)
            page.on("pageerror", on_error)
            page.on("requestfailed", on_failed)
            response = page.goto(url + name)
            page.wait_for_load_state("load")
            if page.locator(MATH).count():
                try:
                    page.wait_for_function(TYPESET, timeout=30_000)
                except PlaywrightTimeout:
                    problems.append("MathJax did not finish typesetting within 30 s")
            state = page.evaluate(PAGE_STATE)
            state["status"], state["problems"] = response.status, problems
            found[name] = state
            if name not in ("genindex.html", "search.html"):
                page.screenshot(path=str(shots / name.replace("/", "_").replace(".html", ".png")))
            page.remove_listener("console", on_console)
            page.remove_listener("pageerror", on_error)
            page.remove_listener("requestfailed", on_failed)
        yield found
    finally:
        page.close()


def _notebooks(root: Path) -> list[Path]:
    """The executed notebooks the site shows (behind the download buttons, as they ran)."""
    return sorted((root / "_sources" / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _outputs(path: Path) -> list[dict]:
    """Every output of an executed notebook's code cells, in order."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return [
        output
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
    ]


def _figure_count(path: Path) -> int:
    return sum(
        "image/png" in output.get("data", {}) or "image/gif" in output.get("data", {})
        for output in _outputs(path)
    )


def test_the_site_has_a_home_page_a_results_page_and_a_page_per_notebook(site_url, visited):
    root, _ = site_url
    notebooks = _notebooks(root)
    assert notebooks, f"{root} shows no notebooks"
    expected = {"index.html", "results.html"} | {f"notebooks/{p.stem}.html" for p in notebooks}
    assert expected <= set(visited)


def test_the_site_has_a_page_per_docs_page_linked_from_the_home_page(site_url, visited):
    pages = {f"docs/{p.stem}.html" for p in DOCS.glob("*.md")}
    assert pages, f"{DOCS} has no pages"
    assert pages <= set(visited)
    _, url = site_url
    linked = {
        unquote(urlsplit(link).path[len(urlsplit(url).path) :])
        for link in visited["index.html"]["links"]
    }
    assert pages <= linked


def test_every_page_loads_without_console_errors(visited):
    failing = {name: state["problems"] for name, state in visited.items() if state["problems"]}
    assert not failing
    assert {state["status"] for state in visited.values()} == {200}


def test_every_figure_is_drawn(visited):
    broken = [
        (name, image["src"])
        for name, state in visited.items()
        for image in state["images"]
        if not (image["complete"] and image["width"] > 0)
    ]
    assert not broken


def test_every_notebook_page_shows_each_of_its_figures(site_url, visited):
    root, _ = site_url
    for path in _notebooks(root):
        shown = [i for i in visited[f"notebooks/{path.stem}.html"]["images"] if i["output"]]
        assert len(shown) == _figure_count(path), path.stem


def test_the_results_page_shows_a_key_figure_per_notebook(site_url, visited):
    root, _ = site_url
    figures = [i for i in visited["results.html"]["images"] if "/_images/" in i["src"]]
    assert len(figures) == sum(_figure_count(p) > 0 for p in _notebooks(root))


def test_every_headline_number_is_on_the_results_page_next_to_its_reference(site_url, browser):
    root, url = site_url
    page = browser.new_page()
    try:
        page.goto(url + "results.html")
        for path in _notebooks(root):
            records = [
                output["data"][HEADLINE_MIME]
                for output in _outputs(path)
                if HEADLINE_MIME in output.get("data", {})
            ]
            table = f"table#headlines-{path.stem.replace('_', '-')} tbody tr"
            rows = page.eval_on_selector_all(
                table, "(rows) => rows.map((r) => [...r.cells].map((c) => c.innerText.trim()))"
            )
            assert len(rows) == len(records), path.stem
            for shown, record in zip(rows, records, strict=True):
                assert shown[0] == record["name"]
                assert shown[1].startswith(format_number(record["value"]))
                if record.get("stderr") is not None:
                    assert f"± {format_number(record['stderr'], 2)}" in shown[1]
                assert shown[2] == format_number(record.get("reference"))
    finally:
        page.close()


def test_the_results_page_says_each_notebook_ran_links_it_and_gives_its_run_time(site_url, browser):
    root, url = site_url
    page = browser.new_page()
    try:
        page.goto(url + "results.html")
        for path in _notebooks(root):
            errors = [
                f"{output.get('ename')}: {output.get('evalue')}"
                for output in _outputs(path)
                if output.get("output_type") == "error"
            ]
            assert not errors, path.stem
            section = page.locator(f"section[id='results-{path.stem.replace('_', '-')}']")
            text = section.inner_text()
            assert "Ran without error" in text and "Failed" not in text, path.stem
            hrefs = section.locator("a").evaluate_all("(all) => all.map((a) => a.href)")
            assert any(h.endswith(f"notebooks/{path.stem}.html") for h in hrefs), hrefs
            metadata = json.loads(path.read_text(encoding="utf-8"))["metadata"]
            seconds = metadata.get("papermill", {}).get("duration")
            if seconds is not None:
                assert f"Run time: {seconds:.1f} s" in text, path.stem
    finally:
        page.close()


def test_every_equation_is_typeset(visited):
    with_math = {name: state for name, state in visited.items() if state["math"]}
    assert with_math, "no page has an equation"
    for name, state in with_math.items():
        assert state["typeset"] == state["math"], name
        assert state["mathErrors"] == 0, name


def test_no_link_inside_the_site_is_broken(site_url, visited):
    root, url = site_url
    broken = []
    for name, state in visited.items():
        for link in state["links"]:
            if not link.startswith(url):
                continue  # another site: not checked offline
            parts = urlsplit(link)
            target = unquote(parts.path[len(urlsplit(url).path) :]) or "index.html"
            if target.endswith("/"):
                target += "index.html"
            if not (root / target).is_file():
                broken.append(f"{name}: {link}")
            elif parts.fragment and target in visited:
                if unquote(parts.fragment) not in visited[target]["ids"]:
                    broken.append(f"{name}: {link} (no such anchor)")
    assert not broken


def test_every_notebook_page_has_colab_and_binder_launch_buttons(site_url, visited):
    root, _ = site_url
    for path in _notebooks(root):
        links = visited[f"notebooks/{path.stem}.html"]["links"]
        source = f"notebooks/{path.name}"
        colab = f"https://colab.research.google.com/github/{REPOSITORY}/blob/main/{source}"
        binder = f"https://mybinder.org/v2/gh/{REPOSITORY}/main?urlpath=lab/tree/{source}"
        assert colab in links, path.stem
        assert binder in links, path.stem


def _distinctive_word(path: Path, others: list[Path]) -> str:
    """The longest word of the notebook's prose that no other notebook's prose has."""

    def words(notebook: Path) -> set[str]:
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        text = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
        text = re.sub(r"\$[^$]*\$|`[^`]*`|\([^)]*://[^)]*\)", " ", text)  # math, code, URLs
        return {w.lower() for w in re.findall(r"\b[A-Za-z]{5,}\b", text)}

    mine = words(path) - set().union(*(words(o) for o in others))
    assert mine, f"{path.stem} has no word of its own"
    return max(sorted(mine), key=len)


def test_search_finds_each_notebook_by_a_word_of_its_text(site_url, browser):
    root, url = site_url
    notebooks = _notebooks(root)
    page = browser.new_page()
    try:
        for path in notebooks:
            word = _distinctive_word(path, [p for p in notebooks if p != path])
            page.goto(f"{url}search.html?q={word}")
            page.wait_for_function(
                "() => /Search finished|did not match/.test("
                "document.querySelector('#search-results')?.innerText || '')",
                timeout=30_000,
            )
            found = page.eval_on_selector_all(
                "#search-results ul.search li > a", "(all) => all.map((a) => a.href)"
            )
            assert any(f"notebooks/{path.stem}.html" in href for href in found), (word, found)
    finally:
        page.close()


DIRECTIONS = """() => {
  const article = document.querySelector('.bd-article');
  const prose = [...article.querySelectorAll('p')]
    .filter((p) => /[\\u0600-\\u06FF]{3}/.test(p.textContent));
  const persian = prose[0];
  const withCode = prose.find((p) => p.querySelector('code'));
  const firstLine = (element) => {
    const range = document.createRange();
    range.selectNodeContents(element);
    return range.getClientRects()[0];
  };
  const direction = (element) => element && getComputedStyle(element).direction;
  const code = article.querySelector('.cell_input pre');
  const output = article.querySelector('.cell_output pre');
  return {
    lang: document.documentElement.lang,
    prose: direction(persian),
    code: direction(code),
    output: direction(output),
    inlineCode: direction(withCode && withCode.querySelector('code')),
    math: direction(article.querySelector('.math')),
    proseFromRight: persian.getBoundingClientRect().right - firstLine(persian).right,
    codeFromLeft: firstLine(code).left - code.getBoundingClientRect().left,
  };
}"""


def test_a_persian_page_reads_right_to_left_with_code_outputs_and_math_left_to_right(
    site_url, browser, output_dir
):
    root, url = site_url
    name = "fa/notebooks/01_distribution_zoo.html"
    assert (root / name).is_file(), "the site has no Persian pages: build it in every language"
    page = browser.new_page()
    try:
        page.goto(url + name)
        page.wait_for_load_state("load")
        page.wait_for_function(TYPESET, timeout=30_000)
        found = page.evaluate(DIRECTIONS)
        page.screenshot(path=str(output_dir / "site" / "fa_notebooks_01_distribution_zoo.png"))
    finally:
        page.close()
    assert found["lang"] == "fa"
    assert found["prose"] == "rtl" and found["proseFromRight"] < 2  # starts at the right edge
    for part in ("code", "output", "inlineCode", "math"):
        assert found[part] == "ltr", part
    assert found["codeFromLeft"] < 30  # a code cell's first line starts at its left padding
