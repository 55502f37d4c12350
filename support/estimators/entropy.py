"""Shannon entropy and the ELBO / KL ratio, restored from `tf.contrib.bayesflow.entropy`.

`entropy_shannon` and `elbo_ratio` (with the `ELBOForms` that choose between an analytic
and a sampled entropy) as TF 1.x documented them, on TF 2, eager and inside `tf.function`.
They reduce over the sample axis only, so batch shapes pass through, and each can also
return its Monte Carlo standard error (`return_stderr=True`). The Renyi ops of the same
TF 1 module are in `support.estimators.renyi`.

Notebook 04 defines each function and class here in a code cell, as written below (its
sections 2 and 3); the package wraps its copy of the estimators with argument checks.
"""

from __future__ import annotations

import enum

import tensorflow as tf

from support.estimators.arguments import (
    check_callable,
    check_distribution,
    check_n,
    check_samples_args,
    check_z,
    checked,
)
from support.estimators.monte_carlo import _get_samples, _sample_mean

__all__ = ["ELBOForms", "elbo_ratio", "entropy_shannon"]


class ELBOForms(enum.StrEnum):
    """How the entropy term `-E_q[log q]` is computed (the old `ELBOForms` sentinels).

    `default`: the analytic entropy when the distribution has one, else a sample estimate;
    `analytic_entropy`: the analytic entropy only; `sample`: always `-mean(log q(z_i))`;
    `analytic_kl`: belongs to other ops of the old API, not handled here. The strings
    "default", "analytic_entropy" and "sample" are accepted too.
    """

    default = "default"
    analytic_kl = "analytic_kl"
    analytic_entropy = "analytic_entropy"
    sample = "sample"

    def __str__(self):
        return f"ELBOForms.{self.value}"


def _form(form):
    """`form` as an `ELBOForms` (None means `default`); refuses the forms not handled here."""
    if form is None:
        return ELBOForms.default
    if form not in ("default", "analytic_entropy", "sample"):
        raise ValueError(f"ELBOForm not handled by this function: {form}")
    return ELBOForms(form)


def _analytic_entropy(q, form):
    """`q.entropy()`, or None when `q` has no formula and `form` allows sampling instead."""
    try:
        return q.entropy()
    except NotImplementedError:
        if form == ELBOForms.analytic_entropy:
            raise
        return None


def _check_entropy_shannon(arguments: dict) -> None:
    p, z, n = arguments["p"], arguments["z"], arguments["n"]
    check_distribution(p, "p")
    if n is not None:
        check_n(n)
    if (n is not None and z is not None) or arguments["form"] == "sample":
        check_samples_args(z, n)
    if z is not None:
        arguments["z"] = check_z(z, p.dtype)


@checked(_check_entropy_shannon)
def entropy_shannon(
    p, z=None, n=None, seed=None, form=None, name="entropy_shannon", return_stderr=False
):
    """Shannon entropy `H[p] = -E_p[log p(Z)]`: analytic, or `-mean(log p(z_i))`, `z_i ~ p`.

    With the default form the analytic entropy is used whenever `p.entropy()` exists (then
    `n` and `z` are ignored, as in the original); otherwise it falls back to samples.

    Args:
      p: a `tfd.Distribution`.
      z: samples of `p`, or None to draw `n` (needed only when sampling).
      n: number of samples to draw when `z` is None.
      seed: seed for `p.sample`.
      form: `ELBOForms.default` (or None), `ELBOForms.analytic_entropy` or `ELBOForms.sample`.
      name: name scope of the ops.
      return_stderr: also return the standard error, `sd(log p(z)) / sqrt(n)` for the
        sample estimate and 0 for the analytic value.

    Returns:
      A tensor of shape `p.batch_shape` (or `(estimate, stderr)`).

    Raises:
      ValueError: `'If form == ELBOForms.analytic_entropy, n must be None.'`, or
        `'ELBOForm not handled by this function: ...'` for any other form.
      NotImplementedError: with `form=analytic_entropy` on a distribution without one.
    """
    form = _form(form)
    if n is not None and form == ELBOForms.analytic_entropy:
        raise ValueError("If form == ELBOForms.analytic_entropy, n must be None.")
    with tf.name_scope(name):
        if form != ELBOForms.sample:
            entropy = _analytic_entropy(p, form)
            if entropy is not None:
                return (entropy, tf.zeros_like(entropy)) if return_stderr else entropy
        z = _get_samples(p, z, n, seed)
        return _sample_mean(-p.log_prob(z), return_stderr)


def _check_elbo_ratio(arguments: dict) -> None:
    check_callable(arguments["log_p"], "log_p")
    q, z = arguments["q"], arguments["z"]
    check_distribution(q, "q")
    _form(arguments["form"])
    check_samples_args(z, arguments["n"])
    if z is not None:
        arguments["z"] = check_z(z, q.dtype)


@checked(_check_elbo_ratio)
def elbo_ratio(
    log_p, q, z=None, n=None, seed=None, form=None, name="elbo_ratio", return_stderr=False
):
    """Estimates `E_q[log p(Z) - log q(Z)]`, the ratio inside the ELBO and the KL divergence.

    `E_q[log p]` is always a sample mean; `-E_q[log q]` is the entropy of `q`, analytic or
    sampled according to `form`. If `log_p` is a normalised log density this is
    `-KL[q || p]`; if it is a log joint `log p(z, x)` it is the ELBO,
    `log p(x) - KL[q || p(z | x)] <= log p(x)`.

    Args:
      log_p: maps samples of `q` to log densities, one per sample.
      q: a `tfd.Distribution`.
      z: samples of `q`, or None to draw `n` of them.
      n: number of samples to draw when `z` is None.
      seed: seed for `q.sample`.
      form: `ELBOForms.default` (or None), `ELBOForms.analytic_entropy` or `ELBOForms.sample`.
      name: name scope of the ops.
      return_stderr: also return the standard error: `sd(log p(z) - log q(z)) / sqrt(n)`
        when the entropy is sampled, `sd(log p(z)) / sqrt(n)` when it is analytic.

    Returns:
      A tensor of shape `q.batch_shape` (or `(estimate, stderr)`).
    """
    form = _form(form)
    with tf.name_scope(name):
        z = _get_samples(q, z, n, seed)
        entropy = None if form == ELBOForms.sample else _analytic_entropy(q, form)
        if entropy is None:  # sampled: one average of log p - log q, sample by sample
            return _sample_mean(log_p(z) - q.log_prob(z), return_stderr)
        if not return_stderr:
            return entropy + _sample_mean(log_p(z))
        cross_term, stderr = _sample_mean(log_p(z), return_stderr=True)
        return entropy + cross_term, stderr
