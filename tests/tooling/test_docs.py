"""The repository's docs say what is true: README's test command is the one CI runs, every nox
session the docs name exists, README links every page under `docs/`, and the table of shared
parameter names matches the notebooks that declare them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools.notebooks import declared_parameters

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PAGES = sorted((ROOT / "docs").glob("*.md"))
DOCS = {"README.md": README} | {
    f"docs/{page.name}": page.read_text(encoding="utf-8") for page in PAGES
}
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _code_lines(markdown: str) -> list[str]:
    """The lines of the markdown's fenced code blocks."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", markdown, flags=re.S | re.M)
    return [line.strip() for block in blocks for line in block.splitlines()]


def _nox_sessions() -> set[str]:
    text = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    names = set(re.findall(r"@nox\.session\([^@]*?\)\ndef (\w+)\(", text, flags=re.S))
    versions = re.search(r"^PYTHONS = \[([^\]]*)\]", text, flags=re.M)
    assert versions, "noxfile.py has no PYTHONS list"
    names |= set(re.findall(r"^\s*@_ci_session\(\s*\"([\w.-]+)\"", text, flags=re.M))
    pythons = re.findall(r"\"([\d.]+)\"", versions.group(1))
    return names | {f"tests-{v}" for v in pythons} | {f"ci-tests-{v}" for v in pythons}


def test_the_readme_gives_the_command_ci_runs_exactly():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1]
    assert "nox -s ci" in ci
    assert ci in _code_lines(README)


def test_the_readme_runs_the_suite_with_the_same_nox_as_ci():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    (pin,) = re.findall(r'"nox==[^"]+"', ci)
    assert f"python3 -m pip install {pin} && python3 -m nox -s notebooks" in _code_lines(README)


def test_the_session_finder_knows_the_sessions():
    sessions = _nox_sessions()
    assert {"ci", "notebooks", "site", "bench", "tests-3.11", "tests-3.13"} <= sessions
    assert {"ci-lint", "ci-colab", "ci-browser", "ci-tests-3.11"} <= sessions
    assert "ruff" not in sessions


@pytest.mark.parametrize("name", [*sorted(DOCS), "CONTRIBUTING.md"])
def test_every_nox_session_the_docs_name_exists(name):
    text = DOCS.get(name) or (ROOT / name).read_text(encoding="utf-8")
    # `nox -s a b -- args`: the sessions are the words up to the first option
    named = re.findall(r"nox -s ((?:[\w.]+(?:-[\w.]+)*)(?: [\w.]+(?:-[\w.]+)*)*)", text)
    sessions = {session for group in named for session in group.split()}
    assert sessions - _nox_sessions() == set()


@pytest.mark.parametrize("page", [page.name for page in PAGES])
def test_the_readme_links_every_docs_page(page):
    assert f"(docs/{page})" in README or f"(docs/{page}#" in README


def _vocabulary() -> dict[str, set[str]]:
    """docs/parameters.md's table of shared names: name -> the notebooks it lists."""
    text = (ROOT / "docs" / "parameters.md").read_text(encoding="utf-8")
    section = text.split("## One vocabulary", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| [^|]+ \| ([\d, ]+) \|$", section, flags=re.M)
    return {name: set(numbers.replace(" ", "").split(",")) for name, numbers in rows}


def test_the_parameter_vocabulary_lists_the_notebooks_that_declare_each_name():
    vocabulary = _vocabulary()
    assert {"SEED", "NUM_TRAIN", "GRID_SIZE"} <= set(vocabulary)
    declared = {path.name[:2]: set(declared_parameters(path)) for path in NOTEBOOKS}
    for name, listed in vocabulary.items():
        assert listed == {nb for nb, names in declared.items() if name in names}, name


def test_the_speed_pages_python_builds_a_flow_that_runs_both_ways():
    import numpy as np
    import tensorflow as tf

    (block,) = re.findall(r"```python\n(.*?)```", DOCS["docs/speed.md"], flags=re.S)
    namespace: dict = {}
    exec(block, namespace)  # as a reader pastes it into Python
    flow, field = namespace["flow"], namespace["field"]
    z = tf.constant([[0.1, -0.2], [0.3, 0.4], [-1.0, 0.5]])
    field(0.0, z)  # makes the field's weights
    x = flow.forward(z)
    back = flow.inverse(tf.identity(x))  # a fresh tensor: the bijector caches the pair
    np.testing.assert_allclose(back.numpy(), z.numpy(), atol=1e-4)
    log_det = flow.forward_log_det_jacobian(z, event_ndims=1).numpy()
    assert log_det.shape == (3,) and np.isfinite(log_det).all()


def _dotted_support_names() -> list[str]:
    text = "\n".join([*DOCS.values(), (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")])
    return sorted(set(re.findall(r"\bsupport(?:\.[A-Za-z_]\w*)+", text)))


@pytest.mark.parametrize("name", _dotted_support_names())
def test_every_support_name_the_docs_give_exists(name):
    import importlib

    parts = name.split(".")
    found, k = importlib.import_module(parts[0]), 1
    while k < len(parts):  # a submodule where there is one, else an attribute
        try:
            found = importlib.import_module(".".join(parts[: k + 1]))
        except ModuleNotFoundError:
            found = getattr(found, parts[k], None)
            assert found is not None, f"{name}: no {parts[k]!r} in {'.'.join(parts[:k])}"
        k += 1
