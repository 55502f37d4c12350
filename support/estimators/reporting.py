"""Showing an estimate beside its closed form, and checking it, in notebook 04.

`report_estimate` sends each element of an estimate to `support.headline` with its standard
error and closed form, and fails loudly when one lies more than `k` standard errors away: a
notebook run is then also a regression test of the estimator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from support.report import headline

__all__ = ["report_estimate"]

_MAX_DECIMALS = 6  # finer standard errors (a tail probability's) keep significant digits


def _decimals(stderr: float) -> int | None:
    """Decimals that show `stderr` to two significant digits, or None past `_MAX_DECIMALS`."""
    decimals = max(0, 1 - math.floor(math.log10(stderr)))
    return decimals if decimals <= _MAX_DECIMALS else None


def report_estimate(
    name: str,
    estimate,
    stderr,
    truth,
    *,
    labels: Sequence[str] | None = None,
    k: float = 4.0,
    unit: str = "",
    reference_name: str = "closed form",
) -> np.ndarray:
    """Shows `estimate +- stderr (closed form: truth)` per element and checks `|z| <= k`.

    Each line gives its numbers to the standard error's second significant digit (a fixed
    number of decimals, at most six; beyond that, four significant digits), so
    an estimate and its closed form can be compared digit by digit.

    Args:
      name: what is estimated, e.g. "H[N(0, 2^2)]".
      estimate: the estimate (a number or array; tensors are converted).
      stderr: its standard error, same shape, positive.
      truth: the closed form, broadcastable to the estimate.
      labels: one label per element, appended to `name` (default: the element index when
        there is more than one).
      k: how many standard errors count as agreement.
      unit: e.g. "nats".
      reference_name: what `truth` is.

    Returns:
      The standard scores `(estimate - truth) / stderr`, as a flat array.

    Raises:
      ValueError: if shapes disagree, `labels` has the wrong length, `k` is not positive or
        a standard error is not positive and finite.
      AssertionError: if an estimate lies more than `k` standard errors from its truth.
    """
    values = np.asarray(estimate, dtype=np.float64).ravel()
    errors = np.asarray(stderr, dtype=np.float64).ravel()
    truths = np.broadcast_to(np.asarray(truth, dtype=np.float64), np.shape(estimate)).ravel()
    if values.shape != errors.shape:
        raise ValueError(f"stderr must match estimate's shape, got {errors.shape}")
    if not k > 0:
        raise ValueError(f"k must be positive, got {k}")
    if not np.all(np.isfinite(errors)) or np.any(errors <= 0):
        raise ValueError(f"stderr must be positive and finite, got {errors}")
    if labels is None:
        labels = [str(i) for i in range(values.size)] if values.size > 1 else [""]
    if len(labels) != values.size:
        raise ValueError(f"labels must have {values.size} entries, got {len(labels)}")
    scores = (values - truths) / errors
    for label, value, error, exact in zip(labels, values, errors, truths, strict=True):
        title = f"{name} [{label}]" if label else name
        headline(
            title,
            value,
            reference=exact,
            reference_name=reference_name,
            stderr=error,
            unit=unit,
            decimals=_decimals(error),
        )
    far = np.abs(scores) > k
    if np.any(far):
        raise AssertionError(
            f"{name}: estimate(s) {values[far]} lie more than {k} standard errors from "
            f"{truths[far]} (scores {np.round(scores[far], 2)})"
        )
    return scores
