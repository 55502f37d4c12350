"""Tests of support.flows.traces: the Jacobian trace estimators of the FFJORD notebook (02)."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from support.flows.solvers import FixedStepSolver
from support.flows.traces import (
    TRACE_ESTIMATORS,
    augmentation_for,
    check_trace,
    trace_jacobian_exact_fast,
    trace_jacobian_exact_unrolled,
    trace_jacobian_hutchinson,
)

tfb, tfd = tfp.bijectors, tfp.distributions


def _random_field(seed, dtype):
    """A tanh MLP field `f(t, z)` with fixed random weights; time enters as a bias."""
    rng = np.random.default_rng(seed)
    w, v = (tf.constant(rng.normal(scale=0.8, size=(2, 2)), dtype) for _ in range(2))
    b = tf.constant(rng.normal(size=2), dtype)
    return lambda t, z: tf.tanh(z @ w + tf.cast(t, dtype) * b) @ v


def test_unrolled_exact_trace_equals_tfps_exact_trace(seed, dtype):
    field = _random_field(seed, dtype)
    z = tf.constant(np.random.default_rng(seed).normal(size=(64, 2)), dtype)
    ours = trace_jacobian_exact_unrolled(field, z.shape, dtype)(0.3, (z, tf.zeros_like(z)))
    tfps = tfb.ffjord.trace_jacobian_exact(field, z.shape, dtype)(0.3, (z, tf.zeros_like(z)))
    for a, b in zip(ours, tfps, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_unrolled_exact_trace_of_a_field_that_ignores_the_state_is_zero(dtype):
    z = tf.ones([3, 2], dtype)
    derivative, diagonal = trace_jacobian_exact_unrolled(
        lambda t, state: tf.ones([3, 2], dtype), z.shape, dtype
    )(0.0, (z, tf.zeros_like(z)))
    np.testing.assert_array_equal(diagonal.numpy(), np.zeros((3, 2)))
    np.testing.assert_array_equal(derivative.numpy(), np.ones((3, 2)))


def _ffjord_log_prob(field, trace_augmentation_fn, points, final_time):
    # The same fixed steps for every trace: the traces' results, not the solver's, differ.
    bijector = tfb.FFJORD(
        state_time_derivative_fn=field,
        trace_augmentation_fn=trace_augmentation_fn,
        final_time=final_time,
        ode_solve_fn=FixedStepSolver(num_steps=4).solve,
        dtype=tf.float64,
    )
    base = tfd.MultivariateNormalDiag(tf.zeros([2], tf.float64), tf.ones([2], tf.float64))
    flow = tfd.TransformedDistribution(base, bijector)
    return flow.log_prob(points), bijector.forward_log_det_jacobian(points, event_ndims=1)


def _count_one_pass_diagonals(monkeypatch) -> list:
    """Counts the calls of `ode.value_and_jacobian_diagonal` (the one-pass diagonal)."""
    from support.flows import ode

    calls, one_pass = [], ode.value_and_jacobian_diagonal
    monkeypatch.setattr(
        ode, "value_and_jacobian_diagonal", lambda *a, **k: calls.append(1) or one_pass(*a, **k)
    )
    return calls


@pytest.mark.parametrize("final_time", [1.0, 0.6])
def test_the_fast_exact_trace_of_an_mlp_field_is_one_pass_and_tfps_in_both_directions(
    seed, final_time, monkeypatch
):
    from support.flows.ode import MLPODE

    tf.random.set_seed(seed)
    counted = _count_one_pass_diagonals(monkeypatch)
    field = MLPODE(hidden_sizes=(6, 6), output_size=2)
    points = tf.constant(np.random.default_rng(seed).normal(size=(32, 2)), tf.float64)
    # log_prob runs the inverse (FFJORD's reversed field), forward_log_det_jacobian the forward.
    ours = _ffjord_log_prob(field, trace_jacobian_exact_fast, points, final_time)
    assert counted, "the field's own diagonal was not used"
    calls = len(counted)
    tfps = _ffjord_log_prob(field, tfb.ffjord.trace_jacobian_exact, points, final_time)
    assert len(counted) == calls
    for a, b in zip(ours, tfps, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-7, atol=1e-9)
    assert np.abs(ours[1].numpy()).max() > 1e-3  # the flow is not the identity


def _coupled_field(seed):
    """Not an MLPODE: a field whose every output depends on every coordinate and on time."""
    rng = np.random.default_rng(seed)
    w = tf.constant(rng.normal(scale=0.7, size=(2, 2)), tf.float64)
    return lambda t, z: tf.sin(z @ w) * (1.0 + tf.cast(t, tf.float64)) + 0.3 * z[..., ::-1] ** 2


@pytest.mark.parametrize("final_time", [1.0, 0.6])
def test_the_fast_exact_trace_of_an_arbitrary_field_equals_tfps_exact_trace(seed, final_time):
    field = _coupled_field(seed)
    points = tf.constant(np.random.default_rng(seed).normal(size=(32, 2)), tf.float64)
    ours = _ffjord_log_prob(field, trace_jacobian_exact_fast, points, final_time)
    tfps = _ffjord_log_prob(field, tfb.ffjord.trace_jacobian_exact, points, final_time)
    for a, b in zip(ours, tfps, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-7, atol=1e-9)
    assert np.abs(ours[1].numpy()).max() > 1e-3


def test_a_callable_activation_field_gets_the_tape_and_tfps_diagonal(seed):
    from support.flows.ode import MLPODE

    field = MLPODE(hidden_sizes=(4,), output_size=2, activation=tf.math.sin)
    z = tf.constant(np.random.default_rng(seed).normal(size=(8, 2)), tf.float32)
    ours = trace_jacobian_exact_fast(field, z.shape, z.dtype)(0.2, (z, z))
    tfps = tfb.ffjord.trace_jacobian_exact(field, z.shape, z.dtype)(0.2, (z, z))
    for a, b in zip(ours, tfps, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_a_state_of_unknown_size_falls_back_to_tfps_exact_trace(seed):
    field = _coupled_field(seed)
    z = tf.constant(np.random.default_rng(seed).normal(size=(8, 2)), tf.float64)

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.float64)])
    def diagonal(state):
        fn = trace_jacobian_exact_fast(field, tf.shape(state), state.dtype)
        return fn(0.4, (state, state))[1]

    expected = tfb.ffjord.trace_jacobian_exact(field, z.shape, z.dtype)(0.4, (z, z))[1]
    np.testing.assert_allclose(diagonal(z).numpy(), expected.numpy(), rtol=1e-10)


def test_augmentation_for_names_the_fast_exact_trace_and_the_seeded_hutchinson(seed):
    assert augmentation_for("exact") is trace_jacobian_exact_fast
    assert augmentation_for("hutchinson") is trace_jacobian_hutchinson
    generator = tf.random.Generator.from_seed(seed)
    assert augmentation_for("hutchinson", generator).keywords == {"generator": generator}
    with pytest.raises(ValueError, match="trace"):
        augmentation_for("exactly")


def test_the_named_estimators_are_the_fast_exact_trace_and_the_stateless_hutchinson():
    assert TRACE_ESTIMATORS["exact"] is trace_jacobian_exact_fast
    assert TRACE_ESTIMATORS["hutchinson"] is trace_jacobian_hutchinson


def _hutchinson_rows(field, z, seed, dtype):
    fn = trace_jacobian_hutchinson(field, z.shape, dtype, seed=seed)
    derivative, estimate = fn(0.3, (z, tf.zeros_like(z)))
    return derivative, tf.reduce_sum(estimate, axis=-1).numpy().astype(np.float64)


def test_hutchinson_trace_is_unbiased_within_four_standard_errors(seed, dtype):
    field = _random_field(seed, dtype)
    point = np.random.default_rng(seed).normal(size=(1, 2))
    z = tf.constant(np.repeat(point, 20000, axis=0), dtype)  # fresh probe entries per row
    _, exact_diagonal = trace_jacobian_exact_unrolled(field, z.shape, dtype)(
        0.3, (z, tf.zeros_like(z))
    )
    exact = float(tf.reduce_sum(exact_diagonal[0]))
    _, estimates = _hutchinson_rows(field, z, (seed, 7), dtype)
    stderr = estimates.std(ddof=1) / np.sqrt(len(estimates))
    assert stderr > 0, "the probes did not vary"
    assert abs(estimates.mean() - exact) < 4 * stderr


def test_hutchinson_returns_the_field_and_the_same_estimate_for_the_same_seed(seed):
    field = _random_field(seed, tf.float32)
    z = tf.constant(np.random.default_rng(seed).normal(size=(64, 2)), tf.float32)
    derivative, first = _hutchinson_rows(field, z, (seed, 1), tf.float32)
    np.testing.assert_allclose(derivative.numpy(), field(0.3, z).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(first, _hutchinson_rows(field, z, (seed, 1), tf.float32)[1])
    assert not np.array_equal(first, _hutchinson_rows(field, z, (seed, 2), tf.float32)[1])


def test_hutchinson_with_a_generator_draws_fresh_probes_on_every_call(seed):
    field = _random_field(seed, tf.float32)
    z = tf.constant(np.random.default_rng(seed).normal(size=(64, 2)), tf.float32)
    generator = tf.random.Generator.from_seed(seed)

    def estimate():
        fn = trace_jacobian_hutchinson(field, z.shape, tf.float32, generator=generator)
        return fn(0.3, (z, tf.zeros_like(z)))[1].numpy()

    first, second = estimate(), estimate()
    assert not np.array_equal(first, second)
    generator.reset_from_seed(seed)
    np.testing.assert_array_equal(estimate(), first)


def test_an_xla_compiled_hutchinson_training_gradient_equals_the_eager_one(seed):
    from support.flows import ffjord
    from support.flows.solvers import FixedStepSolver

    flow = ffjord.build_ffjord(2, (8,), solver=FixedStepSolver(3), trace="hutchinson", seed=seed)
    points = tf.constant(np.random.default_rng(seed).normal(size=(32, 2)), tf.float32)
    variables = list(flow.trainable_variables)

    def loss_and_gradients():
        with tf.GradientTape() as tape:
            loss = flow.loss(points)
        return loss, tape.gradient(loss, variables)

    compiled = tf.function(loss_and_gradients, jit_compile=True)
    flow.generator.reset_from_seed(seed)
    eager_loss, eager_gradients = loss_and_gradients()
    flow.generator.reset_from_seed(seed)
    xla_loss, xla_gradients = compiled()
    np.testing.assert_allclose(xla_loss.numpy(), eager_loss.numpy(), rtol=1e-5)
    for a, b in zip(xla_gradients, eager_gradients, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)
    # Another seed draws other probes: the comparison above is not between two constants.
    flow.generator.reset_from_seed(seed + 1)
    assert float(compiled()[0]) != float(xla_loss)


def test_check_trace_returns_a_known_name():
    for name in TRACE_ESTIMATORS:
        assert check_trace(name) == name


@pytest.mark.parametrize("trace", ["approx", "", None, 1])
def test_check_trace_rejects_other_values_naming_the_argument_and_the_choices(trace):
    with pytest.raises(ValueError, match=r"trace must be one of 'exact', 'hutchinson', got"):
        check_trace(trace)


def test_tfps_hutchinson_estimator_given_the_rademacher_probe_equals_ours(seed):
    from support.flows.traces import rademacher_probe, trace_jacobian_hutchinson

    field = _coupled_field(seed)
    z = tf.constant(np.random.default_rng(seed).normal(size=(64, 2)), tf.float64)
    probe_seed = tf.constant([seed, 5])
    ours = trace_jacobian_hutchinson(field, z.shape, z.dtype, seed=probe_seed)(0.3, (z, z))
    tfps = tfb.ffjord.trace_jacobian_hutchinson(
        field, z.shape, z.dtype, sample_fn=rademacher_probe, seed=probe_seed
    )(0.3, (z, z))
    for a, b in zip(ours, tfps, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
    exact = trace_jacobian_exact_unrolled(field, z.shape, z.dtype)(0.3, (z, z))[1]
    assert np.abs(ours[1].numpy() - exact.numpy()).max() > 1e-3  # an estimate, not the trace


def test_the_rademacher_probe_depends_on_the_number_of_entries_not_their_arrangement():
    from support.flows.traces import rademacher_probe

    flat = rademacher_probe([40, 2], tf.float32, (1, 2)).numpy()
    nested = rademacher_probe([1, 40, 2], tf.float32, (1, 2)).numpy()
    np.testing.assert_array_equal(nested[0], flat)
    assert set(np.unique(flat)) == {-1.0, 1.0}
    assert not np.array_equal(flat, rademacher_probe([40, 2], tf.float32, (1, 3)).numpy())
