"""One type for a Monte Carlo estimate: a mean and its standard error.

Every held-out NLL in the suite (`flow_eval.held_out_nll` for 02, `mdn.held_out_nll` and
`data.cardioid_conditional_nll` for 03, `fitting.held_out_nll` for 01) and every average of
per-point values a notebook reports with an error bar is an `Estimate`, computed by
`mean_and_stderr`. It is a `NamedTuple`, so `nll, stderr = estimate` unpacks it too.

A bottom layer: it imports only NumPy, so any module may use it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = ["Estimate", "mean_and_stderr"]


class Estimate(NamedTuple):
    """A mean over independent values and its standard error, `sd / sqrt(n)`.

    Attributes:
      mean: the average (a float, or an array for `mean_and_stderr(..., axis=...)`).
      stderr: its standard error, in the same units.
    """

    mean: float
    stderr: float

    def __str__(self) -> str:
        if np.ndim(self.mean) or np.ndim(self.stderr):
            return repr(self)
        return f"{self.mean:.3f} ± {self.stderr:.3f}"


def mean_and_stderr(values, *, axis: int | None = None) -> Estimate:
    """The mean of `values` and its standard error `std(ddof=1) / sqrt(n)`, in float64.

    Args:
      values: numbers (array-like or tensor), independent draws of one quantity.
      axis: average over this axis only (the result holds arrays); by default over all
        values (the result holds floats).

    Returns:
      An `Estimate(mean, stderr)`.

    Raises:
      ValueError: if `values` holds fewer than two values along the averaged axis (no
        spread to estimate an error from) or holds NaN.

    Example:
      >>> mean_and_stderr([1.0, 2.0, 3.0, 4.0])
      Estimate(mean=2.5, stderr=0.6454972243679028)
      >>> print(mean_and_stderr([1.0, 2.0, 3.0, 4.0]))
      2.500 ± 0.645
    """
    array = np.asarray(values, dtype=np.float64)
    if axis is None:
        array = array.reshape(-1)
        axis = 0
    elif (
        isinstance(axis, bool) or not isinstance(axis, int) or not -array.ndim <= axis < array.ndim
    ):
        raise ValueError(f"axis must be an axis of values (ndim {array.ndim}), got {axis!r}")
    n = array.shape[axis]
    if n < 2:
        raise ValueError(f"values must hold at least two values to average, got {n}")
    if np.isnan(array).any():
        raise ValueError("values must not contain NaN")
    mean = array.mean(axis=axis)
    stderr = array.std(axis=axis, ddof=1) / math.sqrt(n)
    if mean.ndim == 0:
        return Estimate(float(mean), float(stderr))
    return Estimate(mean, stderr)
