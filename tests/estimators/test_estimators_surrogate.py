"""`support.estimators.surrogate`: the explicit-node surrogate loss, its gradient against
exact gradients within k = 4 standard errors, its bookkeeping (reparameterized nodes,
baselines, the plain sum) and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from estimator_checks import K

from support import estimators as est
from support.estimate import mean_and_stderr

tfd = tfp.distributions


def test_score_function_gradient_of_a_normal_matches_the_exact_gradient(dtype, seed):
    # E[(z - c)^2] = (mu - c)^2 + sigma^2: d/dmu = 2 (mu - c), d/dsigma = 2 sigma.
    mu, sigma, c = tf.Variable(0.5, dtype=dtype), tf.Variable(1.5, dtype=dtype), 2.0

    def surrogate(stateless_seed):
        q = tfd.Normal(mu, sigma)
        z = tf.stop_gradient(q.sample(100, seed=stateless_seed))
        loss = tf.square(z - c)
        node = est.StochasticNode(q, z, loss_fn=est.score_function)
        return est.surrogate_loss([loss], [node])

    grads = est.gradient_samples(surrogate, [mu, sigma], repeats=200, seed=seed)
    for rows, exact in zip(grads, [2 * (0.5 - c), 2 * 1.5], strict=True):
        mean, stderr = mean_and_stderr(rows, axis=0)
        assert abs(mean - exact) < K * stderr, (mean, stderr, exact)


def test_score_function_gradient_through_a_bernoulli_matches_the_exact_gradient(seed):
    # E[f(b)], b ~ Bernoulli(sigmoid(theta)): d/dtheta = s (1 - s) (f(1) - f(0)).
    theta = tf.Variable(0.3, dtype=tf.float64)
    f0, f1 = 1.0, 4.0

    def surrogate(stateless_seed):
        q = tfd.Bernoulli(logits=theta, dtype=tf.float64)
        b = q.sample(100, seed=stateless_seed)
        loss = f0 + (f1 - f0) * b
        return est.surrogate_loss([loss], [est.StochasticNode(q, b)])  # "auto": score term

    (rows,) = est.gradient_samples(surrogate, [theta], repeats=200, seed=seed)
    s = 1.0 / (1.0 + np.exp(-0.3))
    mean, stderr = mean_and_stderr(rows, axis=0)
    assert abs(mean - s * (1 - s) * (f1 - f0)) < K * stderr


def test_surrogate_gradient_equals_tfp_score_function_expectation_on_the_same_samples(seed):
    mu = tf.Variable(0.2, dtype=tf.float64)
    z = tfd.Normal(tf.constant(0.2, tf.float64), 1.0).sample(500, seed=(seed, 3))
    with tf.GradientTape(persistent=True) as tape:
        q = tfd.Normal(mu, tf.constant(1.0, tf.float64))
        ours = tf.reduce_mean(
            est.surrogate_loss([tf.sin(z)], [est.StochasticNode(q, z, loss_fn=est.score_function)])
        )
        theirs = tfp.monte_carlo.expectation(
            tf.sin, z, log_prob=q.log_prob, use_reparameterization=False
        )
    np.testing.assert_allclose(tape.gradient(ours, mu), tape.gradient(theirs, mu), rtol=1e-12)


def test_reparameterized_node_adds_no_term_by_default(seed):
    q = tfd.Normal(tf.constant(0.0), 1.0)
    z = q.sample(10, seed=(seed, 4))
    loss = tf.square(z)
    np.testing.assert_array_equal(est.surrogate_loss([loss], [est.StochasticNode(q, z)]), loss)


def test_surrogate_without_nodes_warns_and_returns_the_summed_losses():
    losses = [tf.ones([3]), 2 * tf.ones([3])]
    with pytest.warns(UserWarning, match="no stochastic nodes"):
        total = est.surrogate_loss(losses)
    np.testing.assert_array_equal(total, 3 * np.ones(3))


def test_a_constant_baseline_keeps_the_mean_gradient_and_cuts_its_variance(seed):
    mu = tf.Variable(1.0, dtype=tf.float64)

    def estimates(baseline):
        def surrogate(stateless_seed):
            q = tfd.Normal(mu, tf.constant(1.0, tf.float64))
            z = tf.stop_gradient(q.sample(100, seed=stateless_seed))
            loss = 10.0 + tf.square(z)
            node = est.StochasticNode(q, z, baseline=baseline, loss_fn=est.score_function)
            return est.surrogate_loss([loss], [node])

        return est.gradient_samples(surrogate, [mu], repeats=200, seed=seed)[0]

    plain, centred = estimates(None), estimates(tf.constant(12.0, tf.float64))
    for rows in (plain, centred):
        mean, stderr = mean_and_stderr(rows, axis=0)
        assert abs(mean - 2.0) < K * stderr
    assert np.var(centred) < 0.5 * np.var(plain)


def test_mean_baseline_is_the_bias_corrected_moving_average():
    baseline = est.get_mean_baseline(ema_decay=0.9)
    first = baseline(tf.constant([4.0, 6.0]))
    np.testing.assert_allclose(first, 5.0, rtol=1e-6)  # debiased: exactly the first mean
    second = baseline(tf.constant([1.0, 1.0]))
    expected = (0.9 * 0.1 * 5.0 + 0.1 * 1.0) / (1 - 0.9**2)
    np.testing.assert_allclose(second, expected, rtol=1e-6)


def test_mean_baseline_works_as_a_node_baseline_inside_tf_function(seed):
    theta = tf.Variable(0.0, dtype=tf.float64)
    baseline = est.get_mean_baseline(0.5)

    @tf.function
    def step(scale):
        with tf.GradientTape() as tape:
            q = tfd.Bernoulli(logits=theta, dtype=tf.float64)
            b = q.sample(64, seed=(seed, 6))
            node = est.StochasticNode(q, b, baseline=baseline)
            loss = tf.reduce_mean(est.surrogate_loss([scale * b], [node]))
        return tape.gradient(loss, theta), b

    first, b = step(tf.constant(3.0, tf.float64))
    second, again = step(tf.constant(1.0, tf.float64))
    b = b.numpy()
    np.testing.assert_array_equal(again, b)  # a stateless seed: the same draws both times
    # By hand: d/dtheta log q(b) = b - sigmoid(0) = b - 1/2, and the baseline is the debiased
    # moving average of the mean loss: 3 m, then (0.5 * 0.5 * 3 m + 0.5 * m) / (1 - 0.5^2)
    # = 5 m / 3, for m the draws' mean.
    m = b.mean()
    np.testing.assert_allclose(first, np.mean((3 * b - 3 * m) * (b - 0.5)), rtol=1e-10)
    np.testing.assert_allclose(second, np.mean((b - 5 * m / 3) * (b - 0.5)), rtol=1e-10)


def test_reparameterized_gradient_samples_average_to_the_exact_gradient(seed):
    sigma = tf.Variable(1.5, dtype=tf.float64)

    def loss(stateless_seed):
        return tf.square(
            tfd.Normal(tf.constant(0.0, tf.float64), sigma).sample(50, seed=stateless_seed)
        )

    (rows,) = est.gradient_samples(loss, [sigma], repeats=100, seed=seed)
    assert rows.shape == (100,)
    mean, stderr = mean_and_stderr(rows, axis=0)
    assert abs(mean - 3.0) < K * stderr


def test_gradient_samples_are_independent_but_reproducible(seed):
    mu = tf.Variable(0.0)

    def loss(stateless_seed):
        return tfd.Normal(mu, 1.0).sample(5, seed=stateless_seed) ** 2

    first = est.gradient_samples(loss, [mu], repeats=3, seed=seed)[0]
    again = est.gradient_samples(loss, [mu], repeats=3, seed=seed)[0]
    np.testing.assert_array_equal(first, again)
    assert len(set(first.tolist())) == 3


# Errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: est.surrogate_loss(tf.zeros([3])),
            TypeError,
            "sample_losses must be a list or tuple",
        ),
        (lambda: est.surrogate_loss([1.0]), TypeError, "loss is not a Tensor"),
        (lambda: est.surrogate_loss([tf.zeros([])]), ValueError, "dimensionality 1 or greater"),
        (lambda: est.surrogate_loss([tf.zeros([3])], ["node"]), TypeError, "StochasticNode"),
        (lambda: est.get_mean_baseline(1.0), ValueError, "ema_decay must be a number >= 0 and < 1"),
        (lambda: est.get_mean_baseline("0.9"), TypeError, "ema_decay must be a real number"),
        (lambda: est.MeanBaseline(-0.1), ValueError, "ema_decay must be a number >= 0 and < 1"),
        (lambda: est.gradient_samples(lambda s: tf.zeros([2]), []), ValueError, "variables"),
        (
            lambda: est.gradient_samples(lambda s: tf.zeros([2]), [tf.Variable(1.0)], repeats=0),
            ValueError,
            "repeats must be an integer >= 1",
        ),
    ],
)
def test_surrogate_loss_and_helpers_refuse_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
