"""`fit(strategy=MirroredStrategy)` over two logical CPU devices matches a one-device run.

Logical devices must be configured before TensorFlow initialises its devices, which any earlier
test may already have done in the pytest process. So the comparison runs in a fresh Python
process: this file is also a script (`python tests/training/test_training_distribute.py SEED
SIZE`) that prints the final variables of each run as JSON. It also interrupts a mirrored run
after epoch 2 and resumes it from its checkpoint, which must end bit-identical to one mirrored
run.

Tolerance: the two-replica step sums two half-batch gradients, each weighted by its share of
the global batch, where one device averages the whole batch at once; the results differ only
by float32 rounding (about 1e-7 relative per operation). Over 4 epochs of 8 or 9 SGD steps
that stays far below `rtol = atol = 1e-5` (measured: about 3e-8), while a wrong reduction
fails it by far (summing the gradients twice moves the weights by about 2e-2). Plain SGD is used
because Adam is invariant to a gradient scaled by the replica count; one pair of runs with
`support.training.optimizers.FusedAdam` checks that its one-op update reaches every replica's copy.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import tempfile

import numpy as np
import pytest
from python_child import run_python

TOLERANCE = 1e-5
EPOCHS = 4


def _runs(seed: int, size: int) -> dict:
    from support import runtime

    tf = runtime.import_tensorflow_quietly()
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    runtime.setup(seed)
    import tf_keras

    from support.training import fit, optimizers

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(size, 3)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5], "float32") + 0.3).astype("float32")

    def train(strategy, checkpoint_dir=None, stop_after=None, average=False, fused_adam=False):
        def scope():
            return strategy.scope() if strategy is not None else contextlib.nullcontext()

        with scope():
            w = tf.Variable(tf.zeros(3))
            b = tf.Variable(0.0)

        def loss(x, y):
            return tf.reduce_mean((tf.linalg.matvec(x, w) + b - y) ** 2)

        dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(size, seed=seed).batch(32)
        with scope():  # plain SGD: Adam would hide a gradient scaled by the replica count
            optimizer = tf_keras.optimizers.SGD(0.05, use_ema=average, ema_momentum=0.5)
            if fused_adam:  # updates each replica's copy through its own variable handle
                optimizer = optimizers.FusedAdam(0.05, use_ema=average, ema_momentum=0.5)

        def stop(epoch, history):
            if epoch == stop_after:
                raise KeyboardInterrupt

        try:
            history = fit(
                loss,
                [w, b],
                dataset,
                epochs=EPOCHS,
                strategy=strategy,
                optimizer=optimizer,
                progress=False,
                checkpoint_dir=checkpoint_dir,
                on_epoch_end=stop,
            )
        except KeyboardInterrupt:
            return None
        return {"w": w.numpy().tolist(), "b": float(b.numpy()), "loss": history.loss}

    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    mirrored = tf.distribute.MirroredStrategy(devices)
    with tempfile.TemporaryDirectory() as directory:
        assert train(mirrored, directory, stop_after=2) is None
        resumed = train(mirrored, directory)
    return {
        "replicas": mirrored.num_replicas_in_sync,
        "one_device": train(None),
        "mirrored": train(mirrored),
        "mirrored_resumed": resumed,
        "one_device_averaged": train(None, average=True),
        "mirrored_averaged": train(mirrored, average=True),
        "one_device_fused_adam": train(None, average=True, fused_adam=True),
        "mirrored_fused_adam": train(mirrored, average=True, fused_adam=True),
    }


@functools.cache  # one subprocess per (seed, size), shared by the tests
def _run_in_subprocess(seed: int, size: int) -> dict:
    return json.loads(run_python(__file__, seed, size).strip().splitlines()[-1])


def _assert_same_weights(one: dict, two: dict) -> None:
    np.testing.assert_allclose(two["w"], one["w"], rtol=TOLERANCE, atol=TOLERANCE)
    np.testing.assert_allclose(two["b"], one["b"], rtol=TOLERANCE, atol=TOLERANCE)


@pytest.mark.slow
@pytest.mark.parametrize(
    "size",
    [
        256,  # 8 batches of 32: 16 examples per replica
        257,  # the last batch holds one example: one replica gets none
    ],
)
def test_mirrored_strategy_on_two_cpus_matches_one_device(seed, size):
    result = _run_in_subprocess(seed, size)
    assert result["replicas"] == 2
    one, two = result["one_device"], result["mirrored"]
    _assert_same_weights(one, two)
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=TOLERANCE, atol=TOLERANCE)
    assert one["loss"][-1] < one["loss"][0]  # it trained: the comparison is not of two no-ops


@pytest.mark.slow
def test_a_mirrored_run_ends_on_the_weights_average_as_one_device_does(seed):
    result = _run_in_subprocess(seed, 256)
    one, two = result["one_device_averaged"], result["mirrored_averaged"]
    _assert_same_weights(one, two)
    # The same steps as without an average, so the same losses, but the average ends apart.
    np.testing.assert_allclose(one["loss"], result["one_device"]["loss"], rtol=1e-6)
    assert np.max(np.abs(np.subtract(one["w"], result["one_device"]["w"]))) > 1e-4


@pytest.mark.slow
def test_fused_adam_updates_every_replica_as_one_device_does(seed):
    result = _run_in_subprocess(seed, 256)
    one, two = result["one_device_fused_adam"], result["mirrored_fused_adam"]
    _assert_same_weights(one, two)
    assert one["loss"][-1] < one["loss"][0] / 2  # it trained
    assert np.max(np.abs(np.subtract(one["w"], result["one_device_averaged"]["w"]))) > 1e-3


@pytest.mark.slow
def test_a_mirrored_run_interrupted_and_resumed_is_bit_identical_to_one_run(seed):
    result = _run_in_subprocess(seed, 256)
    assert result["mirrored_resumed"] == result["mirrored"]


if __name__ == "__main__":
    print(json.dumps(_runs(int(sys.argv[1]), int(sys.argv[2]))))
