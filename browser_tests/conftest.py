"""Fixtures for the browser check (`nox -s browser`): JupyterLab on loopback, headless Chromium.

These tests drive a real browser, so they live outside `tests/` and only run through
`nox -s browser` (or `pytest browser_tests` in an environment with jupyterlab and playwright).
They check what a reader sees: the notebooks run in JupyterLab with every figure drawn, and
the static site of executed notebooks (`build/site`, served on loopback) reads as it should,
with every figure and headline number on it.

Nothing here reaches beyond this machine: JupyterLab listens on 127.0.0.1 only, and the
browser refuses every request that is not to that server or a local file.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAB_SETTINGS = {
    # Keep every cell in the page, so a screenshot and the checks see all outputs; record when
    # each cell ran, so the site built from the saved notebooks gives their run times.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": (
        '{"windowingMode": "none", "recordTiming": true}'
    ),
    # Only the test saves: an autosave (every 120 s by default) that starts before the last
    # cell has run and ends after the test's save clears the tab's unsaved mark, so the test
    # would read the autosave's older copy (a CI run read 01 with its last cell unrun).
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": '{"autosave": false}',
    # No news or update checks: the server has no outside network anyway.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": (
        '{"fetchNews": "false", "checkForUpdates": false}'
    ),
}


def pytest_configure(config):
    """A SIGTERM (a CI time limit, `timeout`) unwinds like Ctrl-C, so fixtures stop
    JupyterLab and the browser."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def pytest_addoption(parser):
    group = parser.getgroup("browser check")
    group.addoption(
        "--prepared",
        default=str(ROOT / "build" / "prepared"),
        help="notebooks with their smoke parameters (python -m tools prepare)",
    )
    group.addoption(
        "--site",
        default=str(ROOT / "build" / "site"),
        help="the built site to check (nox -s notebooks and nox -s site write build/site)",
    )
    group.addoption(
        "--screenshots",
        default=str(ROOT / "build" / "browser"),
        help="where screenshots and the notebooks run in the browser go",
    )
    group.addoption(
        "--saved",
        default=None,
        help="where JupyterLab saves the notebooks it ran (default: <--screenshots>/notebooks)",
    )
    group.addoption(
        "--kernel-python",
        default=None,
        help="the Python whose kernel runs the notebooks (ipykernel installed in it; default: "
        "this one), such as the Colab stand-in's",
    )
    group.addoption("--chromium", default="/usr/bin/chromium", help="the system Chromium")
    group.addoption(
        "--notebook-timeout",
        type=float,
        default=900.0,
        help="seconds one notebook may take to run in JupyterLab",
    )


def pytest_generate_tests(metafunc):
    if "prepared_notebook" in metafunc.fixturenames:
        prepared = Path(metafunc.config.getoption("--prepared"))
        found = sorted(prepared.glob("[0-9][0-9]_*.ipynb"))
        metafunc.parametrize("prepared_notebook", found or [None], ids=[p.stem for p in found])


@pytest.fixture(scope="session")
def output_dir(request) -> Path:
    path = Path(request.config.getoption("--screenshots")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """A running JupyterLab: its base URL, token and the REST calls the tests need."""

    def __init__(self, url: str, token: str):
        self.url, self.token = url, token

    def api(self, path: str, method: str = "GET", prefix: str = "/api") -> bytes:
        request = urllib.request.Request(
            f"{self.url}{prefix}/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
            return response.read()

    def settings(self, plugin: str) -> dict:
        """The user settings JupyterLab serves for a plugin (they override its defaults)."""
        return json.loads(self.api(f"settings/{plugin}", prefix="/lab/api"))["settings"]


def _stop(process: subprocess.Popen) -> None:
    """Stops the server and the kernels it started (its own process group), whatever happens."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def lab_dir(request, output_dir) -> Path:
    """The folder JupyterLab serves: copies of the prepared notebooks, run and saved there."""
    saved = request.config.getoption("--saved")
    path = Path(saved).resolve() if saved else output_dir / "notebooks"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _kernel_spec(python: str, folder: Path) -> Path:
    """A `python3` kernel spec in `folder/kernels` that starts `python`'s ipykernel: the first
    folder of JUPYTER_PATH, so the notebooks (kernel name `python3`) run there."""
    probe = [python, "-c", "import ipykernel, sys; print(sys.executable)"]
    found = subprocess.run(probe, capture_output=True, text=True)
    if found.returncode != 0:
        raise pytest.UsageError(f"--kernel-python {python}: no ipykernel there\n{found.stderr}")
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    argv = [found.stdout.strip(), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    # The notebooks' own kernel name: JupyterLab saves it into each notebook, which the site
    # offers for download, so it must not carry this machine's path.
    kernel = {"argv": argv, "display_name": "Python 3", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    return folder


@pytest.fixture(scope="session")
def lab(request, tmp_path_factory, output_dir, lab_dir) -> Lab:
    """JupyterLab serving `lab_dir` on 127.0.0.1, a free port and a fresh token; its kernels run
    in `--kernel-python` when given."""
    home = tmp_path_factory.mktemp("jupyter")
    settings = home / "settings"
    for name, text in LAB_SETTINGS.items():
        file = settings / name
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text)
    port, token = _free_loopback_port(), secrets.token_hex(24)
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
    )
    # Always this spec, named as the notebooks' own kernel: ipykernel's default one is
    # "Python 3 (ipykernel)", which JupyterLab would save into the notebooks.
    kernel_python = request.config.getoption("--kernel-python") or sys.executable
    path = [str(_kernel_spec(kernel_python, home / "path"))]
    env["JUPYTER_PATH"] = os.pathsep.join(path + [p for p in [env.get("JUPYTER_PATH")] if p])
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={lab_dir}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={home / 'ws'}",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        "--ServerApp.terminals_enabled=False",
        "--allow-root",  # CI and these machines run as root
    ]
    log = open(output_dir / "jupyterlab.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=lab_dir, start_new_session=True
    )
    server = Lab(f"http://127.0.0.1:{port}", token)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited; see {output_dir / 'jupyterlab.log'}")
            try:
                server.api("status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not answer within 120 s") from None
                time.sleep(0.5)
        yield server
    finally:
        _stop(process)
        log.close()


@pytest.fixture(scope="session")
def browser(request, tmp_path_factory):
    """A headless system Chromium with a fresh profile that only talks to this machine."""
    from playwright.sync_api import sync_playwright

    executable = request.config.getoption("--chromium")
    if not Path(executable).exists():
        pytest.fail(f"no Chromium at {executable}: apt-get install chromium chromium-driver")
    profile = tmp_path_factory.mktemp("chromium-profile")
    playwright = sync_playwright().start()
    context = None
    try:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )

        def local_only(route):
            parts = urlsplit(route.request.url)
            if parts.scheme in ("file", "data", "blob") or parts.hostname == "127.0.0.1":
                route.continue_()
            else:
                route.abort()

        context.route("**/*", local_only)
        yield context
    finally:
        if context is not None:
            context.close()
        playwright.stop()
        shutil.rmtree(profile, ignore_errors=True)
