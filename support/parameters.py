"""Checks for a notebook's papermill parameters, run in the cell below the parameters cell.

A wrong type, an out-of-range value, a combination that cannot work, a run that would not
fit in memory, or a name the notebook does not declare (a misspelt `-p EPOCH 1`) stops the
notebook at once with a `ParameterError` that names the parameter, before any data is made
or any model is traced::

    check_parameters(
        globals(),
        SEED=integer(min=0),
        NUM_TRAIN=integer(min=2, max=10**6),
        BATCH_SIZE=integer(min=1),
        TRACE=choice("exact", "hutchinson"),
        HIDDEN_SIZES=integers(min=1, min_length=1),
        GRID_SIZE=integer(min=2),
        relations=[
            at_most("BATCH_SIZE", "NUM_TRAIN"),
            within_memory("the density grid", grid_bytes, "GRID_SIZE"),
        ],
    )

Per-parameter rules (`integer`, `real`, ...) check one value; relations (`at_most`,
`within_memory`, or any function of the checked values) check several together and run
only once every single value has passed.

Used by every notebook.
"""

from __future__ import annotations

import builtins
import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from support import _checks

__all__ = [
    "ParameterError",
    "accepted_by",
    "at_most",
    "boolean",
    "check_parameters",
    "choice",
    "integer",
    "integers",
    "real",
    "within_memory",
]


class ParameterError(ValueError):
    """A notebook parameter has the wrong type or is out of range."""


Rule = Callable[[str, Any], None]
Relation = Callable[[Mapping[str, Any]], None]

_is_int = _checks.is_integer


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
        if bound is not None and (not _checks.is_real(bound) or math.isnan(bound)):
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
        if not _checks.is_real(value):
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
    max_length: int | None = None,
    increasing: bool = False,
) -> Rule:
    """A list or tuple of integers, each within `[min, max]`, `min_length` to `max_length`
    long, strictly increasing if `increasing`."""
    _check_bounds(min=min, max=max)
    min_length = _checks.non_negative_int("min_length", min_length)
    if max_length is not None:
        max_length = _checks.integer("max_length", max_length, min=builtins.max(min_length, 1))

    def rule(name: str, value: Any) -> None:
        if not isinstance(value, list | tuple) or not all(_is_int(v) for v in value):
            raise ParameterError(f"parameter {name} must be a list of integers, got {value!r}")
        if len(value) < min_length:
            raise ParameterError(
                f"parameter {name} must hold at least {min_length} value(s), got {value!r}"
            )
        if max_length is not None and len(value) > max_length:
            raise ParameterError(
                f"parameter {name} must hold at most {max_length} value(s), got {value!r}"
            )
        for v in value:
            bad = (min is not None and v < min) or (max is not None and v > max)
            if bad:
                raise ParameterError(
                    f"parameter {name} must hold integers {_range_text(min, max)}, got {value!r}"
                )
        if increasing and any(b <= a for a, b in zip(value, value[1:], strict=False)):
            raise ParameterError(f"parameter {name} must be increasing, got {value!r}")

    return rule


def at_most(name: str, bound: str) -> Relation:
    """Parameter `name` must not exceed parameter `bound` (e.g. BATCH_SIZE <= NUM_TRAIN)."""

    def relation(values: Mapping[str, Any]) -> None:
        if values[name] > values[bound]:
            raise ParameterError(
                f"parameter {name} must be at most {bound} ({values[bound]!r}), "
                f"got {values[name]!r}"
            )

    return relation


def accepted_by(check: Callable[..., Any], *names: str, **keywords: str) -> Relation:
    """The named parameters must be values `check` accepts: a `ValueError` it raises becomes
    a `ParameterError` naming them.

    Args:
      check: called as `check(*values of names, **{argument: value of parameter})`; its
        result is ignored.
      *names: the parameters passed by position, in order.
      **keywords: keyword argument of `check` -> the parameter passed as it.
    """
    _checks.callable_("check", check)
    if not names and not keywords:
        raise ValueError("accepted_by needs at least one parameter name")
    everyone = [*names, *keywords.values()]

    def relation(values: Mapping[str, Any]) -> None:
        try:
            check(*(values[n] for n in names), **{k: values[n] for k, n in keywords.items()})
        except ValueError as error:
            raise ParameterError(
                f"parameter{'s' if len(everyone) > 1 else ''} {' and '.join(everyone)}: {error}"
            ) from None

    return relation


def within_memory(what: str, num_bytes: Callable[..., float], *names: str) -> Relation:
    """`num_bytes(*values of names)` must fit the memory budget (`support._checks`).

    Args:
      what: what the parameters size, e.g. "the density grid".
      num_bytes: estimate of the bytes needed, from the named parameters' values in order.
      *names: the parameters it depends on.
    """
    _checks.callable_("num_bytes", num_bytes)
    if not names:
        raise ValueError("within_memory needs at least one parameter name")

    def relation(values: Mapping[str, Any]) -> None:
        needed, budget = num_bytes(*(values[n] for n in names)), _checks.memory_budget()
        if needed > budget:
            raise ParameterError(
                f"parameter{'s' if len(names) > 1 else ''} {' and '.join(names)} too large: "
                f"{what} would need about "
                f"{needed / 2**30:.3g} GiB, more than the memory budget of "
                f"{budget / 2**30:.3g} GiB (half this machine's memory; the environment "
                "variable SUPPORT_MEMORY_BUDGET_GB sets another)"
            )

    return relation


_PARAMETER_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_PARAMETER_TYPES = (bool, int, float, str, list, tuple, dict, type(None))


def _unknown_names(namespace: Mapping[str, Any], declared: Iterable[str]) -> list[str]:
    """UPPER_SNAKE names holding plain values (what papermill injects) not declared."""
    declared = set(declared)
    return sorted(
        name
        for name, value in namespace.items()
        if _PARAMETER_NAME.fullmatch(name)
        and name not in declared
        and type(value) in _PARAMETER_TYPES
    )


def check_parameters(
    namespace: Mapping[str, Any], *, relations: Iterable[Relation] = (), **rules: Rule
) -> None:
    """Checks each named parameter in `namespace` (a notebook's `globals()`) against its rule.

    First, no UPPER_SNAKE name holding a number, string, list or dict (what papermill's
    `-p` sets) may be there without a rule: a misspelt `-p EPOCH 1` would otherwise run the
    whole notebook on the defaults. Then each rule, in order; then each relation.

    Args:
      namespace: where the parameters live, usually `globals()`.
      relations: checks of several parameters together, e.g. `at_most("BATCH_SIZE",
        "NUM_TRAIN")`; each is called with `namespace` once every rule has passed.
      **rules: `NAME=rule` for every parameter, e.g. `EPOCHS=integer(min=1)`.

    Raises:
      ParameterError: naming an undeclared parameter (and the declared name it resembles),
        or the first parameter that is missing, of the wrong type, out of range, or breaks
        a relation.
      TypeError: if `namespace` is not a mapping or a rule or relation is not callable.
    """
    if not isinstance(namespace, Mapping):
        raise TypeError(f"namespace must be a mapping such as globals(), got {namespace!r}")
    relations = list(relations)
    for name, rule in rules.items():
        if not callable(rule):
            raise TypeError(f"the rule for {name} must be callable, e.g. integer(min=1)")
    for relation in relations:
        _checks.callable_("relations entries", relation)
    unknown = _unknown_names(namespace, rules)
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, list(rules), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ParameterError(
            f"parameter {name} is not a parameter of this notebook{hint} "
            f"(it declares {', '.join(rules)})"
        )
    for name, rule in rules.items():
        if name not in namespace:
            raise ParameterError(f"parameter {name} is not defined in the parameters cell")
        rule(name, namespace[name])
    for relation in relations:
        relation(namespace)
