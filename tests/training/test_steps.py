"""Tests of `support.training.steps`: one training step, as `fit` takes it."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from support.training.steps import Step, make_optimizer, train_step


def linear():
    w = tf.Variable([1.0, 2.0])

    def loss(x):
        return tf.reduce_mean((x * w) ** 2)

    return w, loss


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_step_applies_one_gradient_descent_update_and_returns_the_loss_before_it(jit_compile):
    import tf_keras

    w, loss = linear()
    step = Step(loss, [w], tf_keras.optimizers.SGD(0.5), jit_compile=jit_compile)
    result = train_step(step, (tf.constant([1.0, 1.0]),))
    assert result.loss == pytest.approx(2.5) and result.problem is None
    # d/dw mean((x w)^2) = x^2 w, so w - 0.5 * w
    np.testing.assert_allclose(w.numpy(), [0.5, 1.0])


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_non_finite_gradient_is_reported_by_name_and_not_applied(jit_compile):
    # On one device the checks and the update are one compiled call (with XLA or not).
    w, loss = linear()
    step = Step(loss, [w], make_optimizer(0.1), jit_compile=jit_compile)
    result = train_step(step, (tf.constant([np.inf, 1.0]),))
    assert result.problem == "the loss is not finite"
    w2 = tf.Variable([0.0, 1.0], name="w2")
    square_root = lambda x: tf.reduce_sum(tf.sqrt(w2) * x)  # noqa: E731
    step = Step(square_root, [w2], make_optimizer(0.1), jit_compile=jit_compile)
    result = train_step(step, (tf.constant([1.0, 1.0]),))
    assert result.problem == "a gradient is not finite" and result.bad_gradients == ["w2:0"]
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(w2.numpy(), [0.0, 1.0])
    assert int(step.optimizer.iterations) == 0  # no update was counted either


@pytest.mark.parametrize("jit_compile", [False, True])
def test_an_update_that_leaves_a_variable_non_finite_is_reported(jit_compile):
    import tf_keras

    w, loss = linear()
    step = Step(loss, [w], tf_keras.optimizers.SGD(float("inf")), jit_compile=jit_compile)
    assert train_step(step, (tf.constant([1.0, 1.0]),)).problem == (
        "a variable is not finite after the update"
    )


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_loss_with_python_control_flow_on_tensors_is_converted_by_autograph(jit_compile):
    import tf_keras

    w = tf.Variable([1.0, 2.0])

    def loss(x):
        if tf.reduce_sum(x) > 0:  # a tensor condition: works only once autograph converts it
            return tf.reduce_mean((x * w) ** 2)
        return tf.reduce_mean(x * w)

    step = Step(loss, [w], tf_keras.optimizers.SGD(0.5), jit_compile=jit_compile)
    assert train_step(step, (tf.constant([1.0, 1.0]),)).loss == pytest.approx(2.5)
    assert train_step(step, (tf.constant([-1.0, -1.0]),)).loss == pytest.approx(-0.75)


def test_a_loss_that_is_not_a_scalar_is_refused_before_any_update():
    w = tf.Variable([1.0, 2.0])
    step = Step(lambda x: (x * w) ** 2, [w], make_optimizer(0.1))  # forgot the reduce_mean
    with pytest.raises(ValueError, match=r"loss_fn must return a scalar.*shape \(2,\)"):
        train_step(step, (tf.constant([1.0, 1.0]),))
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])


def test_fit_names_loss_fn_when_it_returns_a_vector():
    from support.training import fit

    w = tf.Variable([1.0, 2.0])
    dataset = tf.data.Dataset.from_tensor_slices(tf.ones([4, 2])).batch(2)
    with pytest.raises(ValueError, match="loss_fn must return a scalar"):
        fit(lambda x: tf.reduce_mean((x * w) ** 2, axis=0), [w], dataset, epochs=1)
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])


@pytest.mark.parametrize("jit_compile", [False, True])
def test_only_the_xla_compiled_update_runs_without_grappler(jit_compile):
    # The update's graph is traced inside its first call: the loss records the call options.
    from tensorflow.core.protobuf import config_pb2
    from tensorflow.python.eager import context

    seen = []
    w, loss = linear()

    def recording(x):
        config = config_pb2.ConfigProto()
        config.ParseFromString(context.context().function_call_options.config_proto_serialized)
        seen.append(config.graph_options.rewrite_options.disable_meta_optimizer)
        return loss(x)

    step = Step(recording, [w], make_optimizer(0.1), jit_compile=jit_compile)
    assert train_step(step, (tf.constant([1.0, 1.0]),)).problem is None
    assert seen == [jit_compile]
