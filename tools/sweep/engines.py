"""The engines of a sweep: they run `tools.sweep.run.execute_run` for every task.

`LocalEngine` runs here, a few at a time (threads, each waiting on its papermill child);
`DaskEngine` on Dask distributed, a task per run (`tools.sweep.run.run_on_worker`, sent by
value so that neither the scheduler nor the workers need `tools`), through `Client.submit`
with unique keys, `pure=False` and `retries=0`. Both call `done(name, outcome)` in the calling
thread as each run ends, in the order they end.

A worker that dies fails only the run it was running, whatever the scheduler's
`allowed-failures`: that run is recorded as `WorkerDied` (`tools.sweep.run.worker_died`), not
run again by the sweep; a run that was only waiting on that worker runs on another one (the
scheduler moves it, or, once `allowed-failures` is spent and Dask reports `KilledWorker`, the
engine submits it again, up to `RESUBMISSIONS` times).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tools.sweep import run as sweep_run
from tools.sweep.run import BEGAN, by_value, execute_run, run_on_worker, worker_died

__all__ = ["RESUBMISSIONS", "DaskEngine", "LocalEngine"]

RESUBMISSIONS = 3
"""Times a run that never began is submitted again after Dask gave up on it (`KilledWorker`)."""

Task = tuple[str, bytes, dict[str, Any]]  # run name, notebook bytes, parameters
Done = Callable[[str, dict[str, Any]], None]


def _crashed(error: BaseException) -> dict[str, Any]:
    return {"status": "failed", "error_name": type(error).__name__, "error_value": str(error)}


class LocalEngine:
    """Runs on this machine, `jobs` at a time, each with `threads` TensorFlow threads."""

    def __init__(self, jobs: int, threads: int | None, timeout: float | None) -> None:
        self.jobs, self.threads, self.timeout = jobs, threads, timeout

    def describe(self) -> str:
        threads = f"TensorFlow threads: {self.threads}" if self.threads else "TensorFlow's threads"
        return f"here, {self.jobs} at a time ({threads} each)"

    def run(self, tasks: Iterable[Task], done: Done) -> None:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        with ThreadPoolExecutor(self.jobs) as pool:
            options = {"timeout": self.timeout, "threads": self.threads}
            options["in_flight"] = sweep_run.LOCAL
            futures = {pool.submit(execute_run, nb, p, **options): n for n, nb, p in tasks}
            try:
                for future in as_completed(futures):
                    error = future.exception()
                    done(futures[future], _crashed(error) if error else future.result())
            finally:
                for future in futures:
                    future.cancel()


class DaskEngine:
    """Runs on Dask distributed: a scheduler's address, or a LocalCluster of `workers`."""

    def __init__(self, scheduler, workers, threads, timeout) -> None:
        self.scheduler = scheduler
        self.workers = workers
        self.threads = threads
        self.timeout = timeout

    def describe(self) -> str:
        where = self.scheduler or f"a LocalCluster of {self.workers} worker processes"
        return f"on Dask ({where})"

    def _connect(self):
        from distributed import Client, LocalCluster

        if self.scheduler:
            return Client(self.scheduler), None
        cluster = LocalCluster(
            n_workers=self.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        return Client(cluster), cluster

    def run(self, tasks: Iterable[Task], done: Done) -> None:
        import uuid

        from distributed import Variable, as_completed
        from distributed.scheduler import KilledWorker

        task = by_value(run_on_worker)
        options = {"timeout": self.timeout, "threads": self.threads}
        client, cluster = self._connect()
        runs = {}  # run id: (name, notebook, parameters, submissions so far)
        run_ids = {}  # a task's key: its run id

        def submit(run_id):
            name, notebook, parameters, submissions = runs[run_id]
            runs[run_id] = (name, notebook, parameters, submissions + 1)
            key = f"sweep-run-{run_id}-{submissions}"
            future = client.submit(
                task, run_id, notebook, parameters, **options, key=key, pure=False, retries=0
            )
            run_ids[future.key] = run_id
            return future

        def began(run_id):
            try:
                return Variable(BEGAN + run_id, client=client).get(timeout=0.1)
            except TimeoutError:
                return None

        try:
            for name, notebook, parameters in tasks:
                run_id = uuid.uuid4().hex[:16]
                runs[run_id] = (name, notebook, parameters, 0)
            pending = as_completed([submit(run_id) for run_id in runs])
            for future in pending:
                run_id = run_ids[future.key]
                name, _, _, submissions = runs[run_id]
                if future.status == "cancelled":
                    continue
                error = future.exception() if future.status == "error" else None
                if isinstance(error, KilledWorker):
                    record = began(run_id)
                    if record is not None:
                        done(name, worker_died(record))
                    elif submissions <= RESUBMISSIONS:
                        pending.add(submit(run_id))
                    else:
                        done(name, _crashed(error))
                else:
                    done(name, _crashed(error) if error else future.result())
        finally:
            for run_id in runs:
                Variable(BEGAN + run_id, client=client).delete()
            client.close()
            if cluster is not None:
                cluster.close()
