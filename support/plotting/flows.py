"""Figures of a normalizing flow on 2-D data, for `notebooks/02_ffjord_moons.ipynb`.

* `grid_lines`: horizontal and vertical lines in the base space, to watch them bend.
* `flow_panels`: the four panels (base grid and samples; mapped grid and samples; density
  of model samples; density of the data).
* `warp_over_epochs`: the mapped grid and samples at several epochs, side by side.
* `warp_animation`: the same as an animated GIF, one frame per snapshot.
* `density_heatmap`: the model's density `exp(log_prob)` on a grid.
* `nll_curve`: training NLL per epoch with the entropy floor (and a baseline) drawn in.

Every helper takes its axes and returns them, except `warp_animation`, which draws its own
figure and returns the GIF's bytes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from support import _checks

__all__ = [
    "BASE_LIMITS",
    "DATA_LIMITS",
    "MAPPED_LIMITS",
    "density_heatmap",
    "flow_panels",
    "grid_lines",
    "nll_curve",
    "warp_animation",
    "warp_over_epochs",
]

#: Axis limits (x, y) for the base space, the mapped grid and the densities.
BASE_LIMITS = ((-3.0, 3.0), (-3.0, 3.0))
MAPPED_LIMITS = ((-2.0, 3.0), (-2.0, 3.0))
DATA_LIMITS = ((-1.5, 2.5), (-0.75, 1.25))

_SNAPSHOT_KEYS = ("base", "samples", "grid", "mapped_grid")


def grid_lines(
    xlim: tuple[float, float] = BASE_LIMITS[0],
    ylim: tuple[float, float] = BASE_LIMITS[1],
    *,
    num_lines: int = 5,
    points_per_line: int = 100,
) -> np.ndarray:
    """`num_lines` horizontal and `num_lines` vertical lines, as points along each line.

    Returns:
      A `[2 * num_lines, points_per_line, 2]` float32 array.

    Raises:
      ValueError: for fewer than 2 lines or points, or an empty range.
    """
    for name, value in (("num_lines", num_lines), ("points_per_line", points_per_line)):
        _checks.integer(name, value, min=2)
    for name, (low, high) in (("xlim", xlim), ("ylim", ylim)):
        if not low < high:
            raise ValueError(f"{name} must be (low, high) with low < high, got {(low, high)}")
    along_x = np.linspace(*xlim, points_per_line)
    along_y = np.linspace(*ylim, points_per_line)
    horizontal = [
        np.stack([along_x, np.full_like(along_x, y)], -1) for y in np.linspace(*ylim, num_lines)
    ]
    vertical = [
        np.stack([np.full_like(along_y, x), along_y], -1) for x in np.linspace(*xlim, num_lines)
    ]
    return np.stack(horizontal + vertical).astype(np.float32)


def _check_snapshot(snapshot) -> None:
    if not isinstance(snapshot, dict):
        raise TypeError(f"snapshot must be a dict from flow_eval.snapshot, got {snapshot!r}")
    missing = [key for key in _SNAPSHOT_KEYS if key not in snapshot]
    if missing:
        raise ValueError(f"snapshot is missing {', '.join(missing)}")


def _lines_and_points(ax, lines, points, limits, title):
    for line in lines:
        ax.plot(line[:, 0], line[:, 1], color="0.4", linewidth=0.8)
    ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4, color="C0")
    ax.set_xlim(*limits[0])
    ax.set_ylim(*limits[1])
    ax.set_title(title)
    return ax


def _kde(ax, points, limits, title, cmap):
    import seaborn as sns

    sns.kdeplot(x=points[:, 0], y=points[:, 1], fill=True, thresh=0, levels=50, cmap=cmap, ax=ax)
    ax.set_xlim(*limits[0])
    ax.set_ylim(*limits[1])
    ax.set_title(title)
    return ax


def flow_panels(axes, snapshot: dict, data, *, kde: bool = True):
    """The four panels of a flow's state: where it starts, where it goes, what it models.

    Args:
      axes: four axes, e.g. from `support.plotting.new_axes(4)`.
      snapshot: from `support.flows.flow_eval.snapshot` (base points, their images, grid lines).
      data: `[n, 2]` training points, for the last panel.
      kde: draw panels 3 and 4 as kernel density estimates (else as scatter plots).

    Returns:
      The axes.

    Raises:
      ValueError: if there are not four axes or the snapshot is incomplete.
    """
    axes = np.ravel(axes)
    if axes.size != 4:
        raise ValueError(f"axes must hold 4 axes, got {axes.size}")
    _check_snapshot(snapshot)
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != 2:
        raise ValueError(f"data must have shape [n, 2], got {data.shape}")
    _lines_and_points(axes[0], snapshot["grid"], snapshot["base"], BASE_LIMITS, "base space")
    _lines_and_points(
        axes[1], snapshot["mapped_grid"], snapshot["samples"], MAPPED_LIMITS, "mapped by the flow"
    )
    if kde:
        _kde(axes[2], snapshot["samples"], DATA_LIMITS, "model samples (KDE)", "Blues")
        _kde(axes[3], data, DATA_LIMITS, "data (KDE)", "Greens")
    else:
        for ax, points, title in (
            (axes[2], snapshot["samples"], "model samples"),
            (axes[3], data, "data"),
        ):
            ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4)
            ax.set_xlim(*DATA_LIMITS[0])
            ax.set_ylim(*DATA_LIMITS[1])
            ax.set_title(title)
    return axes


def warp_over_epochs(axes, snapshots: Sequence[dict], epochs: Sequence[int]):
    """The mapped grid and samples at several epochs, one axis each, left to right.

    Raises:
      ValueError: if the axes, snapshots and epochs differ in number, or there are none.
    """
    axes = np.ravel(axes)
    if not len(snapshots) or not (axes.size == len(snapshots) == len(epochs)):
        raise ValueError(
            f"axes, snapshots and epochs must be equally many (and some), got {axes.size}, "
            f"{len(snapshots)} and {len(epochs)}"
        )
    for ax, snap, epoch in zip(axes, snapshots, epochs, strict=True):
        _check_snapshot(snap)
        _lines_and_points(ax, snap["mapped_grid"], snap["samples"], MAPPED_LIMITS, f"epoch {epoch}")
    return axes


def warp_animation(
    snapshots: Sequence[dict],
    epochs: Sequence[int],
    *,
    fps: float = 4,
    size: float = 4.0,
    dpi: int = 80,
) -> bytes:
    """The mapped grid and samples at each snapshot, as the frames of an animated GIF.

    Each frame shows one snapshot the way `warp_over_epochs` draws a panel, titled with its
    epoch. Display it in a notebook with `IPython.display.Image(data=gif, format="gif")`.

    Args:
      snapshots: from `support.flows.flow_eval.snapshot` (or `snapshot_callback`), in training
        order.
      epochs: the epoch of each snapshot.
      fps: frames per second.
      size: width and height of the figure in inches.
      dpi: pixels per inch.

    Returns:
      The GIF file's bytes.

    Raises:
      ValueError: if `snapshots` is empty or incomplete, `epochs` differs from it in length,
        or `fps`, `size` or `dpi` is not positive.
    """
    snapshots, epochs = list(snapshots), list(epochs)
    if not snapshots:
        raise ValueError("snapshots must hold at least one snapshot, got none")
    if len(epochs) != len(snapshots):
        raise ValueError(
            f"epochs must give one epoch per snapshot: {len(snapshots)} snapshots, "
            f"{len(epochs)} epochs"
        )
    for name, value in (("fps", fps), ("size", size), ("dpi", dpi)):
        _checks.positive_float(name, value)
    for snap in snapshots:
        _check_snapshot(snap)

    from matplotlib.animation import PillowWriter
    from matplotlib.figure import Figure

    fig = Figure(figsize=(size, size), dpi=dpi)  # not pyplot's: nothing shows in a notebook
    ax = fig.add_subplot()
    fig.subplots_adjust(left=0.1, right=0.95, bottom=0.08, top=0.9)
    writer = PillowWriter(fps=fps)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "warp.gif"
        with writer.saving(fig, str(path), dpi):
            for snap, epoch in zip(snapshots, epochs, strict=True):
                ax.clear()
                _lines_and_points(
                    ax, snap["mapped_grid"], snap["samples"], MAPPED_LIMITS, f"epoch {epoch}"
                )
                writer.grab_frame()
        return path.read_bytes()


def density_heatmap(
    ax,
    x,
    y,
    log_density,
    *,
    title: str = "model density",
    cmap: str = "magma",
    vmax: float | None = None,
):
    """Shows `exp(log_density)` on the grid `x` by `y` (from `flow_eval.grid_log_prob`).

    `vmax` is the density at the top of the colour scale (default: the largest shown); pass
    the same one to two heatmaps to compare them on one scale.

    Raises:
      ValueError: if `log_density` is not `[len(y), len(x)]`.
    """
    x, y, log_density = np.asarray(x), np.asarray(y), np.asarray(log_density)
    if log_density.shape != (y.size, x.size):
        raise ValueError(
            f"log_density must have shape (len(y), len(x)) = {(y.size, x.size)}, "
            f"got {log_density.shape}"
        )
    mesh = ax.pcolormesh(x, y, np.exp(log_density), cmap=cmap, shading="auto", vmin=0, vmax=vmax)
    ax.figure.colorbar(mesh, ax=ax, label="density")
    ax.set_aspect("equal")
    ax.set_title(title)
    return ax


def nll_curve(
    ax,
    loss: Sequence[float],
    *,
    floor: float | None = None,
    baseline: float | None = None,
    baseline_label: str = "best Gaussian",
    label: str = "training NLL",
):
    """Training NLL per epoch with the entropy floor and, optionally, a baseline. The y axis
    is named after `label` (a penalised loss is not an NLL).

    Returns:
      The axes.
    """
    from support.plotting.common import training_curve

    training_curve(
        ax, loss, label=label, floor=floor, floor_label="entropy floor", ylabel=f"{label} (nats)"
    )
    if baseline is not None:
        ax.axhline(baseline, color="C3", linestyle=":", linewidth=1, label=baseline_label)
        ax.legend()
    return ax
