"""Tests of support.traces: the Jacobian trace estimators of the FFJORD notebook (02)."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from support.traces import TRACE_ESTIMATORS, check_trace, trace_jacobian_exact_unrolled

tfb = tfp.bijectors


def _random_field(seed, dtype):
    """A tanh MLP field `f(t, z)` with fixed random weights; time enters as a bias."""
    rng = np.random.default_rng(seed)
    w, v = (tf.constant(rng.normal(scale=0.8, size=(2, 2)), dtype) for _ in range(2))
    b = tf.constant(rng.normal(size=2), dtype)
    return lambda t, z: tf.tanh(z @ w + tf.cast(t, dtype) * b) @ v


def test_unrolled_exact_trace_equals_tfps_exact_trace(seed, dtype):
    field = _random_field(seed, dtype)
    z = tf.constant(np.random.default_rng(seed).normal(size=(64, 2)), dtype)
    ours = trace_jacobian_exact_unrolled(field, z.shape, dtype)(0.3, (z, tf.zeros_like(z)))
    tfps = tfb.ffjord.trace_jacobian_exact(field, z.shape, dtype)(0.3, (z, tf.zeros_like(z)))
    for a, b in zip(ours, tfps, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_unrolled_exact_trace_of_a_field_that_ignores_the_state_is_zero(dtype):
    z = tf.ones([3, 2], dtype)
    derivative, diagonal = trace_jacobian_exact_unrolled(
        lambda t, state: tf.ones([3, 2], dtype), z.shape, dtype
    )(0.0, (z, tf.zeros_like(z)))
    np.testing.assert_array_equal(diagonal.numpy(), np.zeros((3, 2)))
    np.testing.assert_array_equal(derivative.numpy(), np.ones((3, 2)))


def test_the_named_estimators_are_the_unrolled_exact_trace_and_tfps_hutchinson():
    assert TRACE_ESTIMATORS["exact"] is trace_jacobian_exact_unrolled
    assert TRACE_ESTIMATORS["hutchinson"] is tfb.ffjord.trace_jacobian_hutchinson


def test_check_trace_returns_a_known_name():
    for name in TRACE_ESTIMATORS:
        assert check_trace(name) == name


@pytest.mark.parametrize("trace", ["approx", "", None, 1])
def test_check_trace_rejects_other_values_naming_the_argument_and_the_choices(trace):
    with pytest.raises(ValueError, match=r"trace must be one of 'exact', 'hutchinson', got"):
        check_trace(trace)
