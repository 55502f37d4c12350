"""The README's gallery: what `tools.gallery` writes and what the README shows."""

import base64
import io
import json
import re
import struct
from pathlib import Path

import nbformat
import pytest
from PIL import Image

from tools import gallery

ROOT = Path(__file__).resolve().parents[2]
GALLERY = ROOT / "docs" / "gallery"


def _png(width, height, color=(200, 30, 30, 255)):
    buffer = io.BytesIO()
    Image.new("RGBA", (width, height), color).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _png_size(path):
    header = Path(path).read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def _executed(path, figures, *, tagged=None, error=False):
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell("# Demo title\n\n## First part"))
    for k, png in enumerate(figures):
        cell = nbformat.v4.new_code_cell(f"plot({k})")
        if tagged == k:
            cell.metadata["tags"] = ["gallery"]
        cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png})]
        notebook.cells.append(cell)
    if error:
        cell = nbformat.v4.new_code_cell("boom()")
        cell.outputs = [nbformat.v4.new_output("error", ename="E", evalue="x", traceback=[])]
        notebook.cells.append(cell)
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def suite(tmp_path):
    """A notebooks folder, an executed folder and a gallery folder."""
    for name in ("01_a", "02_b"):
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / f"{name}.ipynb")
    (tmp_path / "run").mkdir()
    return tmp_path


def _export(suite, executed, **kwargs):
    return gallery.export_gallery(executed, suite / "gallery", notebook_dir=suite, **kwargs)


def test_gallery_holds_each_notebooks_first_figure_downscaled(suite):
    path = _executed(suite / "run" / "01_a.ipynb", [_png(1300, 650), _png(100, 100)])
    manifest = json.loads(_export(suite, [path], width=600).read_text())
    assert manifest["figures"] == [
        {
            "notebook": "01_a",
            "file": "01_a.png",
            "title": "Demo title",
            "caption": "First part",
            "source": "notebooks/01_a.ipynb",
        }
    ]
    assert _png_size(suite / "gallery" / "01_a.png") == (600, 300)


def test_a_cell_tagged_gallery_chooses_the_figure(suite):
    path = _executed(suite / "run" / "01_a.ipynb", [_png(300, 300), _png(200, 100)], tagged=1)
    _export(suite, [path])
    assert _png_size(suite / "gallery" / "01_a.png") == (200, 100)  # small ones stay as they are


def test_a_failed_or_figureless_notebook_keeps_its_previous_entry(suite):
    _export(suite, [_executed(suite / "run" / "01_a.ipynb", [_png(40, 20)])])
    failed = _executed(suite / "run" / "01_a.ipynb", [_png(80, 80)], error=True)
    empty = _executed(suite / "run" / "02_b.ipynb", [])
    manifest = json.loads(_export(suite, [failed, empty]).read_text())
    assert [e["notebook"] for e in manifest["figures"]] == ["01_a"]
    assert _png_size(suite / "gallery" / "01_a.png") == (40, 20)


def test_one_notebooks_run_updates_only_its_own_entry(suite):
    _export(suite, [_executed(suite / "run" / "01_a.ipynb", [_png(40, 20)])])
    manifest = json.loads(
        _export(suite, [_executed(suite / "run" / "02_b.ipynb", [_png(50, 50)])]).read_text()
    )
    assert [e["file"] for e in manifest["figures"]] == ["01_a.png", "02_b.png"]


def test_entries_of_removed_notebooks_are_dropped_with_their_files(suite):
    _export(suite, [_executed(suite / "run" / "02_b.ipynb", [_png(40, 20)])])
    (suite / "02_b.ipynb").unlink()
    manifest = json.loads(_export(suite, []).read_text())
    assert manifest["figures"] == []
    assert not (suite / "gallery" / "02_b.png").exists()


@pytest.mark.parametrize("width", [0, -3, 2.5, True])
def test_export_gallery_rejects_a_bad_width_by_name(suite, width):
    with pytest.raises(ValueError, match="width"):
        _export(suite, [], width=width)


def _readme_gallery_files():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Gallery\n(.*?)(?=^## |\Z)", readme, flags=re.S | re.M)
    assert match, "README.md has no '## Gallery' section"
    return re.findall(r"docs/gallery/([^)\s\"']+\.png)", match.group(1))


def test_readme_gallery_shows_exactly_the_manifests_figures():
    manifest = json.loads((GALLERY / "manifest.json").read_text(encoding="utf-8"))
    listed = [entry["file"] for entry in manifest["figures"]]
    shown = _readme_gallery_files()
    assert sorted(shown) == sorted(listed)
    assert len(set(shown)) == len(shown), "a figure is shown twice"


def test_gallery_files_exist_are_small_pngs_and_nothing_else_is_there():
    manifest = json.loads((GALLERY / "manifest.json").read_text(encoding="utf-8"))
    listed = {entry["file"] for entry in manifest["figures"]}
    assert listed, "the gallery is empty"
    for entry in manifest["figures"]:
        assert (ROOT / entry["source"]).exists(), f"{entry['source']} is not in notebooks/"
        width, _ = _png_size(GALLERY / entry["file"])
        assert width <= manifest["width"]
    assert {p.name for p in GALLERY.glob("*.png")} == listed
