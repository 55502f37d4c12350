"""Tests of the notebook parameter checks in `support.parameters`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from support.parameters import (
    ParameterError,
    accepted_by,
    at_most,
    boolean,
    check_parameters,
    choice,
    integer,
    integers,
    real,
    within_memory,
)


def check(rule, value):
    check_parameters({"P": value}, P=rule)


@pytest.mark.parametrize("value", [1, 5, 10, np.int64(3)])
def test_an_integer_in_range_passes(value):
    check(integer(min=1, max=10), value)


@pytest.mark.parametrize("value", [True, 2.0, "3", None, [1]])
def test_anything_but_an_integer_is_refused_naming_the_parameter(value):
    with pytest.raises(ParameterError, match="parameter P must be an integer"):
        check(integer(min=1), value)


@pytest.mark.parametrize("value", [0, 11, -1])
def test_an_integer_out_of_range_is_refused_with_the_range(value):
    expected = f"parameter P must be an integer >= 1 and <= 10, got {value}"
    with pytest.raises(ParameterError, match=expected):
        check(integer(min=1, max=10), value)


@pytest.mark.parametrize("value", [0.5, 1, 1e-9, np.float32(0.25)])
def test_a_positive_number_passes(value):
    check(real(gt=0), value)


@pytest.mark.parametrize("value", [0, 0.0, -1e-9])
def test_gt_excludes_its_bound(value):
    with pytest.raises(ParameterError, match="> 0"):
        check(real(gt=0), value)


def test_lt_min_and_max_bound_a_number():
    check(real(min=0, max=1), 1.0)
    check(real(min=0, lt=1), 0.0)
    with pytest.raises(ParameterError, match="< 1"):
        check(real(lt=1), 1.0)
    with pytest.raises(ParameterError, match="<= 1"):
        check(real(max=1), 1.5)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_number_is_refused(value):
    with pytest.raises(ParameterError, match="parameter P must be finite"):
        check(real(), value)


@pytest.mark.parametrize("value", ["0.1", True, None, [0.1]])
def test_anything_but_a_number_is_refused(value):
    with pytest.raises(ParameterError, match="parameter P must be a number"):
        check(real(gt=0), value)


def test_a_flag_must_be_a_bool():
    check(boolean(), False)
    with pytest.raises(ParameterError, match="True or False"):
        check(boolean(), 1)


def test_a_choice_names_the_allowed_values():
    check(choice("exact", "hutchinson"), "exact")
    with pytest.raises(ParameterError, match="one of 'exact', 'hutchinson', got 'hutch'"):
        check(choice("exact", "hutchinson"), "hutch")


def test_a_choice_needs_values():
    with pytest.raises(ValueError, match="at least one"):
        choice()


def test_a_list_of_integers_is_checked_element_by_element():
    check(integers(min=1, min_length=1), [64, 64])
    check(integers(min=1), (8,))
    with pytest.raises(ParameterError, match="integers >= 1"):
        check(integers(min=1), [64, 0])
    with pytest.raises(ParameterError, match="list of integers"):
        check(integers(), [64, "64"])
    with pytest.raises(ParameterError, match="list of integers"):
        check(integers(), "64,64")
    with pytest.raises(ParameterError, match="at least 1"):
        check(integers(min_length=1), [])


def test_a_missing_parameter_is_named():
    with pytest.raises(ParameterError, match="parameter EPOCHS is not defined"):
        check_parameters({"SEED": 0}, SEED=integer(min=0), EPOCHS=integer(min=1))


def test_the_first_bad_parameter_in_rule_order_is_reported():
    namespace = {"SEED": -1, "EPOCHS": 0}
    with pytest.raises(ParameterError, match="SEED"):
        check_parameters(namespace, SEED=integer(min=0), EPOCHS=integer(min=1))


def test_a_parameter_error_is_a_value_error():
    assert issubclass(ParameterError, ValueError)


@pytest.mark.parametrize(
    "make",
    [
        lambda: integer(min=5, max=1),
        lambda: real(gt=2, lt=1),
        lambda: real(min=3, lt=2),
        lambda: integers(min=2, max=1),
    ],
)
def test_bounds_that_admit_nothing_are_refused(make):
    with pytest.raises(ValueError, match="admit no value"):
        make()


def test_a_bound_must_be_a_number():
    with pytest.raises(TypeError, match="min"):
        integer(min="1")
    with pytest.raises(TypeError, match="gt"):
        real(gt=math.nan)
    with pytest.raises(ValueError, match="min_length"):
        integers(min_length=-1)


def test_rules_and_namespace_are_checked():
    with pytest.raises(TypeError, match="rule for EPOCHS"):
        check_parameters({"EPOCHS": 1}, EPOCHS=3)
    with pytest.raises(TypeError, match="namespace"):
        check_parameters([("EPOCHS", 1)], EPOCHS=integer())


def test_an_increasing_list_passes_and_a_decreasing_one_is_named():
    check(integers(min=2, min_length=2, increasing=True), [10, 100, 1000])
    with pytest.raises(ParameterError, match=r"parameter P must be increasing, got \[100, 10\]"):
        check(integers(min=2, increasing=True), [100, 10])
    with pytest.raises(ParameterError, match=r"parameter P must be increasing"):
        check(integers(increasing=True), [10, 10])


def test_a_list_longer_than_max_length_is_refused():
    check(integers(max_length=2), [1, 2])
    with pytest.raises(ParameterError, match="at most 2 value"):
        check(integers(max_length=2), [1, 2, 3])


def test_an_undeclared_name_is_refused_with_the_close_match():
    namespace = {"EPOCHS": 5, "EPOCH": 1, "SEED": 0}
    with pytest.raises(ParameterError, match=r"parameter EPOCH is not a .*did you mean EPOCHS\?"):
        check_parameters(namespace, EPOCHS=integer(min=1), SEED=integer(min=0))


def test_an_undeclared_name_without_a_close_match_lists_the_declared_ones():
    with pytest.raises(ParameterError, match=r"parameter WIBBLE .*declares EPOCHS, SEED\)$"):
        check_parameters({"EPOCHS": 5, "SEED": 0, "WIBBLE": [1]}, EPOCHS=integer(), SEED=integer())


def test_upper_case_modules_constants_and_private_names_are_not_parameters():
    import numpy

    namespace = {"EPOCHS": 5, "F64": numpy.float64, "NP": numpy, "_X": 1, "lower": 2, "In": [""]}
    check_parameters(namespace, EPOCHS=integer(min=1))


def test_at_most_names_both_parameters_and_runs_after_the_single_checks():
    rules = {"N": integer(min=2), "BATCH": integer(min=1)}
    relations = [at_most("BATCH", "N")]
    check_parameters({"N": 10, "BATCH": 10}, relations=relations, **rules)
    with pytest.raises(ParameterError, match=r"parameter BATCH must be at most N \(10\), got 11"):
        check_parameters({"N": 10, "BATCH": 11}, relations=relations, **rules)
    # a wrong type is reported by its own rule, not as a failed comparison
    with pytest.raises(ParameterError, match="parameter N must be an integer"):
        check_parameters({"N": "10", "BATCH": 11}, relations=relations, **rules)


def test_accepted_by_turns_the_checks_value_error_into_one_naming_the_parameters():
    def check(size, count, *, seed):
        if count > size + seed:
            raise ValueError(f"count={count} does not fit")

    relation = accepted_by(check, "SIZE", "COUNT", seed="SEED")
    rules = {"SIZE": integer(min=1), "COUNT": integer(min=1), "SEED": integer(min=0)}
    check_parameters({"SIZE": 2, "COUNT": 3, "SEED": 1}, relations=[relation], **rules)
    with pytest.raises(ParameterError, match=r"^parameters SIZE and COUNT and SEED: count=4 "):
        check_parameters({"SIZE": 2, "COUNT": 4, "SEED": 1}, relations=[relation], **rules)


def test_within_memory_names_the_parameters_and_the_estimate(monkeypatch):
    monkeypatch.setenv("SUPPORT_MEMORY_BUDGET_GB", "1")
    relation = within_memory("the grid", lambda g: 8 * g * g, "GRID_SIZE")
    check_parameters({"GRID_SIZE": 100}, relations=[relation], GRID_SIZE=integer(min=2))
    with pytest.raises(ParameterError, match=r"^parameter GRID_SIZE too large: the grid .*298 GiB"):
        check_parameters({"GRID_SIZE": 200_000}, relations=[relation], GRID_SIZE=integer(min=2))


def test_within_memory_passes_values_in_the_order_named(monkeypatch):
    monkeypatch.setenv("SUPPORT_MEMORY_BUDGET_GB", "1")
    seen = []
    relation = within_memory("x", lambda a, b: seen.append((a, b)) or 0, "B", "A")
    check_parameters({"A": 1, "B": 2}, relations=[relation], A=integer(), B=integer())
    assert seen == [(2, 1)]


def test_relations_must_be_callable():
    with pytest.raises(TypeError, match="relations entries must be callable"):
        check_parameters({"A": 1}, relations=["A <= B"], A=integer())
    with pytest.raises(ValueError, match="at least one parameter"):
        within_memory("x", lambda: 0)
