"""Tests of support.flows.kinetic: the kinetic-energy penalty as a `tfb.FFJORD` augmentation."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import tensorflow as tf
import tensorflow_probability as tfp

from support.flows.kinetic import with_kinetic_penalty
from support.flows.traces import trace_jacobian_hutchinson

tfb = tfp.bijectors

#: A linear field f(t, z) = A z: its paths and their kinetic energy have a closed form.
A = np.array([[0.3, -1.0], [0.8, -0.2]])
POINTS = np.array([[0.5, -1.0], [1.5, 0.2], [-0.7, 0.9]])


def _bijector(trace_augmentation_fn):
    matrix = tf.constant(A.T, tf.float64)  # row vectors: z @ A^T = (A z)^T
    return tfb.FFJORD(
        state_time_derivative_fn=lambda t, z: tf.matmul(z, matrix),
        ode_solve_fn=tfp.math.ode.DormandPrince(rtol=1e-10, atol=1e-10).solve,
        trace_augmentation_fn=trace_augmentation_fn,
        dtype=tf.float64,
    )


def _inverse_log_det(trace_augmentation_fn):
    """The bijector's inverse log-det at `POINTS`, run as a graph (eagerly, the adaptive solve
    at these tolerances takes seconds)."""
    bijector = _bijector(trace_augmentation_fn)
    compute = tf.function(bijector.inverse_log_det_jacobian, autograph=False)
    return compute(tf.constant(POINTS), event_ndims=1).numpy()


def _inverse(trace_augmentation_fn):
    return tf.function(_bijector(trace_augmentation_fn).inverse, autograph=False)(POINTS).numpy()


@functools.cache
def _plain_exact():
    """The unpenalised bijector's inverse log-det and inverse, shared by the tests."""
    exact = tfb.ffjord.trace_jacobian_exact
    return _inverse_log_det(exact), _inverse(exact)


def _kinetic_energy(x):
    """int_0^1 |g(s, y(s))|^2 ds along the inverse path from x: y(s) = exp(-A s) x."""

    def speed(s):
        return float(np.sum((A @ scipy.linalg.expm(-A * s) @ x) ** 2))

    return scipy.integrate.quad(speed, 0.0, 1.0, epsabs=1e-12)[0]


@pytest.mark.parametrize("weight", [0.02, 0.5])
def test_the_inverse_log_det_drops_by_the_weight_times_the_paths_kinetic_energy(weight):
    plain, _ = _plain_exact()
    got = _inverse_log_det(with_kinetic_penalty(tfb.ffjord.trace_jacobian_exact, weight))
    want = plain - weight * np.array([_kinetic_energy(x) for x in POINTS])
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
    # The closed form: the inverse log-det of exp(A) is -trace(A).
    np.testing.assert_allclose(plain, -np.trace(A), atol=1e-8)


def test_the_state_s_path_is_untouched():
    # The inverse maps the points where the plain one does.
    penalised = with_kinetic_penalty(tfb.ffjord.trace_jacobian_exact, 0.5)
    np.testing.assert_allclose(_inverse(penalised), _plain_exact()[1], atol=1e-9)


def test_a_stochastic_trace_is_penalised_alike():
    # The penalty does not depend on the trace estimator: with Hutchinson's estimate, its probe
    # seeded so that both solves draw the same one, the log-det drops by the same energy.
    hutchinson = functools.partial(trace_jacobian_hutchinson, seed=[3, 5])
    plain = _inverse_log_det(hutchinson)
    got = _inverse_log_det(with_kinetic_penalty(hutchinson, 0.1))
    want = plain - 0.1 * np.array([_kinetic_energy(x) for x in POINTS])
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
    assert np.abs(plain + np.trace(A)).max() > 1e-3  # an estimate, not the exact trace


def test_a_zero_weight_is_the_augmentation_itself():
    exact = tfb.ffjord.trace_jacobian_exact
    assert with_kinetic_penalty(exact, 0) is exact


@pytest.mark.parametrize(
    ("function", "weight", "error", "name"),
    [
        (tfb.ffjord.trace_jacobian_exact, -0.1, ValueError, "weight"),
        (tfb.ffjord.trace_jacobian_exact, float("nan"), ValueError, "weight"),
        (tfb.ffjord.trace_jacobian_exact, "0.1", TypeError, "weight"),
        ("exact", 0.1, TypeError, "trace_augmentation_fn"),
    ],
)
def test_bad_arguments_are_named(function, weight, error, name):
    with pytest.raises(error, match=name):
        with_kinetic_penalty(function, weight)
