"""`support.flows.mlp_diagonal`: the one-pass Jacobian diagonal and its hand-written backward pass,
and the one-pass trace, against TensorFlow's own differentiation of a plain MLP (nested
gradient tapes)."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from support.flows.mlp_diagonal import (
    ACTIVATION_CURVATURES,
    ACTIVATION_SLOPES,
    ACTIVATIONS,
    mlp_value_and_jacobian_diagonal,
    mlp_value_and_trace,
)


def _network(sizes, seed):
    shapes = list(zip([1 + sizes[-1], *sizes[:-1]], sizes, strict=True))
    weights = [
        tf.random.stateless_normal(shape, [seed, i], stddev=0.8) for i, shape in enumerate(shapes)
    ]
    biases = [tf.random.stateless_normal([n], [seed, 10 + i]) for i, n in enumerate(sizes)]
    return weights, biases


def _reference(weights, biases, t, state, activation):
    """Value and Jacobian diagonal of the plain MLP, by a gradient tape."""
    with tf.GradientTape() as tape:
        tape.watch(state)
        hidden = tf.concat([tf.fill([tf.shape(state)[0], 1], t), state], axis=-1)
        for w, b in zip(weights[:-1], biases[:-1], strict=True):
            hidden = ACTIVATIONS[activation](tf.matmul(hidden, w) + b)
        value = tf.matmul(hidden, weights[-1]) + biases[-1]
    return value, tf.linalg.diag_part(tape.batch_jacobian(value, state))


def _value_and_gradients(function, weights, biases, t, state, activation):
    """The value, the second output (the diagonal or the trace), and the gradient of a fixed
    random projection of both with respect to the state, the time and every weight and bias."""
    inputs = [state, t, *weights, *biases]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        value, second = function(weights, biases, t, state, activation)
        value_weight = np.random.default_rng(1).normal(size=value.shape)
        second_weight = np.random.default_rng(2).normal(size=second.shape)
        objective = tf.reduce_sum(value * tf.constant(value_weight, value.dtype)) + tf.reduce_sum(
            second * tf.constant(second_weight, second.dtype)
        )
    return [value, second, *tape.gradient(objective, inputs)]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("sizes", [(5, 2), (6, 4, 2), (4, 3, 5, 3)])
def test_value_diagonal_and_gradients_equal_tensorflows_own(activation, sizes):
    weights, biases = _network(sizes, seed=len(sizes))
    state = tf.random.stateless_normal([9, sizes[-1]], [3, 4])
    t = tf.constant(0.3)
    got = _value_and_gradients(
        mlp_value_and_jacobian_diagonal, weights, biases, t, state, activation
    )
    want = _value_and_gradients(_reference, weights, biases, t, state, activation)
    assert len(got) == len(want) == 4 + 2 * len(sizes)
    for index, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a is not None, f"no gradient for input {index - 2}"
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-4, atol=2e-5, err_msg=index)


def test_gradients_under_xla_equal_the_eager_ones():
    weights, biases = _network((8, 8, 2), seed=5)
    state = tf.random.stateless_normal([16, 2], [5, 6])
    t = tf.constant(0.7)

    def gradients():
        return _value_and_gradients(
            mlp_value_and_jacobian_diagonal, weights, biases, t, state, "tanh"
        )

    compiled = tf.function(gradients, jit_compile=True)()
    for index, (a, b) in enumerate(zip(compiled, gradients(), strict=True)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5, err_msg=index)


def test_gradients_reach_variables_as_they_reach_tensors():
    weights, biases = _network((4, 2), seed=8)
    variables = [tf.Variable(p) for p in [*weights, *biases]]
    state = tf.random.stateless_normal([5, 2], [8, 9])

    def objective(parameters):
        value, diagonal = mlp_value_and_jacobian_diagonal(
            parameters[:2], parameters[2:], 0.1, state, "softplus"
        )
        return tf.reduce_sum(value) + tf.reduce_sum(tf.square(diagonal))

    with tf.GradientTape() as tape:
        through_variables = objective(variables)
    from_variables = tape.gradient(through_variables, variables)
    tensors = [*weights, *biases]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        through_tensors = objective(tensors)
    from_tensors = tape.gradient(through_tensors, tensors)
    for a, b in zip(from_variables, from_tensors, strict=True):
        assert a is not None
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_slopes_and_curvatures_are_the_activations_derivatives(activation):
    x = tf.constant(np.linspace(-3.0, 3.0, 61) + 0.013, tf.float32)  # no point at 0 (elu's kink)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            y = ACTIVATIONS[activation](x)
        slope = inner.gradient(y, x)
    curvature = outer.gradient(slope, x)
    s = ACTIVATION_SLOPES[activation](x, y)
    np.testing.assert_allclose(s.numpy(), slope.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        ACTIVATION_CURVATURES[activation](x, y, s).numpy(), curvature.numpy(), atol=1e-5
    )


def _reference_trace(weights, biases, t, state, activation):
    value, diagonal = _reference(weights, biases, t, state, activation)
    return value, tf.reduce_sum(diagonal, axis=-1)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("sizes", [(5, 2), (6, 4, 2), (6, 4, 3), (7, 5, 1), (4, 3, 5, 3)])
def test_value_trace_and_gradients_equal_tensorflows_own(activation, sizes):
    # One and two hidden layers take the bilinear form, three the diagonal's sum; state
    # sizes 1, 2 and 3 (the form does not depend on it).
    weights, biases = _network(sizes, seed=20 + len(sizes))
    state = tf.random.stateless_normal([9, sizes[-1]], [5, 4])
    t = tf.constant(0.6)
    got = _value_and_gradients(mlp_value_and_trace, weights, biases, t, state, activation)
    want = _value_and_gradients(_reference_trace, weights, biases, t, state, activation)
    assert got[1].shape == (9,)
    for index, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a is not None, f"no gradient for input {index - 2}"
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=2e-4, atol=2e-5, err_msg=index)


def test_the_trace_compiles_with_xla_and_accepts_variables():
    weights, biases = _network((8, 8, 2), seed=6)
    variables = [tf.Variable(p) for p in [*weights, *biases]]
    state = tf.random.stateless_normal([16, 2], [6, 7])

    @tf.function(jit_compile=True)
    def compiled():
        with tf.GradientTape() as tape:
            value, trace = mlp_value_and_trace(variables[:3], variables[3:], 0.2, state, "tanh")
            objective = tf.reduce_sum(tf.square(trace)) + tf.reduce_sum(value)
        return trace, tape.gradient(objective, variables)

    trace, gradients = compiled()
    _, want = _reference_trace(weights, biases, tf.constant(0.2), state, "tanh")
    np.testing.assert_allclose(trace.numpy(), want.numpy(), rtol=1e-4, atol=1e-5)
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in gradients)
