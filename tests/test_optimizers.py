"""Tests of support.optimizers: the schedule and the weight average notebook 02 trains with."""

import pytest
import tensorflow as tf
import tf_keras

from support import optimizers


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
