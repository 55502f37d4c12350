"""`benchmarks/tutorial_baseline.py`: the demo's flow with either of TFP's trace estimators."""

import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from support.flows.traces import TRACE_ESTIMATORS

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import tutorial_baseline as tb  # noqa: E402

POINTS = np.array([[0.5, -0.2], [1.0, 0.3], [-0.7, 0.1]], np.float32)


def _log_prob_twice(trace):
    tf.random.set_seed(3)
    distribution, fields, counter = tb.build_baseline(num_flows=1, trace=trace)
    return [distribution.log_prob(POINTS).numpy() for _ in range(2)], fields, counter


def test_the_exact_trace_gives_the_same_log_density_every_time():
    (first, second), fields, counter = _log_prob_twice("exact")
    assert np.all(np.isfinite(first)) and len(fields) == 1
    np.testing.assert_array_equal(first, second)
    assert len(counter.counts) == 2  # one solve per call, counted


def test_hutchinson_draws_a_fresh_probe_at_every_call_around_the_exact_value():
    (first, second), _, _ = _log_prob_twice("hutchinson")
    (exact, _), _, _ = _log_prob_twice("exact")  # the same seed: the same initial weights
    assert np.all(np.isfinite(first)) and not np.array_equal(first, second)
    # Same field, only the trace differs: close to the exact value, not equal to it.
    assert not np.array_equal(first, exact)
    np.testing.assert_allclose(first, exact, atol=1.0)


def test_the_names_are_notebook_02s():
    assert set(tb.TRACES) == set(TRACE_ESTIMATORS)


def test_an_unknown_trace_is_named():
    with pytest.raises(ValueError, match="trace must be one of 'exact', 'hutchinson', got 'hu"):
        tb.build_baseline(num_flows=1, trace="hutchinsons")
