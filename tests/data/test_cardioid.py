"""Tests of support.data.cardioid: the sampler and the true conditional density p(y | x)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from support.data.cardioid import (
    CARDIOID_CONDITIONAL_ENTROPY,
    cardioid,
    cardioid_conditional_log_density,
    cardioid_conditional_mean,
    cardioid_conditional_nll,
    cardioid_log_marginal,
    make_cardioid,
)
from support.estimate import Estimate, mean_and_stderr

Y_GRID = np.linspace(-5.0, 1.5, 2601)  # the curve's y range is [-4, 0.5]; noise sd 0.1


def test_cardioid_returns_columns_of_the_requested_dtype():
    x, y = cardioid(7, seed=0, dtype=np.float64)
    assert x.shape == y.shape == (7, 1)
    assert x.dtype == y.dtype == np.float64


def test_cardioid_is_reproducible_from_its_seed():
    first, again, other = cardioid(50, seed=3), cardioid(50, seed=3), cardioid(50, seed=4)
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], other[0])


def test_cardioid_moments_match_the_generating_process(seed):
    # E[x] = E[r sin t] = 0 and E[y] = E[2 (1 - cos t) cos t] = -2 E[cos^2 t] = -1.
    x, y = cardioid(20000, seed=seed, dtype=np.float64)
    for sample, expected in ((x, 0.0), (y, -1.0)):
        mean, stderr = mean_and_stderr(sample)
        assert abs(mean - expected) < 4 * stderr


@pytest.mark.parametrize("x0", [-2.5, -1.0, 0.0, 0.3, 1.7, 2.5])
def test_conditional_density_integrates_to_one_in_y(x0):
    density = np.exp(cardioid_conditional_log_density(x0, Y_GRID))
    assert np.trapezoid(density, Y_GRID) == pytest.approx(1.0, abs=1e-6)


def test_marginal_density_of_x_integrates_to_one():
    grid = np.linspace(-4.0, 4.0, 4001)
    assert np.trapezoid(np.exp(cardioid_log_marginal(grid)), grid) == pytest.approx(1.0, abs=1e-6)


def test_conditional_density_broadcasts_a_grid():
    x_grid, y_grid = np.linspace(-2, 2, 5), np.linspace(-4, 0.5, 7)
    grid = cardioid_conditional_log_density(x_grid[None, :], y_grid[:, None])
    assert grid.shape == (7, 5)
    np.testing.assert_allclose(grid[:, 2], cardioid_conditional_log_density(x_grid[2], y_grid))


def test_conditional_mean_is_the_mean_of_the_conditional_density():
    for x0 in (-2.0, 0.0, 0.8):
        density = np.exp(cardioid_conditional_log_density(x0, Y_GRID))
        mean = np.trapezoid(Y_GRID * density, Y_GRID)
        assert cardioid_conditional_mean(x0) == pytest.approx(mean, abs=1e-6)


def test_conditional_density_is_calibrated_on_samples(seed):
    # Probability integral transform: u = F(y | x) is Uniform(0, 1) for points of the process.
    x, y = cardioid(200, seed=seed, dtype=np.float64)
    grid = np.linspace(-4.8, 1.3, 611)
    density = np.exp(cardioid_conditional_log_density(x, grid[None, :], num_points=512))
    steps = 0.5 * (density[:, 1:] + density[:, :-1]) * np.diff(grid)
    cdf = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(steps, axis=1)], axis=1)
    u = np.array([np.interp(yi, grid, row) for yi, row in zip(y[:, 0], cdf, strict=True)])
    n = u.size
    assert abs(u.mean() - 0.5) < 4 * math.sqrt(1 / 12 / n)
    central = np.mean(np.abs(u - 0.5) < 0.25)  # P = 1/2 when the spread is right
    assert abs(central - 0.5) < 4 * 0.5 / math.sqrt(n)


def test_true_density_scores_better_than_a_wrong_noise_level(seed):
    # Gibbs: the cross-entropy under any other density exceeds the true conditional entropy.
    x, y = cardioid(1000, seed=seed, dtype=np.float64)
    true = -cardioid_conditional_log_density(x, y)
    for noise in (0.07, 0.14):
        gap = -cardioid_conditional_log_density(x, y, noise=noise) - true
        estimate = mean_and_stderr(gap)
        assert estimate.mean > 4 * estimate.stderr


def test_conditional_nll_is_the_mean_negative_log_density_with_its_stderr():
    x, y = cardioid(400, seed=5, dtype=np.float64)
    estimate = cardioid_conditional_nll(x, y)
    nll = -cardioid_conditional_log_density(x, y)
    assert isinstance(estimate, Estimate)
    assert estimate.mean == pytest.approx(np.sum(nll) / 400, rel=1e-12)
    sd = np.sqrt(np.sum((nll - np.sum(nll) / 400) ** 2) / 399)  # n - 1: the sample's spread
    assert estimate.stderr == pytest.approx(sd / 20.0, rel=1e-12)  # sqrt(400) = 20


@pytest.mark.slow
def test_conditional_entropy_constant_matches_a_fresh_estimate(seed):
    x, y = cardioid(10000, seed=seed, dtype=np.float64)
    estimate = cardioid_conditional_nll(x, y)
    # The constant's own standard error (0.003) and its rounding (0.0005) add to the noise.
    assert abs(estimate.mean - CARDIOID_CONDITIONAL_ENTROPY) < 4 * (estimate.stderr + 0.003) + 5e-4


def test_scalar_inputs_give_scalar_outputs():
    assert np.ndim(cardioid_conditional_log_density(0.0, 0.0)) == 0
    assert isinstance(float(cardioid_conditional_mean(1.0)), float)
    assert np.ndim(cardioid_log_marginal(0.5)) == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"n": 0, "seed": 0}, ValueError, "n must"),
        ({"n": 2.5, "seed": 0}, TypeError, "n must"),
        ({"n": 10, "seed": -1}, ValueError, "seed must"),
        ({"n": 10, "seed": "a"}, TypeError, "seed must"),
        ({"n": 10, "seed": 0, "noise": 0.0}, ValueError, "noise must"),
        ({"n": 10, "seed": 0, "noise": "0.1"}, TypeError, "noise must"),
    ],
)
def test_cardioid_rejects_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        cardioid(**kwargs)


def test_density_rejects_nan_and_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match="x must hold only finite"):
        cardioid_conditional_log_density(np.nan, 0.0)
    with pytest.raises(ValueError, match="x and y must broadcast"):
        cardioid_conditional_log_density(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="num_points must"):
        cardioid_conditional_log_density(0.0, 0.0, num_points=0)
    with pytest.raises(ValueError, match="x and y must have the same shape"):
        cardioid_conditional_nll(np.zeros(3), np.zeros(4))


def test_the_grid_memory_estimate_grows_with_the_square_of_the_grid_size():
    from support.data import cardioid_grid_bytes

    for grid_size in (60, 200, 200_000):
        # at least the broadcast x and y, the log joint and the result, float64
        assert cardioid_grid_bytes(grid_size) >= 4 * 8 * grid_size**2
    growth = cardioid_grid_bytes(2000) - cardioid_grid_bytes(1000)
    assert cardioid_grid_bytes(4000) - cardioid_grid_bytes(2000) == 4 * growth  # quadratic


def test_make_cardioid_without_noise_puts_every_point_on_the_curve():
    # On r = 2 (1 - cos t) with x = r sin t and y = r cos t: x^2 + y^2 = 2 r - 2 y.
    x, y = make_cardioid(500, 0.0, 7, np.float64)
    r = np.hypot(x, y)
    np.testing.assert_allclose(x**2 + y**2, 2 * r - 2 * y, atol=1e-9)
