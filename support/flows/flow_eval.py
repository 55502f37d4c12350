"""Measuring a trained FFJORD flow: densities, the forward map, samples and snapshots.

Used by `notebooks/02_ffjord_moons.ipynb` and `benchmarks/bench_ffjord.py`; the top layer of
the FFJORD modules (`ode` -> `traces` -> `runge_kutta` -> `solvers` -> `single_solve` ->
`ffjord` -> `flow_eval`). Whatever trace estimator a `support.flows.ffjord.FFJORDFlow` was
trained with, `held_out_nll`, `grid_log_prob` and the plots evaluate it with the exact trace:
a Hutchinson `log_prob` is a noisy estimate and does not integrate to one. `compare_traces`
puts the two estimators side by side on the same points, and `compare_with_adaptive` the
flow's own solver against a tight adaptive one.

Every helper runs the flow's cached `tf.function` (`FFJORDFlow.compiled`) over fixed-size
chunks (`support.batching.map_in_chunks`, with a short input padded up to one chunk), so it
traces once per flow and chunk size and keeps memory bounded.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from support import _checks
from support.batching import map_in_chunks
from support.estimate import Estimate, mean_and_stderr
from support.flows.ffjord import FFJORDFlow, stack_ffjord
from support.flows.traces import check_trace

__all__ = [
    "compare_traces",
    "compare_with_adaptive",
    "grid_log_prob",
    "held_out_nll",
    "log_prob",
    "sample",
    "snapshot",
    "snapshot_callback",
    "snapshot_epochs",
    "transform",
]


def _points(name: str, points, flow: FFJORDFlow) -> np.ndarray:
    array = np.asarray(points, dtype=flow.dtype.as_numpy_dtype)
    size = flow.base_distribution.event_shape[-1]
    if array.ndim != 2 or array.shape[1] != size or array.shape[0] == 0:
        raise ValueError(f"{name} must have shape [n, {size}] with n > 0, got {array.shape}")
    if np.any(np.isnan(array)):
        raise ValueError(f"{name} must not contain NaN")
    return array


def _map(fn, points: np.ndarray, chunk_size: int) -> np.ndarray:
    """`map_in_chunks`, with fewer points than a chunk padded up to one full chunk too."""
    rows = points.shape[0]
    if rows < chunk_size:
        points = np.concatenate([points, np.repeat(points[-1:], chunk_size - rows, axis=0)])
    return map_in_chunks(fn, points, chunk_size=chunk_size)[:rows]


def log_prob(flow: FFJORDFlow, points, *, trace: str = "exact", chunk_size: int = 1024):
    """Log density of the flow at `points` (NumPy `[n]`), exact trace unless asked otherwise.

    Every compiled call sees `[chunk_size, event_size]`, so the function traces once.
    """
    trace = check_trace(trace)
    chunk_size = _checks.positive_int("chunk_size", chunk_size)
    points = _points("points", points, flow)
    return _map(flow.compiled("log_prob", trace), points, chunk_size)


def held_out_nll(flow: FFJORDFlow, points, *, chunk_size: int = 1024) -> Estimate:
    """Average negative log-likelihood of held-out `points`, with the exact trace.

    Args:
      flow: the trained flow (trained with either trace estimator).
      points: `[n, event_size]` fresh points the flow never saw, n >= 2.
      chunk_size: points per compiled call.

    Returns:
      An `Estimate(mean, stderr)` in nats; the standard error is over the points.

    Raises:
      ValueError: for points of the wrong shape, with NaN, or fewer than two.
    """
    if np.shape(points)[:1] == (1,):
        raise ValueError("points must hold at least two points for a standard error, got 1")
    return mean_and_stderr(-log_prob(flow, points, chunk_size=chunk_size))


def transform(flow: FFJORDFlow, base_points, *, chunk_size: int = 1024) -> np.ndarray:
    """Maps points of the base space forward through the flow (NumPy `[n, event_size]`)."""
    chunk_size = _checks.positive_int("chunk_size", chunk_size)
    base_points = _points("base_points", base_points, flow)
    return _map(flow.compiled("forward"), base_points, chunk_size)


def sample(flow: FFJORDFlow, num_samples: int, *, seed: int = 0, chunk_size: int = 1024):
    """`(base_samples, samples)`: `num_samples` base draws and their images under the flow."""
    num_samples = _checks.positive_int("num_samples", num_samples)
    base = flow.base_distribution.sample(num_samples, seed=seed).numpy()
    return base, transform(flow, base, chunk_size=chunk_size)


def grid_log_prob(
    flow: FFJORDFlow,
    *,
    xlim: tuple[float, float] = (-1.5, 2.5),
    ylim: tuple[float, float] = (-1.0, 1.5),
    num_points: int = 100,
    chunk_size: int = 1024,
):
    """Exact log density on a `num_points x num_points` grid over `xlim x ylim` (2-D flows).

    Returns:
      `(x, y, log_density)`: the grid's axes (`[num_points]` each) and `[num_points,
      num_points]` log densities, rows along `y`.

    Raises:
      ValueError: for fewer than 2 points, empty ranges or a flow that is not 2-D.
    """
    num_points = _checks.integer("num_points", num_points, min=2)
    for name, (low, high) in (("xlim", xlim), ("ylim", ylim)):
        if not low < high:
            raise ValueError(f"{name} must be (low, high) with low < high, got {(low, high)}")
    if flow.base_distribution.event_shape[-1] != 2:
        raise ValueError("grid_log_prob needs a flow over 2-D points")
    x = np.linspace(*xlim, num_points)
    y = np.linspace(*ylim, num_points)
    xx, yy = np.meshgrid(x, y)
    values = log_prob(flow, np.stack([xx.ravel(), yy.ravel()], axis=-1), chunk_size=chunk_size)
    return x, y, values.reshape(num_points, num_points)


def snapshot(flow: FFJORDFlow, base_points, grid_lines, *, chunk_size: int = 1024) -> dict:
    """The flow's current warp, for the four-panel figure.

    Args:
      flow: the flow.
      base_points: `[n, 2]` fixed draws from the base (reuse them so snapshots compare).
      grid_lines: `[num_lines, points_per_line, 2]` lines in the base space
        (`support.plotting.grid_lines`).
      chunk_size: points per compiled call.

    Returns:
      A dict with `base`, `samples` (the mapped base points), `grid` and `mapped_grid`.
    """
    lines = np.asarray(grid_lines, dtype=flow.dtype.as_numpy_dtype)
    if lines.ndim != 3 or lines.shape[-1] != 2:
        raise ValueError(f"grid_lines must have shape [lines, points, 2], got {lines.shape}")
    base = _points("base_points", base_points, flow)
    both = np.concatenate([base, lines.reshape(-1, 2)], axis=0)
    mapped = transform(flow, both, chunk_size=chunk_size)
    return {
        "base": base,
        "samples": mapped[: len(base)],
        "grid": lines,
        "mapped_grid": mapped[len(base) :].reshape(lines.shape),
    }


def snapshot_epochs(epochs: int, count: int) -> list[int]:
    """Epoch 0 (before training) and about `count` epochs up to `epochs`, geometrically spaced.

    The k-th of them is `epochs ** (k / count)`, rounded, so early epochs, where the warp
    changes most, are seen more often than late ones; repeats (small `epochs`) are dropped.
    """
    epochs, count = _checks.positive_int("epochs", epochs), _checks.positive_int("count", count)
    return sorted({0} | {int(round(epochs ** (k / count))) for k in range(1, count + 1)})


def snapshot_callback(flow: FFJORDFlow, base_points, grid_lines, epochs) -> Callable:
    """An `on_epoch_end(epoch, history)` for `support.training.loop.fit` recording snapshots.

    At each epoch in `epochs` it returns `snapshot(flow, base_points, grid_lines)` with an
    `epoch` entry added, at the others None; `fit` keeps the values in `history.extra`.
    Call it with epoch 0 before training for the starting point.
    """
    wanted = {int(e) for e in epochs}

    def on_epoch_end(epoch, history=None):
        del history
        if epoch not in wanted:
            return None
        return {**snapshot(flow, base_points, grid_lines), "epoch": int(epoch)}

    return on_epoch_end


def compare_traces(flow: FFJORDFlow, points, *, repeats: int = 3, chunk_size: int = 1024):
    """Exact against Hutchinson trace on the same flow and points: cost and result.

    Args:
      flow: the flow (either trace in training; both are evaluated here).
      points: `[n, event_size]` held-out points.
      repeats: Hutchinson evaluations of every point (fresh probes each time), at least 2.
      chunk_size: points per compiled call.

    Returns:
      A dict: `exact_nll`, `hutchinson_nll` (mean over points and repeats),
      `hutchinson_point_sd` (typical spread of one point's estimate), and `exact_seconds` /
      `hutchinson_seconds` (one pass over the points, compiled, after a warm-up pass).
    """
    import time

    repeats = _checks.integer("repeats", repeats, min=2)
    points = _points("points", points, flow)
    result = {}
    for trace in ("exact", "hutchinson"):
        log_prob(flow, points[:chunk_size], trace=trace, chunk_size=chunk_size)  # warm up
        started = time.perf_counter()
        runs = [log_prob(flow, points, trace=trace, chunk_size=chunk_size)]
        result[f"{trace}_seconds"] = time.perf_counter() - started
        if trace == "hutchinson":
            runs += [
                log_prob(flow, points, trace=trace, chunk_size=chunk_size)
                for _ in range(repeats - 1)
            ]
        values = -np.stack(runs).astype(np.float64)
        result[f"{trace}_nll"] = float(values.mean())
    result["hutchinson_point_sd"] = float(np.sqrt(values.var(axis=0, ddof=1).mean()))
    return result


def compare_with_adaptive(flow: FFJORDFlow, points, *, rtol: float = 1e-5, atol: float = 1e-5):
    """Scores a flow with its own solver and with DormandPrince at tight tolerances.

    Both use the exact trace and the same fields, so the difference is the error of the
    flow's own (e.g. fixed-step) integration on these points: a check that the model the
    fast path trained is the continuous-time model it claims to be.

    Args:
      flow: a `support.flows.ffjord.FFJORDFlow`.
      points: `[n, event_size]` points (a few hundred are plenty).
      rtol: relative tolerance of the adaptive solve, positive.
      atol: absolute tolerance of the adaptive solve, positive.

    Returns:
      A dict with `own_nll` and `adaptive_nll` (mean negative log density in nats) and
      `max_abs_difference` (largest per-point log-density difference).

    Raises:
      ValueError: for bad points or non-positive tolerances.
    """
    points = _points("points", points, flow)
    chain = stack_ffjord(
        flow.state_derivatives,
        solver="dormand_prince",
        rtol=rtol,
        atol=atol,
        trace="exact",
        dtype=flow.dtype,
    )
    own = log_prob(flow, points)
    adaptive = tfp.distributions.TransformedDistribution(flow.base_distribution, chain)
    values = tf.function(adaptive.log_prob)(tf.constant(points)).numpy()
    return {
        "own_nll": float(-own.mean()),
        "adaptive_nll": float(-values.mean()),
        "max_abs_difference": float(np.abs(own - values).max()),
    }
