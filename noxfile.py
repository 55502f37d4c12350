"""Sessions: `notebooks` (the main job), `tests`, `quick`, `lint`, `browser`, `colab`, `goldens`,
`gallery`, `bench`, `lock`, `site`, `sweep`, `l10n`.

nox -s notebooks                      # run every notebook, then build/site/index.html of them
nox -s notebooks -- --smoke           # the small CI parameters
nox -s notebooks -- --only 02 -p EPOCHS 5 -p TRACE hutchinson
nox -s ci                             # what CI runs (lint, tests on the oldest and newest
                                      # supported Python, browser, colab, bench -- --smoke),
                                      # as the sessions ci-*, two at a time
nox -s quick                          # the quick loop: lint and the unit tests not marked slow
nox -s tests                          # unit and regression tests on every supported Python
nox -s tests-3.12                     # ... on one of them
nox -s seeds -- --seeds 1,2,3,4,5     # the statistical tests under other seeds
nox -s torch                          # the benchmark's PyTorch anchor (tests/benchmarks/)
nox -s colab                          # a Colab stand-in runs the install cell, then every notebook
nox -s lock                           # re-resolve requirements/lock.txt after changing a range
nox -s goldens -- --only 01           # re-record a notebook's golden cells
nox -s goldens -- --check build/colab/notebooks # compare a smoke run with them (no run)
nox -s gallery                        # refresh docs/gallery/ from a default run
nox -s browser -- --notebooks build/notebooks # the browser check on the main job's notebooks
nox -s bench -- --smoke               # FFJORD: this project vs the tutorial, side by side
nox -s site                           # rebuild the static site of build/notebooks alone
nox -s sweep -- 04 -g NUM_SAMPLES 1000 4000 --seeds 0:3 --smoke   # 6 runs, a table, a page
nox -s l10n                           # update the translations from the English, count them
nox -s l10n -- --check                # ... check only, as CI's tests do
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nox

ROOT = Path(__file__).parent
# Every Python the package supports (pyproject.toml's requires-python).
PYTHONS = ["3.11", "3.12", "3.13"]
# Nothing is downloaded: the sessions use the Pythons this machine has (see `_find_python`).
os.environ["UV_PYTHON_DOWNLOADS"] = "never"
# Python caches the bytecode of what it imports, in the sessions' environments too: where
# PYTHONDONTWRITEBYTECODE is set, as on CI machines, every test worker, notebook kernel and
# benchmark run would otherwise compile TensorFlow's modules again. The first import writes the
# cache, so installs need not compile every module up front (uv's UV_COMPILE_BYTECODE).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
nox.options.download_python = "never"
# Under CI (CI=true), a supported Python that is not installed is an error, not a skip.
STRICT = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _answers(executable: str) -> tuple[str, str] | None:
    """(X.Y, sys.executable) of the interpreter at `executable`, or None if it does not run (a
    pyenv shim of a version that is not activated, say)."""
    probe = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.executable)"
    try:
        out = subprocess.run(
            [executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None
    return (out[0], out[1]) if len(out) > 1 and out[1] else None


def _pyenv_versions() -> list[Path]:
    """pyenv's versions folders: $PYENV_ROOT, `pyenv root`, ~/.pyenv (pyenv need not be active)."""
    roots = [os.environ.get("PYENV_ROOT", "")]
    if shutil.which("pyenv"):
        try:
            roots.append(
                subprocess.run(
                    ["pyenv", "root"], capture_output=True, text=True, timeout=30
                ).stdout.strip()
            )
        except (OSError, subprocess.SubprocessError):
            pass
    roots.append(str(Path.home() / ".pyenv"))
    return list(dict.fromkeys(Path(r) / "versions" for r in roots if r))


def _patch(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in path.parent.parent.name.split("."))


def _candidates(version: str):
    """Paths that may run Python `version`: the PATH, pyenv's versions, uv's managed Pythons."""
    yield shutil.which(f"python{version}")
    for versions in _pyenv_versions():
        found = [
            exe
            for exe in versions.glob(f"{version}.*/bin/python{version}")
            if re.fullmatch(rf"{re.escape(version)}\.\d+", exe.parent.parent.name)
        ]
        yield from (str(exe) for exe in sorted(found, key=_patch, reverse=True))
    uv = shutil.which("uv")
    if uv:
        try:
            yield subprocess.run(
                [uv, "python", "find", "--system", "--no-download", version],
                capture_output=True,
                text=True,
                timeout=60,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass


def _find_python(version: str) -> str | None:
    """The full path of an installed Python `version` (X.Y), or None."""
    for candidate in _candidates(version):
        answer = _answers(candidate) if candidate else None
        if answer and answer[0] == version:
            return answer[1]
    return None


# Each supported Python this machine has, by X.Y; `nox -s tests` tests them, and says which
# it skipped.
FOUND = {version: path for version in PYTHONS if (path := _find_python(version))}
MISSING = [version for version in PYTHONS if version not in FOUND]
_RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"
# The one Python of the single-interpreter sessions: the oldest supported one installed.
PYTHON = next(iter(FOUND.values()), sys.executable if _RUNNING in PYTHONS else PYTHONS[0])
# The exact versions every session installs: pyproject.toml holds ranges, this file the stack.
LOCK = "requirements/lock.txt"
# Colab's runtime: its Python and what it ships (colab/requirements.txt).
COLAB_PYTHON = "3.13"
COLAB_PACKAGES = "colab/requirements.txt"
# Where the Colab stand-in writes the notebooks it ran.
COLAB_OUT = "build/colab"
COLAB_NOTEBOOKS = f"{COLAB_OUT}/notebooks"
# Where CI's Colab stand-in writes the path of its Python, whose kernel JupyterLab then uses.
COLAB_KERNEL = f"{COLAB_OUT}/kernel-python.txt"

nox.options.sessions = ["ci"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True
nox.options.default_venv_backend = "uv|virtualenv"


def _install(session: nox.Session, extras: str = "") -> None:
    """Installs the package in editable mode, with `extras`, at the lock file's versions."""
    target = f".[{extras}]" if extras else "."
    session.install("-c", LOCK, "-e", target)


def _locked(session: nox.Session, *names: str) -> None:
    """Installs single tools (ruff, nbstripout, ...) at the lock file's versions."""
    session.install("-c", LOCK, *names)


def _pythons(session: nox.Session, wanted: list[str] = PYTHONS) -> list[str]:
    """The Pythons of `wanted` found, logged with the ones skipped (an error under CI=true)."""
    missing = [version for version in wanted if version not in FOUND]
    for version in wanted:
        if version in FOUND:
            session.log(f"Python {version}: {FOUND[version]}")
    if missing:
        message = (
            f"Python {', '.join(missing)} not found (PATH, pyenv, uv): "
            f"{'skipped' if not STRICT else 'CI tests it'}"
        )
        if STRICT:
            session.error(message)
        session.warn(message)
    found = [version for version in wanted if version in FOUND]
    if not found:
        session.error(f"no supported Python ({', '.join(wanted)}) found")
    return found


# CI's sessions (`nox -s ci`) run two at a time: the unit tests keep both cores busy, the
# notebook runs (the Colab stand-in, JupyterLab, the benchmark) mostly one, so each of those
# runs beside a test session. nox runs sessions in parallel only when they allow it, as
# only the ci-* sessions do: every other session runs alone, its output as it comes.
nox.options.parallel = 2
CI_OLDEST, CI_NEWEST = PYTHONS[0], PYTHONS[-1]
COLAB_FOUND = COLAB_PYTHON in FOUND


def _ci_session(name: str, python=None, requires: tuple[str, ...] = (), **kwargs):
    """Registers one of CI's sessions: it may run beside another one, and only under `ci`."""
    return nox.session(
        name=name,
        python=python,
        requires=list(requires),
        allow_parallel=True,
        default=False,
        **kwargs,
    )


def _ci_tests(version: str, args: list[str]):
    """The tests of CI on Python `version` (X.Y) with `args`, or, where that Python is not
    installed, a session that says so (an error under CI=true)."""
    if version not in FOUND:

        def missing(session: nox.Session) -> None:
            message = f"Python {version} not found (PATH, pyenv, uv)"
            if STRICT:
                session.error(f"{message}: CI tests it")
            session.skip(f"{message}: skipped")

        return _ci_session(f"ci-tests-{version}", python=False)(missing)

    def tests(session: nox.Session) -> None:
        _tests(session, args)

    return _ci_session(f"ci-tests-{version}", python=FOUND[version])(tests)


# The tests on the oldest supported Python, every one of them: with the Colab stand-in, its
# smoke run is the one the golden cells are compared on (`--unit`: no nbval run here).
_ci_tests(CI_OLDEST, ["--unit"] if COLAB_FOUND else [])
# The quick tests on the newest (the Colab stand-in runs the notebooks on it).
_ci_tests(CI_NEWEST, ["--quick"])


@_ci_session("ci-lint", python=PYTHON)
def ci_lint(session: nox.Session) -> None:
    _locked(session, "ruff", "nbstripout")
    _lint(session)


if COLAB_FOUND:

    @_ci_session(
        "ci-colab",
        python=FOUND[COLAB_PYTHON],
        venv_backend="uv",
        venv_params=["--seed"],
        reuse_venv=False,
    )
    def ci_colab(session: nox.Session) -> None:
        # Colab's packages and the install cell; ci-browser runs the notebooks in its kernel.
        _colab(session, [], run=False)

    @_ci_session("ci-goldens", python=PYTHON, requires=("ci-browser",))
    def ci_goldens(session: nox.Session) -> None:
        _goldens(session, ["--check", COLAB_NOTEBOOKS])

    CI_NOTEBOOKS = ["ci-colab", "ci-browser", "ci-goldens"]
else:
    CI_NOTEBOOKS = ["ci-browser"]


@_ci_session("ci-browser", python=PYTHON, requires=("ci-colab",) if COLAB_FOUND else ())
def ci_browser(session: nox.Session) -> None:
    # The one run of the smoke notebooks: JupyterLab, in the Colab stand-in's kernel when there
    # is one. The site and the golden cells are checked on the notebooks it saves. Its kernel
    # runs beside a test session, which keeps both cores busy.
    _one_intra_op_thread(session)
    if COLAB_FOUND:
        kernel = (ROOT / COLAB_KERNEL).read_text().strip()
        _browser(session, ["--kernel-python", kernel, "--saved", COLAB_NOTEBOOKS])
    else:
        _browser(session, [])


@_ci_session("ci-bench", python=PYTHON)
def ci_bench(session: nox.Session) -> None:
    # Its smoke run checks that the benchmark runs; beside a test session, like ci-browser.
    _one_intra_op_thread(session)
    _bench(session, ["--smoke"])


@nox.session(
    python=False,
    # The order in which they start, two at a time: the long test session first, the
    # notebook sessions one after another beside it, the newest Python's tests last.
    requires=[
        f"ci-tests-{CI_OLDEST}",
        "ci-lint",
        *CI_NOTEBOOKS,
        "ci-bench",
        f"ci-tests-{CI_NEWEST}",
    ],
)
def ci(session: nox.Session) -> None:
    """What CI runs, two sessions at a time: lint, the tests on the oldest supported Python
    and the quick ones on the newest (both required under CI=true; `nox -s tests` takes every
    one installed), the Colab stand-in's environment (Colab's Python and packages, then the
    install cell), in whose kernel JupyterLab runs each smoke notebook once, the site and the
    golden cells checked on the notebooks it saved, and the benchmark's smoke run (its own
    environment, as users run it). The PyTorch anchor has its own session (`nox -s torch`).
    Each session's output is printed when it ends."""
    tested = ", ".join([CI_OLDEST, f"{CI_NEWEST} (quick)"])
    session.log(f"tests on Python {tested}; every supported Python found: nox -s tests")


def _take_option(args: list[str], name: str) -> tuple[str | None, list[str]]:
    """The value of `name VALUE` (or `name=VALUE`) in `args`, and `args` without it."""
    for k, arg in enumerate(args):
        if arg == name and k + 1 < len(args):
            return args[k + 1], args[:k] + args[k + 2 :]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1], args[:k] + args[k + 1 :]
    return None, list(args)


@nox.session(python=PYTHON)
def notebooks(session: nox.Session) -> None:
    """Executes every notebook with papermill into build/notebooks, then builds the static site
    of them, build/site/index.html, with the results page.

    The site is built even when a notebook failed (its results page says which), and the
    session then fails. `--out DIR` puts both under DIR instead of build/.
    """
    _install(session, "notebooks,site")
    out = Path(_take_option(list(session.posargs), "--out")[0] or ROOT / "build")
    try:
        session.run("python", "-m", "tools", "run", *session.posargs)
    finally:
        if any((out / "notebooks").glob("[0-9][0-9]_*.ipynb")):
            site = ["--notebooks", str(out / "notebooks"), "--out", str(out / "site")]
            session.run("python", "-m", "tools.site", *site)


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Unit tests, then the notebooks' regression run, on every supported Python installed
    (`tests-3.11` etc. run one); says which it skipped."""
    for version in _pythons(session):
        session.notify(f"tests-{version}", session.posargs)


def _one_intra_op_thread(session: nox.Session) -> None:
    """Gives each TensorFlow process of the session (test worker, notebook kernel) one intra-op
    thread, for sessions that already run a process per core: TensorFlow's default is a thread
    per core in every process, and the surplus threads cost CPU time contending for the cores.
    A value set in the environment is kept."""
    if "TF_NUM_INTRAOP_THREADS" not in os.environ:
        session.env["TF_NUM_INTRAOP_THREADS"] = "1"


def _tests(session: nox.Session, args: list[str]) -> None:
    """Unit tests, then the notebooks' regression run (smoke parameters, golden cells).

    With `-- --quick`, only the unit tests not marked slow (CI's second Python); with
    `-- --unit`, the unit tests without the regression run (CI compares the golden cells on
    the Colab stand-in's run: `nox -s goldens -- --check DIR`)."""
    _install(session, "test")
    quick, unit = "--quick" in args, "--unit" in args
    args = [arg for arg in args if arg not in ("--quick", "--unit")]
    if quick:
        args += ["-m", "not slow"]
    # One worker per core: the notebook-parameter tests wait on kernels, the rest on TensorFlow.
    _one_intra_op_thread(session)
    session.run("pytest", "-n", "auto", "--dist", "worksteal", "tests", *args)
    if quick or unit:
        return
    session.run("python", "-m", "tools", "prepare")
    session.run(
        "pytest",
        "--nbval-lax",
        "--nbval-current-env",
        "-p",
        "no:cacheprovider",
        "build/prepared",
    )


def _tests_session(session: nox.Session) -> None:
    _tests(session, list(session.posargs))


# tests-3.11, tests-3.12, tests-3.13: each on the full path of that Python when it is installed.
for _version in PYTHONS:
    nox.session(name=f"tests-{_version}", python=FOUND.get(_version, _version))(_tests_session)


@nox.session(python=PYTHON)
def seeds(session: nox.Session) -> None:
    """The statistical tests (marker `statistical`, tests/conftest.py lists them with their
    false-failure rates) under other seeds, one seed after another: they must pass for any.

    nox -s seeds                          # seeds 1, 2, 3, 4, 5
    nox -s seeds -- --seeds 7,8 -m "statistical and not slow"
    """
    _install(session, "test")
    chosen, args = _take_option(list(session.posargs), "--seeds")
    if not any(arg == "-m" or arg.startswith("-m") for arg in args):
        args += ["-m", "statistical"]
    _one_intra_op_thread(session)
    for seed in (chosen or "1,2,3,4,5").split(","):
        session.log(f"SUPPORT_TEST_SEED={seed.strip()}")
        session.run(
            "pytest",
            "-n",
            "auto",
            "--dist",
            "worksteal",
            "tests",
            *args,
            env={"SUPPORT_TEST_SEED": seed.strip()},
        )


# The benchmark's PyTorch anchor (benchmarks/torch_ffjord.py). Not an extra of the package:
# environment.yml installs every extra, and Binder has no use for torch. pip, not uv, installs
# it, so a CPU build of torch 2.13.0 that lies on disk (pip's find-links) is taken as it is;
# elsewhere pip downloads PyPI's build.
TORCH_PINS = ["torch==2.13.0", "torchdiffeq==0.2.5"]


@nox.session(python=FOUND.get("3.11", PYTHON), venv_backend="uv", venv_params=["--seed"])
def torch(session: nox.Session) -> None:
    """tests/benchmarks/test_bench_torch.py, with torch and torchdiffeq: the mirror of the
    PyTorch field, the benchmark's scoring of it and one epoch of the torch path (fails if torch
    is missing)."""
    _install(session, "test")
    session.run("python", "-m", "pip", "install", "--quiet", *TORCH_PINS)
    session.run(
        "pytest",
        "-p",
        "no:cacheprovider",
        "-rA",
        "tests/benchmarks/test_bench_torch.py",
        *session.posargs,
        env={"SUPPORT_REQUIRE_TORCH": "1"},
    )


@nox.session(python=PYTHON)
def quick(session: nox.Session) -> None:
    """The quick loop: lint, then the unit tests not marked slow, on the oldest supported
    Python (one environment; no notebook run). `nox -s ci` is what CI runs."""
    _install(session, "test,lint")
    _lint(session)
    _one_intra_op_thread(session)
    session.run("pytest", "-n", "auto", "--dist", "worksteal", "-m", "not slow", "tests")


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff on the package, tests, benchmarks and notebooks; notebooks must be stripped."""
    _locked(session, "ruff", "nbstripout")
    _lint(session)


def _lint(session: nox.Session) -> None:
    session.run(
        "ruff",
        "check",
        "support",
        "tools",
        "tests",
        "benchmarks",
        "browser_tests",
        "notebooks",
        "site",
        "noxfile.py",
    )
    session.run(
        "ruff",
        "format",
        "--check",
        "support",
        "tools",
        "tests",
        "benchmarks",
        "browser_tests",
        "site",
        "noxfile.py",
    )
    notebooks = sorted(str(p) for p in (ROOT / "notebooks").glob("*.ipynb"))
    session.run("nbstripout", "--verify", *notebooks)


@nox.session(python=PYTHON)
def goldens(session: nox.Session) -> None:
    """Re-records the golden cells from a smoke run (after changing a golden cell); with
    `-- --check DIR`, compares the smoke run executed in DIR with them instead."""
    _goldens(session, list(session.posargs))


def _goldens(session: nox.Session, args: list[str]) -> None:
    _install(session, "test,lint")
    session.run("python", "-m", "tools", "goldens", *args)


@nox.session(python=PYTHON)
def gallery(session: nox.Session) -> None:
    """Runs every notebook with its defaults into build/, then refreshes docs/gallery/.

    The main job writes only under build/; this is the one session that changes tracked
    files (the README's figures and docs/gallery/manifest.json).
    """
    _install(session, "notebooks")
    session.run("python", "-m", "tools", "run", *session.posargs)
    session.run("python", "-m", "tools", "gallery", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """FFJORD benchmark: the tutorial's set-up and ours, trained side by side."""
    _bench(session, list(session.posargs))


def _bench(session: nox.Session, args: list[str]) -> None:
    _install(session, "notebooks")  # it reads notebook 02's parameters cell (nbformat)
    session.run("python", "benchmarks/bench_ffjord.py", *args)


@nox.session(python=PYTHON)
def browser(session: nox.Session) -> None:
    """JupyterLab in headless Chromium: every notebook runs (smoke parameters) with its figures
    drawn, saved to build/browser/notebooks/ with a screenshot each under build/browser/; then
    the static site of executed notebooks reads as it should, every figure and headline number
    on it (browser_tests/test_site.py).

    nox -s browser                                # the site of the notebooks JupyterLab ran
    nox -s browser -- --notebooks build/notebooks # the site of the main job's notebooks
    nox -s browser -- --site build/site           # a site already built (nox -s notebooks)
    nox -s browser -- --kernel-python .nox/colab/bin/python  # kernels in another environment
    """
    _browser(session, list(session.posargs))


def _browser(session: nox.Session, args: list[str]) -> None:
    """JupyterLab runs the smoke notebooks and saves them (browser_tests/test_jupyterlab.py);
    then the site of those notebooks, or of `--notebooks DIR`, or `--site DIR` as built, is
    checked (browser_tests/test_site.py). `--kernel-python` and `--saved` go to the first."""
    start = time.monotonic()
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", external=True, env=env)
        # Without the packages Chromium only recommends (avahi, cups helpers, notification
        # daemons and more): headless Chromium needs none of them.
        install = ["apt-get", "install", "-y", "--no-install-recommends"]
        session.run(*install, "chromium", "chromium-driver", external=True, env=env)
    _install(session, "browser")
    session.run("python", "-m", "tools", "prepare")
    notebooks, args = _take_option(args, "--notebooks")
    site, args = _take_option(args, "--site")
    saved, args = _take_option(args, "--saved")
    kernel, args = _take_option(args, "--kernel-python")
    saved = saved or "build/browser/notebooks"
    lab = ["--saved", saved] + (["--kernel-python", kernel] if kernel else [])
    pytest = ["pytest", "-p", "no:cacheprovider", "-rA"]
    try:
        session.run(*pytest, "browser_tests/test_jupyterlab.py", *lab, *args)
        site = site or _site_for_browser(session, notebooks or saved)
        session.run(*pytest, "browser_tests/test_site.py", "--site", site, *args)
    finally:
        session.log(f"browser session: {time.monotonic() - start:.0f} s")


@nox.session(python=PYTHON)
def lock(session: nox.Session) -> None:
    """Re-resolves requirements/lock.txt from pyproject.toml's ranges, for every supported Python.

    nox -s lock                      # keep what still fits, add what is new
    nox -s lock -- --upgrade         # move everything to the newest versions the ranges allow
    """
    session.install("uv")
    session.run(
        "uv",
        "pip",
        "compile",
        "pyproject.toml",
        "--all-extras",
        "--universal",
        "--python-version",
        PYTHONS[0],
        "--no-annotate",
        "--quiet",
        "--output-file",
        LOCK,
        *session.posargs,
        env={"UV_CUSTOM_COMPILE_COMMAND": "nox -s lock"},
    )


INSTALL_LINE = re.compile(r"^\s*%pip install (?P<args>.+)$", re.MULTILINE)
PROJECT_URL = re.compile(r"(?<=git\+)https://\S+?@[\w.\-]+")


def _colab_install_args(commit: str) -> list[str]:
    """The arguments of the notebooks' install cell (`%pip install ...`), with its git URL and
    tag pointed at this repository and `commit`: pip clones and builds it exactly as Colab does
    the release tag. Every notebook has the same cell (tests check it)."""
    import json

    notebook = json.loads((ROOT / "notebooks" / "01_distribution_zoo.ipynb").read_text())
    local = f"{ROOT.resolve().as_uri()}@{commit}"
    for cell in notebook["cells"]:
        found = INSTALL_LINE.search("".join(cell["source"]))
        if found:
            args = shlex.split(found["args"])
            pointed = [PROJECT_URL.sub(local, arg) for arg in args]
            if pointed == args:
                raise RuntimeError("the install cell names no git URL to point at this checkout")
            return pointed
    raise RuntimeError("no notebook cell runs `%pip install`")


def _normal(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _frozen(session: nox.Session) -> dict[str, str]:
    out = session.run("python", "-m", "pip", "freeze", "--all", silent=True)
    pairs = (line.split("==", 1) for line in out.splitlines() if "==" in line)
    return {_normal(name): version for name, version in pairs}


@nox.session(
    python=FOUND.get(COLAB_PYTHON, COLAB_PYTHON),
    venv_backend="uv",
    venv_params=["--seed"],
    reuse_venv=False,
)
def colab(session: nox.Session) -> None:
    """A Colab stand-in: Colab's Python and packages, then the notebooks' install cell exactly as
    written (pointed at this checkout), then every notebook with its smoke parameters.

    Fails if the install cell changes the version of anything Colab ships, or a notebook fails.
    """
    _colab(session, list(session.posargs))


def _colab(session: nox.Session, args: list[str], run: bool = True) -> None:
    """Colab's packages, the install cell, then (`run`) every notebook with papermill; without
    `run`, writes this environment's Python to COLAB_KERNEL for JupyterLab's kernel (nox -s ci)."""
    session.install("-r", COLAB_PACKAGES)
    before = _frozen(session)
    commit = session.run("git", "rev-parse", "HEAD", external=True, silent=True).strip()
    if session.run("git", "status", "--porcelain", external=True, silent=True).strip():
        session.warn(f"uncommitted changes are not installed: the install cell takes {commit}")
    start = time.monotonic()
    session.run("python", "-m", "pip", "install", *_colab_install_args(commit))
    seconds = time.monotonic() - start
    after = _frozen(session)
    shipped = {
        _normal(line.split("==")[0])
        for line in (ROOT / COLAB_PACKAGES).read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    changed = sorted(
        f"{name} {before[name]} -> {after.get(name)}"
        for name in shipped
        if before.get(name) != after.get(name)
    )
    added = sorted(f"{name}=={after[name]}" for name in set(after) - set(before))
    session.log(f"install cell: {seconds:.0f} s; added {', '.join(added) or 'nothing'}")
    if changed:
        session.error(f"the install cell replaced what Colab ships: {'; '.join(changed)}")
    if not run:
        (ROOT / COLAB_KERNEL).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / COLAB_KERNEL).write_text(f"{Path(session.bin) / 'python'}\n")
        return
    # papermill runs the notebooks here; Colab itself does not need it. Hold everything else at
    # the versions installed so far.
    frozen = Path(session.create_tmp()) / "colab-frozen.txt"
    frozen.write_text("".join(f"{name}=={version}\n" for name, version in after.items()))
    session.install("-c", str(frozen), "papermill")
    session.run(
        "python",
        "-m",
        "tools",
        "run",
        "--smoke",
        "--out",
        COLAB_OUT,
        *args,
    )


def _extra(name: str) -> list[str]:
    """An extra of pyproject.toml, to install without the package (and its TensorFlow)."""
    import tomllib

    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]["optional-dependencies"][name]


def _site_requirements() -> list[str]:
    """The `site` extra of pyproject.toml: the site needs neither TensorFlow nor the package."""
    return _extra("site")


@nox.session(python=PYTHON)
def site(session: nox.Session) -> None:
    """The static site of the executed notebooks: build/site/index.html (Sphinx, myst-nb).

    nox -s site                                   # from build/notebooks (nox -s notebooks)
    nox -s site -- --notebooks build/browser/suite/notebooks --out build/site
    """
    _locked(session, *_site_requirements())
    session.run("python", "-m", "tools.site", *session.posargs)


@nox.session(python=PYTHON)
def sweep(session: nox.Session) -> None:
    """One notebook over a grid of parameters times seeds, here or on a Dask cluster, into
    build/sweeps/<sweep>/ (results.csv, aggregate.csv), then the sweep's site page in its
    site/ folder. The arguments are `python -m tools sweep`'s (`-- -h` lists them).

    nox -s sweep -- 04 -g NUM_SAMPLES 1000 4000 --seeds 0:3 --smoke
    nox -s sweep -- 02 -g TRACE exact hutchinson --seeds 0:5 --workers 2
    nox -s sweep -- 02 -g EPOCHS 50 100 --scheduler tcp://HOST:8786
    """
    _install(session, "sweep")
    _locked(session, *_site_requirements())
    args = list(session.posargs)
    if not {"-h", "--help", "--dry-run"} & set(args):
        args.append("--site")
    session.run("python", "-m", "tools", "sweep", *args)


def _site_for_browser(session: nox.Session, notebooks: str) -> str:
    """Builds the site of the executed notebooks in `notebooks` that the browser session checks:
    in English, and in Persian for the right-to-left check (the other languages' pages are
    the same templates; `tools.site` checks every language's links when it builds)."""
    out = ROOT / "build" / "browser" / "site"
    _locked(session, *_site_requirements())
    site = ["--notebooks", notebooks, "--out", str(out), "--languages", "en,fa"]
    session.run("python", "-m", "tools.site", *site)
    return str(out)


@nox.session(python=PYTHON)
def l10n(session: nox.Session) -> None:
    """The translations (locales/, notebooks/<lang>/): updates the catalogs and translated
    notebooks from the English, checks them (what CI refuses: a catalog that does not parse,
    code, math or links changed by a translation, a translated notebook whose code is not the
    English's) and prints, per language and source, translated / fuzzy / untranslated counts.

    nox -s l10n                    # update, then check
    nox -s l10n -- --check         # check only
    nox -s l10n -- --lang fa       # one language
    """
    _locked(session, *_extra("l10n"))
    session.run("python", "-m", "tools", "l10n", *session.posargs)
