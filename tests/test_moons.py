"""Tests of support.data.moons: the data and true density of the FFJORD notebook (02)."""

import importlib

import numpy as np
import pytest

from support.estimate import Estimate

# `support.data.moons` the attribute is the sampler function (re-exported by the package),
# so fetch the module itself from the import system.
m = importlib.import_module("support.data.moons")


def test_the_same_seed_gives_the_same_points():
    np.testing.assert_array_equal(m.moons(100, seed=3), m.moons(100, seed=3))
    assert not np.array_equal(m.moons(100, seed=3), m.moons(100, seed=4))


def test_points_lie_near_the_two_arcs():
    points = m.moons(2000, noise=0.01, seed=0, dtype=np.float64)
    upper = np.abs(np.hypot(points[:, 0], points[:, 1]) - 1)
    lower = np.abs(np.hypot(points[:, 0] - 1, points[:, 1] - 0.5) - 1)
    near_upper = (upper < 0.05) & (points[:, 1] > -0.05)
    near_lower = (lower < 0.05) & (points[:, 1] < 0.55)
    assert np.all(near_upper | near_lower)
    assert 0.45 < near_upper.mean() < 0.55


def test_the_true_density_integrates_to_one():
    x = np.linspace(-1.6, 2.6, 211)
    y = np.linspace(-1.1, 1.6, 136)
    xx, yy = np.meshgrid(x, y)
    density = np.exp(m.moons_log_prob(np.stack([xx.ravel(), yy.ravel()], -1)))
    total = density.sum() * (x[1] - x[0]) * (y[1] - y[0])
    assert total == pytest.approx(1.0, abs=1e-3)


def test_the_entropy_matches_the_reference_within_its_standard_error(seed):
    estimate = m.moons_entropy(20_000, seed=seed)
    assert isinstance(estimate, Estimate)
    entropy, stderr = estimate
    reference_stderr = 0.0007
    assert abs(entropy - m.MOONS_ENTROPY) < 4 * np.hypot(stderr, reference_stderr)


def test_more_noise_means_more_entropy(seed):
    low, _ = m.moons_entropy(2_000, noise=0.06, seed=seed)
    high, _ = m.moons_entropy(2_000, noise=0.2, seed=seed)
    assert high > low + 0.5


def test_the_density_is_highest_on_the_arcs():
    on_arc, off_arc = m.moons_log_prob(np.array([[0.0, 1.0], [0.5, 0.25]]))
    assert on_arc > off_arc + 10


def test_the_dataset_yields_only_full_batches_and_reshuffles():
    points = m.moons(100, seed=0)
    dataset = m.moons_dataset(points, 32, seed=1)
    first = [b.numpy() for b in dataset]
    second = [b.numpy() for b in dataset]
    assert [b.shape for b in first] == [(32, 2)] * 3
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))
    assert dataset.element_spec.shape == (32, 2)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: m.moons(0), "num_samples"),
        (lambda: m.moons(10, noise=0.0), "noise"),
        (lambda: m.moons(10, noise=float("nan")), "noise"),
        (lambda: m.moons_dataset(np.ones((10, 2)), 0), "batch_size"),
        (lambda: m.moons_dataset(np.ones((10, 2)), 11), "batch_size"),
        (lambda: m.moons_dataset(np.ones((10, 3)), 2), "points"),
        (lambda: m.moons_dataset(np.full((10, 2), np.nan), 2), "points"),
        (lambda: m.moons_log_prob(np.ones((4, 3))), "points"),
        (lambda: m.moons_log_prob(np.array([[np.nan, 0.0]])), "NaN"),
        (lambda: m.moons_log_prob(np.ones((4, 2)), num_nodes=0), "num_nodes"),
        (lambda: m.moons_entropy(1), "num_samples"),
    ],
)
def test_bad_arguments_raise_a_value_error_naming_them(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda: m.moons(10, seed=-1), ValueError, "seed"),
        (lambda: m.moons(10, seed="a"), TypeError, "seed"),
        (lambda: m.moons(2.5), TypeError, "num_samples"),
        (lambda: m.moons(10, noise="0.1"), TypeError, "noise"),
        (lambda: m.moons_dataset(np.ones((10, 2)), 2, seed=-1), ValueError, "seed"),
        (lambda: m.moons_entropy(100, seed=-5), ValueError, "seed"),
    ],
)
def test_a_bad_seed_size_or_noise_names_the_argument(call, error, name):
    with pytest.raises(error, match=f"^{name} must be"):
        call()


@pytest.mark.parametrize("grid_size", [30, 100, 200_000])
def test_the_grid_memory_estimate_covers_the_arrays_the_notebook_holds(grid_size):
    # at least the float64 mesh (x and y), its stacked points and two log densities
    assert m.moons_grid_bytes(grid_size) >= 8 * grid_size**2 * (2 + 2 + 2)
    assert m.moons_grid_bytes(2 * grid_size) == 4 * m.moons_grid_bytes(grid_size)
