"""Tests of support.flows.flow_eval: measuring a trained FFJORD flow (02)."""

import numpy as np
import pytest
import tensorflow as tf

from support.data.moons import moons
from support.estimate import Estimate, mean_and_stderr
from support.flows import ffjord, flow_eval

ROUNDING = {tf.float32: 1e-5, tf.float64: 1e-12}


@pytest.mark.slow
def test_exact_and_hutchinson_traces_agree_in_expectation(seed):
    tf.random.set_seed(seed)
    flow = ffjord.build_ffjord(1, (8,), trace="hutchinson", atol=1e-5, rtol=1e-4)
    # A field with a clear, varying trace: scale the random last layer up.
    for v in flow.state_derivatives[0].trainable_variables:
        v.assign(3.0 * v)
    point = np.array([[0.4, -0.3]], np.float32)
    exact = flow_eval.log_prob(flow, point)[0]
    # Each copy of the point gets its own Hutchinson probe vector.
    estimates = flow_eval.log_prob(flow, np.repeat(point, 2000, axis=0), trace="hutchinson")
    mean, stderr = mean_and_stderr(estimates)
    assert stderr > 1e-4  # the estimator really is stochastic
    assert abs(mean - exact) < 4 * stderr


def test_the_model_density_integrates_to_one_on_a_grid():
    tf.random.set_seed(1)
    flow = ffjord.build_ffjord(2, (8,), atol=1e-6, rtol=1e-4)
    x, y, log_density = flow_eval.grid_log_prob(
        flow, xlim=(-5.0, 5.0), ylim=(-5.0, 5.0), num_points=161, chunk_size=4096
    )
    mass = np.exp(log_density).sum() * (x[1] - x[0]) * (y[1] - y[0])
    assert mass == pytest.approx(1.0, abs=0.01)


def test_the_held_out_nll_uses_the_exact_trace_whatever_the_training_trace():
    tf.random.set_seed(2)
    flow = ffjord.build_ffjord(1, (4,), trace="hutchinson")
    points = moons(64, seed=5)
    first = flow_eval.held_out_nll(flow, points, chunk_size=32)
    second = flow_eval.held_out_nll(flow, points, chunk_size=32)
    assert first == second  # no probe noise
    assert isinstance(first, Estimate)
    exact = mean_and_stderr(-flow.with_trace("exact").log_prob(points).numpy())
    assert first.mean == pytest.approx(exact.mean, rel=1e-5)
    assert first.stderr == pytest.approx(exact.stderr, rel=1e-4)


def test_evaluation_helpers_trace_once_for_many_sizes():
    flow = ffjord.build_ffjord(1, (4,))
    for n in (10, 300, 700):
        assert flow_eval.log_prob(flow, np.zeros((n, 2)), chunk_size=256).shape == (n,)
    assert flow.compiled("log_prob").experimental_get_tracing_count() == 1


def test_sampling_and_snapshots_have_the_expected_shapes():
    flow = ffjord.build_ffjord(1, (4,), zero_init=True)
    base, samples = flow_eval.sample(flow, 50, seed=3)
    assert base.shape == samples.shape == (50, 2)
    np.testing.assert_allclose(samples, base, atol=ROUNDING[tf.float32])
    lines = np.zeros((4, 10, 2), np.float32)
    snap = flow_eval.snapshot(flow, base, lines)
    assert snap["samples"].shape == (50, 2)
    assert snap["mapped_grid"].shape == (4, 10, 2)


def test_bad_points_raise_before_any_tensorflow_work():
    flow = ffjord.build_ffjord(1, (4,))
    with pytest.raises(ValueError, match="points"):
        flow_eval.held_out_nll(flow, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        flow_eval.held_out_nll(flow, np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="at least two points"):
        flow_eval.held_out_nll(flow, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="chunk_size"):
        flow_eval.log_prob(flow, np.zeros((5, 2)), chunk_size=0)
    with pytest.raises(ValueError, match="trace"):
        flow_eval.log_prob(flow, np.zeros((5, 2)), trace="approx")
    with pytest.raises(ValueError, match="num_points"):
        flow_eval.grid_log_prob(flow, num_points=1)


def test_snapshot_epochs_run_from_zero_to_the_last_epoch_geometrically_spaced():
    # 40 ** (k / 4) for k = 1..4: 2.51, 6.32, 15.9, 40.
    assert flow_eval.snapshot_epochs(40, 4) == [0, 3, 6, 16, 40]
    assert flow_eval.snapshot_epochs(2, 4) == [0, 1, 2]  # 1.19, 1.41, 1.68, 2: repeats dropped
    with pytest.raises(ValueError, match="count"):
        flow_eval.snapshot_epochs(10, 0)


def test_the_snapshot_callback_records_only_the_chosen_epochs():
    flow = ffjord.build_ffjord(1, (4,), zero_init=True)
    base = np.zeros((8, 2), np.float32)
    record = flow_eval.snapshot_callback(flow, base, np.zeros((2, 5, 2)), [0, 3])
    assert record(1, None) is None
    snap = record(3, None)
    assert snap["epoch"] == 3
    assert snap["samples"].shape == (8, 2)


@pytest.mark.slow
def test_compare_traces_reports_both_estimators_on_the_same_points(seed):
    tf.random.set_seed(seed)
    flow = ffjord.build_ffjord(1, (4,))
    points = moons(64, seed=1)
    repeats = 3
    result = flow_eval.compare_traces(flow, points, repeats=repeats, chunk_size=64)
    assert result["exact_nll"] == pytest.approx(flow_eval.held_out_nll(flow, points).mean, rel=1e-5)
    assert result["hutchinson_point_sd"] > 0
    # Hutchinson's estimate is unbiased: its mean over 64 points x 3 probes is within k of its
    # standard errors of the exact one (plus the two adaptive solves' own error, under 1e-3)
    stderr = result["hutchinson_point_sd"] / np.sqrt(len(points) * repeats)
    assert abs(result["hutchinson_nll"] - result["exact_nll"]) < 4 * stderr + 1e-3
    assert result["exact_seconds"] > 0 and result["hutchinson_seconds"] > 0


def test_a_bdf_flow_evaluates_through_the_fixed_shape_helpers():
    # BDF's loops need static shapes: the helpers pad every call to one chunk shape.
    flow = ffjord.build_ffjord(1, (4,), solver="bdf", atol=1e-4, rtol=1e-3, zero_init=True)
    points = np.array([[0.2, -0.1], [1.0, 0.5], [-0.3, 0.8]], np.float32)
    np.testing.assert_allclose(
        flow_eval.log_prob(flow, points, chunk_size=8),
        flow.base_distribution.log_prob(points),
        atol=1e-4,
    )


def test_fixed_step_flow_agrees_with_its_adaptive_solve(seed):
    flow = ffjord.build_ffjord(2, (8,), solver="rk4")
    points = np.random.default_rng(seed).normal(size=(32, 2)).astype(np.float32)
    result = flow_eval.compare_with_adaptive(flow, points)
    assert result["max_abs_difference"] < 1e-3
    assert result["own_nll"] == pytest.approx(result["adaptive_nll"], abs=1e-3)
    assert np.isfinite(result["own_nll"])


def test_compare_with_adaptive_rejects_points_of_the_wrong_shape():
    flow = ffjord.build_ffjord(1, (4,), solver="rk4")
    with pytest.raises(ValueError, match="points"):
        flow_eval.compare_with_adaptive(flow, np.zeros((5, 3), np.float32))
