"""Score-function surrogate losses on TF 2, restored from `bayesflow.stochastic_graph`.

TF 1.x found the stochastic tensors upstream of a loss by walking the graph; eager TF 2 has
no graph to walk, so here each stochastic node is passed explicitly as a `StochasticNode`:
the distribution, the sampled value, the losses that depend on it and an optional baseline.
`surrogate_loss` adds, per node, `log q(value) * stop_gradient(loss - baseline)`, whose
gradient is the score-function (REINFORCE) estimate of the gradient of `E_q[loss]`.

Notebook 04 defines `StochasticNode`, `score_function` and `surrogate_loss` in a code cell,
as written below (its section 9); the package wraps its copy of `surrogate_loss` with the
argument checks of `_check_surrogate_loss`. `MeanBaseline` and `gradient_samples` are the
package's own.

#### References

Schulman, J., Heess, N., Weber, T. and Abbeel, P. Gradient estimation using stochastic
computation graphs. NeurIPS 2015. https://arxiv.org/abs/1506.05254
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from support import _checks
from support.estimators.arguments import check_callable, check_distribution, checked

__all__ = [
    "MeanBaseline",
    "StochasticNode",
    "get_mean_baseline",
    "gradient_samples",
    "score_function",
    "surrogate_loss",
]

tfd = tfp.distributions


class StochasticNode(NamedTuple):
    """One stochastic node of a loss: what `surrogate_loss` needs to know about a sample.

    Attributes:
      distribution: the `tfd.Distribution` the value was drawn from.
      value: the sampled tensor, e.g. shape `[n]`.
      losses: the per-sample losses that depend on `value`, or None for all of
        `surrogate_loss`'s losses.
      baseline: None, a tensor, or a callable `baseline(loss) -> tensor` (such as
        `get_mean_baseline()`), subtracted from the loss to reduce the variance.
      loss_fn: `loss_fn(distribution, value, loss, baseline) -> tensor`, the term to add;
        "auto" means `score_function` unless the distribution is fully reparameterized (then
        the gradient flows through `value` and no term is added); None adds nothing.
    """

    distribution: Any
    value: Any
    losses: Sequence[Any] | None = None
    baseline: Any = None
    loss_fn: Callable | str | None = "auto"


def score_function(distribution, value, loss, baseline=None):
    """The score-function term `log q(value) * stop_gradient(loss - baseline)`.

    Its gradient is `(loss - baseline) * grad log q(value)`, an unbiased estimate of the
    gradient of `E_q[loss]` for any baseline that does not depend on `value`.
    """
    value = tf.stop_gradient(value)
    if baseline is not None:
        loss = loss - tf.stop_gradient(tf.cast(baseline, loss.dtype))
    return distribution.log_prob(value) * tf.stop_gradient(loss)


def _node_loss_fn(node):
    """The node's `loss_fn`, with "auto" resolved as the original did."""
    if node.loss_fn != "auto":
        return node.loss_fn
    reparameterized = node.distribution.reparameterization_type == tfd.FULLY_REPARAMETERIZED
    return None if reparameterized else score_function


def _add(losses):
    """`tf.add_n` when all shapes are known and equal (and dtypes too), else a Python sum."""
    if all(loss.shape.is_fully_defined() for loss in losses):
        if len({(tuple(loss.shape), loss.dtype) for loss in losses}) == 1:
            return tf.add_n(losses)
    return sum(losses[1:], losses[0])


def _check_losses(sample_losses, name: str = "sample_losses") -> list:
    if not isinstance(sample_losses, list | tuple):
        raise TypeError(f"{name} must be a list or tuple")
    for loss in sample_losses:
        if not tf.is_tensor(loss):
            raise TypeError(f"loss is not a Tensor: {loss!r}")
        if loss.shape.rank is not None and loss.shape.rank < 1:
            raise ValueError(f"loss must have dimensionality 1 or greater: {loss!r}")
    return list(sample_losses)


def _check_surrogate_loss(arguments: dict) -> None:
    """The losses are a non-empty list or tuple of tensors of rank >= 1; each node is a
    `StochasticNode` with a distribution, losses like those and a valid `loss_fn`."""
    if not _check_losses(arguments["sample_losses"]):
        raise ValueError("sample_losses must hold at least one loss")
    for node in arguments["stochastic_nodes"] or ():
        if not isinstance(node, StochasticNode):
            raise TypeError(f"stochastic_nodes must hold StochasticNode, got {node!r}")
        check_distribution(node.distribution, "StochasticNode.distribution")
        if node.losses is not None:
            _check_losses(node.losses, "StochasticNode.losses")
        if isinstance(node.loss_fn, str) and node.loss_fn != "auto":
            raise ValueError(f"loss_fn must be a callable, None or 'auto', got {node.loss_fn!r}")
        if node.loss_fn is not None and not isinstance(node.loss_fn, str):
            check_callable(node.loss_fn, "loss_fn")


@checked(_check_surrogate_loss)
def surrogate_loss(sample_losses, stochastic_nodes=None, name="SurrogateLoss"):
    """The sample losses plus one score-function term per stochastic node.

    Minimising `reduce_mean` of the result follows an unbiased estimate of the gradient of
    the expected loss, also through distributions that cannot be reparameterized (a
    Bernoulli, a Categorical). Only its gradient is meaningful, not its value.

    Args:
      sample_losses: a list or tuple of per-sample loss tensors, each of rank 1 or more.
      stochastic_nodes: the `StochasticNode`s to add terms for. None or empty: a warning
        and the plain sum (what the original did when it found no stochastic tensor).
      name: name scope of the ops.

    Returns:
      `sum(sample_losses) + sum(terms)`.
    """
    if not stochastic_nodes:
        warnings.warn(
            "surrogate_loss: no stochastic nodes given; returning the summed losses",
            stacklevel=2,
        )
        return _add(list(sample_losses))
    with tf.name_scope(name):
        terms = []
        for node in stochastic_nodes:
            loss_fn = _node_loss_fn(node)
            if loss_fn is None:
                continue
            influenced = tf.stop_gradient(_add(list(node.losses or sample_losses)))
            baseline = node.baseline(influenced) if callable(node.baseline) else node.baseline
            terms.append(loss_fn(node.distribution, node.value, influenced, baseline))
        return _add(list(sample_losses) + terms)


def _checked_ema_decay(cls: type) -> type:
    """Class decorator: `ema_decay` must be a real number in `[0, 1)`, checked before
    `__init__` runs (the class stays as notebook 04 writes it)."""
    init = cls.__init__

    @functools.wraps(init)
    def checked_init(self, ema_decay=0.99, name=None):
        init(self, _checks.real("ema_decay", ema_decay, min=0, lt=1), name)

    cls.__init__ = checked_init
    return cls


@_checked_ema_decay
class MeanBaseline(tf.Module):
    """Bias-corrected exponential moving average of `reduce_mean(loss)`, a simple baseline.

    Each call folds the current mean loss into the average (as the original did, before
    reading it) and returns `average / (1 - ema_decay ** calls)`.
    """

    def __init__(self, ema_decay=0.99, name=None):
        super().__init__(name=name or "MeanBaseline")
        self.ema_decay = ema_decay
        self._biased = None  # the moving average, created on the first call with its dtype
        self._calls = None

    def __call__(self, loss):
        loss = tf.stop_gradient(tf.convert_to_tensor(loss))
        if self._biased is None:
            self._biased = tf.Variable(tf.zeros([], loss.dtype), trainable=False)
            self._calls = tf.Variable(tf.zeros([], loss.dtype), trainable=False)
        decay = tf.constant(self.ema_decay, loss.dtype)
        mean = tf.reduce_mean(loss)
        self._biased.assign(decay * self._biased + (1.0 - decay) * mean)
        self._calls.assign_add(1.0)
        return self._biased / (1.0 - decay**self._calls)


def get_mean_baseline(ema_decay=0.99, name=None):
    """A `MeanBaseline` for `StochasticNode(baseline=...)` (the old `get_mean_baseline`)."""
    return MeanBaseline(ema_decay, name)


def gradient_samples(
    loss_fn: Callable, variables: Sequence, *, repeats: int = 100, seed: int = 0
) -> list:
    """Independent gradient estimates of `reduce_mean(loss_fn(seed))`, one per repeat.

    Shows a gradient estimator's spread: the mean of the rows is a pooled estimate, their
    standard deviation over `sqrt(repeats)` its standard error, and `m` times their variance
    (for `m` samples per call) the variance of a one-sample estimate. The gradient step is
    a `tf.function` traced once; repeat `r` gets the stateless seed `(seed, r)`.

    Args:
      loss_fn: `loss_fn(seed) -> tensor`, drawing its samples with the given stateless
        seed (a shape-[2] int tensor) under the gradient tape: a surrogate loss, or a
        reparameterized loss.
      variables: a non-empty list of `tf.Variable`s.
      repeats: number of independent estimates, a positive integer.
      seed: integer seed.

    Returns:
      A list with, per variable, a NumPy array of shape `[repeats] + variable.shape`.

    Raises:
      TypeError: if `loss_fn` is not callable or a variable is not a `tf.Variable`.
      ValueError: if `variables` is empty or `repeats` is not a positive integer.
    """
    check_callable(loss_fn, "loss_fn")
    variables = list(variables)
    if not variables:
        raise ValueError("variables must hold at least one tf.Variable")
    if not all(isinstance(v, tf.Variable) for v in variables):
        raise TypeError("variables must hold tf.Variable objects only")
    repeats = _checks.positive_int("repeats", repeats)

    @tf.function
    def gradient(stateless_seed):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(loss_fn(stateless_seed))
        return tape.gradient(loss, variables)

    rows = [gradient(tf.constant([seed, r], tf.int32)) for r in range(repeats)]
    return [np.stack([np.asarray(row[i]) for row in rows]) for i in range(len(variables))]
