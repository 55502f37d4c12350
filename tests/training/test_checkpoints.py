"""Tests of `support.training.checkpoints` through `fit`: resume, integrity, locking, the best."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import re
import shutil
import signal
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from fit_models import Regression, assert_bit_identical, nan_at_step, run, stop_at
from python_child import start_python

from support.training import TrainingDiverged, fit
from support.training.checkpoints import CheckpointWarning, best_checkpoint
from support.training.guards import Terminated
from support.training.storage import DiskFull


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


def test_a_run_that_averages_its_weights_resumes_exactly_and_ends_on_the_average(seed, tmp_path):
    import tf_keras

    def averaging():
        return tf_keras.optimizers.Adam(0.01, use_ema=True, ema_momentum=0.9)

    reference = Regression(seed)
    run(reference, epochs=4, optimizer=averaging())
    # Stopped from the callback, which is shown the average: the weights must come back.
    interrupted = Regression(seed)
    with pytest.raises(KeyboardInterrupt):
        run(
            interrupted,
            epochs=4,
            optimizer=averaging(),
            checkpoint_dir=tmp_path,
            on_epoch_end=stop_at(2),
        )
    plain = Regression(seed)  # the same weights, without an average
    run(plain, epochs=2, optimizer=tf_keras.optimizers.Adam(0.01))
    assert_bit_identical(interrupted.values(), plain.values())
    resumed = Regression(seed)
    run(resumed, epochs=4, optimizer=averaging(), checkpoint_dir=tmp_path)
    assert_bit_identical(resumed.values(), reference.values())


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


TRAIN_UNTIL_SIGTERM = """
import os, pathlib, sys, time
sys.path.insert(0, "tests")
import support, tensorflow as tf
from fit_models import Regression
from support.training import fit

seed = int(sys.argv[1])
directory = pathlib.Path(sys.argv[2])
tf.config.experimental.enable_op_determinism()
tf.random.set_seed(seed)
model = Regression(seed)
calls = tf.Variable(0)

def wait_for_the_signal_during_step_12(step):
    if int(step) == 12:  # mid-epoch: 8 steps an epoch
        print("in step 12", flush=True)
        while not (directory / "signal-sent").exists():
            time.sleep(0.05)
    return step

def loss(x, y):
    tf.py_function(wait_for_the_signal_during_step_12, [calls.assign_add(1)], tf.int32)
    return model.loss(x, y)

fit(loss, [model.w, model.b], model.dataset, epochs=3, progress=False, checkpoint_dir=directory)
print("not stopped", flush=True)
"""


def test_sigterm_mid_epoch_finishes_the_step_saves_exits_143_and_resumes_exactly(seed, tmp_path):
    child = start_python("-c", TRAIN_UNTIL_SIGTERM, seed, tmp_path, stderr=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == "in step 12"
        child.send_signal(signal.SIGTERM)  # delivered while step 12 runs: it must finish
        (tmp_path / "signal-sent").touch()
        out, err = child.communicate(timeout=300)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "not stopped" not in out
    assert "stopped by SIGTERM: saved" in err and "ckpt-2" in err
    assert "Call fit again with the same checkpoint_dir" in err

    reference = Regression(seed)
    run(reference, epochs=3)
    resumed = Regression(seed)
    history = run(resumed, epochs=3, checkpoint_dir=tmp_path)
    assert history.resumed_from == 1  # one full epoch of 8 steps, then 4 steps of the next
    assert history.steps == 3 * 8
    assert_bit_identical(resumed.values(), reference.values())


def test_a_repeated_sigterm_changes_nothing_and_the_handlers_come_back(seed, tmp_path):
    model = Regression(seed)
    before = signal.getsignal(signal.SIGTERM)

    def terminate_twice_after_epoch_1(epoch, history):
        if epoch == 1:
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGTERM)
        return epoch

    with pytest.raises(Terminated, match="stopped by SIGTERM: saved .*ckpt-1") as stopped:
        run(model, epochs=3, checkpoint_dir=tmp_path, on_epoch_end=terminate_twice_after_epoch_1)
    assert stopped.value.code == 143
    assert signal.getsignal(signal.SIGTERM) is before
    assert run(Regression(seed), epochs=3, checkpoint_dir=tmp_path).resumed_from == 1


def test_sigterm_without_checkpoint_dir_still_stops_after_the_step_and_says_so(seed):
    model = Regression(seed)
    with pytest.raises(Terminated, match="nothing was saved .*no checkpoint_dir"):
        run(model, epochs=3, on_epoch_end=lambda epoch, h: signal.raise_signal(signal.SIGTERM))
    reference = Regression(seed)
    run(reference, epochs=1)
    assert_bit_identical(model.values(), reference.values())


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
        fit(
            nan_at_step(model, 21),
            [model.w, model.b],
            model.dataset,
            epochs=4,
            progress=False,
            checkpoint_dir=tmp_path,
        )
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
        fit(
            nan_at_step(model, 12),
            [model.w, model.b],
            model.dataset,
            epochs=3,
            progress=False,
            checkpoint_dir=tmp_path,
        )
    optimizer = tf_keras.optimizers.Adam(1e-3)
    history = run(Regression(seed), epochs=3, checkpoint_dir=tmp_path, optimizer=optimizer)
    assert history.resumed_from == 1 and history.epochs == 3
    assert float(optimizer.learning_rate) == pytest.approx(1e-3)
    assert int(optimizer.iterations) == 3 * 8


def checkpoint_files(directory):
    return sorted(
        p.name for p in directory.iterdir() if p.name.startswith(("ckpt-", "corrupt-", "diverged-"))
    )


@pytest.mark.parametrize("damage", ["missing", "empty", "garbage", "out of date"])
def test_a_lost_checkpoint_index_is_rebuilt_from_the_files_and_the_run_resumes(
    seed, tmp_path, damage
):
    reference = Regression(seed)
    run(reference, epochs=3)
    run(Regression(seed), epochs=2, checkpoint_dir=tmp_path)
    index = tmp_path / "checkpoint"
    if damage == "missing":
        index.unlink()
    elif damage == "out of date":  # as if stopped between writing ckpt-2 and the index
        index.write_text('model_checkpoint_path: "ckpt-1"\nall_model_checkpoint_paths: "ckpt-1"\n')
    else:
        index.write_text("" if damage == "empty" else "\x00not a checkpoint state {{")
    resumed = Regression(seed)
    with pytest.warns(CheckpointWarning, match="index was .*rebuilt it .*ckpt-1, ckpt-2"):
        history = run(resumed, epochs=3, checkpoint_dir=tmp_path)
    assert history.resumed_from == 2
    assert_bit_identical(resumed.values(), reference.values())
    assert checkpoint_files(tmp_path) == [
        "ckpt-2.data-00000-of-00001",
        "ckpt-2.index",
        "ckpt-3.data-00000-of-00001",
        "ckpt-3.index",
    ]


def corrupt(directory, number, how):
    data = directory / f"ckpt-{number}.data-00000-of-00001"
    content = bytearray(data.read_bytes())
    if how == "truncated data":
        data.write_bytes(content[: len(content) // 2])
    elif how == "flipped bytes":
        for at in (len(content) // 3, 2 * len(content) // 3):
            content[at] ^= 0xFF
        data.write_bytes(content)
    elif how == "deleted shard":
        data.unlink()
    else:  # a damaged index of tensors
        (directory / f"ckpt-{number}.index").write_bytes(b"")


@pytest.mark.parametrize("how", ["truncated data", "flipped bytes", "deleted shard", "bad index"])
def test_a_corrupt_newest_checkpoint_is_skipped_kept_and_the_previous_one_resumed(
    seed, tmp_path, how
):
    reference = Regression(seed)
    run(reference, epochs=4)
    run(Regression(seed), epochs=3, checkpoint_dir=tmp_path)
    corrupt(tmp_path, 3, how)
    resumed = Regression(seed)
    with pytest.warns(CheckpointWarning, match="skipped ckpt-3 .corrupt.*restored .*ckpt-2"):
        history = run(resumed, epochs=4, checkpoint_dir=tmp_path)
    assert history.resumed_from == 2
    assert_bit_identical(resumed.values(), reference.values())
    assert "corrupt-ckpt-3.index" in checkpoint_files(tmp_path)  # kept for inspection


def test_when_no_checkpoint_can_be_read_the_error_names_each_and_nothing_is_renamed(seed, tmp_path):
    run(Regression(seed), epochs=2, checkpoint_dir=tmp_path)
    before = checkpoint_files(tmp_path)
    for number in (1, 2):
        corrupt(tmp_path, number, "flipped bytes")
    with pytest.raises(ValueError, match="checkpoint_dir .*ckpt-2: .*Checksum.*ckpt-1: ") as e:
        run(Regression(seed), epochs=3, checkpoint_dir=tmp_path)
    assert "resume=False" not in str(e.value)
    assert checkpoint_files(tmp_path) == before


HOLD_LOCK = """
import fcntl, json, os, socket, sys, time
handle = open(sys.argv[1], "a+")
fcntl.flock(handle, fcntl.LOCK_EX)
handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
handle.flush()
print("locked", flush=True)
time.sleep(60)
"""


def test_a_directory_in_use_by_another_process_is_refused_naming_it(seed, tmp_path):
    holder = start_python("-c", HOLD_LOCK, tmp_path / "fit.lock")
    try:
        assert holder.stdout.readline().strip() == "locked"
        model = Regression(seed)
        with pytest.raises(RuntimeError, match=f"checkpoint_dir .* in use by .*{holder.pid}"):
            run(model, epochs=1, checkpoint_dir=tmp_path)
        assert not model.w.numpy().any()  # refused before training
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the holder died without cleaning up: its stale lock does not block the next run
    assert run(Regression(seed), epochs=1, checkpoint_dir=tmp_path).epochs == 1


@pytest.mark.parametrize("stop", [RuntimeError, KeyboardInterrupt])
def test_the_lock_is_held_while_fit_runs_and_released_however_it_ends(seed, tmp_path, stop):
    def second_run(epoch, history):
        with pytest.raises(RuntimeError, match="in use by .*" + str(os.getpid())):
            run(Regression(seed), epochs=1, checkpoint_dir=tmp_path)
        raise stop("stop")

    with pytest.raises(stop):
        run(Regression(seed), epochs=2, checkpoint_dir=tmp_path, on_epoch_end=second_run)
    assert run(Regression(seed), epochs=2, checkpoint_dir=tmp_path).resumed_from == 1


@pytest.mark.parametrize("kind", ["a file", "a read-only directory"])
def test_a_checkpoint_dir_that_cannot_be_written_fails_before_training(seed, tmp_path, kind):
    if kind == "a file":
        directory = tmp_path / "taken"
        directory.write_text("not a directory")
    elif os.geteuid() != 0:
        directory = tmp_path / "read-only"
        directory.mkdir(mode=0o555)
    else:
        directory = "/proc"  # read-only even for root
    model = Regression(seed)
    calls = []
    with pytest.raises(ValueError, match="checkpoint_dir .* not a writable directory"):
        run(model, epochs=2, checkpoint_dir=directory, on_epoch_end=lambda *a: calls.append(a))
    assert not calls and not model.w.numpy().any()


def test_checkpoints_hold_the_data_position_not_the_data(seed, tmp_path):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(20_000, 3)).astype("float32")  # 240 kB of training data
    y = x @ np.array([1.0, -2.0, 0.5], dtype="float32")
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(20_000, seed=1).batch(5000)
    model = Regression(seed)
    fit(model.loss, [model.w, model.b], dataset, epochs=1, progress=False, checkpoint_dir=tmp_path)
    saved = sum(p.stat().st_size for p in tmp_path.glob("ckpt-*"))
    assert saved < 20_000  # variables, optimizer and run state only


def test_an_infinite_learning_rate_never_saves_non_finite_variables(seed, tmp_path):
    import tf_keras

    good = Regression(seed, batch=256)  # one step per epoch: each update is saved at once
    run(good, epochs=2, checkpoint_dir=tmp_path)
    model = Regression(seed, batch=256)
    with pytest.raises(TrainingDiverged, match="step 3: a variable is not finite") as caught:
        run(
            model,
            epochs=4,
            checkpoint_dir=tmp_path,
            optimizer=tf_keras.optimizers.Adam(float("inf")),
        )
    assert caught.value.restored_from == tf.train.latest_checkpoint(tmp_path)
    assert_bit_identical(model.values(), good.values())  # back at the last good state
    for path in tf.train.get_checkpoint_state(tmp_path).all_model_checkpoint_paths:
        for name, _ in tf.train.list_variables(path):
            if name.startswith("variables/"):
                assert np.isfinite(tf.train.load_variable(path, name)).all(), (path, name)


def blowup_at_step(model, bad_step):
    """The model's loss, multiplied by a million from step `bad_step` (1-based) on."""
    calls = tf.Variable(0)

    def loss(x, y):
        calls.assign_add(1)
        return model.loss(x, y) * tf.where(calls >= bad_step, 1e6, 1.0)

    return loss


def test_a_finite_loss_blow_up_stops_the_run_and_restores_the_last_good_checkpoint(seed, tmp_path):
    reference = Regression(seed)
    run(reference, epochs=2)
    model = Regression(seed)
    with pytest.raises(TrainingDiverged, match="step 21: the loss blew up") as caught:
        fit(
            blowup_at_step(model, 21),
            [model.w, model.b],
            model.dataset,
            epochs=4,
            progress=False,
            checkpoint_dir=tmp_path,
        )
    assert caught.value.restored_from == tf.train.latest_checkpoint(tmp_path)
    assert "blowup_factor" in str(caught.value)
    assert_bit_identical(model.values(), reference.values())


def test_a_blow_up_right_after_a_save_sets_that_checkpoint_aside(seed, tmp_path):
    # the first loss of epoch 3 judges the variables saved at the end of epoch 2
    reference = Regression(seed)
    run(reference, epochs=1)
    model = Regression(seed)
    with (
        pytest.warns(CheckpointWarning, match="skipped ckpt-2 .diverged"),
        pytest.raises(TrainingDiverged, match="blew up") as caught,
    ):
        fit(
            blowup_at_step(model, 17),
            [model.w, model.b],
            model.dataset,
            epochs=4,
            progress=False,
            checkpoint_dir=tmp_path,
        )
    assert caught.value.restored_from.endswith("ckpt-1")
    assert_bit_identical(model.values(), reference.values())
    assert "diverged-ckpt-2.index" in checkpoint_files(tmp_path)
    assert run(Regression(seed), epochs=2, checkpoint_dir=tmp_path).resumed_from == 1


def test_blowup_factor_none_lets_a_blow_up_run_on(seed):
    model = Regression(seed)
    history = fit(
        blowup_at_step(model, 21),
        [model.w, model.b],
        model.dataset,
        epochs=3,
        progress=False,
        blowup_factor=None,
    )
    assert history.epochs == 3


def test_the_best_checkpoint_survives_the_rotation_of_the_newest(seed, tmp_path):
    model = Regression(seed)
    offset = tf.Variable(0.0)

    def worse_each_epoch(x, y):  # epoch losses rise: epoch 1 is the best
        return model.loss(x, y) + offset

    def raise_offset(epoch, history):
        offset.assign(10.0 * epoch)
        return model.values()

    history = fit(
        worse_each_epoch,
        [model.w, model.b],
        model.dataset,
        epochs=4,
        progress=False,
        checkpoint_dir=tmp_path,
        on_epoch_end=raise_offset,
    )
    assert min(history.loss) == history.loss[0]
    assert checkpoint_files(tmp_path)[0].startswith("ckpt-3")  # epoch 1 rotated out
    best = Regression(seed + 1)
    tf.train.Checkpoint(variables=[best.w, best.b]).read(best_checkpoint(tmp_path)).expect_partial()
    assert_bit_identical(best.values(), history.extra[0])


def test_a_divergence_is_still_reported_when_no_checkpoint_can_be_read_back(seed, tmp_path):
    model = Regression(seed)

    def damage_the_checkpoint(epoch, history):
        corrupt(tmp_path, 1, "flipped bytes")

    loss = nan_at_step(model, 12)
    with (
        pytest.warns(CheckpointWarning, match="no checkpoint that can be restored"),
        pytest.raises(TrainingDiverged, match="step 12") as caught,
    ):
        fit(
            loss,
            [model.w, model.b],
            model.dataset,
            epochs=3,
            progress=False,
            checkpoint_dir=tmp_path,
            on_epoch_end=damage_the_checkpoint,
        )
    assert caught.value.restored_from is None


@pytest.mark.parametrize("keep_probes", [True, False])
def test_a_hutchinson_run_resumes_exactly_when_its_probe_generator_is_checkpointed(
    seed, tmp_path, keep_probes
):
    from support import data
    from support.flows import ffjord

    points = data.moons(64, seed=seed)

    def train(flow, **kwargs):
        objects = {"probes": flow.generator} if keep_probes else None
        return fit(
            flow.loss,
            flow.trainable_variables,
            data.moons_dataset(points, 32, seed=seed),
            epochs=3,
            progress=False,
            checkpoint_objects=objects,
            **kwargs,
        )

    def new_flow():  # a fresh process: the same initial weights and probe seed
        tf.random.set_seed(seed)
        return ffjord.build_ffjord(1, [4], solver="rk4", trace="hutchinson", seed=seed)

    reference = new_flow()
    train(reference)
    with pytest.raises(KeyboardInterrupt):
        train(new_flow(), checkpoint_dir=tmp_path / "run", on_epoch_end=stop_at(1))
    resumed = new_flow()
    assert train(resumed, checkpoint_dir=tmp_path / "run").resumed_from == 1
    weights = [v.numpy() for v in resumed.trainable_variables]
    expected = [v.numpy() for v in reference.trainable_variables]
    if keep_probes:  # the generator's state came back: the same probes as one run drew
        assert_bit_identical(weights, expected)
    else:  # the fresh generator redrew the first epoch's probes
        assert any(not np.array_equal(a, b) for a, b in zip(weights, expected, strict=True))


def fill_the_disk_at_save(monkeypatch, failing_save):
    """Makes save number `failing_save` fail as a full disk does: a partial `_temp` file, then
    TensorFlow's `ResourceExhaustedError ... No space left on device [Op:SaveV2]`."""
    original = tf.train.CheckpointManager.save
    calls = []

    def save(manager, *args, **kwargs):
        calls.append(1)
        if len(calls) == failing_save:
            number = kwargs["checkpoint_number"]
            partial = os.path.join(manager.directory, f"ckpt-{number}_temp")
            os.makedirs(partial)
            data = os.path.join(partial, "part-00000-of-00001.data-00000-of-00001")
            with open(data, "wb") as file:
                file.write(b"\0" * 100)
            raise tf.errors.ResourceExhaustedError(
                None,
                None,
                f"{{{{function_node __wrapped__SaveV2}}}} {data}; "
                "No space left on device [Op:SaveV2]",
            )
        return original(manager, *args, **kwargs)

    monkeypatch.setattr(tf.train.CheckpointManager, "save", save)


def test_a_disk_that_fills_up_stops_the_run_naming_the_directory_space_and_last_checkpoint(
    seed, tmp_path, monkeypatch
):
    directory = tmp_path / "full"
    fill_the_disk_at_save(monkeypatch, failing_save=3)
    with pytest.raises(DiskFull) as caught:
        run(Regression(seed), epochs=4, checkpoint_dir=directory)
    error = caught.value
    message = str(error)
    assert error.errno == errno.ENOSPC and isinstance(error, OSError)
    assert f"checkpoint_dir {str(directory)!r} has no room for ckpt-3" in message
    assert re.search(r"needs about [\d.]+ kB and its file system has [\d.]+ [kMGT]B free", message)
    assert 0 < error.needed < 10**6 and error.free > 0
    assert (
        error.latest.endswith("ckpt-2") and f"last intact checkpoint is {error.latest}" in message
    )
    assert "Free some space" in message and "resume from it" in message
    assert not [p for p in directory.rglob("*") if "_temp" in p.name]
    assert {name.split(".")[0] for name in checkpoint_files(directory)} == {"ckpt-1", "ckpt-2"}

    monkeypatch.undo()
    elsewhere = tmp_path / "elsewhere"  # resumed on another disk: the directory copied there
    shutil.copytree(directory, elsewhere)
    reference = Regression(seed)
    run(reference, epochs=4)
    resumed = Regression(seed)
    history = run(resumed, epochs=4, checkpoint_dir=elsewhere)
    assert history.resumed_from == 2
    assert_bit_identical(resumed.values(), reference.values())


def test_a_disk_without_room_for_one_checkpoint_fails_before_training(seed, tmp_path, monkeypatch):
    model = Regression(seed)
    needed = []

    def nearly_full(path):
        return shutil._ntuple_diskusage(10**9, 10**9 - 5000, 5000)

    monkeypatch.setattr(shutil, "disk_usage", nearly_full)
    with pytest.raises(DiskFull, match="before training.*has 5.0 kB free. Nothing has been saved"):
        run(model, epochs=2, checkpoint_dir=tmp_path, on_epoch_end=lambda *a: needed.append(a))
    assert not needed and not model.w.numpy().any()
    assert checkpoint_files(tmp_path) == [] and checkpoint_files(tmp_path / "best") == []


def test_best_shares_the_newest_checkpoints_files_instead_of_a_second_copy(seed, tmp_path):
    run(Regression(seed), epochs=2, checkpoint_dir=tmp_path)  # the loss falls: ckpt-2 is best
    assert best_checkpoint(tmp_path).endswith(os.path.join("best", "ckpt-2"))
    for name in os.listdir(tmp_path / "best"):
        if name.startswith("ckpt-2."):
            assert os.path.samefile(tmp_path / "best" / name, tmp_path / name)


def test_leftover_temp_files_of_a_killed_save_are_removed_when_the_run_resumes(seed, tmp_path):
    run(Regression(seed), epochs=1, checkpoint_dir=tmp_path)
    for folder in (tmp_path / "ckpt-2_temp", tmp_path / "best" / "ckpt-2_temp"):
        folder.mkdir()
        (folder / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"\0" * 10)
    assert run(Regression(seed), epochs=2, checkpoint_dir=tmp_path).resumed_from == 1
    assert not [p for p in tmp_path.rglob("*") if "_temp" in p.name]


@pytest.fixture
def small_file_system(tmp_path):
    """A 1 MB tmpfs under `tmp_path`, where this process may mount one (root on Linux)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    point = tmp_path / "small"
    point.mkdir()
    if libc.mount(b"tmpfs", bytes(point), b"tmpfs", 0, b"size=1m") != 0:
        pytest.skip(f"cannot mount a tmpfs here: {os.strerror(ctypes.get_errno())}")
    try:
        yield point
    finally:
        libc.umount2(bytes(point), 2)  # MNT_DETACH


def fill(directory):
    with open(directory / "filler", "wb", buffering=0) as file:
        with contextlib.suppress(OSError):
            while True:
                file.write(b"\0" * 4096)


def test_a_real_full_file_system_mid_save_gives_disk_full_and_no_temp_files(
    seed, small_file_system, tmp_path, monkeypatch
):
    import support.training.checkpoints

    # No check before the save: TensorFlow itself meets the full disk, as when it fills up
    # between the check and the write.
    monkeypatch.setattr(support.training.checkpoints, "check_room", lambda *args: None)
    directory = small_file_system / "run"

    def fill_after_epoch_2(epoch, history):
        if epoch == 2:
            fill(small_file_system)
        return epoch

    with pytest.raises(DiskFull, match="no room for ckpt-3.*last intact checkpoint is .*ckpt-2"):
        run(Regression(seed), epochs=4, checkpoint_dir=directory, on_epoch_end=fill_after_epoch_2)
    assert not [p for p in directory.rglob("*") if "_temp" in p.name]
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(directory, elsewhere)
    assert run(Regression(seed), epochs=4, checkpoint_dir=elsewhere).resumed_from == 2


def test_a_real_nearly_full_file_system_is_refused_before_training(seed, small_file_system):
    fill(small_file_system)
    model = Regression(seed)
    with pytest.raises(DiskFull, match="before training.* free. Nothing has been saved yet"):
        run(model, epochs=2, checkpoint_dir=small_file_system / "run")
    assert not model.w.numpy().any()


# worker_directory: where each worker of a multi-worker strategy saves -------------------------


class _Resolver:
    """A cluster resolver as a MultiWorkerMirroredStrategy holds it."""

    def __init__(self, cluster, task_type, task_id):
        self._spec = tf.train.ClusterSpec(cluster)
        self.task_type = task_type
        self.task_id = task_id

    def cluster_spec(self):
        return self._spec


class _Strategy:
    def __init__(self, resolver):
        self.cluster_resolver = resolver


WORKERS = {"worker": ["localhost:1", "localhost:2"]}
WITH_CHIEF = {"chief": ["localhost:0"], **WORKERS}


@pytest.mark.parametrize(
    ("cluster", "task_type", "task_id", "expected"),
    [
        (WORKERS, "worker", 0, "ckpt"),  # no chief: worker 0 is the chief
        (WORKERS, "worker", 1, os.path.join("ckpt", "worker-worker-1")),
        (WITH_CHIEF, "chief", 0, "ckpt"),
        (WITH_CHIEF, "worker", 0, os.path.join("ckpt", "worker-worker-0")),
        (WITH_CHIEF, "worker", 1, os.path.join("ckpt", "worker-worker-1")),
        (WITH_CHIEF, None, None, "ckpt"),
    ],
)
def test_only_the_chief_of_a_cluster_saves_to_the_checkpoint_directory(
    cluster, task_type, task_id, expected
):
    from support.training.checkpoints import worker_directory

    strategy = _Strategy(_Resolver(cluster, task_type, task_id))
    assert worker_directory("ckpt", strategy) == expected


@pytest.mark.parametrize(
    "strategy",
    [None, tf.distribute.get_strategy(), _Strategy(None), _Strategy(_Resolver({}, None, None))],
    ids=["none", "default", "no resolver", "empty cluster"],
)
def test_a_single_process_saves_to_the_checkpoint_directory(strategy):
    from support.training.checkpoints import worker_directory

    assert worker_directory("ckpt", strategy) == "ckpt"
