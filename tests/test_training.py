"""Tests of `support.training.fit`: the loop, checkpoints and resume, the divergence guard."""

from __future__ import annotations

import signal

import numpy as np
import pytest
import tensorflow as tf

from support.training import History, TrainingDiverged, fit

TRUE_WEIGHTS = np.array([1.0, -2.0, 0.5], dtype="float32")


@pytest.fixture(autouse=True)
def _deterministic_ops():
    tf.config.experimental.enable_op_determinism()


class Regression(tf.Module):
    """A linear model `x @ w + b` with a mean squared error, on a shuffled dataset."""

    def __init__(self, seed: int, size: int = 256, batch: int = 32, shuffle: bool = True):
        rng = np.random.default_rng(seed)
        x = rng.normal(size=(size, 3)).astype("float32")
        y = x @ TRUE_WEIGHTS + 0.1 + rng.normal(scale=0.1, size=size).astype("float32")
        dataset = tf.data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            dataset = dataset.shuffle(size, seed=seed % 2**31)
        self.dataset = dataset.batch(batch)
        self.w = tf.Variable(tf.zeros(3), name="w")
        self.b = tf.Variable(0.0, name="b")

    def loss(self, x, y):
        return tf.reduce_mean((tf.linalg.matvec(x, self.w) + self.b - y) ** 2)

    def values(self):
        return [self.w.numpy(), self.b.numpy()]


def run(model, **kwargs):
    kwargs.setdefault("progress", False)
    return fit(model.loss, [model.w, model.b], model.dataset, **kwargs)


def stop_at(epoch, error=KeyboardInterrupt):
    def callback(done, history):
        if done == epoch:
            raise error("stop")
        return done

    return callback


def assert_bit_identical(first, second):
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_fit_lowers_the_loss_and_records_each_epoch(seed):
    model = Regression(seed)
    history = run(model, epochs=5, learning_rate=0.05)
    assert isinstance(history, History)
    assert history.epochs == 5 and len(history.seconds) == 5
    assert history.steps == 5 * 8
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert history.resumed_from is None


def test_two_runs_with_the_same_seed_give_identical_results(seed):
    first, second = Regression(seed), Regression(seed)
    tf.random.set_seed(seed)
    history_1 = run(first, epochs=3)
    tf.random.set_seed(seed)
    history_2 = run(second, epochs=3)
    assert history_1.loss == history_2.loss
    assert_bit_identical(first.values(), second.values())


def test_the_callback_sees_each_epoch_and_its_results_go_to_extra(seed):
    history = run(Regression(seed), epochs=3, on_epoch_end=lambda epoch, h: (epoch, h.epochs))
    assert history.extra == [(1, 1), (2, 2), (3, 3)]


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


def nan_at_step(model, bad_step):
    """The model's loss, except that step `bad_step` (1-based) returns NaN."""
    calls = tf.Variable(0)

    def loss(x, y):
        calls.assign_add(1)
        poison = tf.where(tf.equal(calls, bad_step), np.float32("nan"), 0.0)
        return model.loss(x, y) + poison

    return loss


def test_without_checkpoints_a_nan_stops_training_before_the_bad_step(seed):
    reference = Regression(seed)
    run(reference, epochs=2)
    model = Regression(seed)
    with pytest.raises(TrainingDiverged) as caught:
        fit(nan_at_step(model, 17), [model.w, model.b], model.dataset, epochs=4, progress=False)
    error = caught.value
    assert (error.epoch, error.step, error.restored_from) == (3, 17, None)
    assert np.isnan(error.loss)
    assert "epoch 3, step 17" in str(error) and "lower learning rate" in str(error)
    assert_bit_identical(model.values(), reference.values())


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


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 2.5}, ValueError, "epochs"),
        ({"epochs": 1, "save_every": 0}, ValueError, "save_every"),
        ({"epochs": 1, "checkpoint_dir": 3}, TypeError, "checkpoint_dir"),
        ({"epochs": 1, "checkpoint_objects": {"optimizer": 1}}, ValueError, "checkpoint_objects"),
        ({"epochs": 1, "checkpoint_objects": [1]}, TypeError, "checkpoint_objects"),
        ({"epochs": 1, "resume": "yes"}, TypeError, "resume"),
        ({"epochs": 1, "strategy": "mirrored"}, TypeError, "strategy"),
        ({"epochs": 1, "on_epoch_end": 3}, TypeError, "on_epoch_end"),
        ({"epochs": 1, "learning_rate": -1.0}, ValueError, "learning_rate"),
    ],
)
def test_bad_arguments_are_named_before_training(seed, kwargs, error, name):
    model = Regression(seed)
    with pytest.raises(error, match=name):
        run(model, **kwargs)
    assert not model.w.numpy().any()


def test_bad_loss_variables_and_dataset_are_named(seed):
    model = Regression(seed)
    with pytest.raises(TypeError, match="loss_fn"):
        fit(None, [model.w], model.dataset, epochs=1)
    with pytest.raises(ValueError, match="variables"):
        fit(model.loss, [], model.dataset, epochs=1)
    with pytest.raises(TypeError, match="variables"):
        fit(model.loss, [np.zeros(3)], model.dataset, epochs=1)
    with pytest.raises(TypeError, match="dataset"):
        fit(model.loss, [model.w], [1, 2], epochs=1)
    with pytest.raises(ValueError, match="finite"):
        fit(model.loss, [model.w], model.dataset.repeat(), epochs=1)
    with pytest.raises(ValueError, match="no batches"):
        fit(model.loss, [model.w], model.dataset.take(0), epochs=1)


def test_variables_made_outside_the_strategy_scope_are_refused(seed):
    model = Regression(seed)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with pytest.raises(ValueError, match="strategy.scope"):
        run(model, epochs=1, strategy=strategy)


def test_one_device_strategy_gives_the_same_result_as_no_strategy(seed):
    reference = Regression(seed)
    run(reference, epochs=2)
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        model = Regression(seed)
    run(model, epochs=2, strategy=strategy)
    for a, b in zip(model.values(), reference.values(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_progress_bar_is_plain_text_on_stdout_when_asked(monkeypatch, capsys):
    from tqdm.std import tqdm as text_tqdm

    from support.training import progress_bar

    monkeypatch.setenv("SUPPORT_PROGRESS", "text")
    bar = progress_bar(total=3, desc="demo")
    assert type(bar) is text_tqdm
    bar.update(3)
    bar.close()
    assert "demo" in capsys.readouterr().out
