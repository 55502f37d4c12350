"""Shared fixtures. Monte Carlo tests take their seed from `seed` (override: SUPPORT_TEST_SEED)."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")  # figures are drawn off screen in tests

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

import support  # noqa: E402, F401  (quiet TensorFlow import before any test module imports it)

DEFAULT_SEED = 20261122


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
