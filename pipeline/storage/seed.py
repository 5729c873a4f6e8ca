"""Pages without a scan behind them, for tests and benchmarks that write records directly.

A record hangs on a page and a page on a stored scan file; seeding records straight into the
database (the review load test, the search benchmark's fixtures) still needs both rows. One
function makes them, so the placeholder scan is described in one place.
"""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from pipeline.storage.models import Book, Page, SourceFile


def page_without_scan(session: Session, book: Book, page_no: int, **page_fields) -> Page:
    """Page ``page_no`` of ``book`` with a placeholder scan row (no file on disk); flushed.

        >>> page_without_scan(session, book, 1, status="done").page_no
        1
    """
    sha = hashlib.sha256(f"{book.book_code}/{page_no}".encode()).hexdigest()
    scan = SourceFile(book_id=book.id, position=page_no, sha256=sha, original_name=f"p{page_no}.png",
                      stored_path=f"scans/{sha}.png", media_type="image/png", size_bytes=1,
                      page_count=1)
    session.add(scan)
    session.flush()
    page = Page(book_id=book.id, source_file_id=scan.id, index_in_file=0, page_no=page_no,
                **page_fields)
    session.add(page)
    session.flush()
    return page
