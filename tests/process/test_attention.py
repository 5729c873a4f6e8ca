"""No silent loss, no phantom (issue 13 part 3): a page whose entries are not accounted for is
stored with its records but ``needs_attention``, never ``done``, and is visible in `status`,
the report and the review queue; on such a page, or one that fits badly, nothing is
auto-accepted.

The readers are faked (``pipeline.ocr.read_page`` replaced) so these tests say what the
driver does with what a reader returns, whatever reader is current; the worker's rendering,
cleaning and accounting and the database writes are the real ones.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from pipeline.clean import record_status
from pipeline.clean.accounting import (
    MIN_FIT_SCORE, TRUSTED_FIT_SCORE, account_page, page_trusted, withhold_acceptance,
)
from pipeline.ingest import BookInfo, ingest_files
from pipeline.ocr.read_page import PageRead
from pipeline.process import persist_result, process_books
from pipeline.report.figures import collect_figures
from pipeline.review.queue import queue_counts
from pipeline.settings import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import FieldValue as FieldRow
from pipeline.storage.models import Page, Record
from pipeline.templates import load_template
from pipeline.types import ExtractedRecord, FieldValue, LayoutFit, PageResult
from pipeline.worker import PageTask, account_result, process_page

LEDGER = load_template("birth_ledger")
FORM = load_template("birth_form")
GOOD_FIT = LayoutFit(score=0.97, entries=10, labels_expected=9, labels_found=9)


def entry(number: int | None, row: int = 1, name: str = "Nguyễn Văn An") -> ExtractedRecord:
    """One birth entry as a reader returns it, before cleaning: every required field read."""
    values = {
        "registration_no": "" if number is None else str(number), "full_name": name, "sex": "Nam",
        "birth_date": "12/3/1978", "birth_place": "Hưng Dũng", "father_name": "Nguyễn Văn Bình",
        "mother_name": "Trần Thị Cúc", "registration_date": "20/3/1978", "notes": "",
    }
    fields = {k: FieldValue(k, v, v or None, "read" if v else "blank", 0.98 if v else 0.0)
              for k, v in values.items()}
    return ExtractedRecord(row=row, fields=fields, box=(10, 10 + 40 * row, 900, 40 + 40 * row))


def page_of(*numbers: int | None) -> list[ExtractedRecord]:
    return [entry(n, row=i) for i, n in enumerate(numbers, start=1)]


def phantom(row: int) -> ExtractedRecord:
    """What a title line or an empty ruled row becomes when the reader takes it for an entry."""
    fields = {k: FieldValue(k, "", None, "blank", 0.0) for k in LEDGER.fields}
    fields["notes"] = FieldValue("notes", "SỔ ĐĂNG KÝ KHAI SINH", "SỔ ĐĂNG KÝ KHAI SINH", "read", 0.6)
    return ExtractedRecord(row=row, fields=fields)


# ---- account_page: pure -------------------------------------------------------------------


def test_page_with_no_entry_needs_attention():
    assert account_page([], LEDGER, GOOD_FIT) == "không tìm thấy bản ghi nào trên trang"
    assert account_page([], FORM, None) == "không tìm thấy bản ghi nào trên trang"


def test_full_page_is_accounted_for():
    assert account_page(page_of(*range(31, 41)), LEDGER, GOOD_FIT) is None
    assert account_page(page_of(7, 8, 9), FORM, None) is None  # no fit given: as before


def test_numbers_the_page_skips_are_missing_entries():
    reason = account_page(page_of(31, 32, 33, 34, 37, 38, 39, 40), LEDGER, GOOD_FIT)
    assert reason == ("thiếu 2 bản ghi: số đăng ký 35–36 không có trên trang "
                      "(số 31–40, đọc được 8 bản ghi)")


def test_two_gaps_are_both_named():
    reason = account_page(page_of(1, 3, 4, 5, 9, 10), LEDGER, GOOD_FIT)
    assert reason.startswith("thiếu 4 bản ghi: số đăng ký 2, 6–8 không có trên trang")


def test_a_record_without_number_inside_a_jump_may_be_the_missing_entry():
    assert account_page(page_of(31, 32, None, 34, 35), LEDGER, GOOD_FIT) is None
    reason = account_page(page_of(31, None, 35, 36), LEDGER, GOOD_FIT)
    assert reason.startswith("thiếu 2 bản ghi trong khoảng số đăng ký 32–34")


@pytest.mark.parametrize("numbers", [
    (31, 32, 33, 34, 35, 36, 37, 38, 39, 46),  # a 0 read as 6 at the foot: a slip, not 6 lost
    (37, 32, 33, 34),  # 31 read as 37 at the head (1/7)
    (40, 58, 42),  # a number no slip explains, between its neighbours: misread, not lost
    (12, 13, 14, 14, 15),  # a repeated number: the clean stage flags it, nothing is lost
    (5, 6, 7, 530),  # a jump no page could hold
])
def test_misread_numbers_are_not_gaps(numbers):
    assert account_page(page_of(*numbers), LEDGER, GOOD_FIT) is None


def test_empty_phantom_record_needs_attention():
    reason = account_page([phantom(1)] + page_of(*range(31, 41))[1:], LEDGER, GOOD_FIT)
    assert reason == ("1 bản ghi không đọc được trường bắt buộc nào (dòng 1): "
                      "có thể là tiêu đề hoặc dòng trống")


def test_template_labels_not_found_need_attention():
    fit = LayoutFit(score=0.85, entries=3, labels_expected=42, labels_found=30,
                    problems=["không thấy nhãn 'Nơi sinh'", "không thấy nhãn 'Dân tộc'"])
    reason = account_page(page_of(7, 8, 9), FORM, fit)
    assert reason == ("chỉ thấy 30/42 nhãn của mẫu sổ "
                      "(không thấy nhãn 'Nơi sinh', không thấy nhãn 'Dân tộc')")
    ledger = LayoutFit(score=0.9, entries=10, labels_expected=9, labels_found=5)
    assert "5/9 tiêu đề cột" in account_page(page_of(*range(31, 41)), LEDGER, ledger)


def test_poor_fit_needs_attention_and_reasons_add_up():
    fit = LayoutFit(score=MIN_FIT_SCORE - 0.15, entries=3, labels_expected=0,
                    problems=["3 dòng không khớp nhãn nào"])
    reason = account_page(page_of(7, 9), FORM, fit)
    assert reason == ("thiếu 1 bản ghi: số đăng ký 8 không có trên trang (số 7–9, đọc được 2 bản ghi); "
                      "bố cục khớp mẫu sổ kém (độ khớp 0,45, ngưỡng 0,60): 3 dòng không khớp nhãn nào")


def test_trust_needs_a_good_fit_and_no_reason():
    assert page_trusted(None, None) and page_trusted(GOOD_FIT, None)
    assert not page_trusted(GOOD_FIT, "thiếu 1 bản ghi")
    assert not page_trusted(LayoutFit(score=TRUSTED_FIT_SCORE - 0.01), None)


def test_withheld_fields_keep_blank_and_their_own_notes():
    fields = {"a": FieldValue("a", "An", "An", "read", 0.99, note="đã sửa dấu"),
              "b": FieldValue("b", "", None, "blank", 0.0),
              "c": FieldValue("c", "?", None, "illegible", 0.2)}
    out = withhold_acceptance([ExtractedRecord(1, fields)], "Trang chưa khớp mẫu sổ: x")[0].fields
    # the page's reason first: it is why the field waits, whatever else was noted
    assert (out["a"].status, out["a"].note) == ("uncertain", "Trang chưa khớp mẫu sổ: x; đã sửa dấu")
    assert (out["b"].status, out["c"].status) == ("blank", "illegible")
    again = withhold_acceptance([ExtractedRecord(1, out)], "Trang chưa khớp mẫu sổ: x")[0].fields
    assert again["a"].note == out["a"].note  # said once, however often it is applied
    assert fields["a"].status == "read"  # the input is not changed


def test_a_column_read_under_the_wrong_field_is_noticed():
    """Every column found, yet the birth dates hold names: the header went to the wrong
    column. The clean stage cannot parse them, and the page is not done."""
    from pipeline.clean import normalize_page

    def cleaned(records):
        rows = normalize_page([r.fields for r in records], LEDGER, 1978)
        return [replace(r, fields=f) for r, f in zip(records, rows)]

    right = cleaned(page_of(*range(31, 41)))
    assert account_page(right, LEDGER, GOOD_FIT) is None
    swapped = []
    for record in page_of(*range(31, 41)):
        fields = dict(record.fields)
        fields["birth_date"] = replace(fields["father_name"], field="birth_date")
        swapped.append(replace(record, fields=fields))
    reason = account_page(cleaned(swapped), LEDGER, GOOD_FIT)
    assert reason.startswith("giá trị không đúng loại ở: Ngày sinh (10/10)")
    # a date or two that does not parse is a misreading, not a misplaced column
    slips = [replace(r, fields={**r.fields, "birth_date": replace(r.fields["birth_date"],
                                                                   raw="3l/2/1978")})
             if r.row <= 2 else r for r in page_of(*range(31, 41))]
    assert account_page(cleaned(slips), LEDGER, GOOD_FIT) is None


def test_a_field_blank_on_every_entry_is_looked_for_again_by_a_person():
    """Ten entries without a father's name: a column not found, far likelier than a clerk
    who left it empty ten times. The blanks are not accepted, the page is not done."""
    page = page_of(*range(31, 41))
    for record in page:
        record.fields["father_name"] = FieldValue("father_name", "", None, "blank", 1.0)
    records, attention = account_result(page, LEDGER, GOOD_FIT)
    assert "trống trên mọi bản ghi của trang" in attention and "Họ tên cha" in attention
    assert {r.fields["father_name"].status for r in records} == {"uncertain"}
    assert {r.fields["notes"].status for r in records} == {"blank"}  # often empty: kept
    # two entries only: too few to tell
    assert account_page(page[:2], LEDGER, GOOD_FIT) is None


# ---- the worker -----------------------------------------------------------------------------


def fake_reader(monkeypatch, pages: dict[int, tuple[list[ExtractedRecord], LayoutFit]]):
    """``pipeline.ocr.read_page`` replaced: the page image's width says which page it is."""
    import pipeline.ocr

    def read_page(image, template, engine=None, **_):
        records, fit = pages[image.shape[1]]
        return PageRead(words=[], records=records, angle=0.0, ocr_version="fake", fit=fit)

    monkeypatch.setattr(pipeline.ocr, "read_page", read_page)


def png(width: int) -> bytes:
    return cv2.imencode(".png", np.full((400, width, 3), 255, np.uint8))[1].tobytes()


def task(width: int) -> PageTask:
    return PageTask(page_id=1, name="a.png trang 1", media_type="image/png", data=png(width),
                    template=LEDGER, book_year=1978, dpi=300, max_pixels=10**8)


def test_worker_flags_a_page_read_empty(monkeypatch):
    fit = LayoutFit(score=0.2, problems=["không thấy tiêu đề cột nào"])
    fake_reader(monkeypatch, {600: ([], fit)})
    result = process_page(task(600))
    assert result.error is None and result.records == []
    assert result.attention.startswith("không tìm thấy bản ghi nào trên trang; bố cục khớp mẫu sổ kém")
    assert result.fit is fit


def test_worker_accepts_nothing_on_a_page_that_fits_badly(monkeypatch):
    middling = LayoutFit(score=(MIN_FIT_SCORE + TRUSTED_FIT_SCORE) / 2, entries=10,
                         labels_expected=90, labels_found=90)
    fake_reader(monkeypatch, {600: (page_of(*range(31, 41)), middling), 700: (page_of(*range(31, 41)), GOOD_FIT)})
    doubted = process_page(task(600))
    assert doubted.attention is None  # fits well enough to be done, not well enough to trust
    statuses = {fv.status for r in doubted.records for fv in r.fields.values()}
    assert "read" not in statuses and "uncertain" in statuses
    assert all(record_status(r.fields) == "needs_review" for r in doubted.records)
    assert "Trang khớp mẫu sổ kém (độ khớp 0,70)" in doubted.records[0].fields["full_name"].note
    trusted = process_page(task(700))
    assert any(fv.status == "read" for r in trusted.records for fv in r.fields.values())


def test_flagged_page_says_why_on_every_field():
    records, attention = account_result(page_of(31, 32, 33, 34, 37, 38, 39, 40), LEDGER, GOOD_FIT)
    assert attention.startswith("thiếu 2 bản ghi")
    notes = {fv.note for r in records for fv in r.fields.values() if fv.status == "uncertain"}
    assert notes == {f"Trang chưa khớp mẫu sổ: {attention}"}


# ---- the driver, the database and what users see ------------------------------------------


@pytest.fixture
def book(engine, tmp_path, monkeypatch):
    """A ledger book of four blank pages whose reads are faked: the widths name the pages."""
    settings = Settings(home=tmp_path / "ws")
    settings.home.mkdir()
    files = []
    for i, width in enumerate((601, 602, 603, 604), start=1):
        path = tmp_path / f"p{i}.png"
        path.write_bytes(png(width))
        files.append(path)
    info = BookInfo("birth_ledger", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", "1978", "1", "ATT-1")
    ingest_files(engine, settings, info, files)
    poor = LayoutFit(score=0.3, entries=10, labels_expected=9, labels_found=9,
                     problems=["các dòng không thẳng hàng với cột"])
    fake_reader(monkeypatch, {
        601: (page_of(*range(1, 11)), GOOD_FIT),  # a normal page
        602: ([], LayoutFit(score=0.0)),  # a photographed ledger whose grid was not seen
        603: (page_of(31, 32, 33, 34, 37, 38, 39, 40), GOOD_FIT),
        604: (page_of(*range(41, 51)), poor),
    })
    return settings


def pages_by_no(engine) -> dict[int, Page]:
    with session_scope(engine) as session:
        pages = session.scalars(select(Page).order_by(Page.page_no)).all()
        session.expunge_all()
    return {p.page_no: p for p in pages}


def field_statuses(engine, page_no: int) -> set[str]:
    with session_scope(engine) as session:
        return set(session.scalars(
            select(FieldRow.status).join(Record, Record.id == FieldRow.record_id)
            .join(Page, Page.id == Record.page_id).where(Page.page_no == page_no)))


def record_counts(engine) -> dict[int, int]:
    with session_scope(engine) as session:
        return dict(session.execute(select(Page.page_no, func.count(Record.id))
                                    .outerjoin(Record, Record.page_id == Page.id)
                                    .group_by(Page.page_no)).all())


def test_pages_not_accounted_for_are_stored_but_not_done(engine, book):
    summary = process_books(engine, book, workers=0)
    assert (summary.succeeded, summary.attention, summary.failed, summary.records) == (1, 3, 0, 28)
    pages = pages_by_no(engine)
    assert {n: p.status for n, p in pages.items()} == {
        1: "done", 2: "needs_attention", 3: "needs_attention", 4: "needs_attention"}
    assert pages[1].attention is None and pages[1].fit_score == pytest.approx(0.97)
    assert pages[2].attention.startswith("không tìm thấy bản ghi nào trên trang")
    assert pages[3].attention.startswith("thiếu 2 bản ghi: số đăng ký 35–36")
    assert pages[4].attention.startswith("bố cục khớp mẫu sổ kém (độ khớp 0,30")
    assert record_counts(engine) == {1: 10, 2: 0, 3: 8, 4: 10}  # nothing lost
    assert "read" in field_statuses(engine, 1)
    for page_no in (3, 4):  # on a flagged page nothing is auto-accepted
        assert "read" not in field_statuses(engine, page_no)
    with session_scope(engine) as session:
        assert set(session.scalars(select(Record.status).join(Page).where(Page.page_no == 4))) == {"needs_review"}

    again = process_books(engine, book, workers=0)  # final like done: not read again
    assert (again.succeeded, again.attention, again.failed, again.records) == (0, 0, 0, 0)
    assert record_counts(engine) == {1: 10, 2: 0, 3: 8, 4: 10}
    assert {n: (p.status, p.attention) for n, p in pages_by_no(engine).items()} == \
        {n: (p.status, p.attention) for n, p in pages.items()}


def test_a_late_result_for_a_stored_page_changes_nothing(engine, book):
    process_books(engine, book, workers=0)
    page_id = pages_by_no(engine)[3].id
    late = PageResult(page_id=page_id, records=page_of(*range(31, 41)), fit=GOOD_FIT)
    assert persist_result(engine, late, None) == 0  # e.g. a concurrent run's copy of the page
    assert record_counts(engine)[3] == 8 and pages_by_no(engine)[3].status == "needs_attention"


def test_recheck_reads_unreviewed_pages_again(engine, book, monkeypatch):
    process_books(engine, book, workers=0)
    with session_scope(engine) as session:  # a reviewer has started on page 4
        record = session.scalar(select(Record).join(Page).where(Page.page_no == 4, Record.row == 1))
        record.status = "reviewed"
    fake_reader(monkeypatch, {  # the template was fixed: the pages now read in full
        602: (page_of(*range(11, 21)), GOOD_FIT),
        603: (page_of(*range(31, 41)), GOOD_FIT),
        604: (page_of(*range(41, 51)), GOOD_FIT),
    })
    summary = process_books(engine, book, workers=0, recheck=True)
    assert (summary.succeeded, summary.attention, summary.kept) == (2, 0, 1)
    pages = pages_by_no(engine)
    assert [pages[n].status for n in (1, 2, 3, 4)] == ["done", "done", "done", "needs_attention"]
    assert pages[2].attention is None
    assert record_counts(engine) == {1: 10, 2: 10, 3: 10, 4: 10}
    with session_scope(engine) as session:
        keys = session.scalars(select(Record.record_key)).all()
        assert len(keys) == len(set(keys)) == 40
        # The replaced records' old field values went with them: one version per field.
        assert session.scalar(select(func.count()).select_from(FieldRow)) == 40 * 9


def test_status_report_and_queue_show_pages_needing_attention(engine, book, tmp_path, monkeypatch):
    process_books(engine, book, workers=0)
    figures = collect_figures(engine, timeline=False, confidence=False)
    (b,) = figures.books
    assert (b.pages, b.pages_done, b.pages_attention, b.pages_failed, b.pages_pending) == (4, 1, 3, 0, 0)
    assert [(p.page_no, p.records) for p in b.attention] == [(2, 0), (3, 8), (4, 10)]

    import cli
    monkeypatch.setattr(cli, "_ready_db", lambda: engine)
    out = CliRunner().invoke(cli.app, ["status"], terminal_width=200)
    assert out.exit_code == 0, out.output
    row = next(line for line in out.output.splitlines() if "ATT-1" in line and "│" in line)
    assert [c.strip() for c in row.split("│")[2:-1]][:5] == ["4", "1", "3", "0", "0"]
    assert "ATT-1 trang 2 cần xem lại (0 bản ghi đã lưu): không tìm thấy bản ghi nào trên trang" in out.output
    assert "ATT-1 trang 3 cần xem lại (8 bản ghi đã lưu): thiếu 2 bản ghi: số đăng ký 35–36" in out.output

    from pipeline.report.render import write_report
    write_report(engine, tmp_path / "bao-cao.html")
    html = (tmp_path / "bao-cao.html").read_text(encoding="utf-8")
    assert 'id="attention-ATT-1"' in html and "trang cần xem lại" in html
    assert "thiếu 2 bản ghi: số đăng ký 35–36 không có trên trang" in html

    from pipeline.review.auth import Principal
    with session_scope(engine) as session:
        (queued,) = queue_counts(session, Principal(1, "an", "reviewer", "", 1))
    assert [page_no for page_no, _ in queued.attention] == [2, 3, 4]
    assert queued.attention[0][1].startswith("không tìm thấy bản ghi nào trên trang")
    with session_scope(engine) as session:
        waiting = session.scalars(select(Record.status).join(Page).where(Page.page_no.in_((3, 4))))
        assert set(waiting) == {"needs_review"}  # pages 3 and 4: none auto-accepted
        reviewable = session.scalar(select(func.count()).select_from(Record)
                                    .where(Record.status == "needs_review"))
    assert queued.waiting == reviewable >= 18


def test_review_queue_page_lists_pages_needing_attention(engine, book):
    from starlette.testclient import TestClient

    from pipeline.review import auth
    from pipeline.review.app import COOKIE, create_app

    process_books(engine, book, workers=0)
    with session_scope(engine) as session:
        user = auth.add_user(session, "lan", "reviewer", "matkhau-lan-01", actor="test")
        token = auth.open_session(session, user, hours=1)
    with TestClient(create_app(engine, book)) as client:
        client.cookies.set(COOKIE, token)
        page = client.get("/queue")
    assert page.status_code == 200
    text = " ".join(page.text.split())
    assert 'id="pages-attention"' in text
    assert "ATT-1</span> trang 2: không tìm thấy bản ghi nào trên trang" in text
    assert "ATT-1</span> trang 3: thiếu 2 bản ghi: số đăng ký 35–36 không có trên trang" in text


def test_a_page_cannot_have_lost_more_than_it_holds():
    # A three-entry form page: 38 read as 39 beside an entry whose number was not read.
    assert account_page(page_of(37, 39, None), FORM, GOOD_FIT) is None
    assert account_page(page_of(37, 39), FORM, GOOD_FIT).startswith(
        "thiếu 1 bản ghi: số đăng ký 38 không có trên trang")
    # Ten-row ledger, nine rows read, two numbers skipped: one of them at least is misread.
    reason = account_page(page_of(1, 2, 3, 5, 6, 7, 8, 10, 11), LEDGER, GOOD_FIT)
    assert reason.startswith("thiếu 1 bản ghi trong khoảng số đăng ký 4, 9")
    # A page visibly holding more than the usual gives no bound.
    assert account_page(page_of(*range(1, 12), *range(13, 16)), LEDGER, GOOD_FIT).startswith(
        "thiếu 1 bản ghi: số đăng ký 12")


def test_recheck_never_replaces_records_a_reviewer_touched_meanwhile(engine, book):
    process_books(engine, book, workers=0)
    page_id = pages_by_no(engine)[3].id
    with session_scope(engine) as session:  # after the recheck listed the page, before it is stored
        record = session.scalar(select(Record).where(Record.page_id == page_id, Record.row == 2))
        session.add(FieldRow(record_id=record.id, field="full_name", version=2, is_current=False,
                             raw="Nguyễn Văn An", value="Nguyễn Văn Ân", status="read",
                             confidence=1.0, source="review", changed_by="lan"))
    fresh = PageResult(page_id=page_id, records=page_of(*range(31, 41)), fit=GOOD_FIT)
    assert persist_result(engine, fresh, None, recheck=True) == 0
    assert record_counts(engine)[3] == 8 and pages_by_no(engine)[3].status == "needs_attention"
    other = pages_by_no(engine)[2].id  # untouched: replaced, and audited
    assert persist_result(engine, replace(fresh, page_id=other, records=page_of(*range(11, 21))),
                          None, recheck=True) == 10
    assert pages_by_no(engine)[2].status == "done"
