"""One fit loop for every notebook: a loss, its variables, a dataset, epochs.

`fit` compiles one training step with `tf.function`, runs it over a `tf.data.Dataset` for
a number of epochs, shows a tqdm progress bar with the running loss (a widget in Jupyter,
text under papermill or in a terminal) and returns the per-epoch history. It loses nothing:

* **Checkpoints.** With `checkpoint_dir=`, a `tf.train.CheckpointManager` saves after every
  epoch the variables (and any `checkpoint_objects` that own them), the optimizer's state,
  the epoch counter, the history and, when the dataset allows it, the data iterator's
  position (shuffle buffer and reshuffle seeds included).
* **Resume.** Calling `fit` again with the same `checkpoint_dir` continues where the last run
  stopped; `epochs` is the total to reach. An interrupted run plus its resume ends with the
  same variables, bit for bit, as one uninterrupted run (deterministic ops on CPU).
* **Interruption.** Ctrl-C (a Jupyter "interrupt kernel") finishes the current step, saves a
  checkpoint and re-raises `KeyboardInterrupt`; a second Ctrl-C stops at once.
* **Divergence.** At the first non-finite loss or gradient the step is not applied, the last
  good checkpoint (if any) is restored and `TrainingDiverged` names the step, the value and
  what to try.
* **Scale-out.** `strategy=` runs each step on every replica of a `tf.distribute.Strategy`
  with the dataset distributed and the replicas' losses averaged over the global batch.

The checkpoint and resume machinery (the checkpoint manager, the run's saved state, the
data position, the deferred Ctrl-C) lives in `support.checkpoints`; this module holds the
loop, the training step and what `fit` returns or raises.

Used by all four notebooks.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import tensorflow as tf

from support.checkpoints import RESERVED, Batches, Checkpoints, DeferredInterrupt, RunState

__all__ = ["History", "TrainingDiverged", "fit", "make_optimizer", "progress_bar"]


class TrainingDiverged(RuntimeError):
    """Raised when the loss or a gradient stops being finite during `fit`.

    Attributes:
      epoch, step: where it happened (1-based; `step` counts all steps since the start).
      loss: the loss value of that step.
      bad_gradients: names of the variables whose gradient was not finite.
      restored_from: the checkpoint the variables were restored from, or None when they
        simply hold their values from before the bad step.
    """

    def __init__(
        self,
        epoch: int,
        step: int,
        loss: float,
        bad_gradients: Sequence[str],
        restored_from: str | None = None,
    ):
        self.epoch = epoch
        self.step = step
        self.loss = loss
        self.bad_gradients = list(bad_gradients)
        self.restored_from = restored_from
        what = f"loss = {loss!r}"
        if bad_gradients:
            what += f", non-finite gradient for {', '.join(bad_gradients)}"
        where = (
            f"restored from the last good checkpoint {restored_from}"
            if restored_from
            else "restored to their values before that step"
        )
        super().__init__(
            f"training diverged at epoch {epoch}, step {step} ({what}). The variables were "
            f"{where}. Try a lower learning rate, a smaller initial scale, or (for ODE flows) "
            "tighter solver tolerances."
        )


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


def progress_bar(**kwargs):
    """A tqdm bar: a widget in Jupyter, text in a terminal, and plain text under papermill.

    `SUPPORT_PROGRESS=text` (set by `python -m support.nbtools` for its papermill runs)
    forces the text bar, updated at most every two seconds, so executed notebooks keep a
    readable record instead of an unrendered widget.
    """
    if os.environ.get("SUPPORT_PROGRESS", "auto") == "text":
        from tqdm.std import tqdm

        return tqdm(file=sys.stdout, mininterval=2.0, **kwargs)
    from tqdm.auto import tqdm

    return tqdm(**kwargs)


def make_optimizer(learning_rate: float = 1e-2):
    """The default optimizer: `tf_keras` Adam with the given learning rate."""
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
    import tf_keras

    return tf_keras.optimizers.Adam(learning_rate=learning_rate)


def _is_keras(optimizer) -> bool:
    return hasattr(optimizer, "apply_gradients")


def _apply(optimizer, gradients, variables, aggregated: bool = False) -> None:
    if _is_keras(optimizer):
        pairs = zip(gradients, variables, strict=True)
        if aggregated:  # already summed over replicas: do not let Keras sum again
            optimizer.apply_gradients(pairs, skip_gradients_aggregation=True)
        else:
            optimizer.apply_gradients(pairs)
    elif hasattr(optimizer, "apply"):  # Sonnet 2 optimizers
        optimizer.apply(gradients, variables)
    else:
        raise TypeError(
            "optimizer must have apply_gradients (Keras) or apply (Sonnet), got "
            f"{type(optimizer).__name__}"
        )


def _validate(loss_fn, variables, dataset, epochs) -> list[tf.Variable]:
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable, got {type(loss_fn).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(f"dataset must be a tf.data.Dataset, got {type(dataset).__name__}")
    variables = list(variables)
    if not variables:
        raise ValueError("variables must hold at least one trainable tf.Variable")
    for v in variables:
        if not isinstance(v, tf.Variable):
            raise TypeError(f"variables must be tf.Variables, got {type(v).__name__}")
    return variables


def _validate_checkpointing(checkpoint_dir, checkpoint_objects, save_every, strategy, variables):
    if checkpoint_dir is not None and not isinstance(checkpoint_dir, str | os.PathLike):
        raise TypeError(f"checkpoint_dir must be a path, got {type(checkpoint_dir).__name__}")
    if checkpoint_objects is not None:
        if not isinstance(checkpoint_objects, Mapping):
            raise TypeError("checkpoint_objects must be a mapping of name to trackable object")
        for name in checkpoint_objects:
            if not isinstance(name, str) or not name.isidentifier() or name in RESERVED:
                raise ValueError(
                    f"checkpoint_objects keys must be identifiers other than {RESERVED}, "
                    f"got {name!r}"
                )
    if isinstance(save_every, bool) or not isinstance(save_every, int) or save_every < 1:
        raise ValueError(f"save_every must be a positive integer, got {save_every!r}")
    if strategy is not None:
        if not isinstance(strategy, tf.distribute.Strategy):
            raise TypeError(f"strategy must be a tf.distribute.Strategy, got {strategy!r}")
        outside = [v.name for v in variables if not strategy.extended.variable_created_in_scope(v)]
        if outside:
            raise ValueError(
                "with strategy=, build the model under `with strategy.scope():`; these "
                f"variables were created outside it: {', '.join(outside)}"
            )


def _call(loss_fn, batch):
    if isinstance(batch, tuple):
        return loss_fn(*batch)
    return loss_fn(batch)


def _loss_and_gradients(loss_fn, variables, jit_compile):
    @tf.function(jit_compile=jit_compile)
    def compute(*batch):
        with tf.GradientTape() as tape:
            loss = _call(loss_fn, batch if len(batch) > 1 else batch[0])
        gradients = tape.gradient(loss, variables)
        gradients = [
            tf.zeros_like(v) if g is None else g for g, v in zip(gradients, variables, strict=True)
        ]
        return loss, gradients

    return compute


def _make_step(loss_fn, variables, optimizer, strategy, jit_compile):
    """Returns `compute(*batch) -> (loss, gradients, finite flags)` and `apply(gradients)`."""
    local = _loss_and_gradients(loss_fn, variables, jit_compile)

    def finite_flags(gradients):
        return tf.stack([tf.reduce_all(tf.math.is_finite(g)) for g in gradients])

    if strategy is None:

        @tf.function
        def compute(*batch):
            loss, gradients = local(*batch)
            return loss, gradients, finite_flags(gradients)

        @tf.function
        def apply(gradients):
            _apply(optimizer, gradients, variables)

        return compute, apply

    def replica_compute(*batch):
        # Each replica's loss is a mean over its share of the batch; weighting it by that
        # share and summing over replicas gives the mean over the global batch.
        context = tf.distribute.get_replica_context()
        size = tf.cast(tf.shape(tf.nest.flatten(batch)[0])[0], tf.float32)
        total = context.all_reduce(tf.distribute.ReduceOp.SUM, size)
        loss, gradients = local(*batch)
        weight = size / total
        loss = tf.where(size > 0, loss * tf.cast(weight, loss.dtype), tf.zeros_like(loss))
        gradients = [
            tf.where(size > 0, g * tf.cast(weight, g.dtype), tf.zeros_like(g)) for g in gradients
        ]
        loss, gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, (loss, gradients))
        return loss, gradients, finite_flags(gradients)

    @tf.function
    def compute(*batch):
        loss, gradients, finite = strategy.run(replica_compute, args=batch)
        first = strategy.experimental_local_results
        return first(loss)[0], gradients, first(finite)[0]

    @tf.function
    def apply(gradients):
        strategy.run(lambda g: _apply(optimizer, g, variables, aggregated=True), args=(gradients,))

    return compute, apply


_END = object()


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
) -> History:
    """Minimises `loss_fn` over `dataset` until `epochs` passes are done.

    A run with `checkpoint_dir` can be stopped at any time (Ctrl-C, a dead kernel, a callback
    that raises) and continued by calling `fit` again with the same arguments: it restores
    the variables, the optimizer's moments and step count, the history and the position in
    the data, and runs the remaining epochs. Done right, the result equals an uninterrupted
    run bit for bit (same seed, `support.setup(seed)`'s deterministic ops, CPU).

    To scale out, build the model and call `fit` with a strategy::

        strategy = tf.distribute.MirroredStrategy()  # all local GPUs (or CPUs)
        with strategy.scope():
            model = build_model()                    # variables now mirrored per replica
        fit(loss_fn, model.trainable_variables, dataset, epochs=10, strategy=strategy)

    `dataset` yields *global* batches; each replica gets an equal share, computes its loss
    (a mean over its share) and gradients, and these are summed with weights share / global
    batch, so the step equals a single-device step on the global batch up to float
    rounding. `tf.distribute.MultiWorkerMirroredStrategy` works the same way on several
    machines: set `TF_CONFIG` on each worker, create the strategy first thing, run the same
    program everywhere and give every worker the same `checkpoint_dir` on shared storage
    (only the chief's checkpoint is kept).

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
      checkpoint_dir: a directory for checkpoints (None: none). Saved every `save_every`
        epochs, after the last epoch and on interruption; the newest two are kept.
      checkpoint_objects: optional `{name: trackable}` saved alongside, typically the
        objects that own the variables (a `tfd.Distribution`, a `tf.Module`, a Keras
        model), so the checkpoint can also be read without `fit`.
      resume: continue from the newest checkpoint in `checkpoint_dir` if there is one; False
        starts from the current variable values (later saves supersede the old ones). The
        learning rate is always the one given now, so a run that diverged can be resumed
        with a lower one.
      save_every: save every this many epochs (a positive integer).
      strategy: a `tf.distribute.Strategy` whose scope created `variables`.

    Returns:
      The `History` of the whole run (earlier sessions included after a resume).

    Raises:
      TypeError / ValueError: for a non-callable loss, a non-dataset, an infinite or empty
        dataset, no variables, a non-positive number of epochs, variables created outside
        the strategy's scope, or a checkpoint that does not match, before any training.
      TrainingDiverged: at the first non-finite loss or gradient. The bad step is not
        applied and, with `checkpoint_dir`, the newest checkpoint is restored (variables,
        optimizer, data position), so the state in memory and on disk is the last good one.
      KeyboardInterrupt: re-raised after saving a checkpoint (with `checkpoint_dir`).

    #### What survives what (with `checkpoint_dir`)

    | event | kept |
    | --- | --- |
    | Ctrl-C / kernel interrupt | everything up to the last finished step (saved then) |
    | kernel killed, machine sleeps | everything up to the last saved epoch |
    | non-finite loss or gradient | the last saved epoch, restored in memory |
    | a callback raises | the epoch just finished (saved before the callback) |
    """
    variables = _validate(loss_fn, variables, dataset, epochs)
    _validate_checkpointing(checkpoint_dir, checkpoint_objects, save_every, strategy, variables)
    if not isinstance(resume, bool):
        raise TypeError(f"resume must be True or False, got {resume!r}")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise TypeError(f"on_epoch_end must be callable, got {type(on_epoch_end).__name__}")

    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        if optimizer is None:
            optimizer = make_optimizer(learning_rate)
        if _is_keras(optimizer) and hasattr(optimizer, "build"):
            optimizer.build(variables)  # slots exist now: restored at once, mirrored if needed
    data = Batches(dataset, strategy)
    compute, apply = _make_step(loss_fn, variables, optimizer, strategy, jit_compile)
    state = RunState()
    checkpoints = None
    if checkpoint_dir is not None:
        objects = dict(checkpoint_objects or {}, variables=variables, optimizer=optimizer)
        checkpoints = Checkpoints(checkpoint_dir, objects, state, data)
        if resume and checkpoints.latest:
            checkpoints.restore(checkpoints.latest, optimizer)

    names = [v.name for v in variables]
    start = state.history.epochs
    bar = progress_bar(
        total=epochs, initial=min(start, epochs), desc=description, disable=not progress
    )
    in_step = False
    try:
        with DeferredInterrupt() as interrupt:
            for epoch in range(start, epochs):
                history = state.history
                started = time.perf_counter()
                batches = data.epoch(state.step_in_epoch)
                while True:
                    in_step = True
                    batch = next(batches, _END)
                    if batch is _END:
                        break
                    batch = batch if isinstance(batch, tuple) else (batch,)
                    loss, gradients, finite = compute(*batch)
                    loss_value = float(loss)
                    finite = finite.numpy()
                    if not math.isfinite(loss_value) or not finite.all():
                        bad = [n for n, ok in zip(names, finite, strict=True) if not ok]
                        restored = checkpoints.latest if checkpoints is not None else None
                        if restored:
                            checkpoints.restore(restored, optimizer)
                        raise TrainingDiverged(
                            epoch + 1, history.steps + 1, loss_value, bad, restored
                        )
                    apply(gradients)
                    history.steps += 1
                    state.step_in_epoch += 1
                    state.epoch_total += loss_value
                    in_step = False
                    count = state.step_in_epoch
                    if count % 10 == 0 or count == 1:
                        bar.set_postfix(loss=f"{state.epoch_total / count:.4f}", refresh=False)
                    if interrupt.requested:
                        raise KeyboardInterrupt
                in_step = False
                if state.step_in_epoch == 0:
                    raise ValueError("dataset yielded no batches")
                history.loss.append(state.epoch_total / state.step_in_epoch)
                history.seconds.append(time.perf_counter() - started)
                state.step_in_epoch, state.epoch_total = 0, 0.0
                bar.set_postfix(loss=f"{history.loss[-1]:.4f}", refresh=False)
                bar.update(1)
                due = (epoch + 1) % save_every == 0 or epoch + 1 == epochs
                if checkpoints is not None and due:
                    checkpoints.save()
                if on_epoch_end is not None:
                    history.extra.append(on_epoch_end(epoch + 1, history))
                if interrupt.requested:
                    raise KeyboardInterrupt
    except KeyboardInterrupt:
        if checkpoints is not None:
            if in_step:
                note = f"stopped mid-step; the last checkpoint is {checkpoints.latest}"
            else:
                note = f"saved {checkpoints.save()}"
            print(
                f"interrupted: {note}. Call fit again with the same checkpoint_dir to continue.",
                file=sys.stderr,
            )
        raise
    finally:
        bar.close()
    return state.history
