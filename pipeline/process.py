"""The process stage driver: hands pending pages to workers and alone writes their results.

Resumable by construction: a page's records, field values and its ``done`` status are written
in one transaction, so a run killed at any moment leaves every page either fully done or still
pending, and running the same command again finishes the book with no duplicate. Failed pages
are retried by the next run.

A page whose entries are not accounted for (no entry, fewer than its registration numbers
imply, labels not found, a poor fit: ``pipeline.clean.accounting``) is stored the same way,
records and all, but as ``needs_attention`` with its reason. Like ``done`` it is final: a
re-run neither reads it again nor duplicates its records. Once the template is fixed,
``recheck=True`` (``hotich process --recheck``) reads such pages again, replacing their
records in the same transaction, unless a reviewer has already worked on one of them.

Several runs may work on one book at once, on one machine or on several sharing a PostgreSQL
database: each claims a page before reading it (``pipeline.storage.leases``), so they split
the pages instead of reading each twice, and a page is stored under its row lock, so a late
copy of a page another run stored first changes nothing. A run waits for the pages others
still hold and takes over those whose lease runs out (a killed run's), so when it returns
every page of its scope is final or failed. A killed run's ``stage_runs`` row, left
``running``, is closed as ``interrupted`` by the next run once its leases have run out.
"""

from __future__ import annotations

import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

from sqlalchemy import ColumnElement, delete, exists, func, or_, select, true, update
from sqlalchemy.engine import Engine

from pipeline.clean import record_confidence, record_status
from pipeline.clean.lexicon import NameLexicon
from pipeline.clean.places import BookPlace
from pipeline.executor import open_executor
from pipeline.match.population import load_name_lexicon
from pipeline.ocr.archive_xml import ArchivePage, page_xml
from pipeline.ocr.tesseract import words_to_tsv
from pipeline.paths import book_path
from pipeline.scans import single_page_bytes
from pipeline.storage.search_index import refresh_page_index
from pipeline.settings import Settings
from pipeline.statuses import UNREVIEWED
from pipeline.storage.audit import audit
from pipeline.storage.books import find_book
from pipeline.storage.db import session_scope
from pipeline.storage.leases import (
    LeaseKeeper, claim_pages, db_now, held_elsewhere, lease_owner, owned_by_run, release_pages,
    run_holds_live_lease,
)
from pipeline.storage.models import Book, Page, Record, StageRun
from pipeline.storage.models import FieldValue as FieldValueRow
from pipeline.storage.runs import start_stage_run
from pipeline.templates import load_template
from pipeline.types import PageResult
from pipeline.worker import PageTask, process_page, stage_versions


PENDING, DONE, NEEDS_ATTENTION, FAILED = "pending", "done", "needs_attention", "failed"
#: Page statuses `process` does not read again: the page's records are stored.
FINAL_STATUSES = (DONE, NEEDS_ATTENTION)
#: Record statuses no reviewer has decided on: a recheck may replace such records.
_UNREVIEWED = UNREVIEWED


@dataclass
class ProcessSummary:
    succeeded: int = 0  # pages done
    failed: int = 0
    records: int = 0
    failed_by_reason: Counter = field(default_factory=Counter)
    executor: str = ""
    stage_run_id: int | None = None
    attention: int = 0  # pages read and stored but needing attention (not done)
    #: pages needing attention a recheck left alone: a reviewer worked on their records
    kept: int = 0
    #: pages this run read but another run stored first (its lease had run out meanwhile)
    elsewhere: int = 0
    #: earlier runs found dead (killed) and closed as ``interrupted``
    interrupted: int = 0


def reviewed_on_page():
    """SQL condition on ``Page``: a record of it was touched by a person (a status a reviewer
    set, or a field version with ``changed_by``); such records are never replaced by OCR."""
    touched = or_(Record.status.not_in(_UNREVIEWED),
                  exists().where(FieldValueRow.record_id == Record.id,
                                 FieldValueRow.changed_by.is_not(None)))
    return exists().where(Record.page_id == Page.id, touched)


def _scope(db: Engine, book_code: str | None) -> ColumnElement[bool]:
    """SQL condition on ``Page``: the pages of the book asked for, or of every book."""
    if not book_code:
        return true()
    with session_scope(db) as session:
        book_id = find_book(session, book_code).id
    return Page.book_id == book_id


def _todo(scope: ColumnElement[bool], started: datetime, recheck: bool) -> ColumnElement[bool]:
    """SQL condition on ``Page``: what a run started at ``started`` reads, whoever holds it.

    Pages not yet done (nor needing attention); with ``recheck``, also the pages needing
    attention that no reviewer touched. A failed or rechecked page is read again only if it
    was last written before the run started: a run retries what earlier runs left, not what
    it or a concurrent run has just tried (which would otherwise go round in circles).
    """
    earlier = Page.updated_at < started
    todo = (Page.status == PENDING) | (Page.status.not_in(FINAL_STATUSES) & earlier)
    if recheck:
        todo = or_(todo, (Page.status == NEEDS_ATTENTION) & earlier & ~reviewed_on_page())
    return scope & todo


def _reviewed_attention_pages(db: Engine, book_code: str | None) -> int:
    """Pages needing attention that a recheck must leave alone (a reviewer worked on them)."""
    with session_scope(db) as session:
        query = (select(func.count()).select_from(Page)
                 .where(Page.status == NEEDS_ATTENTION, reviewed_on_page()))
        if book_code:
            query = query.join(Book, Book.id == Page.book_id).where(Book.book_code == book_code)
        return session.scalar(query) or 0


def _tasks(db: Engine, settings: Settings, page_ids: Iterable[int], engine=None,
           names: NameLexicon | None = None) -> Iterator[PageTask]:
    """Built lazily, one page at a time, so only the pages in flight are in memory (and, with
    ``page_ids`` claiming as it goes, only those are claimed)."""
    templates: dict[str, object] = {}
    for page_id in page_ids:
        yield _task(db, settings, page_id, templates, engine, names)


def _task(db: Engine, settings: Settings, page_id: int, templates: dict, engine,
          names: NameLexicon | None = None) -> PageTask:
    # Its own transaction, over before the task is handed out: a read transaction left open
    # while a page is read elsewhere would keep SQLite's WAL from being checkpointed.
    with session_scope(db) as session:
        page = session.get(Page, page_id)
        book, source = page.book, page.source_file
        template = templates.setdefault(book.template, load_template(book.template))
        path = Path(source.stored_path)
        if not path.is_absolute():
            path = settings.home / path
        name = f"{source.original_name} trang {page.index_in_file + 1}"
        try:
            data = single_page_bytes(path, source.media_type, page.index_in_file)
        except Exception:  # noqa: BLE001 - the worker reports the unreadable page
            data = b""
        return PageTask(page_id=page.id, name=name, media_type=source.media_type, data=data,
                        template=template, book_year=book.year_from, book_year_to=book.year_to,
                        book_place=BookPlace(book.commune, book.district, book.province), dpi=settings.render_dpi,
                        max_pixels=settings.max_pixels, engine=engine,
                        second_reader=settings.second_reader, book_volume=book.volume or None,
                        names=names, **reading_settings(settings))


def reading_settings(settings: Settings) -> dict:
    """The settings that change what a page yields, as its task and the run's stored
    parameters carry them (the folder of the best model only when that model is used)."""
    best = settings.ocr_model == "best"
    return {"ocr_model": settings.ocr_model,
            "tessdata_best_dir": str(settings.tessdata_best_dir) if best else None,
            "accept_probability": settings.accept_probability}


def _reason(error: str) -> str:
    """The part of a one-line error after the file name, to count failures by kind."""
    return error.split(": ", 1)[-1]


def page_xml_path(home: Path, book_code: str, page_no: int) -> Path:
    """Where the PAGE XML of a processed page is kept, beside the database (the book's folder
    named by ``pipeline.paths.book_path``: never outside ``home/ocr``, whatever the code)."""
    return book_path(home / "ocr", book_code) / f"page-{page_no:04d}.xml"


def _write_page_xml(home: Path, page: Page, result: PageResult) -> None:
    """The page's result as PAGE XML, for archives; rewritten whole on a re-run.

    Written to a temporary name and renamed, so a killed run leaves no half file; written
    before the page's transaction commits, so a page marked done always has its file.
    """
    target = page_xml_path(home, page.book.book_code, page.page_no)
    target.parent.mkdir(parents=True, exist_ok=True)
    image = page.source_file.stored_path
    if page.source_file.page_count > 1:
        image += f"#page={page.index_in_file + 1}"
    xml = page_xml(ArchivePage(
        image, result.width or 0, result.height or 0, result.words, result.records,
        result.stage_versions.get("ocr_detail", ""), page_number=page.page_no,
    ))
    tmp = target.with_suffix(".xml.tmp")
    tmp.write_text(xml, encoding="utf-8")
    tmp.replace(target)


def persist_result(db: Engine, result: PageResult, stage_run_id: int | None, dpi: int | None = None,
                   home: Path | None = None, *, recheck: bool = False) -> int:
    """Write one page's outcome in one transaction; returns the number of records written.

    A page with ``result.attention`` keeps its records and becomes ``needs_attention`` with
    the reason, never ``done``. With ``recheck``, a page needing attention is replaced: its
    records (none reviewed, checked again here) are deleted in the same transaction.
    With ``home``, the page's PAGE XML is written under ``home/ocr/<book>/``.
    """
    return _persist(db, result, stage_run_id, dpi, home, recheck=recheck) or 0


def _persist(db: Engine, result: PageResult, stage_run_id: int | None, dpi: int | None,
             home: Path | None, *, recheck: bool) -> int | None:
    """``persist_result``, telling apart (None) a page another run had stored already.

    The page's row is locked before its status is looked at (PostgreSQL: ``FOR UPDATE``;
    SQLite: the write lock taken at BEGIN), so of two runs holding results for one page the
    second waits for the first to commit and then sees it stored, instead of inserting the
    same records again (which used to end in ``UniqueViolation`` on ``record_key``).
    """
    with session_scope(db, write_lock=True) as session:
        page = session.get(Page, result.page_id, with_for_update=True)
        if page is None or page.status == DONE:
            return None  # done by an earlier or concurrent run: never duplicate
        if page.status == NEEDS_ATTENTION:
            # Stored already: only a recheck that read the page replaces it (a failed one
            # keeps the records and reason), and never once a reviewer worked on it.
            if not recheck:
                return None
            if result.error or not _clear_for_recheck(session, page):
                return 0
        page.attempts += 1
        if result.error:
            page.status, page.stage, page.error = FAILED, "process", result.error
            return 0
        book = page.book
        for extracted in result.records:
            box = extracted.box or (None, None, None, None)
            fields = extracted.fields
            record = Record(
                record_key=f"{book.book_code}-p{page.page_no:04d}-r{extracted.row:02d}",
                book_id=book.id, page_id=page.id, row=extracted.row, record_type=book.book_type,
                source="ocr", status=record_status(fields), confidence=record_confidence(fields),
                box_x0=box[0], box_y0=box[1], box_x1=box[2], box_y1=box[3],
            )
            session.add(record)
            session.flush()
            for name, fv in fields.items():
                fbox = fv.box or (None, None, None, None)
                session.add(FieldValueRow(
                    record_id=record.id, field=name, version=1, is_current=True, raw=fv.raw,
                    value=fv.value, status=fv.status, confidence=fv.confidence, source=fv.source,
                    box_x0=fbox[0], box_y0=fbox[1], box_x1=fbox[2], box_y1=fbox[3], note=fv.note,
                    unit=fv.unit, readings=fv.readings, stage_run_id=stage_run_id,
                    reason="ocr",
                ))
        refresh_page_index(session, page.id)  # the new records become searchable
        page.status = NEEDS_ATTENTION if result.attention else DONE
        page.stage, page.error, page.attention = "clean", None, result.attention
        page.fit_score = result.fit.score if result.fit is not None else None
        page.width, page.height = result.width, result.height
        # A PDF page has the resolution we rendered it at; an image's own dpi is not trusted.
        page.dpi = dpi if page.source_file.media_type == "application/pdf" else None
        page.ocr_words = words_to_tsv(result.words)
        if home is not None and result.width and result.height:
            _write_page_xml(home, page, result)
        return len(result.records)


def _clear_for_recheck(session, page: Page) -> bool:
    """Delete a page's records before it is stored again; False (nothing deleted) when a
    reviewer has worked on one of them since the page was listed for the recheck."""
    if session.scalar(select(reviewed_on_page()).where(Page.id == page.id)):
        return False
    ids = list(session.scalars(select(Record.id).where(Record.page_id == page.id)))
    session.execute(delete(Record).where(Record.page_id == page.id))  # fields, terms: cascade
    session.expire(page, ["records"])
    audit(session, "system:process", "page.recheck", "page", page.id, records_deleted=len(ids),
          previous_reason=page.attention)
    return True


def process_books(
    db: Engine,
    settings: Settings,
    *,
    book_code: str | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    on_start: Callable[[int, str], None] | None = None,
    on_page: Callable[[PageResult], None] | None = None,
    ocr_engine=None,
    recheck: bool = False,
    on_wait: Callable[[int, datetime | None], None] | None = None,
) -> ProcessSummary:
    """Run preprocess → OCR → extract → clean on every page not yet done (nor needing
    attention); ``recheck`` reads the unreviewed pages needing attention again too.

    Pages are claimed one at a time as the workers need them, so runs started together
    split the book. Once nothing is left to claim, the run waits for the pages other live
    runs still hold, taking over any whose lease runs out; ``on_wait(pages, until)`` is told
    how many and when the last of their leases ends unless renewed.
    """
    scope = _scope(db, book_code)
    summary = ProcessSummary()
    if recheck:
        summary.kept = _reviewed_attention_pages(db, book_code)
    lease = settings.page_lease_seconds
    # Names are cleaned with the lexicon learned from the imported population: loaded once a
    # run, sent with every page (a worker keeps the first copy), named in the run's parameters.
    names = load_name_lexicon(db)
    run_id, started = _start_run(db, settings, workers, names)
    summary.stage_run_id = run_id
    owner = lease_owner(run_id)
    todo = _todo(scope, started, recheck)
    summary.interrupted += close_dead_runs(db, lease, run_id)
    try:
        with ExitStack() as stack:
            stack.enter_context(LeaseKeeper(db, owner, lease, also=_keep_running(run_id)))
            executor = None
            while True:
                head = claim_pages(db, owner, todo, seconds=lease)
                if head:
                    if executor is None:
                        executor = stack.enter_context(
                            open_executor(workers, scheduler, settings.worker_memory,
                                          settings.worker_wait))
                        summary.executor = executor.description
                        if on_start:
                            on_start(_count(db, todo), executor.description)
                    pages = _claiming(db, owner, todo, lease, head)
                    tasks = _tasks(db, settings, pages, ocr_engine, names)
                    for result in executor.imap_unordered(process_page, tasks):
                        written = _persist(db, result, run_id, settings.render_dpi, settings.home,
                                           recheck=recheck)
                        _tally(summary, result, written)
                        if on_page:
                            on_page(result)
                    continue  # nothing left to claim: anything held elsewhere?
                waiting, until = held_elsewhere(db, owner, todo)
                if not waiting:
                    break
                if on_wait:
                    on_wait(waiting, until)
                time.sleep(min(lease / 3, 5.0))
            if executor is None and on_start:
                on_start(0, "")
    except BaseException as exc:
        _abandon(db, owner, run_id, summary, exc)
        raise
    with session_scope(db, write_lock=True) as session:
        release_pages(session, owner)
        run = session.get(StageRun, run_id)
        run.finished_at = datetime.now(timezone.utc)
        run.outcome = "ok" if summary.failed == 0 else ("failed" if summary.succeeded == 0 else "partial")
        run.message = None
        run.counts = _counts(summary)
    # A run killed while this one worked has let its leases run out by now.
    summary.interrupted += close_dead_runs(db, lease, run_id)
    return summary


def _start_run(db: Engine, settings: Settings, workers: int,
               names: NameLexicon | None = None) -> tuple[int, datetime]:
    """A ``stage_runs`` row for this run (outcome ``running``): its id and start time."""
    params = {"workers": workers, "dpi": settings.render_dpi, "versions": stage_versions(),
              "max_pixels": settings.max_pixels, "second_reader": settings.second_reader,
              "name_lexicon": names.fingerprint if names else "shipped",
              **reading_settings(settings)}
    started = datetime.now(timezone.utc)
    version = "+".join(f"{k}{v}" for k, v in stage_versions().items())
    with session_scope(db, write_lock=True) as session:
        return start_stage_run(session, "process", version, params, started_at=started).id, started


def _claiming(db: Engine, owner: str, todo, lease: float, head: list[int]) -> Iterator[int]:
    """Page ids to read: ``head``, already claimed, then one claim at a time as asked for,
    until nothing is left that no live run holds."""
    yield from head
    while claimed := claim_pages(db, owner, todo, seconds=lease):
        yield from claimed


def _count(db: Engine, todo) -> int:
    with session_scope(db) as session:
        return session.scalar(select(func.count()).select_from(Page).where(todo)) or 0


def _tally(summary: ProcessSummary, result: PageResult, written: int | None) -> None:
    if written is None:
        summary.elsewhere += 1
    elif result.error:
        summary.failed += 1
        summary.failed_by_reason[_reason(result.error)] += 1
    elif result.attention:
        summary.attention += 1
        summary.records += written
    else:
        summary.succeeded += 1
        summary.records += written


def _counts(summary: ProcessSummary) -> dict[str, int]:
    return {"succeeded": summary.succeeded, "failed": summary.failed, "records": summary.records,
            "attention": summary.attention, "elsewhere": summary.elsewhere}


def _keep_running(run_id: int) -> Callable:
    """What the lease keeper does on each beat besides renewing: a run another one took for
    dead (it held no lease for a moment, e.g. while its workers started) says it is alive."""
    def beat(session) -> None:
        session.execute(update(StageRun)
                        .where(StageRun.id == run_id, StageRun.outcome == "interrupted")
                        .values(outcome="running", message=None))
    return beat


def _abandon(db: Engine, owner: str, run_id: int, summary: ProcessSummary,
             exc: BaseException) -> None:
    """A run stopped by an error or Ctrl-C gives its pages back at once (the next run need
    not wait for its leases) and says it did not finish. Best effort: the database may be
    what failed; then the leases run out and the next run closes the row instead."""
    try:
        with session_scope(db, write_lock=True) as session:
            release_pages(session, owner)
            run = session.get(StageRun, run_id)
            run.outcome = "interrupted"
            run.message = f"dừng giữa chừng ({type(exc).__name__})"
            run.counts = _counts(summary)
    except Exception:  # noqa: BLE001 - the original exception is the one to report
        pass


def close_dead_runs(db: Engine, lease_seconds: float, current: int | None = None) -> int:
    """Close as ``interrupted`` the ``process`` runs left ``running`` by a kill; returns how many.

    A run is taken for dead once it is older than a lease and holds no lease that has not
    run out: a live run renews its leases every third of their length and keeps them on
    the pages it has read until it ends. Its leftover claims are cleared.

        >>> close_dead_runs(engine, settings.page_lease_seconds)
        1
    """
    closed = 0
    with session_scope(db, write_lock=True) as session:
        now = db_now(session)
        older = datetime.now(timezone.utc) - timedelta(seconds=lease_seconds)
        runs = session.scalars(
            select(StageRun).where(StageRun.stage == "process", StageRun.outcome == "running",
                                   StageRun.id != (current or 0), StageRun.started_at < older)
            .with_for_update(skip_locked=True)
        ).all()
        for run in runs:
            if run_holds_live_lease(session, run.id, now):
                continue
            release_pages(session, owned_by_run(run.id))
            run.outcome = "interrupted"
            run.message = (f"dừng giữa chừng (bị tắt hoặc mất kết nối); lần chạy {current} "
                           f"nhận thấy và làm tiếp" if current else
                           "dừng giữa chừng (bị tắt hoặc mất kết nối)")
            closed += 1
    return closed
