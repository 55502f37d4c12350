"""Figures of the mixture density network notebook: data, densities, mixture parameters.

Every helper takes an `ax` and returns it. Used by `notebooks/03_mdn_cardioid.ipynb`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "conditional_density_heatmap",
    "mixture_means",
    "mixture_weights",
    "scatter_with_samples",
]

_DATA_STYLE = {"s": 3, "alpha": 0.35, "color": "k", "linewidths": 0}
_BAND_THRESHOLDS = (0.1, 0.25, 0.5, 0.75)  # weights above min_weight where a band darkens


def _vector(name: str, value) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array (or one column), got {array.shape}")
    return array


def _per_component(name: str, value, length: int) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if array.ndim != 2 or array.shape[0] != length:
        raise ValueError(f"{name} must have shape ({length}, K), got {array.shape}")
    return array


def scatter_with_samples(ax, x, y, *, samples=None, title: str | None = None, curve=None):
    """The data, optionally with model samples and a curve y = f(x) on top.

    The legend sits a little below the middle of the axes, in the cardioid's empty inside.

    Args:
      ax: matplotlib axes.
      x, y: the data, shape `(n,)` or `(n, 1)`.
      samples: optional `(x_samples, y_samples)`, e.g. `x` and `model.predict(x)`.
      title: optional axes title.
      curve: optional `(x_curve, y_curve, label)`, e.g. a regression's predictions.

    Returns:
      The axes.

    Raises:
      ValueError: if `x` and `y` (or the samples) differ in length.
    """
    x, y = _vector("x", x), _vector("y", y)
    if x.size != y.size:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    ax.scatter(x, y, label="data", **_DATA_STYLE)
    if samples is not None:
        sx, sy = _vector("samples[0]", samples[0]), _vector("samples[1]", samples[1])
        if sx.size != sy.size:
            raise ValueError("samples must be two arrays of the same length")
        ax.scatter(sx, sy, s=3, alpha=0.35, color="tab:orange", linewidths=0, label="samples")
    if curve is not None:
        cx, cy, label = curve
        ax.plot(_vector("curve x", cx), _vector("curve y", cy), color="tab:red", lw=2, label=label)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    if title:
        ax.set_title(title)
    ax.legend(loc="center", bbox_to_anchor=(0.5, 0.35), markerscale=3)  # the empty inside
    return ax


def conditional_density_heatmap(ax, x_grid, y_grid, density, *, x=None, y=None, title=None):
    """A heatmap of p(y | x) with the data on top, shown over the grid's box (data beyond it
    are cut off rather than leaving blank strips beside the heatmap).

    Args:
      ax: matplotlib axes.
      x_grid: 1-D grid of inputs (columns of `density`).
      y_grid: 1-D grid of outputs (rows of `density`).
      density: array `(len(y_grid), len(x_grid))`, each column a density over y.
      x, y: optional data points to draw on top.
      title: optional axes title.

    Returns:
      The axes.

    Raises:
      ValueError: if `density` does not have shape `(len(y_grid), len(x_grid))`.
    """
    x_grid, y_grid = _vector("x_grid", x_grid), _vector("y_grid", y_grid)
    density = np.asarray(density, dtype=float)
    if density.shape != (y_grid.size, x_grid.size):
        raise ValueError(
            f"density must have shape (len(y_grid), len(x_grid)) = "
            f"({y_grid.size}, {x_grid.size}), got {density.shape}"
        )
    # Cap the colour scale so the sharp peaks near the cusp do not wash out the rest.
    top = np.quantile(density, 0.99) if density.size > 1 else None
    mesh = ax.pcolormesh(x_grid, y_grid, density, shading="auto", cmap="viridis", vmax=top)
    capped = top is not None and top < density.max()  # an arrow on the bar says so
    ax.figure.colorbar(mesh, ax=ax, label="p(y | x)", extend="max" if capped else "neither")
    if x is not None and y is not None:
        ax.scatter(_vector("x", x), _vector("y", y), s=1, alpha=0.3, color="w", linewidths=0)
    ax.set_xlim(x_grid[0], x_grid[-1])  # the grid's box: data beyond it would leave blank strips
    ax.set_ylim(y_grid[0], y_grid[-1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    if title:
        ax.set_title(title)
    return ax


def mixture_weights(ax, x, weights):
    """Each component's mixture weight as a function of x.

    Args:
      ax: matplotlib axes.
      x: 1-D array of inputs, sorted.
      weights: array `(len(x), K)`.

    Returns:
      The axes.
    """
    x = _vector("x", x)
    weights = _per_component("weights", weights, x.size)
    for k in range(weights.shape[1]):
        ax.plot(x, weights[:, k], color=f"C{k}", label=f"component {k}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("x")
    ax.set_ylabel("mixture weight")
    _legend_below(ax)
    return ax


def mixture_means(
    ax, x, means, stddevs, weights, *, x_data=None, y_data=None, min_weight=0.02, legend=True
):
    """Each component's mean against x with a +-2 sd band; both fade as the weight falls.

    A line's width and opacity follow the component's weight, and its band darkens in steps
    as the weight grows, so a band fades out where the component stops being used instead of
    ending in a hard edge.
    Where a component's weight is below `min_weight` it is not drawn: it does not contribute
    to p(y | x) there.

    Args:
      ax: matplotlib axes.
      x: 1-D array of inputs, sorted.
      means, stddevs, weights: arrays `(len(x), K)` (see `support.mdn.mixture_params`).
      x_data, y_data: optional data points drawn underneath.
      min_weight: weight below which a component is hidden.
      legend: draw the components' legend under the axes (solid swatches in the components'
        colours); pass False when a panel beside it already names the colours.

    Returns:
      The axes.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.colors import to_rgba
    from matplotlib.lines import Line2D

    x = _vector("x", x)
    means = _per_component("means", means, x.size)
    stddevs = _per_component("stddevs", stddevs, x.size)
    weights = _per_component("weights", weights, x.size)
    if not (means.shape == stddevs.shape == weights.shape):
        raise ValueError("means, stddevs and weights must have the same shape")
    if x_data is not None and y_data is not None:
        ax.scatter(_vector("x_data", x_data), _vector("y_data", y_data), **_DATA_STYLE)
    handles = []
    for k in range(means.shape[1]):
        visible = weights[:, k] >= min_weight
        keep = visible[:-1] & visible[1:]
        if not keep.any():  # unused everywhere: nothing to draw, no legend entry
            continue
        w = 0.5 * (weights[:-1, k] + weights[1:, k])  # each segment's weight
        colour = to_rgba(f"C{k}")
        lo, hi = means[:, k] - 2 * stddevs[:, k], means[:, k] + 2 * stddevs[:, k]
        # The band: faint layers, one more wherever the weight passes the next threshold, so
        # it grows more opaque with the weight and fades out instead of ending in an edge.
        for threshold in (min_weight, *_BAND_THRESHOLDS):
            ax.fill_between(
                x, lo, hi, where=weights[:, k] >= threshold, color=colour, alpha=0.06, linewidth=0
            )
        points = np.stack([x, means[:, k]], axis=1)
        segments = np.stack([points[:-1], points[1:]], axis=1)
        colours = np.tile(colour, (w.size, 1))
        colours[:, 3] = 0.15 + 0.85 * w
        lines = LineCollection(segments[keep], colors=colours[keep], linewidths=0.5 + 3 * w[keep])
        lines.set_label(f"component {k}")
        ax.add_collection(lines)
        handles.append(Line2D([], [], color=colour, lw=2, label=f"component {k}"))
    ax.autoscale_view()
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    if legend:
        _legend_below(ax, handles)
    return ax


def _legend_below(ax, handles=None):
    """The components' legend under the axes, where it hides no data."""
    if handles is None:
        handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(
            handles=handles,
            fontsize="small",
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            ncol=min(len(handles), 4),
            frameon=False,
        )
