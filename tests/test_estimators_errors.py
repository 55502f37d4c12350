"""Each documented invalid call raises its documented error, before any sampling."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from support import estimators as est

tfd = tfp.distributions
Q = tfd.Normal(0.0, 1.0)
Z = tf.zeros([5])

SAMPLED_CALLS = {
    "expectation": lambda **kw: est.expectation(tf.square, Q, **kw),
    "importance": lambda **kw: est.expectation_importance_sampler(tf.square, Q.log_prob, Q, **kw),
    "logspace": lambda **kw: est.expectation_importance_sampler_logspace(
        tf.zeros_like, Q.log_prob, Q, **kw
    ),
    "entropy_sample": lambda **kw: est.entropy_shannon(Q, form="sample", **kw),
    "elbo_ratio": lambda **kw: est.elbo_ratio(Q.log_prob, Q, **kw),
    "renyi_ratio": lambda **kw: est.renyi_ratio(Q.log_prob, Q, 0.5, **kw),
}


@pytest.mark.parametrize("call", SAMPLED_CALLS.values(), ids=SAMPLED_CALLS.keys())
@pytest.mark.parametrize("kwargs", [{}, {"n": 5, "z": Z}], ids=["neither", "both"])
def test_every_estimator_needs_exactly_one_of_n_and_z(call, kwargs):
    with pytest.raises(ValueError, match='Must specify exactly one of arguments "n" and "z"'):
        call(**kwargs)


@pytest.mark.parametrize("call", SAMPLED_CALLS.values(), ids=SAMPLED_CALLS.keys())
@pytest.mark.parametrize("n", [0, -3, tf.constant(0)])
def test_non_positive_n_is_refused(call, n):
    with pytest.raises(ValueError, match="^n must be an integer >= 1"):
        call(n=n)


@pytest.mark.parametrize("n", [2.5, True, "10", tf.constant(3.0)])
def test_non_integer_n_is_refused(n):
    with pytest.raises(TypeError, match="n must be"):
        est.expectation(tf.square, Q, n=n)


def _mean_over_samples(z):
    return tf.reduce_mean(tf.square(z))


def _first_three_rows(z):
    return z[:3]


@pytest.mark.parametrize("f", [_mean_over_samples, _first_three_rows])
@pytest.mark.parametrize("kwargs", [{"n": 10}, {"z": tf.zeros([10])}], ids=["n", "z"])
def test_f_returning_other_than_one_row_per_sample_is_named(f, kwargs):
    with pytest.raises(ValueError, match=r"^f must return one value per sample.*10"):
        est.expectation(f, Q, seed=1, **kwargs)


def test_importance_samplers_name_f_log_f_and_log_p_with_the_wrong_rows():
    with pytest.raises(ValueError, match="^f must return one value per sample"):
        est.expectation_importance_sampler(_mean_over_samples, Q.log_prob, Q, n=10, seed=1)
    with pytest.raises(ValueError, match="^log_p must return one value per sample"):
        est.expectation_importance_sampler(tf.square, _mean_over_samples, Q, n=10, seed=1)
    with pytest.raises(ValueError, match="^log_f must return one value per sample"):
        est.expectation_importance_sampler_logspace(_first_three_rows, Q.log_prob, Q, n=10, seed=1)


def test_wrong_rows_are_caught_inside_a_function_with_an_unknown_sample_count():
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
    def estimate(z):
        return est.expectation(_first_three_rows, Q, z=z)

    with pytest.raises(tf.errors.InvalidArgumentError, match="f must return one value per"):
        estimate(tf.zeros([10]))
    assert float(estimate(tf.zeros([3]))) == 0.0


def test_nan_samples_are_refused():
    with pytest.raises(ValueError, match="z must not contain NaN"):
        est.expectation(tf.square, Q, z=np.array([0.0, np.nan]))


def test_samples_of_another_dtype_are_refused():
    with pytest.raises(TypeError, match="z must have the distribution's dtype float32"):
        est.expectation(tf.square, Q, z=tf.zeros([3], tf.float64))


def test_scalar_samples_are_refused():
    with pytest.raises(ValueError, match="z must have a leading sample axis"):
        est.expectation(tf.square, Q, z=1.0)


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: est.expectation("x", Q, n=3), "f must be callable"),
        (lambda: est.expectation(tf.square, "q", n=3), "p must be a tfp.distributions"),
        (lambda: est.elbo_ratio(None, Q, n=3), "log_p must be callable"),
        (lambda: est.renyi_ratio(Q.log_prob, 1.0, 0.5, n=3), "q must be a tfp.distributions"),
        (
            lambda: est.expectation_importance_sampler(tf.square, Q.log_prob, None, n=3),
            "sampling_dist_q must be",
        ),
    ],
)
def test_wrong_argument_types_name_the_argument(call, name):
    with pytest.raises(TypeError, match=name):
        call()


@pytest.mark.parametrize("alpha", [1.0, 1, np.array([0.5, 1.0]), tf.constant(1.0)])
def test_renyi_ratio_refuses_alpha_equal_to_one(alpha):
    with pytest.raises(ValueError, match="alpha must not be 1"):
        est.renyi_ratio(Q.log_prob, Q, alpha, n=10)


def test_renyi_ratio_asserts_dynamic_alpha_inside_tf_function():
    ratio = tf.function(lambda alpha: est.renyi_ratio(Q.log_prob, Q, alpha, n=10, seed=(1, 2)))
    assert np.isfinite(ratio(tf.constant(0.5)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="alpha must not be 1"):
        ratio(tf.constant(1.0))


def test_entropy_shannon_refuses_n_with_the_analytic_form():
    with pytest.raises(ValueError, match="If form == ELBOForms.analytic_entropy, n must be None"):
        est.entropy_shannon(Q, n=10, form=est.ELBOForms.analytic_entropy)


@pytest.mark.parametrize("form", [est.ELBOForms.analytic_kl, "analytic_kl", "exact", 3])
def test_forms_the_ops_do_not_handle_are_refused(form):
    with pytest.raises(ValueError, match="ELBOForm not handled by this function"):
        est.entropy_shannon(Q, n=10, form=form)
    with pytest.raises(ValueError, match="ELBOForm not handled by this function"):
        est.elbo_ratio(Q.log_prob, Q, n=10, form=form)


def test_analytic_entropy_on_a_distribution_without_one_raises_not_implemented():
    mixture = tfd.MixtureSameFamily(tfd.Categorical(logits=[0.0, 0.0]), tfd.Normal([0.0, 1.0], 1.0))
    with pytest.raises(NotImplementedError):
        est.entropy_shannon(mixture, form=est.ELBOForms.analytic_entropy)
    with pytest.raises(NotImplementedError):
        est.elbo_ratio(mixture.log_prob, mixture, n=10, form="analytic_entropy")


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
        (lambda: est.entropy_by_quadrature(Q.log_prob, -1.0, 1.0, num=5.0), "^num must be"),
    ],
)
def test_closed_form_helpers_refuse_arguments_of_the_wrong_type(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_the_log_joint_memory_estimate_covers_its_samples_by_observations_array():
    size = est.NormalNormalModel.log_joint_bytes
    for n, m in ((20_000, 1000), (10**6, 10**6)):
        assert size(n, m) >= 8 * n * m  # one float64 [n, m] array at least
    assert size(2 * 20_000, 1000) == size(20_000, 2 * 1000) == 2 * size(20_000, 1000)
