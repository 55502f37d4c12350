"""Tests of `support.training.loop.fit`: the loop, its arguments and the divergence guards."""

from __future__ import annotations

import io
import re
import sys
import types
import warnings

import numpy as np
import pytest
import tensorflow as tf
from fit_models import Regression, assert_bit_identical, nan_at_step, run

from support.training import History, TrainingDiverged, fit


@pytest.fixture(autouse=True)
def _deterministic_ops():
    tf.config.experimental.enable_op_determinism()


def test_fit_lowers_the_loss_and_records_each_epoch(seed):
    model = Regression(seed)
    history = run(model, epochs=5, learning_rate=0.05)
    assert isinstance(history, History)
    assert history.epochs == 5 and len(history.seconds) == 5
    assert history.steps == 5 * 8
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert history.resumed_from is None


def test_two_runs_with_the_same_seed_give_identical_results(seed):
    first = Regression(seed)
    second = Regression(seed)
    tf.random.set_seed(seed)
    history_1 = run(first, epochs=3)
    tf.random.set_seed(seed)
    history_2 = run(second, epochs=3)
    assert history_1.loss == history_2.loss
    assert_bit_identical(first.values(), second.values())


def test_the_callback_sees_each_epoch_and_its_results_go_to_extra(seed):
    history = run(Regression(seed), epochs=3, on_epoch_end=lambda epoch, h: (epoch, h.epochs))
    assert history.extra == [(1, 1), (2, 2), (3, 3)]


def test_an_averaging_optimizer_shows_the_callback_the_average_and_ends_on_it(seed):
    import tf_keras

    # One batch per epoch, so each epoch is one step and the average can be followed by hand.
    reference = Regression(seed, batch=256)
    model = Regression(seed, batch=256)
    weights = run(
        reference,
        epochs=4,
        optimizer=tf_keras.optimizers.Adam(0.05),
        on_epoch_end=lambda epoch, h: reference.values(),
    ).extra
    averaging = tf_keras.optimizers.Adam(0.05, use_ema=True, ema_momentum=0.6)
    seen = run(model, epochs=4, optimizer=averaging, on_epoch_end=lambda e, h: model.values())

    average = [np.zeros(3), 0.0]  # the initial values
    for step, raw in enumerate(weights):
        average = [0.6 * a + 0.4 * w for a, w in zip(average, raw, strict=True)]
        for got, expected, own in zip(seen.extra[step], average, raw, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
            assert np.max(np.abs(own - expected)) > 1e-3  # the average is not the weights
    for got, expected in zip(model.values(), average, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


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


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"epochs": 2.5}, TypeError, "epochs"),
        ({"epochs": 1, "save_every": 0}, ValueError, "save_every"),
        ({"epochs": 1, "checkpoint_dir": 3}, TypeError, "checkpoint_dir"),
        ({"epochs": 1, "checkpoint_objects": {"optimizer": 1}}, ValueError, "checkpoint_objects"),
        ({"epochs": 1, "checkpoint_objects": [1]}, TypeError, "checkpoint_objects"),
        ({"epochs": 1, "resume": "yes"}, TypeError, "resume"),
        ({"epochs": 1, "strategy": "mirrored"}, TypeError, "strategy"),
        ({"epochs": 1, "on_epoch_end": 3}, TypeError, "on_epoch_end"),
        ({"epochs": 1, "learning_rate": -1.0}, ValueError, "learning_rate"),
        ({"epochs": 1, "learning_rate": float("inf")}, ValueError, "learning_rate"),
        ({"epochs": 1, "blowup_factor": 0}, ValueError, "blowup_factor"),
        ({"epochs": 1, "blowup_factor": "big"}, TypeError, "blowup_factor"),
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


def test_a_disabled_progress_bar_is_plain_tqdm_not_tqdm_auto(monkeypatch):
    # tqdm.auto warns on import in a kernel without ipywidgets: fit(progress=False) shows no
    # bar, so it must not go through it
    from tqdm import std

    from support.training import progress_bar

    monkeypatch.setenv("SUPPORT_PROGRESS", "auto")
    bar = progress_bar(total=3, disable=True)
    assert type(bar) is std.tqdm
    bar.close()


def _as_in_a_jupyter_kernel(monkeypatch):
    """What tqdm.auto looks for to tell a Jupyter kernel (ipykernel's shell), and tqdm.auto
    imported afresh, since it picks its bar when first imported; all restored after the test."""
    monkeypatch.setitem(sys.modules, "ipykernel.zmqshell", types.ModuleType("ipykernel.zmqshell"))
    for name in ("tqdm.auto", "tqdm.autonotebook", "tqdm.notebook"):
        monkeypatch.setitem(sys.modules, name, sys.modules.get(name))  # restored afterwards
        del sys.modules[name]
    monkeypatch.setenv("SUPPORT_PROGRESS", "auto")


def test_in_a_kernel_without_ipywidgets_the_bar_is_plain_tqdm_without_tqdm_autos_warning(
    monkeypatch,
):
    # A Jupyter kernel where ipywidgets is missing, as in the Colab stand-in: tqdm.auto warns
    # "IProgress not found" there, then falls back to tqdm.std.
    from tqdm import std

    from support.training import progress_bar

    shell = type("ZMQInteractiveShell", (), {})()
    ipython = types.ModuleType("IPython")
    ipython.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not importable
    _as_in_a_jupyter_kernel(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm's TqdmWarning would fail the test
        bar = progress_bar(total=3)
    assert type(bar) is std.tqdm
    bar.close()


def test_in_a_kernel_with_ipywidgets_the_bar_is_tqdms_notebook_widget(monkeypatch):
    from support.training import progress_bar

    _as_in_a_jupyter_kernel(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tqdm.auto's "notebook mode" note
        bar = progress_bar(total=3, display=False)
    assert isinstance(bar, sys.modules["tqdm.notebook"].tqdm) and bar.container  # a widget
    bar.close()


def test_fits_bar_counts_epochs_and_is_flushed_whole_before_fit_returns(monkeypatch):
    # A Jupyter kernel sends what stderr holds when it is flushed; the bar's last newline, left
    # in the buffer, would come after the cell's next print, as an output of its own.
    class Recording(io.StringIO):
        flushed = ""

        def flush(self):
            self.flushed = self.getvalue()

    stream = Recording()
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setenv("SUPPORT_PROGRESS", "auto")
    run(Regression(seed=0), epochs=2, progress=True, description="demo")
    assert stream.getvalue().endswith("\n") and "2/2" in stream.getvalue()
    assert "epoch/s" in stream.getvalue() or "s/epoch" in stream.getvalue()
    assert stream.flushed == stream.getvalue()


def test_the_text_progress_bar_writes_nothing_until_it_closes_then_one_line(monkeypatch, capsys):
    from support.training import progress_bar

    monkeypatch.setenv("SUPPORT_PROGRESS", "text")
    bar = progress_bar(total=3, desc="demo")
    for _ in range(3):
        bar.update(1)
        bar.set_postfix(loss="0.5")
    assert capsys.readouterr().out == ""
    bar.close()
    bar.close()  # a second close prints nothing more
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "\r" not in out, repr(out)
    assert out.startswith("demo: 100%") and "3/3" in out and "loss=0.5" in out, out
    assert re.search(r"\[\d+\.\d s, ", out), out  # the elapsed seconds, to a tenth


def test_the_text_progress_bar_s_rate_is_its_count_over_its_elapsed_seconds(monkeypatch, capsys):
    import time

    from support.training import progress_bar

    monkeypatch.setenv("SUPPORT_PROGRESS", "text")
    bar = progress_bar(total=3, desc="demo")
    time.sleep(0.5)  # a slow first step, then two fast ones: a smoothed rate would be far off
    for _ in range(3):
        bar.update(1)
    bar.close()
    out = capsys.readouterr().out
    elapsed = float(re.search(r"\[(\d+\.\d) s, ", out).group(1))
    rate = float(re.search(r"(\d+\.\d+)it/s", out).group(1))
    assert abs(rate - 3 / elapsed) < 0.15 * rate, out  # the elapsed seconds are to a tenth
