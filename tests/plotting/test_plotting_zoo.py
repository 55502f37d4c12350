"""Tests of support.plotting.zoo (notebook 01's figures) and support.plotting.common.new_axes:
each helper draws what it says on the axes it is given."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from support.plotting import zoo as plots
from support.plotting.common import new_axes


@pytest.fixture
def grid():
    """A 2 x 2 grid of axes, closed after the test."""
    figure, axes = plt.subplots(2, 2)
    yield axes
    plt.close(figure)


def test_fit_curves_draws_each_models_loss_over_its_floor_and_hides_spare_axes(grid):
    losses = {"mvn_diag": [3.0, 2.0, 1.5], "mixture_spherical": [4.0, 2.5]}
    floors = {"mvn_diag": 1.4, "mixture_spherical": 2.2, "unused": 0.0}
    flat = plots.fit_curves(grid, losses, floors)
    assert len(flat) == 4 and list(flat) == list(np.ravel(grid))
    for ax, (name, loss) in zip(flat, losses.items(), strict=False):
        curve, floor = ax.lines
        np.testing.assert_array_equal(curve.get_ydata(), loss)
        np.testing.assert_array_equal(curve.get_xdata(), np.arange(1, len(loss) + 1))
        np.testing.assert_array_equal(floor.get_ydata(), [floors[name]] * 2)
        assert ax.get_title() == name.replace("_", " ")
        assert ax.get_ylabel() == "NLL" and ax.get_visible()
    assert [ax.get_visible() for ax in flat[2:]] == [False, False]


def test_fit_curves_refuses_too_few_axes_or_a_model_without_a_floor(grid):
    losses = {f"m{k}": [1.0] for k in range(5)}
    with pytest.raises(ValueError, match="axes must hold at least 5 axes, got 4"):
        plots.fit_curves(grid, losses, {name: 0.0 for name in losses})
    with pytest.raises(ValueError, match="floors has no value for b"):
        plots.fit_curves(grid, {"a": [1.0], "b": [2.0]}, {"a": 0.0})


def test_parameter_recovery_scatters_fitted_against_true_around_the_identity_line(ax):
    true, fitted = np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([[0.1, 0.9], [2.2, 2.9]])
    assert plots.parameter_recovery(ax, true, fitted, label="locs", marker="x") is ax
    (points,) = ax.collections
    np.testing.assert_allclose(points.get_offsets(), np.stack([true.ravel(), fitted.ravel()], 1))
    (line,) = ax.lines
    x, y = line.get_data()
    np.testing.assert_array_equal(x, y)  # y = x, covering every point with a margin
    assert x[0] < 0.0 and x[-1] > 3.0
    assert ax.get_xlabel() == "true value" and ax.get_ylabel() == "fitted value"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["locs"]


def test_parameter_recovery_without_a_label_draws_no_legend_and_handles_one_value(ax):
    plots.parameter_recovery(ax, [2.0], [2.0])
    assert ax.get_legend() is None
    x, _ = ax.lines[0].get_data()
    assert x[0] < 2.0 < x[-1]  # a single value still gets a visible line around it


def test_parameter_recovery_called_twice_keeps_one_identity_line_covering_both(ax):
    plots.parameter_recovery(ax, [0.0, 1.0], [0.1, 0.9], label="means")
    plots.parameter_recovery(ax, [4.0, 5.0], [4.2, 5.1], label="scales")
    (line,) = ax.lines
    x, y = line.get_data()
    np.testing.assert_array_equal(x, y)
    assert x[0] < 0.0 and x[-1] > 5.1
    assert len(ax.collections) == 2


def test_parameter_recovery_refuses_arrays_of_different_sizes(ax):
    with pytest.raises(ValueError, match="true and fitted must match in size, got 3 and 2"):
        plots.parameter_recovery(ax, [1.0, 2.0, 3.0], [1.0, 2.0])


@pytest.mark.parametrize(("ncols", "nrows", "shape"), [(1, 1, ()), (3, 1, (3,)), (2, 2, (2, 2))])
def test_new_axes_makes_a_figure_of_the_asked_grid_and_size(ncols, nrows, shape):
    figure, axes = new_axes(ncols, nrows, size=2.0)
    try:
        assert np.shape(axes) == shape
        np.testing.assert_allclose(figure.get_size_inches(), [2.0 * ncols, 1.6 * nrows])
    finally:
        plt.close(figure)


def test_new_axes_refuses_an_empty_grid():
    with pytest.raises(ValueError, match="ncols and nrows must be positive, got ncols=0, nrows=1"):
        new_axes(0)
