"""Concurrent `hotich process` runs on one book (issue 14 part 4), for real: the console script
in separate processes, real Tesseract, a Dask LocalCluster each, SQLite and PostgreSQL.

Two runs at once split the book and both end well; a run killed mid-book leaves leases the
next run takes over once they have run out, closing the killed run as ``interrupted``; on
SQLite, another program writing while a run works (the review server) waits its turn and
neither side fails with "database is locked".

The fast tests at the end pin the pieces on both back-ends without Tesseract: claims from
many threads never overlap, an expired claim is taken over, a page two runs hold results
for is stored once, and only a dead run's ``stage_runs`` row is closed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.process import close_dead_runs, persist_result
from pipeline.samplegen import BookSpec, generate_book
from pipeline.storage.audit import audit
from pipeline.storage.db import make_engine, session_scope
from pipeline.storage.leases import claim_pages, lease_owner, renew_leases
from pipeline.storage.models import AuditEntry, Book, FieldValue, Page, Record, SourceFile, StageRun
from pipeline.types import ExtractedRecord, PageResult
from pipeline.types import FieldValue as Reading

# the place and volume the book is ingested under, printed in its pages' header (which
# `process` checks against the book's)
HEADER = {"commune": "Hưng Dũng", "district": "Hưng Nguyên", "volume": 1}

HOTICH = str(Path(sys.executable).parent / "hotich")
BOOK_ARGS = ["--template", "birth_form", "--commune", "Hưng Dũng", "--district", "Hưng Nguyên",
             "--province", "Nghệ Tĩnh", "--year", "1978", "--volume", "1", "--book-id", "CONC-1"]


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    """Small generated books, made once from fixed seeds: (pdf, truth) by page count."""
    out = tmp_path_factory.mktemp("books")
    made = {}
    for pages, seed in ((6, 141), (5, 142), (3, 143)):
        truth = generate_book(BookSpec(**HEADER, seed=seed, template="birth_form", pages=pages,
                                       degradation="clean", face="typewriter"), out / str(pages))
        made[pages] = (out / str(pages) / "book.pdf", truth)
    return made


def environment(tmp_path: Path, db_url: str, lease: float | None = None) -> dict[str, str]:
    env = {**os.environ, "HOTICH_HOME": str(tmp_path / "ws"), "HOTICH_DB_URL": db_url,
           "OMP_THREAD_LIMIT": "1"}
    if lease is not None:
        env["HOTICH_PAGE_LEASE_SECONDS"] = str(lease)
    return env


def ingest(env: dict[str, str], pdf: Path, year: int) -> None:
    """The book under its own year (one printed on its pages: another flags every page)."""
    args = [str(year) if a == "1978" else a for a in BOOK_ARGS]
    subprocess.run([HOTICH, "ingest", str(pdf), *args], env=env, check=True, capture_output=True)


def start(env: dict[str, str], log: Path) -> subprocess.Popen:
    """`hotich process --workers 1` in its own process group, output to ``log``.{out,err}."""
    with open(f"{log}.out", "w") as out, open(f"{log}.err", "w") as err:
        return subprocess.Popen([HOTICH, "process", "--workers", "1"], env=env,
                                start_new_session=True, stdout=out, stderr=err)


def finish(run: subprocess.Popen, log: Path, timeout: float = 480) -> tuple[str, str]:
    """Wait for ``run``; it must have ended well, with no traceback. Returns (stdout, stderr)."""
    try:
        run.wait(timeout=timeout)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    out, err = Path(f"{log}.out").read_text(), Path(f"{log}.err").read_text()
    assert run.returncode == 0, err[-2000:]
    assert "Traceback" not in err and "Traceback" not in out, err[-2000:]
    return out, err


def page_states(db) -> dict[str, int]:
    with session_scope(db) as session:
        return dict(session.execute(select(Page.status, func.count()).group_by(Page.status)).all())


def assert_book_stored_once(db, truth) -> dict[int, set[int]]:
    """Every page done, its records there once; returns, per page, the runs that wrote it."""
    with session_scope(db) as session:
        assert dict(session.execute(select(Page.status, func.count()).group_by(Page.status)).all()) \
            == {"done": len(truth.pages)}
        keys = session.scalars(select(Record.record_key)).all()
        assert len(keys) == len(set(keys)) == len(truth.records)
        twice = session.execute(select(FieldValue.record_id, FieldValue.field).group_by(
            FieldValue.record_id, FieldValue.field).having(func.count() > 1)).all()
        assert twice == []
        writers: dict[int, set[int]] = {}
        for page_no, run_id in session.execute(
                select(Page.page_no, FieldValue.stage_run_id).distinct()
                .join(Record, Record.page_id == Page.id).join(FieldValue, FieldValue.record_id == Record.id)):
            writers.setdefault(page_no, set()).add(run_id)
        # No claim is left behind: the next run starts with every page free.
        assert session.scalar(select(func.count()).select_from(Page).where(
            Page.claimed_by.is_not(None) | Page.lease_until.is_not(None))) == 0
    return writers


@pytest.mark.slow
def test_two_runs_at_once_split_the_book(books, backend, db_url, tmp_path):
    """Both exit 0 without a traceback, every page is read and stored by exactly one of them,
    each did part of the book. The lease (6 s) is shorter than reading a page takes here with
    two runs on two cores, so this holds only because a live run renews its leases."""
    pdf, truth = books[6]
    env = environment(tmp_path, db_url, lease=6)
    ingest(env, pdf, truth.book["year"])
    runs = [start(env, tmp_path / name) for name in ("a", "b")]
    outputs = [finish(run, tmp_path / name) for run, name in zip(runs, ("a", "b"))]

    db = make_engine(db_url)
    writers = assert_book_stored_once(db, truth)
    assert all(len(ids) == 1 for ids in writers.values()), writers  # no page written by both
    with session_scope(db) as session:
        stage_runs = session.scalars(select(StageRun).where(StageRun.stage == "process")).all()
    assert [r.outcome for r in stage_runs] == ["ok", "ok"]
    done = {r.id: r.counts["succeeded"] for r in stage_runs}
    assert sum(done.values()) == len(truth.pages) and all(n >= 1 for n in done.values()), done
    assert all(r.counts["elsewhere"] == 0 for r in stage_runs)  # no page was read twice
    for out, err in outputs:
        assert "lần chạy khác lưu trước" not in out
        assert "Port 8787" not in err  # the second cluster on this machine starts quietly
    db.dispose()


@pytest.mark.slow
def test_killed_run_is_taken_over_after_its_lease(books, backend, db_url, tmp_path):
    """A run SIGKILLed mid-book (driver, nanny and worker at once) keeps its claims until they
    run out; the next run, started at once, then takes those pages over, finishes the book
    with nothing twice, and closes the killed run's ``stage_runs`` row as ``interrupted``."""
    pdf, truth = books[5]
    env = environment(tmp_path, db_url, lease=5)
    ingest(env, pdf, truth.book["year"])
    db = make_engine(db_url)
    first = start(env, tmp_path / "first")
    deadline = time.monotonic() + 300
    while page_states(db).get("done", 0) < 1:
        assert first.poll() is None, Path(f"{tmp_path / 'first'}.err").read_text()[-2000:]
        assert time.monotonic() < deadline, "the first run did not store a page in time"
        time.sleep(0.1)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    with session_scope(db) as session:
        (killed,) = session.scalars(select(StageRun).where(StageRun.stage == "process")).all()
        held = {p.page_no: p.lease_until for p in session.scalars(
            select(Page).where(Page.status == "pending", Page.claimed_by.startswith(f"{killed.id}@")))}
    assert killed.outcome == "running"
    assert held, "the killed run held no page it had not finished"

    out, _ = finish(start(env, tmp_path / "second"), tmp_path / "second")

    writers = assert_book_stored_once(db, truth)
    with session_scope(db) as session:
        runs = {r.id: r for r in session.scalars(select(StageRun).where(StageRun.stage == "process"))}
        stored_at = dict(session.execute(select(Page.page_no, Page.updated_at)).all())
    second = max(runs)
    assert runs[killed.id].outcome == "interrupted" and runs[second].outcome == "ok"
    assert "1 lần chạy trước đã dừng giữa chừng" in out
    for page_no, until in held.items():  # taken over, and only once the lease had run out
        assert writers[page_no] == {second}
        assert stored_at[page_no] >= until
    db.dispose()


@pytest.mark.slow
@pytest.mark.backends("sqlite")
def test_writes_while_a_run_works_wait_their_turn(books, backend, db_url, tmp_path):
    """What the review server does while `process` runs on SQLite: short write transactions,
    and now and then one holding the write lock for a while (a reviewer's save behind a
    slow disk, a records import). Every one of them commits, and the run ends well."""
    pdf, truth = books[3]
    env = environment(tmp_path, db_url)
    ingest(env, pdf, truth.book["year"])
    db = make_engine(db_url)
    run = start(env, tmp_path / "run")
    written, failures = 0, []
    while run.poll() is None:
        try:
            with session_scope(db, write_lock=True) as session:
                session.scalars(select(Page.status)).all()  # read, then write: a review save
                audit(session, "lan", "review.note", "page", 1)
                if written % 100 == 0:
                    time.sleep(1.5)  # holds the write lock: the run's writes must wait
            written += 1
        except Exception as exc:  # noqa: BLE001 - any failure is what the test is about
            failures.append(repr(exc)[:200])
        time.sleep(0.02)
    finish(run, tmp_path / "run")
    assert failures == []
    assert_book_stored_once(db, truth)
    with session_scope(db) as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.actor == "lan")) == written > 10
    db.dispose()


# ---- the pieces, fast, on both back-ends ----------------------------------------------------


def make_pages(engine, count: int) -> list[int]:
    """A book of ``count`` pending pages (rows only: nothing here reads a scan)."""
    with session_scope(engine) as session:
        book = Book(book_code="LEASE-1", book_type="birth", template="birth_form", commune="Hưng Dũng",
                    district="Hưng Nguyên", province="Nghệ Tĩnh", year_from=1978, volume="1")
        session.add(book)
        session.flush()
        ids = []
        for n in range(1, count + 1):
            source = SourceFile(book_id=book.id, position=n, sha256=f"{n:064x}", original_name=f"p{n}.png",
                                stored_path=f"scans/p{n}.png", media_type="image/png", size_bytes=1, page_count=1)
            session.add(source)
            session.flush()
            page = Page(book_id=book.id, source_file_id=source.id, index_in_file=0, page_no=n)
            session.add(page)
            session.flush()
            ids.append(page.id)
    return ids


def pending():
    return Page.status == "pending"


def test_claims_from_many_runs_never_overlap(engine):
    """Eight claimers at once (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one conditional
    UPDATE under the write lock) share 40 pages with none claimed twice and none left."""
    ids = make_pages(engine, 40)
    got: dict[str, list[int]] = {f"{n}@test:{n}": [] for n in range(1, 9)}
    barrier = threading.Barrier(len(got))

    def claimer(owner: str) -> None:
        barrier.wait()
        while claimed := claim_pages(engine, owner, pending(), seconds=60):
            got[owner].extend(claimed)

    threads = [threading.Thread(target=claimer, args=(owner,)) for owner in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [page for pages in got.values() for page in pages]
    assert sorted(claimed) == ids
    with session_scope(engine) as session:
        owners = dict(session.execute(select(Page.id, Page.claimed_by)).all())
    assert all(owners[page] == owner for owner, pages in got.items() for page in pages)


def test_an_expired_claim_is_taken_over_and_a_renewed_one_is_not(engine):
    ids = make_pages(engine, 3)
    assert claim_pages(engine, "1@a:1", pending(), seconds=60, limit=2) == ids[:2]
    assert claim_pages(engine, "2@b:2", pending(), seconds=60, limit=5) == ids[2:]
    assert claim_pages(engine, "2@b:2", pending(), seconds=60) == []  # all held
    with session_scope(engine) as session:  # run 1 renews with a lease already run out
        assert renew_leases(session, "1@a:1", -1) == 2
    assert claim_pages(engine, "2@b:2", pending(), seconds=60, limit=5) == ids[:2]
    with session_scope(engine) as session:
        assert renew_leases(session, "1@a:1", 60) == 0  # what run 1 held is no longer its
        before = session.scalar(select(Page.updated_at).where(Page.id == ids[0]))
    with session_scope(engine) as session:  # a claim is not a change of the page
        assert session.scalar(select(Page.updated_at).where(Page.id == ids[0])) == before


def test_a_page_two_runs_hold_results_for_is_stored_once(engine):
    """The old failure (UniqueViolation on record_key, "database is locked"): two runs
    store the same page at the same moment. The page row is locked first, so one writes and
    the other finds it done."""
    (page_id,) = make_pages(engine, 1)
    fields = {"full_name": Reading("full_name", "Nguyễn Văn An", "Nguyễn Văn An", "read", 0.9)}
    result = PageResult(page_id=page_id, records=[ExtractedRecord(row=1, fields=fields),
                                                  ExtractedRecord(row=2, fields=fields)])
    barrier = threading.Barrier(2)
    written: list[int] = []
    errors: list[str] = []

    def store() -> None:
        barrier.wait()
        try:
            written.append(persist_result(engine, result, None))
        except Exception as exc:  # noqa: BLE001 - the test is that there is none
            errors.append(repr(exc)[:300])

    threads = [threading.Thread(target=store) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sorted(written) == [0, 2]
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(Record)) == 2
        assert session.scalar(select(Page.attempts).where(Page.id == page_id)) == 1


def test_only_a_dead_run_is_closed_as_interrupted(engine):
    """A ``running`` row is closed once it is older than a lease and holds no live lease;
    a run with a live lease, or one just started (its workers still starting), is not."""
    ids = make_pages(engine, 2)
    old = datetime.now(timezone.utc) - timedelta(minutes=10)
    with session_scope(engine) as session:
        runs = [StageRun(stage="process", version="t", params_hash="-", started_at=started)
                for started in (old, old, datetime.now(timezone.utc))]
        session.add_all(runs)
        session.flush()
        dead, alive, young = (r.id for r in runs)
    claim_pages(engine, lease_owner(dead), Page.id == ids[0], seconds=-1)  # ran out
    claim_pages(engine, lease_owner(alive), Page.id == ids[1], seconds=60)
    assert close_dead_runs(engine, 60, current=None) == 1
    with session_scope(engine) as session:
        outcome = dict(session.execute(select(StageRun.id, StageRun.outcome)).all())
        claims = dict(session.execute(select(Page.id, Page.claimed_by)).all())
    assert outcome == {dead: "interrupted", alive: "running", young: "running"}
    assert claims[ids[0]] is None and claims[ids[1]] == lease_owner(alive)
    assert close_dead_runs(engine, 60) == 0  # closing is done once
