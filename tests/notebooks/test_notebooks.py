"""Every notebook follows the suite's skeleton and is stored without outputs (goldens apart)."""

import re
from pathlib import Path

import nbformat
import pytest

from tools import goldens
from tools import notebooks as nbtools
from tools.goldens import golden_cells

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
IDS = [p.stem for p in NOTEBOOKS]
REPOSITORY = "tfp-notebooks/tfp-notebooks"


def _read(path):
    return nbformat.read(path, as_version=4)


def _code(notebook):
    return [c for c in notebook.cells if c.cell_type == "code"]


def test_the_suite_has_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebook_starts_with_a_title_and_a_colab_badge_for_its_own_path(path):
    first = _read(path).cells[0]
    assert first.cell_type == "markdown"
    assert first.source.startswith("# ")
    badge = re.search(r"https://colab\.research\.google\.com/github/([^)\s]+)", first.source)
    assert badge, "no Colab badge in the first cell"
    assert badge.group(1) == f"{REPOSITORY}/blob/main/notebooks/{path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_setup_cell_installs_only_in_colab_then_imports_support(path):
    setup = _code(_read(path))[0].source
    lines = [line for line in setup.splitlines() if line.strip()]
    install = [i for i, line in enumerate(lines) if "pip install" in line]
    assert len(install) == 1
    assert lines[install[0] - 1].startswith('if "google.colab" in sys.modules')
    assert lines[install[0]].startswith("    ")  # inside the guard
    assert f"github.com/{REPOSITORY}" in lines[install[0]]
    assert "import support" in setup


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_one_parameters_cell_of_literals_including_the_seed(path):
    cells = _code(_read(path))
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    declared = nbtools.declared_parameters(path)
    assert "SEED" in declared
    for line in tagged[0].source.splitlines():
        code = line.split("#")[0].strip()
        if code:
            assert re.fullmatch(r"[A-Z][A-Z0-9_]* = .+", code), f"not a literal: {line!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_parameters_are_checked_in_the_next_cell_before_anything_else(path):
    cells = _code(_read(path))
    index = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    check = cells[index + 1].source
    assert "check_parameters(" in check
    for name in nbtools.declared_parameters(path):
        assert f"{name}=" in check, f"{name} is not checked"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_last_cell_reports_versions(path):
    assert "print_versions()" in _code(_read(path))[-1].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_notebooks_are_stored_without_any_output(path):
    # A learner reads stored outputs as the notebook's results: none may come from a smoke run.
    for i, cell in enumerate(_read(path).cells):
        if cell.cell_type == "code":
            assert not cell.outputs, f"cell {i} keeps outputs"
            assert cell.execution_count is None, f"cell {i} keeps an execution count"
            assert "keep_output" not in cell.metadata, f"cell {i} is marked keep_output"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_golden_cell_has_its_recorded_smoke_output(path):
    notebook = _read(path)
    sources = [notebook.cells[i].source for i in golden_cells(notebook)]
    assert sources, "a notebook needs at least one golden cell"
    recorded = goldens.load(path)
    assert recorded["parameters"] == nbtools.load_smoke_parameters(path), "re-record goldens"
    assert [cell["source"] for cell in recorded["cells"]] == sources, "re-record goldens"
    for cell in recorded["cells"]:
        assert cell["outputs"], f"golden cell {cell['source'].splitlines()[0]!r} printed nothing"
        assert all(o["output_type"] != "error" for o in cell["outputs"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_smoke_parameters_are_declared_by_the_notebook(path):
    smoke = nbtools.load_smoke_parameters(path)
    assert set(smoke) <= set(nbtools.declared_parameters(path))


MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_links_in_the_prose_work_in_colab_and_on_the_site(path):
    # A notebook opens on its own (Colab, a download, the site's page): a link into the
    # repository must be a full URL, never a path relative to the checkout.
    relative = [
        target
        for cell in _read(path).cells
        if cell.cell_type == "markdown"
        for target in MARKDOWN_LINK.findall(cell.source)
        if not target.startswith(("http://", "https://", "#", "mailto:"))
    ]
    assert relative == [], f"use full URLs: {relative}"
