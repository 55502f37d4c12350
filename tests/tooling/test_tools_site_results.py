"""The site's results page: what it reads from executed notebooks and how it writes it."""

from __future__ import annotations

import base64
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import support
from tools import site_results
from tools.site_results import (
    HEADLINE_MIME,
    executed_notebooks,
    format_number,
    key_figure,
    read_results,
    results_page,
)

PNG_A = b"\x89PNG first"
PNG_B = b"\x89PNG tagged"


def _headline_output(name, value, **extra):
    record = {"name": name, "value": value, "unit": "nats", "reference": None}
    record.update(extra)
    return new_output("display_data", data={HEADLINE_MIME: record, "text/plain": name})


def _png_output(data: bytes):
    return new_output("display_data", data={"image/png": base64.b64encode(data).decode()})


def executed(tmp_path, name="01_zoo", cells=None, papermill=None):
    """Writes a small notebook as papermill would leave it."""
    notebook = new_notebook(cells=cells or [])
    if papermill is not None:
        notebook.metadata["papermill"] = papermill
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def zoo(tmp_path):
    parameters = new_code_cell("SEED = 1\nEPOCHS = 20\nSIZES = [8, 8]")
    parameters.metadata["tags"] = ["parameters"]
    fit = new_code_cell("fit()", outputs=[_headline_output("NLL", 1.25, reference=1.0)])
    fit.metadata["papermill"] = {"duration": 7.5}
    check = new_code_cell("check()", outputs=[_png_output(PNG_A)])
    check.metadata["papermill"] = {"duration": 0.5}
    cells = [
        new_markdown_cell("# A zoo\n\nIntro."),
        parameters,
        new_markdown_cell("## Fitting"),
        fit,
        new_markdown_cell("## Checks"),
        check,
    ]
    papermill = {"parameters": {"EPOCHS": 3}, "duration": 12.0, "start_time": "2026-01-02T03:04:05"}
    return executed(tmp_path, cells=cells, papermill=papermill)


def test_the_headline_mime_type_is_the_one_support_headline_shows():
    assert HEADLINE_MIME == sys.modules[support.headline.__module__].HEADLINE_MIME


def test_a_missing_notebooks_folder_says_to_run_the_main_job_first(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"notebooks folder .*nox -s notebooks"):
        executed_notebooks(tmp_path / "nowhere")


def test_a_folder_without_executed_notebooks_is_refused(tmp_path):
    (tmp_path / "notes.ipynb").write_text("{}")
    with pytest.raises(FileNotFoundError, match="holds no executed notebooks"):
        executed_notebooks(tmp_path)


def test_executed_notebooks_come_in_order(tmp_path):
    for name in ("02_b", "01_a"):
        executed(tmp_path, name)
    assert [p.name for p in executed_notebooks(tmp_path)] == ["01_a.ipynb", "02_b.ipynb"]


def test_read_results_finds_title_headlines_parameters_and_timings(zoo):
    info = read_results(zoo)
    assert info["name"] == "01_zoo" and info["title"] == "A zoo"
    assert [h["name"] for h in info["headlines"]] == ["NLL"]
    assert info["defaults"] == {"SEED": "1", "EPOCHS": "20", "SIZES": "[8, 8]"}
    assert info["parameters"] == {"EPOCHS": 3}
    assert info["seconds"] == 12.0 and info["started"].startswith("2026-01-02")
    assert info["slowest_cells"] == [("Fitting", 7.5), ("Checks", 0.5)]
    assert info["errors"] == []


def _jupyterlab_timing(start: str, end: str) -> dict:
    """A cell's timing metadata as JupyterLab records it (`recordTiming`)."""
    return {
        "iopub.status.busy": start,
        "iopub.execute_input": start,
        "shell.execute_reply": end,
        "iopub.status.idle": end,
    }


def test_read_results_takes_the_run_times_jupyterlab_records_without_papermills(tmp_path):
    first = new_code_cell("setup()")
    first.metadata["execution"] = _jupyterlab_timing(
        "2026-01-02T03:04:05.000Z", "2026-01-02T03:04:06.500Z"
    )
    fit = new_code_cell("fit()")
    fit.metadata["execution"] = _jupyterlab_timing(
        "2026-01-02T05:04:07+02:00",
        "2026-01-02T05:04:17+02:00",  # the same day in UTC+2
    )
    untimed = new_code_cell("print()")
    cells = [first, new_markdown_cell("## Fitting"), fit, untimed]
    path = executed(tmp_path, cells=cells, papermill={"parameters": {"EPOCHS": 3}})
    info = read_results(path)
    assert info["seconds"] == 12.0 and info["started"] == "2026-01-02T03:04:05"
    assert info["slowest_cells"] == [("Fitting", 10.0), ("setup", 1.5)]
    assert r"Run time: 12\.0 s, started 2026\-01\-02 03:04:05 UTC\." in results_page([info])


def test_read_results_reports_error_outputs(tmp_path):
    error = new_output("error", ename="ValueError", evalue="bad EPOCHS", traceback=[])
    path = executed(tmp_path, cells=[new_code_cell("boom()", outputs=[error])])
    assert read_results(path)["errors"] == ["ValueError: bad EPOCHS"]


def test_key_figure_prefers_a_cell_tagged_gallery(tmp_path):
    tagged = new_code_cell("draw()", outputs=[_png_output(PNG_B)])
    tagged.metadata["tags"] = ["gallery"]
    first = new_code_cell("x", outputs=[_png_output(PNG_A)])
    cells = [new_markdown_cell("## Data"), first, new_markdown_cell("## Model"), tagged]
    assert key_figure(executed(tmp_path, cells=cells)) == ("png", PNG_B, "Model")


def test_key_figure_is_the_first_png_without_a_tag_and_none_without_figures(tmp_path, zoo):
    assert key_figure(zoo) == ("png", PNG_A, "Checks")
    assert key_figure(zoo).section == "Checks"
    assert key_figure(executed(tmp_path, "02_empty", [new_code_cell("1")])) is None


def test_format_number_keeps_four_significant_digits():
    assert format_number(0.123456) == "0.1235"
    assert format_number(None) == ""
    assert format_number(float("nan")) == "nan"


@pytest.mark.parametrize(
    "value", [None, 0.0, 0.084694187, -12345.678, 1e-9, 3.0, float("nan"), float("-inf")]
)
@pytest.mark.parametrize("digits", [2, 4])
def test_format_number_is_the_one_support_report_uses(value, digits):
    """The site keeps its own copy (its environment has no TensorFlow): the two must agree."""
    from support.report import format_number as kernel_format_number

    assert format_number(value, digits) == kernel_format_number(value, digits)


def test_results_page_puts_each_headline_next_to_its_reference(zoo):
    page = results_page([read_results(zoo)])
    assert ":name: headlines-01-zoo" in page
    lines = page.split("* - NLL\n", 1)[1].splitlines()
    cells = [line[4:] for line in lines[:6]]
    assert all(line.startswith("  - ") for line in lines[:6]) and not lines[6].startswith(" ")
    assert cells == [r"1\.25", "1", "", r"\+0\.25", "", "nats"]


def test_results_page_lists_passed_and_default_parameters(zoo):
    page = results_page([read_results(zoo)])
    assert "* - EPOCHS\n  - 3\n  - passed in \\(default 20\\)" in page
    assert "* - SIZES\n  - \\[8, 8\\]\n  - default" in page


def test_results_page_links_every_notebook_and_gives_its_run_time(zoo):
    page = results_page([read_results(zoo)])
    assert "[the executed notebook](notebooks/01_zoo.ipynb)" in page
    assert "[A zoo](#results-01-zoo)" in page and "(results-01-zoo)=" in page
    assert r"Run time: 12\.0 s, started 2026\-01\-02 03:04:05 UTC\." in page
    assert r"Slowest cells: Fitting \(7\.5 s\)" in page


def test_results_page_shows_a_failure(tmp_path):
    error = new_output("error", ename="ValueError", evalue="bad", traceback=[])
    info = read_results(executed(tmp_path, cells=[new_code_cell("x", outputs=[error])]))
    page = results_page([info])
    assert "**Failed**: ValueError: bad" in page
    assert "* - [01\\_zoo](#results-01-zoo)\n  - failed" in page


def test_results_page_shows_the_key_figure_when_given(zoo):
    info = read_results(zoo) | {"figure": "figures/01_zoo.png"}
    assert "![A zoo: key figure](figures/01_zoo.png)" in results_page([info])


def test_markdown_in_notebook_text_is_escaped_on_the_results_page():
    assert site_results._text("a*b_c [x](y) | $z$") == r"a\*b\_c \[x\]\(y\) \| \$z\$"
    assert site_results._text("two\nlines") == "two lines"
