"""Headline numbers: what a notebook reports for the suite's results page.

Inside a notebook, `headline(...)` shows a number next to its reference (a held-out NLL next
to the entropy floor, an estimate next to its closed form) and tags that output with
`HEADLINE_MIME`, so the site of the executed notebooks (`nox -s notebooks`, `nox -s site`) can
collect it: its results page is built outside the package, by `tools.site_results`.

Used by every notebook.
"""

from __future__ import annotations

import math
from typing import Any

from support.estimate import Estimate

__all__ = ["HEADLINE_MIME", "format_number", "headline"]

HEADLINE_MIME = "application/vnd.tfp-notebooks.headline+json"


def format_number(value: float | None, digits: int = 4) -> str:
    """A number as the site's results page and `headline` print it: `digits` significant
    digits."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def _headline_text(record: dict[str, Any], decimals: int | None = None) -> str:
    def number(value, digits):
        return format_number(value, digits) if decimals is None else f"{value:.{decimals}f}"

    text = f"{record['name']}: {number(record['value'], 4)}"
    if record.get("stderr") is not None:
        text += f" ± {number(record['stderr'], 2)}"
    if record.get("unit"):
        text += f" {record['unit']}"
    if record.get("reference") is not None:
        label = record.get("reference_name") or "reference"
        text += f"  ({label}: {number(record['reference'], 4)})"
    return text


def headline(
    name: str,
    value: float,
    *,
    reference: float | None = None,
    reference_name: str | None = None,
    stderr: float | None = None,
    unit: str = "",
    decimals: int | None = None,
) -> dict[str, Any]:
    """Shows a headline number and tags it for the suite's results page.

    Args:
      name: what the number is, e.g. "held-out NLL".
      value: the number, or an `Estimate` (then its standard error is shown too).
      reference: what to compare it with (a bound, a closed form), if any.
      reference_name: what the reference is, e.g. "entropy floor".
      stderr: the Monte Carlo standard error of `value`, if it has one.
      unit: e.g. "nats".
      decimals: show the numbers with this many decimals (as an `Estimate` prints, with 3)
        instead of 4 significant digits (2 for the standard error).

    Returns:
      The record that was shown, as a dict.

    Raises:
      ValueError: if `name` is empty, a number is not a real number, or `stderr` is given
        beside an `Estimate`.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if decimals is not None and (
        isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0
    ):
        raise ValueError(f"decimals must be a non-negative integer or None, got {decimals!r}")
    if isinstance(value, Estimate):
        if stderr is not None:
            raise ValueError("stderr must not be given with an Estimate value: it has its own")
        value, stderr = value
    record: dict[str, Any] = {"name": name, "unit": unit, "reference_name": reference_name}
    for key, number in (("value", value), ("reference", reference), ("stderr", stderr)):
        if number is None:
            record[key] = None
            continue
        try:
            record[key] = float(number)
        except (TypeError, ValueError):
            raise ValueError(f"{key} must be a real number, got {number!r}") from None
    try:
        from IPython import get_ipython
        from IPython.display import display

        in_kernel = get_ipython() is not None
    except ImportError:  # pragma: no cover - IPython ships with the notebook extras
        in_kernel = False
    if in_kernel:
        display({HEADLINE_MIME: record, "text/plain": _headline_text(record, decimals)}, raw=True)
    else:
        print(_headline_text(record, decimals))
    return record
