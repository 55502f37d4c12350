"""Figures shared by every notebook: training curves."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["new_axes", "training_curve"]


def new_axes(ncols: int = 1, nrows: int = 1, *, size: float = 4.0, **kwargs):
    """A figure with `nrows x ncols` square-ish axes; returns `(figure, axes)`."""
    import matplotlib.pyplot as plt

    if ncols < 1 or nrows < 1:
        raise ValueError(f"ncols and nrows must be positive, got ncols={ncols}, nrows={nrows}")
    return plt.subplots(nrows, ncols, figsize=(size * ncols, size * 0.8 * nrows), **kwargs)


def training_curve(
    ax,
    loss: Sequence[float],
    *,
    label: str | None = None,
    floor: float | None = None,
    floor_label: str = "floor",
    ylabel: str = "loss",
    logy: bool = False,
):
    """Plots a per-epoch loss curve, optionally with a horizontal floor (e.g. the entropy).

    Returns:
      The axes.

    Raises:
      ValueError: if `loss` is empty.
    """
    loss = np.asarray(loss, dtype=float)
    if loss.ndim != 1 or loss.size == 0:
        raise ValueError(f"loss must be a non-empty 1-D sequence, got shape {loss.shape}")
    epochs = np.arange(1, loss.size + 1)
    ax.plot(epochs, loss, marker="o" if loss.size < 30 else None, label=label)
    if floor is not None:
        ax.axhline(floor, color="k", linestyle="--", linewidth=1, label=floor_label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if label is not None or floor is not None:
        ax.legend()
    return ax
