"""Weights, means and standard deviations of a mixture of normals, as named arrays.

`mixture_params` reads them off what a mixture density network returns when called
(`model(x)`, a `MixtureSameFamily` wrapped by `tfp.layers`) or off any such mixture, one
row per input; `support.mdn` re-exports it.

Serves notebook 03 (MDN cardioid).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = ["MixtureParams", "mixture_params"]


class MixtureParams(NamedTuple):
    """Mixture parameters for each input.

    Attributes:
      weights: mixture weights, shape `batch + (K,)`; they sum to 1 over the last axis.
      means: component means, `batch + (K,)` for one-dimensional events, else
        `batch + (K, D)`.
      stddevs: component standard deviations, the shape of `means`.
    """

    weights: np.ndarray
    means: np.ndarray
    stddevs: np.ndarray


def _unwrap(distribution):
    # tfp.layers returns a `_TensorCoercible` wrapper around the real distribution.
    while hasattr(distribution, "tensor_distribution"):
        distribution = distribution.tensor_distribution
    return distribution


_ALLOWED = "Normal, Independent(Normal) or MultivariateNormalDiag"


def _is(distribution, cls) -> bool:
    # TFP builds `_MixtureSameFamily` / `_Independent` (the non-CompositeTensor bases of the
    # public classes) when a parameter is not a tensor, e.g. inside `tfp.layers`.
    names = {cls.__name__, "_" + cls.__name__}
    return any(
        c.__name__ in names and c.__module__ == cls.__module__ for c in type(distribution).__mro__
    )


def mixture_params(distribution) -> MixtureParams:
    """Weights, means and standard deviations of a mixture of normals, per batch member.

    Works on what an MDN returns when called (`model(x)`), and on any `MixtureSameFamily`
    whose components are `Normal`, `Independent(Normal)` or `MultivariateNormalDiag`.

    Args:
      distribution: the mixture.

    Returns:
      A `MixtureParams` of NumPy arrays. Weights have shape `batch + (K,)`. Means and
      standard deviations have shape `batch + (K,)` when each event is a scalar or a
      length-1 vector, else `batch + (K,) + event_shape`.

    Raises:
      TypeError: naming `distribution` if it is not such a mixture.
    """
    mixture = _unwrap(distribution)
    if not _is(mixture, tfd.MixtureSameFamily):
        raise TypeError(
            f"distribution must be a tfd.MixtureSameFamily of {_ALLOWED} components, got "
            f"{type(mixture).__name__}"
        )
    components = _unwrap(mixture.components_distribution)
    base = _unwrap(components.distribution) if _is(components, tfd.Independent) else None
    if not (
        isinstance(components, tfd.Normal | tfd.MultivariateNormalDiag)
        or isinstance(base, tfd.Normal)
    ):
        kind = type(components).__name__
        if base is not None:
            kind += f"({type(base).__name__})"
        raise TypeError(
            f"distribution must be a MixtureSameFamily of {_ALLOWED} components, got {kind} "
            "components"
        )
    weights = mixture.mixture_distribution.probs_parameter().numpy()
    means = components.mean().numpy()
    stddevs = components.stddev().numpy()
    if tuple(components.event_shape) == (1,):
        means, stddevs = means[..., 0], stddevs[..., 0]
    return MixtureParams(weights=weights, means=means, stddevs=stddevs)
