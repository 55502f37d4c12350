"""Tests of support.optimizers: the learning-rate schedule notebook 02 trains with."""

import pytest
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
