"""Tests of support.flows.ffjord: the FFJORD flows of notebook 02."""

import functools
import inspect
import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from support.data.moons import moons, moons_dataset
from support.flows import ffjord, flow_eval
from support.flows.solvers import FixedStepSolver
from support.training import fit

tfb, tfd = tfp.bijectors, tfp.distributions

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
def test_a_few_training_steps_on_tiny_data_lower_the_nll():
    tf.random.set_seed(3)
    flow = ffjord.build_ffjord(1, (8,), atol=1e-4, rtol=1e-3)
    points = moons(256, seed=0)
    before = flow_eval.held_out_nll(flow, points, chunk_size=256).mean
    history = fit(
        flow.loss,
        flow.trainable_variables,
        moons_dataset(points, 64, seed=0),
        epochs=3,
        learning_rate=3e-2,
        progress=False,
    )
    after = flow_eval.held_out_nll(flow, points, chunk_size=256).mean
    assert history.steps == 12
    assert after < before - 0.05


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_flows": 0}, "num_flows"),
        ({"event_size": 0}, "event_size"),
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


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"solver": 42}, "solver"),
        ({"num_flows": 2.0}, "num_flows"),
        ({"event_size": 2.0}, "event_size"),
        ({"atol": "1e-5"}, "atol"),
        ({"base_scale": True}, "base_scale"),
        ({"dtype": "not a dtype"}, "dtype"),
    ],
)
def test_bad_builder_argument_types_raise_a_type_error_naming_them(kwargs, match):
    with pytest.raises(TypeError, match=match):
        ffjord.build_ffjord(**kwargs)


def test_register_solver_checks_the_name_and_the_factory():
    with pytest.raises(ValueError, match="name"):
        ffjord.register_solver("", lambda atol, rtol: None)
    with pytest.raises(TypeError, match="name"):
        ffjord.register_solver(3, lambda atol, rtol: None)
    with pytest.raises(TypeError, match="factory"):
        ffjord.register_solver("mine", None)
    assert "mine" not in ffjord.SOLVERS


def test_an_empty_stack_of_state_derivatives_is_rejected():
    with pytest.raises(ValueError, match="state_derivatives"):
        ffjord.stack_ffjord([])


def test_rk4_is_registered_and_builds_the_fixed_step_solver():
    solver = ffjord.make_solver("rk4")
    assert isinstance(solver, FixedStepSolver)
    assert (solver.num_steps, solver.method) == (12, "rk4")


def test_a_fixed_step_solver_with_either_trace_is_xla_trainable_an_adaptive_one_is_not():
    assert ffjord.xla_trainable(FixedStepSolver(), "exact")
    assert ffjord.xla_trainable(FixedStepSolver(), "hutchinson")
    assert not ffjord.xla_trainable(tfp.math.ode.DormandPrince(), "exact")
    with pytest.raises(ValueError, match="trace"):
        ffjord.xla_trainable(FixedStepSolver(), "approx")


def _hand_built(fields, solver, trace_augmentation_fn):
    """The chain notebook 02 builds on its page, for the given fields."""
    tfb, tfd = tfp.bijectors, tfp.distributions
    bijectors = [
        tfb.FFJORD(
            state_time_derivative_fn=field,
            ode_solve_fn=solver.solve,
            trace_augmentation_fn=trace_augmentation_fn,
        )
        for field in fields
    ]
    return tfd.TransformedDistribution(
        distribution=tfd.MultivariateNormalDiag(loc=[0.0, 0.0], scale_diag=[0.8, 0.8]),
        bijector=tfb.Chain(bijectors[::-1]),
    )


def test_build_ffjord_makes_the_chain_the_notebook_builds_by_hand(seed):
    from support.flows.traces import trace_jacobian_exact_fast

    tf.random.set_seed(seed)
    built = ffjord.build_ffjord(2, (6,), solver="rk4")
    by_hand = _hand_built(built.state_derivatives, built.solver, trace_jacobian_exact_fast)
    points = tf.constant(moons(64, seed=seed))
    np.testing.assert_allclose(
        by_hand.log_prob(points).numpy(), built.distribution.log_prob(points).numpy(), rtol=1e-6
    )
    wrapped = ffjord.FFJORDFlow.of(by_hand)
    assert wrapped.state_derivatives == built.state_derivatives
    assert wrapped.solver is built.solver and wrapped.trace == "exact"
    assert wrapped.trainable_variables and len(wrapped.trainable_variables) == len(
        built.trainable_variables
    )
    np.testing.assert_allclose(float(wrapped.loss(points)), float(built.loss(points)), rtol=1e-6)


def test_wrapping_reads_the_trace_estimator_from_the_chain():
    from support.flows.traces import trace_jacobian_exact_unrolled, trace_jacobian_hutchinson

    built = ffjord.build_ffjord(2, (4,), solver="rk4")
    fields, solver = built.state_derivatives, built.solver
    for trace_fn, name in [
        (tfb.ffjord.trace_jacobian_exact, "exact"),
        (trace_jacobian_exact_unrolled, "exact"),
        (functools.partial(tfb.ffjord.trace_jacobian_hutchinson, seed=(1, 2)), "hutchinson"),
        (functools.partial(trace_jacobian_hutchinson, seed=(1, 2)), "hutchinson"),
    ]:
        assert ffjord.FFJORDFlow.of(_hand_built(fields, solver, trace_fn)).trace == name


def test_wrapping_a_chain_of_unknown_pieces_is_a_value_error_naming_them():
    from support.flows.traces import trace_jacobian_exact_fast

    built = ffjord.build_ffjord(2, (4,), solver="rk4")
    fields = built.state_derivatives
    with pytest.raises(ValueError, match="trace_augmentation_fn"):
        ffjord.FFJORDFlow.of(_hand_built(fields, built.solver, lambda fn, shape, dtype: fn))
    mixed = _hand_built(fields, built.solver, trace_jacobian_exact_fast)
    mixed.bijector.bijectors[0]._ode_solve_fn = ffjord.make_solver("rk4").solve
    with pytest.raises(ValueError, match="ode_solve_fn"):
        ffjord.FFJORDFlow.of(mixed)
    base = tfd.MultivariateNormalDiag(loc=[0.0, 0.0], scale_diag=[1.0, 1.0])
    with pytest.raises(ValueError, match="tfb.FFJORD"):
        ffjord.FFJORDFlow.of(tfd.TransformedDistribution(base, tfb.Exp()))


def test_wrapping_a_chain_over_another_time_interval_is_a_value_error_naming_it():
    from support.flows.traces import trace_jacobian_exact_fast

    built = ffjord.build_ffjord(2, (4,), solver="rk4")
    bijectors = [
        tfb.FFJORD(
            state_time_derivative_fn=field,
            ode_solve_fn=built.solver.solve,
            trace_augmentation_fn=trace_jacobian_exact_fast,
            final_time=0.5 if k == 1 else 1.0,
        )
        for k, field in enumerate(built.state_derivatives)
    ]
    shorter = tfd.TransformedDistribution(built.base_distribution, tfb.Chain(bijectors[::-1]))
    with pytest.raises(ValueError, match="final_time 1 .*got initial_time 0, final_time 0.5"):
        ffjord.FFJORDFlow.of(shorter)


def test_ffjord_chain_applies_the_first_field_first_and_wraps_as_an_ffjord_flow():
    from support.flows.ode import MLPODE

    fields = [MLPODE(hidden_sizes=[4], output_size=2) for _ in range(2)]
    for field in fields:
        field(0.0, tf.zeros([1, 2]))
    solver = ffjord.make_solver("rk4")
    chain = ffjord.ffjord_chain(fields, solver.solve, tfb.ffjord.trace_jacobian_exact)
    z = tf.random.stateless_normal([5, 2], seed=[1, 2])
    one_by_one = z
    for field in fields:
        one_by_one = tfb.FFJORD(
            state_time_derivative_fn=field,
            ode_solve_fn=solver.solve,
            trace_augmentation_fn=tfb.ffjord.trace_jacobian_exact,
        ).forward(one_by_one)
    np.testing.assert_allclose(chain.forward(z).numpy(), one_by_one.numpy(), rtol=1e-5, atol=1e-6)
    base = tfd.MultivariateNormalDiag(tf.zeros([2]), tf.ones([2]))
    flow = ffjord.FFJORDFlow.of(tfd.TransformedDistribution(base, chain))
    assert flow.state_derivatives == fields


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (([], None, None), ValueError, "fields"),
        (([3], None, None), TypeError, "fields"),
        (([lambda t, z: z], 3, None), TypeError, "ode_solve_fn"),
        (([lambda t, z: z], lambda *a: a, "exact"), TypeError, "trace_augmentation_fn"),
    ],
)
def test_ffjord_chain_names_a_bad_argument(args, error, match):
    with pytest.raises(error, match=match):
        ffjord.ffjord_chain(*args)


def test_the_train_step_lowers_the_batchs_negative_log_likelihood():
    import tf_keras

    flow = ffjord.build_ffjord(1, (4,), solver="rk4", seed=3)
    batch = tf.random.stateless_normal([64, 2], seed=[5, 6]) * 0.3 + 1.0
    before = -tf.reduce_mean(flow.distribution.log_prob(batch))
    step = ffjord.make_train_step(flow.distribution, tf_keras.optimizers.Adam(0.05))
    losses = [float(step(batch)) for _ in range(5)]
    assert losses[0] == pytest.approx(float(before), rel=1e-5)
    assert losses[-1] < losses[0]
    # The optimizer's slots exist before the first call: tracing the step created no variable,
    # so TensorFlow traced it once (a step that creates them is traced a second time).
    assert step.experimental_get_tracing_count() == 1


def test_the_train_step_names_an_optimizer_it_cannot_build():
    class NoBuild:
        def apply_gradients(self, pairs):
            pass

    flow = ffjord.build_ffjord(1, (4,), solver="rk4", seed=3)
    with pytest.raises(TypeError, match="optimizer.build"):
        ffjord.make_train_step(flow.distribution, NoBuild())


def test_the_train_step_names_a_bad_optimizer():
    flow = ffjord.build_ffjord(1, (4,), solver="rk4", seed=3)
    with pytest.raises(TypeError, match="apply_gradients"):
        ffjord.make_train_step(flow.distribution, object())


def test_the_fast_recipe_sets_only_its_epochs_when_epochs_is_zero():
    assert ffjord.recipe_parameters("fast", 0) == {"EPOCHS": 150}
    assert ffjord.recipe_parameters("fast", 7) == {"EPOCHS": 7}


def test_the_demo_recipe_sets_the_demos_model_solver_trace_and_optimizer():
    assert ffjord.recipe_parameters("demo", 0) == {
        "NUM_FLOWS": 4,
        "HIDDEN_SIZES": [8, 8],
        "SOLVER": "dormand_prince",
        "ATOL": 1e-5,
        "RTOL": 1e-3,
        "TRACE": "exact",
        "LEARNING_RATE": 1e-2,
        "AVERAGE": 0.0,
        "KINETIC": 0.0,
        "EPOCHS": 40,
    }
    assert ffjord.recipe_parameters("demo", 2)["EPOCHS"] == 2
    ffjord.recipe_parameters("demo", 0)["HIDDEN_SIZES"].append(3)  # a page's in-place change
    assert ffjord.DEMO["HIDDEN_SIZES"] == [8, 8]


def test_apply_recipe_names_each_value_it_replaces_a_learners_too():
    page = {"EPOCHS": 0, "LEARNING_RATE": 0.003, "NUM_FLOWS": 4, "HIDDEN_SIZES": [16, 16]}
    said = ffjord.apply_recipe(page, "demo", 0)
    assert page["LEARNING_RATE"] == 1e-2 and page["EPOCHS"] == 40 and page["NUM_FLOWS"] == 4
    assert "LEARNING_RATE 0.01 (was 0.003)" in said and "EPOCHS 40 (was 0)" in said
    assert "HIDDEN_SIZES [8, 8] (was [16, 16])" in said
    assert "NUM_FLOWS" not in said  # the learner's value was the demo's already


def test_apply_recipe_says_when_it_changes_nothing_and_changes_nothing_on_bad_input():
    page = {"EPOCHS": 7}
    assert ffjord.apply_recipe(page, "fast", 7) == "RECIPE 'fast' changes no parameter"
    with pytest.raises(ValueError, match="recipe"):
        ffjord.apply_recipe(page, "slow", 0)
    assert page == {"EPOCHS": 7}


def test_an_unknown_recipe_or_negative_epochs_is_rejected_naming_it():
    with pytest.raises(ValueError, match="recipe"):
        ffjord.recipe_parameters("slow", 0)
    with pytest.raises(ValueError, match="epochs"):
        ffjord.recipe_parameters("fast", -1)


def test_tfb_ffjords_defaults_are_the_ones_notebook_02_names():
    # Notebook 02: time from 0 to 1; Hutchinson's trace by default; without `ode_solve_fn`,
    # the `solve` of a DormandPrince() with its default tolerances.
    defaults = inspect.signature(tfb.FFJORD.__init__).parameters
    assert defaults["initial_time"].default == 0.0 and defaults["final_time"].default == 1.0
    assert defaults["trace_augmentation_fn"].default is tfb.ffjord.trace_jacobian_hutchinson
    assert defaults["ode_solve_fn"].default is None
    # A field that turns the plane by 2 radians, fast enough that both tolerances set the
    # steps: doubling either one changes the result.
    field = lambda t, z: 2.0 * tf.stack([z[:, 1], -z[:, 0]], axis=1)  # noqa: E731
    exact = tfb.ffjord.trace_jacobian_exact
    z = tf.constant([[1.0, 0.0]], tf.float64)
    solvers = {
        "left out": None,
        "DormandPrince()": tfp.math.ode.DormandPrince().solve,
        "twice the atol": tfp.math.ode.DormandPrince(atol=2e-6).solve,
        "twice the rtol": tfp.math.ode.DormandPrince(rtol=2e-3).solve,
    }
    moved = {
        name: tfb.FFJORD(
            field, ode_solve_fn=solve, trace_augmentation_fn=exact, dtype=tf.float64
        ).forward(z)
        for name, solve in solvers.items()
    }
    np.testing.assert_array_equal(moved["left out"], moved["DormandPrince()"])  # the same solve
    for other in ("twice the atol", "twice the rtol"):
        assert not np.array_equal(moved["left out"], moved[other]), other
    rotated = [[math.cos(2.0), -math.sin(2.0)]]
    np.testing.assert_allclose(moved["left out"], rotated, atol=1e-3)
