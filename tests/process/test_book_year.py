"""A wrong year at ingest is caught by the year printed in the page header: the page says so
at process time, and correctly read dates are not pulled toward the wrong year (issue 19 §6)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pipeline.ingest import BookInfo, ingest_files
from pipeline.process import process_books
from pipeline.samplegen import BookSpec, generate_book
from pipeline.settings import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import FieldValue, Page, Record

# the place and volume the book is ingested under, printed in its pages' header (which
# `process` checks against the book's)
HEADER = {"commune": "Hưng Dũng", "district": "Hưng Nguyên", "volume": 1}


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    out = tmp_path_factory.mktemp("year")
    truth = generate_book(BookSpec(**HEADER, seed=12, template="birth_form", pages=1,
                                   degradation="clean", face="typewriter"), out / "book")
    return out / "book" / "book.pdf", truth


def _process(engine, tmp_path, pdf, year: int):
    settings = Settings(home=tmp_path / "ws")
    info = BookInfo("birth_form", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", str(year), "1", "Y-1")
    ingest_files(engine, settings, info, [pdf])
    process_books(engine, settings)
    with session_scope(engine) as session:
        page = session.scalars(select(Page)).one()
        dates = {(r.row, f.field): (f.raw, f.value, f.status) for r, f in session.execute(
            select(Record, FieldValue).join(FieldValue, FieldValue.record_id == Record.id)
            .where(FieldValue.field.in_(("birth_date", "registration_date")),
                   FieldValue.is_current))}
        return page.status, page.attention, dates


def test_a_wrong_year_at_ingest_is_reported_not_written_into_the_dates(engine, tmp_path, book):
    pdf, truth = book
    year = int(truth.book["year"])
    status, attention, dates = _process(engine, tmp_path, pdf, year + 5)
    assert status == "needs_attention"
    assert f"năm in ở đầu trang ({year}) khác năm của sổ khi nhập ({year + 5})" in attention
    assert dates
    for (_, _), (_, value, fv_status) in dates.items():
        assert value is None or not value.startswith(str(year + 5))  # nothing fitted to it
        assert fv_status != "read"  # a person checks the page first
    right = {(r.row, n): r.fields[n].value for r in truth.records
             for n in ("birth_date", "registration_date")}
    read = {k: v[1] for k, v in dates.items() if v[1]}
    assert sum(read[k] == right[k] for k in read) >= 0.8 * len(read)


def test_the_right_year_raises_no_alarm(engine, tmp_path, book):
    pdf, truth = book
    status, attention, _ = _process(engine, tmp_path, pdf, int(truth.book["year"]))
    assert attention is None or "năm in ở đầu trang" not in attention
