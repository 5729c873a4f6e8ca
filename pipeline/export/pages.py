"""`export pages`: every processed page's OCR result as ALTO 4.4 or PAGE 2019 XML, for archives.

Rebuilt from the database, not by reading the page again: the words Tesseract saw
(``Page.ocr_words``) stay in their own layer as read, and every field line carries the field's
current version. A field still as the OCR stage left it keeps the raw text read (what is
written on the page, with its confidence); a field a person decided (source ``review``,
``population``, ``import``) carries that person's value in its stored form, marked corrected
with its source (see ``pipeline.ocr.archive_xml``). A field a reviewer marked blank or
illegible has no text and so no line; its words are still in the page-read layer.

Files are ``OUT_DIR/<book>/page-NNNN.<format>.xml`` (both formats may share a folder), written to a temporary name and renamed. Their
dates come from the data (the page's OCR time, the newest correction), so the same database
gives the same bytes; a file whose bytes would not change is left untouched. Pages without an
OCR result (pending, failed) are reported, not exported.

    >>> summary = export_pages(engine, Path("luu-tru"), fmt="alto", book_code="HD-1978-KS-1")
    >>> summary.written, [(s.page_no, s.reason) for s in summary.skipped]   # doctest: +SKIP
    (11, [(12, 'chưa xử lý')])
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from pipeline.errors import BadInput, TemplateNotFound
from pipeline.ocr.archive_xml import ArchivePage, alto_xml, page_xml
from pipeline.ocr.tesseract import words_from_tsv
from pipeline.paths import book_path
from pipeline.storage.audit import audit
from pipeline.storage.books import find_book
from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, FieldValue, Page, Record, StageRun
from pipeline.templates import load_template
from pipeline.types import ExtractedRecord
from pipeline.types import FieldValue as FieldReading

FORMATS = {"alto": alto_xml, "page": page_xml}


@dataclass(frozen=True)
class SkippedPage:
    book_code: str
    page_no: int
    reason: str  # one Vietnamese line


@dataclass
class PagesExport:
    """What one run wrote: files written or already identical, pages left out and why."""

    fmt: str
    written: int = 0
    unchanged: int = 0
    corrected_fields: int = 0  # field lines carrying a person's value
    books: int = 0
    files: list[Path] = field(default_factory=list)
    skipped: list[SkippedPage] = field(default_factory=list)


def check_format(fmt: str) -> str:
    """The format name in lower case; BadInput for one we do not write."""
    if fmt.lower() not in FORMATS:
        raise BadInput(f"Định dạng '{fmt}' không được hỗ trợ", hint="dùng --format alto hoặc page")
    return fmt.lower()


def export_pages(
    db: Engine,
    out_dir: Path,
    *,
    fmt: str,
    book_code: str | None = None,
    on_start: Callable[[int], None] | None = None,
    on_page: Callable[[str, int, str | None], None] | None = None,
) -> PagesExport:
    """Write the archive XML of every page of one book (or of all books) under ``out_dir``.

    ``on_start(total)`` is called once with the number of pages, ``on_page(book, page_no,
    reason)`` after each page (``reason`` set when the page was left out).
    """
    fmt = check_format(fmt)
    render = FORMATS[fmt]
    summary = PagesExport(fmt=fmt)
    with session_scope(db) as session:
        query = select(Page.id, Book.book_code).join(Book, Book.id == Page.book_id)
        if book_code is not None:
            find_book(session, book_code)
            query = query.where(Book.book_code == book_code)
        pages = list(session.execute(query.order_by(Book.book_code, Page.page_no)))
    if on_start:
        on_start(len(pages))
    per_book: dict[str, dict[str, int]] = {}
    templates: dict[str, list[str] | None] = {}
    for page_id, code in pages:
        counts = per_book.setdefault(code, {"written": 0, "unchanged": 0, "skipped": 0})
        with session_scope(db) as session:
            page = session.get(Page, page_id)
            reason = _missing_ocr(page)
            if reason is None:
                archive = archive_page(session, page, templates)
                target = book_path(out_dir, code) / f"page-{page.page_no:04d}.{fmt}.xml"
                changed = _write_atomic(target, render(archive).encode("utf-8"))
                summary.files.append(target)
                summary.corrected_fields += len(archive.corrected)
                key = "written" if changed else "unchanged"
            else:
                summary.skipped.append(SkippedPage(code, page.page_no, reason))
                key = "skipped"
            page_no = page.page_no
        counts[key] += 1
        if on_page:
            on_page(code, page_no, reason)
    summary.written = sum(c["written"] for c in per_book.values())
    summary.unchanged = sum(c["unchanged"] for c in per_book.values())
    summary.books = len(per_book)
    with session_scope(db) as session:
        for code, counts in per_book.items():
            # Archive XML holds the registers' personal data: every export is in the audit log.
            audit(session, "system:export", "export.pages", "book", code, format=summary.fmt,
                  out_dir=str(out_dir), **counts)
    return summary


def _missing_ocr(page: Page) -> str | None:
    """Why a page has no OCR result to export, or None when it has one."""
    if page.status == "failed":
        return f"xử lý lỗi: {page.error}" if page.error else "xử lý lỗi"
    if page.status != "done":
        return "chưa xử lý"
    if not page.width or not page.height:
        return "thiếu kích thước ảnh trang"
    return None


def archive_page(session: Session, page: Page,
                 templates: dict[str, list[str] | None] | None = None) -> ArchivePage:
    """The ``ArchivePage`` of one processed page, from what the database holds about it."""
    templates = {} if templates is None else templates
    book = page.book
    if book.template not in templates:
        try:
            templates[book.template] = load_template(book.template).fields
        except TemplateNotFound:
            templates[book.template] = None
    order = {name: i for i, name in enumerate(templates[book.template] or [])}
    records = list(session.scalars(select(Record).where(Record.page_id == page.id)
                                   .order_by(Record.row, Record.id)))
    current: dict[int, list[FieldValue]] = {r.id: [] for r in records}
    if records:
        for fv in session.scalars(select(FieldValue).where(
                FieldValue.record_id.in_(list(current)), FieldValue.is_current.is_(True))):
            current[fv.record_id].append(fv)
    extracted, corrected, sources = [], {}, {}
    changed: datetime | None = None
    for record in records:
        fields: dict[str, FieldReading] = {}
        for fv in sorted(current[record.id], key=lambda v: (order.get(v.field, len(order)), v.field)):
            fields[fv.field] = FieldReading(
                field=fv.field, raw=fv.raw or "", value=fv.value, status=fv.status,  # type: ignore[arg-type]
                confidence=fv.confidence, source=fv.source,  # type: ignore[arg-type]
                box=_box(fv.box_x0, fv.box_y0, fv.box_x1, fv.box_y1))
            if fv.source != "ocr":  # a person's value (a restored OCR version stays an OCR read)
                corrected[(record.row, fv.field)] = fv.value or ""
                sources[(record.row, fv.field)] = fv.source
                changed = fv.created_at if changed is None else max(changed, fv.created_at)
        extracted.append(ExtractedRecord(
            row=record.row or 0, fields=fields,
            box=_box(record.box_x0, record.box_y0, record.box_x1, record.box_y1)))
    source = page.source_file
    image = source.stored_path
    if source.page_count > 1:  # as the process stage names it (pipeline.process)
        image += f"#page={page.index_in_file + 1}"
    words = words_from_tsv(page.ocr_words) if page.ocr_words else []
    return ArchivePage(image, page.width, page.height, words, extracted, _ocr_version(session, page),
                       corrected=corrected, sources=sources, page_number=page.page_no,
                       created=page.updated_at, changed=changed)


def _ocr_version(session: Session, page: Page) -> str:
    """The versions of the stages that read the page, as the process run stored them."""
    versions = session.scalars(
        select(StageRun.version).distinct()
        .join(FieldValue, FieldValue.stage_run_id == StageRun.id)
        .join(Record, Record.id == FieldValue.record_id)
        .where(Record.page_id == page.id).order_by(StageRun.version))
    return ", ".join(versions) or "unknown"


def _box(x0, y0, x1, y1):
    return None if None in (x0, y0, x1, y1) else (x0, y0, x1, y1)


def _write_atomic(target: Path, data: bytes) -> bool:
    """Write ``data`` to ``target`` by temporary file and rename; False when it already held them."""
    if target.is_file() and target.read_bytes() == data:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return True
