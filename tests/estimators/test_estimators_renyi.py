"""`support.estimators.renyi`: `renyi_ratio` (the Renyi variational bound) and `renyi_alpha`.

Tests marked `bayesflow_port` are the original `tf.contrib.bayesflow` tests
(`kernel_tests/entropy_test.py`), ported with their data, sample sizes, op seeds and
tolerances (see docs/reference.md); they start from TF 1's default graph seed (conftest).
The others check the bound against its closed form within k = 4 of its own standard errors,
in float32 and float64, eagerly and inside `tf.function`, and its errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from estimator_checks import K, normal, within_k_stderr

from support import estimators as est

tfd = tfp.distributions
Q = tfd.Normal(0.0, 1.0)


# entropy_test.py: renyi_ratio ---------------------------------------------------------------


def _fit_by_renyi(alpha, mu_true, chol_true, n=1000, steps=1000, lr=0.5, decay=0.1):
    target = tfd.MultivariateNormalTriL(mu_true, chol_true)
    mu = tf.Variable(np.zeros(mu_true.shape), dtype=tf.float64, name="mu")
    mat = tf.Variable(np.zeros(chol_true.shape), dtype=tf.float64, name="mat")

    def q():
        chol = tf.linalg.set_diag(mat, tf.nn.softplus(tf.linalg.diag_part(mat)))
        return tfd.MultivariateNormalTriL(mu, chol)

    def negative_renyi_divergence():
        return est.renyi_ratio(log_p=target.log_prob, q=q(), n=n, alpha=alpha, seed=0)

    @tf.function
    def train_step(step):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(-negative_renyi_divergence())
        grads = tape.gradient(loss, [mu, mat])
        rate = lr * (1.0 + tf.cast(step, tf.float64)) ** (-decay)
        for variable, grad in zip([mu, mat], grads, strict=True):
            variable.assign_sub(rate * grad)

    evaluate = tf.function(negative_renyi_divergence)
    renyis = []
    for step in range(steps):
        train_step(tf.constant(step))
        if step in (1, 5, 100):
            renyis.append(float(evaluate()))
    return target, q(), renyis


@pytest.mark.bayesflow_port
@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.25, 0.75])
def test_renyi_ratio_fits_a_two_dimensional_normal(alpha):
    mu_true = np.array([1.0, -1.0], dtype=np.float64)
    chol_true = np.array([[2.0, 0.0], [0.5, 1.0]], dtype=np.float64)
    target, q, renyis = _fit_by_renyi(alpha, mu_true, chol_true)
    assert np.all(np.diff(renyis) > 0), renyis  # the bound increases during training
    np.testing.assert_allclose(q.loc, target.loc, rtol=0.06)
    np.testing.assert_allclose(q.scale.to_dense(), target.scale.to_dense(), rtol=0.1)


@pytest.mark.bayesflow_port
def test_renyi_ratio_is_zero_for_identical_distributions():
    d = tfd.Normal(loc=np.float64([1.0, -1.0]), scale=np.float64([0.5, 2.0]))
    ratio = est.renyi_ratio(log_p=d.log_prob, q=d, alpha=0.5, n=100, seed=0)
    assert ratio.shape == (2,)
    np.testing.assert_array_equal(ratio, np.zeros(2))


# entropy_test.py: renyi_alpha ---------------------------------------------------------------


@pytest.mark.bayesflow_port
@pytest.mark.parametrize("np_dtype", [np.float32, np.float64])
def test_renyi_alpha_goes_from_alpha_max_to_alpha_min_monotonically(np_dtype):
    alpha_min, alpha_max, decay_time = np_dtype(0.0), np_dtype(0.5), np_dtype(3)
    alphas = [
        est.renyi_alpha(np_dtype(step), decay_time, alpha_min, alpha_max) for step in range(5)
    ]
    assert all(a.dtype == tf.as_dtype(np_dtype) for a in alphas)
    np.testing.assert_allclose(alphas[0], 0.5, atol=1e-5)
    np.testing.assert_allclose(alphas[3], 0.0, atol=1e-5)
    assert np.all(np.diff(np.array(alphas[:4])) < 0)


@pytest.mark.bayesflow_port
@pytest.mark.parametrize("bad", ["step", "decay_time", "alpha_min", "alpha_max"])
def test_renyi_alpha_raises_on_non_scalar_arguments(bad):
    args = {"step": 1.0, "decay_time": 3.0, "alpha_min": 0.0, "alpha_max": 0.5}
    args[bad] = [args[bad], args[bad]]
    with pytest.raises(ValueError, match=f"{bad} must be scalar"):
        est.renyi_alpha(**args)


@pytest.mark.bayesflow_port
def test_renyi_alpha_raises_on_non_positive_decay_time():
    with pytest.raises(ValueError, match="decay_time must be positive"):
        est.renyi_alpha(1.0, 0.0, 0.0)


@pytest.mark.bayesflow_port
def test_renyi_alpha_raises_on_negative_step():
    with pytest.raises(ValueError, match="step must be non-negative"):
        est.renyi_alpha(-1.0, 3.0, 0.0)


# Against closed forms, within k standard errors -----------------------------------------------


@pytest.mark.parametrize("alpha", [0.25, 0.5, 2.0])
def test_renyi_ratio_matches_minus_renyi_divergence(dtype, run, seed, alpha):
    q, p = normal([0.0, 1.0], [1.0, 0.8], dtype), normal([0.5, 0.0], [1.2, 1.0], dtype)
    value, se = run(
        lambda: est.renyi_ratio(p.log_prob, q, alpha, n=20000, seed=(seed, 9), return_stderr=True)
    )
    truth = -est.gaussian_renyi_divergence([0.0, 1.0], [1.0, 0.8], [0.5, 0.0], [1.2, 1.0], alpha)
    within_k_stderr(value, se, truth)


def test_conjugate_model_orders_elbo_renyi_bound_and_evidence(seed):
    rng = np.random.default_rng(seed)
    model = est.NormalNormalModel(0.0, 2.0, 1.0, rng.normal(1.0, 1.0, size=20))
    loc, scale = model.posterior()
    q = tfd.Normal(tf.constant(loc + 0.3, tf.float64), tf.constant(scale * 1.5, tf.float64))
    elbo, elbo_se = est.elbo_ratio(model.log_joint, q, n=20000, seed=(seed, 10), return_stderr=True)
    bound, bound_se = est.renyi_ratio(
        model.log_joint, q, 0.5, n=20000, seed=(seed, 10), return_stderr=True
    )
    within_k_stderr(elbo, elbo_se, model.elbo(loc + 0.3, scale * 1.5))
    within_k_stderr(bound, bound_se, model.renyi_bound(loc + 0.3, scale * 1.5, 0.5))
    assert float(elbo) < float(bound) < model.log_evidence()


def test_batch_shapes_pass_through_renyi_ratio_with_a_batch_of_alphas(seed):
    q = tfd.Normal(tf.zeros([3, 2]), tf.ones([3, 2]))
    p = tfd.Normal(tf.fill([3, 2], 0.5), tf.ones([3, 2]))
    estimate, stderr = est.renyi_ratio(
        p.log_prob, q, tf.fill([3, 2], 0.5), n=50, seed=(seed, 11), return_stderr=True
    )
    assert estimate.shape == (3, 2) and stderr.shape == (3, 2)


def test_renyi_ratio_is_exactly_zero_for_identical_float32_q_and_p(seed):
    # float64 with the same family and batch shape is the ported test above.
    d = normal([1.0, -2.0], [0.5, 3.0], tf.float32)
    ratio = est.renyi_ratio(d.log_prob, d, 0.3, n=100, seed=(seed, 12))
    np.testing.assert_array_equal(ratio, 0.0)


@pytest.mark.parametrize("offset", [1e4, -1e4])
def test_renyi_ratio_survives_log_weights_of_ten_thousand(dtype, seed, offset):
    q = normal([0.0, 1.0], [1.0, 2.0], dtype)
    p = normal([0.5, 0.0], [1.0, 1.5], dtype)

    def shifted(z):
        return p.log_prob(z) + tf.constant(offset, dtype)

    bound, bound_se = est.renyi_ratio(shifted, q, 0.5, n=5000, seed=(seed, 13), return_stderr=True)
    truth = offset - est.gaussian_renyi_divergence(
        [0.0, 1.0], [1.0, 2.0], [0.5, 0.0], [1.0, 1.5], 0.5
    )
    assert np.all(np.isfinite(bound))
    tolerance = K * np.asarray(bound_se) + abs(offset) * np.finfo(dtype.as_numpy_dtype).eps * 4
    np.testing.assert_array_less(np.abs(np.asarray(bound, np.float64) - truth), tolerance)


def test_renyi_ratio_stderr_matches_the_spread_of_repeated_estimates(seed):
    repeats = 400  # independent estimates, one per batch member
    q = tfd.Normal(tf.zeros([repeats], tf.float64), 1.0)
    p = tfd.Normal(tf.fill([repeats], np.float64(0.5)), 0.8)  # narrower than q: light tails
    estimates, stderrs = est.renyi_ratio(
        p.log_prob, q, 0.5, n=1000, seed=(seed, 14), return_stderr=True
    )
    ratio = np.std(estimates, ddof=1) / np.mean(stderrs)
    assert 0.8 < ratio < 1.2, ratio


# Errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [1.0, 1, np.array([0.5, 1.0]), tf.constant(1.0)])
def test_renyi_ratio_refuses_alpha_equal_to_one(alpha):
    with pytest.raises(ValueError, match="alpha must not be 1"):
        est.renyi_ratio(Q.log_prob, Q, alpha, n=10)


def test_renyi_ratio_asserts_dynamic_alpha_inside_tf_function():
    ratio = tf.function(lambda alpha: est.renyi_ratio(Q.log_prob, Q, alpha, n=10, seed=(1, 2)))
    assert np.isfinite(ratio(tf.constant(0.5)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="alpha must not be 1"):
        ratio(tf.constant(1.0))


@pytest.mark.parametrize("bad", ["step", "decay_time", "alpha_min", "alpha_max"])
def test_renyi_alpha_asserts_scalars_of_unknown_rank_inside_tf_function(bad):
    args = {"step": 1.0, "decay_time": 3.0, "alpha_min": 0.0, "alpha_max": 0.5}

    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32)])
    def schedule(value):
        return est.renyi_alpha(**{**args, bad: value})

    assert np.isfinite(schedule(tf.constant(args[bad] + 0.5)))
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{bad} must be scalar"):
        schedule(tf.constant([1.0, 2.0]))


@pytest.mark.parametrize(
    ("arg", "value", "message"),
    [
        ("step", -1.0, "step must be non-negative"),
        ("decay_time", 0.0, "decay_time must be positive"),
    ],
)
def test_renyi_alpha_asserts_dynamic_signs_inside_tf_function(arg, value, message):
    args = {"step": 1.0, "decay_time": 3.0, "alpha_min": 0.0}
    schedule = tf.function(lambda v: est.renyi_alpha(**{**args, arg: v}))
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        schedule(tf.constant(value))


def test_renyi_alpha_refuses_integer_alpha_min_tensor():
    with pytest.raises(TypeError, match="alpha_min must be floating point"):
        est.renyi_alpha(1.0, 3.0, tf.constant(0))
