"""The results report (`build/index.html`) renders in Chromium with every figure drawn and
every headline number on the page, next to its reference; a screenshot goes to
`build/browser/report.png`."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.report import format_number
from tools import report

FIGURES = """() => [...document.querySelectorAll('img[data-figure]')].map((img) => ({
  section: img.closest('section').id, src: img.getAttribute('src'),
  complete: img.complete, width: img.naturalWidth }))"""


@pytest.fixture(scope="module")
def report_page(request, browser, output_dir):
    """The report, opened from disk, and what its executed notebooks say it should show."""
    page_path = Path(request.config.getoption("--report")).resolve()
    if not page_path.exists():
        pytest.fail(f"no report at {page_path}: run `python -m tools run` first")
    executed = sorted((page_path.parent / "notebooks").glob("*.ipynb"))
    expected = [report.collect(path) for path in executed]
    page = browser.new_page()
    try:
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        yield page, expected
        page.screenshot(path=str(output_dir / "report.png"), full_page=True)
    finally:
        page.close()


def test_report_has_a_section_for_every_executed_notebook(report_page):
    page, expected = report_page
    assert expected, "the report's folder holds no executed notebooks"
    sections = page.eval_on_selector_all("section", "(all) => all.map((s) => s.id)")
    assert sections == [info["name"] for info in expected]


def test_every_notebook_in_the_report_ran_without_error(report_page):
    page, expected = report_page
    failed = {i["name"]: i["errors"] for i in expected if i["errors"]}
    assert not failed
    assert page.locator(".error").count() == 0


def test_every_figure_is_on_the_page_and_drawn(report_page):
    page, expected = report_page
    figures = page.evaluate(FIGURES)
    for info in expected:
        shown = [f for f in figures if f["section"] == info["name"]]
        assert len(shown) == len(info["media"]), info["name"]  # figures and animations
    broken = [f["src"] for f in figures if not (f["complete"] and f["width"] > 0)]
    assert not broken, f"figures that did not load: {broken}"


def test_every_headline_number_is_on_the_page_next_to_its_reference(report_page):
    page, expected = report_page
    for info in expected:
        rows = page.locator(f"section[id='{info['name']}'] table.headlines tbody tr")
        cells = [rows.nth(k).locator("td").all_inner_texts() for k in range(rows.count())]
        assert len(cells) == len(info["headlines"]), info["name"]
        for shown, record in zip(cells, info["headlines"], strict=True):
            assert shown[0] == record["name"]
            assert shown[1].startswith(format_number(record["value"]))
            if record.get("stderr") is not None:
                assert f"± {format_number(record['stderr'], 2)}" in shown[1]
            assert shown[2] == format_number(record.get("reference"))


def test_every_notebook_links_to_its_executed_copy_and_gives_its_run_time(report_page):
    page, expected = report_page
    for info in expected:
        section = page.locator(f"section[id='{info['name']}']")
        hrefs = section.locator("a").evaluate_all("(all) => all.map((a) => a.href)")
        assert any(h.endswith(f"{info['name']}.ipynb") for h in hrefs), hrefs
        if info["seconds"] is not None:
            assert f"Run time: {info['seconds']:.1f} s" in section.inner_text()
