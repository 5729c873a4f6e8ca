"""A few small books of birth records, written the way OCR writes them (versioned values)."""

from __future__ import annotations

import pytest

from pipeline.storage.search_index import refresh_index
from pipeline.storage.models import Book, FieldValue, Page, Record
from pipeline.storage.seed import page_without_scan


def add_book(session, code: str, commune: str, district: str = "Hưng Nguyên") -> Book:
    book = Book(book_code=code, book_type="birth", template="birth_form", commune=commune,
                district=district, province="Nghệ Tĩnh", year_from=1968, year_to=1968, volume="1")
    session.add(book)
    session.flush()
    return book


def add_page(session, book: Book, page_no: int, status: str = "done") -> Page:
    return page_without_scan(session, book, page_no, status=status)


def add_record(session, book: Book, page_no: int, row: int, *, refresh: bool = True, **values) -> Record:
    """A record on page ``page_no`` of ``book`` with these current field values."""
    page = session.query(Page).filter_by(book_id=book.id, page_no=page_no).one_or_none()
    if page is None:
        page = add_page(session, book, page_no)
    record = Record(record_key=f"{book.book_code}-p{page_no:04d}-r{row:02d}", book_id=book.id,
                    page_id=page.id, row=row, record_type="birth")
    session.add(record)
    session.flush()
    for name, value in values.items():
        session.add(FieldValue(record_id=record.id, field=name, version=1, is_current=True,
                               raw=value or "", value=value, status="read", confidence=0.9))
    if refresh:
        refresh_index(session, [record.id])
    return record


PEOPLE = [
    # (book, page, row, full_name, birth_date, father, mother)
    ("HD", 1, 1, "Nguyễn Văn An", "1968-03-12", "Nguyễn Văn Bình", "Lê Thị Hoà"),
    ("HD", 1, 2, "Nguyễn Văn Hùng", "1968-05-01", "Nguyễn Văn Tâm", "Trần Thị Lan"),
    ("HD", 2, 1, "Nguyễn Văn Hưng", "1968-07-09", "Nguyễn Đình Lộc", "Phạm Thị Mai"),
    ("HD", 2, 2, "Trần Thị An", "1969-01-20", "Trần Văn Đức", "Nguyễn Thị Hằng"),
    ("HL", 1, 1, "Nguyễn Văn An", "1970-02-02", "Nguyễn Văn Sơn", "Hồ Thị Thủy"),
    ("HL", 1, 2, "Lê Văn Cường", "1968-11-11", "Lê Văn An", "Võ Thị Hương"),
    ("HL", 2, 1, "Phan Thị Thuỷ", "1967-04-04", "Phan Văn Hải", "Nguyễn Thị Lý"),
    ("HL", 2, 2, "Hồ Văn Hòa", "1968", "Hồ Văn Lâm", "Đặng Thị Hường"),
]


@pytest.fixture
def people(session):
    """Eight records in two books: HD (xã Hưng Dũng) and HL (xã Hưng Lộc, huyện Nghi Lộc)."""
    books = {"HD": add_book(session, "HD-KS-1968", "Hưng Dũng"),
             "HL": add_book(session, "HL-KS-1968", "Hưng Lộc", district="Nghi Lộc")}
    out = {}
    for code, page, row, name, born, father, mother in PEOPLE:
        rec = add_record(session, books[code], page, row, full_name=name, birth_date=born,
                         father_name=father, mother_name=mother, sex="M")
        out[(code, page, row)] = rec
    session.commit()
    return out
