"""The README's gallery: one figure per notebook from a run with the default parameters.

`export_gallery` writes `docs/gallery/<notebook>.png` and `docs/gallery/manifest.json`
(`python -m tools gallery`, behind `nox -s gallery`). Each notebook's figure is its key figure
as the site's results page shows it (`tools.site_results.key_figure`), from the same executed
notebooks. The main job never touches the tracked gallery: it writes only under `build/`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from pathlib import Path

import nbformat

from tools.notebooks import NOTEBOOK_DIR, ROOT, notebooks
from tools.site_results import key_figure, read_results

__all__ = ["GALLERY_DIR", "check_default_runs", "export_gallery"]

GALLERY_DIR = ROOT / "docs" / "gallery"


def check_default_runs(executed: Sequence[str | Path]) -> None:
    """Refuses executed notebooks that ran with parameters passed in (smoke or `-p`).

    Raises:
      ValueError: naming the notebooks and the parameters they ran with.
    """
    passed = {}
    for path in map(Path, executed):
        parameters = nbformat.read(path, as_version=4).metadata.get("papermill", {})
        if parameters.get("parameters"):
            passed[path.name] = parameters["parameters"]
    if passed:
        raise ValueError(
            "the gallery shows runs with the default parameters only; these ran with others: "
            + "; ".join(f"{name} {params}" for name, params in passed.items())
        )


def export_gallery(
    executed: Sequence[str | Path],
    gallery_dir: str | Path = GALLERY_DIR,
    width: int = 600,
    notebook_dir: Path = NOTEBOOK_DIR,
) -> Path:
    """Copies one key figure per executed notebook, downscaled, to the README's gallery.

    The figure is the notebook's key figure (`tools.site_results.key_figure`): the first one
    drawn by a cell tagged `gallery`, else the notebook's first figure. Each becomes
    `<gallery_dir>/<notebook stem>.png`, at most `width` pixels wide, and `manifest.json`
    lists them with the section the figure is in as caption. Notebooks that raised an error or
    drew nothing are skipped (their previous entry stays); entries of notebooks no longer in
    `notebook_dir` are dropped.

    Returns:
      The path of `manifest.json`.

    Raises:
      ValueError: if `width` is not a positive integer.
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    gallery_dir = Path(gallery_dir)
    gallery_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = gallery_dir / "manifest.json"
    entries = {}
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text(encoding="utf-8"))
        entries = {e["notebook"]: e for e in old.get("figures", [])}
    for path in map(Path, executed):
        info, figure = read_results(path), key_figure(path)
        if info["errors"] or figure is None:
            continue
        from PIL import Image  # only here: `python -m tools l10n` runs without Pillow

        image = Image.open(io.BytesIO(figure.data)).convert("RGBA")
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        if flat.width > width:
            flat = flat.resize((width, round(flat.height * width / flat.width)), Image.LANCZOS)
        flat.save(gallery_dir / f"{path.stem}.png", optimize=True)
        entries[path.stem] = {
            "notebook": path.stem,
            "file": f"{path.stem}.png",
            "title": info["title"],
            "caption": figure.section,
            "source": f"notebooks/{path.name}",
        }
    live = {p.stem for p in notebooks(directory=Path(notebook_dir))}
    for stem in sorted(set(entries) - live):
        (gallery_dir / entries.pop(stem)["file"]).unlink(missing_ok=True)
    figures = [entries[stem] for stem in sorted(entries)]
    manifest_path.write_text(
        json.dumps({"width": width, "figures": figures}, indent=2) + "\n", encoding="utf-8"
    )
    return manifest_path
