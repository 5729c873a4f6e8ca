"""Faults, for real: a `hotich process` killed mid-run and a page that fails, then re-runs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.ingest import BookInfo, ingest_files
from pipeline.process import process_books
from pipeline.samplegen import BookSpec, generate_book
from pipeline.settings import Settings
from pipeline.storage.db import init_db, make_engine, session_scope
from pipeline.storage.models import Page, Record, SourceFile

# the place and volume the book is ingested under, printed in its pages' header (which
# `process` checks against the book's)
HEADER = {"commune": "Hưng Dũng", "district": "Hưng Nguyên", "volume": 1}

HOTICH = str(Path(sys.executable).parent / "hotich")
BOOK_ARGS = ["--template", "birth_form", "--commune", "Hưng Dũng", "--district", "Hưng Nguyên",
             "--province", "Nghệ Tĩnh", "--year", "1978", "--volume", "1", "--book-id", "KILL-1"]


def page_counts(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(db_path, timeout=30) as conn:
        return dict(conn.execute("select status, count(*) from pages group by status").fetchall())


@pytest.mark.slow
def test_killed_run_is_finished_by_running_again(tmp_path):
    book = tmp_path / "book"
    truth = generate_book(BookSpec(**HEADER, seed=41, template="birth_form", pages=5, degradation="clean",
                                   face="typewriter", year=1978), book)
    home = tmp_path / "ws"
    # The killed run's claims on its pages last a lease; a short one lets the re-run take
    # them over soon instead of waiting the default minute (tests/process/test_concurrent.py).
    env = {**os.environ, "HOTICH_HOME": str(home), "OMP_THREAD_LIMIT": "1",
           "HOTICH_PAGE_LEASE_SECONDS": "5"}
    env.pop("HOTICH_DB_URL", None)
    subprocess.run([HOTICH, "ingest", str(book / "book.pdf"), *BOOK_ARGS], env=env, check=True,
                   capture_output=True)
    run = subprocess.Popen([HOTICH, "process", "--workers", "1"], env=env, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and page_counts(home / "hotich.db").get("done", 0) < 1:
        assert run.poll() is None, "process ended before it could be killed"
        time.sleep(0.1)
    os.killpg(run.pid, signal.SIGKILL)  # the whole group: driver, nanny and worker processes
    run.wait()
    before = page_counts(home / "hotich.db")
    assert 1 <= before.get("done", 0) < 5, before

    again = subprocess.run([HOTICH, "process", "--workers", "1"], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert page_counts(home / "hotich.db") == {"done": 5}
    with sqlite3.connect(home / "hotich.db") as conn:
        keys = [r[0] for r in conn.execute("select record_key from records")]
        per_page = conn.execute("select page_id, count(*) from records group by page_id").fetchall()
        versions = conn.execute(
            "select count(*) from field_values group by record_id, field having count(*) > 1").fetchall()
    assert len(keys) == len(set(keys)) == len(truth.records)
    assert all(n == 3 for _, n in per_page) and versions == []
    xml = sorted(p.name for p in (home / "ocr").rglob("*.xml*"))
    assert xml == [f"page-{n:04d}.xml" for n in range(1, 6)]  # none half-written
    # A third run finds nothing to do and changes nothing.
    third = subprocess.run([HOTICH, "process", "--workers", "1"], env=env, capture_output=True, text=True)
    assert third.returncode == 0 and "0 trang thành công" in third.stdout
    with sqlite3.connect(home / "hotich.db") as conn:
        assert conn.execute("select count(*) from records").fetchone()[0] == len(keys)


def test_failed_page_is_recorded_and_retried(tmp_path):
    book = tmp_path / "book"
    truth = generate_book(BookSpec(**HEADER, seed=42, template="birth_form", pages=2, degradation="clean",
                                   face="typewriter", year=1978), book)
    settings = Settings(home=tmp_path / "ws")
    settings.home.mkdir()
    db = make_engine(settings.database_url)
    init_db(db)
    info = BookInfo("birth_form", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", "1978", "1", "RETRY-1")
    ingest_files(db, settings, info, sorted((book / "pages").glob("*.png")))
    with session_scope(db) as session:
        stored = settings.home / session.scalars(select_source()).first()
    # The stored copy of page 1 goes bad on disk (the test plays the failing disk).
    original = stored.read_bytes()
    stored.write_bytes(original[:2000])
    first = process_books(db, settings, workers=0)
    assert (first.succeeded, first.failed) == (1, 1)
    assert list(first.failed_by_reason) == ["ảnh hỏng hoặc bị cắt cụt"]
    with session_scope(db) as session:
        failed = session.scalars(Page.__table__.select().where(Page.status == "failed")).all()
        assert len(failed) == 1
    stored.write_bytes(original)
    second = process_books(db, settings, workers=0)
    assert (second.succeeded, second.failed) == (1, 0)
    with session_scope(db) as session:
        assert session.query(Record).count() == len(truth.records)


def select_source():
    from sqlalchemy import select

    return select(SourceFile.stored_path).order_by(SourceFile.position)
