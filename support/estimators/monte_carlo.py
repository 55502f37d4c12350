"""Monte Carlo expectations and importance sampling, restored from `tf.contrib.bayesflow`.

TF 1.x shipped `bayesflow.monte_carlo.expectation`, `expectation_importance_sampler` and
`expectation_importance_sampler_logspace`. TFP 0.25 keeps `tfp.monte_carlo.expectation` under
the old name but with another signature (it takes samples, never a distribution), and has no
public importance sampler. These are the old ops on TF 2, eager and inside `tf.function`, with
the old argument names (`f`, `log_p`, `sampling_dist_q`, `z`, `n`, `seed`). Every reduction is
over the sample axis (axis 0) only, so batch shapes pass through, and every estimator can also
return its Monte Carlo standard error (`return_stderr=True`).

Notebook 04 defines each function here in a code cell, as written below (its section 1 and
section 6); the package wraps its copy with the argument checks of `arguments`.
"""

from __future__ import annotations

import tensorflow as tf

from support.estimators.arguments import (
    check_distribution,
    check_samples_args,
    check_z,
    checked,
    sampler_checks,
)

__all__ = [
    "expectation",
    "expectation_importance_sampler",
    "expectation_importance_sampler_logspace",
]


def _check_get_samples(arguments: dict) -> None:
    check_distribution(arguments["dist"], "dist")
    check_samples_args(arguments["z"], arguments["n"])
    if arguments["z"] is not None:
        arguments["z"] = check_z(arguments["z"], arguments["dist"].dtype)


@checked(_check_get_samples)
def _get_samples(dist, z=None, n=None, seed=None):
    """The samples to average over: `z` as given, or `n` fresh draws of `dist`.

    Exactly one of `z` and `n` must be given; the result has a leading sample axis, shape
    `[n] + dist.batch_shape + dist.event_shape` (or `z`'s shape).
    """
    if (n is None) == (z is None):
        raise ValueError('Must specify exactly one of arguments "n" and "z".')
    if n is not None:
        return dist.sample(n, seed=seed)
    return tf.convert_to_tensor(z, name="z")


def _sample_mean(values, return_stderr=False):
    """The mean over the sample axis (axis 0 only, so batch axes stay) and, if asked, its
    standard error: the sample standard deviation over `sqrt(n)` (NaN when `n = 1`)."""
    mean = tf.reduce_mean(values, axis=0)
    if not return_stderr:
        return mean
    n = tf.cast(tf.shape(values)[0], values.dtype)
    variance = tf.reduce_sum(tf.square(values - mean), axis=0) / (n - 1.0)
    return mean, tf.sqrt(variance / n)


@checked(sampler_checks(functions=("f",), distribution="p"))
def expectation(f, p, z=None, n=None, seed=None, name="expectation", return_stderr=False):
    """Monte Carlo estimate of `E_p[f(Z)]`: the mean of `f(z_i)` over samples `z_i ~ p`.

    Args:
      f: maps samples of `p` to one value per sample (it may reduce event axes, never the
        sample axis).
      p: a `tfd.Distribution`.
      z: samples of `p` with a leading sample axis, or None to draw `n` of them.
      n: number of samples to draw when `z` is None.
      seed: seed for `p.sample`.
      name: name scope of the ops.
      return_stderr: also return the standard error `sd(f(z)) / sqrt(n)`.

    Returns:
      The estimate, shaped like `f(z)` without its sample axis; with `return_stderr`, the
      pair `(estimate, stderr)`.
    """
    with tf.name_scope(name):
        z = _get_samples(p, z, n, seed)
        return _sample_mean(f(z), return_stderr)


def _logspace_mean(log_values, return_stderr=False):
    """`log(mean(exp(log_values)))` over the sample axis, computed after subtracting the
    largest value `C` (and adding it back). When `C` is finite, no term overflows, the largest
    is exactly 1, and a term that underflows to 0 was too small to change the mean. An infinite
    `C` is replaced by 0, as `tf.reduce_logsumexp` does: values that are all -inf give -inf, and
    any +inf gives +inf, not NaN. Its standard error is the delta method's,
    `se(log m) = se(m) / m`, on the centred values (NaN when every value is -inf, any is +inf,
    or there is one sample)."""
    center = tf.stop_gradient(tf.reduce_max(log_values, axis=0))
    center = tf.where(tf.math.is_finite(center), center, tf.zeros_like(center))
    centered = tf.exp(log_values - center)
    if not return_stderr:
        return tf.math.log(_sample_mean(centered)) + center
    mean, stderr = _sample_mean(centered, return_stderr=True)
    return tf.math.log(mean) + center, stderr / mean


@checked(sampler_checks(functions=("f", "log_p"), distribution="sampling_dist_q"))
def expectation_importance_sampler(
    f,
    log_p,
    sampling_dist_q,
    z=None,
    n=None,
    seed=None,
    name="expectation_importance_sampler",
    return_stderr=False,
):
    """Importance-sampling estimate of `E_p[f(Z)] = E_q[f(Z) p(Z) / q(Z)]`, with `Z ~ q`.

    As in the original, `f` is split into `relu(f) + 1` and `relu(-f) + 1`, each
    weighted average is taken in log space, and the result is their difference. The two `+1`s
    cancel on the same samples, so the value is `mean(f(z_i) p(z_i) / q(z_i))`: `E_p[f]` when
    `log_p` is normalised, `int f p` otherwise.

    Args:
      f: maps samples of `sampling_dist_q` to values of any sign.
      log_p: the log density of `p` at those samples.
      sampling_dist_q: the proposal `q`, a `tfd.Distribution` covering where `f p` is not 0.
      z: samples of `q`, or None to draw `n` of them.
      n: number of samples to draw when `z` is None.
      seed: seed for `sampling_dist_q.sample`.
      name: name scope of the ops.
      return_stderr: also return the standard error, `sd(f w) / sqrt(n)` with `w = p / q`.

    Returns:
      The estimate, shape `sampling_dist_q.batch_shape` (or `(estimate, stderr)`).
    """
    q = sampling_dist_q
    with tf.name_scope(name):
        z = _get_samples(q, z, n, seed)
        log_weights = log_p(z) - q.log_prob(z)
        f_z = f(z)
        log_f_plus = tf.math.log1p(tf.nn.relu(f_z))  # log(relu(f) + 1)
        log_f_minus = tf.math.log1p(tf.nn.relu(-f_z))  # log(relu(-f) + 1)
        estimate = tf.exp(_logspace_mean(log_f_plus + log_weights)) - tf.exp(
            _logspace_mean(log_f_minus + log_weights)
        )
        if not return_stderr:
            return estimate
        center = tf.stop_gradient(tf.reduce_max(log_weights + tf.math.log1p(tf.abs(f_z)), axis=0))
        center = tf.where(tf.math.is_finite(center), center, tf.zeros_like(center))
        _, stderr = _sample_mean(f_z * tf.exp(log_weights - center), return_stderr=True)
        return estimate, stderr * tf.exp(center)


@checked(sampler_checks(functions=("log_f", "log_p"), distribution="sampling_dist_q"))
def expectation_importance_sampler_logspace(
    log_f,
    log_p,
    sampling_dist_q,
    z=None,
    n=None,
    seed=None,
    name="expectation_importance_sampler_logspace",
    return_stderr=False,
):
    """Importance sampling in log space: `log E_p[f(Z)]` from `log f`, for `f >= 0`.

    Returns `log mean(exp(log_f(z_i) + log_p(z_i) - log q(z_i)))`, `z_i ~ q`, averaged by
    `_logspace_mean`, so log-weights in the thousands (of either sign) stay finite. `log_p`
    may be unnormalised: the result then carries its log normaliser (e.g. a log evidence).

    Args:
      log_f: the log of a function `f >= 0` at samples of `sampling_dist_q`.
      log_p: the log density of `p` (normalised or not) at those samples.
      sampling_dist_q: the proposal `q`, a `tfd.Distribution`.
      z: samples of `q`, or None to draw `n` of them.
      n: number of samples to draw when `z` is None.
      seed: seed for `sampling_dist_q.sample`.
      name: name scope of the ops.
      return_stderr: also return the delta-method standard error of the log estimate.

    Returns:
      The log estimate, shape `sampling_dist_q.batch_shape` (or `(estimate, stderr)`).
    """
    q = sampling_dist_q
    with tf.name_scope(name):
        z = _get_samples(q, z, n, seed)
        return _logspace_mean(log_f(z) + log_p(z) - q.log_prob(z), return_stderr)
