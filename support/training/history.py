"""What a `support.fit` run records: its `History`, and the `RunState` a checkpoint keeps.

The bottom layer of the training modules (history -> checkpoints -> training): it imports
neither of the others, so both can use it.

* `History`: the per-epoch losses and times that `fit` returns (every notebook).
* `RunState`: the history plus the position within the current epoch, written into a
  checkpoint as JSON in a string variable, so a resumed run knows where it stopped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import tensorflow as tf

__all__ = ["History", "RunState"]


@dataclass
class History:
    """Per-epoch record of a `fit` run.

    Attributes:
      loss: mean training loss of each epoch.
      seconds: wall time of each epoch.
      steps: total number of optimisation steps taken.
      extra: per-epoch values returned by the `on_epoch_end` callback, if any. They are not
        checkpointed: after a resume, epochs run before it hold None.
      resumed_from: epochs already completed when this run resumed from a checkpoint, or
        None for a fresh run.
    """

    loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    steps: int = 0
    extra: list[Any] = field(default_factory=list)
    resumed_from: int | None = None

    @property
    def epochs(self) -> int:
        return len(self.loss)


class RunState:
    """What a checkpoint holds besides TF objects: the history and the position, as JSON.

    Attributes:
      variable: the string `tf.Variable` a checkpoint saves (`dump` fills it, `load` reads it).
      history: the run's `History`.
      step_in_epoch: steps already taken in the current, unfinished epoch.
      epoch_total: the sum of those steps' losses (for the epoch's mean).
    """

    def __init__(self):
        self.variable = tf.Variable("", dtype=tf.string, trainable=False)
        self.history = History()
        self.step_in_epoch = 0
        self.epoch_total = 0.0

    def dump(self) -> None:
        """Writes the state into `variable`, ready to be saved."""
        h = self.history
        state = {
            "history": {"loss": h.loss, "seconds": h.seconds, "steps": h.steps},
            "step_in_epoch": self.step_in_epoch,
            "epoch_total": self.epoch_total,
        }
        self.variable.assign(json.dumps(state))

    def load(self) -> None:
        """Reads the state back from `variable` (just restored from a checkpoint).

        Raises:
          ValueError: if the variable does not hold a state written by `dump`.
        """
        try:
            state = json.loads(self.variable.numpy().decode("utf-8"))
            h = state["history"]
            history = History(
                loss=[float(x) for x in h["loss"]],
                seconds=[float(x) for x in h["seconds"]],
                steps=int(h["steps"]),
                extra=[None] * len(h["loss"]),
                resumed_from=len(h["loss"]),
            )
            step_in_epoch = int(state["step_in_epoch"])
            epoch_total = float(state["epoch_total"])
        except (UnicodeDecodeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"the saved run state is unreadable ({error!r:.200})") from error
        self.history, self.step_in_epoch, self.epoch_total = history, step_in_epoch, epoch_total
