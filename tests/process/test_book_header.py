"""A page ingested into the wrong book is caught by the commune and the volume printed in its
header: the page says so at process time and nothing on it is accepted unseen (issue 19 §6)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pipeline.ingest import BookInfo, ingest_files
from pipeline.process import process_books
from pipeline.samplegen import BookSpec, generate_book
from pipeline.settings import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import FieldValue, Page

YEAR = 1978
# which database holds the page does not change what its header says
pytestmark = pytest.mark.backends("sqlite")


@pytest.fixture(scope="module", params=["birth_form", "birth_ledger"])
def book(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("header")
    generate_book(BookSpec(seed=14, template=request.param, pages=1, degradation="clean",
                           face="typewriter", commune="Hưng Dũng", district="Hưng Nguyên",
                           year=YEAR, volume=2), out / "book")
    return request.param, out / "book" / "book.pdf"


def _process(engine, tmp_path, book, commune: str, volume: str):
    template, pdf = book
    settings = Settings(home=tmp_path / "ws")
    info = BookInfo(template, commune, "Hưng Nguyên", "Nghệ Tĩnh", str(YEAR), volume, "H-1")
    ingest_files(engine, settings, info, [pdf])
    process_books(engine, settings)
    with session_scope(engine) as session:
        page = session.scalars(select(Page)).one()
        statuses = set(session.scalars(select(FieldValue.status).where(FieldValue.is_current)))
        return page.status, page.attention or "", statuses


def test_a_page_of_another_commune_is_flagged_and_nothing_on_it_accepted(engine, tmp_path, book):
    status, attention, statuses = _process(engine, tmp_path, book, "Nghi Hưng", "2")
    assert status == "needs_attention"
    assert "xã in ở đầu trang (Hưng Dũng) khác xã của sổ khi nhập (Nghi Hưng)" in attention
    assert statuses and "read" not in statuses


def test_a_page_of_another_volume_is_flagged(engine, tmp_path, book):
    status, attention, _ = _process(engine, tmp_path, book, "Hưng Dũng", "3")
    assert status == "needs_attention"
    assert "quyển số in ở đầu trang (2) khác quyển số của sổ khi nhập (3)" in attention
    assert "xã in ở đầu trang" not in attention


def test_the_right_book_raises_no_alarm_whatever_the_spelling(engine, tmp_path, book):
    # typed with its unit word and a Roman volume, as some archives write them
    _, attention, _ = _process(engine, tmp_path, book, "Xã Hưng Dũng", "II")
    assert "đầu trang" not in attention
