"""Tests of support.kinetic: the kinetic-energy penalty as a `tfb.FFJORD` trace augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate
import scipy.linalg
import tensorflow as tf
import tensorflow_probability as tfp

from support.kinetic import with_kinetic_penalty

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


def _kinetic_energy(x):
    """int_0^1 |g(s, y(s))|^2 ds along the inverse path from x: y(s) = exp(-A s) x."""

    def speed(s):
        return float(np.sum((A @ scipy.linalg.expm(-A * s) @ x) ** 2))

    return scipy.integrate.quad(speed, 0.0, 1.0, epsabs=1e-12)[0]


@pytest.mark.parametrize("weight", [0.02, 0.5])
def test_the_inverse_log_det_drops_by_the_weight_times_the_paths_kinetic_energy(weight):
    exact = tfb.ffjord.trace_jacobian_exact
    plain = _bijector(exact).inverse_log_det_jacobian(POINTS, event_ndims=1).numpy()
    penalised = _bijector(with_kinetic_penalty(exact, weight))
    got = penalised.inverse_log_det_jacobian(POINTS, event_ndims=1).numpy()
    want = plain - weight * np.array([_kinetic_energy(x) for x in POINTS])
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)
    # The state's path is untouched: the inverse maps the points where the plain one does.
    np.testing.assert_allclose(
        penalised.inverse(POINTS).numpy(), _bijector(exact).inverse(POINTS).numpy(), atol=1e-9
    )
    # The closed form: the inverse log-det of exp(A) is -trace(A).
    np.testing.assert_allclose(plain, -np.trace(A), atol=1e-8)


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
