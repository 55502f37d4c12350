"""docs/sweeps.md's commands, run the way the page says to run them.

The cluster: `dask scheduler` and `dask worker` from Dask's own command line, as the page gives
them, each a process of its own in a working directory of its own, on free ports of 127.0.0.1,
with the package `support` on their path and not the checkout's `tools`; the page's sweep
command, pointed at that scheduler, from the checkout. One of the two workers is killed while it
runs a notebook: that run alone fails, saying so, and the same command run again completes it.
The page's other sweep commands are checked with `--dry-run` (their grids, seeds and values pass
the notebooks' check cells); running them takes hours.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import psutil
import pytest

from tools.notebooks import ROOT
from tools.sweep.run import terminate

DOCS = ROOT / "docs" / "sweeps.md"
DASK = Path(sys.executable).parent / "dask"


def docs_commands() -> list[str]:
    """Every line of the page's ```bash blocks, without its comment."""
    text = DOCS.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line:
                lines.append(line)
    return lines


def docs_command(start: str, containing: str = "") -> list[str]:
    """The page's one command that starts with `start` (and holds `containing`), split as the
    shell splits it."""
    found = [line for line in docs_commands() if line.startswith(start) and containing in line]
    assert len(found) == 1, f"docs/sweeps.md must give one `{start}` command, it gives {found}"
    return shlex.split(found[0])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(predicate, seconds=300):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.5)


def _rows(folder: Path) -> dict[str, dict[str, str]]:
    with open(folder / "results.csv", newline="") as handle:
        return {row["run"]: row for row in csv.DictReader(handle)}


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two workers from Dask's command line; yields (address, workers' CLI
    process). Every process is stopped at the end, whether the test passed or not."""
    site = tmp_path / "site"  # the installed package alone, without the checkout's `tools`
    site.mkdir()
    (site / "support").symlink_to(ROOT / "support")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    env["PYTHONPATH"] = str(site)
    probe = "import importlib.util as u; print(u.find_spec('support').origin, u.find_spec('tools'))"
    probe = subprocess.run([sys.executable, "-c", probe], cwd=site, env=env, capture_output=True)
    assert probe.stdout.decode().split() == [str(site / "support" / "__init__.py"), "None"]
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = docs_command("dask scheduler")
    scheduler += ["--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]
    worker = [address if w == "tcp://HOST:8786" else w for w in docs_command("dask worker")]
    assert address in worker
    worker += ["--host", "127.0.0.1", "--no-dashboard"]
    processes = []
    try:
        for name, command in (("scheduler", scheduler), ("workers", worker)):
            folder = tmp_path / name
            folder.mkdir()
            log = open(folder / "log.txt", "wb")  # noqa: SIM115 (closed with the process)
            process = subprocess.Popen(
                [str(DASK), *command[1:]],
                cwd=folder,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            processes.append((process, log))
            if name == "scheduler":
                _wait_for(lambda: _accepts(port), 120)
        from distributed import Client

        with Client(address) as client:
            client.wait_for_workers(2, timeout=180)
        yield address, processes[1][0]
    finally:
        for process, log in reversed(processes):
            terminate(process, grace=20.0)  # the process group, as a sweep stops its runs
            log.close()


def _accepts(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _driver(workers: subprocess.Popen) -> psutil.Process | None:
    """The papermill child of a run on one of the workers, once a run has begun."""
    for process in psutil.Process(workers.pid).children(recursive=True):
        try:
            command = process.cmdline()
        except psutil.Error:
            continue
        if command[1:2] == ["-c"] and "papermill.execute_notebook" in command[2]:
            return process
    return None


@pytest.mark.slow
def test_the_docs_cluster_sweep_runs_and_a_killed_worker_fails_only_its_own_run(cluster, tmp_path):
    address, workers = cluster
    command = docs_command("python -m tools sweep", "--scheduler tcp://HOST:8786")
    command = [address if c == "tcp://HOST:8786" else c for c in command]
    assert address in command
    command = [sys.executable, *command[1:], "--out", str(tmp_path / "out")]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    sweep = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _driver(workers) is not None)
        driver = _driver(workers)
        parameters = json.loads((Path(driver.cwd()) / "p.json").read_text())
        driver.parent().send_signal(signal.SIGKILL)  # the worker process running that run
        out, _ = sweep.communicate(timeout=900)
    finally:
        if sweep.poll() is None:
            sweep.kill()
    folder = tmp_path / "out" / "04_entropy_monte_carlo-NUM_SAMPLES"
    rows = _rows(folder)
    assert sorted(rows) == ["NUM_SAMPLES=1000,seed=0", "NUM_SAMPLES=2000,seed=0"]
    failed = [row for row in rows.values() if row["status"] != "ok"]
    assert len(failed) == 1, out
    killed = failed[0]
    assert killed["run"] == f"NUM_SAMPLES={parameters['NUM_SAMPLES']},seed={parameters['SEED']}"
    assert killed["error_name"] == "WorkerDied"
    assert killed["error_value"].startswith("the Dask worker running this run (tcp://127.0.0.1:")
    assert "run the same sweep command again to rerun it" in killed["error_value"]
    assert sweep.returncode == 1
    assert out.splitlines()[-2].startswith("sweep: 1 of 2 runs ok; ")
    assert out.splitlines()[-1].startswith(
        "sweep: to rerun the 1 that did not succeed (the 1 that did is kept), run the same "
        "command again: python -m tools sweep 04 "
    )
    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 finished already, 1 to run" in again.stdout
    assert again.stdout.splitlines()[-1].startswith("sweep: 2 of 2 runs ok; ")
    rows = _rows(folder)
    for row in rows.values():
        assert row["status"] == "ok" and row["host"] and row["E[X] [N(1, 0.3^2)]"]
    assert {(row["NUM_SAMPLES"], row["seed"]) for row in rows.values()} == {
        ("1000", "0"),
        ("2000", "0"),
    }
    site = docs_command("python -m tools.site")
    site = [w.replace("build/sweeps/", f"{tmp_path / 'out'}/") for w in site]
    assert site[-1] == str(folder)
    site = [sys.executable, *site[1:], "--out", str(tmp_path / "site")]
    built = subprocess.run(site, cwd=ROOT, env=env, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    page = (tmp_path / "site" / "sweeps" / f"{folder.name}.html").read_text()
    assert "2 runs (2 ok)" in page


def test_the_docs_install_line_installs_the_sweep_extra_with_dask_and_papermill():
    command = docs_command("pip install")
    assert command[-2:] == ["-e", ".[sweep]"]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(r.startswith("distributed") for r in extras["sweep"])
    assert "tfp-notebooks-support[notebooks]" in extras["sweep"]
    assert any(r.startswith("papermill") for r in extras["notebooks"])
    assert (ROOT / command[command.index("-c") + 1]).is_file()


def _here_commands() -> list[list[str]]:
    """The page's sweep commands that run here (`python -m tools sweep`, `nox -s sweep`)."""
    commands = []
    for line in docs_commands():
        words = shlex.split(line)
        if words[:4] == ["python3", "-m", "nox", "-s"] and words[4] == "sweep":
            commands.append(["python", "-m", "tools", "sweep", *words[words.index("--") + 1 :]])
        elif words[:4] == ["python", "-m", "tools", "sweep"] and "--scheduler" not in words:
            commands.append(words)
    return commands


CLUSTER_TEST = "test_the_docs_cluster_sweep_runs_and_a_killed_worker_fails_only_its_own_run"
DRY_RUN_TEST = "test_each_sweep_the_docs_give_passes_its_notebooks_checks"
TESTED = (  # each kind of command the page gives, and the test that runs it
    ("pip install ", "test_the_docs_install_line_installs_the_sweep_extra_with_dask_and_papermill"),
    ("dask scheduler", CLUSTER_TEST),
    ("dask worker ", CLUSTER_TEST),
    ("python -m tools sweep ", DRY_RUN_TEST),  # the one with --scheduler: CLUSTER_TEST
    ("python3 -m nox -s sweep -- ", DRY_RUN_TEST),
    ("python -m tools.site ", CLUSTER_TEST),
)


def test_every_command_the_docs_give_is_one_these_tests_run():
    untested = [c for c in docs_commands() if not c.startswith(tuple(k for k, _ in TESTED))]
    assert untested == []
    assert all(callable(globals().get(test)) for _, test in TESTED)
    assert len(_here_commands()) == 3
    assert len([c for c in docs_commands() if "--scheduler tcp://HOST:8786" in c]) == 1


def _count_runs(command: list[str]) -> int:
    """The runs of a sweep command: its seeds (`--seeds A:B`) times each axis's values."""
    start, stop = map(int, command[command.index("--seeds") + 1].split(":"))
    values = [
        len(list(itertools.takewhile(lambda word: not word.startswith("-"), command[i + 2 :])))
        for i, word in enumerate(command)
        if word == "-g"
    ]
    return (stop - start) * math.prod(values)


@pytest.mark.slow
@pytest.mark.parametrize("command", _here_commands(), ids=" ".join)
def test_each_sweep_the_docs_give_passes_its_notebooks_checks(command, tmp_path):
    dry = [sys.executable, *command[1:], "--dry-run", "--out", str(tmp_path)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(dry, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{_count_runs(command)} runs of ")
