"""Tests of support.estimate: the one mean-and-standard-error type."""

import math

import numpy as np
import pytest
import tensorflow as tf

from support.estimate import Estimate, mean_and_stderr


def test_the_standard_error_is_the_sample_sd_over_root_n():
    values = [2.0, 4.0, 4.0, 5.0, 9.0]
    estimate = mean_and_stderr(values)
    sd = math.sqrt(sum((v - 4.8) ** 2 for v in values) / 4)
    assert estimate == Estimate(pytest.approx(4.8), pytest.approx(sd / math.sqrt(5)))
    assert isinstance(estimate.mean, float) and isinstance(estimate.stderr, float)


def test_an_estimate_unpacks_like_a_pair_and_prints_rounded():
    mean, stderr = mean_and_stderr([1.0, 3.0])
    assert (mean, stderr) == (2.0, 1.0)
    assert str(Estimate(0.12345, 0.0061)) == "0.123 ± 0.006"


def test_float32_values_and_tensors_are_averaged_in_float64():
    values = np.full(4, 0.1, np.float32)
    values[0] = 0.2
    expected = np.asarray(values, np.float64)
    estimate = mean_and_stderr(tf.constant(values))
    assert estimate.mean == expected.mean()
    assert estimate.stderr == expected.std(ddof=1) / 2


def test_an_axis_averages_each_column_separately():
    rows = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 16.0]])
    estimate = mean_and_stderr(rows, axis=0)
    np.testing.assert_allclose(estimate.mean, [3.0, 12.0])
    np.testing.assert_allclose(estimate.stderr, [2.0 / math.sqrt(3), math.sqrt(12) / math.sqrt(3)])
    assert "Estimate(mean=array" in str(estimate)


@pytest.mark.parametrize("values", [[], [1.0], [[1.0, 2.0]]])
def test_fewer_than_two_values_have_no_standard_error(values):
    with pytest.raises(ValueError, match="values must hold at least two"):
        mean_and_stderr(values, axis=0 if np.ndim(values) == 2 else None)


def test_nan_values_and_bad_axes_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        mean_and_stderr([1.0, float("nan")])
    with pytest.raises(ValueError, match="axis"):
        mean_and_stderr([1.0, 2.0], axis=1)
