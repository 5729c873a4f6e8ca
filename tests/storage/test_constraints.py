"""Uniqueness, foreign keys and JSON/Unicode round-trips behave the same on every back-end."""

from __future__ import annotations

import unicodedata

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from pipeline.storage.models import AuditEntry, Citizen, Link, Record, SourceFile, StageRun



def test_same_page_and_row_twice_is_refused(session, make_book, make_page, make_record):
    page = make_page(session, make_book(session))
    make_record(session, page, row=3)
    session.add(Record(record_key="other", book_id=page.book_id, page_id=page.id, row=3,
                       record_type="birth"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_imported_records_without_page_may_share_null_row(session, make_book):
    book = make_book(session)
    for key in ("imp-1", "imp-2"):
        session.add(Record(record_key=key, book_id=book.id, record_type="birth", source="import"))
    session.flush()


def test_same_file_hash_twice_in_one_book_is_refused(session, make_book, make_page):
    book = make_book(session)
    make_page(session, book, sha="b" * 64)
    other = make_book(session, "NT-1978-KS-02")
    make_page(session, other, sha="b" * 64)  # the same scan in another book is allowed
    session.commit()
    session.add(SourceFile(book_id=book.id, position=9, sha256="b" * 64, original_name="again.tif",
                           stored_path="x", media_type="image/tiff", size_bytes=1))
    with pytest.raises(IntegrityError):
        session.flush()


def test_foreign_keys_are_enforced(session):
    session.add(Record(record_key="orphan", book_id=999_999, record_type="birth"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_deleting_a_book_cascades(session, make_book, make_page, make_record):
    book = make_book(session)
    make_record(session, make_page(session, book))
    session.commit()
    session.delete(book)
    session.commit()
    session.expunge_all()
    assert session.scalars(select(Record)).all() == []


VIETNAMESE = "Nguyễn Thị Thủy, xã Hưng Dũng, Nghệ Tĩnh — “như trên”, Đặng Văn Ước"


def test_json_and_text_round_trip_vietnamese(engine, session, make_book, make_page, make_record):
    decomposed = unicodedata.normalize("NFD", VIETNAMESE)
    assert decomposed != VIETNAMESE
    book = make_book(session)
    run = StageRun(stage="match", version="1", params_hash="0" * 64,
                   params={"ghi_chú": VIETNAMESE, "ngưỡng": 0.92, "danh_sách": [VIETNAMESE, 1]},
                   book_id=book.id, counts={"đã_khớp": 3})
    citizen = Citizen(citizen_id="040078000001", full_name=VIETNAMESE, name_key="k", name_folded="f")
    rec = make_record(session, make_page(session, book))
    session.add_all([run, citizen])
    session.flush()
    session.add(Link(record_id=rec.id, citizen_pk=citizen.id, score=0.97, status="auto",
                     explanation=[{"so_sánh": "Họ và tên", "giá_trị": VIETNAMESE}]))
    session.add(AuditEntry(actor="lan", action="approve", entity="record", entity_id=str(rec.id),
                           detail={"lý_do": VIETNAMESE}))
    session.commit()
    session.close()

    from sqlalchemy.orm import Session

    with Session(engine) as fresh:
        run2 = fresh.scalar(select(StageRun))
        assert run2.params == {"ghi_chú": VIETNAMESE, "ngưỡng": 0.92, "danh_sách": [VIETNAMESE, 1]}
        assert run2.counts == {"đã_khớp": 3}
        link = fresh.scalar(select(Link))
        assert link.explanation == [{"so_sánh": "Họ và tên", "giá_trị": VIETNAMESE}]
        assert fresh.scalar(select(AuditEntry.detail)) == {"lý_do": VIETNAMESE}
        name = fresh.scalar(select(Citizen.full_name))
        assert name == VIETNAMESE and unicodedata.is_normalized("NFC", name)


def test_datetimes_come_back_aware_utc(engine, session):
    import datetime as dt

    from pipeline.storage.models import User

    hanoi = dt.timezone(dt.timedelta(hours=7))
    session.add(User(name="lan", role="reviewer", locked_until=dt.datetime(2024, 5, 1, 9, 30, tzinfo=hanoi)))
    session.commit()
    session.close()
    from sqlalchemy.orm import Session

    with Session(engine) as fresh:
        user = fresh.scalar(select(User))
        assert user.locked_until == dt.datetime(2024, 5, 1, 2, 30, tzinfo=dt.timezone.utc)
        assert user.locked_until.utcoffset() == dt.timedelta(0)
        assert user.created_at.tzinfo is not None
        assert user.created_at <= dt.datetime.now(dt.timezone.utc)  # comparable, no TypeError
