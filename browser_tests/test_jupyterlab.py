"""Each notebook, with its smoke parameters, runs in JupyterLab in Chromium: no cell shows an
error and every figure is drawn. A screenshot of each lands in `build/browser/<stem>.png`, and
the notebook as run and saved by JupyterLab in `build/browser/notebooks/`."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on show
KERNEL_IDLE = f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']"
# JupyterLab shows an error as a stderr output holding the traceback.
STDERR_OUTPUT = f"{PANEL} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
TRACEBACK = re.compile(r"^-{20,}\s*\n\s*\w+|Traceback \(most recent call last\)", re.M)
MAX_SCREENSHOT_HEIGHT = 16000  # Chromium's largest texture; longer notebooks are cut there

# Run All marks the code cells [*]; the run is over when none is left, the kernel is idle and
# every cell has run. A page where some cell is still at [ ] counts as over only once that has
# held for 15 s: a cell that raises stops the run and leaves later cells at [ ], and the test
# must still save the page to report the error.
FINISHED = """(panel) => {
  const prompts = [...document.querySelectorAll(panel + ' .jp-CodeCell .jp-InputPrompt')]
    .map((p) => p.textContent.trim());
  const idle = document.querySelector(
    panel + " .jp-Notebook-ExecutionIndicator[data-status='idle']") !== null;
  const queued = prompts.some((t) => t.includes('*'));
  const settled = idle && !queued && prompts.some((t) => /\\d/.test(t));
  if (!settled) {
    window.__settledSince = undefined;
    return false;
  }
  if (prompts.every((t) => /\\d/.test(t))) return true;
  window.__settledSince = window.__settledSince || Date.now();
  return Date.now() - window.__settledSince > 15000;
}"""

FIGURES = """(panel) => [...document.querySelectorAll(panel + ' .jp-OutputArea-output img')]
  .map((img) => ({ complete: img.complete, width: img.naturalWidth, height: img.naturalHeight }))"""


def _saved_outputs(path: Path) -> dict[str, int]:
    """Counts the saved notebook's figures, errors and cells that never ran."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    counts = {"figures": 0, "errors": 0, "unrun": 0}
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        counts["unrun"] += cell.get("execution_count") is None
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            counts["figures"] += "image/png" in data or "image/gif" in data
            counts["errors"] += output["output_type"] == "error"
    return counts


def _shut_down_kernels(lab) -> None:
    for session in json.loads(lab.api("sessions")):
        lab.api(f"sessions/{session['id']}", method="DELETE")


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).click()


STARTED = """(panel) => [...document.querySelectorAll(panel + ' .jp-CodeCell .jp-InputPrompt')]
  .some((p) => !p.textContent.includes('[ ]'))"""


def _run_all(page, attempts: int = 3) -> None:
    """Run > Run All Cells, again if a kernel that has only just started dropped the request."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        page.locator(f"{PANEL} .jp-CodeCell .jp-InputPrompt").first.click()  # focus it
        _menu(page, "Run", "Run All Cells")
        try:
            page.wait_for_function(STARTED, arg=PANEL, timeout=20_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise


def _screenshot(page, path: Path) -> None:
    """The whole notebook in one picture: the page grows to the notebook's height."""
    outer = f"{PANEL} .jp-WindowedPanel-outer"
    height = page.evaluate(f'() => document.querySelector("{outer}").scrollHeight')
    page.evaluate(f'() => document.querySelector("{outer}").scrollTo(0, 0)')
    page.set_viewport_size({"width": 1400, "height": min(height + 150, MAX_SCREENSHOT_HEIGHT)})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(path))


def _save(page, path: Path, timeout_s: float = 60) -> None:
    """File > Save, then wait until the page shows no unsaved change and the file is rewritten."""
    before = path.stat().st_mtime_ns
    page.locator(f"{PANEL} [data-command='docmanager:save']").click()
    page.wait_for_selector(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty", state="detached")
    deadline = time.monotonic() + timeout_s
    while path.stat().st_mtime_ns == before:
        assert time.monotonic() < deadline, f"JupyterLab did not save {path.name}"
        time.sleep(0.2)


def _version(python: str) -> str:
    probe = [python, "-c", "import platform; print(platform.python_version())"]
    return subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip()


def test_only_the_test_saves_the_notebooks(lab):
    # An autosave that overlaps the test's save can leave an older copy on disk (conftest.py).
    assert lab.settings("@jupyterlab/docmanager-extension:plugin")["autosave"] is False


def test_notebook_runs_in_jupyterlab_with_every_figure_drawn(
    prepared_notebook, lab, lab_dir, browser, output_dir, request
):
    if prepared_notebook is None:
        pytest.fail("no prepared notebooks: run `python -m tools prepare` first")
    timeout_ms = request.config.getoption("--notebook-timeout") * 1000
    copy = lab_dir / prepared_notebook.name
    shutil.copyfile(prepared_notebook, copy)
    screenshot = output_dir / f"{prepared_notebook.stem}.png"
    page = browser.new_page()
    page.set_viewport_size({"width": 1400, "height": 1000})
    start = time.monotonic()
    try:
        # `reset`: a fresh workspace, so no tab of an earlier notebook comes back.
        page.goto(f"{lab.url}/lab/tree/{copy.name}?reset&token={lab.token}")
        page.wait_for_selector(f"{PANEL} .jp-CodeCell", timeout=120_000)
        page.wait_for_selector(KERNEL_IDLE, timeout=120_000)
        _run_all(page)
        page.wait_for_function(FINISHED, arg=PANEL, timeout=timeout_ms, polling=1000)
        seconds = time.monotonic() - start

        _save(page, copy)
        saved = _saved_outputs(copy)
        errors = [t for t in page.locator(STDERR_OUTPUT).all_inner_texts() if TRACEBACK.search(t)]
        figures = page.evaluate(FIGURES, PANEL)
        page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()  # width
        print(f"{prepared_notebook.stem}: ran in {seconds:.0f} s, {len(figures)} figures")
    finally:
        try:
            _screenshot(page, screenshot)
        finally:
            page.close()
            _shut_down_kernels(lab)

    metadata = json.loads(copy.read_text(encoding="utf-8"))["metadata"]
    kernel_python = request.config.getoption("--kernel-python")
    if kernel_python:  # the notebook ran in that Python, not in JupyterLab's own
        ran_in = metadata["language_info"]
        assert ran_in["version"] == _version(kernel_python), (ran_in, kernel_python)
    source = json.loads(prepared_notebook.read_text(encoding="utf-8"))["metadata"]
    assert metadata["kernelspec"] == source["kernelspec"], metadata["kernelspec"]  # no path
    assert not errors, "a cell shows an error:\n" + "\n\n".join(e[-2000:] for e in errors)
    assert saved["errors"] == 0 and saved["unrun"] == 0, saved
    assert figures, "no figure was drawn"
    assert len(figures) == saved["figures"], (len(figures), saved)
    broken = [f for f in figures if not (f["complete"] and f["width"] > 0 and f["height"] > 0)]
    assert not broken, f"{len(broken)} of {len(figures)} figures did not render"
