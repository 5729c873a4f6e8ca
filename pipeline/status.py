"""Progress figures per book, for `hotich status` (and later the report and supervisor view)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from pipeline.storage.db import session_scope
from pipeline.clean.numbering import check_book_numbering
from pipeline.storage.models import Book, FieldValue, Link, Page, Record, SourceFile


@dataclass
class BookStatus:
    book_code: str
    book_type: str
    place: str
    year: str
    pages: int = 0
    pages_done: int = 0
    pages_failed: int = 0
    files_failed: int = 0
    records: int = 0
    records_by_status: dict[str, int] = field(default_factory=dict)
    linked: int = 0
    link_review: int = 0
    failures: list[str] = field(default_factory=list)  # one line each: page or file and reason
    numbering: list[str] = field(default_factory=list)  # R07: number gaps and repeats, a line each

    @property
    def pages_pending(self) -> int:
        return self.pages - self.pages_done - self.pages_failed


def book_statuses(db: Engine) -> list[BookStatus]:
    out = []
    with session_scope(db) as session:
        for book in session.scalars(select(Book).order_by(Book.book_code)):
            year = str(book.year_from) if book.year_from == book.year_to else f"{book.year_from}-{book.year_to}"
            status = BookStatus(book.book_code, book.book_type,
                                f"{book.commune}, {book.district}, {book.province}", year)
            for page_status, count in session.execute(
                select(Page.status, func.count()).where(Page.book_id == book.id).group_by(Page.status)
            ):
                status.pages += count
                if page_status == "done":
                    status.pages_done = count
                elif page_status == "failed":
                    status.pages_failed = count
            for record_status, count in session.execute(
                select(Record.status, func.count()).where(Record.book_id == book.id).group_by(Record.status)
            ):
                status.records_by_status[record_status] = count
                status.records += count
            for link_status, count in session.execute(
                select(Link.status, func.count()).join(Record, Record.id == Link.record_id)
                .where(Record.book_id == book.id, Link.rank == 1).group_by(Link.status)
            ):
                if link_status in ("auto", "confirmed"):
                    status.linked += count
                elif link_status == "needs_review":
                    status.link_review += count
            for name, error in session.execute(
                select(SourceFile.original_name, SourceFile.error)
                .where(SourceFile.book_id == book.id, SourceFile.status == "failed")
            ):
                status.files_failed += 1
                status.failures.append(error or name)
            for page_no, error in session.execute(
                select(Page.page_no, Page.error).where(Page.book_id == book.id, Page.status == "failed")
                .order_by(Page.page_no)
            ):
                status.failures.append(f"trang {page_no}: {error}")
            status.numbering = _numbering(session, book.id)
            out.append(status)
    return out


def _numbering(session, book_id: int) -> list[str]:
    """R07 over the book's current registration numbers, in page and row order."""
    entries = session.execute(
        select(Page.page_no, Record.row, FieldValue.value)
        .join(Record, Record.page_id == Page.id)
        .join(FieldValue, FieldValue.record_id == Record.id)
        .where(Record.book_id == book_id, FieldValue.field == "registration_no",
               FieldValue.is_current)
    ).all()
    gaps, repeats = check_book_numbering([(p, r or 0, v) for p, r, v in entries])
    return [g.message() for g in gaps] + [r.message() for r in repeats]
