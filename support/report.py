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


def format_number(value: float | None, digits: int = 4, *, decimals: int | None = None) -> str:
    """A number as the site's results page and `headline` print it: `digits` significant
    digits, or, with `decimals`, that many digits after the decimal point."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if decimals is not None:
        return f"{value:.{decimals}f}"
    return f"{value:.{digits}g}"


def _headline_text(record: dict[str, Any], decimals: int | None = None) -> str:
    text = f"{record['name']}: {format_number(record['value'], decimals=decimals)}"
    if record.get("stderr") is not None:
        text += f" ± {format_number(record['stderr'], 2, decimals=decimals)}"
    if record.get("unit"):
        text += f" {record['unit']}"
    if record.get("reference") is not None:
        label = record.get("reference_name") or "reference"
        text += f"  ({label}: {format_number(record['reference'], decimals=decimals)})"
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
      decimals: if given, the shown text gives every number with this many digits after the
        decimal point, instead of significant digits; the record keeps the numbers as they are.

    Returns:
      The record that was shown, as a dict.

    Raises:
      ValueError: if `name` is empty, a number is not a real number, `stderr` is given
        beside an `Estimate`, or `decimals` is not a non-negative integer.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if decimals is not None and (isinstance(decimals, bool) or not isinstance(decimals, int)):
        raise TypeError(f"decimals must be an integer, got {decimals!r}")
    if decimals is not None and decimals < 0:
        raise ValueError(f"decimals must be non-negative, got {decimals}")
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
