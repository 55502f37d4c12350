"""One fit loop for every notebook: a loss, its variables, a dataset, epochs.

`fit` compiles one training step with `tf.function`, runs it over a `tf.data.Dataset` for
a number of epochs, shows a tqdm progress bar with the running loss (a widget in Jupyter,
text under papermill or in a terminal) and returns the per-epoch history. It stops with a
`TrainingDiverged` error at the first non-finite loss or gradient, after putting the
variables back to their values before that step, so nothing learned so far is lost.

Used by all four notebooks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import tensorflow as tf

__all__ = ["History", "TrainingDiverged", "fit", "make_optimizer"]


class TrainingDiverged(RuntimeError):
    """Raised when the loss or a gradient stops being finite during `fit`."""

    def __init__(self, epoch: int, step: int, loss: float, bad_gradients: Sequence[str]):
        self.epoch = epoch
        self.step = step
        self.loss = loss
        self.bad_gradients = list(bad_gradients)
        what = f"loss = {loss!r}"
        if bad_gradients:
            what += f", non-finite gradient for {', '.join(bad_gradients)}"
        super().__init__(
            f"training diverged at epoch {epoch}, step {step} ({what}). The variables were "
            "restored to their values before that step. Try a lower learning rate, a smaller "
            "initial scale, or (for ODE flows) tighter solver tolerances."
        )


@dataclass
class History:
    """Per-epoch record of a `fit` run.

    Attributes:
      loss: mean training loss of each epoch.
      seconds: wall time of each epoch.
      steps: total number of optimisation steps taken.
      extra: per-epoch values returned by the `on_epoch_end` callback, if any.
    """

    loss: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    steps: int = 0
    extra: list[Any] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return len(self.loss)


def make_optimizer(learning_rate: float = 1e-2):
    """The default optimizer: `tf_keras` Adam with the given learning rate."""
    if not learning_rate > 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
    import tf_keras

    return tf_keras.optimizers.Adam(learning_rate=learning_rate)


def _apply(optimizer, gradients, variables) -> None:
    if hasattr(optimizer, "apply_gradients"):
        optimizer.apply_gradients(zip(gradients, variables, strict=True))
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


def _call(loss_fn, batch):
    if isinstance(batch, tuple):
        return loss_fn(*batch)
    return loss_fn(batch)


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
) -> History:
    """Minimises `loss_fn` over `dataset` for `epochs` passes.

    Args:
      loss_fn: called with each batch (a tuple batch is unpacked into arguments) and returns
        a scalar loss tensor.
      variables: the trainable variables, e.g. `distribution.trainable_variables`.
      dataset: a finite `tf.data.Dataset`; one pass over it is one epoch.
      epochs: number of passes, a positive integer.
      optimizer: a `tf_keras` optimizer or a Sonnet 2 optimizer. Default: `tf_keras` Adam
        with `learning_rate`.
      learning_rate: used only when `optimizer` is None.
      jit_compile: compile the training step with XLA.
      progress: show a tqdm progress bar with the running loss.
      description: the progress bar's label.
      on_epoch_end: optional `callback(epoch, history)`; whatever it returns is appended to
        `history.extra` (e.g. samples for a figure at each epoch).

    Returns:
      A `History` with the mean loss and wall time of each epoch.

    Raises:
      TypeError / ValueError: for a non-callable loss, a non-dataset, no variables or a
        non-positive number of epochs, before any training.
      TrainingDiverged: at the first non-finite loss or gradient; the variables hold their
        values from before that step.
    """
    variables = _validate(loss_fn, variables, dataset, epochs)
    if optimizer is None:
        optimizer = make_optimizer(learning_rate)
    names = [v.name for v in variables]

    @tf.function(jit_compile=jit_compile)
    def compute(*batch):
        with tf.GradientTape() as tape:
            loss = _call(loss_fn, batch if len(batch) > 1 else batch[0])
        gradients = tape.gradient(loss, variables)
        gradients = [
            tf.zeros_like(v) if g is None else g for g, v in zip(gradients, variables, strict=True)
        ]
        finite = [tf.reduce_all(tf.math.is_finite(g)) for g in gradients]
        return loss, gradients, tf.stack(finite)

    @tf.function
    def apply(gradients):
        _apply(optimizer, gradients, variables)

    from tqdm.auto import tqdm

    history = History()
    bar = tqdm(total=epochs, desc=description, disable=not progress, leave=True)
    try:
        for epoch in range(epochs):
            started = time.perf_counter()
            total, count = 0.0, 0
            for batch in dataset:
                batch = batch if isinstance(batch, tuple) else (batch,)
                loss, gradients, finite = compute(*batch)
                loss_value = float(loss)
                finite = finite.numpy()
                if not math.isfinite(loss_value) or not finite.all():
                    bad = [n for n, ok in zip(names, finite, strict=True) if not ok]
                    raise TrainingDiverged(epoch + 1, history.steps + 1, loss_value, bad)
                apply(gradients)
                history.steps += 1
                total += loss_value
                count += 1
                if count % 10 == 0 or count == 1:
                    bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
            if count == 0:
                raise ValueError("dataset yielded no batches")
            history.loss.append(total / count)
            history.seconds.append(time.perf_counter() - started)
            bar.set_postfix(loss=f"{history.loss[-1]:.4f}", refresh=False)
            bar.update(1)
            if on_epoch_end is not None:
                history.extra.append(on_epoch_end(epoch + 1, history))
    finally:
        bar.close()
    return history
