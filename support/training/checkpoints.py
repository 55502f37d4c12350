"""Checkpoints for `support.fit` (notebooks 01 and 02; layers: history -> storage -> this).

`Checkpoints` keeps a run's state in `checkpoint_dir` so that `fit` can stop at any point and
continue bit for bit, and it refuses to lose work on the way:

* **One run per directory.** An exclusive lock (`fit.lock`) stops a second run.
* **Checked before training.** A directory that cannot be written, or whose disk has no room
  for a checkpoint, is refused naming `checkpoint_dir` before any step; a disk that fills up
  later stops the run with `storage.DiskFull` and a failed save's partial files are removed.
* **Found without the index.** Checkpoints are the `ckpt-N` files on disk: a missing or
  unreadable `checkpoint` index file is rebuilt from them, never taken to mean "none".
* **Verified on restore.** A checkpoint that cannot be read completely or holds non-finite
  values is skipped with a `CheckpointWarning`, renamed `corrupt-ckpt-N.*` (never deleted)
  and the newest intact one is restored instead.
* **The best is kept.** Besides the newest `MAX_TO_KEEP`, `best/` holds the saved state with
  the lowest epoch loss (`best_checkpoint(checkpoint_dir)` gives its path), as hard links to
  the newest checkpoint's files: no second copy on disk.

A checkpoint holds the variables, the optimizer, any `checkpoint_objects` and the `RunState`
(history, position); not the data: `fit` re-creates the iterator and skips the used batches.
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings

import tensorflow as tf

from support.training.history import RunState
from support.training.storage import (
    OVERHEAD,
    DiskFull,
    check_room,
    check_writable,
    estimate_bytes,
    free_bytes,
    is_disk_full,
    link_or_copy,
    lock,
    remove_partial,
    saved_bytes,
)

__all__ = [
    "BEST",
    "MAX_TO_KEEP",
    "RESERVED",
    "CheckpointWarning",
    "Checkpoints",
    "best_checkpoint",
    "worker_directory",
]

RESERVED = ("variables", "optimizer", "state", "data")
"""Names `Checkpoints` uses itself; `checkpoint_objects` keys must differ from them."""
MAX_TO_KEEP = 2
"""How many of the newest checkpoints are kept (the best one is kept besides them)."""
BEST = "best"
"""The subdirectory of `checkpoint_dir` that holds the best checkpoint."""
_LIVE = re.compile(r"ckpt-(\d+)\.index")
_ANY = re.compile(r"(?:[a-z]+-)?ckpt-(\d+)\.index")


class CheckpointWarning(UserWarning):
    """A checkpoint was skipped or an index rebuilt; the message says which and why."""


def best_checkpoint(checkpoint_dir: str | os.PathLike) -> str | None:
    """The path of the checkpoint with the lowest epoch loss in `checkpoint_dir`, or None.

    Restore it without `fit`, e.g. into the `checkpoint_objects` given to `fit`:
    `tf.train.Checkpoint(model=model).read(best_checkpoint(directory)).expect_partial()`.
    """
    return tf.train.latest_checkpoint(os.path.join(os.fspath(checkpoint_dir), BEST))


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


def _numbers(directory: str, pattern=_LIVE) -> list[int]:
    names = os.listdir(directory) if os.path.isdir(directory) else []
    return sorted(int(m.group(1)) for m in map(pattern.fullmatch, names) if m)


def _write_index(directory: str, numbers: list[int]) -> None:
    """Makes the `checkpoint` index list exactly the checkpoints `numbers`, oldest first."""
    if not numbers:
        with contextlib.suppress(OSError):
            os.remove(os.path.join(directory, "checkpoint"))
        return
    paths = [f"ckpt-{n}" for n in numbers]
    times = [os.path.getmtime(os.path.join(directory, p + ".index")) for p in paths]
    lines = [f'model_checkpoint_path: "{paths[-1]}"', f"last_preserved_timestamp: {min(times) - 1}"]
    lines += [f'all_model_checkpoint_paths: "{p}"' for p in paths]
    lines += [f"all_model_checkpoint_timestamps: {t!r}" for t in times]
    index = os.path.join(directory, "checkpoint")
    with open(index + ".tmp", "w") as file:  # the text format tf.train.CheckpointManager writes
        file.write("\n".join(lines) + "\n")
    os.replace(index + ".tmp", index)


def _repair_index(directory: str) -> None:
    """Rebuilds a missing, unreadable or out-of-date index from the `ckpt-N` files on disk."""
    found = _numbers(directory)
    try:
        state = tf.train.get_checkpoint_state(directory)
        listed = [os.path.basename(p) for p in state.all_model_checkpoint_paths] if state else []
        problem = "out of date" if state else "missing or empty"
    except Exception as error:  # a damaged text proto, an unreadable file, ...
        listed, problem = [], f"unreadable ({type(error).__name__})"
    if set(listed) == {f"ckpt-{n}" for n in found}:
        return
    _write_index(directory, found)
    if found:
        warnings.warn(
            f"checkpoint_dir {directory!r}: the checkpoint index was {problem}; rebuilt it from "
            f"the files on disk: {', '.join(f'ckpt-{n}' for n in found)}",
            CheckpointWarning,
            stacklevel=4,
        )


def _read_state(path: str) -> RunState:
    state = RunState()
    tf.train.Checkpoint(state=state.variable).read(path).expect_partial()
    state.load()
    return state


class Checkpoints:
    """The checkpoints of one `fit` run: locked, verified on restore, newest and best kept.

    Call `close()` (in a `finally`) to release the directory's lock.
    """

    def __init__(self, directory, objects, state: RunState, strategy=None):
        self.directory = worker_directory(os.fspath(directory), strategy)
        check_writable(self.directory, BEST)
        self._lock = lock(self.directory)
        self.state = state
        self.objects = dict(objects, state=state.variable)
        self.saved_steps = -1
        try:
            for folder in (self.directory, os.path.join(self.directory, BEST)):
                remove_partial(folder)  # what a save killed mid-way left
                _repair_index(folder)
            self._build()
            self.needed = estimate_bytes(self.checkpoint)
            check_room(
                self.directory, self.needed, self.latest, "for a checkpoint (before training)"
            )
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        self.checkpoint = tf.train.Checkpoint(**self.objects)
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.directory, max_to_keep=MAX_TO_KEEP
        )
        best, self.best_loss = best_checkpoint(self.directory), float("inf")
        if best:
            try:
                self.best_loss = _read_state(best).history.loss[-1]
            except Exception:  # unreadable: the next epoch end saves a new best
                pass

    def close(self) -> None:
        """Releases the directory's lock."""
        self._lock.close()

    @property
    def latest(self) -> str | None:
        return self.manager.latest_checkpoint

    def save(self) -> str:
        """Saves the current state (once: an unchanged state is not written twice).

        At the end of an epoch whose loss is the lowest saved so far, `best/` gets it too.

        Raises:
          DiskFull: when the disk has no room for it (checked first, or found by the save);
            the partial files are removed and the last intact checkpoint is left as it was.
        """
        history = self.state.history
        if self.latest and self.saved_steps == history.steps:
            return self.latest
        self.state.dump()
        number = max(_numbers(self.directory, _ANY), default=0) + 1
        check_room(self.directory, self.needed, self.latest, f"for ckpt-{number}")
        path, best = None, os.path.join(self.directory, BEST)
        try:
            path = self.manager.save(checkpoint_number=number)
            self.saved_steps = history.steps
            self.needed = max(self.needed, saved_bytes(path) + OVERHEAD)
            if self.state.step_in_epoch == 0 and history.loss and history.loss[-1] < self.best_loss:
                link_or_copy(path, best)  # the best is the newest: its files, not a copy
                self.best_loss = history.loss[-1]
                for old in _numbers(best)[:-2]:  # two kept: a diverged best leaves one
                    remove_partial(best, old)
                _write_index(best, _numbers(best))
        except Exception as error:
            if not is_disk_full(error):
                raise
            for directory in (best, self.directory) if path is None else (best,):
                remove_partial(directory, number)
            free = free_bytes(self.directory)
            when = f"for ckpt-{number}"
            raise DiskFull(self.directory, self.needed, free, self.latest, when) from error
        return path

    def restore_newest(self, optimizer, before_step: int | None = None) -> str | None:
        """Restores the newest intact checkpoint (saved before `before_step`, if given).

        Newer checkpoints that are unreadable are renamed `corrupt-ckpt-N.*`, those at or
        after `before_step` `diverged-ckpt-N.*` (in `best/` too); each is reported with a
        `CheckpointWarning`. Returns the restored path, or None when there is nothing to
        restore.

        Raises:
          ValueError: naming `checkpoint_dir` when no checkpoint there can be restored
            (e.g. they belong to another model); nothing is renamed then.
        """
        failures, set_aside = [], []
        for path in reversed(self.manager.checkpoints):
            try:
                if before_step is not None and _read_state(path).history.steps >= before_step:
                    set_aside.append((path, "diverged"))
                    continue
                self._restore(path, optimizer)
            except Exception as error:  # any failure to read it all back: try an older one
                failures.append(f"{os.path.basename(path)}: {type(error).__name__}: {error}")
                set_aside.append((path, "corrupt"))
                continue
            self._set_aside(set_aside, failures, path)
            return path
        if failures:
            raise ValueError(
                f"checkpoint_dir {self.directory!r} holds no checkpoint that can be restored "
                f"into these variables, optimizer and checkpoint_objects (nothing was changed "
                f"on disk): {'; '.join(f[:300] for f in failures)}. If they belong to another "
                "model, use another checkpoint_dir."
            )
        self._set_aside(set_aside, failures, None)
        return None

    def _set_aside(self, paths, failures, restored) -> None:
        for path, prefix in paths:
            number = int(path.rsplit("-", 1)[1])
            # a diverged state may be the best one too; a corrupt file is only the main copy
            both = (self.directory, os.path.join(self.directory, BEST))
            for directory in both if prefix == "diverged" else both[:1]:
                for name in os.listdir(directory):
                    if re.fullmatch(rf"ckpt-{number}\.(index|data-.*)", name):
                        new = os.path.join(directory, f"{prefix}-{name}")
                        os.replace(os.path.join(directory, name), new)
        if not paths:
            return
        names = ", ".join(f"{os.path.basename(p)} ({why})" for p, why in paths)
        reasons = f" Read errors: {'; '.join(failures)}." if failures else ""
        warnings.warn(
            f"checkpoint_dir {self.directory!r}: skipped {names}, renamed with that prefix "
            f"and kept on disk; restored {restored or 'nothing'}.{reasons}",
            CheckpointWarning,
            stacklevel=3,
        )
        for directory in (self.directory, os.path.join(self.directory, BEST)):
            _write_index(directory, _numbers(directory))
        self._build()

    def _restore(self, path: str, optimizer) -> None:
        """Restores `path` and checks it; the learning rate stays the caller's."""
        learning_rate = getattr(optimizer, "learning_rate", None)
        keep = learning_rate.numpy() if isinstance(learning_rate, tf.Variable) else None
        saved = _read_state(path)
        status = tf.train.Checkpoint(**dict(self.objects, state=saved.variable)).read(path)
        status.assert_existing_objects_matched().expect_partial()
        variables = self.objects["variables"]
        floats = [v for v in variables if v.dtype.is_floating]
        bad = [v.name for v in floats if not tf.reduce_all(tf.math.is_finite(v))]
        if bad:
            raise ValueError(f"non-finite values in {', '.join(bad)}")
        if keep is not None:
            learning_rate.assign(keep)
        self.saved_steps = saved.history.steps
        state = self.state
        state.history, state.step_in_epoch = saved.history, saved.step_in_epoch
        state.epoch_total = saved.epoch_total
