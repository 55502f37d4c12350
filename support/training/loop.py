"""One fit loop for every notebook: a loss, its variables, a dataset, epochs.

`fit` repeats `support.training.steps.train_step` over a `tf.data.Dataset` for a number of epochs,
shows a tqdm progress bar with the running loss and returns the per-epoch `History`. It
loses nothing (docs/reliability.md says what survives what):

* **Checkpoints.** With `checkpoint_dir=`, `support.training.checkpoints` saves after every
  epoch the variables (and any `checkpoint_objects` that own them), the optimizer's state and the
  history, locks the directory, checks its free space, verifies what it restores and keeps
  the best checkpoint (lowest epoch loss) besides the newest ones.
* **Resume.** Calling `fit` again with the same `checkpoint_dir` continues where the last run
  stopped; `epochs` is the total to reach. An interrupted run plus its resume ends with the
  same variables, bit for bit, as one uninterrupted run (deterministic ops on CPU).
* **Interruption.** Ctrl-C (a Jupyter "interrupt kernel") or SIGTERM (a scheduler's stop)
  finishes the current step, saves a checkpoint and raises `KeyboardInterrupt` or
  `support.training.guards.Terminated` (exit 143); a second Ctrl-C stops at once.
* **Divergence.** A non-finite loss, gradient or variable, or a blow-up (`guards.BlowupWatch`)
  stops the run: the last good checkpoint (if any) is restored and `TrainingDiverged` names
  the step, the value and what to try.
* **Scale-out.** `strategy=` runs each step on every replica of a `tf.distribute.Strategy`.
"""

from __future__ import annotations

import importlib.util
import io
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import tensorflow as tf

from support import _checks
from support.training.checkpoints import RESERVED, Checkpoints, CheckpointWarning
from support.training.guards import BLOWUP_FACTOR, BlowupWatch, DeferredInterrupt, TrainingDiverged
from support.training.history import History, RunState
from support.training.optimizers import averaged_weights, use_averages
from support.training.steps import (
    Batches,
    Step,
    check_strategy,
    make_optimizer,
    prepare_optimizer,
    train_step,
)

__all__ = ["History", "TrainingDiverged", "fit", "make_optimizer", "progress_bar", "train_step"]


def progress_bar(**kwargs):
    """A tqdm bar: a live widget in Jupyter or Colab (a live line in a kernel without
    ipywidgets), a live line in a terminal, and under papermill one final line.

    `SUPPORT_PROGRESS=text` (set by `tools/notebooks.py` for its papermill runs) selects the
    final-line bar: nothing is written while it runs (each refresh would be stored as one more
    fragment of the cell's output), and on `close` it prints its last state, with the seconds
    elapsed since it was made (to a tenth), as one line on stdout. Its rate is the overall
    average, iterations over elapsed time (no smoothing), so the line agrees with itself.
    """
    if os.environ.get("SUPPORT_PROGRESS", "auto") == "text":
        return _final_line_bar(**kwargs)
    if kwargs.get("disable") or importlib.util.find_spec("ipywidgets") is None:
        # No bar, or no widgets to draw one: the text bar that tqdm.auto falls back to in a
        # kernel without ipywidgets, without the warning it prints there.
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm
    return tqdm(**kwargs)


#: The final line: the bar, the count, then the seconds elapsed to a tenth (tqdm's own format
#: truncates them to whole seconds), the rate and the postfix (the loss).
_FINAL_LINE_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed_s:.1f} s, {rate_fmt}{postfix}]"


def _final_line_bar(**kwargs):
    from tqdm.std import tqdm

    class FinalLineBar(tqdm):
        """A tqdm bar that writes nothing until `close`, then its final state as one line."""

        def __init__(self, **options):
            options.setdefault("bar_format", _FINAL_LINE_FORMAT)
            options.setdefault("smoothing", 0)  # the rate: iterations over elapsed time
            super().__init__(file=io.StringIO(), **options)

        def close(self):
            if self.disable:
                return
            line = str(self)  # the final state, timed now
            super().close()
            print(line, file=sys.stdout, flush=True)

    return FinalLineBar(**kwargs)


def _validate(loss_fn, variables, dataset, epochs, options) -> list[tf.Variable]:
    _checks.callable_("loss_fn", loss_fn)
    _checks.positive_int("epochs", epochs)
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(f"dataset must be a tf.data.Dataset, got {type(dataset).__name__}")
    variables = list(variables)
    if not variables:
        raise ValueError("variables must hold at least one trainable tf.Variable")
    for v in variables:
        if not isinstance(v, tf.Variable):
            raise TypeError(f"variables must be tf.Variables, got {type(v).__name__}")
    directory = options["checkpoint_dir"]
    objects = options["checkpoint_objects"]
    if directory is not None and not isinstance(directory, str | os.PathLike):
        raise TypeError(f"checkpoint_dir must be a path, got {type(directory).__name__}")
    if objects is not None and not isinstance(objects, Mapping):
        raise TypeError("checkpoint_objects must be a mapping of name to trackable object")
    for name in objects or {}:
        if not isinstance(name, str) or not name.isidentifier() or name in RESERVED:
            raise ValueError(
                f"checkpoint_objects keys must be identifiers other than {RESERVED}, got {name!r}"
            )
    _checks.positive_int("save_every", options["save_every"])
    if not isinstance(options["resume"], bool):
        raise TypeError(f"resume must be True or False, got {options['resume']!r}")
    if options["on_epoch_end"] is not None:
        _checks.callable_("on_epoch_end", options["on_epoch_end"])
    if options["blowup_factor"] is not None:
        _checks.positive_float("blowup_factor", options["blowup_factor"])
    check_strategy(options["strategy"], variables)
    return variables


class _Loop:
    """The state of one `fit` call and its named steps: epochs, saving, stopping."""

    def __init__(self, step, data, state, checkpoints, bar, options):
        self.step = step
        self.data = data
        self.state = state
        self.checkpoints = checkpoints
        self.bar = bar
        self.options = options
        self.watch = BlowupWatch(options["blowup_factor"])
        self.in_step = False

    def run_epoch(self, epoch: int, interrupt) -> None:
        state = self.state
        started = time.perf_counter()
        for batch in self.data.epoch(state.step_in_epoch):
            self.in_step = True
            result = train_step(self.step, batch)
            blowup = None if result.problem else self.watch.blew_up(result.loss)
            if result.problem or blowup:
                self.diverged(epoch, result, blowup)
            state.history.steps += 1
            state.step_in_epoch += 1
            state.epoch_total += result.loss
            self.in_step = False
            count = state.step_in_epoch
            if count % 10 == 0 or count == 1:
                self.bar.set_postfix(loss=f"{state.epoch_total / count:.4f}", refresh=False)
            if interrupt.requested:
                raise KeyboardInterrupt
        self.in_step = False
        if state.step_in_epoch == 0:
            raise ValueError("dataset yielded no batches")
        state.history.loss.append(state.epoch_total / state.step_in_epoch)
        state.history.seconds.append(time.perf_counter() - started)
        state.step_in_epoch = 0
        state.epoch_total = 0.0
        self.bar.set_postfix(loss=f"{state.history.loss[-1]:.4f}", refresh=False)
        self.bar.update(1)

    def end_epoch(self, epoch: int, epochs: int) -> None:
        options = self.options
        due = (epoch + 1) % options["save_every"] == 0 or epoch + 1 == epochs
        if self.checkpoints is not None and due:
            self.checkpoints.save()
        if options["on_epoch_end"] is not None:  # shown the averaged weights, if kept
            history = self.state.history
            with averaged_weights(self.step.optimizer, self.step.variables):
                history.extra.append(options["on_epoch_end"](epoch + 1, history))

    def diverged(self, epoch: int, result, blowup: str | None):
        """Restores the last good checkpoint and raises `TrainingDiverged`."""
        steps = self.state.history.steps
        restored = None
        if self.checkpoints is not None:
            # A bad loss was computed from the variables after the previous step: a
            # checkpoint of those is set aside; a bad gradient or update leaves it good.
            loss_bad = blowup is not None or result.problem == "the loss is not finite"
            before = steps if loss_bad else None
            try:
                restored = self.checkpoints.restore_newest(self.step.optimizer, before)
            except ValueError as error:  # none can be read back: still report the divergence
                warnings.warn(str(error), CheckpointWarning, stacklevel=2)
        raise TrainingDiverged(
            epoch + 1,
            steps + 1,
            result.loss,
            bad_gradients=result.bad_gradients,
            restored_from=restored,
            reason=blowup or result.problem,
            changed=bool(blowup) or "variable" in result.problem,
        )

    def interrupted(self) -> str | None:  # what was kept; None without checkpoints
        if self.checkpoints is None:
            return None
        if self.in_step:
            note = f"stopped mid-step; the last checkpoint is {self.checkpoints.latest}"
        else:
            note = f"saved {self.checkpoints.save()}"
        return f"{note}. Call fit again with the same checkpoint_dir to continue."


def _open_checkpoints(options, variables, optimizer, state) -> Checkpoints | None:
    if options["checkpoint_dir"] is None:
        return None
    objects = dict(options["checkpoint_objects"] or {}, variables=variables, optimizer=optimizer)
    checkpoints = Checkpoints(options["checkpoint_dir"], objects, state, options["strategy"])
    if options["resume"]:
        try:
            checkpoints.restore_newest(optimizer)
        except BaseException:
            checkpoints.close()
            raise
    return checkpoints


def fit(
    loss_fn: Callable[..., tf.Tensor],
    variables: Sequence[tf.Variable],
    dataset: tf.data.Dataset,
    *,
    epochs: int,
    optimizer=None,
    learning_rate: float = 1e-2,
    jit_compile: bool = False,
    progress: bool = True,
    description: str = "training",
    on_epoch_end: Callable[[int, History], Any] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_objects: Mapping[str, Any] | None = None,
    resume: bool = True,
    save_every: int = 1,
    strategy: tf.distribute.Strategy | None = None,
    blowup_factor: float | None = BLOWUP_FACTOR,
) -> History:
    """Minimises `loss_fn` over `dataset` until `epochs` passes are done.

    A run with `checkpoint_dir` can be stopped at any time (Ctrl-C, a dead kernel, a callback
    that raises) and continued by calling `fit` again with the same arguments: it restores
    the variables, the optimizer's moments and step count, the history and the position in
    the data, and runs the remaining epochs. Done right, the result equals an uninterrupted
    run bit for bit (same seed, `support.setup(seed)`'s deterministic ops, CPU).

    With an optimizer that keeps a moving average of the weights (`tf_keras`'s `use_ema`, e.g.
    `support.training.optimizers.decaying_adam(..., average=0.95)`), `on_epoch_end` sees the
    averaged weights and `fit` leaves them in the variables when it is done (as Keras's `Model.fit`
    does); checkpoints hold the weights being trained and, in the optimizer, their average.

    Args:
      loss_fn: called with each batch (a tuple batch is unpacked into arguments) and returns
        a scalar loss tensor: the mean over the batch's examples.
      variables: the trainable variables, e.g. `distribution.trainable_variables`.
      dataset: a finite `tf.data.Dataset`; one pass over it is one epoch.
      epochs: total number of passes to reach, a positive integer (a resumed run counts the
        epochs it has already done).
      optimizer: a `tf_keras` optimizer or a Sonnet 2 optimizer. Default: `tf_keras` Adam
        with `learning_rate` (created under the strategy's scope, if any).
      learning_rate: used only when `optimizer` is None.
      jit_compile: compile the loss and gradient computation with XLA.
      progress: show a tqdm progress bar with the running loss.
      description: the progress bar's label.
      on_epoch_end: optional `callback(epoch, history)`, called after the epoch's checkpoint
        is written; whatever it returns is appended to `history.extra` (e.g. samples for a
        figure at each epoch). Raise `KeyboardInterrupt` from it to stop early and keep a
        checkpoint.
      checkpoint_dir: a directory for checkpoints (None: none), locked while `fit` runs.
        Saved every `save_every` epochs, after the last epoch and on interruption; the
        newest `MAX_TO_KEEP` (2) are kept, and `best/` keeps the saved epoch with the lowest
        loss (`support.training.checkpoints.best_checkpoint(checkpoint_dir)` gives its path).
      checkpoint_objects: optional `{name: trackable}` saved alongside, typically the
        objects that own the variables (a `tfd.Distribution`, a `tf.Module`, a Keras
        model), so the checkpoint can also be read without `fit`, e.g. the best one:
        `tf.train.Checkpoint(model=model).read(best_checkpoint(d)).expect_partial()`.
      resume: continue from the newest intact checkpoint in `checkpoint_dir` if there is
        one; False starts from the current variable values (later saves supersede the old
        ones). The learning rate is always the one given now, so a run that diverged can
        be resumed with a lower one.
      save_every: save every this many epochs (a positive integer).
      strategy: a `tf.distribute.Strategy` whose scope created `variables`; `dataset` then
        yields global batches shared among the replicas (see `support.training.steps.Step`).
      blowup_factor: stop when a step's loss rises above the median of the last 50 step
        losses by more than this many times their magnitude or range (the rule of
        `support.training.guards.BlowupWatch`); None switches the check off.

    Returns:
      The `History` of the whole run (earlier sessions included after a resume).

    Raises:
      TypeError / ValueError: for a bad argument, an infinite or empty dataset, variables
        created outside the strategy's scope, a `checkpoint_dir` that cannot be written,
        or checkpoints none of which can be restored, before any training.
      RuntimeError: if another run holds `checkpoint_dir` (the message names its pid).
      TrainingDiverged: at the first non-finite loss, gradient or variable, or loss blow-up.
        With `checkpoint_dir`, the newest good checkpoint is restored (one holding the
        variables that produced a bad loss is set aside as `diverged-ckpt-N`), so memory
        and disk hold the last good state; resume with a lower learning rate.
      KeyboardInterrupt: re-raised after saving a checkpoint (with `checkpoint_dir`).
      Terminated: after a SIGTERM, once the step is done and saved (a `SystemExit`, code 143).
      DiskFull: an `OSError` naming `checkpoint_dir`, the space needed and free and the last
        intact checkpoint, before training or at a save (see `support.training.storage`).
    """
    options = dict(
        checkpoint_dir=checkpoint_dir,
        checkpoint_objects=checkpoint_objects,
        resume=resume,
        save_every=save_every,
        on_epoch_end=on_epoch_end,
        strategy=strategy,
        blowup_factor=blowup_factor,
    )
    variables = _validate(loss_fn, variables, dataset, epochs, options)
    data = Batches(dataset, strategy)
    optimizer = prepare_optimizer(optimizer, learning_rate, variables, strategy)
    step = Step(loss_fn, variables, optimizer, strategy, jit_compile)
    state = RunState()
    checkpoints = _open_checkpoints(options, variables, optimizer, state)
    start = state.history.epochs
    bar = progress_bar(
        total=epochs,
        initial=min(start, epochs),
        desc=description,
        unit="epoch",
        disable=not progress,
    )
    loop = _Loop(step, data, state, checkpoints, bar, options)
    try:
        data.start(state.history.steps)
        with DeferredInterrupt() as interrupt:  # the save below happens under it too
            try:
                for epoch in range(start, epochs):
                    loop.run_epoch(epoch, interrupt)
                    loop.end_epoch(epoch, epochs)
                    if interrupt.requested:
                        raise KeyboardInterrupt
            except KeyboardInterrupt:
                interrupt.stop(loop.interrupted())  # raises Terminated after a SIGTERM
                raise
        use_averages(optimizer, variables)  # a no-op unless the optimizer keeps an average
    finally:
        bar.close()
        sys.stderr.flush()  # the bar's last newline, before what the notebook prints next
        if checkpoints is not None:
            checkpoints.close()
    return state.history
