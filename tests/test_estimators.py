"""The original `tf.contrib.bayesflow` tests (monte_carlo_test.py, entropy_test.py), ported.

Data, sample sizes, op seeds and tolerances are the originals (see shared/REFERENCE.md).
TF 1 combined an op seed with a graph-level seed (87654321 when none was set); each test
here starts from that global seed, so the ported op seeds give the same numbers every run
whatever ran before. Our own tests (k standard errors, dtypes, `tf.function`, errors) are
in `test_estimators_*.py`.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from support import estimators as est

tfd = tfp.distributions

TF1_DEFAULT_GRAPH_SEED = 87654321


@pytest.fixture(autouse=True)
def fresh_graph_seed():
    tf.random.set_seed(TF1_DEFAULT_GRAPH_SEED)


# monte_carlo_test.py ------------------------------------------------------------------------


def test_importance_sampler_estimates_normal_mean_and_stddev():
    n = int(1e6)
    p = tfd.Normal(loc=np.float64([-1.0, 1.0]), scale=np.float64([0.5, 0.5]))
    q = tfd.Normal(loc=np.float64([0.0, 0.0]), scale=np.float64([1.0, 1.0]))
    e_x = est.expectation_importance_sampler(
        f=lambda x: x, log_p=p.log_prob, sampling_dist_q=q, n=n, seed=42
    )
    e_x2 = est.expectation_importance_sampler(
        f=tf.square, log_p=p.log_prob, sampling_dist_q=q, n=n, seed=42
    )
    stddev = tf.sqrt(e_x2 - tf.square(e_x))
    assert e_x.shape == p.batch_shape
    np.testing.assert_allclose(e_x, p.mean(), rtol=0.01)
    np.testing.assert_allclose(stddev, p.stddev(), rtol=0.02)


def test_importance_sampler_estimates_probability_of_positive_product():
    p = tfd.MultivariateNormalDiag(loc=[0.0, 0.0], scale_diag=[1.0, 1.0])
    q = tfd.MultivariateNormalDiag(loc=[0.5, 0.5], scale_diag=[3.0, 3.0])

    def indicator(x):
        return 0.5 * (tf.sign(tf.reduce_prod(x, axis=-1)) + 1.0)

    prob = est.expectation_importance_sampler(
        f=indicator, log_p=p.log_prob, sampling_dist_q=q, n=1000, seed=42
    )
    assert prob.shape == p.batch_shape
    np.testing.assert_allclose(prob, 0.5, rtol=0.05)


def test_logspace_importance_sampler_estimates_second_moment():
    p = tfd.Normal(loc=np.float64([0.0, 0.0]), scale=np.float64([1.0, 2 / 3.0]))
    q = tfd.Normal(loc=np.float64([-1.0, 1.0]), scale=np.float64([1.0, 1.0]))
    log_e_x2 = est.expectation_importance_sampler_logspace(
        log_f=lambda x: tf.math.log(tf.square(x)),
        log_p=p.log_prob,
        sampling_dist_q=q,
        n=int(1e6),
        seed=42,
    )
    e_x2 = tf.exp(log_e_x2)
    assert e_x2.shape == p.batch_shape
    np.testing.assert_allclose(e_x2, [1.0, (2 / 3.0) ** 2], rtol=0.02)


def test_expectation_estimates_normal_mean_and_variance():
    tf.random.set_seed(0)
    p = tfd.Normal(loc=[1.0, -1.0], scale=[0.3, 0.5])
    z = p.sample(20000, seed=42)
    e_x = est.expectation(lambda x: x, p, z=z, seed=42)
    e_x2 = est.expectation(tf.square, p, z=z, seed=0)
    var = e_x2 - tf.square(e_x)
    assert e_x.shape == p.batch_shape
    np.testing.assert_allclose(e_x, p.mean(), rtol=0.01)
    np.testing.assert_allclose(var, p.variance(), rtol=0.02)


@pytest.mark.parametrize(("z", "n"), [(None, None), ("samples", 10)])
def test_get_samples_raises_unless_exactly_one_of_z_and_n(z, n):
    dist = tfd.Normal(loc=0.0, scale=1.0)
    z = dist.sample(10, seed=42) if z == "samples" else None
    with pytest.raises(ValueError, match="exactly one"):
        est.get_samples(dist, z, n, None)


def test_get_samples_draws_n_samples():
    assert est.get_samples(tfd.Normal(0.0, 1.0), None, 10, None).shape == (10,)


def test_get_samples_returns_z_when_given():
    dist = tfd.Normal(loc=0.0, scale=1.0)
    assert est.get_samples(dist, dist.sample(10, seed=42), None, None).shape == (10,)


# entropy_test.py: elbo_ratio ----------------------------------------------------------------


def _two_mvn_diag(rng):
    shape = (2, 3)
    q = tfd.MultivariateNormalDiag(loc=rng.rand(*shape), scale_diag=rng.rand(*shape))
    p = tfd.MultivariateNormalDiag(loc=rng.rand(*shape), scale_diag=rng.rand(*shape))
    return q, p


@pytest.mark.parametrize(
    ("form", "rtol"), [(est.ELBOForms.sample, 0.05), (est.ELBOForms.analytic_entropy, 0.1)]
)
def test_elbo_ratio_converges_to_minus_kl_on_3dim_normals(form, rtol):
    q, p = _two_mvn_diag(np.random.RandomState(0))
    sample_kl = -est.elbo_ratio(log_p=p.log_prob, q=q, n=5000, form=form, seed=42)
    assert sample_kl.shape == (2,)
    np.testing.assert_allclose(sample_kl, tfd.kl_divergence(q, p), rtol=rtol)


def test_elbo_ratio_is_zero_when_p_and_q_are_the_same_distribution():
    rng = np.random.RandomState(0)
    d = tfd.MultivariateNormalDiag(loc=rng.rand(2, 3), scale_diag=rng.rand(2, 3))
    sample_kl = -est.elbo_ratio(log_p=d.log_prob, q=d, n=50, form=est.ELBOForms.sample, seed=42)
    assert sample_kl.shape == (2,)
    np.testing.assert_allclose(sample_kl, np.zeros(2))


# entropy_test.py: entropy_shannon -----------------------------------------------------------


class NormalNoEntropy(tfd.Normal):
    """A Normal without an analytic entropy (the original *returned* the exception)."""

    def entropy(self, *args, **kwargs):
        raise NotImplementedError("entropy is not implemented")


def test_normal_entropy_default_form_uses_exact_entropy():
    dist = tfd.Normal(loc=1.11, scale=2.22)
    mc_entropy = est.entropy_shannon(dist, n=11)
    exact = dist.entropy()
    assert mc_entropy.shape == exact.shape
    np.testing.assert_allclose(mc_entropy, exact)


def test_normal_entropy_analytic_form_uses_exact_entropy():
    dist = tfd.Normal(loc=1.11, scale=2.22)
    mc_entropy = est.entropy_shannon(dist, form=est.ELBOForms.analytic_entropy)
    exact = dist.entropy()
    assert mc_entropy.shape == exact.shape
    np.testing.assert_allclose(mc_entropy, exact)


def test_normal_entropy_sample_form_gets_approximate_answer():
    dist = tfd.Normal(loc=1.11, scale=2.22)
    mc_entropy = est.entropy_shannon(dist, n=1000, form=est.ELBOForms.sample, seed=0)
    exact = dist.entropy()
    assert mc_entropy.shape == exact.shape
    np.testing.assert_allclose(mc_entropy, exact, rtol=0.01)
    assert abs(float(mc_entropy - exact)) > 1e-4  # some error: samples were used


def test_default_entropy_falls_back_on_sample_if_analytic_not_available():
    # The original passed form=sample here, so it never reached the fallback; the
    # default form does.
    dist_no_entropy = NormalNoEntropy(loc=1.11, scale=2.22)
    exact = tfd.Normal(loc=1.11, scale=2.22).entropy()
    mc_entropy = est.entropy_shannon(dist_no_entropy, n=1000, seed=0)
    assert mc_entropy.shape == exact.shape
    np.testing.assert_allclose(mc_entropy, exact, rtol=0.01)
    assert abs(float(mc_entropy - exact)) > 1e-4


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


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.25, 0.75])
def test_renyi_ratio_fits_a_two_dimensional_normal(alpha):
    mu_true = np.array([1.0, -1.0], dtype=np.float64)
    chol_true = np.array([[2.0, 0.0], [0.5, 1.0]], dtype=np.float64)
    target, q, renyis = _fit_by_renyi(alpha, mu_true, chol_true)
    assert np.all(np.diff(renyis) > 0), renyis  # the bound increases during training
    np.testing.assert_allclose(q.loc, target.loc, rtol=0.06)
    np.testing.assert_allclose(q.scale.to_dense(), target.scale.to_dense(), rtol=0.1)


def test_renyi_ratio_is_zero_for_identical_distributions():
    d = tfd.Normal(loc=np.float64([1.0, -1.0]), scale=np.float64([0.5, 2.0]))
    ratio = est.renyi_ratio(log_p=d.log_prob, q=d, alpha=0.5, n=100, seed=0)
    assert ratio.shape == (2,)
    np.testing.assert_array_equal(ratio, np.zeros(2))


# entropy_test.py: renyi_alpha ---------------------------------------------------------------


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


@pytest.mark.parametrize("bad", ["step", "decay_time", "alpha_min", "alpha_max"])
def test_renyi_alpha_raises_on_non_scalar_arguments(bad):
    args = {"step": 1.0, "decay_time": 3.0, "alpha_min": 0.0, "alpha_max": 0.5}
    args[bad] = [args[bad], args[bad]]
    with pytest.raises(ValueError, match=f"{bad} must be scalar"):
        est.renyi_alpha(**args)


def test_renyi_alpha_raises_on_non_positive_decay_time():
    with pytest.raises(ValueError, match="decay_time must be positive"):
        est.renyi_alpha(1.0, 0.0, 0.0)


def test_renyi_alpha_raises_on_negative_step():
    with pytest.raises(ValueError, match="step must be non-negative"):
        est.renyi_alpha(-1.0, 3.0, 0.0)
