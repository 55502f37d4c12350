"""Checkpoints and resume for `support.training.fit`, which every notebook trains with.

The machinery that lets a `fit` run stop at any point and continue bit for bit:

* `Checkpoints`: a `tf.train.CheckpointManager` over the variables, the optimizer, the run's
  state and (when it can be saved) the data iterator; saving, restoring and checking that a
  checkpoint matches.
* `RunState`: what a checkpoint holds besides TF objects (the history, the position within
  the epoch and the running loss), kept as JSON in a string variable.
* `Batches`: the batches of each epoch from one iterator whose position can be saved, or
  replayed by drawing and dropping batches when it cannot.
* `DeferredInterrupt`: holds a Ctrl-C until the current step is done.
* `worker_directory`: where each worker of a multi-worker run writes its checkpoints.

These are the internals of `fit`; notebooks call `fit(..., checkpoint_dir=...)` and never
use them directly.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading

import tensorflow as tf

__all__ = [
    "MAX_TO_KEEP",
    "RESERVED",
    "Batches",
    "Checkpoints",
    "DeferredInterrupt",
    "RunState",
    "worker_directory",
]

RESERVED = ("variables", "optimizer", "state", "data")
"""Names `Checkpoints` uses itself; `checkpoint_objects` keys must differ from them."""
MAX_TO_KEEP = 2
"""How many checkpoints `Checkpoints` keeps (the newest)."""


def _history(**fields):
    # Imported here: support.training imports this module at load time.
    from support.training import History

    return History(**fields)


class Batches:
    """The batches of each epoch, from one iterator whose position can be checkpointed.

    A dataset of known length is read through one iterator over `dataset.repeat()` (the same
    batches, in the same order, as iterating it once per epoch), which `tf.train.Checkpoint`
    can save when every op in the pipeline can be serialised. Otherwise (a `py_function` or
    generator in the pipeline, or a distributed iterator) a resumed run draws and drops the
    batches already used, which gives the same order for a deterministic pipeline. A dataset
    of unknown length gets a new iterator each epoch and resumes at the start of an epoch.
    """

    def __init__(self, dataset: tf.data.Dataset, strategy):
        length = int(dataset.cardinality())
        if length == int(tf.data.INFINITE_CARDINALITY):
            raise ValueError("dataset must be finite: one pass over it is one epoch")
        if length == 0:
            raise ValueError("dataset yielded no batches")
        self.dataset = dataset
        self.strategy = strategy
        self.steps_per_epoch = length if length > 0 else None
        self.iterator = self._iterator() if self.steps_per_epoch else None
        self.checkpointable = False  # set by `probe()`, only when checkpointing

    def probe(self) -> bool:
        """Whether `tf.train.Checkpoint` can save the iterator (False for e.g. py_function)."""
        self.checkpointable = self.iterator is not None and self._probe()
        return self.checkpointable

    def _distribute(self, dataset):
        if self.strategy is None:
            return dataset
        return self.strategy.experimental_distribute_dataset(dataset)

    def _iterator(self):
        return iter(self._distribute(self.dataset.repeat()))

    def _probe(self) -> bool:
        with tempfile.TemporaryDirectory() as directory:
            try:
                tf.train.Checkpoint(data=self.iterator).write(os.path.join(directory, "probe"))
            except (tf.errors.OpError, ValueError, TypeError):
                return False
        return True

    def fast_forward(self, steps: int) -> None:
        """Positions a run restored without iterator state after `steps` batches.

        The batches are drawn and dropped from the one iterator: a second iterator over the
        same dataset would start from the next reshuffle, not the first.
        """
        if self.iterator is not None:
            for _ in range(steps):
                next(self.iterator)

    def epoch(self, start: int):
        """Batches of one epoch, skipping the first `start` (already used before a resume)."""
        if self.iterator is not None:
            for _ in range(self.steps_per_epoch - start):
                yield next(self.iterator)
        else:
            dataset = self.dataset.skip(start) if start else self.dataset
            yield from self._distribute(dataset)


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


class RunState:
    """What a checkpoint holds besides TF objects: epoch, position and history, as JSON."""

    def __init__(self):
        self.variable = tf.Variable("", dtype=tf.string, trainable=False)
        self.history = _history()
        self.step_in_epoch = 0
        self.epoch_total = 0.0
        self.data_saved = False

    def dump(self) -> None:
        h = self.history
        state = {
            "history": {"loss": h.loss, "seconds": h.seconds, "steps": h.steps},
            "step_in_epoch": self.step_in_epoch,
            "epoch_total": self.epoch_total,
            "data_saved": self.data_saved,
        }
        self.variable.assign(json.dumps(state))

    def load(self) -> None:
        state = json.loads(self.variable.numpy().decode("utf-8"))
        h = state["history"]
        self.history = _history(
            loss=list(h["loss"]),
            seconds=list(h["seconds"]),
            steps=int(h["steps"]),
            extra=[None] * len(h["loss"]),
            resumed_from=len(h["loss"]),
        )
        self.step_in_epoch = int(state["step_in_epoch"])
        self.epoch_total = float(state["epoch_total"])
        self.data_saved = bool(state["data_saved"])


def worker_directory(directory: str, strategy) -> str:
    """Multi-worker runs: all workers save (it is collective); only the chief to `directory`."""
    resolver = getattr(strategy, "cluster_resolver", None) if strategy is not None else None
    if resolver is None or not getattr(resolver, "cluster_spec", lambda: None)():
        return directory
    task_type, task_id = resolver.task_type, resolver.task_id
    chief = task_type in (None, "chief") or (
        task_type == "worker" and task_id == 0 and "chief" not in resolver.cluster_spec().jobs
    )
    return directory if chief else os.path.join(directory, f"worker-{task_type}-{task_id}")


class Checkpoints:
    """A CheckpointManager over everything `fit` needs to continue a run."""

    def __init__(self, directory, objects, progress: RunState, data: Batches):
        self.directory = worker_directory(os.fspath(directory), data.strategy)
        self.progress = progress
        self.objects = dict(objects, state=progress.variable)
        self.data = data
        progress.data_saved = data.probe()
        if data.checkpointable:
            self.objects["data"] = data.iterator
        self.saved_steps = -1
        self._build()

    def _build(self) -> None:
        self.checkpoint = tf.train.Checkpoint(**self.objects)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.directory, max_to_keep=MAX_TO_KEEP
        )

    @property
    def latest(self) -> str | None:
        return self.manager.latest_checkpoint

    def save(self) -> str:
        """Saves the current state (once: an unchanged state is not written twice)."""
        if self.latest and self.saved_steps == self.progress.history.steps:
            return self.latest
        self.saved_steps = self.progress.history.steps
        self.progress.dump()
        numbers = [int(path.rsplit("-", 1)[1]) for path in self.manager.checkpoints]
        return self.manager.save(checkpoint_number=max(numbers, default=0) + 1)

    def restore(self, path: str, optimizer) -> None:
        """Restores `path` into the tracked objects; the learning rate stays the caller's."""
        learning_rate = getattr(optimizer, "learning_rate", None)
        keep = learning_rate.numpy() if isinstance(learning_rate, tf.Variable) else None
        probe = RunState()
        try:
            tf.train.Checkpoint(state=probe.variable).read(path).expect_partial()
            probe.load()
            objects = dict(self.objects, state=probe.variable)
            if not probe.data_saved:
                objects.pop("data", None)
            status = tf.train.Checkpoint(**objects).read(path)
            status.assert_existing_objects_matched().expect_partial()
        except (tf.errors.OpError, ValueError, AssertionError, KeyError) as error:
            raise ValueError(
                f"checkpoint_dir {self.directory!r} holds a checkpoint ({path}) that does not "
                "match these variables, optimizer or dataset; use another directory or "
                f"resume=False ({type(error).__name__}: {str(error)[:300]})"
            ) from error
        if keep is not None:
            learning_rate.assign(keep)
        self.saved_steps = probe.history.steps
        self.progress.history = probe.history
        self.progress.step_in_epoch = probe.step_in_epoch
        self.progress.epoch_total = probe.epoch_total
        if not probe.data_saved:
            self.data.fast_forward(probe.history.steps)
