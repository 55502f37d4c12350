"""Mixtures of normals as a mixture density network returns them: read, built and scored.

`mixture_params` reads weights, means and standard deviations, as named arrays, off what an MDN
returns when called (`model(x)`, a `MixtureSameFamily` wrapped by `tfp.layers`) or off any such
mixture, one row per input; `conditional_density_grid` evaluates p(y | x) on a grid for
heatmaps. Notebook 03 defines the rest in its cells tagged
`lesson:support.distributions.mixtures`, and this module holds the same definitions with
argument checks: `weights_means_variances` (the answer's three calls), `floored_mixture_normal`
(MixtureNormal's distribution with a floor under the scales), and for the Keras 3 model
`mixture_from_head` (the mixture from a head of logits, locations and scales) and
`mixture_loss` (its negative log-likelihood). `support.mdn` re-exports them all.

Serves notebook 03 (MDN cardioid).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from support import _checks
from support.batching import map_in_chunks

tfd = tfp.distributions

__all__ = [
    "MixtureParams",
    "conditional_density_grid",
    "density_grid_bytes",
    "floored_mixture_normal",
    "mixture_from_head",
    "mixture_loss",
    "mixture_params",
    "weights_means_variances",
]


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


def _mixture(name: str, value):
    if not all(hasattr(value, p) for p in ("mixture_distribution", "components_distribution")):
        raise TypeError(
            f"{name} must be a mixture (a MixtureSameFamily, what model(x) returns), got "
            f"{type(value).__name__}"
        )
    return value


def _non_negative(name: str, value) -> float:
    return _checks.real(name, value, min=0)


def _head(name: str, value):
    shape = getattr(value, "shape", None)
    if shape is None or len(shape) < 1:
        raise TypeError(f"{name} must be a tensor of shape (N, 3K), got {type(value).__name__}")
    if shape[-1] is not None and (shape[-1] == 0 or shape[-1] % 3):
        raise ValueError(
            f"{name} must hold 3K values per row (K logits, K locations, K scales), got {shape[-1]}"
        )
    return value


def density_grid_bytes(
    num_x: int, num_y: int | None = None, *, chunk_size: int = 256, components: int = 5
) -> int:
    """Bytes `conditional_density_grid` needs for a `num_y x num_x` grid (float32);
    `num_y` defaults to `num_x` (a square grid).

    The result, plus one chunk's `chunk_size x num_y x components` intermediate tensors
    (about eight of them alive at once in a mixture's `log_prob`).
    """
    num_y = num_x if num_y is None else num_y
    return 4 * (num_x * num_y + 8 * min(chunk_size, num_x) * num_y * components)


def conditional_density_grid(model, x_grid, y_grid, *, chunk_size: int = 256) -> np.ndarray:
    """The model's p(y | x) on a grid, for a heatmap.

    Args:
      model: an MDN with one input feature and one-dimensional `y`.
      x_grid: 1-D array of input values (columns of the result).
      y_grid: 1-D array of output values (rows of the result).
      chunk_size: inputs per model call.

    Returns:
      Array of shape `(len(y_grid), len(x_grid))`: entry `[i, j]` is p(y_grid[i] | x_grid[j]).

    Raises:
      ValueError: if a grid is not a non-empty 1-D array of finite values.
    """
    grids = []
    for name, grid in (("x_grid", x_grid), ("y_grid", y_grid)):
        grid = _checks.finite_array(name, grid, dtype=np.float32)
        if grid.ndim != 1 or grid.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-D array, got shape {grid.shape}")
        grids.append(grid)
    x_grid, y_grid = grids
    chunk_size = _checks.positive_int("chunk_size", chunk_size)
    _checks.fits_in_memory(
        "x_grid and y_grid",
        density_grid_bytes(x_grid.size, y_grid.size, chunk_size=chunk_size),
        what=f"the {y_grid.size} x {x_grid.size} density grid",
    )
    ys = tf.constant(y_grid[:, None, None])  # (Ny, 1, 1) against batch (chunk,), event (1,)

    def density(x_chunk):
        return tf.transpose(tf.exp(model(x_chunk).log_prob(ys)))  # (chunk, Ny)

    return map_in_chunks(density, x_grid[:, None], chunk_size=chunk_size).T


# The page's lesson code (notebook 03's cells tagged lesson:support.distributions.mixtures),
# checked here.


@_checks.arguments(gm=_mixture)
def weights_means_variances(gm):
    """The mixture behind the predictions: for gm = model(x), x of shape (N, 1), the weights
    (N, K) and the components' means and variances (N, K, 1), as NumPy arrays."""
    weights = gm.mixture_distribution.probs_parameter().numpy()
    means = gm.components_distribution.mean().numpy()
    variances = gm.components_distribution.variance().numpy()
    return weights, means, variances


@_checks.arguments(
    num_components=_checks.positive_int,
    scale_floor=_non_negative,
    event_size=_checks.positive_int,
)
def floored_mixture_normal(params, num_components, scale_floor, event_size=1):
    """`tfp.layers.MixtureNormal`'s distribution with every scale `scale_floor + softplus(raw)`.

    It reads `params` in MixtureNormal's layout (K logits, then for each component D
    locations and D raw scales), so with `scale_floor=0` it is MixtureNormal's distribution.
    """
    logits = params[..., :num_components]  # the mixture weights' logits
    batch = tf.shape(params)[:-1]
    components = tf.reshape(  # one row of (D locations, D raw scales) per component
        params[..., num_components:], tf.concat([batch, [num_components, 2 * event_size]], 0)
    )
    loc, raw_scale = tf.split(components, 2, axis=-1)
    scale = scale_floor + tf.math.softplus(raw_scale)  # MixtureNormal: softplus(raw_scale)
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=logits),
        components_distribution=tfd.Independent(
            tfd.Normal(loc=loc, scale=scale), reinterpreted_batch_ndims=1
        ),
    )


@_checks.arguments(head=_head)
def mixture_from_head(head):
    """p(y | x) from the head's output: the MixtureSameFamily of K one-dimensional normals
    that `tfp.layers.MixtureNormal(K, [1])` returns (batch shape (N,), event shape (1,))."""
    logits, locations, scales = tf.split(head, 3, axis=-1)
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=logits),
        components_distribution=tfd.Independent(
            tfd.Normal(loc=locations[..., tf.newaxis], scale=scales[..., tf.newaxis]),
            reinterpreted_batch_ndims=1,
        ),
    )


def mixture_loss(y, head):
    """Keras 3's loss: -log p(y | x) under the mixture the head's output describes."""
    return -mixture_from_head(head).log_prob(y)
