"""What stops a `support.training.loop.fit` run early: divergence, loss blow-ups, Ctrl-C, SIGTERM.

* `TrainingDiverged`: the error `fit` raises when a loss, a gradient or a variable stops
  being finite, or the loss explodes.
* `BlowupWatch`: the rule that decides when a finite loss has exploded.
* `DeferredInterrupt`: holds a Ctrl-C or a SIGTERM until the current step is done.
* `Terminated`: what `fit` raises after a SIGTERM, once the step is done and saved.

Used by every notebook through `fit`; notebooks only ever see `TrainingDiverged` (and
`Terminated` when a scheduler stops them).
"""

from __future__ import annotations

import collections
import signal
import statistics
import sys
import threading
import warnings
from collections.abc import Sequence

__all__ = ["BLOWUP_FACTOR", "BlowupWatch", "DeferredInterrupt", "Terminated", "TrainingDiverged"]

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
        self.epoch = epoch
        self.step = step
        self.loss = loss
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


class Terminated(SystemExit):
    """Raised by `fit` after a SIGTERM, once the step in progress is done and saved.

    A `SystemExit` whose code is 143 (128 + 15, the status of a process killed by SIGTERM):
    uncaught, it ends a script quietly with that status after `fit`'s message on stderr;
    in Jupyter it stops the cell. `except Exception` does not catch it, as it should not.

    This is what `tf.distribute.experimental.PreemptionCheckpointHandler` promises outside
    Google's platforms: SIGTERM is the notice; the current step is wrapped up, a checkpoint
    saved and the program exits (there with an arbitrary code, 42; here 143, so whatever
    started the run sees what stopped it). Unlike it, `fit` does not coordinate workers:
    with several, each must get the SIGTERM (as when a scheduler stops the whole job).
    """

    def __init__(self, message: str):
        super().__init__(128 + signal.SIGTERM)
        self.message = message

    def __str__(self) -> str:
        return self.message


_SAID = set()  # what `DeferredInterrupt` has already warned about, said once per process


class DeferredInterrupt:
    """Holds a Ctrl-C (SIGINT) or a SIGTERM until the current step is done.

    A schedulers' stop (Slurm before a pre-emption, Kubernetes, `docker stop`) is a SIGTERM
    and then, after a grace period, a SIGKILL: the step and the save must fit in between.
    A second Ctrl-C stops at once; a repeated SIGTERM changes nothing (a stop forwarded to
    a whole process group may arrive twice). The previous handlers are put back on exit.
    Signals can only be handled in the main thread: elsewhere this warns once and does
    nothing (the process's own handlers, or the defaults, apply).
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signal: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def _handler(self, signum, frame):
        if signum == signal.SIGINT and self.signal is not None:
            raise KeyboardInterrupt
        if self.signal is not None:
            return
        self.signal = signum
        if signum == signal.SIGTERM:
            print("SIGTERM: stopping after this step, and saving", file=sys.stderr)
        else:
            print("interrupt: stopping after this step (press again to stop now)", file=sys.stderr)

    def stop(self, saved: str | None) -> None:
        """Says what was kept (`saved`: None without checkpoints); after a SIGTERM, raises
        `Terminated`, else returns for the `KeyboardInterrupt` to go on."""
        if self.signal != signal.SIGTERM:
            if saved is not None:
                print(f"interrupted: {saved}", file=sys.stderr)
            return
        saved = saved or "nothing was saved (fit was given no checkpoint_dir)"
        message = f"stopped by SIGTERM: {saved}"
        print(message, file=sys.stderr)
        raise Terminated(message) from None

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            if "thread" not in _SAID:
                _SAID.add("thread")
                warnings.warn(
                    "fit runs outside the main thread, where Python cannot handle signals: a "
                    "Ctrl-C or SIGTERM will not wait for the step to finish and save",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return self
        for number in self.SIGNALS:
            self._previous[number] = signal.signal(number, self._handler)
        return self

    def __exit__(self, *exc):
        for number, previous in self._previous.items():
            # None: a handler installed outside Python, which cannot be put back
            signal.signal(number, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()
        return False
