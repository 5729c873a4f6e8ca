"""Where page tasks run: in this process, on a Dask LocalCluster, or on an existing scheduler.

The driver only sees ``imap_unordered``: tasks go in lazily, results come back as they finish,
and at most ``max_in_flight`` tasks are out at once so a 1,000-page book never holds more than
a few pages' bytes in memory.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, TypeVar

from pipeline.errors import HotichError

T = TypeVar("T")
R = TypeVar("R")


class InProcessExecutor:
    """Runs tasks one after another here; for debugging and for machines without Dask workers."""

    description = "trong tiến trình này"

    def imap_unordered(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        for task in tasks:
            yield fn(task)


class DaskExecutor:
    def __init__(self, client, description: str, max_in_flight: int):
        self.client = client
        self.description = description
        self.max_in_flight = max_in_flight

    def imap_unordered(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        from distributed import as_completed

        task_iter = iter(tasks)
        pending = as_completed()
        for task in task_iter:
            pending.add(self.client.submit(fn, task, pure=False))
            if pending.count() >= self.max_in_flight:
                break
        for future in pending:
            result = future.result()
            future.release()
            yield result
            next_task = next(task_iter, None)
            if next_task is not None:
                pending.add(self.client.submit(fn, next_task, pure=False))


@contextmanager
def open_executor(workers: int, scheduler: str | None = None, memory_limit: str = "1.5GiB"):
    """``workers=0`` runs in-process; otherwise a LocalCluster of one-thread worker processes.

    Worker processes are started with OMP_THREAD_LIMIT=1 inherited from here: Tesseract's
    OpenMP threads would otherwise compete with the other workers for the same cores.
    """
    if scheduler is None and workers <= 0:
        yield InProcessExecutor()
        return
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise HotichError(f"Không kết nối được bộ điều phối Dask {scheduler}") from exc
        try:
            n = max(1, len(client.scheduler_info().get("workers", {})))
            yield DaskExecutor(client, f"bộ điều phối Dask {scheduler} ({n} worker)", 2 * n)
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
        dashboard_address=None, silence_logs=40,
    )
    client = Client(cluster)
    try:
        yield DaskExecutor(client, f"Dask LocalCluster ({workers} tiến trình)", 2 * workers)
    finally:
        client.close()
        cluster.close()
