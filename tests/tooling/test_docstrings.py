"""Every `Example:` in a `support` docstring runs and prints what it shows (doctest).

The same as `pytest --doctest-modules support`, but collected by `pytest tests`, so the
examples a learner reads are checked wherever the tests run.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil
from pathlib import Path

import pytest
import tensorflow as tf

import support

MODULES = sorted(m.name for m in pkgutil.walk_packages(support.__path__, "support."))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _source(name: str) -> str:
    return Path(importlib.util.find_spec(name).origin).read_text(encoding="utf-8")


# One case per module that has examples (a `>>>` prompt in its source), not per module.
WITH_EXAMPLES = [name for name in MODULES if ">>>" in _source(name)]


def _examples(module) -> list[doctest.DocTest]:
    return [test for test in doctest.DocTestFinder().find(module) if test.examples]


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_the_docstring_examples_of_each_module_run(name):
    module = importlib.import_module(name)
    tf.random.set_seed(0)  # an earlier test may have turned on op determinism, which needs one
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in _examples(module):
        test.globs = {**module.__dict__}
        runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.attempted > 0 and results.failed == 0


def test_the_modules_left_out_have_no_examples_to_run():
    for name in sorted(set(MODULES) - set(WITH_EXAMPLES)):
        assert not _examples(importlib.import_module(name)), name


def test_the_examples_exist_where_the_layers_promise_them():
    assert {
        "support.estimate",
        "support.flows.ode",
        "support.flows.traces",
        "support.flows.ffjord",
    } <= set(WITH_EXAMPLES)
