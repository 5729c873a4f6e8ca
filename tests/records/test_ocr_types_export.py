"""`records export` of OCR'd marriage and death books: every field of the register, read for real.

Issue 18 item 1 found marriage rows with only the registration number and date, death rows
without the deceased's name, dates, place or cause. One generated page per type goes through
ingest (with its template checked), Tesseract and the clean stage; the export's register
columns then hold what the page says.
"""

from __future__ import annotations

import pytest

from pipeline.export.records import export_records, field_columns, records_frame
from pipeline.ingest import BookInfo, ingest_files
from pipeline.ocr.tesseract import check_tesseract
from pipeline.process import process_books
from pipeline.samplegen import BookSpec, generate_book
from pipeline.settings import Settings
from pipeline.templates import record_columns


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("template", ["marriage_form", "death_ledger"])
def test_ocr_book_exports_every_field(engine, tmp_path, template):
    check_tesseract()
    truth = generate_book(BookSpec(seed=31, template=template, pages=1, degradation="clean",
                                   face="typewriter", stamps=False), tmp_path / "book")
    meta = truth.book
    settings = Settings(home=tmp_path / "ws")
    info = BookInfo(template, meta["commune"], meta["district"], meta["province"], str(meta["year"]),
                    str(meta["volume"]), "OCR-1")
    outcome = ingest_files(engine, settings, info, [tmp_path / "book" / "book.pdf"])
    assert (outcome.added_pages, outcome.warnings) == (1, [])
    process_books(engine, settings, workers=0)

    frame = records_frame(engine, book_code="OCR-1", field_status=True)
    book_type = meta["book_type"]
    assert list(frame.columns[:len(record_columns(book_type))]) == record_columns(book_type)
    assert len(frame) == len(truth.records)
    right = total = 0
    for record, (_, row) in zip(truth.records, frame.iterrows()):
        for name, cell in record.fields.items():
            if name in field_columns(book_type) and cell.value:
                total += 1
                right += row[name] == cell.value
    assert total >= 8 * len(truth.records) // 2 and right / total >= 0.8, (right, total)
    out = tmp_path / "out.csv"
    assert export_records(engine, out, book_code="OCR-1") == len(truth.records)
