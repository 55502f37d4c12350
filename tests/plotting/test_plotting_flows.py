"""Tests of support.plotting.flows: the figures of the FFJORD notebook (02)."""

import io

import matplotlib.pyplot as plt
import numpy as np
import pytest

from support.plotting import flows


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _snapshot(rng, n=200):
    base = rng.normal(size=(n, 2)).astype(np.float32)
    lines = flows.grid_lines(num_lines=3, points_per_line=20)
    return {"base": base, "samples": base * 0.5, "grid": lines, "mapped_grid": lines * 0.5}


def test_grid_lines_span_the_limits_horizontally_and_vertically():
    lines = flows.grid_lines((-1.0, 1.0), (0.0, 2.0), num_lines=3, points_per_line=5)
    assert lines.shape == (6, 5, 2)
    horizontal, vertical = lines[:3], lines[3:]
    np.testing.assert_allclose(horizontal[:, :, 1], [[0.0] * 5, [1.0] * 5, [2.0] * 5])
    np.testing.assert_allclose(vertical[:, :, 0], [[-1.0] * 5, [0.0] * 5, [1.0] * 5])
    np.testing.assert_allclose(horizontal[0, :, 0], np.linspace(-1, 1, 5))


def test_flow_panels_fill_four_axes_with_the_standard_limits():
    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(1, 4)
    out = flows.flow_panels(axes, _snapshot(rng), rng.normal(size=(200, 2)))
    assert len(out) == 4
    assert out[0].get_xlim() == flows.BASE_LIMITS[0]
    assert out[1].get_xlim() == flows.MAPPED_LIMITS[0]
    assert out[3].get_ylim() == flows.DATA_LIMITS[1]
    assert len(out[0].lines) == 6  # the grid lines are drawn as lines
    assert out[2].collections  # the KDE was drawn


def test_flow_panels_can_skip_the_kde():
    rng = np.random.default_rng(1)
    fig, axes = plt.subplots(1, 4)
    out = flows.flow_panels(axes, _snapshot(rng), rng.normal(size=(50, 2)), kde=False)
    assert out[2].get_title() == "model samples"


def test_warp_over_epochs_titles_each_axis_with_its_epoch():
    rng = np.random.default_rng(2)
    fig, axes = plt.subplots(1, 3)
    out = flows.warp_over_epochs(axes, [_snapshot(rng)] * 3, [0, 5, 10])
    assert [ax.get_title() for ax in out] == ["epoch 0", "epoch 5", "epoch 10"]


def _warping_snapshots(rng, count):
    """`count` snapshots whose mapped points shrink step by step, so every frame differs."""
    base = _snapshot(rng)
    return [
        {**base, "samples": base["base"] * s, "mapped_grid": base["grid"] * s}
        for s in np.linspace(1.0, 0.3, count)
    ]


def test_warp_animation_is_a_gif_with_one_frame_per_snapshot():
    from PIL import Image

    rng = np.random.default_rng(3)
    gif = flows.warp_animation(_warping_snapshots(rng, 5), [0, 1, 2, 3, 4], fps=5, size=2, dpi=40)
    assert gif[:6] in (b"GIF87a", b"GIF89a")
    with Image.open(io.BytesIO(gif)) as image:
        assert image.format == "GIF"
        assert image.n_frames == 5
        assert image.size == (80, 80)
        assert image.info["duration"] == 200  # 5 frames per second
    assert plt.get_fignums() == []  # its figure is not pyplot's, so a notebook shows nothing


def test_warp_animation_of_one_snapshot_has_one_frame():
    from PIL import Image

    gif = flows.warp_animation(_warping_snapshots(np.random.default_rng(4), 1), [7], dpi=30)
    with Image.open(io.BytesIO(gif)) as image:
        assert image.n_frames == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"snapshots": [], "epochs": []}, "snapshots"),
        ({"epochs": [0, 1]}, "epochs"),
        ({"fps": 0}, "fps"),
        ({"fps": -2.0}, "fps"),
        ({"size": 0}, "size"),
        ({"snapshots": [{"base": np.zeros((1, 2))}] * 3}, "missing"),
    ],
)
def test_warp_animation_rejects_bad_arguments_by_name(kwargs, match):
    rng = np.random.default_rng(5)
    arguments = {"snapshots": _warping_snapshots(rng, 3), "epochs": [0, 1, 2], **kwargs}
    with pytest.raises(ValueError, match=match):
        flows.warp_animation(arguments.pop("snapshots"), arguments.pop("epochs"), **arguments)


@pytest.mark.parametrize("kwargs", [{"dpi": True}, {"fps": "2"}, {"size": None}])
def test_warp_animation_names_an_argument_of_the_wrong_type(kwargs):
    rng = np.random.default_rng(5)
    (name,) = kwargs
    with pytest.raises(TypeError, match=f"^{name} must be a real number"):
        flows.warp_animation(_warping_snapshots(rng, 3), [0, 1, 2], **kwargs)


def test_density_heatmap_shows_the_exponentiated_log_density():
    fig, ax = plt.subplots()
    x, y = np.linspace(0, 1, 4), np.linspace(0, 2, 3)
    log_density = np.log(np.arange(1.0, 13.0).reshape(3, 4))
    assert flows.density_heatmap(ax, x, y, log_density) is ax
    np.testing.assert_allclose(ax.collections[0].get_array().ravel(), np.arange(1.0, 13.0))


def test_density_heatmap_tops_its_colour_scale_at_the_given_vmax():
    fig, ax = plt.subplots()
    x, y = np.linspace(0, 1, 4), np.linspace(0, 2, 3)
    flows.density_heatmap(ax, x, y, np.log(np.full((3, 4), 0.5)), vmax=2.0)
    assert ax.collections[0].get_clim() == (0.0, 2.0)


def test_nll_curve_draws_the_floor_and_the_baseline():
    fig, ax = plt.subplots()
    assert flows.nll_curve(ax, [2.0, 1.0, 0.7], floor=0.478, baseline=1.88) is ax
    levels = sorted(line.get_ydata()[0] for line in ax.lines[1:])
    assert levels == [0.478, 1.88]
    assert ax.get_ylabel() == "training NLL (nats)"


def test_nll_curve_names_its_y_axis_after_the_curve():
    fig, ax = plt.subplots()
    flows.nll_curve(ax, [2.0, 1.0], label="training loss")
    assert ax.get_ylabel() == "training loss (nats)"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: flows.grid_lines(num_lines=1), "^num_lines must be an integer >= 2"),
        (lambda: flows.grid_lines((1.0, 1.0)), "xlim"),
        (lambda: flows.flow_panels(plt.subplots(1, 3)[1], {}, np.zeros((3, 2))), "4 axes"),
        (
            lambda: flows.flow_panels(plt.subplots(1, 4)[1], {"base": 1}, np.zeros((3, 2))),
            "missing",
        ),
        (lambda: flows.warp_over_epochs(plt.subplots(1, 2)[1], [], []), "equally many"),
        (
            lambda: flows.density_heatmap(plt.subplots()[1], [0, 1], [0, 1, 2], np.zeros((2, 2))),
            "log_density",
        ),
    ],
)
def test_bad_arguments_raise_a_value_error_naming_them(call, match):
    with pytest.raises(ValueError, match=match):
        call()
