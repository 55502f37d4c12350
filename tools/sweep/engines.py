"""The engines of a sweep: they run `tools.sweep.run.execute_run` for every task.

`LocalEngine` runs here, a few at a time (threads, each waiting on its papermill child);
`DaskEngine` on Dask distributed, through `Client.submit` with unique keys, `pure=False` and
`retries=0`, with `execute_run` sent by value so workers need not have `tools`. Both call
`done(name, outcome)` in the calling thread as each run ends, in the order they end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tools.sweep import run as sweep_run
from tools.sweep.run import execute_run

__all__ = ["DaskEngine", "LocalEngine"]

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
        self.scheduler, self.workers = scheduler, workers
        self.threads, self.timeout = threads, timeout

    def describe(self) -> str:
        where = self.scheduler or f"a LocalCluster of {self.workers} worker processes"
        return f"on Dask ({where})"

    def run(self, tasks: Iterable[Task], done: Done) -> None:
        import uuid

        import cloudpickle
        import dask
        from distributed import Client, LocalCluster, as_completed

        cloudpickle.register_pickle_by_value(sweep_run)
        # A notebook that kills its worker must not be run again on the next one.
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            if self.scheduler:
                client, cluster = Client(self.scheduler), None
            else:
                cluster = LocalCluster(
                    n_workers=self.workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                )
                client = Client(cluster)
        options = {"timeout": self.timeout, "threads": self.threads}
        try:
            names = {}
            for name, notebook, parameters in tasks:
                key = f"sweep-run-{uuid.uuid4().hex[:12]}"
                future = client.submit(
                    execute_run, notebook, parameters, **options, key=key, pure=False, retries=0
                )
                names[future] = name
            for future in as_completed(list(names)):
                if future.status == "cancelled":
                    continue
                error = future.exception() if future.status == "error" else None
                done(names[future], _crashed(error) if error else future.result())
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
