"""Ingest stores each scan once, numbers pages in order, and records failures for a retry."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from pipeline.errors import BadInput
from pipeline.ingest import BookInfo, ingest_files, make_book_code
from pipeline.settings import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, Page, SourceFile

INFO = BookInfo(template="birth_form", commune="Hưng Dũng", district="Hưng Nguyên",
                province="Nghệ Tĩnh", year="1978", volume="2")


def pdf(path: Path, pages: int, shade: int = 0) -> Path:
    images = [Image.new("RGB", (310, 438), (255 - shade, 250, 240 - i)) for i in range(pages)]
    images[0].save(path, format="PDF", save_all=True, append_images=images[1:], resolution=37.5)
    return path


def png(path: Path, shade: int) -> Path:
    Image.new("RGB", (300, 400), (shade, shade, shade)).save(path, format="PNG")
    return path


def count(db, model, *where) -> int:
    with session_scope(db) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_made_up_book_code_is_ascii_and_readable():
    assert make_book_code(INFO, "birth") == "nghe-tinh-hung-nguyen-hung-dung-birth-1978-q2"


def test_pages_are_numbered_in_the_order_given(db, settings: Settings, tmp_path):
    files = [pdf(tmp_path / "b.pdf", 3), png(tmp_path / "a.png", 10), pdf(tmp_path / "c.pdf", 2, shade=9)]
    outcome = ingest_files(db, settings, INFO, files)
    assert (outcome.added_files, outcome.added_pages, outcome.failures) == (3, 6, [])
    with session_scope(db) as session:
        pages = session.execute(
            select(Page.page_no, SourceFile.original_name, Page.index_in_file)
            .join(SourceFile, SourceFile.id == Page.source_file_id).order_by(Page.page_no)
        ).all()
    assert pages == [(1, "b.pdf", 0), (2, "b.pdf", 1), (3, "b.pdf", 2), (4, "a.png", 0),
                     (5, "c.pdf", 0), (6, "c.pdf", 1)]


def test_same_file_twice_adds_nothing_and_original_is_kept_by_hash(db, settings, tmp_path):
    scan = pdf(tmp_path / "book.pdf", 2)
    ingest_files(db, settings, INFO, [scan])
    again = ingest_files(db, settings, INFO, [scan, scan])
    assert (again.added_files, again.added_pages, again.already_present) == (0, 0, 2)
    assert count(db, Page) == 2 and count(db, SourceFile) == 1 and count(db, Book) == 1
    with session_scope(db) as session:
        stored = session.scalar(select(SourceFile))
    kept = settings.home / stored.stored_path
    assert kept.read_bytes() == scan.read_bytes() and stored.sha256 in kept.name


def test_bad_file_is_reported_recorded_and_the_rest_goes_on(db, settings, tmp_path):
    bad = tmp_path / "torn.pdf"
    bad.write_bytes(b"%PDF-1.4\n broken")
    good = png(tmp_path / "ok.png", 50)
    outcome = ingest_files(db, settings, INFO, [bad, good])
    assert outcome.added_pages == 1
    assert len(outcome.failures) == 1 and outcome.failures[0].startswith("torn.pdf: ")
    assert count(db, SourceFile, SourceFile.status == "failed") == 1
    # The archive replaces the file with a good scan under the same name: the retry works and
    # the failed entry is not duplicated.
    pdf(bad, 2)
    retry = ingest_files(db, settings, INFO, [bad])
    assert retry.added_pages == 2 and retry.failures == []
    assert count(db, Page) == 3


def test_missing_path_is_refused_before_a_book_exists(db, settings, tmp_path):
    """Issue 18: a typo in a path used to leave an empty book behind."""
    good = png(tmp_path / "ok.png", 50)
    with pytest.raises(BadInput, match="nowhere.png") as refused:
        ingest_files(db, settings, INFO, [good, tmp_path / "nowhere.png"])
    assert "\n" not in str(refused.value)
    assert count(db, Book) == 0 and count(db, SourceFile) == 0


def test_folder_contributes_its_scans_sorted(db, settings, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    png(folder / "p2.png", 20), png(folder / "p1.png", 30)
    (folder / "notes.txt").write_text("not a scan")
    ingest_files(db, settings, INFO, [folder])
    with session_scope(db) as session:
        names = session.scalars(select(SourceFile.original_name).order_by(SourceFile.position)).all()
    assert names == ["p1.png", "p2.png"]
