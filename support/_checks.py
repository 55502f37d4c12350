"""Argument checks shared by the `support` modules (internal).

One convention everywhere: an argument of the wrong *type* raises `TypeError`, an argument
of the right type but a wrong *value* (out of range, wrong shape, not finite, not one of
the allowed names) raises `ValueError`. Both messages start with the argument's name and
say what was expected and what was given, e.g.
``ValueError: num_samples must be an integer >= 1, got 0``.

Each check returns the value in its plain form (`int`, `float`, `np.ndarray`), so a caller
writes ``n = _checks.positive_int("n", n)`` and goes on with a clean value. None of them
imports TensorFlow: they run before any TensorFlow work.

Used by every module of `support`.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "arguments",
    "callable_",
    "choice",
    "finite_array",
    "fits_in_memory",
    "floating_dtype",
    "integer",
    "integer_list",
    "is_integer",
    "is_real",
    "memory_budget",
    "non_negative_int",
    "positive_float",
    "positive_int",
    "probability",
    "real",
    "seed",
    "shape",
]


def _range_text(min=None, max=None, gt=None, lt=None) -> str:  # noqa: A002
    parts = []
    for symbol, bound in ((">=", min), (">", gt), ("<=", max), ("<", lt)):
        if bound is not None:
            parts.append(f"{symbol} {bound}")
    return " and ".join(parts)


def _out_of_range(value, min=None, max=None, gt=None, lt=None) -> bool:  # noqa: A002
    return (
        (min is not None and value < min)
        or (max is not None and value > max)
        or (gt is not None and value <= gt)
        or (lt is not None and value >= lt)
    )


def is_integer(value: Any) -> bool:
    """Whether `value` is an integer (a Python or NumPy int, never a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def is_real(value: Any) -> bool:
    """Whether `value` is a real number (an int counts, a bool does not)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def integer(name: str, value: Any, *, min: int | None = None, max: int | None = None) -> int:  # noqa: A002
    """`value` as an `int`; TypeError if it is not an integer, ValueError if out of range."""
    if not is_integer(value):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if _out_of_range(value, min=min, max=max):
        raise ValueError(f"{name} must be an integer {_range_text(min, max)}, got {value!r}")
    return int(value)


def positive_int(name: str, value: Any) -> int:
    """An integer >= 1."""
    return integer(name, value, min=1)


def non_negative_int(name: str, value: Any) -> int:
    """An integer >= 0."""
    return integer(name, value, min=0)


def seed(name: str, value: Any) -> int:
    """A random seed: a non-negative integer (NumPy's generators refuse negative seeds)."""
    return integer(name, value, min=0)


def real(
    name: str,
    value: Any,
    *,
    min: float | None = None,  # noqa: A002
    max: float | None = None,  # noqa: A002
    gt: float | None = None,
    lt: float | None = None,
    finite: bool = True,
) -> float:
    """`value` as a `float`: TypeError if not a real number, ValueError if NaN, inf or out of
    range (`finite=False` lets infinity through)."""
    if not is_real(value):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if math.isnan(value) or (finite and math.isinf(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if _out_of_range(value, min=min, max=max, gt=gt, lt=lt):
        raise ValueError(f"{name} must be a number {_range_text(min, max, gt, lt)}, got {value!r}")
    return value


def positive_float(name: str, value: Any) -> float:
    """A finite real number > 0."""
    return real(name, value, gt=0)


def probability(name: str, value: Any) -> float:
    """A real number in [0, 1]."""
    return real(name, value, min=0, max=1)


def choice(name: str, value: Any, allowed: Iterable[Any]) -> Any:
    """`value` if it is one of `allowed`; ValueError listing them otherwise."""
    allowed = tuple(allowed)
    try:
        found = value in allowed
    except TypeError:  # e.g. an unhashable value against a set-like
        found = False
    if not found:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{name} must be one of {options}, got {value!r}")
    return value


def arguments(**rules: Callable[[str, Any], Any]) -> Callable[[Callable], Callable]:
    """A decorator: each named argument of the function passes `rule(name, value)` first.

    For the lesson code a notebook shows without checks: the package's copy, wrapped, raises
    the rule's TypeError / ValueError naming the argument before the function runs, and
    goes on with the value the rule returns. Decorating checks that every rule names one of
    the function's parameters.
    """

    def wrap(function: Callable) -> Callable:
        signature = inspect.signature(function)
        unknown = sorted(set(rules) - set(signature.parameters))
        if unknown:
            raise TypeError(f"{function.__name__} has no parameter(s) {', '.join(unknown)}")

        @functools.wraps(function)
        def checked(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            for name, rule in rules.items():
                bound.arguments[name] = rule(name, bound.arguments[name])
            return function(*bound.args, **bound.kwargs)

        return checked

    return wrap


def callable_(name: str, value: Any) -> Callable:
    """`value` if it is callable; TypeError otherwise."""
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {value!r} ({type(value).__name__})")
    return value


def integer_list(
    name: str,
    value: Any,
    *,
    min: int | None = None,  # noqa: A002
    min_length: int = 0,
) -> tuple[int, ...]:
    """A list or tuple of integers, each >= `min`, at least `min_length` long, as a tuple."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a list of integers, got {value!r}")
    if not all(is_integer(v) for v in value):
        raise TypeError(f"{name} must hold only integers, got {value!r}")
    if len(value) < min_length:
        raise ValueError(f"{name} must hold at least {min_length} value(s), got {value!r}")
    if any(_out_of_range(v, min=min) for v in value):
        raise ValueError(f"{name} must hold integers {_range_text(min)}, got {value!r}")
    return tuple(int(v) for v in value)


def finite_array(name: str, value: Any, *, dtype: Any = np.float64) -> np.ndarray:
    """`value` as a NumPy array of `dtype`; TypeError if not numeric, ValueError if NaN or inf."""
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be array-like of real numbers, got {value!r}") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must hold only finite values (found NaN or inf)")
    return array


def shape(name: str, array: Any, expected: Sequence[int | None], *, what: str = "") -> np.ndarray:
    """`array` if its shape matches `expected` (None matches any length); ValueError otherwise.

    `what` spells out the expected shape for the message, e.g. "[n, 2]".
    """
    array = np.asarray(array)
    ok = array.ndim == len(expected) and all(
        want is None or got == want for got, want in zip(array.shape, expected, strict=True)
    )
    if not ok:
        wanted = what or "[" + ", ".join("n" if d is None else str(d) for d in expected) + "]"
        raise ValueError(f"{name} must have shape {wanted}, got {list(array.shape)}")
    return array


def floating_dtype(name: str, dtype: Any):
    """`dtype` as a `tf.DType` if it names a floating dtype; ValueError otherwise."""
    import tensorflow as tf  # only here: the dtype object is TensorFlow's

    try:
        dtype = tf.as_dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be a dtype such as tf.float32, got {dtype!r}") from None
    if not dtype.is_floating:
        raise ValueError(f"{name} must be a floating dtype, got {dtype.name}")
    return dtype


def memory_budget() -> int:
    """Bytes a single array or model may take: half the machine's memory.

    The environment variable `SUPPORT_MEMORY_BUDGET_GB` overrides it (e.g. `4` or `0.5`).
    """
    override = os.environ.get("SUPPORT_MEMORY_BUDGET_GB")
    if override:
        try:
            gigabytes = float(override)
        except ValueError:
            raise ValueError(
                f"SUPPORT_MEMORY_BUDGET_GB must be a number of GiB, got {override!r}"
            ) from None
        return int(gigabytes * 2**30)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system: assume 8 GiB
        total = 8 * 2**30
    return total // 2


def _gib(num_bytes: float) -> str:
    return f"{num_bytes / 2**30:.3g} GiB"


def fits_in_memory(names: str, num_bytes: float, *, what: str, budget: int | None = None) -> None:
    """ValueError naming `names` if `num_bytes` exceeds the memory budget.

    Args:
      names: the argument(s) that set the size, as the user wrote them, e.g.
        "event_size and num_components".
      num_bytes: the estimated size of what would be allocated.
      what: what would be allocated, e.g. "the means and scales".
      budget: bytes allowed; `memory_budget()` by default.
    """
    budget = memory_budget() if budget is None else budget
    if num_bytes > budget:
        raise ValueError(
            f"{names} too large: {what} would need about {_gib(num_bytes)}, more than the "
            f"memory budget of {_gib(budget)} (half this machine's memory; the environment "
            "variable SUPPORT_MEMORY_BUDGET_GB sets another)"
        )
