"""Figures for notebook 01 (distribution zoo): fit curves and fitted-vs-true parameters."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from support.plotting.common import training_curve

__all__ = ["fit_curves", "parameter_recovery"]


def fit_curves(axes, losses: Mapping[str, list[float]], floors: Mapping[str, float]):
    """One panel per model: its training NLL per epoch and the target's own NLL (dashed).

    Args:
      axes: at least `len(losses)` matplotlib axes (any shape; flattened).
      losses: model name -> per-epoch mean training NLL (`History.loss`).
      floors: model name -> the NLL to draw as a dashed reference line, e.g. the target
        distribution's NLL on the same training points.

    Returns:
      The flattened axes.

    Raises:
      ValueError: if there are fewer axes than models or a model has no floor.
    """
    flat = np.ravel(axes)
    if len(flat) < len(losses):
        raise ValueError(f"axes must hold at least {len(losses)} axes, got {len(flat)}")
    missing = sorted(set(losses) - set(floors))
    if missing:
        raise ValueError(f"floors has no value for {', '.join(missing)}")
    for ax, (name, loss) in zip(flat, losses.items(), strict=False):
        training_curve(ax, loss, floor=floors[name], floor_label="target's NLL", ylabel="NLL")
        ax.set_title(name.replace("_", " "), fontsize=9)
    for ax in flat[len(losses) :]:
        ax.set_visible(False)
    return flat


_IDENTITY_GID = "parameter_recovery: y = x"


def parameter_recovery(ax, true, fitted, *, label: str = "", marker: str = "o"):
    """Scatters fitted against true parameter values, with the line y = x.

    Called again on the same axes, it adds its points and stretches the one y = x line
    to cover them, instead of drawing a second. Points on the line are parameters the fit recovered.

    Raises:
      ValueError: if `true` and `fitted` differ in shape.
    """
    true, fitted = np.ravel(true), np.ravel(fitted)
    if true.shape != fitted.shape:
        raise ValueError(f"true and fitted must match in size, got {true.size} and {fitted.size}")
    ax.scatter(true, fitted, label=label or None, marker=marker, alpha=0.8)
    low = float(min(true.min(), fitted.min()))
    high = float(max(true.max(), fitted.max()))
    pad = 0.05 * (high - low or 1.0)
    identity = [line for line in ax.get_lines() if line.get_gid() == _IDENTITY_GID]
    if identity:  # one y = x line per axes, stretched to cover every call's values
        ends = identity[0].get_xdata()
        low, high = min(low - pad, ends[0]), max(high + pad, ends[-1])
        identity[0].set_data([low, high], [low, high])
    else:
        ax.plot(
            [low - pad, high + pad],
            [low - pad, high + pad],
            "k--",
            linewidth=1,
            gid=_IDENTITY_GID,
        )
    ax.set_xlabel("true value")
    ax.set_ylabel("fitted value")
    if label:
        ax.legend(fontsize=8)
    return ax
