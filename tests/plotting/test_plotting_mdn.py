"""Tests of support.plotting.mdn: each helper draws on the given axes and returns them."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import LineCollection, PolyCollection, QuadMesh
from matplotlib.colors import to_rgba

from support.plotting import mdn as plots


def _mixture(n=50, k=3):
    x = np.linspace(-2.5, 2.5, n)
    weights = np.full((n, k), 1.0 / k)
    weights[: n // 2, 0] = 0.0  # component 0 is off on the left half
    weights[: n // 2, 1:] = 0.5
    means = np.stack([np.sin(x) + j for j in range(k)], axis=1)
    stddevs = np.full((n, k), 0.1)
    return x, weights, means, stddevs


def test_scatter_with_samples_draws_data_samples_and_a_curve(ax):
    x, y = np.arange(5.0)[:, None], np.arange(5.0)[:, None]
    assert plots.scatter_with_samples(ax, x, y, samples=(x, -y), curve=(x, y, "fit")) is ax
    assert len(ax.collections) == 2  # data and samples
    assert ax.lines[0].get_label() == "fit"


@pytest.mark.parametrize("panels, size", [(1, 6), (2, 6.5)])  # notebook 03's two layouts
def test_the_legend_hides_no_cardioid_point_nor_the_regression_curve(panels, size):
    import matplotlib.pyplot as plt

    from support import data
    from support.plotting import new_axes

    x, y = data.cardioid(4000, seed=0)
    curve_x = np.linspace(-2.7, 2.7, 200)
    curve = (curve_x, data.cardioid_conditional_mean(curve_x), "best regression curve E[y | x]")
    figure, axes = new_axes(panels, size=size)
    ax = np.atleast_1d(axes)[0]
    try:
        plots.scatter_with_samples(ax, x, y, samples=(x, y[::-1]), curve=curve)
        figure.canvas.draw()
        box = ax.get_legend().get_window_extent()
        points = np.concatenate([np.hstack([x, y]), np.stack(curve[:2], axis=1)])
        px, py = ax.transData.transform(points).T  # display coordinates, as the legend's box
        inside = (box.x0 <= px) & (px <= box.x1) & (box.y0 <= py) & (py <= box.y1)
        assert not inside.any(), points[inside][:5]
    finally:
        plt.close(figure)


def test_scatter_with_samples_rejects_mismatched_lengths(ax):
    with pytest.raises(ValueError, match="x and y must have the same length"):
        plots.scatter_with_samples(ax, np.zeros(3), np.zeros(4))


def test_heatmap_draws_the_density_grid_with_the_data_on_top(ax):
    x_grid, y_grid = np.linspace(-1, 1, 4), np.linspace(-2, 2, 6)
    density = np.random.default_rng(0).uniform(size=(6, 4))
    assert plots.conditional_density_heatmap(ax, x_grid, y_grid, density, x=[0.0], y=[0.0]) is ax
    meshes = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert len(meshes) == 1
    np.testing.assert_allclose(np.asarray(meshes[0].get_array()).reshape(6, 4), density)


def test_heatmap_colour_bar_says_when_the_colour_scale_is_capped(ax):
    x_grid, y_grid = np.linspace(-1, 1, 10), np.linspace(-2, 2, 10)
    peaked = np.ones((10, 10))
    peaked[5, 5] = 50.0  # above the 99th percentile, where the scale is capped
    plots.conditional_density_heatmap(ax, x_grid, y_grid, peaked)
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert mesh.colorbar.extend == "max"


def test_heatmap_colour_bar_has_no_arrow_when_nothing_is_capped(ax):
    x_grid, y_grid = np.linspace(-1, 1, 10), np.linspace(-2, 2, 10)
    plots.conditional_density_heatmap(ax, x_grid, y_grid, np.ones((10, 10)))
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    assert mesh.colorbar.extend == "neither"


def test_heatmap_shows_the_grids_box_even_with_data_beyond_it(ax):
    x_grid, y_grid = np.linspace(-1, 1, 4), np.linspace(-2, 2, 6)
    density = np.ones((6, 4))
    plots.conditional_density_heatmap(ax, x_grid, y_grid, density, x=[-3.0, 3.0], y=[5.0, -5.0])
    assert ax.get_xlim() == (-1.0, 1.0) and ax.get_ylim() == (-2.0, 2.0)


def test_heatmap_rejects_a_density_of_the_wrong_shape(ax):
    with pytest.raises(ValueError, match=r"density must have shape .* \(6, 4\)"):
        plots.conditional_density_heatmap(ax, np.zeros(4), np.zeros(6), np.zeros((4, 6)))


def test_mixture_weights_draws_one_line_per_component(ax):
    x, weights, _, _ = _mixture()
    assert plots.mixture_weights(ax, x, weights) is ax
    assert len(ax.lines) == 3
    np.testing.assert_array_equal(ax.lines[2].get_ydata(), weights[:, 2])


def test_mixture_means_scale_line_width_with_weight_and_hide_unused_components(ax):
    x, weights, means, stddevs = _mixture()
    assert plots.mixture_means(ax, x, means, stddevs, weights) is ax
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lines) == 3
    # Component 0 has weight 0 on the left half: only the right half's segments are drawn.
    assert len(lines[0].get_segments()) < len(lines[1].get_segments())
    widths = lines[1].get_linewidths()
    assert max(widths) > min(widths)  # weight 0.5 on the left, 1/3 on the right


def test_mixture_means_skip_a_component_that_is_never_used(ax):
    x, weights, means, stddevs = _mixture()
    weights[:, 0] = 0.0
    plots.mixture_means(ax, x, means, stddevs, weights)
    lines = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert [line.get_label() for line in lines] == ["component 1", "component 2"]


@pytest.mark.parametrize("draw", ["weights", "means"])
def test_the_component_legend_sits_below_the_axes_off_the_data(ax, draw):
    x, weights, means, stddevs = _mixture()
    if draw == "weights":
        plots.mixture_weights(ax, x, weights)
    else:
        plots.mixture_means(ax, x, means, stddevs, weights, x_data=x, y_data=means[:, 0])
    ax.figure.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    axes = ax.get_window_extent()
    assert legend.y1 <= axes.y0, (legend, axes)  # entirely under the plotting area
    assert [t.get_text() for t in ax.get_legend().get_texts()][0].startswith("component")


def test_mixture_means_reject_mismatched_shapes(ax):
    x, weights, means, stddevs = _mixture()
    with pytest.raises(ValueError, match="stddevs must have shape"):
        plots.mixture_means(ax, x, means, stddevs[:-1], weights)


def test_mixture_means_bands_fade_with_the_weight_instead_of_ending_in_an_edge(ax):
    x, weights, means, stddevs = _mixture()
    weights[:, 2] = np.linspace(0.0, 1.0, x.size)  # component 2 fades in from the left
    plots.mixture_means(ax, x, means, stddevs, weights)
    colour = to_rgba("C2")[:3]
    layers = [
        c
        for c in ax.collections
        if isinstance(c, PolyCollection)
        and not isinstance(c, LineCollection)
        and np.allclose(c.get_facecolor()[0][:3], colour)
    ]
    starts = [min(p.vertices[:, 0].min() for p in layer.get_paths()) for layer in layers]
    assert len(starts) > 2 and np.all(np.diff(starts) > 0)  # more layers where the weight grows
    assert all(layer.get_facecolor()[0][3] <= 0.1 for layer in layers)  # each step is faint


def test_mixture_means_legend_has_solid_swatches_or_none_when_asked(ax):
    x, weights, means, stddevs = _mixture()
    plots.mixture_means(ax, x, means, stddevs, weights)
    swatches = ax.get_legend().get_lines()
    assert [line.get_alpha() for line in swatches] == [None] * 3
    assert {line.get_linewidth() for line in swatches} == {2}
    ax.cla()
    plots.mixture_means(ax, x, means, stddevs, weights, legend=False)
    assert ax.get_legend() is None
