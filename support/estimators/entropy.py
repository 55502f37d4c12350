"""Shannon entropy and the ELBO / KL ratio, restored from `tf.contrib.bayesflow.entropy`.

`entropy_shannon` and `elbo_ratio` (with the `ELBOForms` that choose between an analytic
and a sampled entropy) as TF 1.x documented them, on TF 2, eager and inside `tf.function`.
They reduce over the sample axis only, so batch shapes pass through, and each can also
return its Monte Carlo standard error (`return_stderr=True`). The Renyi ops of the same
TF 1 module are in `support.estimators.renyi`.

Serves notebook 04 (entropy and Monte Carlo estimators).
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import tensorflow as tf

from support.estimators.arguments import check_callable, check_distribution, check_samples_args
from support.estimators.monte_carlo import get_samples, sample_mean

__all__ = ["ELBOForms", "elbo_ratio", "entropy_shannon"]


class ELBOForms(enum.StrEnum):
    """How the entropy term `-E_q[log q]` is computed (the old `ELBOForms` sentinels).

    * `default`: the analytic entropy when the distribution has one, else a sample estimate.
    * `analytic_entropy`: the analytic entropy only (`NotImplementedError` when missing).
    * `sample`: always the sample estimate `-mean(log q(z_i))`.
    * `analytic_kl`: kept for completeness; these functions do not handle it.

    The strings "default", "analytic_entropy", "sample" are accepted too.
    """

    default = "default"
    analytic_kl = "analytic_kl"
    analytic_entropy = "analytic_entropy"
    sample = "sample"

    def __str__(self) -> str:
        return f"ELBOForms.{self.value}"


_HANDLED = (ELBOForms.default, ELBOForms.analytic_entropy, ELBOForms.sample)


def _form(form) -> ELBOForms:
    if form is None:
        return ELBOForms.default
    try:
        chosen = ELBOForms(form)
    except ValueError:
        chosen = None
    if chosen not in _HANDLED:
        raise ValueError(f"ELBOForm not handled by this function: {form}")
    return chosen


def _analytic_entropy(q, form: ELBOForms):
    """`q.entropy()`, or None when it is missing and `form` allows a fallback."""
    try:
        return q.entropy()
    except NotImplementedError:
        if form == ELBOForms.analytic_entropy:
            raise
        return None


def entropy_shannon(
    p,
    z=None,
    n=None,
    seed=None,
    form=None,
    name: str = "entropy_shannon",
    return_stderr: bool = False,
):
    """Shannon entropy `H[p] = -E_p[log p(Z)]`: analytic, or `-mean(log p(z_i))`, `z_i ~ p`.

    With the default form the analytic entropy is used whenever `p.entropy()` exists (then
    `n` is ignored, as in the original); otherwise it falls back to samples.

    Args:
      p: a `tfd.Distribution`.
      z: samples of `p`, or None to draw `n` (needed only for the sample path).
      n: number of samples to draw when `z` is None.
      seed: seed for `p.sample`.
      form: `ELBOForms.default` (or None), `ELBOForms.analytic_entropy` or
        `ELBOForms.sample`.
      name: name scope of the ops.
      return_stderr: also return the standard error, `sd(log p(z)) / sqrt(n)` for the
        sample estimate and 0 for the analytic value.

    Returns:
      A tensor of shape `p.batch_shape` and dtype `p.dtype` (or `(estimate, stderr)`).

    Raises:
      ValueError: `'If form == ELBOForms.analytic_entropy, n must be None.'`;
        `'ELBOForm not handled by this function: ...'` for any other form; when sampling, if
        both or neither of `n` and `z` are given.
      NotImplementedError: with `form=analytic_entropy` on a distribution without one.
      TypeError: if `p` is not a distribution.
    """
    check_distribution(p, "p")
    chosen = _form(form)
    if n is not None and chosen == ELBOForms.analytic_entropy:
        raise ValueError("If form == ELBOForms.analytic_entropy, n must be None.")
    if (n is not None and z is not None) or chosen == ELBOForms.sample:
        check_samples_args(z, n)
    with tf.name_scope(name):
        if chosen != ELBOForms.sample:
            exact = _analytic_entropy(p, chosen)
            if exact is not None:
                return (exact, tf.zeros_like(exact)) if return_stderr else exact
        samples = get_samples(p, z, n, seed)
        return sample_mean(-p.log_prob(samples), return_stderr)


def elbo_ratio(
    log_p: Callable,
    q,
    z=None,
    n=None,
    seed=None,
    form=None,
    name: str = "elbo_ratio",
    return_stderr: bool = False,
):
    """Estimates `E_q[log p(Z) - log q(Z)]`, the ratio inside the ELBO and the KL divergence.

    `E_q[log p]` is always a sample mean; `-E_q[log q]` is the entropy of `q`, analytic or
    sampled according to `form`. If `log_p` is a normalised log density this is
    `-KL[q || p]`; if it is a log joint `log p(z, x)` it is the ELBO,
    `log p(x) - KL[q || p(z | x)] <= log p(x)`.

    Args:
      log_p: maps samples of `q` to log densities broadcastable to `q.batch_shape`.
      q: a `tfd.Distribution`.
      z: samples of `q`, or None to draw `n`.
      n: number of samples to draw when `z` is None.
      seed: seed for `q.sample`.
      form: `ELBOForms.default` (or None), `ELBOForms.analytic_entropy` or
        `ELBOForms.sample`.
      name: name scope of the ops.
      return_stderr: also return the standard error: `sd(log p(z) - log q(z)) / sqrt(n)`
        for the sample form, `sd(log p(z)) / sqrt(n)` with an analytic entropy.

    Returns:
      A tensor of shape `q.batch_shape` (or `(estimate, stderr)`).

    Raises:
      ValueError: if both or neither of `n` and `z` are given, `n` is not positive, or
        `form` is not one this function handles.
      NotImplementedError: with `form=analytic_entropy` on a `q` without an entropy.
      TypeError: if `log_p` is not callable or `q` is not a distribution.
    """
    check_callable(log_p, "log_p")
    check_distribution(q, "q")
    chosen = _form(form)
    check_samples_args(z, n)
    with tf.name_scope(name):
        samples = get_samples(q, z, n, seed)
        log_p_z = log_p(samples)
        exact = None if chosen == ELBOForms.sample else _analytic_entropy(q, chosen)
        if exact is None:
            return sample_mean(log_p_z - q.log_prob(samples), return_stderr)
        if not return_stderr:
            return exact + sample_mean(log_p_z)
        cross, stderr = sample_mean(log_p_z, return_stderr=True)
        return exact + cross, stderr
