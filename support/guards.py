"""What stops a `support.training.fit` run early: divergence, loss blow-ups and Ctrl-C.

* `TrainingDiverged`: the error `fit` raises when a loss, a gradient or a variable stops
  being finite, or the loss explodes.
* `BlowupWatch`: the rule that decides when a finite loss has exploded.
* `DeferredInterrupt`: holds a Ctrl-C until the current step is done.

Used by every notebook through `fit`; notebooks only ever see `TrainingDiverged`.
"""

from __future__ import annotations

import collections
import signal
import statistics
import sys
import threading
from collections.abc import Sequence

__all__ = ["BLOWUP_FACTOR", "BlowupWatch", "DeferredInterrupt", "TrainingDiverged"]

BLOWUP_FACTOR = 10.0
"""`fit`'s default `blowup_factor` (see `BlowupWatch`). In the notebooks' default runs (seeds 0
and 1) no step rises more than 1.13 scales above its level (03; 0.42 in 02, 0.07 in 01); a
learning rate of 1e4 for the FFJORD flow (loss 3 -> 2e7) or of 1e6 for the MDN (NLL 3 -> 50,
then stuck) rises 12 or more."""


class TrainingDiverged(RuntimeError):
    """Raised when training goes wrong: a non-finite loss, gradient or variable, or a blow-up.

    Attributes:
      epoch, step: where it happened (1-based; `step` counts all steps since the start).
      loss: the loss value of that step.
      bad_gradients: names of the variables whose gradient was not finite.
      restored_from: the checkpoint the variables were restored from, or None.
      reason: what happened, e.g. "the loss is not finite" or "the loss blew up ...".
      changed: whether the variables had already been updated past their last good values
        (a blow-up, a non-finite update) when no checkpoint could restore them.
    """

    def __init__(
        self,
        epoch: int,
        step: int,
        loss: float,
        bad_gradients: Sequence[str] = (),
        restored_from: str | None = None,
        reason: str | None = None,
        changed: bool = False,
    ):
        self.epoch, self.step, self.loss = epoch, step, loss
        self.bad_gradients = list(bad_gradients)
        self.restored_from = restored_from
        self.reason = reason or "the loss or a gradient is not finite"
        what = f"loss = {loss!r}"
        if bad_gradients:
            what += f", non-finite gradient for {', '.join(bad_gradients)}"
        if restored_from:
            where = f"restored from the last good checkpoint {restored_from}"
        elif changed:
            where = "left as they are, already damaged (no checkpoint to restore them from)"
        else:
            where = "restored to their values before that step"
        super().__init__(
            f"training diverged at epoch {epoch}, step {step}: {self.reason} ({what}). The "
            f"variables were {where}. Try a lower learning rate, a smaller initial scale, or "
            "(for ODE flows) tighter solver tolerances."
        )


class BlowupWatch:
    """Flags a finite step loss that explodes relative to its running level.

    The level is the median of the previous `window` step losses and the spread their range
    (max - min). A step's loss blows up when

        loss > level + factor * max(|level|, spread, 1e-6)

    i.e. when it rises above the recent losses by `factor` times their magnitude or their
    usual scatter, whichever is larger: a loss of 50 after losses near 3, but not the noise
    of mini-batches, nor a loss that crosses zero. The first step is never flagged.

    Args:
      factor: the multiple (positive), or None to switch the rule off.
      window: how many recent steps make the level.
    """

    def __init__(self, factor: float | None, window: int = 50):
        self.factor = factor
        self.recent: collections.deque[float] = collections.deque(maxlen=window)

    def blew_up(self, loss: float) -> str | None:
        """Records `loss`; returns a description if it is a blow-up, else None."""
        found = None
        if self.factor is not None and self.recent:
            level = statistics.median(self.recent)
            scale = max(abs(level), max(self.recent) - min(self.recent), 1e-6)
            if loss > level + self.factor * scale:
                found = (
                    f"the loss blew up to {loss:.4g} from a running level of {level:.4g} "
                    f"(more than blowup_factor = {self.factor:g} times its scale {scale:.3g} "
                    "above it)"
                )
        self.recent.append(loss)
        return found


class DeferredInterrupt:
    """Holds a Ctrl-C until the current step is done (a second Ctrl-C stops at once)."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("interrupt: stopping after this step (press again to stop now)", file=sys.stderr)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False
