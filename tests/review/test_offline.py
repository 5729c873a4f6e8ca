"""Offline review: `review export` to Excel with crops beside it, `review import` back as versions."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import unquote

import openpyxl
import pytest
from PIL import Image
from sqlalchemy import func, select

from pipeline.errors import BadInput, NotAllowed, NotFound
from pipeline.review import actions
from pipeline.review.offline import COLUMNS, SHEET, export_review, import_review, report_path_for
from pipeline.review.sample import seed_sample_book
from pipeline.settings import Settings, get_settings
from pipeline.storage.db import make_engine, session_scope
from pipeline.storage.models import AuditEntry, FieldValue, Record, User
from pipeline.storage.versions import current_values, field_history

from review_helpers import make_users

COL = {c.key: i + 1 for i, c in enumerate(COLUMNS)}


@pytest.fixture
def sample(engine, tmp_path):
    settings = Settings(home=tmp_path / "ws")
    book = seed_sample_book(engine, settings)
    with session_scope(engine) as s:
        make_users(s)
    return book, settings


def _export(engine, settings, tmp_path, **kw) -> Path:
    out = tmp_path / "gui xa" / "duyệt xã.xlsx"  # a space and diacritics in the path
    export_review(engine, settings, out, **kw)
    return out


def _rows(path: Path) -> tuple[openpyxl.Workbook, object, list[dict]]:
    wb = openpyxl.load_workbook(path)
    ws = wb[SHEET]
    rows = []
    for r in range(2, ws.max_row + 1):
        rows.append({c.key: ws.cell(row=r, column=COL[c.key]) for c in COLUMNS})
    return wb, ws, rows


def _by_field(rows, field):
    return next(r for r in rows if r["field"].value == field)


def test_export_lists_each_doubtful_field_with_its_crop_beside_the_file(engine, sample, tmp_path):
    book, settings = sample
    out = _export(engine, settings, tmp_path)
    wb, ws, rows = _rows(out)
    assert [c.value for c in ws[1]] == [c.header for c in COLUMNS]
    # Row 1: name and date misread; row 2: mother's name; row 3 waits only for a link decision.
    assert [(r["record_key"].value, r["field"].value) for r in rows] == [
        (f"{book.book_code}-p0001-r01", "full_name"), (f"{book.book_code}-p0001-r01", "birth_date"),
        (f"{book.book_code}-p0001-r02", "mother_name")]
    name = _by_field(rows, "full_name")
    assert name["label"].value == "Họ và tên" and name["book"].value == book.book_code
    assert (name["page"].value, name["row"].value) == (1, 1)
    assert name["current"].value == book.wrong[1]["full_name"] == name["raw"].value
    assert name["reason"].value.startswith("Họ ít gặp")
    assert book.truth[1]["full_name"] in name["suggestions"].value  # dictionary / linked citizen
    assert name["version"].value == 1 and name["corrected"].value is None
    date = _by_field(rows, "birth_date")
    y, m, d = book.wrong[1]["birth_date"].split("-")
    assert date["current"].value == f"{d}/{m}/{y}"  # as the books write it
    assert date["suggestion_source"].value == "population"
    # Crops and the whole page: relative links that resolve to JPEGs beside the workbook.
    for r in rows:
        for key in ("crop", "page_image"):
            target = unquote(r[key].hyperlink.target)
            assert not Path(target).is_absolute() and target.startswith("duyệt xã_anh/")
            with Image.open(out.parent / target) as im:
                assert im.format == "JPEG" and im.width > 50
    # Only the corrected column is editable, typed as text; technical columns hidden.
    assert ws.protection.sheet and ws.freeze_panes == "B2"
    assert name["corrected"].protection.locked is False and name["current"].protection.locked
    assert name["corrected"].number_format == "@"
    hidden = {c.header for c in COLUMNS if ws.column_dimensions[
        openpyxl.utils.get_column_letter(COL[c.key])].hidden}
    assert hidden == {"field", "version", "suggestion_1", "suggestion_source"}
    assert ws.column_dimensions["A"].width >= 20
    assert wb["hotich"].sheet_state == "hidden" and "Hướng dẫn" in wb.sheetnames
    with session_scope(engine) as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "review.export"))
    assert entry.detail["rows"] == 3 and entry.detail["link_only"] == 1
    assert book.truth[1]["full_name"] not in str(entry.detail)


def test_export_of_one_book_and_an_unknown_book(engine, sample, tmp_path):
    book, settings = sample
    assert export_review(engine, settings, tmp_path / "a.xlsx", book_code=book.book_code).rows == 3
    assert export_review(engine, settings, tmp_path / "b.xlsx", commune="Nowhere").rows == 0
    with pytest.raises(NotFound):
        export_review(engine, settings, tmp_path / "c.xlsx", book_code="nope")


def test_filled_rows_become_versions_by_the_reviewer_and_records_leave_the_queue(engine, sample, tmp_path):
    book, settings = sample
    out = _export(engine, settings, tmp_path)
    wb, ws, rows = _rows(out)
    _by_field(rows, "full_name")["corrected"].value = "gợi ý"  # the dictionary's spelling
    y, m, d = (int(p) for p in book.truth[1]["birth_date"].split("-"))
    _by_field(rows, "birth_date")["corrected"].value = datetime(y, m, d)  # Excel made it a date
    _by_field(rows, "mother_name")["corrected"].value = book.truth[2]["mother_name"].lower()
    wb.save(out)
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    report = import_review(engine, out, reviewer="lan")
    assert report.counts["applied"] == 3 and report.confirmed == 2
    with session_scope(engine) as s:
        r1, r2, r3 = (s.get(Record, i) for i in book.record_ids)
        for rid, field, wrong, right in ((r1.id, "full_name", book.wrong[1]["full_name"], book.truth[1]["full_name"]),
                                          (r1.id, "birth_date", book.wrong[1]["birth_date"], book.truth[1]["birth_date"]),
                                          (r2.id, "mother_name", book.wrong[2]["mother_name"], book.truth[2]["mother_name"])):
            old, new = field_history(s, rid, field)
            assert (old.value, new.value, new.version, new.changed_by, new.status) == (wrong, right, 2, "lan", "read")
            assert new.raw == old.raw  # the OCR reading is kept
            assert new.created_at >= before and new.is_current and not old.is_current
        assert (r1.status, r1.reviewed_by, r2.status, r3.status) == ("reviewed", "lan", "reviewed", "extracted")
        assert field_history(s, r1.id, "birth_date")[1].source == "review"
        actions_done = {a for (a,) in s.execute(select(AuditEntry.action).where(AuditEntry.actor == "lan"))}
    assert {"field.suggestion", "field.accept", "record.confirm", "review.import"} <= actions_done
    lines = list(csv.reader(report_path_for(out).open(encoding="utf-8-sig")))
    assert lines[0] == ["Dòng Excel", "Mã bản ghi", "Trường", "Kết quả", "Chi tiết"]
    assert [line[0] for line in lines[1:]] == ["2", "3", "4"] and lines[1][3] == "đã áp dụng"


def test_a_field_changed_since_the_export_is_rejected_and_bad_rows_named_by_row(engine, sample, tmp_path):
    book, settings = sample
    out = _export(engine, settings, tmp_path)
    r1, r2, _ = book.record_ids
    with session_scope(engine) as s:  # meanwhile, on the web
        actions.save_field(s, r1, "full_name", action="accept", text="Phạm Văn Hảo",
                           expected_version=1, user="hoa")
    wb, ws, rows = _rows(out)
    _by_field(rows, "full_name")["corrected"].value = book.truth[1]["full_name"]
    _by_field(rows, "birth_date")["corrected"].value = "31/02/1973"
    _by_field(rows, "mother_name")["corrected"].value = "đúng"
    extra = ws.max_row + 1  # a row copied with a record that is not in the database
    for c in COLUMNS:
        ws.cell(row=extra, column=COL[c.key], value=rows[2][c.key].value)
    ws.cell(row=extra, column=COL["record_key"], value="khong-co-ban-ghi")
    ws.cell(row=extra, column=COL["corrected"], value="Lê Thị Hoa")
    wb.save(out)
    report = import_review(engine, out, reviewer="lan")
    by_row = {o.excel_row: o for o in report.outcomes}
    assert by_row[2].kind == "rejected" and "hoa" in by_row[2].detail
    assert by_row[3].kind == "bad" and "Ngày không hợp lệ" in by_row[3].detail
    assert by_row[4].kind == "applied"  # accepted as it was exported
    assert by_row[extra].kind == "bad" and "khong-co-ban-ghi" in by_row[extra].detail
    with session_scope(engine) as s:
        assert current_values(s, r1)["full_name"].changed_by == "hoa"  # not overwritten
        assert current_values(s, r1)["birth_date"].version == 1
        assert current_values(s, r2)["mother_name"].value == book.wrong[2]["mother_name"]
        assert s.get(Record, r1).status == "needs_review"  # still waits
    report_rows = list(csv.reader(report_path_for(out).open(encoding="utf-8-sig")))
    assert [r[0] for r in report_rows[1:]] == ["2", "3", "4", str(extra)]


def test_importing_the_same_file_twice_changes_nothing(engine, sample, tmp_path):
    book, settings = sample
    out = _export(engine, settings, tmp_path)
    wb, ws, rows = _rows(out)
    _by_field(rows, "full_name")["corrected"].value = book.truth[1]["full_name"]
    _by_field(rows, "birth_date")["corrected"].value = "không đọc được"
    _by_field(rows, "mother_name")["corrected"].value = "Để trống"
    wb.save(out)
    first = import_review(engine, out, reviewer="lan")
    assert first.counts["applied"] == 3

    def state():
        with session_scope(engine) as s:
            return (s.scalar(select(func.count()).select_from(FieldValue)),
                    sorted(s.execute(select(Record.id, Record.status, Record.lock_version)).all()))

    before = state()
    second = import_review(engine, out, reviewer="lan")
    assert state() == before
    assert second.counts["already"] == 3 and second.confirmed == 0
    assert {o.kind for o in second.outcomes} == {"already"}


def test_a_closed_record_rejects_rows_and_the_reviewer_must_exist(engine, sample, tmp_path):
    book, settings = sample
    out = _export(engine, settings, tmp_path)
    with session_scope(engine) as s:
        actions.approve_book(s, book.book_code, user="minh", role="supervisor", include_pending=True)
    wb, ws, rows = _rows(out)
    _by_field(rows, "mother_name")["corrected"].value = book.truth[2]["mother_name"]
    wb.save(out)
    report = import_review(engine, out, reviewer="lan")
    assert [(o.kind, "minh" in o.detail) for o in report.outcomes] == [("rejected", True)]
    with pytest.raises(NotFound):
        import_review(engine, out, reviewer="ghost")
    with session_scope(engine) as s:  # a user whose role is not one of the review roles
        s.scalar(select(User).where(User.name == "hoa")).role = "viewer"
    with pytest.raises(NotAllowed):
        import_review(engine, out, reviewer="hoa")
    other = tmp_path / "other.xlsx"
    openpyxl.Workbook().save(other)
    with pytest.raises(BadInput):
        import_review(engine, other, reviewer="lan")


@pytest.mark.backends("sqlite")
def test_review_export_and_import_commands(run, workspace, tmp_path):
    run("users", "add", "lan", "--role", "reviewer", "--password-stdin", input="mat-khau-nguoi-duyet\n")
    book = seed_sample_book(make_engine(get_settings().database_url), get_settings())
    out = tmp_path / "xa.xlsx"
    result = run("review", "export", out, "--book", book.book_code)
    assert result.exit_code == 0, result.output
    assert "Đã xuất 3 trường cần xem của 2 bản ghi" in result.output
    assert "1 bản ghi chỉ chờ quyết định liên kết" in result.output
    assert (tmp_path / "xa_anh").is_dir()
    assert run("review", "export", tmp_path / "y.xlsx", "--book", "nope").exit_code == 4
    wb, ws, rows = _rows(out)
    _by_field(rows, "full_name")["corrected"].value = book.truth[1]["full_name"]
    _by_field(rows, "birth_date")["corrected"].value = "32/13/1973"
    wb.save(out)
    result = run("review", "import", out, "--as", "lan")
    assert result.exit_code == 1, result.output  # one bad row
    assert "áp dụng 1" in result.output and "lỗi 1" in result.output and "chưa điền 1" in result.output
    assert "dòng 3" in result.output and "tháng 13" in result.output
    assert (tmp_path / "xa_ketqua.csv").is_file()
    again = run("review", "import", out, "--as", "lan")
    assert "áp dụng 0, đã có từ trước 1" in again.output
    assert run("review", "import", out, "--as", "ghost").exit_code == 4
    assert run("review", "import", tmp_path / "none.xlsx", "--as", "lan").exit_code == 4
