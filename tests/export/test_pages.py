"""`hotich export pages`: ALTO / PAGE XML rebuilt from the database, corrections included.

One generated form page is read by the real Tesseract once (recorded); each back-end then
runs the real process stage on it with the recording replayed, a reviewer corrects a field
through the review actions, and both formats are exported and checked against the official
schemas shipped in tests/ocr/data/xsd.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from lxml import etree
from ocr.xsd import archive_schemas
from sqlalchemy import select, update

from pipeline.errors import BadInput, NotFound
from pipeline.export.pages import SkippedPage, export_pages
from pipeline.ingest import BookInfo, ingest_files
from pipeline.ocr.archive_xml import ArchivePage, alto_xml, page_xml
from pipeline.ocr.engine import RecordedEngine, RecordingEngine
from pipeline.ocr.tesseract import TesseractEngine, check_tesseract, words_from_tsv
from pipeline.paths import book_code_problem, book_dir_name
from pipeline.process import page_xml_path, process_books
from pipeline.review.actions import save_field
from pipeline.samplegen import BookSpec, generate_book
from pipeline.settings import Settings
from pipeline.storage.db import init_db, make_engine, session_scope
from pipeline.storage.models import AuditEntry, Book, FieldValue, Page, Record
from pipeline.types import ExtractedRecord
from pipeline.types import FieldValue as FieldReading

# the place and volume the book is ingested under, printed in its pages' header (which
# `process` checks against the book's)
HEADER = {"commune": "Hưng Dũng", "district": "Hưng Nguyên", "volume": 1}

PC = {"pc": "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"}
AL = {"a": "http://www.loc.gov/standards/alto/ns-v4#"}
CODE = "XP-1978/1"  # a slash, from before the book-code rule: the folder name must not nest
TYPED = "Hoàng Thị Diệu Linh"  # what the reviewer types over the OCR'd name of entry 1


def _info(code: str = CODE) -> BookInfo:
    return BookInfo("birth_form", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", "1978", "1", code)


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """Two generated pages, and Tesseract's words for the first one, recorded once."""
    out = tmp_path_factory.mktemp("pages-book")
    truth = generate_book(BookSpec(**HEADER, seed=5, template="birth_form", pages=2, degradation="clean",
                                   face="typewriter", stamps=False, year=1978), out)
    images = [out / p["image"] for p in truth.pages]
    check_tesseract()
    recorder = RecordingEngine(TesseractEngine())
    scratch = out / "record"
    db = make_engine(f"sqlite:///{scratch / 'hotich.db'}")
    init_db(db)
    settings = Settings(home=scratch)
    ingest_files(db, settings, _info("REC-1"), images[:1])
    assert process_books(db, settings, workers=0, ocr_engine=recorder).succeeded == 1
    db.dispose()
    return images, recorder.recording()


def _processed(db, home, book, code: str = CODE) -> Settings:
    """The first page processed (recording replayed), the second ingested afterwards: pending.

    A code the book-code rule refuses (``CODE``) is given to the book in the database, as a
    version before the rule stored it; ingesting into that existing book is still allowed.
    """
    images, recording = book
    settings = Settings(home=home)
    ingest_files(db, settings, _info("OLD-1" if book_code_problem(code) else code), images[:1])
    with session_scope(db) as s:
        s.execute(update(Book).where(Book.book_code == "OLD-1").values(book_code=code))
    replay = RecordedEngine(recording)
    assert process_books(db, settings, workers=0, ocr_engine=replay).succeeded == 1
    assert replay.misses == 0  # every call answered by its image: the same read as Tesseract's
    ingest_files(db, settings, _info(code), images[1:])
    return settings


def _current(session, row: int, name: str) -> FieldValue:
    return session.scalar(select(FieldValue).join(Record).where(
        Record.row == row, FieldValue.field == name, FieldValue.is_current.is_(True)))


def _target(fmt: str) -> str:
    return f"{book_dir_name(CODE)}/page-0001.{fmt}.xml"


def _valid(path, schema) -> etree._Element:
    doc = etree.parse(str(path))
    assert schema.validate(doc), schema.error_log
    return doc.getroot()


@pytest.fixture(scope="module")
def schemas():
    return archive_schemas()


def test_export_carries_corrections_and_keeps_the_page_read(engine, tmp_path, book, schemas):
    settings = _processed(engine, tmp_path / "ws", book)
    with session_scope(engine) as s:
        ocr_name = _current(s, 1, "full_name")
        assert ocr_name.raw.strip() and ocr_name.raw != TYPED, "the read found no name to correct"
        new = save_field(s, ocr_name.record_id, "full_name", action="accept", text=TYPED,
                         expected_version=ocr_name.version, user="lan")
        corrected = new.value
        # Read and corrected long ago: the files' dates must come from the data, not the clock.
        new.created_at = datetime(2024, 6, 2, 9, 15, tzinfo=timezone.utc)
        sex = _current(s, 2, "sex")  # a reviewer finds entry 2's sex cell empty on the page
        blanked = save_field(s, sex.record_id, "sex", action="blank", text=None,
                             expected_version=sex.version, user="lan")
        blanked.created_at = datetime(2024, 6, 1, tzinfo=timezone.utc)
        page = s.scalar(select(Page).where(Page.page_no == 1))
        s.execute(update(Page).where(Page.id == page.id).values(
            updated_at=datetime(2024, 5, 1, 8, 30, tzinfo=timezone.utc)))
        words = [w for w in words_from_tsv(page.ocr_words) if w.text.strip()]
        ocr_fields = {(r.row, fv.field): fv.raw for r in page.records
                      for fv in s.scalars(select(FieldValue).where(
                          FieldValue.record_id == r.id, FieldValue.is_current.is_(True),
                          FieldValue.source == "ocr")) if fv.raw.strip() and fv.box_x0 is not None}
    assert corrected == TYPED and words and len(ocr_fields) > 10

    out = tmp_path / "out"
    alto = export_pages(engine, out / "alto", fmt="alto", book_code=CODE)
    page_run = export_pages(engine, out / "page", fmt="PAGE")  # every book; case ignored
    assert book_dir_name(CODE).startswith("XP-1978_1~")  # one folder, readable, kept apart from XP-1978_1
    for summary, fmt in ((alto, "alto"), (page_run, "page")):
        assert [p.relative_to(out / fmt).as_posix() for p in summary.files] == [_target(fmt)]
        assert (summary.written, summary.unchanged, summary.corrected_fields) == (1, 0, 2)
        assert summary.skipped == [SkippedPage(CODE, 2, "chưa xử lý")]
    assert sorted(p.name for p in (out / "alto" / book_dir_name(CODE)).iterdir()) == ["page-0001.alto.xml"]

    # PAGE: the reviewer's value, marked as such; OCR fields as read; the words as read.
    pdoc = _valid(out / "page" / _target("page"), schemas["page"])
    line = pdoc.find(".//pc:TextRegion[@id='r1']/pc:TextLine[@id='r1_full_name']", PC)
    equiv = line.find("pc:TextEquiv", PC)
    assert equiv.findtext("pc:Unicode", namespaces=PC) == TYPED
    assert equiv.get("comments") == "corrected" and equiv.get("conf") is None
    assert line.get("custom") == "structure {type:full_name;} source {type:review;}"
    steps = {i.get("name"): i for i in pdoc.iterfind("pc:Metadata/pc:MetadataItem", PC)}
    stamp = "2024-06-02T09:15:00Z"
    assert pdoc.findtext("pc:Metadata/pc:Created", namespaces=PC) == "2024-05-01T08:30:00Z"
    assert steps["ocr"].get("date") == "2024-05-01T08:30:00Z"
    assert set(steps) == {"ocr", "review"} and steps["review"].get("date") == stamp
    assert pdoc.findtext("pc:Metadata/pc:LastChange", namespaces=PC) == stamp
    assert pdoc.find(".//pc:TextLine[@id='r2_sex']", PC) is None  # marked blank: no text left
    for (row, name), raw in ocr_fields.items():
        if (row, name) in ((1, "full_name"), (2, "sex")):
            continue
        ocr_line = pdoc.find(f".//pc:TextLine[@id='r{row}_{name}']", PC)
        assert ocr_line.findtext("pc:TextEquiv/pc:Unicode", namespaces=PC) == " ".join(raw.split())
        assert ocr_line.find("pc:TextEquiv", PC).get("conf") is not None
        assert "source" not in ocr_line.get("custom")
    page_words = pdoc.findall(".//pc:Word", PC)
    assert [w.findtext("pc:TextEquiv/pc:Unicode", namespaces=PC) for w in page_words] == [
        " ".join(w.text.split()) for w in words]
    # The same word layer as the PAGE XML the process stage wrote from the fresh read.
    fresh = etree.parse(str(page_xml_path(settings.home, CODE, 1))).getroot()

    def word_layer(doc):
        return [(w.get("id"), w.find("pc:Coords", PC).get("points"),
                 w.findtext("pc:TextEquiv/pc:Unicode", namespaces=PC))
                for w in doc.iterfind(".//pc:Word", PC)]

    assert word_layer(pdoc) == word_layer(fresh)
    assert fresh.find(".//pc:TextLine[@id='r1_full_name']/pc:TextEquiv/pc:Unicode",
                      PC).text == " ".join(ocr_name.raw.split())

    # ALTO: the same, with a processing step of its own that the corrected line points to.
    adoc = _valid(out / "alto" / _target("alto"), schemas["alto"])
    aline = adoc.find(".//a:TextLine[@ID='r1_full_name']", AL)
    assert " ".join(s.get("CONTENT") for s in aline.findall("a:String", AL)) == TYPED
    assert aline.get("CS") == "true" and aline.get("PROCESSINGREFS") == "processing_review"
    step = adoc.find("a:Description/a:Processing[@ID='processing_review']", AL)
    assert step.findtext("a:processingCategory", namespaces=AL) == "contentModification"
    assert step.findtext("a:processingDateTime", namespaces=AL) == stamp
    read = adoc.findall(".//a:TextBlock[@TAGREFS='tag_page_read']//a:String", AL)
    assert [s.get("CONTENT") for s in read] == [" ".join(w.text.split()) for w in words]
    assert adoc.find(".//a:Page", AL).get("PHYSICAL_IMG_NR") == "1"

    # Same database, same bytes: files left alone, a fresh folder gets identical files.
    before = {fmt: (out / fmt / _target(fmt)).read_bytes() for fmt in ("alto", "page")}
    again = export_pages(engine, out / "alto", fmt="alto", book_code=CODE)
    assert (again.written, again.unchanged) == (0, 1)
    export_pages(engine, tmp_path / "again", fmt="page")
    assert (tmp_path / "again" / _target("page")).read_bytes() == before["page"]
    assert (out / "alto" / _target("alto")).read_bytes() == before["alto"]
    assert not list((out / "alto").rglob("*.tmp"))
    with session_scope(engine) as s:
        audits = s.scalars(select(AuditEntry).where(AuditEntry.action == "export.pages")
                             .order_by(AuditEntry.id)).all()
        assert len(audits) == 4 and audits[0].entity_id == CODE
        assert audits[0].detail["written"] == 1 and audits[0].detail["skipped"] == 1


def test_failed_pages_are_reported_and_bad_requests_refused(engine, tmp_path, book):
    _processed(engine, tmp_path / "ws", book)
    with session_scope(engine) as s:
        s.execute(update(Page).where(Page.page_no == 2).values(
            status="failed", error="page-002.png: ảnh không đọc được"))
    summary = export_pages(engine, tmp_path / "out", fmt="page", book_code=CODE)
    assert summary.written == 1
    assert summary.skipped == [SkippedPage(CODE, 2, "xử lý lỗi: page-002.png: ảnh không đọc được")]
    with pytest.raises(BadInput, match="hocr"):
        export_pages(engine, tmp_path / "out", fmt="hocr")
    with pytest.raises(NotFound, match="KHONG-CO"):
        export_pages(engine, tmp_path / "out", fmt="alto", book_code="KHONG-CO")


def test_other_sources_get_their_own_step(schemas):
    """A value taken from the population database is told apart from a reviewer's own."""
    def fv(name, raw):
        return FieldReading(field=name, raw=raw, value=raw, status="read", confidence=0.8,
                            box=(10, 10, 300, 40))

    records = [ExtractedRecord(1, {"full_name": fv("full_name", "Nguyen Van An"),
                                   "sex": fv("sex", "Nam"), "notes": fv("notes", "cải chính")},
                               (0, 0, 400, 200))]
    when = datetime(2024, 5, 1, tzinfo=timezone.utc)
    page = ArchivePage("p.png", 500, 300, [], records, "ocr1", created=when,
                       corrected={(1, "full_name"): "Nguyễn Văn An", (1, "notes"): "cải chính"},
                       sources={(1, "full_name"): "population"},
                       changed=datetime(2024, 6, 2, 9, 0, tzinfo=timezone.utc))
    pdoc = etree.fromstring(page_xml(page).encode())
    adoc = etree.fromstring(alto_xml(page).encode())
    schemas["page"].assertValid(pdoc)
    schemas["alto"].assertValid(adoc)
    assert {i.get("name") for i in pdoc.iterfind(".//pc:MetadataItem", PC)} == {
        "ocr", "population", "review"}  # a correction with no stated source is a reviewer's
    assert pdoc.findtext(".//pc:Created", namespaces=PC) == "2024-05-01T00:00:00Z"
    assert pdoc.findtext(".//pc:LastChange", namespaces=PC) == "2024-06-02T09:00:00Z"
    assert [(ln.get("ID"), ln.get("PROCESSINGREFS")) for ln in adoc.iterfind(".//a:TextLine", AL)] == [
        ("r1_full_name", "processing_population"), ("r1_sex", None), ("r1_notes", "processing_review")]
    assert [p.get("ID") for p in adoc.iterfind("a:Description/a:Processing", AL)] == [
        "processing_population", "processing_review"]


@pytest.mark.backends("sqlite")
def test_command(run, workspace, book, tmp_path):
    db = make_engine(f"sqlite:///{workspace / 'hotich.db'}")
    init_db(db)
    _processed(db, workspace, book, code="CLI-1")
    db.dispose()
    out = tmp_path / "luu-tru"
    result = run("export", "pages", out, "--book", "CLI-1", "--format", "alto")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # the console wraps at CliRunner's 80 columns
    assert "1 tệp ghi mới, 0 tệp không đổi (1 sổ, 0 trường đã sửa)" in said
    assert "1 trang chưa có kết quả OCR bị bỏ qua" in said
    assert "BỎ QUA sổ CLI-1 trang 2: chưa xử lý" in said
    schemas = archive_schemas()
    _valid(out / "CLI-1" / "page-0001.alto.xml", schemas["alto"])
    again = run("export", "pages", out, "--format", "alto")
    assert again.exit_code == 0 and "0 tệp ghi mới, 1 tệp không đổi" in " ".join(again.output.split())

    bad = run("export", "pages", out, "--format", "hocr")
    assert bad.exit_code == 2
    assert bad.stderr.strip().splitlines() == [
        "Lỗi: Định dạng 'hocr' không được hỗ trợ — dùng --format alto hoặc page"]
    missing = run("export", "pages", out, "--book", "KHONG-CO", "--format", "page")
    assert missing.exit_code == 4 and "Không có sổ 'KHONG-CO'" in missing.stderr
    assert "--format" in run("export", "pages", "--help").output
