"""Shared fixtures. Monte Carlo tests take their seed from `seed` (override: SUPPORT_TEST_SEED).

Statistical tests and their false-failure rates
-----------------------------------------------
A statistical test passes for any seed except with a small probability, its false-failure
rate. Most compare m estimates with their truths within k = 4 standard errors: one comparison
of a (near-)normal estimate fails with probability 2 (1 - Phi(4)) = 6.3e-5, so the test fails
falsely with probability at most m x 6.3e-5 (a union bound). The modules in STATISTICAL are
marked `statistical` (`pytest -m statistical`; `nox -s seeds` runs them under seeds 1-5):

=================================  ===================================================  =======
module                             what is compared (m: comparisons per test, largest)  rate <=
=================================  ===================================================  =======
test_estimators_monte_carlo        estimates vs closed forms, k = 4 (m <= 8)             5e-4
                                   reported stderr vs spread of 400 estimates, ratio
                                   within 0.8-1.2 (about 5.6 sd of the ratio)            1e-7
test_estimators_entropy            entropies, -KL vs closed forms, k = 4 (m <= 8)        5e-4
test_estimators_renyi              Renyi bounds vs closed forms, k = 4 (m <= 8)          5e-4
test_estimators_surrogate          gradient means vs exact gradients, k = 4 (m <= 2);    1.3e-4
                                   a baseline halves the variance (its ratio ~ 0.1)      < 1e-6
test_estimators_closed_forms       stderr of 30 repeats within 10 %, RMSE ratio in
                                   0.05-0.2 (0.1 expected)                               1e-3
test_moons                         sampler vs density means, entropy vs quadrature,
                                   Gibbs gaps, best-Gaussian NLL, k = 4 (m = 1 each)     6.3e-5
test_cardioid                      moments, calibration, Gibbs gaps, entropy, k = 4      6.3e-5
test_flow_eval                     Hutchinson vs exact NLL, k = 4 (m = 1)                6.3e-5
test_traces                        Hutchinson trace vs exact trace, k = 4                6.3e-5
=================================  ===================================================  =======

Each rate is per test and seed; over the whole table (about 150 tests) and the five extra
seeds, a false failure somewhere has a probability of about a few percent at most: rerun the
failing test under its seed (the `SUPPORT_TEST_SEED` it names) and with a neighbouring seed
before suspecting the code. Tests marked `bayesflow_port` are goldens (their original op
seeds and tolerances) and are not statistical in this sense: they do not take `seed`.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # figures are drawn off screen in tests

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

DEFAULT_SEED = 20261122
STATISTICAL = {
    "test_estimators_monte_carlo",
    "test_estimators_entropy",
    "test_estimators_renyi",
    "test_estimators_surrogate",
    "test_estimators_closed_forms",
    "test_moons",
    "test_cardioid",
    "test_flow_eval",
    "test_traces",
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "statistical: passes for any seed but with a stated rate (tests/conftest.py)"
    )
    config.pluginmanager.register(_SlowFirst(), "slow-first")
    if not _is_xdist_controller(config):
        import support  # noqa: F401  (quiet TensorFlow import before any test module imports it)


def _is_xdist_controller(config) -> bool:
    """True in pytest-xdist's controlling process (`-n N`), which runs no test and so needs no
    TensorFlow; False in its workers and in a run without xdist."""
    workers = getattr(config.option, "numprocesses", None)
    return bool(workers) and not hasattr(config, "workerinput")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in STATISTICAL:
            item.add_marker(pytest.mark.statistical)


@pytest.fixture
def seed() -> int:
    """The Monte Carlo seed: fixed, overridable with the SUPPORT_TEST_SEED variable."""
    return int(os.environ.get("SUPPORT_TEST_SEED", DEFAULT_SEED))


TF1_DEFAULT_GRAPH_SEED = 87654321


@pytest.fixture(autouse=True)
def _global_tensorflow_seed(request, seed):
    """Every test starts from the same global TensorFlow seed, whatever ran before it in its
    process: a test that turned on op determinism (`support.setup`) must not make a later
    unseeded op fail, and results must not depend on the order tests run in (pytest-xdist).

    Tests marked `bayesflow_port` start from TF 1's default graph seed instead: TF 1 combined
    an op seed with it when no graph seed was set, so the ported op seeds and tolerances are
    the originals."""
    import tensorflow as tf

    if request.node.get_closest_marker("bayesflow_port"):
        tf.random.set_seed(TF1_DEFAULT_GRAPH_SEED)
    else:
        tf.random.set_seed(seed)


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    import tensorflow as tf

    return tf.as_dtype(request.param)


@pytest.fixture(params=["eager", "tf.function"])
def run(request):
    """Calls a no-argument function eagerly or as a `tf.function`; returns NumPy arrays."""
    import numpy as np
    import tensorflow as tf

    def call(fn):
        result = fn() if request.param == "eager" else tf.function(fn)()
        return tf.nest.map_structure(lambda t: np.asarray(t, dtype=np.float64), result)

    return call


@pytest.fixture
def ax():
    """A fresh matplotlib axes, closed after the test."""
    figure, axes = plt.subplots()
    yield axes
    plt.close(figure)


#: The longest tests, longest first (`pytest --durations`): each starts first on a worker of
#: its own under pytest-xdist, rather than last in a queue where it would hold up the run.
LONGEST = (
    "tests/notebooks/test_notebook_lessons.py::test_notebook_02_runs_the_demo_recipe_at_smoke_size",
    "tests/tooling/test_tools_sweep_cluster.py::test_the_docs_cluster_sweep_runs_and_a_killed",
)


def _cost_rank(item) -> int:
    for rank, prefix in enumerate(LONGEST):
        if item.nodeid.startswith(prefix):
            return rank
    return len(LONGEST) if item.get_closest_marker("slow") else len(LONGEST) + 1


class _SlowFirst:
    @pytest.hookimpl(trylast=True)  # after `-m` and `-k` have deselected
    def pytest_collection_modifyitems(self, items):
        _spread_slow_first(items)


def _spread_slow_first(items: list) -> None:
    """Orders the tests for pytest-xdist's first deal (`--dist worksteal` gives each of the N
    workers one contiguous share of the list, and an idle worker then takes the end of the
    longest queue): the longest tests first, then the other `slow` ones, dealt to the heads of
    the workers' shares (a module's together, the shortest head first); the rest keep their
    order behind them."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers < 2:
        return
    slow = sorted((i for i in items if _cost_rank(i) <= len(LONGEST)), key=_cost_rank)
    rest = [i for i in items if _cost_rank(i) > len(LONGEST)]
    shares, left = [], len(items)
    for remaining in range(workers, 0, -1):  # the deal's share sizes (WorkStealingScheduling)
        shares.append(left // remaining)
        left -= shares[-1]
    heads: list[list] = [[] for _ in range(workers)]
    for item in slow:  # a module's slow tests stay on one worker: they may share a fixture
        module = item.nodeid.split("::")[0]
        same = [head for head in heads if any(i.nodeid.startswith(module + "::") for i in head)]
        (same[0] if same and _cost_rank(item) == len(LONGEST) else min(heads, key=len)).append(item)
    ordered = []
    for head, size in zip(heads, shares, strict=True):
        ordered += head + rest[: max(0, size - len(head))]
        rest = rest[max(0, size - len(head)) :]
    items[:] = ordered + rest
