"""One run of a sweep, wherever it executes (the engines are in `tools.sweep.engines`).

`execute_run` takes the notebook's bytes and its parameters, runs papermill in a child
process of its own (its own process group; the kernel papermill starts leads a session of its
own, so the child stops it itself on SIGTERM), and returns the executed notebook's bytes with
the run's status. It needs only the standard library and papermill on the machine that runs
it, and no file system shared with the sweep.

`run_on_worker` is the Dask task of one run: it says on the scheduler that the run began (a
Dask `Variable` named after the run), then calls `execute_run`; if the run had begun already,
its worker died running it, and the task returns `worker_died`'s outcome instead of running
the notebook a second time. The Dask engine sends this module's functions by value
(`by_value`), so neither the scheduler nor the workers need `tools`: a worker needs the
project's package with its `sweep` extra (papermill, the kernel, `support` for the notebooks),
the scheduler only Dask.

The functions that travel use no state of this module: the runs in flight that `stop_all`
stops are those of `LOCAL`, which only the local engine passes.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "DRIVER",
    "LOCAL",
    "InFlight",
    "by_value",
    "execute_run",
    "run_on_worker",
    "stop_all",
    "terminate",
    "worker_died",
]

# The child process: papermill in-process, the kernel its child. On SIGTERM (the sweep
# stopping, or a timeout) or when its parent goes away, it stops the kernel's session first
# (papermill has saved the notebook after every cell), then exits; when its parent went away
# (a killed sweep or Dask worker), it removes the run's temporary folder too.
DRIVER = r"""
import json, os, shutil, signal, sys, threading, time

src, dst, params_file, status_file = sys.argv[1:5]

def kill_children(signum):
    me = str(os.getpid())
    for pid in filter(str.isdigit, os.listdir("/proc") if os.path.isdir("/proc") else []):
        try:
            with open(f"/proc/{pid}/stat") as handle:
                ppid = handle.read().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
        if ppid == me:
            for kill in (os.killpg, os.kill):
                try:
                    kill(int(pid), signum)
                    break
                except OSError:
                    pass

def write_status(**status):
    with open(status_file + ".tmp", "w") as handle:
        json.dump(status, handle)
    os.replace(status_file + ".tmp", status_file)

def stop(signum, frame):
    kill_children(signal.SIGTERM)
    write_status(error_name="Terminated", error_value="the run was stopped", started=True)
    os._exit(143)

def watch(parent=os.getppid()):
    while os.getppid() == parent:
        time.sleep(1)
    kill_children(signal.SIGKILL)
    shutil.rmtree(os.path.dirname(src), ignore_errors=True)  # nobody reads the run's folder now
    os._exit(1)

signal.signal(signal.SIGTERM, stop)
threading.Thread(target=watch, daemon=True).start()
import papermill

with open(params_file) as handle:
    parameters = json.load(handle)
status = {"error_name": None, "error_value": None}
try:
    papermill.execute_notebook(src, dst, parameters=parameters, kernel_name="python3",
                               cwd=os.path.dirname(src), progress_bar=False, log_output=True)
except papermill.PapermillExecutionError as error:
    status.update(error_name=error.ename, error_value=error.evalue)
except BaseException as error:
    status.update(error_name=type(error).__name__, error_value=str(error))
started = False
try:
    with open(dst) as handle:
        cells = json.load(handle)["cells"]
    started = any(c.get("metadata", {}).get("papermill", {}).get("start_time") for c in cells)
except (OSError, ValueError, KeyError):
    pass
write_status(started=started, **status)
"""


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _read(path: str) -> bytes | None:
    if not os.path.exists(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


def terminate(process: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM to the child's process group (it stops its kernel), SIGKILL after `grace`."""
    for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, signum)
        except OSError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


class InFlight:
    """The runs in flight in one process, so that a sweep that stops can stop them all."""

    def __init__(self) -> None:
        self.processes: set[subprocess.Popen] = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def stop_all(self) -> None:
        """Stops every run in flight and every run that would begin after this call."""
        self.stopping.set()
        with self.lock:
            running = list(self.processes)
        threads = [threading.Thread(target=terminate, args=(p,)) for p in running]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()


LOCAL = InFlight()
"""The runs of the local engine in this process (the sweep's SIGTERM or Ctrl-C stops them)."""


def stop_all() -> None:
    """Stops every local run in flight in this process (the sweep got SIGTERM or Ctrl-C)."""
    LOCAL.stop_all()


def _attempt(
    folder: str, timeout: float | None, env: dict[str, str], in_flight: InFlight | None
) -> dict[str, Any]:
    paths = [os.path.join(folder, name) for name in ("in.ipynb", "out.ipynb", "p.json", "s")]
    if in_flight is not None and in_flight.stopping.is_set():
        value = "the sweep stopped before this run began"
        return {"status": "terminated", "error_name": "Terminated", "error_value": value}
    with open(os.path.join(folder, "log.txt"), "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", DRIVER, *paths],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if in_flight is not None:
            with in_flight.lock:
                in_flight.processes.add(process)
        try:
            if in_flight is not None and in_flight.stopping.is_set():  # stop_all ran since
                terminate(process)
            process.wait(timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            terminate(process)
            timed_out = True
        finally:
            if in_flight is not None:
                with in_flight.lock:
                    in_flight.processes.discard(process)
    status = {"error_name": None, "error_value": None, "started": True}
    if os.path.exists(paths[3]):
        with open(paths[3]) as handle:
            status.update(json.load(handle))
    elif not timed_out:  # the child died without a word (killed, out of memory)
        status.update(error_name="ChildDied", error_value=f"exit code {process.returncode}")
    if timed_out:
        status.update(error_name="Timeout", error_value=f"no result after {timeout:g} s")
        status["status"] = "timed out"
    elif status["error_name"] == "Terminated":
        status["status"] = "terminated"
    else:
        status["status"] = "failed" if status["error_name"] else "ok"
    return status


def execute_run(
    notebook: bytes,
    parameters: dict[str, Any],
    *,
    timeout: float | None = None,
    threads: int | None = None,
    in_flight: InFlight | None = None,
) -> dict[str, Any]:
    """Runs one notebook with papermill in a child process and returns what happened.

    Args:
      notebook: the notebook file's bytes.
      parameters: what papermill injects.
      timeout: seconds before the run (and its kernel) is stopped; None waits for ever.
      threads: TensorFlow's intra- and inter-op threads (`TF_NUM_INTRAOP_THREADS`,
        `TF_NUM_INTEROP_THREADS`, which TensorFlow reads at start-up), so that runs side by
        side share the cores; None leaves TensorFlow's default (every core).
      in_flight: where the run's process is registered while it runs, so that
        `in_flight.stop_all()` stops it (the local engine passes `LOCAL`); None: nowhere.

    Returns:
      A dict: `status` ("ok", "failed", "timed out" or "terminated"), `error_name` and
      `error_value` (papermill's, or None), `started` (ISO time, UTC), `seconds`, `host`,
      `attempts` (2 when the kernel failed to start once), `kernel_retried`, `tensorflow`
      and `tensorflow_probability` (the versions where it ran), `notebook` (the executed
      notebook's bytes, None if none was written) and `log` (the end of papermill's log).
    """
    env = dict(os.environ, SUPPORT_PROGRESS="text", PYTHONUNBUFFERED="1")
    if threads:
        env["TF_NUM_INTRAOP_THREADS"] = env["TF_NUM_INTEROP_THREADS"] = str(int(threads))
    started, clock = datetime.now(UTC).isoformat(timespec="seconds"), time.monotonic()
    folder = tempfile.mkdtemp(prefix="sweep-run-")
    try:
        attempts = 0
        while attempts < 2:
            attempts += 1
            for name in ("out.ipynb", "s"):
                if os.path.exists(os.path.join(folder, name)):
                    os.remove(os.path.join(folder, name))
            with open(os.path.join(folder, "in.ipynb"), "wb") as handle:
                handle.write(notebook)
            with open(os.path.join(folder, "p.json"), "w") as handle:
                json.dump(parameters, handle)
            outcome = _attempt(folder, timeout, env, in_flight)
            if outcome.pop("started", True) or outcome["status"] != "failed":
                break  # the kernel ran: a second attempt would fail the same way
        executed, log = (_read(os.path.join(folder, n)) for n in ("out.ipynb", "log.txt"))
        log = log[-4000:].decode("utf-8", errors="replace") if log else ""
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return outcome | {
        "started": started,
        "seconds": round(time.monotonic() - clock, 3),
        "host": socket.gethostname(),
        "attempts": attempts,
        "kernel_retried": attempts > 1,
        "tensorflow": _version("tensorflow"),
        "tensorflow_probability": _version("tensorflow-probability"),
        "notebook": executed,
        "log": log,
    }


BEGAN = "sweep-run-began-"
"""The prefix of the Dask `Variable` that says where and when a run began."""


def worker_died(began: dict[str, Any]) -> dict[str, Any]:
    """The outcome of a run whose Dask worker died while running it.

    Args:
      began: where and when the run began, as `run_on_worker` recorded it: `worker` (its
        address), `host` and `started` (ISO time, UTC).

    Returns:
      An outcome like `execute_run`'s, status "failed", `error_name` "WorkerDied" and an
      `error_value` that says what happened and what running the sweep again does.
    """
    return {
        "status": "failed",
        "error_name": "WorkerDied",
        "error_value": (
            f"the Dask worker running this run ({began['worker']} on host {began['host']}, "
            f"run begun {began['started']}) died: killed, out of memory, or its machine went "
            "away; its log on that host says why. The sweep does not run it again by itself, "
            "in case the notebook is what killed the worker: run the same sweep command again "
            "to rerun it (the runs that succeeded are kept)"
        ),
        "started": began["started"],
        "seconds": None,
        "host": began["host"],
        "attempts": 1,
        "kernel_retried": False,
        "notebook": None,
        "log": "",
    }


def run_on_worker(
    run_id: str,
    notebook: bytes,
    parameters: dict[str, Any],
    *,
    timeout: float | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """The Dask task of one run: `execute_run`, once, whatever Dask's `allowed-failures`.

    Before the notebook runs, the Dask `Variable` `BEGAN + run_id` records the worker, its
    host and the time. A scheduler whose worker died while running this task sends it to
    another worker (unless `allowed-failures` is spent: then the sweep sees `KilledWorker`);
    this task then finds the record and returns `worker_died(record)` at once instead of
    running, a second time, a notebook that may have killed its worker.

    Args:
      run_id: the run's id, unique across sweeps (the engine's; not the run's folder name).
      notebook, parameters, timeout, threads: as `execute_run` takes them.

    Returns:
      `execute_run`'s outcome, or `worker_died`'s.
    """
    from distributed import Variable, get_worker

    began = Variable(BEGAN + run_id)
    try:
        return worker_died(began.get(timeout=0.1))
    except TimeoutError:
        pass
    started = datetime.now(UTC).isoformat(timespec="seconds")
    began.set({"worker": get_worker().address, "host": socket.gethostname(), "started": started})
    return execute_run(notebook, parameters, timeout=timeout, threads=threads)


class _ByValue:
    """A function that any pickler carries by value: it unpickles through `cloudpickle.loads`."""

    def __init__(self, function) -> None:
        import cloudpickle

        self.function = function
        module = sys.modules[function.__module__]
        registered = module.__name__ in cloudpickle.list_registry_pickle_by_value()
        if not registered:
            cloudpickle.register_pickle_by_value(module)
        try:
            self.data = cloudpickle.dumps(function)
        finally:
            if not registered:
                cloudpickle.unregister_pickle_by_value(module)

    def __call__(self, *args, **kwargs):
        return self.function(*args, **kwargs)

    def __reduce__(self):
        import cloudpickle

        return cloudpickle.loads, (self.data,)


def by_value(function):
    """`function`, pickled by value with what it calls from its module (cloudpickle).

    Dask's scheduler unpickles every task's function (with plain pickle, which finds a
    function by its module's name); a function of `tools` would need `tools` there. The
    object returned unpickles into the function itself through `cloudpickle.loads`, so the
    scheduler and the workers need only cloudpickle (a dependency of Dask) and the modules the
    function imports.
    """
    return _ByValue(function)
