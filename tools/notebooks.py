"""The suite's notebooks: finding them, their parameters, smoke sets and papermill runs.

`read_parameters` is the one parser of a notebook's `parameters` cell: the runner checks
overrides against it, the results page shows its defaults and the benchmark reads the FFJORD
notebook's configuration from it. Command-line values are read as YAML, so `-p EPOCHS 3`,
`-p HIDDEN_SIZES "[16, 16]"` and `-p TRACE hutchinson` all do what they look like.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nbformat

__all__ = [
    "BUILD_DIR",
    "NOTEBOOK_DIR",
    "ROOT",
    "SMOKE_DIR",
    "check_overrides",
    "declared_parameters",
    "execute",
    "ipc_kernel_manager",
    "load_smoke_parameters",
    "notebooks",
    "parameters_for",
    "parse_value",
    "portable_paths",
    "read_parameters",
]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"
SMOKE_DIR = NOTEBOOK_DIR / "smoke"
BUILD_DIR = ROOT / "build"


def parse_value(text: str) -> Any:
    """Reads a command-line parameter value as YAML (numbers, lists, booleans, strings)."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def notebooks(pattern: str | None = None, directory: Path = NOTEBOOK_DIR) -> list[Path]:
    """The suite's notebooks, in order, optionally only those whose name contains `pattern`."""
    found = sorted(p for p in Path(directory).glob("[0-9][0-9]_*.ipynb"))
    if pattern:
        found = [p for p in found if pattern in p.name]
        if not found:
            raise SystemExit(f"--only {pattern!r} matches no notebook in {directory}")
    return found


def read_parameters(source: str, *, as_source: bool = False) -> dict[str, Any]:
    """The `NAME = value` assignments of a parameters cell's source, in order.

    Literal values are evaluated (`ast.literal_eval`); anything else is kept as its source
    text, so a cell is read without running it. With `as_source`, every value is its
    source text, as the notebook spells it (what a results page shows).

    Raises:
      ValueError: if the source is not valid Python.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ValueError(f"the parameters cell is not valid Python: {error}") from None
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name):
                if as_source:
                    found[target.id] = ast.get_source_segment(source, node.value) or ""
                    continue
                try:
                    found[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    found[target.id] = ast.get_source_segment(source, node.value)
    return found


def parameters_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    """The first code cell tagged `parameters`, or None."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            return cell
    return None


def declared_parameters(path: str | Path) -> dict[str, Any]:
    """Names and default values assigned in the notebook's `parameters` cell.

    Raises:
      ValueError: if the notebook has no cell tagged `parameters`.
    """
    cell = parameters_cell(nbformat.read(Path(path), as_version=4))
    if cell is None:
        raise ValueError(f"{path} has no cell tagged 'parameters'")
    return {k: v for k, v in read_parameters(cell.source).items() if k.isupper()}


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
    path: Path, overrides: Sequence[tuple[str, str]] = (), smoke: bool = False
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


def check_overrides(paths: Sequence[Path], overrides: Sequence[tuple[str, str]]) -> None:
    """Stops the run if an override names a parameter none of `paths` declares."""
    declared: set[str] = set()
    for path in paths:
        declared |= set(declared_parameters(path))
    unknown = sorted({name for name, _ in overrides} - declared)
    if unknown:
        raise SystemExit(
            f"parameter(s) {', '.join(unknown)} are declared by none of: "
            + ", ".join(p.name for p in paths)
        )


def ipc_kernel_manager(socket_dir: str) -> type:
    """A kernel manager whose kernel talks over Unix sockets in `socket_dir`, not TCP.

    A kernel on TCP listens on 127.0.0.1, where any local user can connect (each message is
    signed with the connection file's key, but travels unencrypted), and ipykernel warns
    "Kernel is running over TCP without encryption" on every start. Unix sockets in a
    private temporary directory (mode 0700) are reachable by this user only, and the warning
    has no cause. The socket paths (`<socket_dir>/kernel-N`) stay far below the ~107
    characters a Unix socket path may have, and a directory per run keeps concurrent runs
    apart. The manager also remembers the kernels it starts (`pids`), for `execute`.
    """
    from jupyter_client import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        pids: list[int] = []

        def __init__(self, **kwargs):
            kwargs.update(transport="ipc", ip=os.path.join(socket_dir, "kernel"))
            super().__init__(**kwargs)

        async def _async_launch_kernel(self, kernel_cmd, **kw):
            await super()._async_launch_kernel(kernel_cmd, **kw)
            pid = getattr(self.provisioner, "pid", None)
            if pid is not None:
                IPCKernelManager.pids.append(pid)

    return IPCKernelManager


class _PassOnSigterm:
    """While a notebook runs, a SIGTERM to the runner goes on to the kernel and the runner
    waits for the kernel to stop: inside `support.fit` the kernel finishes its step, saves
    and fails the cell, which ends the run. (Were the runner to die at once, the kernel would
    follow it within a second, mid-save.) Then `execute` exits with 143, as SIGTERM would."""

    def __init__(self, manager):
        self.manager, self.received, self.previous = manager, False, None

    def _handler(self, signum, frame):
        self.received = True
        for pid in self.manager.pids:
            with contextlib.suppress(OSError):  # already gone
                os.kill(pid, signal.SIGTERM)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._handler)
        return self

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)
        if self.received:
            print("SIGTERM: the notebook was stopped", file=sys.stderr, flush=True)
            raise SystemExit(128 + signal.SIGTERM)
        return False


def execute(src: Path, dst: Path, parameters: dict[str, Any], prepare_only: bool = False):
    """Runs (or, with `prepare_only`, only parameterises) one notebook with papermill.

    The kernel talks over Unix sockets (`ipc_kernel_manager`), so no TCP port is opened. A
    SIGTERM during the run reaches the kernel (`support.fit` saves) and ends the runner with
    exit status 143 once the kernel has stopped.
    """
    import papermill

    dst.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("SUPPORT_PROGRESS", "text")  # the kernel inherits it: text bars
    with tempfile.TemporaryDirectory(prefix="nbk-") as sockets:
        manager = ipc_kernel_manager(sockets)
        try:
            with _PassOnSigterm(manager):
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
                    kernel_manager_class=manager,
                )
        finally:  # a failed or stopped run too: papermill has written what ran
            portable_paths(dst)


def portable_paths(path: Path, root: Path = ROOT) -> None:
    """Rewrites the input and output paths papermill records in a notebook's metadata relative
    to the repository (`notebooks/01_distribution_zoo.ipynb`), or to the file's name outside it:
    the notebook is offered for download and must not carry this machine's folders."""
    try:
        notebook = nbformat.read(path, as_version=4)
    except (OSError, ValueError):  # not written, or cut off by a stopped run: nothing to do
        return
    recorded = notebook.metadata.get("papermill", {})
    root = Path(root).resolve()  # as the recorded paths are compared: /tmp may be a link
    for key in ("input_path", "output_path"):
        value = recorded.get(key)
        if not value or not Path(value).is_absolute():
            continue
        full = Path(value).resolve()
        recorded[key] = (
            full.relative_to(root).as_posix() if full.is_relative_to(root) else full.name
        )
    nbformat.write(notebook, path)
