"""Running the notebooks: papermill parameters, smoke sets, golden cells, the report.

This is the engine behind the nox sessions:

* `nox -s notebooks` -> `python -m support.nbtools run`: executes every notebook with
  papermill into `build/notebooks/`, renders each to HTML and writes `build/index.html`.
* `nox -s tests` -> `python -m support.nbtools prepare`: papermill `--prepare-only` with the
  smoke parameters into `build/prepared/`, which `pytest --nbval-lax` then executes.
* `nox -s goldens` -> `python -m support.nbtools goldens`: re-records the regression cells
  (those marked `# NBVAL_CHECK_OUTPUT`) from a smoke run.

Parameters are `NAME VALUE` pairs; VALUE is read as YAML, so `-p EPOCHS 3`,
`-p HIDDEN_SIZES "[16, 16]"` and `-p TRACE hutchinson` all do what they look like.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat

__all__ = [
    "GOLDEN_MARK",
    "declared_parameters",
    "export_gallery",
    "golden_cells",
    "load_smoke_parameters",
    "parameters_for",
    "parse_value",
    "refresh_goldens",
    "main",
]

GOLDEN_MARK = "# NBVAL_CHECK_OUTPUT"
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
SMOKE_DIR = NOTEBOOK_DIR / "smoke"
GALLERY_DIR = ROOT / "docs" / "gallery"


def parse_value(text: str) -> Any:
    """Reads a command-line parameter value as YAML (numbers, lists, booleans, strings)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def notebooks(pattern: str | None = None, directory: Path = NOTEBOOK_DIR) -> list[Path]:
    """The suite's notebooks, in order, optionally only those whose name contains `pattern`."""
    found = sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))
    if pattern:
        found = [p for p in found if pattern in p.name]
        if not found:
            raise SystemExit(f"--only {pattern!r} matches no notebook in {directory}")
    return found


def declared_parameters(path: str | Path) -> dict[str, Any]:
    """Names and default values assigned in the notebook's `parameters` cell."""
    notebook = nbformat.read(Path(path), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            namespace: dict[str, Any] = {}
            exec(compile(cell.source, f"{path}:parameters", "exec"), {}, namespace)
            return {k: v for k, v in namespace.items() if k.isupper()}
    raise ValueError(f"{path} has no cell tagged 'parameters'")


def load_smoke_parameters(path: str | Path, smoke_dir: Path = SMOKE_DIR) -> dict[str, Any]:
    """The CI smoke parameters of one notebook: `notebooks/smoke/<notebook stem>.json`.

    A notebook without such a file runs with its defaults in the smoke set.
    """
    file = Path(smoke_dir) / f"{Path(path).stem}.json"
    if not file.exists():
        return {}
    with open(file, encoding="utf-8") as handle:
        smoke = json.load(handle)
    if not isinstance(smoke, dict):
        raise ValueError(f"{file} must hold one JSON object of PARAMETER: value")
    return smoke


def parameters_for(
    path: Path,
    overrides: Sequence[tuple[str, str]] = (),
    smoke: bool = False,
) -> dict[str, Any]:
    """Parameters to inject into one notebook: the smoke set (if asked), then overrides.

    An override applies to every notebook that declares that parameter.
    """
    declared = declared_parameters(path)
    chosen: dict[str, Any] = {}
    if smoke:
        chosen.update(load_smoke_parameters(path))
    for name, value in overrides:
        if name in declared:
            chosen[name] = parse_value(value)
    unknown = sorted(set(chosen) - set(declared))
    if unknown:
        raise ValueError(f"{path.name}: unknown parameter(s) {', '.join(unknown)}")
    return chosen


def _check_overrides(paths: Sequence[Path], overrides: Sequence[tuple[str, str]]) -> None:
    declared: set[str] = set()
    for path in paths:
        declared |= set(declared_parameters(path))
    unknown = sorted({name for name, _ in overrides} - declared)
    if unknown:
        raise SystemExit(
            f"parameter(s) {', '.join(unknown)} are declared by none of: "
            + ", ".join(p.name for p in paths)
        )


def golden_cells(notebook: nbformat.NotebookNode) -> list[int]:
    """Indexes of the code cells whose output is a regression golden."""
    return [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and cell.source.lstrip().startswith(GOLDEN_MARK)
    ]


def refresh_goldens(source: str | Path, executed: str | Path) -> int:
    """Copies the golden cells' outputs from an executed copy back into the source notebook.

    Every other cell is left without outputs or execution count; golden cells get
    `keep_output` metadata (so nbstripout keeps them) and an execution count (nbval needs
    one). Returns the number of golden cells written.
    """
    source, executed = Path(source), Path(executed)
    original = nbformat.read(source, as_version=4)
    ran = nbformat.read(executed, as_version=4)
    ran_by_source = {}
    for cell in ran.cells:
        if cell.cell_type == "code":
            ran_by_source.setdefault(cell.source, cell)
    goldens = set(golden_cells(original))
    count = 0
    for i, cell in enumerate(original.cells):
        if cell.cell_type != "code":
            continue
        if i in goldens:
            match = ran_by_source.get(cell.source)
            if match is None:
                raise ValueError(f"golden cell {i} of {source.name} not found in {executed}")
            outputs = copy.deepcopy(match.get("outputs", []))
            count += 1
            for output in outputs:
                if output.get("output_type") == "error":
                    raise ValueError(f"golden cell {i} of {source.name} raised an error")
                if output.get("output_type") == "execute_result":
                    output["execution_count"] = count
            cell.outputs = outputs
            cell.execution_count = count
            cell.metadata["keep_output"] = True
        else:
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("keep_output", None)
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
    nbformat.write(original, source)
    return count


def _papermill(src: Path, dst: Path, parameters: dict[str, Any], prepare_only: bool) -> None:
    import papermill

    dst.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SUPPORT_PROGRESS", "text")  # the kernel inherits it: text bars
    papermill.execute_notebook(
        str(src),
        str(dst),
        parameters=parameters,
        prepare_only=prepare_only,
        kernel_name="python3",
        cwd=str(src.parent),
        progress_bar=False,
        log_output=not prepare_only,
        stdout_file=None,
    )


def _strip(path: Path) -> None:
    """Normalises a notebook as the lint session expects (nbstripout, keeping counts)."""
    import subprocess

    try:
        import nbstripout  # noqa: F401
    except ImportError:
        raise SystemExit("nbstripout is not installed: pip install -e '.[lint]'") from None
    subprocess.run([sys.executable, "-m", "nbstripout", "--keep-count", str(path)], check=True)


def export_gallery(
    executed: Sequence[str | Path],
    gallery_dir: str | Path = GALLERY_DIR,
    width: int = 600,
    notebook_dir: Path = NOTEBOOK_DIR,
) -> Path:
    """Copies one key figure per executed notebook, downscaled, to the README's gallery.

    The figure is the first one drawn by a cell tagged `gallery`, else the notebook's first
    figure. Each becomes `<gallery_dir>/<notebook stem>.png`, at most `width` pixels wide, and
    `manifest.json` lists them. Notebooks that raised an error or drew nothing are skipped
    (their previous entry stays); entries of notebooks no longer in `notebook_dir` are dropped.

    Returns:
      The path of `manifest.json`.

    Raises:
      ValueError: if `width` is not a positive integer.
    """
    import base64
    import io

    from PIL import Image

    from support.report import collect

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
        info = collect(path)
        if info["errors"] or not info["figures"]:
            continue
        tagged = [
            base64.b64decode(output["data"]["image/png"])
            for cell in nbformat.read(path, as_version=4).cells
            if cell.cell_type == "code" and "gallery" in cell.metadata.get("tags", [])
            for output in cell.get("outputs", [])
            if "image/png" in output.get("data", {})
        ]
        png = (tagged or info["figures"])[0]
        section = info["figure_sections"][info["figures"].index(png)]
        image = Image.open(io.BytesIO(png)).convert("RGBA")
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        if flat.width > width:
            flat = flat.resize((width, round(flat.height * width / flat.width)), Image.LANCZOS)
        flat.save(gallery_dir / f"{path.stem}.png", optimize=True)
        entries[path.stem] = {
            "notebook": path.stem,
            "file": f"{path.stem}.png",
            "title": info["title"],
            "caption": section,
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


def _render_html(path: Path) -> Path:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(path))
    target = path.with_suffix(".html")
    target.write_text(body, encoding="utf-8")
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m support.nbtools", description=__doc__)
    parser.add_argument("command", choices=["run", "prepare", "goldens", "list"])
    parser.add_argument("--smoke", action="store_true", help="use the CI smoke parameters")
    parser.add_argument("--only", help="only notebooks whose file name contains this")
    parser.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="papermill parameter for every notebook that declares NAME (VALUE is YAML)",
    )
    parser.add_argument("--out", default=str(ROOT / "build"), help="output directory")
    args = parser.parse_args(argv)
    paths = notebooks(args.only)
    overrides = [tuple(p) for p in args.parameter]
    _check_overrides(paths, overrides)
    out = Path(args.out)

    if args.command == "list":
        for path in paths:
            print(path.name, json.dumps(declared_parameters(path)))
        return 0
    if args.command == "prepare":
        for path in paths:
            params = parameters_for(path, overrides, smoke=True)
            _papermill(path, out / "prepared" / path.name, params, prepare_only=True)
            print(f"prepared {path.name} with {params}")
        return 0
    if args.command == "goldens":
        for path in paths:
            params = parameters_for(path, overrides, smoke=True)
            executed = out / "goldens" / path.name
            _papermill(path, executed, params, prepare_only=False)
            print(f"{path.name}: {refresh_goldens(path, executed)} golden cell(s) recorded")
            _strip(path)
        return 0

    failures = []
    for path in paths:
        params = parameters_for(path, overrides, smoke=args.smoke)
        executed = out / "notebooks" / path.name
        print(f"running {path.name} with {params or 'its defaults'}", flush=True)
        try:
            _papermill(path, executed, params, prepare_only=False)
        except Exception as error:  # papermill raises PapermillExecutionError and friends
            failures.append(f"{path.name}: {type(error).__name__}: {error}".splitlines()[0])
        if executed.exists():
            _render_html(executed)
    from support.report import build_report

    report = build_report(out / "notebooks", out / "index.html")
    print(f"report: {report}")
    if args.smoke or overrides:  # the README's gallery shows runs with the defaults only
        print("gallery: left as it is (smoke or overridden parameters)")
    else:
        ran = [out / "notebooks" / p.name for p in paths if (out / "notebooks" / p.name).exists()]
        print(f"gallery: {export_gallery(ran)}")
    if failures:
        print("failed:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
