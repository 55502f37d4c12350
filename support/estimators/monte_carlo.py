"""Monte Carlo expectations and importance sampling, restored from `tf.contrib.bayesflow`.

TF 1.x shipped `bayesflow.monte_carlo.expectation`, `expectation_importance_sampler` and
`expectation_importance_sampler_logspace`; TFP 0.25 keeps only a different
`tfp.monte_carlo.expectation(f, samples, ...)`. These are the old ops on TF 2, eager and
inside `tf.function`, with the old argument names (`f`, `log_p`, `sampling_dist_q`, `z`, `n`,
`seed`). Every reduction is over the sample axis (axis 0) only, so batch shapes pass through,
and every estimator can also return its Monte Carlo standard error (`return_stderr=True`).

Serves notebook 04 (entropy and Monte Carlo estimators).
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
import tensorflow_probability as tfp

from support.estimators.arguments import (
    check_callable,
    check_distribution,
    check_rows,
    check_samples_args,
    check_z,
)

__all__ = [
    "expectation",
    "expectation_importance_sampler",
    "expectation_importance_sampler_logspace",
    "get_samples",
]

tfd = tfp.distributions


def get_samples(dist, z=None, n=None, seed=None) -> tf.Tensor:
    """Returns `z` as a tensor, or `n` fresh samples of `dist`; exactly one must be given.

    Args:
      dist: a `tfd.Distribution`.
      z: samples of `dist` with a leading sample axis, or None.
      n: number of samples to draw (a positive integer or integer scalar tensor), or None.
      seed: anything `dist.sample` accepts as a seed (a Python int or a stateless seed).

    Returns:
      A tensor of shape `[n] + dist.batch_shape + dist.event_shape` (or `z`'s shape).

    Raises:
      ValueError: `'Must specify exactly one of arguments "n" and "z"'` if both or neither
        are given; if `n` is not positive; if `z` is a scalar or holds NaN.
      TypeError: if `dist` is not a distribution or `n` is not an integer.
    """
    check_distribution(dist, "dist")
    check_samples_args(z, n)
    if n is not None:
        return dist.sample(n, seed=seed)
    return check_z(z, dist.dtype)


def _count(values: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.shape(values)[0], values.dtype)


def sample_mean(values: tf.Tensor, return_stderr: bool = False):
    """Mean over axis 0 and, if asked, its standard error `sd / sqrt(n)` (NaN when n = 1)."""
    mean = tf.reduce_mean(values, axis=0)
    if not return_stderr:
        return mean
    n = _count(values)
    variance = tf.reduce_sum(tf.square(values - mean), axis=0) / (n - 1.0)
    return mean, tf.sqrt(variance / n)


def logspace_mean(log_values: tf.Tensor, return_stderr: bool = False):
    """`log(mean(exp(log_values)))` over axis 0, computed after subtracting the max.

    The standard error is the delta method's: `se(log m) = se(m) / m`, evaluated on the
    centred values, so it never overflows either.
    """
    center = tf.stop_gradient(tf.reduce_max(log_values, axis=0))
    centered = tf.exp(log_values - center)
    if not return_stderr:
        return tf.math.log(tf.reduce_mean(centered, axis=0)) + center
    mean, stderr = sample_mean(centered, return_stderr=True)
    return tf.math.log(mean) + center, stderr / mean


def expectation(
    f: Callable, p, z=None, n=None, seed=None, name: str = "expectation", return_stderr=False
):
    """Monte Carlo estimate of `E_p[f(Z)]`: the mean of `f(z_i)` over samples `z_i ~ p`.

    Args:
      f: maps samples of `p` to tensors whose leading axis is the sample axis.
      p: a `tfd.Distribution`.
      z: samples of `p` (leading sample axis), or None to draw `n`.
      n: number of samples to draw when `z` is None.
      seed: seed for `p.sample`.
      name: name scope of the ops.
      return_stderr: also return the standard error `sd(f(z)) / sqrt(n)`.

    Returns:
      The estimate, shaped like `f(z)` without its first axis (so `p.batch_shape` passes
      through); with `return_stderr`, the pair `(estimate, stderr)`.

    Raises:
      ValueError: if both or neither of `n` and `z` are given, `n` is not positive, or `f`
        does not return one value per sample (e.g. it averages them itself).
      TypeError: if `f` is not callable or `p` is not a distribution.
    """
    check_callable(f, "f")
    check_distribution(p, "p")
    check_samples_args(z, n)
    with tf.name_scope(name):
        samples = get_samples(p, z, n, seed)
        return sample_mean(check_rows(f(samples), samples, "f"), return_stderr)


def _log_weights(log_p, q, z, n, seed):
    samples = get_samples(q, z, n, seed)
    return samples, check_rows(log_p(samples), samples, "log_p") - q.log_prob(samples)


def expectation_importance_sampler(
    f: Callable,
    log_p: Callable,
    sampling_dist_q,
    z=None,
    n=None,
    seed=None,
    name: str = "expectation_importance_sampler",
    return_stderr: bool = False,
):
    """Importance-sampling estimate of `E_p[f(Z)] = E_q[f(Z) p(Z) / q(Z)]` with `Z ~ q`.

    As in the original, `f` is split into `f+ = relu(f) + 1` and `f- = relu(-f) + 1`, each
    averaged in log space after subtracting the max, and the result is
    `exp(log E_q[f+ p/q]) - exp(log E_q[f- p/q])`. The two `+1`s cancel algebraically, so
    the value is `mean(f(z_i) p(z_i) / q(z_i))`: an estimate of `int f p`, which is
    `E_p[f]` only when `log_p` is normalised. The subtraction loses relative precision when
    `E_p[f]` is tiny beside `E_q[p/q]`; prefer float64 there, or the log-space sampler.

    Args:
      f: maps samples of `sampling_dist_q` to values (any sign).
      log_p: log density of `p`, normalised, evaluated at those samples.
      sampling_dist_q: the proposal `q`, a `tfd.Distribution` whose support covers `p f`.
      z: samples of `q`, or None to draw `n`.
      n: number of samples to draw when `z` is None.
      seed: seed for `sampling_dist_q.sample`.
      name: name scope of the ops.
      return_stderr: also return the standard error, `sd(f w) / sqrt(n)` with
        `w = p / q` (exact for this plain average; computed on max-centred weights).

    Returns:
      The estimate with shape `sampling_dist_q.batch_shape` (or `(estimate, stderr)`).

    Raises:
      ValueError: if both or neither of `n` and `z` are given, or `n` is not positive.
      TypeError: if `f` or `log_p` is not callable, or `sampling_dist_q` not a distribution.
    """
    check_callable(f, "f")
    check_callable(log_p, "log_p")
    check_distribution(sampling_dist_q, "sampling_dist_q")
    check_samples_args(z, n)
    with tf.name_scope(name):
        samples, log_w = _log_weights(log_p, sampling_dist_q, z, n, seed)
        f_z = check_rows(f(samples), samples, "f")
        log_f_plus = tf.math.log1p(tf.nn.relu(f_z))
        log_f_minus = tf.math.log1p(tf.nn.relu(-f_z))
        estimate = tf.exp(logspace_mean(log_f_plus + log_w)) - tf.exp(
            logspace_mean(log_f_minus + log_w)
        )
        if not return_stderr:
            return estimate
        center = tf.stop_gradient(tf.reduce_max(log_w + tf.math.log1p(tf.abs(f_z)), axis=0))
        _, stderr = sample_mean(f_z * tf.exp(log_w - center), return_stderr=True)
        return estimate, stderr * tf.exp(center)


def expectation_importance_sampler_logspace(
    log_f: Callable,
    log_p: Callable,
    sampling_dist_q,
    z=None,
    n=None,
    seed=None,
    name: str = "expectation_importance_sampler_logspace",
    return_stderr: bool = False,
):
    """Importance sampling in log space: `log E_p[f(Z)]` from `log_f`, for positive `f`.

    Returns `log(mean(exp(log_f(z_i) + log_p(z_i) - log q(z_i))))`, `z_i ~ q`, computed as
    `log(mean(exp(values - C))) + C` with `C` the sample max, so log-weights in the
    thousands (either sign) neither overflow nor underflow. `log_p` may be unnormalised: the
    result then carries its log normaliser (e.g. a log evidence).

    Args:
      log_f: log of a positive function, evaluated at samples of `sampling_dist_q`.
      log_p: log density of `p` (normalised or not) at those samples.
      sampling_dist_q: the proposal `q`, a `tfd.Distribution`.
      z: samples of `q`, or None to draw `n`.
      n: number of samples to draw when `z` is None.
      seed: seed for `sampling_dist_q.sample`.
      name: name scope of the ops.
      return_stderr: also return the delta-method standard error of the log estimate,
        `se(m) / m` where `m` is the (centred) mean of the weights.

    Returns:
      The log estimate with shape `sampling_dist_q.batch_shape` (or `(estimate, stderr)`).

    Raises:
      ValueError: if both or neither of `n` and `z` are given, or `n` is not positive.
      TypeError: if `log_f` or `log_p` is not callable, or `sampling_dist_q` not a
        distribution.
    """
    check_callable(log_f, "log_f")
    check_callable(log_p, "log_p")
    check_distribution(sampling_dist_q, "sampling_dist_q")
    check_samples_args(z, n)
    with tf.name_scope(name):
        samples, log_w = _log_weights(log_p, sampling_dist_q, z, n, seed)
        return logspace_mean(check_rows(log_f(samples), samples, "log_f") + log_w, return_stderr)
