"""A fresh Python process for the tests that need one: logical devices set before TensorFlow
starts, a clean peak-memory measurement, a second process holding a lock, a command line.

The child inherits the environment with TensorFlow's logs quiet and no GPU, runs from the
repository's root (so `python -m tools` works) and, for `run_python`, must exit 0: otherwise
the test fails with the end of the child's stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["ROOT", "child_env", "run_python", "start_python"]

ROOT = Path(__file__).resolve().parent.parent


def child_env() -> dict[str, str]:
    """The environment of a child process: this one's, TensorFlow quiet, no GPU, and the
    checkout and tests/ first on its path, as pytest's `pythonpath` puts them for the tests (a
    test file run as a script imports the helpers beside this one)."""
    path = [str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
    return dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="2",
        CUDA_VISIBLE_DEVICES="",
        PYTHONPATH=os.pathsep.join(p for p in path if p),
    )


def run_python(*args, timeout: float = 300) -> str:
    """Runs `python *args` to the end and returns its standard output."""
    done = subprocess.run(
        [sys.executable, *map(str, args)],
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def start_python(*args, stderr=None) -> subprocess.Popen:
    """Starts `python *args` in the background, its standard output readable as text (and
    its standard error, with `stderr=subprocess.PIPE`)."""
    return subprocess.Popen(
        [sys.executable, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=child_env(),
        cwd=ROOT,
    )
