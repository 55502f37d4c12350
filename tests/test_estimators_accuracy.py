"""Each estimator against its closed form within k = 4 standard errors (its own reported one),
in float32 and float64, eagerly and inside `tf.function`, with batch shapes preserved."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from support import estimators as est

tfd = tfp.distributions
K = 4.0


@pytest.fixture(params=["eager", "tf.function"])
def run(request):
    """Calls a no-argument function eagerly or as a `tf.function`; returns NumPy arrays."""

    def call(fn):
        result = fn() if request.param == "eager" else tf.function(fn)()
        return tf.nest.map_structure(lambda t: np.asarray(t, dtype=np.float64), result)

    return call


def within_k_stderr(estimate, stderr, truth):
    estimate, stderr = np.asarray(estimate), np.asarray(stderr)
    assert np.all(stderr > 0), stderr
    np.testing.assert_array_less(np.abs(estimate - truth), K * stderr)


def normal(loc, scale, dtype):
    return tfd.Normal(tf.constant(loc, dtype), tf.constant(scale, dtype))


def test_expectation_matches_normal_moments(dtype, run, seed):
    p = normal([1.0, -1.0], [0.3, 0.5], dtype)
    mean, se = run(
        lambda: est.expectation(lambda x: x, p, n=4000, seed=(seed, 1), return_stderr=True)
    )
    within_k_stderr(mean, se, [1.0, -1.0])
    second, se2 = run(
        lambda: est.expectation(tf.square, p, n=4000, seed=(seed, 2), return_stderr=True)
    )
    within_k_stderr(second, se2, [1.09, 1.25])


def test_importance_sampler_matches_shifted_normal_mean(dtype, run, seed):
    p, q = normal([-1.0, 1.0], [0.5, 0.5], dtype), normal([0.0, 0.0], [1.0, 1.0], dtype)
    value, se = run(
        lambda: est.expectation_importance_sampler(
            lambda x: x, p.log_prob, q, n=20000, seed=(seed, 3), return_stderr=True
        )
    )
    within_k_stderr(value, se, [-1.0, 1.0])


def test_logspace_importance_sampler_matches_log_second_moment(dtype, run, seed):
    p, q = normal([0.0, 0.0], [1.0, 2 / 3], dtype), normal([-1.0, 1.0], [1.0, 1.0], dtype)
    value, se = run(
        lambda: est.expectation_importance_sampler_logspace(
            lambda x: tf.math.log(tf.square(x)),
            p.log_prob,
            q,
            n=20000,
            seed=(seed, 4),
            return_stderr=True,
        )
    )
    within_k_stderr(value, se, np.log([1.0, 4 / 9]))


def test_sampled_entropy_matches_gaussian_entropy(dtype, run, seed):
    p = normal([0.0, 3.0], [0.5, 2.0], dtype)
    value, se = run(
        lambda: est.entropy_shannon(p, n=5000, seed=(seed, 5), form="sample", return_stderr=True)
    )
    within_k_stderr(value, se, est.gaussian_entropy([0.5, 2.0]))


def test_sampled_entropy_matches_mvn_entropy(dtype, run, seed):
    cov = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, 0.3], [0.0, 0.3, 0.5]])
    p = tfd.MultivariateNormalTriL(tf.zeros(3, dtype), tf.constant(np.linalg.cholesky(cov), dtype))
    value, se = run(
        lambda: est.entropy_shannon(p, n=5000, seed=(seed, 6), form="sample", return_stderr=True)
    )
    within_k_stderr(value, se, est.mvn_entropy(cov))


def test_default_entropy_falls_back_on_samples_for_a_mixture(dtype, seed):
    mixture = tfd.MixtureSameFamily(
        tfd.Categorical(probs=tf.constant([0.3, 0.7], dtype)),
        normal([-2.0, 1.0], [0.5, 1.0], dtype),
    )
    value, se = est.entropy_shannon(mixture, n=5000, seed=(seed, 7), return_stderr=True)
    truth = est.entropy_by_quadrature(
        lambda x: tfd.MixtureSameFamily(
            tfd.Categorical(probs=tf.constant([0.3, 0.7], tf.float64)),
            normal([-2.0, 1.0], [0.5, 1.0], tf.float64),
        ).log_prob(x),
        -12.0,
        12.0,
    )
    within_k_stderr(value, se, truth)


@pytest.mark.parametrize("form", ["sample", "default"])
def test_elbo_ratio_matches_minus_kl_between_normals(dtype, run, seed, form):
    q, p = normal([0.0, 1.0], [1.0, 0.5], dtype), normal([0.5, -1.0], [1.5, 1.0], dtype)
    value, se = run(
        lambda: est.elbo_ratio(p.log_prob, q, n=5000, seed=(seed, 8), form=form, return_stderr=True)
    )
    within_k_stderr(value, se, -est.gaussian_kl([0.0, 1.0], [1.0, 0.5], [0.5, -1.0], [1.5, 1.0]))


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


def test_batch_shapes_pass_through_every_estimator(seed):
    q = tfd.Normal(tf.zeros([3, 2]), tf.ones([3, 2]))
    p = tfd.Normal(tf.fill([3, 2], 0.5), tf.ones([3, 2]))
    kwargs = {"n": 50, "seed": (seed, 11), "return_stderr": True}
    results = [
        est.expectation(tf.square, q, **kwargs),
        est.expectation_importance_sampler(tf.square, p.log_prob, q, **kwargs),
        est.expectation_importance_sampler_logspace(lambda z: z, p.log_prob, q, **kwargs),
        est.entropy_shannon(q, form="sample", **kwargs),
        est.entropy_shannon(q, **kwargs),
        est.elbo_ratio(p.log_prob, q, **kwargs),
        est.renyi_ratio(p.log_prob, q, tf.fill([3, 2], 0.5), **kwargs),
    ]
    for estimate, stderr in results:
        assert estimate.shape == (3, 2) and stderr.shape == (3, 2)


def test_identical_q_and_p_give_exactly_zero(dtype, seed):
    d = normal([1.0, -2.0], [0.5, 3.0], dtype)
    kwargs = {"n": 100, "seed": (seed, 12)}
    np.testing.assert_array_equal(est.elbo_ratio(d.log_prob, d, form="sample", **kwargs), 0.0)
    np.testing.assert_array_equal(est.renyi_ratio(d.log_prob, d, 0.3, **kwargs), 0.0)
    zero = est.expectation_importance_sampler_logspace(tf.zeros_like, d.log_prob, d, **kwargs)
    np.testing.assert_allclose(zero, 0.0, atol=10 * np.finfo(dtype.as_numpy_dtype).eps)


@pytest.mark.parametrize("offset", [1e4, -1e4])
def test_logspace_estimators_survive_log_weights_of_ten_thousand(dtype, seed, offset):
    q = normal([0.0, 1.0], [1.0, 2.0], dtype)
    p = normal([0.5, 0.0], [1.0, 1.5], dtype)

    def shifted(z):
        return p.log_prob(z) + tf.constant(offset, dtype)

    kwargs = {"n": 5000, "seed": (seed, 13), "return_stderr": True}
    log_mass, se = est.expectation_importance_sampler_logspace(tf.zeros_like, shifted, q, **kwargs)
    assert np.all(np.isfinite(log_mass)) and np.all(np.isfinite(se))
    within_k_stderr(np.asarray(log_mass, np.float64) - offset, se, 0.0)
    bound, bound_se = est.renyi_ratio(shifted, q, 0.5, **kwargs)
    truth = offset - est.gaussian_renyi_divergence(
        [0.0, 1.0], [1.0, 2.0], [0.5, 0.0], [1.0, 1.5], 0.5
    )
    assert np.all(np.isfinite(bound))
    tolerance = K * np.asarray(bound_se) + abs(offset) * np.finfo(dtype.as_numpy_dtype).eps * 4
    np.testing.assert_array_less(np.abs(np.asarray(bound, np.float64) - truth), tolerance)


def test_logspace_mean_handles_log_values_ten_thousand_apart():
    q = tfd.Normal(tf.constant(0.0, tf.float64), 1.0)
    z = tf.constant([1e4, -1e4], tf.float64)  # log_f = z, and log_p - log q = 0 exactly
    log_mean = est.expectation_importance_sampler_logspace(lambda x: x, q.log_prob, q, z=z)
    np.testing.assert_allclose(log_mean, 1e4 + np.log(0.5))


@pytest.mark.parametrize(
    "make",
    [
        lambda q, p, n, s: est.expectation(lambda x: x, q, n=n, seed=s, return_stderr=True),
        lambda q, p, n, s: est.expectation_importance_sampler_logspace(
            tf.zeros_like, p.log_prob, q, n=n, seed=s, return_stderr=True
        ),
        lambda q, p, n, s: est.renyi_ratio(p.log_prob, q, 0.5, n=n, seed=s, return_stderr=True),
        lambda q, p, n, s: est.expectation_importance_sampler(
            lambda x: x, p.log_prob, q, n=n, seed=s, return_stderr=True
        ),
    ],
    ids=["expectation", "logspace", "renyi", "importance"],
)
def test_reported_stderr_matches_the_spread_of_repeated_estimates(make, seed):
    repeats = 400  # independent estimates, one per batch member
    q = tfd.Normal(tf.zeros([repeats], tf.float64), 1.0)
    p = tfd.Normal(tf.fill([repeats], np.float64(0.5)), 0.8)  # narrower than q: light tails
    estimates, stderrs = make(q, p, 1000, (seed, 14))
    ratio = np.std(estimates, ddof=1) / np.mean(stderrs)
    assert 0.8 < ratio < 1.2, ratio


def test_error_versus_n_falls_like_one_over_root_n(seed):
    p = tfd.Normal(tf.constant(0.0, tf.float64), 1.0)
    study = est.error_versus_n(
        lambda n, s: est.expectation(lambda x: x, p, n=n, seed=(seed, s), return_stderr=True),
        [100, 10000],
        0.0,
        repeats=30,
    )
    np.testing.assert_allclose(study["stderr"], [0.1, 0.01], rtol=0.1)
    assert 0.05 < study["rmse"][1] / study["rmse"][0] < 0.2  # 0.1 expected
