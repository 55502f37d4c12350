"""Tests for support._checks: TypeError for a wrong type, ValueError for a wrong value."""

import numpy as np
import psutil
import pytest

from support import _checks


@pytest.mark.parametrize("value", [1, 7, np.int64(3)])
def test_positive_int_returns_a_plain_int(value):
    result = _checks.positive_int("n", value)
    assert result == int(value) and type(result) is int


@pytest.mark.parametrize("value", [True, 1.0, "3", None, np.float64(2.0)])
def test_integer_of_the_wrong_type_raises_type_error_naming_the_argument(value):
    with pytest.raises(TypeError, match="^num_samples must be an integer"):
        _checks.positive_int("num_samples", value)


@pytest.mark.parametrize("value", [0, -1])
def test_positive_int_out_of_range_raises_value_error_naming_the_argument(value):
    with pytest.raises(ValueError, match=r"^num_samples must be an integer >= 1, got"):
        _checks.positive_int("num_samples", value)


def test_non_negative_int_and_seed_accept_zero_and_refuse_negative():
    assert _checks.non_negative_int("k", 0) == 0
    assert _checks.seed("seed", 0) == 0
    with pytest.raises(ValueError, match="^seed must be an integer >= 0"):
        _checks.seed("seed", -1)
    with pytest.raises(TypeError, match="^seed must be an integer"):
        _checks.seed("seed", "a")


def test_integer_checks_both_bounds():
    assert _checks.integer("k", 5, min=2, max=5) == 5
    with pytest.raises(ValueError, match=r"k must be an integer >= 2 and <= 5, got 6"):
        _checks.integer("k", 6, min=2, max=5)


@pytest.mark.parametrize("value", [0.5, 3, np.float32(2.5)])
def test_positive_float_returns_a_plain_float(value):
    result = _checks.positive_float("scale", value)
    assert result == pytest.approx(float(value)) and type(result) is float


@pytest.mark.parametrize("value", [True, "1.0", None, [1.0]])
def test_real_of_the_wrong_type_raises_type_error(value):
    with pytest.raises(TypeError, match="^scale must be a real number"):
        _checks.positive_float("scale", value)


@pytest.mark.parametrize("value", [0.0, -2.0, float("nan"), float("inf")])
def test_positive_float_refuses_non_positive_and_non_finite_values(value):
    with pytest.raises(ValueError, match="^scale must be"):
        _checks.positive_float("scale", value)


def test_real_may_allow_infinity_but_never_nan():
    assert _checks.real("x", float("inf"), finite=False) == float("inf")
    with pytest.raises(ValueError, match="x must be a finite number"):
        _checks.real("x", float("nan"), finite=False)


@pytest.mark.parametrize("value", [0, 0.25, 1])
def test_probability_accepts_the_closed_unit_interval(value):
    assert _checks.probability("p", value) == value


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_probability_refuses_values_outside_the_unit_interval(value):
    with pytest.raises(ValueError, match=r"^p must be a number >= 0 and <= 1"):
        _checks.probability("p", value)


def test_choice_returns_an_allowed_value_and_lists_the_options_otherwise():
    assert _checks.choice("trace", "exact", ("exact", "hutchinson")) == "exact"
    with pytest.raises(ValueError, match=r"^trace must be one of 'exact', 'hutchinson', got 'x'"):
        _checks.choice("trace", "x", ("exact", "hutchinson"))
    with pytest.raises(ValueError, match="^trace must be one of"):
        _checks.choice("trace", ["unhashable"], {"exact"})


def test_callable_refuses_none_with_a_type_error():
    assert _checks.callable_("fn", len) is len
    with pytest.raises(TypeError, match="^fn must be callable, got None"):
        _checks.callable_("fn", None)


def test_integer_list_returns_a_tuple_and_checks_items_and_length():
    assert _checks.integer_list("sizes", [3, 4], min=1, min_length=1) == (3, 4)
    with pytest.raises(TypeError, match="^sizes must be a list of integers"):
        _checks.integer_list("sizes", "34")
    with pytest.raises(TypeError, match="^sizes must hold only integers"):
        _checks.integer_list("sizes", [3, 4.0])
    with pytest.raises(ValueError, match=r"^sizes must hold at least 1 value"):
        _checks.integer_list("sizes", [], min_length=1)
    with pytest.raises(ValueError, match=r"^sizes must hold integers >= 1"):
        _checks.integer_list("sizes", [3, 0], min=1)


def test_finite_array_converts_and_refuses_nan_or_non_numbers():
    array = _checks.finite_array("x", [[1, 2]], dtype=np.float32)
    assert array.dtype == np.float32 and array.shape == (1, 2)
    with pytest.raises(ValueError, match="^x must hold only finite values"):
        _checks.finite_array("x", [1.0, np.nan])
    with pytest.raises(TypeError, match="^x must be array-like of real numbers"):
        _checks.finite_array("x", ["a"])


def test_shape_matches_none_as_any_length_and_names_the_expected_shape():
    points = np.zeros((5, 2))
    assert _checks.shape("points", points, (None, 2)) is points  # the array itself, unchanged
    listed = _checks.shape("points", [[1.0, 2.0]], (None, 2))
    assert isinstance(listed, np.ndarray) and listed.tolist() == [[1.0, 2.0]]
    with pytest.raises(ValueError, match=r"^points must have shape \[n, 2\], got \[5, 3\]"):
        _checks.shape("points", np.zeros((5, 3)), (None, 2))
    with pytest.raises(ValueError, match=r"^points must have shape \[n, 2\], got \[5\]"):
        _checks.shape("points", np.zeros(5), (None, 2))


def test_floating_dtype_accepts_float_and_refuses_integer_dtypes():
    assert _checks.floating_dtype("dtype", np.float64).name == "float64"
    with pytest.raises(ValueError, match="^dtype must be a floating dtype, got int32"):
        _checks.floating_dtype("dtype", "int32")
    with pytest.raises(TypeError, match="^dtype must be a dtype"):
        _checks.floating_dtype("dtype", object())


def test_fits_in_memory_names_the_arguments_and_the_estimate():
    _checks.fits_in_memory("n", 2**20, what="the grid", budget=2**30)
    with pytest.raises(ValueError, match=r"^n and d too large: the grid would need about 2 GiB"):
        _checks.fits_in_memory("n and d", 2 * 2**30, what="the grid", budget=2**30)


def test_memory_budget_is_half_the_memory_or_the_environment_override(monkeypatch):
    monkeypatch.delenv("SUPPORT_MEMORY_BUDGET_GB", raising=False)
    assert _checks.memory_budget() == psutil.virtual_memory().total // 2  # half the machine's
    monkeypatch.setenv("SUPPORT_MEMORY_BUDGET_GB", "0.5")
    assert _checks.memory_budget() == 2**29
    monkeypatch.setenv("SUPPORT_MEMORY_BUDGET_GB", "lots")
    with pytest.raises(ValueError, match="SUPPORT_MEMORY_BUDGET_GB must be a number"):
        _checks.memory_budget()


def test_arguments_checks_each_named_argument_before_the_call_and_passes_on_the_checked_value():
    calls = []

    @_checks.arguments(n=_checks.positive_int, rate=_checks.positive_float)
    def scaled(n, rate=1):
        calls.append((n, rate))
        return n * rate

    assert scaled(np.int64(3)) == 3.0
    assert calls == [(3, 1.0)] and type(calls[0][0]) is int and type(calls[0][1]) is float
    with pytest.raises(ValueError, match="n must be"):
        scaled(0, rate=2)
    with pytest.raises(ValueError, match="rate"):
        scaled(2, rate=-1)
    assert len(calls) == 1  # the function never ran with a bad argument


def test_arguments_refuses_a_rule_for_a_parameter_the_function_lacks():
    with pytest.raises(TypeError, match="has no parameter"):

        @_checks.arguments(m=_checks.positive_int)
        def f(n):
            return n
