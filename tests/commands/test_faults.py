"""Faults of the surroundings read as faults (SPEC §7): a read-only workspace, a full disk, a
database locked for long, an empty PDF. Each is produced for real, and the user reads one
Vietnamese line naming the cause and the path, with a non-zero exit and no traceback."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import text
from sqlalchemy.engine import make_url

from pipeline.errors import DiskFull
from pipeline.storage.db import make_engine
from pipeline.storage.faults import explain_fault

REPO = Path(__file__).resolve().parents[2]
BOOK = ["--template", "birth_form", "--commune", "Hưng Dũng", "--district", "Hưng Nguyên",
        "--province", "Nghệ Tĩnh", "--year", "1978", "--volume", "1", "--book-id", "HD-KS-1978-1"]


def one_line(result) -> str:
    """The error the user reads: exactly one line on stderr, no traceback anywhere."""
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Lỗi: ")
    return lines[0]


def page(path: Path) -> Path:
    Image.new("RGB", (300, 400), "white").save(path)
    return path


@pytest.fixture
def make_read_only():
    """Make a folder or file unwritable to this very process, undone afterwards.

    chmod does not stop root (tests may run as root), so as root the immutable attribute
    (chattr +i) is used, which stops root too; where neither works the test is skipped.
    """
    undo = []

    def make(path: Path) -> Path:
        if os.geteuid() != 0:
            mode = path.stat().st_mode
            path.chmod(0o555 if path.is_dir() else 0o444)
            undo.append(lambda: path.chmod(mode))
        else:
            try:
                done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True, check=False)
            except FileNotFoundError:
                pytest.skip("chattr is not installed; root cannot be stopped from writing")
            if done.returncode != 0:
                pytest.skip(f"chattr +i refused here: {done.stderr.strip()}")
            undo.append(lambda: subprocess.run(["chattr", "-i", str(path)], check=True))
        probe = path / "probe" if path.is_dir() else path
        with pytest.raises(OSError):  # the premise of the test: writing really fails
            with open(probe, "a"):
                pass
        return path

    yield make
    for step in reversed(undo):
        step()


def test_read_only_workspace_is_named_not_taken_for_an_unreachable_database(run, workspace,
                                                                           make_read_only):
    workspace.mkdir()
    make_read_only(workspace)
    result = run("init")
    assert result.exit_code == 5
    line = one_line(result)
    assert f"Không có quyền ghi {workspace} " in line
    assert "kết nối" not in line  # it used to say "cannot connect to the database"


def test_read_only_database_file_is_named(run, workspace, make_read_only, tmp_path):
    assert run("init").exit_code == 0
    make_read_only(workspace / "hotich.db")
    result = run("ingest", page(tmp_path / "p1.png"), *BOOK)
    assert result.exit_code == 5
    assert f"Không có quyền ghi {workspace / 'hotich.db'} " in one_line(result)


def test_read_only_scan_store_is_named(run, workspace, make_read_only, tmp_path):
    """The database is fine, the folder the scans are copied into is not (a 227-line
    traceback before)."""
    assert run("init").exit_code == 0
    (workspace / "scans").mkdir()
    make_read_only(workspace / "scans")
    result = run("ingest", page(tmp_path / "p1.png"), *BOOK)
    assert result.exit_code == 5
    line = one_line(result)
    assert f"Không có quyền ghi {workspace / 'scans'}" in line and "HOTICH_HOME" in line


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="no sysfs")
def test_system_folder_nobody_writes_to_as_workspace(run, monkeypatch):
    """sysfs takes no new files, from root either: a read-only place without any set-up."""
    monkeypatch.setenv("HOTICH_HOME", "/sys/kernel")
    result = run("init")
    assert result.exit_code == 5
    line = one_line(result)
    assert "/sys/kernel" in line and ("Không có quyền ghi" in line or "ổ đĩa chỉ đọc" in line)


@pytest.mark.parametrize("below", [False, True])
def test_file_where_the_workspace_folder_should_be(run, tmp_path, monkeypatch, below):
    blocker = tmp_path / "ws"
    blocker.write_text("not a folder")
    home = blocker / "inner" if below else blocker
    monkeypatch.setenv("HOTICH_HOME", str(home))
    result = run("init")
    assert result.exit_code == 5
    assert f"Không dùng được {home}: trên đường dẫn có một tệp ở chỗ cần thư mục" in one_line(result)


def _write_export(path: str, rows: list[str]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(rows)


def test_full_disk_names_the_file_though_the_kernel_does_not():
    """/dev/full fails every write with ENOSPC; write() names no file, the classifier does."""
    with pytest.raises(OSError) as err:
        _write_export("/dev/full", ["record_id,book_id\n"] * 10_000)
    assert err.value.errno == errno.ENOSPC and err.value.filename is None
    fault = explain_fault(err.value)
    assert isinstance(fault, DiskFull) and fault.exit_code == 5
    assert str(fault).startswith("Hết chỗ trống trên đĩa khi ghi /dev/full — ")


def _private_tmpfs_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, check=False)
    return probe.returncode == 0


@pytest.mark.skipif(not _private_tmpfs_works(),
                    reason="no private mount namespace (unshare -rm) for a small tmpfs")
def test_full_workspace_disk_during_ingest_is_one_line(tmp_path):
    """A real full disk: the workspace is a 1 MiB tmpfs, mounted in a mount namespace of the
    command's own (nothing outside sees it, nothing is left mounted), and a 1.4 MB scan."""
    home = tmp_path / "ws"
    home.mkdir()
    scan = tmp_path / "big.png"
    noise = np.random.default_rng(0).integers(0, 255, (700, 700, 3), dtype=np.uint8)
    Image.fromarray(noise).save(scan)
    cli = [sys.executable, str(REPO / "cli.py")]
    script = ('mount -t tmpfs -o size=1m tmpfs "$HOTICH_HOME" && "$@" init >/dev/null && '
              'exec "$@" ingest ' + " ".join(f"'{a}'" for a in [str(scan), *BOOK]))
    env = {**os.environ, "HOTICH_HOME": str(home)}
    env.pop("HOTICH_DB_URL", None)
    done = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", *cli], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 5, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Lỗi: Hết chỗ trống trên đĩa khi ghi {home}/"), lines
    assert "giải phóng dung lượng" in lines[0]


def _hold_lock(backend: str, url: str, held: threading.Event, release: threading.Event) -> None:
    """Another process's long write transaction, as a batch on the same database would hold."""
    if backend == "sqlite":
        conn = sqlite3.connect(make_url(url).database, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        held.set()
        release.wait(30)
        conn.execute("ROLLBACK")
        conn.close()
        return
    engine = make_engine(url)
    with engine.connect() as conn, conn.begin():
        conn.execute(text("LOCK TABLE books IN ACCESS EXCLUSIVE MODE"))
        held.set()
        release.wait(30)
    engine.dispose()


def test_database_locked_for_long_is_one_line(run, backend, db_url, monkeypatch, tmp_path):
    """SQLite waits HOTICH_DB_BUSY_TIMEOUT; PostgreSQL waits its own lock_timeout (set in
    the URL here, as an administrator would) — then one line, not a traceback."""
    if backend == "postgresql":
        db_url = make_url(db_url).update_query_dict({"options": "-c lock_timeout=500"}) \
            .render_as_string(hide_password=False)
    monkeypatch.setenv("HOTICH_DB_URL", db_url)
    monkeypatch.setenv("HOTICH_DB_BUSY_TIMEOUT", "0.5")
    assert run("init").exit_code == 0
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(backend, db_url, held, release))
    holder.start()
    try:
        assert held.wait(10)
        result = run("ingest", page(tmp_path / "p1.png"), *BOOK)
    finally:
        release.set()
        holder.join(30)
    assert result.exit_code == 5
    line = one_line(result)
    if backend == "sqlite":
        assert line.startswith(f"Lỗi: Cơ sở dữ liệu {make_url(db_url).database} đang bị một "
                               "tiến trình khác khóa (đã chờ 0.5 giây)")
    else:
        assert "đang bị một phiên khác khóa quá lock_timeout" in line
    assert "đợi lệnh kia xong" in line
    assert run("ingest", page(tmp_path / "p1.png"), *BOOK).exit_code == 0  # lock gone: it works


@pytest.mark.backends("postgresql")
def test_read_only_database_server_is_named(run, backend, db_url, monkeypatch):
    """A standby (or default_transaction_read_only) refuses writes: said so, not a traceback."""
    read_only = make_url(db_url).update_query_dict({"options": "-c default_transaction_read_only=on"})
    monkeypatch.setenv("HOTICH_DB_URL", read_only.render_as_string(hide_password=False))
    result = run("init")
    assert result.exit_code == 5
    line = one_line(result)
    assert "máy chủ chỉ cho đọc" in line and make_url(db_url).database in line


def test_zero_page_pdf_is_reported_empty_and_the_rest_goes_on(run, tmp_path):
    """A PDF with an empty page tree (what a scanning app writes when the scan was cancelled)
    is an empty file, not a damaged one; tests/ingest/test_scans.py has a hand-written one."""
    from pypdf import PdfWriter

    empty = tmp_path / "so-trong.pdf"
    with empty.open("wb") as fh:
        PdfWriter().write(fh)
    result = run("ingest", page(tmp_path / "p1.png"), empty, *BOOK)
    assert result.exit_code == 1
    assert "so-trong.pdf: PDF không có trang nào (tệp rỗng)" in result.output
    assert "hỏng" not in result.output
    assert "thêm 1 tệp, 1 trang" in result.output
    assert "so-trong.pdf" in run("status").output  # recorded for a retry
