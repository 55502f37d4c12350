"""Renyi bounds and their `alpha` schedule, restored from `tf.contrib.bayesflow.entropy`.

`renyi_ratio` estimates the Renyi bound / minus the Renyi divergence in log space, with a
delta-method standard error; `renyi_alpha` is the schedule that moves `alpha` from near 1
(the ELBO) towards `alpha_min` during training. Both run eagerly and inside `tf.function`;
invalid static arguments raise `ValueError` at once, dynamic ones fail `tf.debugging`
assertions at run time.

Notebook 04 defines both functions in code cells, as written below (its sections 4 and 8);
the package wraps its copies with the argument checks of `_check_renyi_ratio` and
`_check_renyi_alpha`.

#### References

Li, Y. and Turner, R. E. Renyi divergence variational inference. NeurIPS 2016.
https://arxiv.org/abs/1602.02311
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import tensorflow as tf

from support.estimators.arguments import (
    check_callable,
    check_distribution,
    check_samples_args,
    check_z,
    checked,
)
from support.estimators.monte_carlo import _get_samples, _logspace_mean

__all__ = ["renyi_alpha", "renyi_ratio"]


def _static_value(value):
    if isinstance(value, tf.Variable):
        return None
    if tf.is_tensor(value):
        return tf.get_static_value(value)
    return np.asarray(value)


def _check_renyi_ratio(arguments: dict) -> None:
    check_callable(arguments["log_p"], "log_p")
    q, alpha = arguments["q"], arguments["alpha"]
    check_distribution(q, "q")
    static_alpha = _static_value(alpha)
    if static_alpha is not None:
        if static_alpha.dtype.kind not in "fiu":
            raise TypeError(f"alpha must be a real number, got {alpha!r}")
        if np.any(static_alpha == 1) or np.any(np.isnan(static_alpha)):
            raise ValueError(
                f"alpha must not be 1 (the alpha -> 1 limit is elbo_ratio) or NaN, got {alpha}"
            )
    z = arguments["z"]
    check_samples_args(z, arguments["n"])
    if z is not None:
        arguments["z"] = check_z(z, q.dtype)
    if static_alpha is None:  # known only when the graph runs: assert it there
        alpha = tf.cast(alpha, q.dtype)
        check = tf.debugging.assert_none_equal(
            alpha, tf.ones_like(alpha), message="alpha must not be 1"
        )
        with tf.control_dependencies([check]):
            arguments["alpha"] = tf.identity(alpha)


@checked(_check_renyi_ratio)
def renyi_ratio(
    log_p, q, alpha, z=None, n=None, seed=None, name="renyi_ratio", return_stderr=False
):
    """Estimates `(1 - alpha)^-1 log E_q[(p(Z) / q(Z))^(1 - alpha)]`, a Renyi bound.

    With `log_p` a normalised log density this is `-D_alpha[q || p]`, the negative Renyi
    divergence `D_alpha[q || p] = (alpha - 1)^-1 log int q^alpha p^(1 - alpha)`. With a log
    joint it is the Renyi bound `L_alpha = log p(x) - D_alpha[q || p(z | x)]`; for
    `0 < a <= b < 1`, `ELBO <= L_b <= L_a <= log p(x)`. The average is taken in log space
    (`_logspace_mean`); the analytic entropy is never used. The estimate is biased for finite
    `n` (`n = 1` gives `elbo_ratio`'s sample form).

    Args:
      log_p: maps samples of `q` to log densities broadcastable to `q.batch_shape`.
      q: a `tfd.Distribution` with the same support as `p`.
      alpha: a tensor broadcastable to `q.batch_shape`, different from 1.
      z: samples of `q`, or None to draw `n` of them.
      n: number of samples to draw when `z` is None.
      seed: seed for `q.sample`.
      name: name scope of the ops.
      return_stderr: also return the delta-method standard error,
        `se(m) / (m |1 - alpha|)` with `m` the (centred) mean of `(p/q)^(1 - alpha)`.

    Returns:
      A tensor of shape `q.batch_shape` (or `(estimate, stderr)`).
    """
    with tf.name_scope(name):
        alpha = tf.cast(alpha, q.dtype)
        z = _get_samples(q, z, n, seed)
        log_values = (1.0 - alpha) * (log_p(z) - q.log_prob(z))
        if not return_stderr:
            return _logspace_mean(log_values) / (1.0 - alpha)
        log_mean, stderr = _logspace_mean(log_values, return_stderr=True)
        return log_mean / (1.0 - alpha), stderr / tf.abs(1.0 - alpha)


def _scalar(value, name: str, dtype) -> tf.Tensor:
    rank = value.shape.rank if tf.is_tensor(value) else np.ndim(value)
    if rank is not None and rank != 0:
        shape = tuple(value.shape) if tf.is_tensor(value) else np.shape(value)
        raise ValueError(f"{name} must be scalar, got shape {shape}")
    tensor = tf.cast(value, dtype, name=name)
    if rank is None:
        check = tf.debugging.assert_rank(tensor, 0, message=f"{name} must be scalar")
        with tf.control_dependencies([check]):
            tensor = tf.identity(tensor)
    return tensor


def _check_renyi_alpha(arguments: dict) -> None:
    """Every argument a real scalar of `alpha_min`'s (floating) dtype, `step >= 0` and
    `decay_time > 0`: raised at once when known, asserted in the graph otherwise."""
    names = ("step", "decay_time", "alpha_min", "alpha_max")
    for arg in names:
        value = arguments[arg]
        if isinstance(value, bool) or not (tf.is_tensor(value) or _is_number_like(value)):
            raise TypeError(f"{arg} must be a real number or tensor, got {value!r}")
    alpha_min = arguments["alpha_min"]
    if isinstance(alpha_min, np.generic | np.ndarray):  # np.float64 is a Python float
        alpha_min = tf.convert_to_tensor(alpha_min, dtype=alpha_min.dtype)
    else:
        alpha_min = tf.convert_to_tensor(alpha_min, dtype_hint=tf.float32)
    dtype = alpha_min.dtype
    if not dtype.is_floating:
        raise TypeError(f"alpha_min must be floating point, got dtype {dtype.name}")
    values = {**arguments, "alpha_min": alpha_min}
    tensors = {arg: _scalar(values[arg], arg, dtype) for arg in names}
    for arg, test, text, assertion in (
        ("step", lambda v: v >= 0, "non-negative", tf.debugging.assert_non_negative),
        ("decay_time", lambda v: v > 0, "positive", tf.debugging.assert_positive),
    ):
        static = _static_value(arguments[arg])
        if static is not None:
            if not test(static):
                raise ValueError(f"{arg} must be {text}, got {arguments[arg]}")
        else:
            check = assertion(tensors[arg], message=f"{arg} must be {text}")
            with tf.control_dependencies([check]):
                tensors[arg] = tf.identity(tensors[arg])
    arguments.update(tensors)


@checked(_check_renyi_alpha)
def renyi_alpha(step, decay_time, alpha_min, alpha_max=0.99999, name="renyi_alpha"):
    """An `alpha` schedule for `renyi_ratio`: from `alpha_max` at step 0 to `alpha_min`.

    `theta = clip((exp(step / decay_time) - 1) / (e - 1), 0, 1)` and the result is
    `alpha_max * (1 - theta) + alpha_min * theta`: near the ELBO (`alpha ~ 1`) at the start,
    reaching `alpha_min` at `step = decay_time` and staying there.

    Args:
      step: non-negative scalar, the training step.
      decay_time: positive scalar, the step at which `alpha_min` is reached.
      alpha_min: scalar; its dtype (float32 for a Python number) is the result's dtype.
      alpha_max: scalar, the value at step 0.
      name: name scope of the ops.

    Returns:
      A scalar tensor with `alpha_min`'s dtype.
    """
    with tf.name_scope(name):
        alpha_min = tf.convert_to_tensor(alpha_min, dtype_hint=tf.float32)
        step, decay_time, alpha_max = (
            tf.cast(value, alpha_min.dtype) for value in (step, decay_time, alpha_max)
        )
        theta = tf.clip_by_value((tf.exp(step / decay_time) - 1.0) / (math.e - 1.0), 0.0, 1.0)
        return alpha_max * (1.0 - theta) + alpha_min * theta


def _is_number_like(value) -> bool:
    if isinstance(value, numbers.Real):
        return True
    try:
        return np.asarray(value).dtype.kind in "fiu"
    except (TypeError, ValueError):
        return False
