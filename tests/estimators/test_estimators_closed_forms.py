"""`support.estimators.closed_forms`: the exact values the estimators are checked against
(Gaussian entropies and divergences, a conjugate model, quadrature) and `error_versus_n`."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from support import estimators as est

tfd = tfp.distributions
Q = tfd.Normal(0.0, 1.0)


def test_gaussian_entropy_matches_tfp():
    scale = np.array([0.5, 1.0, 3.0])
    np.testing.assert_allclose(
        est.gaussian_entropy(scale), tfd.Normal(np.zeros(3), scale).entropy(), rtol=1e-12
    )


def test_mvn_entropy_matches_tfp():
    cov = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, 0.3], [0.0, 0.3, 0.5]])
    mvn = tfd.MultivariateNormalTriL(np.zeros(3), np.linalg.cholesky(cov))
    np.testing.assert_allclose(est.mvn_entropy(cov), mvn.entropy(), rtol=1e-12)


def test_gaussian_kl_matches_tfp():
    q = tfd.Normal(np.array([0.0, 1.0]), np.array([1.0, 0.5]))
    p = tfd.Normal(np.array([0.5, -1.0]), np.array([1.5, 1.0]))
    kl = est.gaussian_kl([0.0, 1.0], [1.0, 0.5], [0.5, -1.0], [1.5, 1.0])
    np.testing.assert_allclose(kl, tfd.kl_divergence(q, p), rtol=1e-12)


def test_gaussian_renyi_divergence_tends_to_kl_as_alpha_tends_to_one():
    args = ([0.0, 1.0], [1.0, 0.5], [0.5, -1.0], [1.5, 1.0])
    kl = est.gaussian_kl(*args)
    for alpha in (1 - 1e-6, 1 + 1e-6):
        np.testing.assert_allclose(est.gaussian_renyi_divergence(*args, alpha), kl, rtol=1e-4)


def test_gaussian_renyi_divergence_is_infinite_when_the_integral_diverges():
    # alpha p_scale^2 + (1 - alpha) q_scale^2 = 2 - 4 < 0
    assert est.gaussian_renyi_divergence(0.0, 2.0, 0.0, 1.0, 2.0) == np.inf


def test_normal_normal_model_log_joint_minus_log_posterior_is_the_evidence_everywhere():
    model = est.NormalNormalModel(0.5, 2.0, 1.0, [0.3, 1.2, 2.0])
    loc, scale = model.posterior()
    z = np.array([-1.0, 0.0, 2.5])
    log_posterior = tfd.Normal(np.float64(loc), scale).log_prob(z)
    np.testing.assert_allclose(model.log_joint(z) - log_posterior, model.log_evidence(), rtol=1e-12)


def test_normal_normal_model_evidence_is_the_marginal_normal_density_of_the_data():
    # y ~ N(prior_loc 1, noise^2 I + prior_scale^2 1 1^T) once z is integrated out (NumPy)
    y = np.array([0.3, 1.2, 2.0])
    model = est.NormalNormalModel(0.5, 2.0, 1.0, y)
    cov = np.eye(3) + 4.0 * np.ones((3, 3))
    centred = y - 0.5
    expected = -0.5 * (
        centred @ np.linalg.solve(cov, centred) + np.log(np.linalg.det(2 * np.pi * cov))
    )
    np.testing.assert_allclose(model.log_evidence(), expected, rtol=1e-12)


# the bounds by quadrature over z of the model's own log joint, not through its posterior
Z = np.linspace(-12.0, 12.0, 48001)


def _quadrature_bounds(model, q_loc, q_scale, alpha):
    log_joint = np.asarray(model.log_joint(Z), np.float64)
    log_q = -0.5 * ((Z - q_loc) / q_scale) ** 2 - np.log(q_scale * np.sqrt(2 * np.pi))
    q = np.exp(log_q)
    elbo = np.trapezoid(q * (log_joint - log_q), Z)
    mixed = alpha * log_q + (1 - alpha) * log_joint
    peak = mixed.max()
    renyi = (peak + np.log(np.trapezoid(np.exp(mixed - peak), Z))) / (1 - alpha)
    peak = log_joint.max()
    evidence = peak + np.log(np.trapezoid(np.exp(log_joint - peak), Z))
    return elbo, renyi, evidence


@pytest.mark.parametrize("shift", [0.0, 0.4, -1.0])
@pytest.mark.parametrize("widen", [1.0, 0.7, 1.5])
def test_normal_normal_model_bounds_match_quadrature_of_the_log_joint(shift, widen):
    model = est.NormalNormalModel(0.0, 2.0, 1.0, [0.3, 1.2, 2.0])
    loc, scale = model.posterior()
    q_loc, q_scale = loc + shift, scale * widen
    elbo, renyi, evidence = _quadrature_bounds(model, q_loc, q_scale, 0.5)
    np.testing.assert_allclose(model.log_evidence(), evidence, rtol=1e-9)
    np.testing.assert_allclose(model.elbo(q_loc, q_scale), elbo, rtol=1e-9)
    np.testing.assert_allclose(model.renyi_bound(q_loc, q_scale, 0.5), renyi, rtol=1e-9)
    # ELBO <= Renyi bound (alpha = 1/2) <= evidence, with equality only at the posterior
    if shift == 0.0 and widen == 1.0:
        np.testing.assert_allclose([elbo, renyi], evidence, rtol=1e-9)
    else:
        assert elbo < renyi < evidence


def test_entropy_by_quadrature_matches_a_gaussian_entropy():
    value = est.entropy_by_quadrature(tfd.Normal(np.float64(1.0), 2.0).log_prob, -30.0, 30.0)
    np.testing.assert_allclose(value, est.gaussian_entropy(2.0), rtol=1e-9)


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


def test_error_versus_n_gives_every_run_at_every_n_its_own_seed():
    seeds = []
    est.error_versus_n(lambda n, s: seeds.append((n, s)) or (0.0, 1.0), [10, 30], 0.0, repeats=3)
    assert len({s for _, s in seeds}) == len(seeds) == 6


def test_error_versus_n_estimates_at_two_n_share_no_draws(seed):
    p = tfd.Normal(tf.constant(0.0, tf.float64), 1.0)
    draws = {}

    def estimator(n, s):
        draws[n, s] = p.sample(n, seed=(seed, s)).numpy()
        return float(np.mean(draws[n, s])), 1.0

    est.error_versus_n(estimator, [10, 30], 0.0, repeats=4)
    small = np.concatenate([x for (n, _), x in draws.items() if n == 10])
    large = np.concatenate([x for (n, _), x in draws.items() if n == 30])
    assert not np.isin(small, large).any()


def test_error_slope_of_an_exact_power_law_is_its_exponent_with_the_chi_square_error():
    n = np.array([10.0, 100.0, 1000.0])
    slope, slope_se = est.error_slope({"n": n, "rmse": 3.0 * n**-0.5}, repeats=40)
    assert slope == pytest.approx(-0.5, abs=1e-12)
    # trigamma(20) = sum over k >= 20 of 1 / k^2, summed directly
    log_rmse_se = 0.5 * math.sqrt(sum(1.0 / k**2 for k in range(20, 10**6)))
    expected = log_rmse_se / math.sqrt(np.sum((np.log(n) - np.log(n).mean()) ** 2))
    assert slope_se == pytest.approx(expected, rel=1e-5)


def test_error_slope_of_a_sample_mean_study_is_minus_a_half_within_four_stderrs(seed):
    p = tfd.Normal(tf.constant(0.0, tf.float64), 1.0)
    study = est.error_versus_n(
        lambda n, s: est.expectation(lambda x: x, p, n=n, seed=(seed, s), return_stderr=True),
        [10, 100, 1000],
        0.0,
        repeats=30,
    )
    slope, slope_se = est.error_slope(study, repeats=30)
    assert abs(slope + 0.5) <= 4 * slope_se


def test_the_log_joint_memory_estimate_covers_its_samples_by_observations_array():
    size = est.NormalNormalModel.log_joint_bytes
    for n, m in ((20_000, 1000), (10**6, 10**6)):
        assert size(n, m) >= 8 * n * m  # one float64 [n, m] array at least
    assert size(2 * 20_000, 1000) == size(20_000, 2 * 1000) == 2 * size(20_000, 1000)


# Errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: est.gaussian_renyi_divergence(0, 1, 0, 1, 1.0),
            "alpha must be positive and not 1",
        ),
        (lambda: est.gaussian_kl(0, -1, 0, 1), "q_scale must be positive"),
        (lambda: est.NormalNormalModel(0, 1, 1, [0.0, np.nan]), "observations must be finite"),
        (lambda: est.NormalNormalModel(0, 0, 1, [0.0]), "prior_scale must be positive"),
        (lambda: est.entropy_by_quadrature(Q.log_prob, 1.0, -1.0), "low must be below high"),
        (lambda: est.error_versus_n(lambda n, s: (0, 1), [100, 10], 0.0), "increasing"),
        (lambda: est.error_versus_n(lambda n, s: (0, 1), [], 0.0), "^ns must hold at least 1"),
        (lambda: est.error_versus_n(lambda n, s: (0, 1), [0, 10], 0.0), "^ns must hold integers"),
        (lambda: est.entropy_by_quadrature(Q.log_prob, -1.0, 1.0, num=2), "^num must be"),
        (lambda: est.mvn_entropy(np.ones(3)), "covariance must be a square matrix"),
        (lambda: est.error_slope({"n": [10, 100], "rmse": [0.3, 0.1]}, 1), "^repeats must be at"),
        (lambda: est.error_slope({"n": [10], "rmse": [0.3]}, 10), "^study must hold two"),
        (lambda: est.error_slope({"n": [10, 100], "rmse": [0.3, 0.0]}, 10), "^study must hold"),
    ],
)
def test_closed_form_helpers_refuse_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: est.error_versus_n(lambda n, s: (0, 1), [10, 2.5], 0.0), "^ns must hold only"),
        (lambda: est.error_versus_n(None, [10], 0.0), "^estimator must be callable"),
        (lambda: est.error_versus_n(lambda n, s: (0, 1), [10], 0.0, repeats=1.0), "^repeats"),
        (lambda: est.error_slope({"n": [10, 100], "rmse": [0.3, 0.1]}, 2.0), "^repeats"),
        (lambda: est.entropy_by_quadrature(Q.log_prob, -1.0, 1.0, num=5.0), "^num must be"),
    ],
)
def test_closed_form_helpers_refuse_arguments_of_the_wrong_type(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_a_study_that_would_reach_the_next_studys_seeds_is_refused():
    from support.estimators import fits_between_seeds

    fits_between_seeds(40, [10, 30, 100, 300, 1000, 3000, 10000])  # notebook 04's defaults
    fits_between_seeds(100, list(range(10)))  # exactly the 1000 seeds up to the next study
    with pytest.raises(ValueError, match="143 repeats at 7 sample sizes use 1001 seeds"):
        fits_between_seeds(143, [10, 30, 100, 300, 1000, 3000, 10000])
    with pytest.raises(ValueError, match="more than the 50"):
        fits_between_seeds(10, [1, 2, 3, 4, 5, 6], spacing=50)
