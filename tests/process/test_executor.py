"""A Dask scheduler without workers ends the run with one line after the configured wait,
instead of a progress bar stuck at 0 for ever. Real schedulers, real (or no) workers."""

from __future__ import annotations

import time

import pytest
from distributed import LocalCluster
from PIL import Image

from pipeline.errors import HotichError
from pipeline.executor import open_executor


def _slow_square(x: int) -> int:
    time.sleep(0.2)
    return x * x


@pytest.fixture
def workerless_scheduler():
    """A scheduler whose workers were never started, as when `dask worker` was forgotten."""
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def test_scheduler_without_workers_fails_after_the_wait(workerless_scheduler):
    started = time.monotonic()
    with pytest.raises(HotichError) as err:
        with open_executor(2, workerless_scheduler, worker_wait=1.5):
            pytest.fail("an executor without workers must not be handed out")
    elapsed = time.monotonic() - started
    assert 1.5 <= elapsed < 15
    message = str(err.value)
    assert f"Bộ điều phối Dask {workerless_scheduler} không có worker nào sau 1.5 giây" in message
    assert "\n" not in message


def test_workers_lost_mid_run_end_the_run():
    """Every worker gone while pages wait: the run stops after the wait, with the count left."""
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster:
        with open_executor(1, cluster.scheduler_address, worker_wait=1.0) as executor:
            results = executor.imap_unordered(_slow_square, range(6))
            assert next(results) in {0, 1, 4, 9, 16, 25}
            cluster.scale(0)
            started = time.monotonic()
            with pytest.raises(HotichError, match=r"không còn worker nào trong 1 giây; \d trang đang chờ"):
                list(results)
            assert time.monotonic() - started < 15


def test_process_command_names_the_idle_scheduler_in_one_line(run, workspace, tmp_path, monkeypatch,
                                                              workerless_scheduler):
    page = tmp_path / "p1.png"
    Image.new("RGB", (300, 400), "white").save(page)
    book = ["--template", "birth_form", "--commune", "Hưng Dũng", "--district", "Hưng Nguyên",
            "--province", "Nghệ Tĩnh", "--year", "1978", "--volume", "1"]
    assert run("ingest", page, *book).exit_code == 0
    monkeypatch.setenv("HOTICH_WORKER_WAIT", "1")
    result = run("process", "--scheduler", workerless_scheduler)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [(f"Lỗi: Bộ điều phối Dask {workerless_scheduler} không có worker nào sau 1 giây "
                      f"— khởi động `dask worker {workerless_scheduler}` trên máy OCR, hoặc chạy không "
                      "có --scheduler")]
    assert "Traceback" not in result.output
