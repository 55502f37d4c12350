"""`checkpoint_dir` on disk, for `support.training.checkpoints` (every notebook, through `fit`).

The file-system side of checkpoints (layers: history -> storage -> checkpoints -> training):

* `check_writable`: a directory that cannot be created or written is refused before training.
* `lock`: one run per directory (`fit`'s checkpoints; a sweep's folder, `tools.sweep`); the
  operating system releases it when its process dies.
* `estimate_bytes` / `saved_bytes`: the size of one checkpoint, from its variables (the
  model's, the optimizer's slots, the run's state) before the first save, then as written.
* `check_room`: `DiskFull` before a save that the file system has no room for, so a full
  disk is explained in words rather than by TensorFlow's `ResourceExhaustedError ... No
  space left on device [Op:SaveV2]`; `is_disk_full` recognises that error when the disk
  fills up during the save itself.
* `remove_partial`: the `*_temp*` files and pieces a save that failed (or a killed process)
  left behind.
* `link_or_copy`: `best/` shares the newest checkpoint's files by hard links, so keeping the
  best costs no second copy.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import tempfile

import tensorflow as tf

__all__ = [
    "DiskFull",
    "check_room",
    "check_writable",
    "estimate_bytes",
    "is_disk_full",
    "link_or_copy",
    "lock",
    "remove_partial",
    "saved_bytes",
]

OVERHEAD = 64 * 1024
"""Bytes added to a checkpoint's estimate: its index, file-system blocks, the state growing."""


class DiskFull(OSError):
    """No room in `checkpoint_dir` for the next checkpoint (`errno` is `ENOSPC`).

    Attributes:
      directory: the `checkpoint_dir`.
      needed, free: bytes a checkpoint needs and bytes the file system has free.
      latest: the last intact checkpoint, or None if nothing was saved yet.
    """

    def __init__(self, directory: str, needed: int, free: int, latest: str | None, when: str):
        self.directory, self.needed, self.free, self.latest = directory, needed, free, latest
        kept = (
            f"The last intact checkpoint is {latest}; call fit again with the same arguments to "
            "resume from it once there is room"
            if latest
            else "Nothing has been saved yet"
        )
        super().__init__(
            errno.ENOSPC,
            f"checkpoint_dir {directory!r} has no room {when}: a checkpoint needs about "
            f"{_size(needed)} and its file system has {_size(free)} free. {kept}. Free some "
            "space there, or move the directory to a disk with room (copy it and pass the new "
            "path as checkpoint_dir). A run keeps up to 4 checkpoints (the newest 2 and, in "
            "best/, the 2 best), plus one while saving.",
        )

    def __str__(self) -> str:
        return self.strerror


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def check_writable(directory: str, best: str) -> None:
    """Creates `directory` and its `best` subdirectory; ValueError if it cannot be written."""
    try:
        os.makedirs(os.path.join(directory, best), exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise ValueError(
            f"checkpoint_dir {directory!r} is not a writable directory "
            f"({type(error).__name__}: {error.strerror or error})"
        ) from error


def lock(
    directory: str,
    *,
    name: str = "fit.lock",
    what: str = "checkpoint_dir",
    clash: str = "two runs must not write the same checkpoints",
    advice: str = "Wait for that run to finish, stop it, or use another checkpoint_dir.",
):
    """Takes the directory's exclusive lock, the file `name` (`fit.lock` by default) holding
    its owner's pid, host and start time; returns the open lock file (close it to release).

    The lock is the operating system's (`flock`): it is released when its process ends, however
    it ends, so a lock left by a killed process never blocks the next one.

    Args:
      directory: an existing directory.
      name: the lock file's name in `directory`.
      what, clash, advice: the error's words: what `directory` is, why two owners must not
        share it, and what to do.

    Raises:
      RuntimeError: if another process (or another open of the same file) holds the lock,
        naming its owner: `{what} '{directory}' is in use by pid P on host H since T: {clash}.
        {advice}`.
    """
    handle = open(os.path.join(directory, name), "a+")  # noqa: SIM115 (held until close)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = _owner(handle.read().strip())
        handle.close()
        raise RuntimeError(
            f"{what} {directory!r} is in use by {owner}: {clash}. {advice}"
        ) from None
    os.ftruncate(handle.fileno(), 0)
    since = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    owner = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": since})
    with contextlib.suppress(OSError):  # a full disk: held all the same, without the owner
        os.write(handle.fileno(), owner.encode())
    return handle


def _owner(text: str) -> str:
    """A lock file's owner in words: `pid P on host H since T`, or what the file holds."""
    try:
        owner = json.loads(text)
        words = f"pid {owner['pid']} on host {owner['host']}"
    except (ValueError, TypeError, KeyError):
        return text or "another process"
    return words + (f" since {owner['since']}" if owner.get("since") else "")


def estimate_bytes(checkpoint: tf.train.Checkpoint) -> int:
    """The size of one checkpoint of `checkpoint`: its variables' bytes plus `OVERHEAD`."""
    seen, total = set(), OVERHEAD
    for item in tf.train.TrackableView(checkpoint).descendants():
        if isinstance(item, tf.Variable) and id(item) not in seen:
            seen.add(id(item))
            if item.dtype == tf.string:
                total += sum(len(s) for s in tf.reshape(item, [-1]).numpy())
            else:
                total += item.shape.num_elements() * item.dtype.size
    return total


def saved_bytes(prefix: str) -> int:
    """The bytes of the checkpoint written at `prefix` (its index and data files)."""
    directory, name = os.path.split(prefix)
    pattern = re.compile(rf"{re.escape(name)}\.(index|data-.*)")
    return sum(
        os.path.getsize(os.path.join(directory, f))
        for f in os.listdir(directory)
        if pattern.fullmatch(f)
    )


def free_bytes(directory: str) -> int:
    return shutil.disk_usage(directory).free


def check_room(directory: str, needed: int, latest: str | None, when: str) -> None:
    """Raises `DiskFull` if the file system of `directory` has less than `needed` bytes free."""
    free = free_bytes(directory)
    if free < needed:
        raise DiskFull(directory, needed, free, latest, when)


def is_disk_full(error: BaseException) -> bool:
    """Whether `error` is a write that failed for lack of space (TensorFlow's or Python's)."""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(error, tf.errors.ResourceExhaustedError) and (
        "No space left on device" in str(error) or "quota exceeded" in str(error).lower()
    )


def remove_partial(directory: str, number: int | None = None) -> None:
    """Removes `*_temp*` leftovers in `directory` and, with `number`, `ckpt-<number>.*`."""
    own = re.compile(rf"ckpt-{number}\.(index|data-.*)") if number is not None else None
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if "_temp" in name or (own is not None and own.fullmatch(name)):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)


def link_or_copy(prefix: str, directory: str) -> str:
    """Puts the checkpoint at `prefix` into `directory` under the same name: hard links (no
    second copy on disk) where the file system allows, else copies. Returns the new prefix."""
    source, name = os.path.split(prefix)
    pattern = re.compile(rf"{re.escape(name)}\.(index|data-.*)")
    files = sorted(f for f in os.listdir(source) if pattern.fullmatch(f))
    files.sort(key=lambda f: f.endswith(".index"))  # the index last: it makes it readable
    for file in files:
        target = os.path.join(directory, file)
        if os.path.lexists(target):
            os.remove(target)
        try:
            os.link(os.path.join(source, file), target)
        except OSError as error:
            if error.errno == errno.ENOSPC:
                raise
            shutil.copy2(os.path.join(source, file), target)
    return os.path.join(directory, name)
