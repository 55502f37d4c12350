"""Tests of tools.report: collecting executed notebooks and the suite's HTML report."""

import base64
import math

import nbformat
import pytest

from support.report import HEADLINE_MIME
from tools import report

PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


GIF = base64.b64encode(
    bytes.fromhex(
        "47494638396101000100800000000000ffffff21f90401000000002c000000000100010000020144003b"
    )
).decode()


def _executed_notebook(path, *, error=False, stderr=None, gif=False):
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell("# My notebook\n\ntext"))
    parameters = nbformat.v4.new_code_cell("EPOCHS = 20  # passes\nSEED = 0\nSIZES = [8, 8]")
    parameters.metadata["tags"] = ["parameters"]
    parameters.metadata["papermill"] = {"duration": 0.01}
    notebook.cells.append(parameters)
    notebook.cells.append(nbformat.v4.new_markdown_cell("## Training the model\n\ntext"))
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.metadata["papermill"] = {"duration": 9.5}
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                HEADLINE_MIME: {
                    "name": "held-out NLL",
                    "value": 0.51,
                    "reference": 0.478,
                    "reference_name": "entropy floor",
                    "stderr": stderr,
                    "unit": "nats",
                },
                "text/plain": "held-out NLL: 0.51",
            },
        ),
        nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "fig"}),
    ]
    if gif:
        cell.outputs.append(
            nbformat.v4.new_output("display_data", data={"image/gif": GIF, "text/plain": "gif"})
        )
        cell.outputs.append(
            nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "fig"})
        )
    if error:
        cell.outputs.append(
            nbformat.v4.new_output("error", ename="AssertionError", evalue="bad", traceback=[])
        )
    notebook.cells.append(cell)
    notebook.metadata["papermill"] = {
        "parameters": {"EPOCHS": 3},
        "duration": 12.5,
        "start_time": "2026-11-22T00:26:33.123+00:00",
    }
    nbformat.write(notebook, path)
    return path


def test_collect_reads_headlines_figures_parameters_and_time(tmp_path):
    info = report.collect(_executed_notebook(tmp_path / "02_demo.ipynb"))
    assert info["title"] == "My notebook"
    assert info["headlines"][0]["value"] == 0.51
    assert len(info["figures"]) == 1 and info["figures"][0].startswith(b"\x89PNG")
    assert info["parameters"] == {"EPOCHS": 3}
    assert math.isclose(info["seconds"], 12.5)
    assert info["errors"] == []


def test_build_report_writes_one_page_with_tables_figures_and_links(tmp_path):
    executed = tmp_path / "notebooks"
    executed.mkdir()
    _executed_notebook(executed / "01_ok.ipynb")
    _executed_notebook(executed / "02_bad.ipynb", error=True)
    page = report.build_report(executed, tmp_path / "index.html")
    html = page.read_text()
    assert html.count("<section") == 2
    assert "held-out NLL" in html and "entropy floor" in html and "0.478" in html
    assert "notebooks/01_ok.ipynb" in html
    assert "failed: AssertionError: bad" in html
    assert (tmp_path / "figures" / "01_ok" / "figure-00.png").read_bytes().startswith(b"\x89PNG")
    assert "EPOCHS" in html


def test_build_report_needs_executed_notebooks(tmp_path):
    with pytest.raises(FileNotFoundError, match="executed_dir"):
        report.build_report(tmp_path, tmp_path / "index.html")


def test_collect_reads_defaults_figure_sections_and_slowest_cells(tmp_path):
    info = report.collect(_executed_notebook(tmp_path / "02_demo.ipynb"))
    assert info["defaults"] == {"EPOCHS": 20, "SEED": 0, "SIZES": [8, 8]}
    assert info["figure_sections"] == ["Training the model"]
    assert info["slowest_cells"][0] == ("Training the model", 9.5)
    assert info["started"].startswith("2026-11-22T00:26:33")


def test_collect_keeps_a_non_literal_default_as_its_source(tmp_path):
    path = _executed_notebook(tmp_path / "02_demo.ipynb")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[1].source = "EPOCHS = 2 * 10\nSEED = 0"
    nbformat.write(notebook, path)
    assert report.collect(path)["defaults"] == {"EPOCHS": "2 * 10", "SEED": 0}


def test_report_shows_the_gap_to_the_reference_in_standard_errors(tmp_path):
    executed = tmp_path / "notebooks"
    executed.mkdir()
    _executed_notebook(executed / "01_ok.ipynb", stderr=0.016)
    html = report.build_report(executed, tmp_path / "index.html").read_text()
    assert "0.51 ± 0.016" in html
    assert "+0.032" in html  # 0.51 - 0.478
    assert "+2.0" in html  # 0.032 / 0.016


def test_report_lists_every_parameter_with_where_its_value_came_from(tmp_path):
    executed = tmp_path / "notebooks"
    executed.mkdir()
    _executed_notebook(executed / "01_ok.ipynb")
    html = report.build_report(executed, tmp_path / "index.html").read_text()
    assert "<td>EPOCHS</td><td>3</td><td>passed in (default 20)</td>" in html
    assert "<td>SIZES</td><td>[8, 8]</td><td>default</td>" in html


def test_report_captions_figures_and_gives_time_and_slowest_cells(tmp_path):
    executed = tmp_path / "notebooks"
    executed.mkdir()
    _executed_notebook(executed / "01_ok.ipynb")
    html = report.build_report(executed, tmp_path / "index.html").read_text()
    assert "src='figures/01_ok/figure-00.png'" in html
    assert "Figure 1: Training the model" in html
    assert "Run time: 12.5 s, started 2026-11-22 00:26:33 UTC" in html
    assert "Training the model (9.5 s)" in html


def test_collect_keeps_gif_animations_apart_from_the_png_figures(tmp_path):
    info = report.collect(_executed_notebook(tmp_path / "02_demo.ipynb", gif=True))
    assert len(info["figures"]) == 2 and all(f.startswith(b"\x89PNG") for f in info["figures"])
    assert len(info["animations"]) == 1 and info["animations"][0].startswith(b"GIF89a")
    assert info["animation_sections"] == ["Training the model"]
    assert [m["format"] for m in info["media"]] == ["png", "gif", "png"]


def test_report_embeds_animations_in_notebook_order_as_gif_files(tmp_path):
    executed = tmp_path / "notebooks"
    executed.mkdir()
    _executed_notebook(executed / "01_ok.ipynb", gif=True)
    html = report.build_report(executed, tmp_path / "index.html").read_text()
    figures = tmp_path / "figures" / "01_ok"
    assert sorted(p.name for p in figures.iterdir()) == [
        "figure-00.png",
        "figure-01.gif",
        "figure-02.png",
    ]
    assert (figures / "figure-01.gif").read_bytes().startswith(b"GIF89a")
    assert "src='figures/01_ok/figure-01.gif'" in html
    assert "Figure 2 (animated): Training the model" in html
    assert "<td>1</td><td>3</td>" in html  # the summary counts the animation as a figure


def test_report_links_the_rendered_page_when_it_exists(tmp_path):
    executed = tmp_path / "notebooks"
    executed.mkdir()
    _executed_notebook(executed / "01_ok.ipynb")
    (executed / "01_ok.html").write_text("<html></html>")
    _executed_notebook(executed / "02_no_page.ipynb")
    html = report.build_report(executed, tmp_path / "index.html").read_text()
    assert html.count("rendered (.html)") == 1
    assert "href='notebooks/01_ok.html'" in html


def test_report_escapes_names_and_values(tmp_path):
    executed = tmp_path / "notebooks"
    executed.mkdir()
    path = _executed_notebook(executed / "01_ok.ipynb")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[0].source = "# <b>bold</b> title"
    nbformat.write(notebook, path)
    html = report.build_report(executed, tmp_path / "index.html").read_text()
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt; title" in html
