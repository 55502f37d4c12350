"""Tests of support.flows.single_solve: every FFJORD flow in one fixed-step loop (the fast loss)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.integrate
import tensorflow as tf

from support.flows import ffjord, single_solve
from support.flows.ode import MLPODE
from support.flows.solvers import FixedStepSolver


def _flow(num_flows=2, hidden_sizes=(6, 5), *, activation="tanh", solver=None, dtype=tf.float32):
    solver = solver or FixedStepSolver(num_steps=3)
    flow = ffjord.build_ffjord(
        num_flows, hidden_sizes, activation=activation, solver=solver, dtype=dtype, seed=1
    )
    # Nudge every weight and bias away from its initial value (the fields differ more).
    for variable in flow.trainable_variables:
        variable.assign_add(
            0.3 * tf.random.stateless_normal(variable.shape, [7, 1], dtype=variable.dtype)
        )
    return flow


def _points(dtype=tf.float32, n=13):
    return tf.random.stateless_normal([n, 2], [3, 4], dtype=dtype)


def _loss_and_gradients(flow, loss_fn, points, jit_compile=False):
    variables = list(flow.trainable_variables)

    def compute():
        with tf.GradientTape() as tape:
            loss = loss_fn(points)
        return loss, tape.gradient(loss, variables)

    if jit_compile:
        compute = tf.function(compute, jit_compile=True)
    return compute()


def _bijector_loss(flow, kinetic=0.0):
    distribution = flow.training_distribution(kinetic)  # `flow.distribution` at kinetic 0
    return lambda points: -tf.reduce_mean(distribution.log_prob(points))


@pytest.mark.parametrize(
    ("num_flows", "hidden_sizes", "activation"),
    [(1, (6,), "tanh"), (2, (6, 5), "tanh"), (3, (4, 4), "softplus"), (2, (6, 5), "swish")],
)
def test_the_single_loop_log_density_equals_the_bijector_stacks(
    num_flows, hidden_sizes, activation, dtype
):
    solver = FixedStepSolver(num_steps=3)
    flow = _flow(num_flows, hidden_sizes, activation=activation, solver=solver, dtype=dtype)
    points = _points(dtype)
    got = single_solve.log_prob(flow.state_derivatives, flow.base_distribution, solver, points)
    want = flow.distribution.log_prob(points)
    assert got.shape == want.shape == (13,)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)
    # The flows do not commute: the same fields in the other order give another density.
    swapped = single_solve.log_prob(
        flow.state_derivatives[::-1], flow.base_distribution, solver, points
    )
    if num_flows > 1:
        assert np.abs(swapped.numpy() - want.numpy()).max() > 1e-3


@pytest.mark.parametrize(("jit_compile", "kinetic"), [(False, 0.0), (True, 0.0), (True, 0.05)])
def test_the_training_loss_and_its_gradients_equal_the_bijector_stacks(jit_compile, kinetic):
    flow = _flow(3)
    points = _points()
    loss_fn = functools.partial(flow.loss, kinetic=kinetic)
    loss, gradients = _loss_and_gradients(flow, loss_fn, points, jit_compile)
    want_loss, want_gradients = _loss_and_gradients(flow, _bijector_loss(flow, kinetic), points)
    np.testing.assert_allclose(loss.numpy(), want_loss.numpy(), rtol=1e-5)
    assert len(gradients) == len(want_gradients) == 3 * 3 * 2  # flows x layers x (w, b)
    for got, want in zip(gradients, want_gradients, strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)
    assert all(float(tf.reduce_max(tf.abs(g))) > 0 for g in gradients)


def test_extra_leading_axes_are_kept():
    flow = _flow()
    points = tf.reshape(_points(n=12), [3, 4, 2])
    got = single_solve.log_prob(flow.state_derivatives, flow.base_distribution, flow.solver, points)
    assert got.shape == (3, 4)
    want = flow.distribution.log_prob(points)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def _built(**kwargs):
    field = MLPODE(**{"hidden_sizes": (4,), "output_size": 2, **kwargs})
    field(0.0, tf.zeros([1, 2]))
    return field


def test_supports_only_same_shaped_built_mlp_fields_with_a_fixed_step_solver_and_exact_trace():
    fields = [_built(), _built()]
    rk4 = FixedStepSolver()
    assert single_solve.supports(fields, rk4, "exact")
    assert not single_solve.supports(fields, rk4, "hutchinson")
    assert not single_solve.supports(fields, ffjord.make_solver("dormand_prince"), "exact")
    assert not single_solve.supports([], rk4, "exact")
    assert not single_solve.supports([_built(), _built(hidden_sizes=(5,))], rk4, "exact")
    assert not single_solve.supports([_built(), _built(activation="softplus")], rk4, "exact")
    assert not single_solve.supports([_built(activation=tf.math.sin)], rk4, "exact")
    assert not single_solve.supports([lambda t, z: z], rk4, "exact")
    assert not single_solve.supports([MLPODE(hidden_sizes=(4,))], rk4, "exact")  # not built


def test_an_autodiff_solver_trains_through_the_bijectors_under_xla():
    # With backprop="autodiff" XLA cannot compile the gradient of the fused loop's segments
    # ("Cannot find body function"): such a stack must train through its bijectors.
    solver = FixedStepSolver(num_steps=3, backprop="autodiff")
    flow, fused = _flow(solver=solver), _flow()
    for mine, theirs in zip(flow.trainable_variables, fused.trainable_variables, strict=True):
        mine.assign(theirs)  # the same weights
    assert not single_solve.supports(flow.state_derivatives, solver, "exact")
    with pytest.raises(ValueError, match="backprop='recompute'"):
        single_solve.log_prob(flow.state_derivatives, flow.base_distribution, solver, _points())
    loss, gradients = _loss_and_gradients(flow, flow.loss, _points(), jit_compile=True)
    want_loss, want_gradients = _loss_and_gradients(fused, fused.loss, _points())
    np.testing.assert_allclose(loss.numpy(), want_loss.numpy(), rtol=1e-5)
    for got, want in zip(gradients, want_gradients, strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)


def test_a_stack_it_does_not_support_trains_through_the_bijectors_with_the_same_loss():
    flow = _flow(solver=ffjord.make_solver("dormand_prince"))
    points = _points()
    assert not single_solve.supports(flow.state_derivatives, flow.solver, flow.trace)
    np.testing.assert_allclose(
        flow.loss(points).numpy(), _bijector_loss(flow)(points).numpy(), rtol=1e-6
    )


def test_bad_arguments_raise_a_value_error_naming_them():
    flow = _flow()
    with pytest.raises(ValueError, match="points must have last axis 2"):
        single_solve.log_prob(
            flow.state_derivatives, flow.base_distribution, flow.solver, tf.zeros([4, 3])
        )
    with pytest.raises(ValueError, match="FixedStepSolver"):
        single_solve.log_prob(
            flow.state_derivatives,
            flow.base_distribution,
            ffjord.make_solver("dormand_prince"),
            tf.zeros([4, 2]),
        )


def test_the_kinetic_penalty_lowers_the_fused_log_density_by_its_weight_times_the_energy():
    flow, points = _flow(), _points()
    fields, base, solver = flow.state_derivatives, flow.base_distribution, flow.solver
    plain = single_solve.log_prob(fields, base, solver, points).numpy()
    penalties = [
        plain - single_solve.log_prob(fields, base, solver, points, kinetic=k).numpy()
        for k in (0.1, 0.3)
    ]
    assert (penalties[0] > 0).all()  # the energy of a moving point is positive
    np.testing.assert_allclose(penalties[1], 3 * penalties[0], rtol=1e-4)  # linear in it
    with pytest.raises(ValueError, match="kinetic"):
        single_solve.log_prob(fields, base, solver, points, kinetic=-0.1)


def _path_energy(fields, points):
    """Each point's kinetic energy along its path from the data back to the base, summed over
    the flows (the last flow first, each from t = 1 to 0), integrated by scipy's own solver."""
    z, energy = np.asarray(points, np.float64), np.zeros(len(points))
    shape, size = z.shape, z.size
    for field in reversed(fields):

        def augmented(t, y, field=field):
            velocity = field(t, tf.constant(y[:size].reshape(shape))).numpy()
            return np.append(velocity.ravel(), np.sum(velocity**2, axis=1))

        y0 = np.append(z.ravel(), np.zeros(len(z)))
        end = scipy.integrate.solve_ivp(augmented, (1.0, 0.0), y0, rtol=1e-10, atol=1e-10).y[:, -1]
        z, energy = end[:size].reshape(shape), energy - end[size:]  # t runs backwards
    return energy


def test_without_a_fused_loss_the_penalised_loss_adds_the_weight_times_the_paths_energy():
    # An adaptive solver has no fused loss: `flow.loss` runs `training_distribution(kinetic)`,
    # the bijector stack with the penalised trace augmentation.
    solver = ffjord.make_solver("dormand_prince", atol=1e-9, rtol=1e-9)
    flow, points = _flow(solver=solver, dtype=tf.float64), _points(tf.float64)
    assert not single_solve.supports(flow.state_derivatives, flow.solver, flow.trace)
    added = (flow.loss(points, kinetic=0.1) - flow.loss(points)).numpy()
    want = 0.1 * _path_energy(flow.state_derivatives, points).mean()
    assert want > 1e-3  # the points move
    np.testing.assert_allclose(added, want, rtol=1e-6)
