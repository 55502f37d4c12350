"""Tests of `support.training.history`: a run's `History` and the `RunState` a checkpoint keeps."""

from __future__ import annotations

import ast
import pathlib

import pytest

from support.training.history import History, RunState


def test_history_counts_its_epochs():
    assert History(loss=[3.0, 2.0], seconds=[1.0, 1.0], steps=16).epochs == 2


def test_run_state_survives_a_dump_and_load():
    state = RunState()
    state.history = History(loss=[3.0, 2.5], seconds=[0.5, 0.4], steps=20)
    state.step_in_epoch, state.epoch_total = 4, 9.75
    state.dump()
    restored = RunState()
    restored.variable.assign(state.variable)
    restored.load()
    assert restored.history.loss == [3.0, 2.5] and restored.history.seconds == [0.5, 0.4]
    assert restored.history.steps == 20 and restored.history.resumed_from == 2
    assert restored.history.extra == [None, None]  # callback results are not saved
    assert (restored.step_in_epoch, restored.epoch_total) == (4, 9.75)


@pytest.mark.parametrize("saved", [b"", b"not json", b'{"history": {}}', b"\xff\xfe"])
def test_an_unreadable_run_state_is_a_clear_value_error(saved):
    state = RunState()
    state.variable.assign(saved)
    with pytest.raises(ValueError, match="saved run state is unreadable"):
        state.load()


LAYERS = ["history", "checkpoints", "guards", "steps", "loop"]


@pytest.mark.parametrize("index", range(len(LAYERS)))
def test_the_training_modules_import_only_the_layers_below_them(index):
    path = pathlib.Path(__file__).parents[2] / "support" / "training" / f"{LAYERS[index]}.py"
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("support.training."):
            imported.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            imported.update(
                a.name.split(".")[2] for a in node.names if a.name.startswith("support.training.")
            )
    assert not imported & set(LAYERS[index:]), imported
