"""The chain with the second (neural) reader: both readers' texts are stored beside the chosen
one, the setting travels with the work, and turning it off gives Tesseract alone."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from pipeline.ingest import BookInfo, ingest_files
from pipeline.process import process_books
from pipeline.samplegen import BookSpec, generate_book
from pipeline.settings import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import FieldValue, StageRun

# the place and volume the book is ingested under, printed in its pages' header (which
# `process` checks against the book's)
HEADER = {"commune": "Hưng Dũng", "district": "Hưng Nguyên", "volume": 1}


@pytest.fixture(scope="module")
def hand_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("hand")
    truth = generate_book(BookSpec(**HEADER, seed=31, template="birth_form", pages=1,
                                   degradation="moderate", face="hand"), out / "book")
    return out / "book" / "book.pdf", truth


def _run(engine, tmp_path, pdf, truth, second_reader: bool):
    settings = Settings(home=tmp_path / "ws", second_reader=second_reader)
    info = BookInfo("birth_form", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh",
                    str(truth.book["year"]), "1", "HAND-1")
    ingest_files(engine, settings, info, [pdf])
    summary = process_books(engine, settings)
    assert (summary.succeeded, summary.failed) == (1, 0)
    with session_scope(engine) as session:
        rows = [(f.field, f.raw, f.readings) for f in session.scalars(select(FieldValue))]
        run = session.scalars(select(StageRun).where(StageRun.stage == "process")).one()
        return rows, run.params


def test_both_readings_are_kept_and_the_stored_raw_is_one_of_them(engine, tmp_path, hand_book):
    rows, params = _run(engine, tmp_path, *hand_book, second_reader=True)
    assert params["second_reader"] is True
    both = [(field, raw, readings) for field, raw, readings in rows if readings]
    assert len(both) >= 5  # hand-writing leaves Tesseract unsure of many values
    for field, raw, readings in both:
        assert set(readings) == {"tesseract", "asterocr"}
        assert raw in {text for text, _ in readings.values()}, field


def test_off_reads_with_tesseract_alone(engine, tmp_path, hand_book):
    rows, params = _run(engine, tmp_path, *hand_book, second_reader=False)
    assert params["second_reader"] is False
    assert rows and not any(readings for _, _, readings in rows)
