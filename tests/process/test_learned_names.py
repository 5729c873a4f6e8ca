"""`process` cleans names with the lexicon learned from the imported population (issue 15
§1): loaded once a run by the driver, sent with every page, named in the run's parameters.

The page's reading is a recorded one (what a reader returns for a name typed glued to the
family name); what is under test is the way from the population to the clean stage."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest
from sqlalchemy import select

from pipeline.clean.lexicon import learned_name_lexicon
from pipeline.ingest import BookInfo, ingest_files
from pipeline.match.population import import_population, load_name_lexicon
from pipeline.ocr.read_page import PageRead
from pipeline.process import process_books
from pipeline.settings import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import FieldValue, StageRun
from pipeline.templates import load_template
from pipeline.types import ExtractedRecord, LayoutFit
from pipeline.types import FieldValue as Reading
from pipeline.worker import PageTask, process_page

FORM = load_template("birth_form")
GLUED = "NGUYỄNTÈO"  # "Tèo" is on no shipped list; the province's population has many


def _reader(monkeypatch):
    import pipeline.ocr

    def read_page(image, template, engine=None, **_):
        fields = {"registration_no": Reading("registration_no", "7", "7", "read", 0.98),
                  "full_name": Reading("full_name", GLUED, GLUED, "read", 0.98)}
        record = ExtractedRecord(row=1, fields=fields, box=(10, 10, 900, 60))
        return PageRead(words=[], records=[record], angle=0.0, ocr_version="recorded",
                        fit=LayoutFit(score=0.97, entries=1, labels_expected=2, labels_found=2))

    monkeypatch.setattr(pipeline.ocr, "read_page", read_page)


def _png() -> bytes:
    return cv2.imencode(".png", np.full((600, 500, 3), 255, np.uint8))[1].tobytes()


def test_the_worker_cleans_with_the_lexicon_its_task_carries(monkeypatch):
    _reader(monkeypatch)
    learned = learned_name_lexicon({"family": {"Nguyễn": 40}, "middle": {"Văn": 40},
                                    "given": {"Tèo": 30}})
    base = dict(page_id=1, name="a.png trang 1", media_type="image/png", data=_png(),
                template=FORM, book_year=1978, dpi=300, max_pixels=10**8)
    shipped = process_page(PageTask(**base)).records[0].fields["full_name"].value
    learned_value = process_page(PageTask(**base, names=learned)).records[0].fields["full_name"].value
    assert shipped != "Nguyễn Tèo"
    assert learned_value == "Nguyễn Tèo"


@pytest.mark.backends("sqlite", "postgresql")
def test_process_sends_the_populations_lexicon_and_names_it_in_the_run(monkeypatch, engine,
                                                                        tmp_path):
    _reader(monkeypatch)
    population = tmp_path / "dan_cu.csv"
    with population.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["citizen_id", "full_name", "sex", "birth_date"])
        for i in range(12):
            writer.writerow([f"0400{i:08d}", "Nguyễn Văn Tèo" if i % 2 else "Lê Thị Tèo", "M",
                             "1970-01-01"])
    import_population(engine, population)
    settings = Settings(home=tmp_path / "ws")
    page = tmp_path / "trang.png"
    page.write_bytes(_png())
    info = BookInfo("birth_form", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", "1978", "1", "LEX-1")
    ingest_files(engine, settings, info, [page])
    process_books(engine, settings, workers=0)
    with session_scope(engine) as session:
        value = session.scalar(select(FieldValue.value).where(FieldValue.field == "full_name",
                                                              FieldValue.is_current))
        params = session.scalars(select(StageRun.params).where(StageRun.stage == "process")).one()
    assert value == "Nguyễn Tèo"
    assert params["name_lexicon"] == load_name_lexicon(engine).fingerprint != "shipped"


@pytest.mark.backends("sqlite")
def test_typed_records_are_cleaned_with_the_populations_lexicon_too(engine, tmp_path):
    from pipeline.records_import import import_records

    population = tmp_path / "dan_cu.csv"
    population.write_text("citizen_id,full_name,sex,birth_date\n" + "".join(
        f"0400{i:08d},Nguyễn Văn Tèo,M,1970-01-01\n" for i in range(6)), encoding="utf-8")
    import_population(engine, population)
    typed = tmp_path / "so_da_nhap.csv"
    typed.write_text("registration_no,full_name,sex,birth_date,birth_place,registration_date\n"
                     "1,NGUYỄNTÈO,Nam,1978-03-02,Hưng Dũng,1978-03-10\n", encoding="utf-8")
    info = BookInfo("", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", "1978", "1", "LEX-2")
    import_records(engine, typed, book_type="birth", book=info)
    with session_scope(engine) as session:
        value = session.scalar(select(FieldValue.value).where(FieldValue.field == "full_name",
                                                              FieldValue.is_current))
    assert value == "Nguyễn Tèo"
