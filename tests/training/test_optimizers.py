"""Tests of support.training.optimizers: the schedule, the weight average and FusedAdam, which
notebook 02 trains with."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from support.training import optimizers


def test_the_decaying_optimizer_falls_from_the_rate_to_its_final_fraction():
    optimizer = optimizers.decaying_adam(0.01, 100, final_fraction=0.1)

    schedule = tf_keras.optimizers.schedules.deserialize(optimizer.get_config()["learning_rate"])

    def rate_at(step):
        return float(schedule(step))

    assert rate_at(0) == pytest.approx(0.01)
    assert rate_at(50) == pytest.approx(0.01 * (0.1 + 0.9 * 0.5))
    assert rate_at(100) == pytest.approx(0.001)
    assert rate_at(200) == pytest.approx(0.001)
    with pytest.raises(ValueError, match="decay_steps"):
        optimizers.decaying_adam(0.01, 0)
    with pytest.raises(ValueError, match="final_fraction"):
        optimizers.decaying_adam(0.01, 10, final_fraction=1.5)
    with pytest.raises(TypeError, match="decay_steps"):
        optimizers.decaying_adam(0.01, 10.0)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.decaying_adam(0.0, 10)


def test_average_is_a_momentum_in_zero_to_one_and_makes_the_optimizer_keep_one():
    averaging = optimizers.decaying_adam(0.01, 10, average=0.9)
    assert optimizers.keeps_average(averaging)
    assert averaging.ema_momentum == pytest.approx(0.9)
    assert not optimizers.keeps_average(optimizers.decaying_adam(0.01, 10))
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="average"):
            optimizers.decaying_adam(0.01, 10, average=bad)
    with pytest.raises(TypeError, match="average"):
        optimizers.decaying_adam(0.01, 10, average="0.9")


def _sgd_with_an_average(momentum: float, steps: int):
    """SGD (rate 0.1) on (w - 3)^2 from w = 0, and the same run with its average by hand."""
    variable = tf.Variable(0.0)
    optimizer = tf_keras.optimizers.SGD(0.1, use_ema=True, ema_momentum=momentum)
    weight = average = 0.0
    for _ in range(steps):
        optimizer.apply_gradients([(2.0 * (variable - 3.0), variable)])
        weight -= 0.1 * 2.0 * (weight - 3.0)
        average = momentum * average + (1.0 - momentum) * weight
    return variable, optimizer, weight, average


def test_averaged_weights_holds_the_average_in_the_block_and_gives_the_weights_back():
    variable, optimizer, weight, average = _sgd_with_an_average(0.5, steps=4)
    assert average < weight - 0.1  # far enough apart for the test to tell them apart
    assert float(variable) == pytest.approx(weight)
    with optimizers.averaged_weights(optimizer, [variable]):
        assert float(variable) == pytest.approx(average)
    assert float(variable) == pytest.approx(weight)

    with pytest.raises(RuntimeError, match="inside"):
        with optimizers.averaged_weights(optimizer, [variable]):
            raise RuntimeError("inside")
    assert float(variable) == pytest.approx(weight)

    optimizers.use_averages(optimizer, [variable])
    assert float(variable) == pytest.approx(average)


def test_an_optimizer_without_an_average_leaves_the_weights_alone():
    import sonnet as snt

    for optimizer in (tf_keras.optimizers.Adam(0.1), snt.optimizers.Adam(0.1)):
        variable = tf.Variable(1.5)
        with optimizers.averaged_weights(optimizer, [variable]):
            assert float(variable) == 1.5
        optimizers.use_averages(optimizer, [variable])
        assert float(variable) == 1.5


def _adam_by_hand(weights, gradients, rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    """Adam as Kingma and Ba write it (Keras's epsilon placement), in float64 NumPy."""

    weights, m, v = np.array(weights, np.float64), 0.0, 0.0
    for t, gradient in enumerate(gradients, start=1):
        m = beta_1 * m + (1 - beta_1) * gradient
        v = beta_2 * v + (1 - beta_2) * gradient**2
        alpha = rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        weights = weights - alpha * m / (np.sqrt(v) + epsilon)
    return weights


@pytest.mark.parametrize("compiled", [False, True])
def test_fused_adam_takes_keras_adams_steps_and_keeps_its_average(compiled):

    rng = np.random.default_rng(0)
    shapes = [(3, 16), (16,), (16, 16), ()]
    start = [rng.normal(size=s).astype(np.float32) for s in shapes]
    gradients = [[rng.normal(size=s).astype(np.float32) for s in shapes] for _ in range(20)]
    runs = {}
    for name, make in (("fused", optimizers.FusedAdam), ("keras", tf_keras.optimizers.Adam)):
        schedule = tf_keras.optimizers.schedules.CosineDecay(0.05, 20, alpha=0.1)
        optimizer = make(learning_rate=schedule, use_ema=True, ema_momentum=0.9)
        variables = [tf.Variable(w) for w in start]

        def step(grads, optimizer=optimizer, variables=variables):
            optimizer.apply_gradients(zip(grads, variables, strict=True))

        optimizer.build(variables)
        step = tf.function(step) if compiled else step
        for grads in gradients:
            step([tf.constant(g) for g in grads])
        runs[name] = (optimizer, variables)
    (fused, fused_vars), (keras, keras_vars) = runs["fused"], runs["keras"]
    # Float32 rounding only: a few ulps of the O(1) weights per step, over 20 steps (a wrong
    # bias correction or epsilon would be off by 1e-3 or more).
    for a, b in zip(fused_vars, keras_vars, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=5e-6)
    averages = fused._model_variables_moving_average, keras._model_variables_moving_average
    for a, b in zip(*averages, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=5e-6)
    assert int(fused.iterations) == 20
    # An independent reference for the constant-rate case: Adam written out by hand.
    variable = tf.Variable(start[2].astype(np.float64))
    constant = optimizers.FusedAdam(learning_rate=0.05)
    for grads in gradients:
        constant.apply_gradients([(tf.constant(grads[2], tf.float64), variable)])
    rate = float(np.float32(0.05))  # Keras keeps the rate in a float32 variable
    expected = _adam_by_hand(start[2], [g[2].astype(np.float64) for g in gradients], rate)
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-10, atol=1e-12)


def test_fused_adam_builds_one_update_op_per_variable_where_keras_builds_many():
    variables = [tf.Variable(tf.zeros([4, 4])) for _ in range(6)]
    counts = {}
    for name, make in (("fused", optimizers.FusedAdam), ("keras", tf_keras.optimizers.Adam)):
        optimizer = make(learning_rate=0.01)
        optimizer.build(variables)
        graph = (
            tf.function(
                lambda o=optimizer: o.apply_gradients((tf.ones([4, 4]), v) for v in variables)
            )
            .get_concrete_function()
            .graph
        )
        ops = [op.type for op in graph.get_operations()]
        counts[name] = (len(ops), ops.count("ResourceApplyAdam"))
    assert counts["fused"][1] == len(variables)
    assert counts["keras"][1] == 0
    assert counts["fused"][0] < counts["keras"][0] / 2, counts


def test_fused_adam_checkpoints_are_keras_adams(tmp_path):

    def train(optimizer, variable, steps):
        for i in range(steps):
            optimizer.apply_gradients([(tf.fill([3], 0.5 + i), variable)])

    saved_var = tf.Variable([1.0, 2.0, 3.0])
    saved = optimizers.FusedAdam(learning_rate=0.1)
    train(saved, saved_var, 3)
    path = tf.train.Checkpoint(optimizer=saved, variable=saved_var).write(str(tmp_path / "ckpt"))
    for make in (tf_keras.optimizers.Adam, optimizers.FusedAdam):
        variable = tf.Variable([0.0, 0.0, 0.0])
        optimizer = make(learning_rate=0.1)
        optimizer.build([variable])
        tf.train.Checkpoint(optimizer=optimizer, variable=variable).read(path).assert_consumed()
        assert int(optimizer.iterations) == 3
        np.testing.assert_array_equal(variable.numpy(), saved_var.numpy())
        np.testing.assert_array_equal(optimizer._momentums[0].numpy(), saved._momentums[0].numpy())


def test_fused_adam_leaves_sparse_gradients_and_amsgrad_to_keras():

    for options in ({"amsgrad": True}, {}):
        results = []
        for make in (optimizers.FusedAdam, tf_keras.optimizers.Adam):
            variable = tf.Variable(tf.ones([5, 2]))
            optimizer = make(learning_rate=0.1, **options)
            for i in range(3):
                gradient = tf.IndexedSlices(tf.fill([2, 2], 1.0 + i), tf.constant([0, 3]))
                optimizer.apply_gradients([(gradient, variable)])
                optimizer.apply_gradients([(tf.fill([5, 2], 2.0 - i), variable)])
            results.append(variable.numpy())
        np.testing.assert_allclose(results[0], results[1], rtol=1e-5)
