"""Argument checks shared by the estimators: functions, distributions, samples.

Every estimator takes exactly one of `z` (samples) and `n` (how many to draw), a
distribution and one or more functions of the samples; these check them before any
sampling, and `check_rows` checks what a function returned (one value per sample).

The estimators are written plainly, as notebook 04 shows them; `checked` wraps the
package's copy with these checks, outside the definition the page holds:
`@checked(sampler_checks(functions=("f",), distribution="p"))` above `def expectation`.

Serves notebook 04 (entropy and Monte Carlo estimators).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from support import _checks

__all__ = [
    "check_callable",
    "check_distribution",
    "check_n",
    "check_rows",
    "check_samples_args",
    "check_z",
    "checked",
    "rows_checked",
    "sampler_checks",
]

tfd = tfp.distributions


def check_callable(value, name: str) -> None:
    """Raises `TypeError` naming `name` unless `value` is callable."""
    _checks.callable_(name, value)


def check_rows(values, samples: tf.Tensor, name: str) -> tf.Tensor:
    """`values` (what `name` returned for `samples`) as a tensor with one row per sample.

    A function that averages or sums over the samples itself would otherwise give a
    meaningless estimate (a scalar's mean is itself, its standard error 0): raise
    `ValueError` naming the function instead. Shapes known when tracing are checked at once;
    unknown ones by an assertion in the graph.
    """
    values = tf.convert_to_tensor(values)
    rows, expected = values.shape[:1], samples.shape[:1]
    if values.shape.rank == 0 or (
        rows.is_fully_defined() and expected.is_fully_defined() and rows != expected
    ):
        raise ValueError(
            f"{name} must return one value per sample (leading axis of length "
            f"{expected[0] if expected.is_fully_defined() else 'n'}), got shape {values.shape}"
        )
    if values.shape.rank is None or not (rows.is_fully_defined() and expected.is_fully_defined()):
        tf.debugging.assert_equal(
            tf.shape(values)[0],
            tf.shape(samples)[0],
            message=f"{name} must return one value per sample (leading axis of length n)",
        )
    return values


def check_distribution(value, name: str) -> None:
    """Raises `TypeError` naming `name` unless `value` is a `tfd.Distribution`."""
    if not isinstance(value, tfd.Distribution):
        raise TypeError(
            f"{name} must be a tfp.distributions.Distribution, got {type(value).__name__}"
        )


def check_n(n) -> None:
    """Validates `n`, a number of samples: a positive integer or integer scalar tensor."""
    if tf.is_tensor(n):
        if not n.dtype.is_integer:
            raise TypeError(f"n must be an integer, got a {n.dtype.name} tensor")
        if n.shape.rank not in (None, 0):
            raise ValueError(f"n must be a scalar, got shape {n.shape}")
        static = tf.get_static_value(n)
        if static is not None and static < 1:
            raise ValueError(f"n must be an integer >= 1, got {static}")
        return
    _checks.positive_int("n", n)


def check_z(z, dtype) -> tf.Tensor:
    """`z` as a tensor of `dtype` with a leading sample axis and no NaN; raises otherwise."""
    if not tf.is_tensor(z):
        array = np.asarray(z)
        if array.dtype.kind not in "fiu":
            raise TypeError(f"z must hold numbers, got dtype {array.dtype}")
        if array.ndim == 0:
            raise ValueError("z must have a leading sample axis, got a scalar")
        if array.dtype.kind == "f" and np.isnan(array).any():
            raise ValueError("z must not contain NaN")
        return tf.convert_to_tensor(array, dtype=dtype, name="z")
    if z.shape.rank == 0:
        raise ValueError("z must have a leading sample axis, got a scalar")
    if z.dtype != dtype:
        raise TypeError(f"z must have the distribution's dtype {dtype.name}, got {z.dtype.name}")
    if z.dtype.is_floating:
        static = tf.get_static_value(z)  # eager or constant tensors only: no graph work
        if static is not None and np.isnan(static).any():
            raise ValueError("z must not contain NaN")
    return tf.convert_to_tensor(z, name="z")


def _describe(z) -> str:
    if z is None:
        return "None"
    shape = getattr(z, "shape", np.shape(z))
    return f"<{type(z).__name__} of shape {tuple(shape) if shape is not None else '?'}>"


def check_samples_args(z, n) -> None:
    """Validates the exactly-one-of `z` / `n` rule and `n` itself (Python side, no TF work)."""
    if (n is None) == (z is None):
        raise ValueError(
            f'Must specify exactly one of arguments "n" and "z". Found: n = {n}, z = {_describe(z)}'
        )
    if n is not None:
        check_n(n)


def rows_checked(fn: Callable, name: str) -> Callable:
    """`fn` with `check_rows` applied to what it returns, so a function that averages over the
    samples itself is named (`name`) instead of giving a meaningless estimate."""

    @functools.wraps(fn)
    def checked_fn(samples):
        return check_rows(fn(samples), samples, name)

    return checked_fn


def checked(check: Callable) -> Callable:
    """Decorator: `check(arguments)` runs on the bound arguments (defaults applied) before the
    call, and may replace them (a converted `z`, a function with its rows checked).

    The decorated definition stays as notebook 04 writes it; the checks are the package's.
    """

    def decorate(fn: Callable) -> Callable:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            check(bound.arguments)
            return fn(*bound.args, **bound.kwargs)

        return wrapper

    return decorate


def sampler_checks(
    *, functions: Sequence[str] = (), distribution: str, rows: Sequence[str] | None = None
) -> Callable:
    """The checks of an estimator that averages over samples of `distribution`.

    Each argument named in `functions` must be callable, the one named `distribution` a
    `tfd.Distribution`; exactly one of `z` and `n` must be given, `n` a positive integer and
    `z` samples of the distribution's dtype. Each function named in `rows` (default: all of
    `functions`) is replaced by one that checks it returns one value per sample.
    """
    rows = functions if rows is None else rows

    def check(arguments: dict) -> None:
        for name in functions:
            check_callable(arguments[name], name)
        dist = arguments[distribution]
        check_distribution(dist, distribution)
        z, n = arguments["z"], arguments["n"]
        check_samples_args(z, n)
        if z is not None:
            arguments["z"] = check_z(z, dist.dtype)
        for name in rows:
            arguments[name] = rows_checked(arguments[name], name)

    return check
