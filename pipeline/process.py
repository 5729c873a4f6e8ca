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
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.engine import Engine

from pipeline.clean import record_confidence, record_status
from pipeline.clean.places import BookPlace
from pipeline.executor import open_executor
from pipeline.errors import NotFound
from pipeline.ocr.archive_xml import ArchivePage, page_xml
from pipeline.ocr.tesseract import words_to_tsv
from pipeline.scans import single_page_bytes
from pipeline.search.index import refresh_page_index
from pipeline.settings import Settings
from pipeline.storage.audit import audit
from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, Page, Record, StageRun
from pipeline.storage.models import FieldValue as FieldValueRow
from pipeline.templates import load_template
from pipeline.types import PageResult
from pipeline.worker import PageTask, process_page, stage_versions


DONE, NEEDS_ATTENTION, FAILED = "done", "needs_attention", "failed"
#: Page statuses `process` does not read again: the page's records are stored.
FINAL_STATUSES = (DONE, NEEDS_ATTENTION)
#: Record statuses no reviewer has decided on: a recheck may replace such records.
_UNREVIEWED = ("extracted", "needs_review")


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


def reviewed_on_page():
    """SQL condition on ``Page``: a record of it was touched by a person (a status a reviewer
    set, or a field version with ``changed_by``); such records are never replaced by OCR."""
    touched = or_(Record.status.not_in(_UNREVIEWED),
                  exists().where(FieldValueRow.record_id == Record.id,
                                 FieldValueRow.changed_by.is_not(None)))
    return exists().where(Record.page_id == Page.id, touched)


def _pending_pages(db: Engine, book_code: str | None, recheck: bool = False
                   ) -> list[tuple[int, int]]:
    """(page id, book id) of pages not yet done (nor needing attention), in book and page
    order; with ``recheck``, also the pages needing attention that no reviewer touched."""
    with session_scope(db) as session:
        todo = Page.status.not_in(FINAL_STATUSES)
        if recheck:
            todo = or_(todo, (Page.status == NEEDS_ATTENTION) & ~reviewed_on_page())
        query = select(Page.id, Page.book_id).where(todo)
        if book_code:
            book = session.scalar(select(Book).where(Book.book_code == book_code))
            if book is None:
                raise NotFound(f"Không có sổ '{book_code}'")
            query = query.where(Page.book_id == book.id)
        return [tuple(row) for row in session.execute(query.order_by(Page.book_id, Page.page_no))]


def _reviewed_attention_pages(db: Engine, book_code: str | None) -> int:
    """Pages needing attention that a recheck must leave alone (a reviewer worked on them)."""
    with session_scope(db) as session:
        query = (select(func.count()).select_from(Page)
                 .where(Page.status == NEEDS_ATTENTION, reviewed_on_page()))
        if book_code:
            query = query.join(Book, Book.id == Page.book_id).where(Book.book_code == book_code)
        return session.scalar(query) or 0


def _tasks(db: Engine, settings: Settings, page_ids: list[int], engine=None) -> Iterator[PageTask]:
    """Built lazily, one page at a time, so only the pages in flight are in memory."""
    templates: dict[str, object] = {}
    for page_id in page_ids:
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
            yield PageTask(page_id=page.id, name=name, media_type=source.media_type, data=data,
                           template=template, book_year=book.year_from,
                           book_place=BookPlace(book.commune, book.district, book.province), dpi=settings.render_dpi,
                           max_pixels=settings.max_pixels, engine=engine)


def _reason(error: str) -> str:
    """The part of a one-line error after the file name, to count failures by kind."""
    return error.split(": ", 1)[-1]


def page_xml_path(home: Path, book_code: str, page_no: int) -> Path:
    """Where the PAGE XML of a processed page is kept, beside the database."""
    return home / "ocr" / book_code / f"page-{page_no:04d}.xml"


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
    with session_scope(db) as session:
        page = session.get(Page, result.page_id)
        if page is None or page.status == DONE:
            return 0  # done by an earlier or concurrent run: never duplicate
        if page.status == NEEDS_ATTENTION:
            # Stored already: only a recheck that read the page replaces it (a failed one
            # keeps the records and reason), and never once a reviewer worked on it.
            if not recheck or result.error or not _clear_for_recheck(session, page):
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
                    unit=fv.unit, stage_run_id=stage_run_id, reason="ocr",
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
) -> ProcessSummary:
    """Run preprocess → OCR → extract → clean on every page not yet done (nor needing
    attention); ``recheck`` reads the unreviewed pages needing attention again too."""
    pages = _pending_pages(db, book_code, recheck)
    summary = ProcessSummary()
    if recheck:
        summary.kept = _reviewed_attention_pages(db, book_code)
    params = {"workers": workers, "dpi": settings.render_dpi, "versions": stage_versions()}
    params_hash = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    with session_scope(db) as session:
        run = StageRun(stage="process", version="+".join(f"{k}{v}" for k, v in stage_versions().items()),
                       params_hash=params_hash, params=params)
        session.add(run)
        session.flush()
        summary.stage_run_id = run.id
    if pages:
        with open_executor(workers, scheduler, settings.worker_memory) as executor:
            summary.executor = executor.description
            if on_start:
                on_start(len(pages), executor.description)
            tasks = _tasks(db, settings, [page_id for page_id, _ in pages], ocr_engine)
            for result in executor.imap_unordered(process_page, tasks):
                written = persist_result(db, result, summary.stage_run_id, settings.render_dpi,
                                         settings.home, recheck=recheck)
                if result.error:
                    summary.failed += 1
                    summary.failed_by_reason[_reason(result.error)] += 1
                elif result.attention:
                    summary.attention += 1
                    summary.records += written
                else:
                    summary.succeeded += 1
                    summary.records += written
                if on_page:
                    on_page(result)
    elif on_start:
        on_start(0, "")
    with session_scope(db) as session:
        run = session.get(StageRun, summary.stage_run_id)
        run.finished_at = datetime.now(timezone.utc)
        run.outcome = "ok" if summary.failed == 0 else ("failed" if summary.succeeded == 0 else "partial")
        run.counts = {"succeeded": summary.succeeded, "failed": summary.failed, "records": summary.records,
                      "attention": summary.attention}
    return summary
