"""The noisy cardioid of the MDN notebook, with its true conditional density p(y | x).

The generating process (the question behind `notebooks/03_mdn_cardioid.ipynb`)::

    t ~ Uniform(-pi, pi),  r = 2 (1 - cos t),
    x = r sin t + N(0, noise^2),  y = r cos t + N(0, noise^2)

Given the curve parameter `t`, `x` and `y` are independent normals, so the joint density is
a one-dimensional integral over `t`::

    p(x, y) = 1 / (2 pi) * integral N(x; r sin t, noise^2) N(y; r cos t, noise^2) dt

and likewise `p(x)` with the first factor only. The integrands are smooth and periodic in
`t`, so the trapezoidal rule on an even grid converges very fast; `p(y | x)` is their ratio.
Its average of `-log p(y | x)` over fresh points is the best conditional NLL any model of
`y` given `x` can reach.

Used by `notebooks/03_mdn_cardioid.ipynb`.
"""

from __future__ import annotations

import math

import numpy as np

from support import _checks
from support.estimate import Estimate, mean_and_stderr

__all__ = [
    "CARDIOID_CONDITIONAL_ENTROPY",
    "cardioid",
    "cardioid_conditional_log_density",
    "cardioid_conditional_mean",
    "cardioid_conditional_nll",
    "cardioid_grid_bytes",
    "cardioid_log_marginal",
    "make_cardioid",
]

#: True conditional entropy H(y | x) of the cardioid with noise 0.1, in nats: the mean of
#: -log p(y | x) over 1e5 points (seed 12345), standard error 0.003. No model of y given x
#: can average below it on fresh points.
CARDIOID_CONDITIONAL_ENTROPY = 0.077

_DEFAULT_POINTS = 2048  # t-grid spacing 0.003: many points per peak even near the cusp
_CHUNK = 256


def cardioid(n: int = 2000, *, seed: int, noise: float = 0.1, dtype=np.float32):
    """Samples `n` noisy points of the cardioid.

    Args:
      n: number of points, a positive integer.
      seed: non-negative integer seed of a NumPy `Generator` (same seed, same points).
      noise: standard deviation of the Gaussian noise added to `x` and to `y`.
      dtype: NumPy floating dtype of the result.

    Returns:
      `(x, y)`: two arrays of shape `(n, 1)`, the column layout a Keras model expects, drawn by
      `make_cardioid` (the notebook's sampler) once the arguments are checked.

    Raises:
      TypeError: if `n` or `seed` is not an integer, or `noise` not a number.
      ValueError: if `n` is not positive, `seed` is negative, or `noise` is not positive
        and finite.
    """
    n = _checks.positive_int("n", n)
    seed = _checks.seed("seed", seed)
    noise = _checks.positive_float("noise", noise)
    return make_cardioid(n, noise, seed, dtype)


def make_cardioid(n, noise, seed, dtype=np.float32):
    """n noisy points of the cardioid, as two columns of shape (n, 1): x and y."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(-np.pi, np.pi, size=(n, 1))  # the angle, uniform on (-pi, pi)
    r = 2.0 * (1.0 - np.cos(t))  # the cardioid's radius at that angle
    x = r * np.sin(t) + noise * rng.standard_normal((n, 1))
    y = r * np.cos(t) + noise * rng.standard_normal((n, 1))
    return x.astype(dtype), y.astype(dtype)


def cardioid_grid_bytes(grid_size: int) -> int:
    """Bytes `cardioid_conditional_log_density` needs on a `grid_size x grid_size` grid.

    About 64 bytes a grid point (float64: the broadcast `x` and `y`, the log joint, the
    marginal's index and values, the result), plus one chunk's quadrature temporaries.
    """
    return 64 * grid_size * grid_size + 3 * 8 * _CHUNK * _DEFAULT_POINTS


def _curve(num_points: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(-np.pi, np.pi, num_points, endpoint=False)  # periodic trapezoid rule
    r = 2.0 * (1.0 - np.cos(t))
    return r * np.sin(t), r * np.cos(t)


def _log_normal(value: np.ndarray, mean: np.ndarray, noise: float) -> np.ndarray:
    z = (value - mean) / noise
    return -0.5 * z * z - math.log(noise) - 0.5 * math.log(2.0 * math.pi)


def _log_mean_exp(a: np.ndarray) -> np.ndarray:
    peak = np.max(a, axis=-1, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    return np.log(np.mean(np.exp(a - peak), axis=-1)) + peak[..., 0]


def cardioid_log_marginal(x, *, noise: float = 0.1, num_points: int = _DEFAULT_POINTS):
    """log p(x): the marginal log density of the cardioid's `x` coordinate.

    Args:
      x: array-like of any shape.
      noise: the generating process's noise standard deviation.
      num_points: size of the even grid over `t` (trapezoidal rule).

    Returns:
      A float64 array of the same shape as `x` (a NumPy scalar for a scalar `x`).

    Raises:
      ValueError / TypeError: for non-finite `x`, a non-positive `noise` or `num_points`.
    """
    x = _checks.finite_array("x", x)
    noise = _checks.positive_float("noise", noise)
    curve_x, _ = _curve(_checks.positive_int("num_points", num_points))
    flat = x.reshape(-1)
    out = np.empty_like(flat)
    for start in range(0, flat.size, _CHUNK):
        part = flat[start : start + _CHUNK, None]
        out[start : start + _CHUNK] = _log_mean_exp(_log_normal(part, curve_x, noise))
    return out.reshape(x.shape)[()]


def cardioid_conditional_log_density(
    x, y, *, noise: float = 0.1, num_points: int = _DEFAULT_POINTS
) -> np.ndarray:
    """log p(y | x) of the cardioid, by quadrature over the curve parameter `t`.

    Args:
      x: array-like; broadcast against `y` (e.g. `x[:, None]` and `y[None, :]` for a grid).
      y: array-like.
      noise: the generating process's noise standard deviation.
      num_points: size of the even grid over `t` (trapezoidal rule).

    Returns:
      A float64 array of the broadcast shape of `x` and `y` (a NumPy scalar for scalars).

    Raises:
      ValueError: if `x` and `y` do not broadcast, hold NaN or inf, or `noise` or
        `num_points` is not positive.
    """
    x, y = _checks.finite_array("x", x), _checks.finite_array("y", y)
    try:
        shape = np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise ValueError(f"x and y must broadcast, got shapes {x.shape} and {y.shape}") from None
    noise = _checks.positive_float("noise", noise)
    curve_x, curve_y = _curve(_checks.positive_int("num_points", num_points))
    xs, ys = np.broadcast_to(x, shape).reshape(-1), np.broadcast_to(y, shape).reshape(-1)
    log_joint = np.empty(xs.size)
    for start in range(0, xs.size, _CHUNK):
        px = _log_normal(xs[start : start + _CHUNK, None], curve_x, noise)
        py = _log_normal(ys[start : start + _CHUNK, None], curve_y, noise)
        log_joint[start : start + _CHUNK] = _log_mean_exp(px + py)
    # p(x) depends on x only: evaluate it once per distinct x (a grid's columns).
    unique_x, inverse = np.unique(xs, return_inverse=True)
    log_px = cardioid_log_marginal(unique_x, noise=noise, num_points=curve_x.size)[inverse]
    return (log_joint - log_px).reshape(shape)[()]


def cardioid_conditional_mean(x, *, noise: float = 0.1, num_points: int = _DEFAULT_POINTS):
    """E[y | x]: the best any single curve y = f(x) can do in mean squared error.

    Args:
      x: array-like of any shape.
      noise: the generating process's noise standard deviation.
      num_points: size of the even grid over `t` (trapezoidal rule).

    Returns:
      A float64 array of the same shape as `x` (a NumPy scalar for a scalar `x`).
    """
    x = _checks.finite_array("x", x)
    noise = _checks.positive_float("noise", noise)
    curve_x, curve_y = _curve(_checks.positive_int("num_points", num_points))
    flat = x.reshape(-1)
    out = np.empty_like(flat)
    for start in range(0, flat.size, _CHUNK):
        log_w = _log_normal(flat[start : start + _CHUNK, None], curve_x, noise)
        w = np.exp(log_w - log_w.max(axis=-1, keepdims=True))
        out[start : start + _CHUNK] = (w @ curve_y) / w.sum(axis=-1)
    return out.reshape(x.shape)[()]


def cardioid_conditional_nll(
    x, y, *, noise: float = 0.1, num_points: int = _DEFAULT_POINTS
) -> Estimate:
    """Mean of -log p(y | x) over points (x, y): the true conditional entropy, estimated.

    On fresh points from the generating process this is the floor for any model's held-out
    NLL; evaluated on the model's own held-out set, the two numbers compare like for like.

    Args:
      x: array of held-out inputs, shape `(n,)` or `(n, 1)`.
      y: array of held-out targets, the same shape as `x`.
      noise: the generating process's noise standard deviation.
      num_points: size of the even grid over `t`.

    Returns:
      An `Estimate(mean, stderr)` in nats (`support.estimate`).

    Raises:
      ValueError: if `x` and `y` differ in shape or hold fewer than two points.
    """
    x, y = _checks.finite_array("x", x), _checks.finite_array("y", y)
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if x.size < 2:
        raise ValueError(f"x and y must hold at least two points, got {x.size}")
    nll = -cardioid_conditional_log_density(x, y, noise=noise, num_points=num_points).reshape(-1)
    return mean_and_stderr(nll)
