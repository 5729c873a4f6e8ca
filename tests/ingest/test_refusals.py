"""Ingest refuses what does not belong to the book, before anything is created (issue 18.4).

Real generated pages and real Tesseract: the template given is checked against the first
page's printed title and ruled grid, a scan already registered in another book is refused
with that book named, and each refusal is one Vietnamese line that leaves nothing behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from pipeline.errors import BadInput
from pipeline.ingest import BookInfo, ingest_files
from pipeline.samplegen import BookSpec, generate_book
from pipeline.storage.db import session_scope
from pipeline.storage.models import AuditEntry, Book, Page, SourceFile


def info(template: str, code: str = "HT-1") -> BookInfo:
    return BookInfo(template=template, commune="Hưng Tây", district="Hưng Nguyên",
                    province="Nghệ An", year="1967", volume="1", book_code=code)


@pytest.fixture(scope="module")
def books(tmp_path_factory) -> dict[str, Path]:
    """One two-page generated book per template used below (PDF and page images)."""
    root = tmp_path_factory.mktemp("books")
    out = {}
    for template in ("death_ledger", "birth_form", "marriage_ledger"):
        generate_book(BookSpec(seed=5, template=template, pages=2, degradation="clean"), root / template)
        out[template] = root / template
    return out


@pytest.fixture
def db(engine, settings):
    """Both back-ends (PostgreSQL when HOTICH_TEST_PG_URL is set): the cross-book look-up is SQL."""
    settings.home.mkdir(parents=True, exist_ok=True)
    return engine


def count(db, model, *where) -> int:
    with session_scope(db) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def nothing_created(db, settings) -> bool:
    store = settings.scan_store
    return (count(db, Book) == 0 and count(db, SourceFile) == 0
            and not (store.exists() and any(p.is_file() for p in store.rglob("*"))))


def test_death_ledger_given_as_birth_form_is_refused_naming_both(db, settings, books):
    with pytest.raises(BadInput) as refused:
        ingest_files(db, settings, info("birth_form"), [books["death_ledger"] / "book.pdf"])
    line = str(refused.value)
    assert "'death_ledger'" in line and "'birth_form'" in line and "book.pdf" in line
    assert "khai tử" in line and "--force-template" in line and "\n" not in line
    assert nothing_created(db, settings)


def test_layout_mismatch_is_refused_too(db, settings, books):
    """Same book type, other layout: a ledger page read as forms yields garbage as well."""
    pages = sorted((books["marriage_ledger"] / "pages").glob("*.png"))
    with pytest.raises(BadInput, match="'marriage_ledger'.*'marriage_form'"):
        ingest_files(db, settings, info("marriage_form"), pages)
    assert nothing_created(db, settings)


def test_an_unruled_ledger_is_not_refused_for_the_grid_it_does_not_have(db, settings, tmp_path):
    """Printings without rules (or with faint ones) exist; the detector sees no grid and
    calls them forms. The title agrees with the ledger given, so nothing contradicts it."""
    from pipeline.samplegen.printing import parse_printing
    from pipeline.templates import load_template

    ledger = load_template("birth_ledger")
    number = next(n for n in range(200) if parse_printing(ledger, f"random:{n}").ruled == "none")
    generate_book(BookSpec(seed=4, template="birth_ledger", pages=1, degradation="clean",
                           printing=f"random:{number}"), tmp_path / "unruled")
    outcome = ingest_files(db, settings, info("birth_ledger"), [tmp_path / "unruled" / "book.pdf"])
    assert outcome.added_pages == 1 and not outcome.failures
    with session_scope(db) as session:
        details = session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "book.create")).one()
    assert details["template_check"] == "match-type"


def test_force_template_overrides_and_is_audited(db, settings, books):
    outcome = ingest_files(db, settings, info("birth_form"), [books["death_ledger"] / "book.pdf"],
                           force_template=True)
    assert (outcome.added_pages, outcome.failures) == (2, [])
    with session_scope(db) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "book.create"))
        assert session.scalar(select(Book.template)) == "birth_form"
    assert "forced" in str(entry.detail)


def test_matching_template_is_accepted_without_a_word(db, settings, books):
    outcome = ingest_files(db, settings, info("death_ledger"), [books["death_ledger"] / "book.pdf"])
    assert (outcome.added_pages, outcome.failures, outcome.warnings) == (2, [], [])


def test_a_page_the_detector_cannot_place_is_accepted_with_a_warning(db, settings, tmp_path):
    """A blank or unreadable first page is no proof of a wrong template: accept, and say so."""
    blank = tmp_path / "blank.png"
    Image.new("RGB", (1240, 1754), "white").save(blank)
    outcome = ingest_files(db, settings, info("birth_form"), [blank])
    assert outcome.added_pages == 1
    assert len(outcome.warnings) == 1 and "birth_form" in outcome.warnings[0]


def test_only_the_first_new_page_is_read_and_a_rerun_reads_none(db, settings, books, monkeypatch):
    pages = sorted((books["birth_form"] / "pages").glob("*.png"))
    read: list[str] = []
    import pipeline.ocr.classify as classify

    detect = classify.detect_template
    monkeypatch.setattr(classify, "detect_template", lambda image, **kw: read.append("page") or detect(image, **kw))
    ingest_files(db, settings, info("birth_form"), pages[:1])
    ingest_files(db, settings, info("birth_form"), pages)  # page 1 again, page 2 new
    ingest_files(db, settings, info("birth_form"), pages)  # nothing new: idempotent, no OCR
    assert read == ["page", "page"]
    assert count(db, Page) == 2


def test_missing_path_creates_no_empty_book(db, settings, books, tmp_path):
    with pytest.raises(BadInput, match="nowhere"):
        ingest_files(db, settings, info("death_ledger"), [books["death_ledger"] / "book.pdf",
                                                          tmp_path / "nowhere"])
    assert nothing_created(db, settings)


def test_folder_without_scans_creates_no_empty_book(db, settings, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInput, match="Không có tệp quét"):
        ingest_files(db, settings, info("birth_form"), [tmp_path / "empty"])
    assert count(db, Book) == 0


def test_scan_of_another_book_is_refused_with_that_book_named(db, settings, books):
    scan = books["death_ledger"] / "book.pdf"
    ingest_files(db, settings, info("death_ledger", "KT-1967-1"), [scan])
    with pytest.raises(BadInput) as refused:
        ingest_files(db, settings, info("death_ledger", "KT-1967-2"), [scan])
    assert "KT-1967-1" in str(refused.value) and "--also-in" in str(refused.value)
    assert count(db, Book) == 1 and count(db, SourceFile) == 1
    # The same book again stays idempotent.
    again = ingest_files(db, settings, info("death_ledger", "KT-1967-1"), [scan])
    assert (again.added_files, again.already_present) == (0, 1)


def test_also_in_registers_one_scan_in_two_books(db, settings, books):
    scan = books["death_ledger"] / "book.pdf"
    ingest_files(db, settings, info("death_ledger", "KT-A"), [scan])
    outcome = ingest_files(db, settings, info("death_ledger", "KT-B"), [scan], also_in=True)
    assert outcome.added_pages == 2
    with session_scope(db) as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "file.ingest")
                                .order_by(AuditEntry.id)).all()[-1]
    assert "KT-A" in str(entry.detail)
    assert count(db, SourceFile) == 2 and count(db, Page) == 4
    rerun = ingest_files(db, settings, info("death_ledger", "KT-B"), [scan])  # no --also-in: a no-op
    assert (rerun.added_files, rerun.already_present) == (0, 1)
