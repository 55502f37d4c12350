"""Tests of `support.training.guards`: the blow-up rule, the `TrainingDiverged` message, signals."""

from __future__ import annotations

import signal
import threading
import warnings

import numpy as np
import pytest

from support.training import guards
from support.training.guards import (
    BLOWUP_FACTOR,
    BlowupWatch,
    DeferredInterrupt,
    Terminated,
    TrainingDiverged,
)


def feed(watch, losses):
    return [watch.blew_up(float(loss)) for loss in losses]


def test_a_loss_that_jumps_tenfold_above_its_level_is_a_blow_up():
    watch = BlowupWatch(BLOWUP_FACTOR)
    assert feed(watch, [3.0, 3.0, 3.0]) == [None] * 3
    assert watch.blew_up(3.0 + 10 * 3.0) is None  # at the bound: level 3, scale 3, not above
    found = watch.blew_up(6e7)
    assert found and "blew up to 6e+07" in found and "blowup_factor = 10 " in found


def test_mini_batch_noise_a_falling_loss_and_a_zero_crossing_are_not_blow_ups(seed):
    rng = np.random.default_rng(seed)
    falling = 50 * np.exp(-np.arange(300) / 30) - 1 + rng.normal(scale=0.3, size=300)
    assert feed(BlowupWatch(BLOWUP_FACTOR), falling) == [None] * 300


def test_the_first_step_is_never_a_blow_up_and_none_switches_the_rule_off():
    assert BlowupWatch(BLOWUP_FACTOR).blew_up(1e30) is None
    assert feed(BlowupWatch(None), [1.0, 1e30]) == [None, None]


def test_the_rule_follows_its_factor():
    # level 1, scale max(|1|, range 0) = 1: the bound is 1 + 10 * 1
    assert feed(BlowupWatch(10.0), [1.0, 1.0, 11.0]) == [None, None, None]
    assert feed(BlowupWatch(10.0), [1.0, 1.0, 11.1])[-1] is not None


def test_the_divergence_message_names_the_step_the_reason_and_the_variables_state():
    error = TrainingDiverged(2, 9, 6e7, reason="the loss blew up", changed=True)
    assert "epoch 2, step 9: the loss blew up (loss = 60000000.0)" in str(error)
    assert "already damaged" in str(error) and "lower learning rate" in str(error)
    restored = TrainingDiverged(2, 9, float("nan"), ["w:0"], "ckpt-1")
    assert "non-finite gradient for w:0" in str(restored) and "from the last good" in str(restored)


@pytest.mark.slow
@pytest.mark.parametrize("seed_offset", [0, 1])
def test_fit_stops_an_mdn_at_a_learning_rate_of_a_million(seed, seed_offset):
    from support import data, mdn, runtime
    from support.training import fit

    runtime.setup(seed + seed_offset)
    x, y = data.cardioid(2000, seed=seed + seed_offset)
    model = mdn.build_mdn(
        num_components=8, hidden_units=[64, 64], activation="relu", scale_floor=0.01
    )
    dataset = mdn.make_dataset(x, y, batch_size=100, seed=seed)
    with pytest.raises(TrainingDiverged, match="the loss blew up"):
        fit(
            mdn.mdn_loss(model),
            model.trainable_variables,
            dataset,
            epochs=2,
            learning_rate=1e6,
            progress=False,
        )


def test_deferred_interrupt_holds_sigterm_and_puts_the_previous_handlers_back():
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda *a: seen.append("own handler"))
    try:
        mine = signal.getsignal(signal.SIGTERM)
        interrupt_handler = signal.getsignal(signal.SIGINT)
        with DeferredInterrupt() as interrupt:
            signal.raise_signal(signal.SIGTERM)
            signal.raise_signal(signal.SIGTERM)  # repeated: still one request, no exit
            assert interrupt.requested and interrupt.signal == signal.SIGTERM
            with pytest.raises(Terminated, match="stopped by SIGTERM: saved ckpt-3") as caught:
                interrupt.stop("saved ckpt-3")
            assert caught.value.code == 128 + signal.SIGTERM
        assert seen == []
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) is interrupt_handler
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_second_ctrl_c_stops_at_once_and_a_first_one_is_a_keyboard_interrupt():
    with DeferredInterrupt() as interrupt:
        signal.raise_signal(signal.SIGINT)
        assert interrupt.signal == signal.SIGINT
        interrupt.stop("saved ckpt-1")  # returns: the caller re-raises KeyboardInterrupt
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)


def test_outside_the_main_thread_signals_are_left_alone_with_one_warning(monkeypatch):
    monkeypatch.setattr(guards, "_SAID", set())
    before = signal.getsignal(signal.SIGTERM)
    caught = []

    def enter_twice():
        with warnings.catch_warnings(record=True) as found:
            warnings.simplefilter("always")
            for _ in range(2):
                with DeferredInterrupt() as interrupt:
                    assert not interrupt.requested
            caught.extend(found)

    thread = threading.Thread(target=enter_twice)
    thread.start()
    thread.join()
    assert [str(w.message)[:40] for w in caught] == ["fit runs outside the main thread, where "]
    assert caught[0].category is RuntimeWarning and "SIGTERM" in str(caught[0].message)
    assert signal.getsignal(signal.SIGTERM) is before
