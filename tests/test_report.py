import base64
import math

import nbformat
import pytest

from support import report

PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def test_headline_outside_a_kernel_prints_value_and_reference(capsys):
    record = report.headline(
        "held-out NLL", 0.5123, reference=0.478, reference_name="entropy floor", unit="nats"
    )
    out = capsys.readouterr().out
    assert "held-out NLL: 0.5123 nats" in out
    assert "entropy floor: 0.478" in out
    assert record["value"] == pytest.approx(0.5123)


def test_headline_shows_the_standard_error():
    assert "± 0.01" in report._headline_text(
        {"name": "x", "value": 1.0, "stderr": 0.01, "unit": "", "reference": None}
    )


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"name": "", "value": 1.0}, "name"),
        ({"name": "x", "value": "abc"}, "value"),
        ({"name": "x", "value": 1.0, "reference": [1, 2]}, "reference"),
        ({"name": "x", "value": 1.0, "stderr": object()}, "stderr"),
    ],
)
def test_headline_rejects_bad_input_by_name(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        report.headline(**kwargs)


def _executed_notebook(path, *, error=False):
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell("# My notebook\n\ntext"))
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                report.HEADLINE_MIME: {
                    "name": "held-out NLL",
                    "value": 0.51,
                    "reference": 0.478,
                    "reference_name": "entropy floor",
                    "stderr": None,
                    "unit": "nats",
                },
                "text/plain": "held-out NLL: 0.51",
            },
        ),
        nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "fig"}),
    ]
    if error:
        cell.outputs.append(
            nbformat.v4.new_output("error", ename="AssertionError", evalue="bad", traceback=[])
        )
    notebook.cells.append(cell)
    notebook.metadata["papermill"] = {"parameters": {"EPOCHS": 3}, "duration": 12.5}
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
