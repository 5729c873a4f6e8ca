"""Storage test helpers: a book with one scan, one page and one record to hang rows on."""

from __future__ import annotations

import pytest

from pipeline.storage.models import Book, Page, Record, SourceFile


def _book(session, code: str = "NT-1978-KS-01") -> Book:
    book = Book(
        book_code=code, book_type="birth", template="birth_form_1978", commune="Hưng Dũng",
        district="Vinh", province="Nghệ Tĩnh", year_from=1978, year_to=1978, volume="01",
    )
    session.add(book)
    session.flush()
    return book


def _page(session, book: Book, sha: str = "a" * 64, page_no: int = 1) -> Page:
    sf = SourceFile(
        book_id=book.id, position=page_no, sha256=sha, original_name=f"scan{page_no}.tif",
        stored_path=f"scans/{sha[:2]}/{sha}.tif", media_type="image/tiff", size_bytes=1234,
        page_count=1,
    )
    session.add(sf)
    session.flush()
    page = Page(book_id=book.id, source_file_id=sf.id, index_in_file=0, page_no=page_no)
    session.add(page)
    session.flush()
    return page


def _record(session, page: Page, row: int = 1) -> Record:
    rec = Record(
        record_key=f"{page.book_id}-{page.page_no}-{row}", book_id=page.book_id,
        page_id=page.id, row=row, record_type="birth",
    )
    session.add(rec)
    session.flush()
    return rec


@pytest.fixture
def record(session) -> Record:
    """A committed record (book → scan → page → record) for field-value tests."""
    rec = _record(session, _page(session, _book(session)))
    session.commit()
    return rec


@pytest.fixture
def make_book():
    """``make_book(session, code=...)`` → a flushed Book."""
    return _book


@pytest.fixture
def make_page():
    """``make_page(session, book, sha=..., page_no=...)`` → a flushed Page with its SourceFile."""
    return _page


@pytest.fixture
def make_record():
    """``make_record(session, page, row=...)`` → a flushed Record."""
    return _record
