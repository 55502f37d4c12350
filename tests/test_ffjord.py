"""Tests of support.ffjord: the FFJORD flows of notebook 02."""

import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from support import ffjord
from support.data.moons import moons, moons_dataset
from support.training import fit

# Solver tolerances for the analytic oracles, and how close the answer must then be.
TIGHT = {tf.float32: 1e-6, tf.float64: 1e-8}
ORACLE_TOLERANCE = {tf.float32: 1e-4, tf.float64: 1e-6}
ROUNDING = {tf.float32: 1e-5, tf.float64: 1e-12}


def _oracle_bijector(field, dtype, trace="exact"):
    # Tight tolerances: the oracles are exact, so only the solver's error remains.
    tight = TIGHT[dtype]
    return ffjord.stack_ffjord([field], atol=tight, rtol=tight, trace=trace, dtype=dtype)


def _forward_and_log_det(bijector, z):
    # Eager: for a handful of points a few solver steps cost less than tracing a graph.
    return bijector.forward(z), bijector.forward_log_det_jacobian(z, event_ndims=1)


def test_a_constant_field_shifts_the_state_by_one_unit_of_time_with_log_det_zero(dtype):
    bijector = _oracle_bijector(lambda t, z: tf.ones_like(z), dtype)
    z = tf.constant([[0.0, 1.0], [-2.0, 0.5]], dtype)
    forward, log_det = _forward_and_log_det(bijector, z)
    np.testing.assert_allclose(forward, z + 1.0, atol=ORACLE_TOLERANCE[dtype])
    np.testing.assert_allclose(log_det, [0.0, 0.0], atol=ORACLE_TOLERANCE[dtype])


def test_a_log_two_linear_field_doubles_the_state_with_log_det_log_two(dtype):
    bijector = _oracle_bijector(lambda t, z: math.log(2.0) * z, dtype)
    z = tf.constant([[0.3], [-1.5], [2.0]], dtype)
    tol = ORACLE_TOLERANCE[dtype]
    forward, log_det = _forward_and_log_det(bijector, z)
    np.testing.assert_allclose(forward, 2.0 * z, rtol=tol, atol=tol)
    np.testing.assert_allclose(log_det, [math.log(2.0)] * 3, atol=tol)


def test_two_stacked_doubling_flows_quadruple_with_log_det_adding_up(dtype):
    field = lambda t, z: math.log(2.0) * z
    tight = TIGHT[dtype]
    bijector = ffjord.stack_ffjord([field, field], atol=tight, rtol=tight, dtype=dtype)
    z = tf.constant([[0.5, -1.0]], dtype)
    tol = ORACLE_TOLERANCE[dtype]
    forward, log_det = _forward_and_log_det(bijector, z)
    np.testing.assert_allclose(forward, 4.0 * z, rtol=tol)
    np.testing.assert_allclose(log_det, [4 * math.log(2.0)], atol=10 * tol)


def test_a_zero_initialised_flow_is_the_identity_with_log_det_zero(dtype):
    flow = ffjord.build_ffjord(2, (4,), zero_init=True, dtype=dtype)
    z = tf.constant([[0.1, -0.4], [1.2, 0.7]], dtype)
    # Eager: with a zero field the solver needs only a few steps.
    np.testing.assert_allclose(flow.distribution.bijector.forward(z), z, atol=ROUNDING[dtype])
    np.testing.assert_allclose(
        flow.distribution.log_prob(z), flow.base_distribution.log_prob(z), atol=ROUNDING[dtype]
    )


def test_a_solver_instance_is_used_as_given():
    solver = tfp.math.ode.DormandPrince(atol=1e-3, rtol=1e-3)
    flow = ffjord.build_ffjord(1, (4,), solver=solver)
    assert flow.solver is solver
    assert isinstance(ffjord.make_solver("bdf"), tfp.math.ode.BDF)


def test_a_registered_solver_can_be_built_by_name():
    made = []

    def factory(atol, rtol):
        made.append((atol, rtol))
        return tfp.math.ode.DormandPrince(atol=atol, rtol=rtol)

    ffjord.register_solver("test_dp", factory)
    try:
        ffjord.build_ffjord(1, (4,), solver="test_dp", atol=1e-4, rtol=1e-2)
    finally:
        del ffjord.SOLVERS["test_dp"]
    assert made == [(1e-4, 1e-2)]


@pytest.mark.slow
def test_exact_and_hutchinson_traces_agree_in_expectation(seed):
    tf.random.set_seed(seed)
    flow = ffjord.build_ffjord(1, (8,), trace="hutchinson", atol=1e-5, rtol=1e-4)
    # A field with a clear, varying trace: scale the random last layer up.
    for v in flow.state_derivatives[0].trainable_variables:
        v.assign(3.0 * v)
    point = np.array([[0.4, -0.3]], np.float32)
    exact = ffjord.log_prob(flow, point)[0]
    # Each copy of the point gets its own Hutchinson probe vector.
    estimates = ffjord.log_prob(flow, np.repeat(point, 2000, axis=0), trace="hutchinson")
    stderr = estimates.std(ddof=1) / np.sqrt(estimates.size)
    assert stderr > 1e-4  # the estimator really is stochastic
    assert abs(estimates.mean() - exact) < 4 * stderr


def test_the_model_density_integrates_to_one_on_a_grid():
    tf.random.set_seed(1)
    flow = ffjord.build_ffjord(2, (8,), atol=1e-6, rtol=1e-4)
    x, y, log_density = ffjord.grid_log_prob(
        flow, xlim=(-5.0, 5.0), ylim=(-5.0, 5.0), num_points=161, chunk_size=4096
    )
    mass = np.exp(log_density).sum() * (x[1] - x[0]) * (y[1] - y[0])
    assert mass == pytest.approx(1.0, abs=0.01)


def test_the_held_out_nll_uses_the_exact_trace_whatever_the_training_trace():
    tf.random.set_seed(2)
    flow = ffjord.build_ffjord(1, (4,), trace="hutchinson")
    points = moons(64, seed=5)
    first = ffjord.held_out_nll(flow, points, chunk_size=32)
    second = ffjord.held_out_nll(flow, points, chunk_size=32)
    assert first == second  # no probe noise
    exact = -flow.with_trace("exact").log_prob(points).numpy()
    assert first[0] == pytest.approx(exact.mean(), rel=1e-5)
    assert first[1] == pytest.approx(exact.std(ddof=1) / 8, rel=1e-4)


def test_evaluation_helpers_trace_once_for_many_sizes():
    flow = ffjord.build_ffjord(1, (4,))
    for n in (10, 300, 700):
        assert ffjord.log_prob(flow, np.zeros((n, 2)), chunk_size=256).shape == (n,)
    assert flow.compiled("log_prob").experimental_get_tracing_count() == 1


def test_sampling_and_snapshots_have_the_expected_shapes():
    flow = ffjord.build_ffjord(1, (4,), zero_init=True)
    base, samples = ffjord.sample(flow, 50, seed=3)
    assert base.shape == samples.shape == (50, 2)
    np.testing.assert_allclose(samples, base, atol=ROUNDING[tf.float32])
    lines = np.zeros((4, 10, 2), np.float32)
    snap = ffjord.snapshot(flow, base, lines)
    assert snap["samples"].shape == (50, 2)
    assert snap["mapped_grid"].shape == (4, 10, 2)


@pytest.mark.slow
def test_a_few_training_steps_on_tiny_data_lower_the_nll():
    tf.random.set_seed(3)
    flow = ffjord.build_ffjord(1, (8,), atol=1e-4, rtol=1e-3)
    points = moons(256, seed=0)
    before, _ = ffjord.held_out_nll(flow, points, chunk_size=256)
    history = fit(
        flow.loss,
        flow.trainable_variables,
        moons_dataset(points, 64, seed=0),
        epochs=3,
        learning_rate=3e-2,
        progress=False,
    )
    after, _ = ffjord.held_out_nll(flow, points, chunk_size=256)
    assert history.steps == 12
    assert after < before - 0.05


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_flows": 0}, "num_flows"),
        ({"num_flows": 2.0}, "num_flows"),
        ({"hidden_sizes": ()}, "hidden_sizes"),
        ({"trace": "skilling"}, "trace"),
        ({"solver": "euler_maybe"}, "solver"),
        ({"atol": 0.0}, "atol"),
        ({"rtol": -1e-3}, "rtol"),
        ({"atol": float("nan")}, "atol"),
        ({"base_scale": 0}, "base_scale"),
        ({"dtype": tf.int32}, "dtype"),
    ],
)
def test_bad_builder_arguments_raise_a_value_error_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ffjord.build_ffjord(**kwargs)


def test_a_solver_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="solver"):
        ffjord.build_ffjord(solver=42)


def test_bad_points_raise_before_any_tensorflow_work():
    flow = ffjord.build_ffjord(1, (4,))
    with pytest.raises(ValueError, match="points"):
        ffjord.held_out_nll(flow, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        ffjord.held_out_nll(flow, np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="chunk_size"):
        ffjord.log_prob(flow, np.zeros((5, 2)), chunk_size=0)
    with pytest.raises(ValueError, match="trace"):
        ffjord.log_prob(flow, np.zeros((5, 2)), trace="approx")
    with pytest.raises(ValueError, match="num_points"):
        ffjord.grid_log_prob(flow, num_points=1)
    with pytest.raises(ValueError, match="state_derivatives"):
        ffjord.stack_ffjord([])


def test_the_decaying_optimizer_falls_from_the_rate_to_its_final_fraction():
    optimizer = ffjord.decaying_adam(0.01, 100, final_fraction=0.1)

    import tf_keras

    schedule = tf_keras.optimizers.schedules.deserialize(optimizer.get_config()["learning_rate"])

    def rate_at(step):
        return float(schedule(step))

    assert rate_at(0) == pytest.approx(0.01)
    assert rate_at(50) == pytest.approx(0.01 * (0.1 + 0.9 * 0.5))
    assert rate_at(100) == pytest.approx(0.001)
    assert rate_at(200) == pytest.approx(0.001)
    with pytest.raises(ValueError, match="decay_steps"):
        ffjord.decaying_adam(0.01, 0)
    with pytest.raises(ValueError, match="final_fraction"):
        ffjord.decaying_adam(0.01, 10, final_fraction=1.5)


def test_snapshot_epochs_run_from_zero_to_the_last_epoch():
    assert ffjord.snapshot_epochs(40, 4) == [0, 10, 20, 30, 40]
    assert ffjord.snapshot_epochs(2, 4) == [0, 1, 2]
    with pytest.raises(ValueError, match="count"):
        ffjord.snapshot_epochs(10, 0)


def test_the_snapshot_callback_records_only_the_chosen_epochs():
    flow = ffjord.build_ffjord(1, (4,), zero_init=True)
    base = np.zeros((8, 2), np.float32)
    record = ffjord.snapshot_callback(flow, base, np.zeros((2, 5, 2)), [0, 3])
    assert record(1, None) is None
    snap = record(3, None)
    assert snap["epoch"] == 3
    assert snap["samples"].shape == (8, 2)


@pytest.mark.slow
def test_compare_traces_reports_both_estimators_on_the_same_points():
    tf.random.set_seed(4)
    flow = ffjord.build_ffjord(1, (4,))
    points = moons(64, seed=1)
    result = ffjord.compare_traces(flow, points, repeats=3, chunk_size=64)
    assert result["exact_nll"] == pytest.approx(ffjord.held_out_nll(flow, points)[0], rel=1e-5)
    assert result["hutchinson_point_sd"] > 0
    assert abs(result["hutchinson_nll"] - result["exact_nll"]) < 1.0
    assert result["exact_seconds"] > 0 and result["hutchinson_seconds"] > 0


def test_a_bdf_flow_evaluates_through_the_fixed_shape_helpers():
    # BDF's loops need static shapes: the helpers pad every call to one chunk shape.
    flow = ffjord.build_ffjord(1, (4,), solver="bdf", atol=1e-4, rtol=1e-3, zero_init=True)
    points = np.array([[0.2, -0.1], [1.0, 0.5], [-0.3, 0.8]], np.float32)
    np.testing.assert_allclose(
        ffjord.log_prob(flow, points, chunk_size=8),
        flow.base_distribution.log_prob(points),
        atol=1e-4,
    )
