"""Sessions: `notebooks` (the main job), `tests`, `lint`, `browser`, `goldens`, `bench`, `site`.

nox -s notebooks                      # run every notebook, write build/index.html
nox -s notebooks -- --smoke           # the small CI parameters
nox -s notebooks -- --only 02 -p EPOCHS 5 -p TRACE hutchinson
nox -s lint tests browser             # what CI runs
nox -s goldens -- --only 01           # re-record a notebook's golden cells
nox -s browser -- --report build/index.html   # the browser check against the main job's report
nox -s bench -- --smoke               # FFJORD: this project vs the tutorial, side by side
nox -s site                           # the static site of build/notebooks: build/site/index.html
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).parent
PYTHON = "3.11"

nox.options.sessions = ["lint", "tests", "browser"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = True


def _extra(name: str) -> list[str]:
    """The pinned requirements of one optional-dependency group in pyproject.toml."""
    with open(ROOT / "pyproject.toml", "rb") as handle:
        return tomllib.load(handle)["project"]["optional-dependencies"][name]


@nox.session(python=PYTHON)
def notebooks(session: nox.Session) -> None:
    """Executes every notebook with papermill into build/notebooks and writes build/index.html."""
    session.install("-e", ".[notebooks]")
    session.run("python", "-m", "support.nbtools", "run", *session.posargs)
    session.log(f"report: {ROOT / 'build' / 'index.html'}")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Unit tests, then the notebooks' regression run (smoke parameters, golden cells)."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests", *session.posargs)
    session.run("python", "-m", "support.nbtools", "prepare")
    session.run(
        "pytest",
        "--nbval-lax",
        "--nbval-current-env",
        "-p",
        "no:cacheprovider",
        "build/prepared",
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff on the package, tests, benchmarks and notebooks; notebooks must be stripped."""
    session.install(*_extra("lint"))
    session.run(
        "ruff",
        "check",
        "support",
        "tests",
        "benchmarks",
        "browser_tests",
        "notebooks",
        "tools",
        "site",
        "noxfile.py",
    )
    session.run(
        "ruff",
        "format",
        "--check",
        *("support", "tests", "benchmarks", "browser_tests", "tools", "site", "noxfile.py"),
    )
    notebooks = sorted(str(p) for p in (ROOT / "notebooks").glob("*.ipynb"))
    session.run("nbstripout", "--keep-count", "--verify", *notebooks)


@nox.session(python=PYTHON)
def goldens(session: nox.Session) -> None:
    """Re-records the golden cells from a smoke run (after changing a golden cell)."""
    session.install("-e", ".[test,lint]")
    session.run("python", "-m", "support.nbtools", "goldens", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """FFJORD benchmark: the tutorial's set-up and ours, trained side by side."""
    session.install("-e", ".")
    session.run("python", "benchmarks/bench_ffjord.py", *session.posargs)


@nox.session(python=PYTHON)
def browser(session: nox.Session) -> None:
    """JupyterLab in headless Chromium: every notebook runs (smoke parameters) with its figures
    drawn, a screenshot each under build/browser/, the report shows every figure and number,
    and the static site reads as it should (tests in browser_tests/test_site.py).

    nox -s browser                                # checks a fresh smoke report of its own
    nox -s browser -- --report build/index.html   # checks the main job's report instead
    nox -s browser -- --site build/site           # checks that site (else one built here)
    """
    import shutil
    import time

    start = time.monotonic()
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", external=True, env=env)
        session.run(
            "apt-get", "install", "-y", "chromium", "chromium-driver", external=True, env=env
        )
    session.install("-e", ".[browser]")
    session.run("python", "-m", "support.nbtools", "prepare")
    args = list(session.posargs)
    if not any(arg.startswith("--report") for arg in args):
        suite = "build/browser/suite"
        session.run("python", "-m", "support.nbtools", "run", "--smoke", "--out", suite)
        args += ["--report", f"{suite}/index.html"]
    if not any(arg.startswith("--site") for arg in args):
        args += ["--site", _site_for_browser(session, args)]
    try:
        session.run("pytest", "-p", "no:cacheprovider", "-rA", "browser_tests", *args)
    finally:
        session.log(f"browser session: {time.monotonic() - start:.0f} s")


@nox.session(python=PYTHON)
def site(session: nox.Session) -> None:
    """The static site of the executed notebooks: build/site/index.html (Sphinx, myst-nb).

    nox -s site                                   # from build/notebooks (nox -s notebooks)
    nox -s site -- --notebooks build/browser/suite/notebooks --out build/site
    """
    session.install(*_extra("site"))
    session.run("python", "-m", "tools.site", *session.posargs)


def _site_for_browser(session: nox.Session, args: list[str]) -> str:
    """Builds the site of the notebooks behind the report that the browser session checks."""
    report = ""
    for k, arg in enumerate(args):
        if arg == "--report" and k + 1 < len(args):
            report = args[k + 1]
        elif arg.startswith("--report="):
            report = arg.split("=", 1)[1]
    out = ROOT / "build" / "browser" / "site"
    session.install(*_extra("site"))
    notebooks = str(Path(report).parent / "notebooks")
    session.run("python", "-m", "tools.site", "--notebooks", notebooks, "--out", str(out))
    return str(out)
