"""Tests of support.flows.solvers: the fixed-step solver behind the fast FFJORD path (02)."""

from __future__ import annotations

import numpy as np
import pytest
import sonnet as snt
import tensorflow as tf
import tensorflow_probability as tfp

from support.flows.solvers import FixedStepSolver
from support.flows.traces import trace_jacobian_exact_unrolled

tfb, tfd = tfp.bijectors, tfp.distributions

# Global error of each method on dz/dt = a z over unit time: C * h^order.
ORDERS = {"euler": 1, "midpoint": 2, "rk4": 4}


def _linear_solution(method, num_steps, rate, dtype, unroll=False):
    solver = FixedStepSolver(num_steps, method, backprop="autodiff", unroll=unroll)
    results = solver.solve(
        lambda t, z: rate * z,
        initial_time=0.0,
        initial_state=tf.constant([1.0, -2.0], dtype),
        solution_times=[1.0],
    )
    return results.states[-1].numpy()


@pytest.mark.parametrize("method", sorted(ORDERS))
def test_linear_ode_converges_to_exp_at_the_methods_order(method):
    rate = -1.3
    exact = np.exp(rate) * np.array([1.0, -2.0])
    errors = [np.abs(_linear_solution(method, n, rate, tf.float64) - exact).max() for n in (8, 16)]
    observed_order = np.log2(errors[0] / errors[1])
    assert abs(observed_order - ORDERS[method]) < 0.2


def test_rk4_with_the_default_steps_solves_a_linear_ode_to_float32_precision(dtype):
    # RK4's error on dz/dt = a z with h = 1/8 and |a| = 1.3 is about 1e-6 relative.
    got = _linear_solution("rk4", 8, -1.3, dtype)
    np.testing.assert_allclose(got, np.exp(-1.3) * np.array([1.0, -2.0]), rtol=1e-5)
    assert got.dtype == dtype.as_numpy_dtype


def test_while_loop_and_unrolled_steps_give_the_same_solution(dtype):
    looped = _linear_solution("rk4", 5, 0.7, dtype, unroll=False)
    unrolled = _linear_solution("rk4", 5, 0.7, dtype, unroll=True)
    np.testing.assert_allclose(looped, unrolled, rtol=1e-6)


def test_time_enters_the_field_at_the_stage_times():
    # dz/dt = 3 t^2 from z(0.5) = 0: z(t) = t^3 - 0.125, integrated exactly by RK4.
    results = FixedStepSolver(3).solve(
        lambda t, z: 3.0 * t**2 * tf.ones_like(z),
        initial_time=0.5,
        initial_state=tf.zeros([1], tf.float64),
        solution_times=[1.0, 2.0],
    )
    np.testing.assert_allclose(results.states.numpy()[:, 0], [0.875, 7.875], rtol=1e-12)
    np.testing.assert_allclose(results.times.numpy(), [1.0, 2.0])


def test_nested_states_and_constants_are_passed_through():
    def ode_fn(t, state, scale):
        z, w = state
        return scale * z, tf.ones_like(w)

    results = FixedStepSolver(16).solve(
        ode_fn,
        initial_time=0.0,
        initial_state=(tf.constant([1.0], tf.float64), tf.constant([0.0], tf.float64)),
        solution_times=[1.0],
        constants={"scale": tf.constant(np.log(2.0), tf.float64)},
    )
    z, w = results.states
    np.testing.assert_allclose(z.numpy()[-1], [2.0], rtol=1e-6)
    np.testing.assert_allclose(w.numpy()[-1], [1.0], rtol=1e-12)


def test_gradient_with_respect_to_the_initial_state_is_the_flow_jacobian():
    rate = tf.constant(0.9, tf.float64)
    start = tf.constant([1.0, 3.0], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(start)
        end = FixedStepSolver(10).solve(lambda t, z: rate * z, 0.0, start, [1.0]).states[-1]
        total = tf.reduce_sum(end)
    np.testing.assert_allclose(tape.gradient(total, start).numpy(), np.exp(0.9), rtol=1e-5)


def _nested_gradients(backprop, compiled=False, scale_dtype=tf.float64):
    """Gradients of a nested solve with a constant and a variable, through the solver."""
    rng = np.random.default_rng(3)
    weights = tf.Variable(rng.normal(size=(2, 2)), dtype=tf.float64)
    scale = tf.constant(0.7, scale_dtype)
    start = tf.constant(rng.normal(size=(5, 2)), tf.float64)

    def ode_fn(t, state, scale):
        z, w = state
        dz = tf.tanh(z @ weights) * tf.cast(scale, tf.float64) + t * z
        return dz, tf.reduce_sum(dz * z, axis=-1)

    def run():
        with tf.GradientTape() as tape:
            tape.watch([start, scale])
            z, w = (
                FixedStepSolver(6, backprop=backprop)
                .solve(
                    ode_fn,
                    0.0,
                    (start, tf.zeros([5], tf.float64)),
                    [0.5, 1.0],
                    constants={"scale": scale},
                )
                .states
            )
            total = tf.reduce_sum(z[-1] ** 2) + tf.reduce_sum(tf.sin(w[-1])) + tf.reduce_sum(z[0])
        return tape.gradient(total, [start, scale, weights])

    return (tf.function(run, jit_compile=True) if compiled else run)()


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "xla"])
def test_recomputing_backprop_gives_the_gradients_of_differentiating_the_loop(compiled):
    # Gradients to the initial state, a constant and a variable, with two output times and
    # a nested state: the step-by-step backward loop must agree with TensorFlow's own.
    recomputed = _nested_gradients("recompute", compiled)
    differentiated = _nested_gradients("autodiff")
    for a, b in zip(recomputed, differentiated, strict=True):
        assert a is not None
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    assert np.abs(differentiated[2].numpy()).max() > 1e-3  # the variable's gradient is not zero


def test_recomputing_backprop_sums_gradients_of_mixed_dtypes_tensor_by_tensor():
    # The backward loop sums the constants' and variables' gradients as one flat vector
    # when they share a dtype; a float32 constant beside float64 weights takes the
    # per-tensor sums, which must give the same gradients.
    recomputed = _nested_gradients("recompute", scale_dtype=tf.float32)
    differentiated = _nested_gradients("autodiff", scale_dtype=tf.float32)
    assert recomputed[1].dtype == tf.float32
    for a, b in zip(recomputed, differentiated, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-9)
    assert abs(float(differentiated[1])) > 1e-3  # the constant's gradient is not zero


def test_a_tableau_whose_stages_read_earlier_slopes_recomputes_whole_steps(monkeypatch):
    # Kutta's third-order method: its last stage reads the first slope, not only the one
    # before it, so the backward loop recomputes whole steps from their stored starts
    # rather than stages; its gradients must still equal TensorFlow's own.
    from support.flows import runge_kutta
    from support.flows.rk_stages import chained_stages

    kutta = (((0.5,), (-1.0, 2.0)), (1 / 6, 2 / 3, 1 / 6), (0.0, 0.5, 1.0))
    monkeypatch.setitem(runge_kutta.METHODS, "kutta3", kutta)
    assert chained_stages(kutta) is None
    weights = tf.Variable([[0.3, -0.8], [0.5, 0.2]], dtype=tf.float64)
    scale = tf.constant(0.7, tf.float64)
    start = tf.constant([[1.0, -0.5], [0.2, 0.9], [-1.3, 0.4]], tf.float64)

    def field(t, state, scale):
        z, _ = state
        dz = tf.tanh(z @ weights) * scale + t * z
        return dz, tf.reduce_sum(dz * z, axis=-1)

    def gradients(backprop):
        with tf.GradientTape() as tape:
            tape.watch([start, scale])
            z, w = runge_kutta.integrate(
                field,
                tf.constant(0.0, tf.float64),
                tf.constant(1.0, tf.float64),
                (start, tf.zeros([3], tf.float64)),
                num_steps=5,
                method="kutta3",
                backprop=backprop,
                constants={"scale": scale},
            )
            total = tf.reduce_sum(z**2) + tf.reduce_sum(tf.sin(w))
        return tape.gradient(total, [start, scale, weights])

    differentiated = gradients("autodiff")
    for a, b in zip(gradients("recompute"), differentiated, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    assert np.abs(differentiated[2].numpy()).max() > 1e-3  # the variable's gradient is not zero


def test_unknown_backprop_and_unroll_without_autodiff_are_rejected():
    with pytest.raises(ValueError, match="backprop"):
        FixedStepSolver(4, backprop="adjoint")
    with pytest.raises(ValueError, match="unroll"):
        FixedStepSolver(4, unroll=True)


def test_diagnostics_count_one_evaluation_per_stage_and_step():
    results = FixedStepSolver(6, "midpoint").solve(
        lambda t, z: z, 0.0, tf.ones([2]), solution_times=[0.5, 1.0, 1.5]
    )
    assert results.diagnostics.num_ode_fn_evaluations == 2 * 6 * 3
    assert results.states.shape == (3, 2)


@pytest.mark.parametrize(
    ("num_steps", "error"),
    [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError), ("8", TypeError)],
)
def test_num_steps_must_be_a_positive_integer(num_steps, error):
    with pytest.raises(error, match="num_steps"):
        FixedStepSolver(num_steps)


def test_unknown_method_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match="method must be one of"):
        FixedStepSolver(4, "rk45")


def test_solver_chosen_output_times_are_rejected():
    with pytest.raises(ValueError, match="ChosenBySolver"):
        FixedStepSolver().solve(lambda t, z: z, 0.0, tf.ones([2]), tfp.math.ode.ChosenBySolver(1.0))


def test_empty_solution_times_are_rejected():
    with pytest.raises(ValueError, match="solution_times"):
        FixedStepSolver().solve(lambda t, z: z, 0.0, tf.ones([2]), [])


# ---------------------------------------------------------------- FFJORD on an MLP field


class _Field(snt.Module):
    """A small tanh MLP state derivative with time as an input column."""

    def __init__(self, seed, dtype):
        super().__init__(name="mlp_field")
        init = snt.initializers.RandomNormal(stddev=0.8, seed=seed)
        self.hidden = snt.Linear(16, w_init=init, b_init=init)
        self.out = snt.Linear(2, w_init=init, b_init=init)
        self.dtype = dtype

    def __call__(self, t, z):
        time = tf.fill([tf.shape(z)[0], 1], tf.cast(t, z.dtype))
        return self.out(tf.tanh(self.hidden(tf.concat([time, z], -1))))


def _flow(solve, trace, fields, dtype):
    bijectors = [
        tfb.FFJORD(
            state_time_derivative_fn=f, ode_solve_fn=solve, trace_augmentation_fn=trace, dtype=dtype
        )
        for f in fields
    ]
    base = tfd.MultivariateNormalDiag(tf.zeros([2], dtype), tf.fill([2], tf.cast(0.8, dtype)))
    return tfd.TransformedDistribution(base, tfb.Chain(bijectors))


def _fields(seed, dtype, count=2):
    """`count` fields whose weights are N(0, 0.8^2) draws from NumPy's generator for `seed`,
    so the same seed gives the same fields whatever ran before (TF's op seeds do not)."""
    fields = [_Field(seed + i, dtype) for i in range(count)]
    rng = np.random.default_rng(seed)
    for f in fields:
        f(0.0, tf.zeros([1, 2], dtype))
        for variable in f.variables:
            variable.assign(rng.normal(scale=0.8, size=variable.shape))
    return fields


def _points(seed, dtype):
    return tf.constant(np.random.default_rng(seed).normal(size=(64, 2)), dtype)


def _fields_like(fields, dtype):
    """Copies of `fields` computing in `dtype`, with the same (cast) weights."""
    copies = _fields(0, dtype, count=len(fields))
    for copy, field in zip(copies, fields, strict=True):
        for target, source in zip(copy.variables, field.variables, strict=True):
            target.assign(tf.cast(source, dtype))
    return copies


@pytest.mark.slow
def test_ffjord_log_prob_matches_a_tight_dormand_prince_solve(seed, dtype):
    # Stated tolerance, on deliberately strong random fields (weights ~ N(0, 0.8^2)), at
    # points the flow itself generates (where a density model is used): 16 RK4 steps per
    # flow agree with a float64 adaptive solve of the same fields within 2e-3 nats and 8
    # steps within 3e-2, in either dtype. Measured over 21 such fields the largest errors
    # were 1.2e-3 and 1.6e-2, with a heavy tail across fields (the median field: 1e-4 and
    # 2.7e-3). A trained moons flow is gentler: notebook 02 checks its 8-step answer to 1e-2.
    fields = _fields(seed, tf.float64)
    reference = _flow(
        tfp.math.ode.DormandPrince(rtol=1e-9, atol=1e-9).solve,
        tfb.ffjord.trace_jacobian_exact,
        fields,
        tf.float64,
    )
    points = tf.function(lambda: reference.sample(64, seed=(seed, 3)))()
    expected = tf.function(reference.log_prob)(points).numpy()
    same_fields = _fields_like(fields, dtype)
    for num_steps, tolerance in ((8, 3e-2), (16, 2e-3)):
        fast = _flow(
            FixedStepSolver(num_steps).solve, trace_jacobian_exact_unrolled, same_fields, dtype
        )
        actual = fast.log_prob(tf.cast(points, dtype)).numpy()
        np.testing.assert_allclose(actual, expected, atol=tolerance)


@pytest.mark.slow
def test_ffjord_log_prob_error_shrinks_at_fourth_order(seed):
    fields = _fields(seed, tf.float64)
    points = _points(seed, tf.float64)
    exact = tfb.ffjord.trace_jacobian_exact
    reference = _flow(
        tfp.math.ode.DormandPrince(rtol=1e-10, atol=1e-10).solve, exact, fields, tf.float64
    )
    reference = tf.function(reference.log_prob)(points).numpy()
    errors = [
        np.abs(
            _flow(FixedStepSolver(n).solve, exact, fields, tf.float64).log_prob(points).numpy()
            - reference
        ).max()
        for n in (4, 8)
    ]
    assert 2**3 < errors[0] / errors[1] < 2**5


def test_log_prob_gradients_match_central_finite_differences(seed):
    fields = _fields(seed, tf.float64)
    points = _points(seed, tf.float64)
    flow = _flow(FixedStepSolver(4).solve, trace_jacobian_exact_unrolled, fields, tf.float64)
    variables = [v for f in fields for v in f.trainable_variables]

    @tf.function  # traced once: the variables are read at each call
    def mean_log_prob():
        return tf.reduce_mean(flow.log_prob(points))

    with tf.GradientTape() as tape:
        value = mean_log_prob()
    gradients = tape.gradient(value, variables)
    rng = np.random.default_rng(seed)
    eps = 1e-5
    for variable, gradient in zip(variables, gradients, strict=True):
        # A random direction per variable: the directional derivative checks every entry.
        direction = rng.normal(size=variable.shape)
        original = variable.numpy()
        variable.assign(original + eps * direction)
        plus = float(mean_log_prob())
        variable.assign(original - eps * direction)
        minus = float(mean_log_prob())
        variable.assign(original)
        numeric = (plus - minus) / (2 * eps)
        analytic = float(np.sum(gradient.numpy() * direction))
        assert numeric == pytest.approx(analytic, rel=1e-6, abs=1e-8), variable.name


def test_an_xla_compiled_training_gradient_equals_the_eager_one(seed):
    fields = _fields(seed, tf.float32, count=1)
    points = _points(seed, tf.float32)
    flow = _flow(FixedStepSolver(3).solve, trace_jacobian_exact_unrolled, fields, tf.float32)
    variables = list(fields[0].trainable_variables)

    def loss_and_gradients():
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(flow.log_prob(points))
        return loss, tape.gradient(loss, variables)

    compiled = tf.function(loss_and_gradients, jit_compile=True)
    eager_loss, eager_gradients = loss_and_gradients()
    xla_loss, xla_gradients = compiled()
    np.testing.assert_allclose(xla_loss.numpy(), eager_loss.numpy(), rtol=1e-5)
    for a, b in zip(xla_gradients, eager_gradients, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


def _segmented_solve(backprop, unroll=False, segments=3):
    """dz/dt = a_j z + t on segment j of [0, 3]: segments with their own rate, in one solve."""
    from support.flows.runge_kutta import integrate

    rates = tf.constant([-0.5, 1.2, 0.3], tf.float64)
    z0 = tf.constant([1.0, -2.0], tf.float64)
    with tf.GradientTape() as tape:
        tape.watch([rates, z0])
        if segments == 3:
            z1 = integrate(
                lambda t, z, rate: rate * z + t,
                tf.constant(0.0, tf.float64),
                tf.constant(3.0, tf.float64),
                z0,
                num_steps=12,
                backprop=backprop,
                unroll=unroll,
                constants={"rates": rates},
                segments=3,
                per_segment=lambda j, rates: {"rate": tf.gather(rates, j)},
            )
        else:  # the same solve, one segment at a time
            z1 = z0
            for j in range(3):
                z1 = integrate(
                    lambda t, z, rate: rate * z + t,
                    tf.constant(float(j), tf.float64),
                    tf.constant(float(j + 1), tf.float64),
                    z1,
                    num_steps=4,
                    backprop=backprop,
                    constants={"rate": rates[j]},
                )
        loss = tf.reduce_sum(z1 * [0.7, -1.1])
    return [tf.convert_to_tensor(x).numpy() for x in (z1, *tape.gradient(loss, [rates, z0]))]


@pytest.mark.parametrize(
    ("backprop", "unroll"), [("recompute", False), ("autodiff", False), ("autodiff", True)]
)
def test_segments_with_their_own_arguments_equal_separate_solves(backprop, unroll):
    together = _segmented_solve(backprop, unroll)
    apart = _segmented_solve("autodiff", segments=1)
    for got, want in zip(together, apart, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert np.all(np.abs(together[1]) > 0)  # every segment's rate gets a gradient


def test_segments_must_divide_the_steps():
    from support.flows.runge_kutta import integrate

    with pytest.raises(ValueError, match="segments=5 must divide num_steps=12"):
        integrate(lambda t, z: z, 0.0, 1.0, tf.ones([2]), num_steps=12, segments=5)
    for bad, error in ((0, ValueError), (-2, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="segments must be an integer"):
            integrate(lambda t, z: z, 0.0, 1.0, tf.ones([2]), num_steps=12, segments=bad)
