"""Helpers of the review tests: users of each role, a small book, candidate citizens.

A module of its own (not conftest) so test files can import it by a name no other test
folder uses."""

from __future__ import annotations

from pipeline.review.auth import Principal, add_user
from pipeline.storage.models import Book, Citizen, Link, Record
from pipeline.storage.seed import page_without_scan
from pipeline.storage.versions import add_field_version

PASSWORDS = {"lan": "matkhau-lan-01", "hoa": "matkhau-hoa-02", "minh": "matkhau-minh-03",
             "an": "matkhau-an-004"}
ROLES = {"lan": "reviewer", "hoa": "reviewer", "minh": "supervisor", "an": "admin"}


def make_users(session) -> None:
    for name, role in ROLES.items():
        add_user(session, name, role, PASSWORDS[name], actor="test")


def principal(name: str, session_id: int = 0) -> Principal:
    return Principal(user_id=0, name=name, role=ROLES[name], csrf_token="t", session_id=session_id)


def make_book(session, code: str = "NT-1978-KS-01", pages: int = 2, rows: int = 2) -> Book:
    """A birth book without scans on disk: ``pages`` × ``rows`` records, every field read,
    except that row 1 of each page has an uncertain full_name (so it is in the queue)."""
    book = Book(book_code=code, book_type="birth", template="birth_form", commune="Hưng Dũng",
                district="Vinh", province="Nghệ Tĩnh", year_from=1978, year_to=1978, volume="1")
    session.add(book)
    session.flush()
    for page_no in range(1, pages + 1):
        page = page_without_scan(session, book, page_no, status="done", width=2480, height=3508)
        for row in range(1, rows + 1):
            doubt = row == 1
            record = Record(record_key=f"{code}-p{page_no}-r{row}", book_id=book.id, page_id=page.id,
                            row=row, record_type="birth",
                            status="needs_review" if doubt else "extracted")
            session.add(record)
            session.flush()
            values = {"registration_no": str(page_no * 10 + row), "full_name": "Nguyên Văn Hùng",
                      "sex": "M", "birth_date": "1978-03-12", "father_name": "Nguyễn Văn Tâm",
                      "mother_name": "Lê Thị Hoa"}
            for name, value in values.items():
                uncertain = doubt and name == "full_name"
                add_field_version(session, record, name, raw=value, value=value,
                                  status="uncertain" if uncertain else "read",
                                  confidence=0.5 if uncertain else 0.97, source="ocr",
                                  box=(100, 100 * row, 900, 100 * row + 60),
                                  note="Họ ít gặp: Nguyên" if uncertain else None)
    session.flush()
    return book


def add_candidates(session, record: Record) -> tuple[int, int]:
    """Two candidate citizens for ``record``, the link left for a person, as `hotich match` does."""
    ids = []
    for i, given in enumerate(("Hùng", "Hưng")):
        c = Citizen(citizen_id=f"04007800{i:04d}", full_name=f"Nguyễn Văn {given}",
                    name_key=f"nguyễn văn {given.lower()}", name_folded="nguyen van hung",
                    sex="M", birth_date="1978-03-12", birth_year=1978)
        session.add(c)
        session.flush()
        ids.append(c.id)
        session.add(Link(record_id=record.id, citizen_pk=c.id, score=20.0 - 5 * i, rank=i + 1,
                         status="needs_review" if i == 0 else "candidate",
                         explanation={"probability": 0.9 - 0.3 * i, "parts": [
                             {"comparison": "given_name", "level": 0, "label": "tên trùng khớp",
                              "bits": 6.0 - 8 * i}]}))
    session.flush()
    return ids[0], ids[1]


