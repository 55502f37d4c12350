"""Checks for a notebook's papermill parameters, run in the cell after the parameters cell.

A wrong type or an out-of-range value stops the notebook at once with a message that names
the parameter, before any data is made or any model is traced::

    check_parameters(
        globals(),
        SEED=integer(min=0),
        EPOCHS=integer(min=1),
        LEARNING_RATE=real(gt=0),
        TRACE=choice("exact", "hutchinson"),
        HIDDEN_SIZES=integers(min=1, min_length=1),
    )

Used by every notebook.
"""

from __future__ import annotations

import builtins
import math
import numbers
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ParameterError", "boolean", "check_parameters", "choice", "integer", "integers", "real"]


class ParameterError(ValueError):
    """A notebook parameter has the wrong type or is out of range."""


Rule = Callable[[str, Any], None]


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _range_text(min=None, max=None, gt=None, lt=None) -> str:  # noqa: A002
    parts = []
    if min is not None:
        parts.append(f">= {min}")
    if gt is not None:
        parts.append(f"> {gt}")
    if max is not None:
        parts.append(f"<= {max}")
    if lt is not None:
        parts.append(f"< {lt}")
    return " and ".join(parts)


def _check_bounds(min=None, max=None, gt=None, lt=None) -> None:  # noqa: A002
    for label, bound in (("min", min), ("max", max), ("gt", gt), ("lt", lt)):
        if bound is not None and (
            isinstance(bound, bool) or not isinstance(bound, numbers.Real) or math.isnan(bound)
        ):
            raise TypeError(f"{label} must be a number or None, got {bound!r}")
    lower = [b for b in (min, gt) if b is not None]
    upper = [b for b in (max, lt) if b is not None]
    if lower and upper and builtins.max(lower) > builtins.min(upper):
        raise ValueError(f"the bounds admit no value: {_range_text(min, max, gt, lt)}")


def _check_range(name, value, kind, min=None, max=None, gt=None, lt=None) -> None:  # noqa: A002
    bad = (
        (min is not None and value < min)
        or (max is not None and value > max)
        or (gt is not None and value <= gt)
        or (lt is not None and value >= lt)
    )
    if bad:
        raise ParameterError(
            f"parameter {name} must be {kind} {_range_text(min, max, gt, lt)}, got {value!r}"
        )


def integer(*, min: int | None = None, max: int | None = None) -> Rule:  # noqa: A002
    """An integer (not a bool) within `[min, max]`."""
    _check_bounds(min=min, max=max)

    def rule(name: str, value: Any) -> None:
        if not _is_int(value):
            raise ParameterError(
                f"parameter {name} must be an integer, got {value!r} ({type(value).__name__})"
            )
        _check_range(name, value, "an integer", min=min, max=max)

    return rule


def real(
    *,
    min: float | None = None,  # noqa: A002
    max: float | None = None,  # noqa: A002
    gt: float | None = None,
    lt: float | None = None,
) -> Rule:
    """A finite real number (an int is accepted) within the given bounds."""
    _check_bounds(min=min, max=max, gt=gt, lt=lt)

    def rule(name: str, value: Any) -> None:
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise ParameterError(
                f"parameter {name} must be a number, got {value!r} ({type(value).__name__})"
            )
        if not math.isfinite(value):
            raise ParameterError(f"parameter {name} must be finite, got {value!r}")
        _check_range(name, value, "a number", min=min, max=max, gt=gt, lt=lt)

    return rule


def boolean() -> Rule:
    """True or False."""

    def rule(name: str, value: Any) -> None:
        if not isinstance(value, bool):
            raise ParameterError(f"parameter {name} must be True or False, got {value!r}")

    return rule


def choice(*allowed: Any) -> Rule:
    """One of the given values."""
    if not allowed:
        raise ValueError("choice needs at least one allowed value")

    def rule(name: str, value: Any) -> None:
        if value not in allowed:
            options = ", ".join(repr(a) for a in allowed)
            raise ParameterError(f"parameter {name} must be one of {options}, got {value!r}")

    return rule


def integers(
    *,
    min: int | None = None,  # noqa: A002
    max: int | None = None,  # noqa: A002
    min_length: int = 0,
) -> Rule:
    """A list or tuple of integers, each within `[min, max]`, at least `min_length` long."""
    _check_bounds(min=min, max=max)
    if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 0:
        raise ValueError(f"min_length must be a non-negative integer, got {min_length!r}")

    def rule(name: str, value: Any) -> None:
        if not isinstance(value, list | tuple) or not all(_is_int(v) for v in value):
            raise ParameterError(f"parameter {name} must be a list of integers, got {value!r}")
        if len(value) < min_length:
            raise ParameterError(
                f"parameter {name} must hold at least {min_length} value(s), got {value!r}"
            )
        for v in value:
            bad = (min is not None and v < min) or (max is not None and v > max)
            if bad:
                raise ParameterError(
                    f"parameter {name} must hold integers {_range_text(min, max)}, got {value!r}"
                )

    return rule


def check_parameters(namespace: Mapping[str, Any], **rules: Rule) -> None:
    """Checks each named parameter in `namespace` (a notebook's `globals()`) against its rule.

    Args:
      namespace: where the parameters live, usually `globals()`.
      **rules: `NAME=rule` for every parameter, e.g. `EPOCHS=integer(min=1)`.

    Raises:
      ParameterError: naming the first parameter that is missing, of the wrong type or out
        of range.
      TypeError: if `namespace` is not a mapping or a rule is not callable.
    """
    if not isinstance(namespace, Mapping):
        raise TypeError(f"namespace must be a mapping such as globals(), got {namespace!r}")
    for name, rule in rules.items():
        if not callable(rule):
            raise TypeError(f"the rule for {name} must be callable, e.g. integer(min=1)")
    for name, rule in rules.items():
        if name not in namespace:
            raise ParameterError(f"parameter {name} is not defined in the parameters cell")
        rule(name, namespace[name])
