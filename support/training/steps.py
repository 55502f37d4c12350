"""One optimisation step and the batches it takes: what `support.training.loop.fit` repeats.

Read `train_step` first: it is the whole of what `fit` does with one batch. `Step` holds
the compiled pieces it calls (the loss and its gradients, the update: one call on one
device), on one device or on every replica of a `tf.distribute.Strategy`; `Batches` the
data, positioned at any step. Used by every notebook through `fit`.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import tensorflow as tf

from support import _checks, runtime

__all__ = [
    "Batches",
    "Step",
    "StepResult",
    "apply_gradients",
    "check_strategy",
    "make_optimizer",
    "prepare_optimizer",
    "train_step",
]


@dataclass
class StepResult:
    """What one `train_step` did.

    Attributes:
      loss: the batch's loss (computed before the update).
      problem: None when the update was applied and left every variable finite; otherwise
        what went wrong ("the loss is not finite", ...).
      bad_gradients: names of the variables whose gradient was not finite.
    """

    loss: float
    problem: str | None = None
    bad_gradients: list[str] = field(default_factory=list)


def train_step(step: Step, batch: tuple) -> StepResult:
    """One optimisation step on `batch`: loss and gradients, checks, one update, a check.

    The update is applied only when the loss and every gradient are finite, so a bad batch
    leaves the variables as they were; after it, every variable must still be finite (an
    infinite learning rate, say, breaks that). A hand-written loop::

        step = Step(loss_fn, variables, make_optimizer(0.01))
        for x, y in dataset:
            result = train_step(step, (x, y))  # the batch as a tuple of loss_fn's arguments
    """
    if step.strategy is None:  # one compiled call: the checks and the update run inside it
        loss, finite, still_finite = step.update(*batch)
    else:
        loss, gradients, finite = step.loss_and_gradients(*batch)
        still_finite = None
    loss = float(loss)
    if not math.isfinite(loss):
        return StepResult(loss, "the loss is not finite")
    if not all(finite.numpy()):
        bad = [name for name, ok in zip(step.names, finite.numpy(), strict=True) if not ok]
        return StepResult(loss, "a gradient is not finite", bad)
    if still_finite is None:
        still_finite = step.apply(gradients)
    if not bool(still_finite):
        return StepResult(loss, "a variable is not finite after the update")
    return StepResult(loss)


def make_optimizer(learning_rate: float = 1e-2):
    """The default optimizer: `tf_keras` Adam with the given learning rate."""
    _checks.positive_float("learning_rate", learning_rate)
    import tf_keras

    return tf_keras.optimizers.Adam(learning_rate=learning_rate)


def check_strategy(strategy, variables) -> None:
    """Raises unless `strategy` is None or a strategy whose scope created `variables`."""
    if strategy is None:
        return
    if not isinstance(strategy, tf.distribute.Strategy):
        raise TypeError(f"strategy must be a tf.distribute.Strategy, got {strategy!r}")
    outside = [v.name for v in variables if not strategy.extended.variable_created_in_scope(v)]
    if outside:
        raise ValueError(
            "with strategy=, build the model under `with strategy.scope():`; these "
            f"variables were created outside it: {', '.join(outside)}"
        )


def prepare_optimizer(optimizer, learning_rate, variables, strategy):
    """`optimizer` (default: `make_optimizer(learning_rate)`), built under the strategy's scope."""
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        if optimizer is None:
            optimizer = make_optimizer(learning_rate)
        if is_keras(optimizer) and hasattr(optimizer, "build"):
            optimizer.build(variables)  # slots exist now: restored at once, mirrored if needed
    return optimizer


def is_keras(optimizer) -> bool:
    return hasattr(optimizer, "apply_gradients")


def apply_gradients(optimizer, gradients, variables, aggregated: bool = False) -> None:
    """One update with a `tf_keras` or a Sonnet 2 optimizer."""
    if is_keras(optimizer):
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


@tf.autograph.experimental.do_not_convert
def _check_scalar(loss):
    """`loss` as a tensor, if it is a scalar; a vector's gradient would silently be that of
    its sum, so anything else raises (when the step is traced, before any update)."""
    loss = tf.convert_to_tensor(loss)
    if loss.shape.rank != 0:
        raise ValueError(
            f"loss_fn must return a scalar (the mean loss over its batch), got shape "
            f"{loss.shape}: reduce it, e.g. with tf.reduce_mean"
        )
    return loss


def _all_finite(tensors):
    return tf.stack([tf.reduce_all(tf.math.is_finite(t)) for t in tensors])


class Step:
    """The compiled pieces of one step of minimising `loss_fn` over `variables`.

    `loss_and_gradients(*batch)` returns the loss, the gradients (zeros for variables the
    loss does not use) and one finite-flag per gradient; `apply(gradients)` updates the
    variables and returns whether all of them are still finite. With a `strategy`, each
    replica takes its share of the batch and the results are averaged over the global batch.
    Without one, `train_step` calls `update(*batch)` instead: the same pieces in one
    compiled call, applying the update only if the loss and every gradient are finite, and
    returning the loss, the gradients' finite-flags and whether the variables are still
    finite. `jit_compile` compiles the loss and gradients with XLA (in `update` too: the
    checks and the update around them stay ordinary graph ops, left as traced: see
    `support.runtime.without_graph_rewrites`).

    Scale-out: build the model under the strategy's scope and pass the strategy to `fit`::

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
    """

    def __init__(self, loss_fn, variables, optimizer, strategy=None, jit_compile=False):
        self.names = [v.name for v in variables]
        self.variables = list(variables)
        self.optimizer = optimizer
        self.strategy = strategy

        @tf.function(jit_compile=jit_compile)
        def local(*batch):  # autograph converts loss_fn, as users of tf.function expect
            with tf.GradientTape() as tape:
                loss = _check_scalar(loss_fn(*batch) if len(batch) > 1 else loss_fn(batch[0]))
            gradients = tape.gradient(loss, self.variables)
            return loss, [
                tf.zeros_like(v) if g is None else g
                for g, v in zip(gradients, self.variables, strict=True)
            ]

        self._local = local
        # On one device the whole step is one call of one graph (`update`; only the loss and
        # gradients in it are compiled with XLA, which compiles the optimizer slowly). These
        # functions run only this module's code and the optimizer's, written for graphs, so
        # autograph (kept for `loss_fn` in `local`) would only spend time converting them.
        self.update = tf.function(self._update, autograph=False)
        if jit_compile:  # its graph is the compiled call and small ops: Grappler only slows it
            self.update = runtime.without_graph_rewrites(self.update)
        self.loss_and_gradients = tf.function(
            self._compute if strategy is None else self._compute_distributed, autograph=False
        )
        self.apply = tf.function(self._apply, autograph=False)

    def _update(self, *batch):
        loss, gradients, finite = self._compute(*batch)

        def update():
            apply_gradients(self.optimizer, gradients, self.variables)
            return tf.reduce_all(_all_finite(self.variables))

        applies = tf.math.is_finite(loss) & tf.reduce_all(finite)
        return loss, finite, tf.cond(applies, update, lambda: tf.constant(True))

    def _compute(self, *batch):
        loss, gradients = self._local(*batch)
        return loss, gradients, _all_finite(gradients)

    def _apply(self, gradients):
        if self.strategy is None:
            apply_gradients(self.optimizer, gradients, self.variables)
        else:
            update = lambda g: apply_gradients(self.optimizer, g, self.variables, aggregated=True)  # noqa: E731
            self.strategy.run(update, args=(gradients,))
        return tf.reduce_all(_all_finite(self.variables))

    def _replica_compute(self, *batch):
        # Each replica's loss is a mean over its share of the batch; weighting it by that
        # share and summing over replicas gives the mean over the global batch.
        context = tf.distribute.get_replica_context()
        size = tf.cast(tf.shape(tf.nest.flatten(batch)[0])[0], tf.float32)
        total = context.all_reduce(tf.distribute.ReduceOp.SUM, size)
        loss, gradients = self._local(*batch)
        weight = size / total
        loss = tf.where(size > 0, loss * tf.cast(weight, loss.dtype), tf.zeros_like(loss))
        gradients = [
            tf.where(size > 0, g * tf.cast(weight, g.dtype), tf.zeros_like(g)) for g in gradients
        ]
        loss, gradients = context.all_reduce(tf.distribute.ReduceOp.SUM, (loss, gradients))
        return loss, gradients, _all_finite(gradients)

    def _compute_distributed(self, *batch):
        loss, gradients, finite = self.strategy.run(self._replica_compute, args=batch)
        first = self.strategy.experimental_local_results
        return first(loss)[0], gradients, first(finite)[0]


class Batches:
    """The batches of each epoch, from one iterator that can be re-created at any step.

    A dataset of known length is read through one iterator over `dataset.repeat()` (the same
    batches, in the same order, as iterating it once per epoch); a resumed run re-creates it
    and skips the batches already used, which gives the same order for a deterministic
    pipeline (e.g. a `shuffle` with a seed). So checkpoints hold only the position, not the
    data. A dataset of unknown length gets a new iterator each epoch and resumes at the
    start of an epoch.
    """

    def __init__(self, dataset: tf.data.Dataset, strategy):
        length = int(dataset.cardinality())
        if length == int(tf.data.INFINITE_CARDINALITY):
            raise ValueError("dataset must be finite: one pass over it is one epoch")
        if length == 0:
            raise ValueError("dataset yielded no batches")
        self.dataset, self.strategy = dataset, strategy
        self.steps_per_epoch = length if length > 0 else None
        self.iterator = None

    def _distribute(self, dataset):
        if self.strategy is None:
            return dataset
        return self.strategy.experimental_distribute_dataset(dataset)

    def start(self, steps_done: int) -> None:
        """Positions the data after `steps_done` batches (0 for a fresh run)."""
        if self.steps_per_epoch:
            self.iterator = iter(self._distribute(self.dataset.repeat().skip(steps_done)))

    def epoch(self, start: int):
        """Batches of one epoch, skipping the first `start` (already used before a resume)."""
        if self.iterator is not None:
            for _ in range(self.steps_per_epoch - start):
                batch = next(self.iterator)
                yield batch if isinstance(batch, tuple) else (batch,)
        else:
            dataset = self.dataset.skip(start) if start else self.dataset
            for batch in self._distribute(dataset):
                yield batch if isinstance(batch, tuple) else (batch,)
