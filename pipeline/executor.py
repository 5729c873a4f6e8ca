"""Where page tasks run: in this process, on a Dask LocalCluster, or on an existing scheduler.

The driver only sees ``imap_unordered``: tasks go in lazily, results come back as they finish,
and at most ``max_in_flight`` tasks are out at once so a 1,000-page book never holds more than
a few pages' bytes in memory.
"""

from __future__ import annotations

import os
import time
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
    """Tasks on Dask workers; stops with an error when no worker is left for ``worker_wait``.

    A scheduler without workers accepts tasks and never runs them: without the check a
    run would show "0/N" for ever (workers not started, or all of them lost mid-run).
    """

    def __init__(self, client, description: str, max_in_flight: int, worker_wait: float = 60.0,
                 where: str = "Dask"):
        self.client = client
        self.description = description
        self.max_in_flight = max_in_flight
        self.worker_wait = worker_wait
        self.where = where

    def imap_unordered(self, fn: Callable[[T], R], tasks: Iterable[T]) -> Iterator[R]:
        from distributed import wait

        task_iter = iter(tasks)
        pending = set()
        for task in task_iter:
            pending.add(self.client.submit(fn, task, pure=False))
            if len(pending) >= self.max_in_flight:
                break
        poll = min(1.0, self.worker_wait)
        workerless_since: float | None = None
        while pending:
            try:
                done, pending = wait(pending, timeout=poll, return_when="FIRST_COMPLETED")
            except TimeoutError:
                workerless_since = self._check_workers(workerless_since, len(pending))
                continue
            workerless_since = None
            for future in done:
                result = future.result()
                future.release()
                yield result
                next_task = next(task_iter, None)
                if next_task is not None:
                    pending.add(self.client.submit(fn, next_task, pure=False))

    def _check_workers(self, since: float | None, waiting: int) -> float | None:
        """None while workers are there; else since when none is, raising once it is too long."""
        if self.client.scheduler_info().get("workers"):
            return None
        now = time.monotonic()
        if since is None:
            return now
        if now - since >= self.worker_wait:
            raise HotichError(
                f"{self.where} không còn worker nào trong {self.worker_wait:g} giây; "
                f"{waiting} trang đang chờ chưa được xử lý",
                hint="khởi động lại dask worker rồi chạy lại cùng lệnh (trang đã xong được giữ)",
            )
        return since


@contextmanager
def open_executor(workers: int, scheduler: str | None = None, memory_limit: str = "1.5GiB",
                  worker_wait: float = 60.0):
    """``workers=0`` runs in-process; otherwise a LocalCluster of one-thread worker processes.

    Worker processes are started with OMP_THREAD_LIMIT=1 inherited from here: Tesseract's
    OpenMP threads would otherwise compete with the other workers for the same cores.
    An existing ``scheduler`` must have a worker within ``worker_wait`` seconds (the caller's
    ``worker_wait`` setting), or the run stops with one line instead of waiting for ever.
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
            try:
                client.wait_for_workers(1, timeout=worker_wait)
            except TimeoutError:
                raise HotichError(
                    f"Bộ điều phối Dask {scheduler} không có worker nào sau {worker_wait:g} giây",
                    hint=f"khởi động `dask worker {scheduler}` trên máy OCR, hoặc chạy không có --scheduler",
                ) from None
            n = max(1, len(client.scheduler_info().get("workers", {})))
            yield DaskExecutor(client, f"bộ điều phối Dask {scheduler} ({n} worker)", 2 * n,
                               worker_wait, where=f"Bộ điều phối Dask {scheduler}")
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
        dashboard_address=None, silence_logs=40,
        # The scheduler's HTTP endpoint (health, metrics) on a free local port: on the fixed
        # 8787 a second run on this machine got a warning on stderr, and nothing else uses it.
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )
    client = Client(cluster)
    try:
        yield DaskExecutor(client, f"Dask LocalCluster ({workers} tiến trình)", 2 * workers,
                           worker_wait, where="Dask LocalCluster")
    finally:
        client.close()
        cluster.close()
