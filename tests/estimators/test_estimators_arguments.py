"""`support.estimators.arguments`: the argument checks every estimator shares (exactly one of
`n` and `z`, the sample count, the samples, one value per sample from each function, the
types of functions and distributions), run through each estimator before any sampling."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from support import estimators as est
from support.estimators.arguments import checked

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


def test_checked_runs_its_check_on_the_bound_arguments_before_the_definition():
    seen = []

    def check(arguments):
        seen.append(dict(arguments))
        arguments["x"] = 10 * arguments["x"]

    @checked(check)
    def add(x, y=2):
        return x + y

    assert add(1) == 12
    assert seen == [{"x": 1, "y": 2}]  # defaults applied before the check


def test_checked_keeps_the_definitions_name_signature_and_docstring():
    plain = est.expectation.__wrapped__
    assert est.expectation.__name__ == "expectation"
    assert est.expectation.__doc__ == plain.__doc__
    assert inspect.signature(est.expectation) == inspect.signature(plain)
