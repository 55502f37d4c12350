"""Tests of `support.checkpoints` through `fit`: resume, integrity, locking, best checkpoint."""

from __future__ import annotations

import signal

import numpy as np
import pytest
import tensorflow as tf
from fit_models import Regression, assert_bit_identical, nan_at_step, run, stop_at

from support.training import TrainingDiverged, fit


@pytest.fixture(autouse=True)
def _deterministic_ops():
    tf.config.experimental.enable_op_determinism()


@pytest.mark.parametrize("stop", [1, 3])
def test_an_interrupted_run_plus_its_resume_is_bit_identical_to_one_run(seed, tmp_path, stop):
    reference = Regression(seed)
    expected = run(reference, epochs=5)

    with pytest.raises(KeyboardInterrupt):
        run(Regression(seed), epochs=5, checkpoint_dir=tmp_path, on_epoch_end=stop_at(stop))
    resumed_model = Regression(seed)  # a fresh process: new variables, new dataset
    resumed = run(resumed_model, epochs=5, checkpoint_dir=tmp_path)

    assert resumed.resumed_from == stop
    assert resumed.loss == expected.loss
    assert resumed.steps == expected.steps
    assert_bit_identical(resumed_model.values(), reference.values())


def test_a_callback_that_raises_keeps_the_epoch_it_follows(seed, tmp_path):
    reference = Regression(seed)
    run(reference, epochs=4)
    with pytest.raises(RuntimeError, match="stop"):
        run(
            Regression(seed),
            epochs=4,
            checkpoint_dir=tmp_path,
            on_epoch_end=stop_at(2, RuntimeError),
        )
    resumed = Regression(seed)
    history = run(resumed, epochs=4, checkpoint_dir=tmp_path)
    assert history.resumed_from == 2
    assert_bit_identical(resumed.values(), reference.values())


def test_ctrl_c_mid_epoch_finishes_the_step_saves_and_resumes_exactly(seed, tmp_path):
    reference = Regression(seed)
    run(reference, epochs=3)

    model = Regression(seed)
    calls = tf.Variable(0)

    def press_ctrl_c_during_step_12(step):
        if int(step) == 12:
            signal.raise_signal(signal.SIGINT)
        return step

    def loss(x, y):
        tf.py_function(press_ctrl_c_during_step_12, [calls.assign_add(1)], tf.int32)
        return model.loss(x, y)

    with pytest.raises(KeyboardInterrupt):
        fit(
            loss,
            [model.w, model.b],
            model.dataset,
            epochs=3,
            progress=False,
            checkpoint_dir=tmp_path,
        )
    resumed = Regression(seed)
    history = run(resumed, epochs=3, checkpoint_dir=tmp_path)
    assert history.resumed_from == 1  # one full epoch of 8 steps, then 4 steps of the next
    assert history.steps == 3 * 8
    assert_bit_identical(resumed.values(), reference.values())


def test_a_finished_run_resumed_trains_no_further(seed, tmp_path):
    first = Regression(seed)
    done = run(first, epochs=2, checkpoint_dir=tmp_path)
    again = Regression(seed)
    history = run(again, epochs=2, checkpoint_dir=tmp_path, on_epoch_end=stop_at(1, RuntimeError))
    assert history.loss == done.loss and history.steps == done.steps
    assert_bit_identical(again.values(), first.values())


def test_resume_false_starts_again_from_the_current_values(seed, tmp_path):
    run(Regression(seed), epochs=2, checkpoint_dir=tmp_path)
    history = run(Regression(seed), epochs=1, checkpoint_dir=tmp_path, resume=False)
    assert history.resumed_from is None and history.epochs == 1


def test_a_checkpoint_of_another_model_is_refused_naming_the_directory(seed, tmp_path):
    run(Regression(seed), epochs=1, checkpoint_dir=tmp_path)
    other = Regression(seed)
    other.w = tf.Variable(tf.zeros(4))
    with pytest.raises(ValueError, match="checkpoint_dir"):
        run(other, epochs=2, checkpoint_dir=tmp_path)


def test_checkpoint_objects_make_the_checkpoint_readable_without_fit(seed, tmp_path):
    model = Regression(seed)
    run(model, epochs=2, checkpoint_dir=tmp_path, checkpoint_objects={"model": model})
    copy = Regression(seed + 1)
    tf.train.Checkpoint(model=copy).read(tf.train.latest_checkpoint(tmp_path)).expect_partial()
    assert_bit_identical(copy.values(), model.values())


def test_a_dataset_whose_iterator_cannot_be_saved_is_fast_forwarded_on_resume(seed, tmp_path):
    def with_generator(model):
        x, y = (
            np.concatenate(parts) for parts in zip(*model.dataset.as_numpy_iterator(), strict=True)
        )

        def generate():
            yield from zip(x, y, strict=True)

        spec = (tf.TensorSpec((3,), tf.float32), tf.TensorSpec((), tf.float32))
        dataset = tf.data.Dataset.from_generator(generate, output_signature=spec)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(256))
        model.dataset = dataset.shuffle(256, seed=seed % 2**31).batch(32)
        return model

    reference = with_generator(Regression(seed, shuffle=False))
    run(reference, epochs=3)
    with pytest.raises(KeyboardInterrupt):
        model = with_generator(Regression(seed, shuffle=False))
        run(model, epochs=3, checkpoint_dir=tmp_path, on_epoch_end=stop_at(2))
    resumed = with_generator(Regression(seed, shuffle=False))
    run(resumed, epochs=3, checkpoint_dir=tmp_path)
    assert_bit_identical(resumed.values(), reference.values())


def test_a_dataset_of_unknown_length_resumes_at_the_epoch(seed, tmp_path):
    def filtered(model):
        model.dataset = model.dataset.filter(lambda x, y: tf.shape(y)[0] > 0)
        return model

    reference = filtered(Regression(seed, shuffle=False))
    run(reference, epochs=3)
    with pytest.raises(KeyboardInterrupt):
        run(
            filtered(Regression(seed, shuffle=False)),
            epochs=3,
            checkpoint_dir=tmp_path,
            on_epoch_end=stop_at(1),
        )
    resumed = filtered(Regression(seed, shuffle=False))
    run(resumed, epochs=3, checkpoint_dir=tmp_path)
    assert_bit_identical(resumed.values(), reference.values())


def test_a_sonnet_optimizer_is_checkpointed_and_resumed_exactly(seed, tmp_path):
    import sonnet as snt

    reference = Regression(seed)
    run(reference, epochs=3, optimizer=snt.optimizers.Adam(0.01))
    with pytest.raises(KeyboardInterrupt):
        run(
            Regression(seed),
            epochs=3,
            optimizer=snt.optimizers.Adam(0.01),
            checkpoint_dir=tmp_path,
            on_epoch_end=stop_at(1),
        )
    resumed = Regression(seed)
    run(resumed, epochs=3, optimizer=snt.optimizers.Adam(0.01), checkpoint_dir=tmp_path)
    assert_bit_identical(resumed.values(), reference.values())


def test_a_nan_restores_the_last_good_checkpoint_and_says_what_to_try(seed, tmp_path):
    reference = Regression(seed)
    run(reference, epochs=2)
    model = Regression(seed)
    with pytest.raises(TrainingDiverged) as caught:
        fit(nan_at_step(model, 21), [model.w, model.b], model.dataset, epochs=4,
            progress=False, checkpoint_dir=tmp_path)  # fmt: skip
    error = caught.value
    assert (error.epoch, error.step) == (3, 21)
    assert error.restored_from == tf.train.latest_checkpoint(tmp_path)
    for text in ("loss = nan", "lower learning rate", "solver tolerances", "checkpoint"):
        assert text in str(error)
    # four steps of epoch 3 had been applied; the variables are back at the end of epoch 2
    assert_bit_identical(model.values(), reference.values())


def test_a_diverged_run_resumes_with_the_new_learning_rate(seed, tmp_path):
    import tf_keras

    model = Regression(seed)
    with pytest.raises(TrainingDiverged):
        fit(nan_at_step(model, 12), [model.w, model.b], model.dataset, epochs=3,
            progress=False, checkpoint_dir=tmp_path)  # fmt: skip
    optimizer = tf_keras.optimizers.Adam(1e-3)
    history = run(Regression(seed), epochs=3, checkpoint_dir=tmp_path, optimizer=optimizer)
    assert history.resumed_from == 1 and history.epochs == 3
    assert float(optimizer.learning_rate) == pytest.approx(1e-3)
    assert int(optimizer.iterations) == 3 * 8
