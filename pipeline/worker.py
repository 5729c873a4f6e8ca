"""The per-page worker: bytes and parameters in, a ``PageResult`` out; no database, no files.

It runs wherever the executor puts it (this process, a Dask worker on this PC or on another
machine), so everything it needs travels in the picklable ``PageTask``. A failure of one page
is returned as a result with a one-line reason, never raised: the driver records it and the
book goes on.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.clean.lexicon import NameLexicon, using_name_lexicon
from pipeline.clean.places import BookPlace
from pipeline.errors import HotichError
from pipeline.scans import render_page
from pipeline.templates import Template
from pipeline.types import ExtractedRecord, LayoutFit, PageResult


@dataclass(frozen=True)
class PageTask:
    page_id: int
    name: str  # "<file> trang <n>", for messages; never personal data
    media_type: str
    data: bytes  # the page as a self-contained one-page document (scans.single_page_bytes)
    template: Template
    book_year: int | None
    dpi: int
    max_pixels: int
    engine: object | None = None  # an OcrEngine; None = Tesseract. Tests pass a recorded one.
    book_place: BookPlace | None = None  # the book's commune, district, province: bare names
    second_reader: bool = False  # read value crops with the neural reader too (when installed)
    book_year_to: int | None = None  # last year of a book spanning several (None: one year)
    book_volume: str | None = None  # the book's Quyển số as ingested, checked against the header
    # Settings that change what a page yields travel with it (and into the run's parameters),
    # so a Dask worker on another machine reads and accepts as the driver would, whatever its
    # own environment says (Settings.ocr_model, tessdata_best_dir, accept_probability).
    ocr_model: str = "fast"
    tessdata_best_dir: str | None = None
    accept_probability: float | None = None  # None: the calibration's own threshold
    names: NameLexicon | None = None  # learned from the population (None: the shipped one)


@lru_cache(maxsize=4)
def tesseract_engine(model: str, tessdata_best_dir: str | None):
    """One Tesseract engine per model in a worker process: making one asks the binary for its
    version and languages, which costs more than it should once a page."""
    from pipeline.ocr.tesseract import TesseractEngine

    return TesseractEngine(model=model,
                           tessdata_best_dir=Path(tessdata_best_dir) if tessdata_best_dir else None)


def stage_versions() -> dict[str, str]:
    from pipeline.clean import CLEAN_VERSION
    from pipeline.ocr import OCR_VERSION

    return {"ocr": OCR_VERSION, "clean": CLEAN_VERSION}


def account_result(records: list[ExtractedRecord], template: Template, fit: LayoutFit | None,
                   year_problem: str | None = None, book_problem: str | None = None,
                   ) -> tuple[list[ExtractedRecord], str | None]:
    """A cleaned page's records and the reason it needs attention (None: it may be ``done``).

    A page that is flagged, or that fits its template less than ``TRUSTED_FIT_SCORE``, keeps
    every record but no field accepted on the reader's word: a printing the reader did not
    understand is where confident wrong values come from, so each ``read`` field becomes
    ``uncertain`` with the page's reason and every record goes to review.
    """
    from pipeline.clean.accounting import (
        account_page, attention_note, blank_fields, doubt_blanks, page_trusted,
        withhold_acceptance,
    )

    attention = account_page(records, template, fit)
    if not page_trusted(fit, attention):
        note = attention_note(attention, fit)
        records = withhold_acceptance(records, note)
        records = doubt_blanks(records, blank_fields(records, template), note)
    if year_problem:  # the header names another year than the book's (header.py)
        records = withhold_acceptance(records, f"Cần kiểm tra năm của sổ: {year_problem}")
        attention = "; ".join(filter(None, [attention, year_problem]))
    if book_problem:  # the header names another commune or volume: maybe another book's page
        records = withhold_acceptance(records, f"Cần kiểm tra trang có thuộc sổ này: {book_problem}")
        attention = "; ".join(filter(None, [attention, book_problem]))
    return records, attention


def process_page(task: PageTask) -> PageResult:
    """Preprocess → OCR → extract → clean one page, then account for its entries."""
    # One Tesseract thread per process: with one process per core, OpenMP threads only fight
    # each other (measured 13× slower on 2 cores). Set here so remote workers get it too.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    started = time.perf_counter()
    try:
        from pipeline.clean import normalize_page
        from pipeline.clean.header import book_disagreements, printed_year, year_disagreement
        from pipeline.ocr import read_page

        image = render_page(task.data, task.media_type, name=task.name, dpi=task.dpi,
                            max_pixels=task.max_pixels)
        # A PDF's resolution is the one we rendered at; an image's is guessed by the reader.
        dpi = task.dpi if task.media_type == "application/pdf" else None
        reader = None
        if task.second_reader:
            from pipeline.ocr.aster import shared_reader

            reader = shared_reader()  # None without the package: Tesseract alone
        engine = task.engine or tesseract_engine(task.ocr_model, task.tessdata_best_dir)
        page = read_page(image, task.template, engine, dpi=dpi, reader=reader)
        year_problem = year_disagreement(printed_year(page.words, image.shape[0]),
                                         task.book_year, task.book_year_to)
        book_problem = book_disagreements(page.words, image.shape[0],
                                          task.book_place.commune if task.book_place else None,
                                          task.book_volume)
        # a page whose header names another year: no date is fitted toward either
        year = None if year_problem else task.book_year
        with using_name_lexicon(task.names):
            rows = normalize_page([r.fields for r in page.records], task.template, year,
                                  task.book_place, page.fit.score, task.accept_probability)
        records = [ExtractedRecord(row=record.row, box=record.box, fields=fields)
                   for record, fields in zip(page.records, rows)]
        fit = page.fit
        records, attention = account_result(records, task.template, fit, year_problem,
                                            book_problem)
        return PageResult(page_id=task.page_id, records=records, words=page.words,
                          stage_versions={**stage_versions(), "ocr_detail": page.ocr_version}, seconds=time.perf_counter() - started,
                          width=image.shape[1], height=image.shape[0], attention=attention, fit=fit)
    except HotichError as exc:
        return PageResult(page_id=task.page_id, error=str(exc), seconds=time.perf_counter() - started)
    except Exception as exc:  # noqa: BLE001 - one bad page must not stop the book
        reason = f"{task.name}: lỗi khi xử lý trang ({type(exc).__name__})"
        return PageResult(page_id=task.page_id, error=reason, seconds=time.perf_counter() - started)
