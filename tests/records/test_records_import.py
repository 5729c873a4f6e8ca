"""`records import`: typed registers (CSV / XLSX) cleaned, versioned, matched and exported back."""

from __future__ import annotations

import datetime as dt
import unicodedata

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import func, select

from pipeline.errors import BadInput
from pipeline.export.records import records_frame
from pipeline.ingest import BookInfo
from pipeline import encodings
from pipeline.match.population import import_population
from pipeline.match.run import match_books
from pipeline.records_import import import_records
from pipeline.review.actions import save_field
from pipeline.review.queue import needs_person
from pipeline.storage.db import session_scope
from pipeline.storage.models import AuditEntry, Book, FieldValue, Link, Record
from pipeline.storage.versions import current_values

HEADER = ["record_id", "page", "row", "registration_no", "full_name", "sex", "birth_date", "birth_place",
          "father_name", "mother_name", "registration_date"]
ROWS = [
    ["KS-1978-001", "1", "1", "1", "Nguyễn Văn An", "Nam", "12/3/1968", "Xã Hưng Dũng", "Nguyễn Văn Bình",
     "Lê Thị Hoà", "20/3/1968"],
    ["KS-1978-002", "1", "2", "2", "Trần Thị Bé", "Nữ", "1/4/1968", "Xã Hưng Lộc", "Trần Văn Cường",
     "Phạm Thị Dung", "2/4/1968"],
    ["", "2", "1", "3", "Đặng Quốc Việt", "Nam", "ngày 5 tháng 4 năm 1968", "nt", "Đặng Văn Ẩn",
     "Hồ Thị Ước", "9/4/1968"],
]
INFO = BookInfo("", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", "1968", "1", "KS-HD-1968")


def csv_text(rows=ROWS, header=HEADER) -> str:
    return "\n".join(",".join(r) for r in [header, *rows]) + "\n"


def write_csv(path, rows=ROWS, header=HEADER, encoding="utf-8-sig"):
    text = csv_text(rows, header)
    if encoding in encodings.LEGACY:
        path.write_bytes(encodings.encode(text, encoding))
    else:
        path.write_bytes(text.encode(encoding))
    return path


def fields_of(engine, key: str) -> dict[str, FieldValue]:
    with session_scope(engine) as s:
        record = s.scalar(select(Record).where(Record.record_key == key))
        return current_values(s, record.id)


def counts(engine) -> tuple[int, int]:
    with session_scope(engine) as s:
        return (s.scalar(select(func.count()).select_from(Record)),
                s.scalar(select(func.count()).select_from(FieldValue)))


def test_utf8_bom_csv_is_cleaned_like_ocr_values(engine, tmp_path):
    nfd = unicodedata.normalize("NFD", "Nguyễn Văn An")
    rows = [list(ROWS[0]), *ROWS[1:]]
    rows[0][4] = nfd
    outcome = import_records(engine, write_csv(tmp_path / "ks.csv", rows), book_type="birth", book=INFO)
    assert (outcome.inserted, outcome.error_count, outcome.encoding) == (3, 0, "utf-8-sig")
    first = fields_of(engine, "KS-1978-001")
    assert first["birth_date"].raw == "12/3/1968" and first["birth_date"].value == "1968-03-12"
    assert first["full_name"].raw == "Nguyễn Văn An" == first["full_name"].value  # NFC, raw too
    assert {fv.source for fv in first.values()} == {"import"}
    assert first["registration_date"].value == "1968-03-20"
    second = fields_of(engine, "KS-1978-002")
    assert second["sex"].value == "F" and second["sex"].raw == "Nữ"
    third = fields_of(engine, "KS-HD-1968-i-p0002-r01")  # no record_id: one is made
    assert third["birth_date"].value == "1968-04-05"
    assert third["birth_place"].raw == "nt" and third["birth_place"].value == "Xã Hưng Lộc"
    with session_scope(engine) as s:
        records = s.scalars(select(Record).order_by(Record.id)).all()
        assert {(r.source, r.page_id) for r in records} == {("import", None)}
        assert [r.row for r in records] == [1, 2, 3]  # file order: the page is not stored
        book = s.scalar(select(Book))
        assert (book.book_code, book.book_type, book.template) == ("KS-HD-1968", "birth", "birth_form")
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "records.import"))
        assert entry.detail["inserted"] == 3 and entry.detail["file"] == "ks.csv"
        assert "Nguyễn" not in str(entry.detail)


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("name", ["tcvn3", "vni"])
def test_legacy_encoding_csv(engine, tmp_path, name):
    outcome = import_records(engine, write_csv(tmp_path / f"ks_{name}.csv", encoding=name),
                             book_type="birth", book=INFO)
    assert outcome.encoding == name and outcome.inserted == 3
    assert fields_of(engine, "KS-1978-001")["mother_name"].value == "Lê Thị Hoà"
    assert fields_of(engine, "KS-1978-002")["full_name"].raw == "Trần Thị Bé"


@pytest.mark.backends("sqlite")
def test_xlsx_with_numbers_and_dates(engine, tmp_path):
    path = tmp_path / "ks.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER[:1] + HEADER[3:])
    sheet.append(["A-1", 17, "Bùi Thị Ngọc Ánh", "nữ", dt.datetime(1968, 3, 12), "Xã Hưng Dũng",
                  "Bùi Văn Tư", "Vũ Thị Thắm", dt.datetime(1968, 3, 20)])
    sheet.append(["A-2", 18, "Lê Văn Tám", "Nam", "1968", "Xã Hưng Dũng"])  # Excel drops empty tail cells
    book.save(path)
    outcome = import_records(engine, path, book_type="birth", book=INFO)
    assert (outcome.inserted, outcome.error_count) == (2, 0)
    first = fields_of(engine, "A-1")
    assert first["registration_no"].value == "17" and first["birth_date"].value == "1968-03-12"
    assert first["sex"].value == "F"
    second = fields_of(engine, "A-2")
    assert second["birth_date"].value == "1968" and second["registration_date"].value is None
    assert "[R08]" in second["registration_date"].note  # a required field left empty
    with session_scope(engine) as s:
        assert s.scalar(select(Record.status).where(Record.record_key == "A-2")) == "needs_review"


def test_record_id_round_trip_through_records_export(engine, tmp_path):
    import_records(engine, write_csv(tmp_path / "ks.csv"), book_type="birth", book=INFO)
    frame = records_frame(engine, book_code="KS-HD-1968")
    assert list(frame["record_id"]) == ["KS-1978-001", "KS-1978-002", "KS-HD-1968-i-p0002-r01"]
    assert list(frame["birth_date"]) == ["1968-03-12", "1968-04-01", "1968-04-05"]
    assert list(frame["sex"]) == ["M", "F", "M"] and frame["page"].isna().all()
    # the export read back is the same data: nothing changes
    out = tmp_path / "export.csv"
    frame.to_csv(out, index=False)
    again = import_records(engine, out, book_type="birth", book=BookInfo("", "", "", "", "", "", "KS-HD-1968"))
    assert (again.inserted, again.updated, again.unchanged, again.ignored_columns) == (0, 0, 3, [])


def test_same_id_in_another_book_is_prefixed_and_reported(engine, tmp_path):
    path = write_csv(tmp_path / "ks.csv")
    import_records(engine, path, book_type="birth", book=INFO)
    other = BookInfo("", "Hưng Lộc", "Hưng Nguyên", "Nghệ Tĩnh", "1968", "1")
    outcome = import_records(engine, path, book_type="birth", book=other)
    code = outcome.book_code
    assert code == "nghe-tinh-hung-nguyen-hung-loc-birth-1968-q1" and outcome.inserted == 3
    assert outcome.notices[0] == f"ks.csv dòng 2: record_id KS-1978-001 đã thuộc sổ khác; lưu là {code}-KS-1978-001"
    assert list(records_frame(engine, book_code=code)["record_id"])[:2] == [f"{code}-KS-1978-001", f"{code}-KS-1978-002"]
    again = import_records(engine, path, book_type="birth", book=other)
    assert (again.inserted, again.unchanged, again.notices) == (0, 3, [])


@pytest.mark.backends("sqlite")
def test_bad_rows_reported_by_line_good_rows_kept(engine, tmp_path):
    path = tmp_path / "ks.csv"
    lines = csv_text().splitlines()
    lines.insert(2, "KS-X,1,3,4,Lê Văn Tám,Nam,1968,Xã Hưng Dũng,,,,extra")  # line 3: a cell too many
    lines.insert(3, "KS-Y,một,4,5,Lê Văn Chín,Nam,1968,Xã Hưng Dũng,,,")  # line 4: page not a number
    lines.append("KS-1978-001,3,1,9,Hồ Văn Mười,Nam,1968,Xã Hưng Dũng,,,")  # line 6: id used above
    lines.append('KS-Z,3,2,10,"Lê Văn Mười Một,Nam,1968,,,,')  # line 7: quote never closed
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outcome = import_records(engine, path, book_type="birth", book=INFO)
    assert outcome.inserted == 3
    assert outcome.errors == [
        "ks.csv dòng 3: có 12 trường, dòng tiêu đề có 11 cột",
        "ks.csv dòng 4: cột page phải là số nguyên dương",
        "ks.csv dòng 7: record_id KS-1978-001 trùng với dòng 2",
        'ks.csv dòng 8: dấu ngoặc kép (") không được đóng',
    ]


@pytest.mark.backends("sqlite")
def test_unparseable_value_is_kept_for_review_not_skipped(engine, tmp_path):
    rows = [list(ROWS[0])]
    rows[0][6] = "khoảng mùa lúa"
    import_records(engine, write_csv(tmp_path / "ks.csv", rows), book_type="birth", book=INFO)
    born = fields_of(engine, "KS-1978-001")["birth_date"]
    assert (born.status, born.value, born.raw, born.confidence) == ("uncertain", None, "khoảng mùa lúa", 0.5)
    assert born.note == "Không đọc được ngày: khoảng mùa lúa"
    with session_scope(engine) as s:
        queued = s.scalars(select(Record.record_key).where(needs_person())).all()
    assert queued == ["KS-1978-001"]


@pytest.mark.backends("sqlite")
def test_missing_column_and_wrong_book_type_refused(engine, tmp_path):
    header = [h for h in HEADER if h not in ("sex", "birth_place")] + ["ghi_chu_khac"]
    rows = [[c for h, c in zip(HEADER, r) if h not in ("sex", "birth_place")] + ["x"] for r in ROWS]
    with pytest.raises(BadInput) as caught:
        import_records(engine, write_csv(tmp_path / "thieu.csv", rows, header), book_type="birth", book=INFO)
    assert str(caught.value).startswith("thieu.csv: thiếu cột sex, birth_place (dòng tiêu đề)")
    assert "\n" not in str(caught.value) and counts(engine) == (0, 0)
    with pytest.raises(BadInput, match="--book-type 'births' không hợp lệ"):
        import_records(engine, write_csv(tmp_path / "ks.csv"), book_type="births", book=INFO)
    import_records(engine, tmp_path / "ks.csv", book_type="birth", book=INFO)
    with pytest.raises(BadInput, match="Sổ KS-HD-1968 là sổ birth, không phải death"):
        import_records(engine, tmp_path / "ks.csv", book_type="death", book=INFO)
    with pytest.raises(BadInput, match="cần --year, --volume"):
        import_records(engine, tmp_path / "ks.csv", book_type="birth",
                       book=BookInfo("", "Xã", "Huyện", "Tỉnh", "", "", "MOI-1"))


def test_reimport_changes_nothing_and_a_changed_cell_is_one_new_version(engine, tmp_path):
    path = write_csv(tmp_path / "ks.csv")
    import_records(engine, path, book_type="birth", book=INFO)
    before = counts(engine)
    again = import_records(engine, path, book_type="birth", book=INFO)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3) and counts(engine) == before
    rows = [list(r) for r in ROWS]
    rows[1][6] = "2/4/1968"  # KS-1978-002's birth date
    rows[0][6] = "12-03-1968"  # the same date written another way: no change
    changed = import_records(engine, write_csv(path, rows), book_type="birth", book=INFO)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 2)
    assert counts(engine) == (before[0], before[1] + 1)
    with session_scope(engine) as s:
        record = s.scalar(select(Record).where(Record.record_key == "KS-1978-002"))
        history = s.scalars(select(FieldValue).where(FieldValue.record_id == record.id,
                                                     FieldValue.field == "birth_date")
                            .order_by(FieldValue.version)).all()
    assert [(v.version, v.value, v.source, v.is_current) for v in history] == [
        (1, "1968-04-01", "import", False), (2, "1968-04-02", "import", True)]


def test_reviewer_correction_is_kept_and_reported(engine, tmp_path):
    path = write_csv(tmp_path / "ks.csv")
    import_records(engine, path, book_type="birth", book=INFO)
    with session_scope(engine) as s:
        record = s.scalar(select(Record).where(Record.record_key == "KS-1978-001"))
        save_field(s, record.id, "father_name", action="accept", text="Nguyễn Văn Bính",
                   expected_version=1, user="lan")
    # the same file again: the reviewer's value stands, nothing to report
    same = import_records(engine, path, book_type="birth", book=INFO)
    assert (same.unchanged, same.conflicts) == (3, [])
    rows = [list(r) for r in ROWS]
    rows[0][8] = "Nguyễn Văn Bỉnh"  # the commune retyped the father too
    rows[0][7] = "Xã Hưng Thịnh"
    outcome = import_records(engine, write_csv(path, rows), book_type="birth", book=INFO)
    assert outcome.conflicts == ["ks.csv dòng 2: KS-1978-001 · father_name: người duyệt đã sửa trường này, "
                                 "giữ giá trị của người duyệt"]
    current = fields_of(engine, "KS-1978-001")
    assert (current["father_name"].value, current["father_name"].source) == ("Nguyễn Văn Bính", "review")
    assert (current["birth_place"].value, current["birth_place"].version) == ("Xã Hưng Thịnh", 2)


@pytest.mark.backends("sqlite")
def test_approved_record_changed_by_import_goes_back_to_review(engine, tmp_path):
    path = write_csv(tmp_path / "ks.csv", ROWS[:1])
    import_records(engine, path, book_type="birth", book=INFO)
    with session_scope(engine) as s:
        s.scalar(select(Record)).status = "approved"
    rows = [list(ROWS[0])]
    rows[0][4] = "Nguyễn Văn Ân"
    import_records(engine, write_csv(path, rows), book_type="birth", book=INFO)
    with session_scope(engine) as s:
        record = s.scalar(select(Record))
        assert (record.status, record.lock_version) == ("needs_review", 1)


def test_imported_records_are_matched(engine, tmp_path):
    from pipeline.samplegen.linkage import generate_linkage

    data = generate_linkage(150, 1500, seed=5)
    data.citizens.to_csv(tmp_path / "dan_cu.csv", index=False)
    import_population(engine, tmp_path / "dan_cu.csv")
    typed = data.records.assign(registration_no=range(1, len(data.records) + 1))
    typed = typed[["record_id", "registration_no", "full_name", "sex", "birth_date", "birth_place",
                   "father_name", "father_age", "mother_name", "mother_age", "registration_date"]]
    typed.to_csv(tmp_path / "so.csv", index=False)
    outcome = import_records(engine, tmp_path / "so.csv", book_type="birth", book=INFO)
    assert outcome.inserted == len(typed)
    summary = match_books(engine, book_code="KS-HD-1968")
    assert summary.records == len(typed) and summary.auto >= len(typed) // 2
    truth = data.truth.set_index("record_id")["citizen_id"]
    frame = records_frame(engine, book_code="KS-HD-1968").set_index("record_id")
    linked = frame["citizen_id"].dropna()
    assert len(linked) == summary.auto
    assert (linked == truth.reindex(linked.index)).mean() >= 0.99
    with session_scope(engine) as s:
        assert s.scalar(select(func.count()).select_from(Link).where(Link.status == "auto")) == summary.auto


@pytest.mark.backends("sqlite")
def test_death_register_import(engine, tmp_path):
    header = ["record_id", "registration_no", "deceased_name", "sex", "death_date", "death_place", "cause",
              "registration_date", "notes"]
    rows = [["KT-1", "1", "Phan Văn Lộc", "Nam", "3/5/1970", "Xã Hưng Dũng", "Già yếu", "5/5/1970", ""]]
    info = BookInfo("", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", "1970", "1", "KT-HD-1970")
    outcome = import_records(engine, write_csv(tmp_path / "kt.csv", rows, header), book_type="death", book=info)
    assert outcome.inserted == 1
    fields = fields_of(engine, "KT-1")
    assert fields["death_date"].value == "1970-05-03" and fields["sex"].value == "M"
    assert records_frame(engine, book_code="KT-HD-1970")["record_id"].tolist() == ["KT-1"]


def test_cli_import(run, workspace, tmp_path):
    path = write_csv(tmp_path / "ks.csv", header=HEADER[:-1] + ["ghi chu"])
    book = ["--commune", "Hưng Dũng", "--district", "Hưng Nguyên", "--province", "Nghệ Tĩnh",
            "--year", "1968", "--volume", "1", "--book-id", "KS-HD-1968"]
    result = run("records", "import", path, "--book-type", "birth", *book)
    assert result.exit_code == 2  # registration_date is required: the header has "ghi chu" instead
    assert "ks.csv: thiếu cột registration_date (dòng tiêu đề)" in result.output
    write_csv(path)
    result = run("records", "import", path, "--book-type", "birth", *book)
    assert result.exit_code == 0, result.output
    assert "Đã nhập 3 bản ghi (3 mới, 0 cập nhật), 0 không đổi, 0 dòng lỗi, 0 xung đột." in result.output
    result = run("records", "import", path, "--book-type", "birth", "--book-id", "KS-HD-1968")
    assert "Đã nhập 0 bản ghi (0 mới, 0 cập nhật), 3 không đổi" in result.output
    assert run("records", "export", tmp_path / "out.csv", "--book", "KS-HD-1968").exit_code == 0
    assert pd.read_csv(tmp_path / "out.csv")["record_id"].tolist()[:2] == ["KS-1978-001", "KS-1978-002"]
    bad = run("records", "import", path, "--book-type", "hon-nhan", "--book-id", "KS-HD-1968")
    assert bad.exit_code == 2 and "--book-type 'hon-nhan' không hợp lệ" in bad.output


def test_names_as_the_books_write_them_are_cleaned_raw_kept(engine, tmp_path):
    """Issue 15: ages, glued words and slips in typed names; the age goes to its own field."""
    header = ["record_id", "registration_no", "full_name", "sex", "birth_date", "birth_place",
              "father_name", "mother_name", "registration_date"]
    rows = [["KS-15-1", "1", "Chu Minh Dũng", "Nam", "3/4/1968", "Xã Hưng Dũng", "Chu Quang Hưng (45t)",
             '"LưuThị Thanh, 33 tuổi"', "5/4/1968"],
            ["KS-15-2", "2", "NGUYỄU THI HOA", "Nữ", "17/4/1968", "Xã Hưng Dũng", "NGUYCN VĂN THÀNH (28t)",
             "24 tuổi", "20/4/1968"]]
    outcome = import_records(engine, write_csv(tmp_path / "ks15.csv", rows, header), book_type="birth",
                             book=INFO)
    assert (outcome.inserted, outcome.error_count) == (2, 0)
    first = fields_of(engine, "KS-15-1")
    assert {k: first[k].value for k in ("father_name", "father_age", "mother_name", "mother_age")} == {
        "father_name": "Chu Quang Hưng", "father_age": "45", "mother_name": "Lưu Thị Thanh", "mother_age": "33"}
    assert first["mother_name"].raw == "LưuThị Thanh, 33 tuổi" and first["mother_age"].raw == "33 tuổi"
    second = fields_of(engine, "KS-15-2")
    assert second["full_name"].value == "Nguyễn Thị Hoa" and second["full_name"].status == "uncertain"
    assert (second["father_name"].value, second["father_age"].value) == ("Nguyễn Văn Thành", "28")
    assert (second["mother_name"].value, second["mother_name"].status) == (None, "blank")
    assert (second["mother_age"].value, second["full_name"].raw) == ("24", "NGUYỄU THI HOA")
    again = import_records(engine, tmp_path / "ks15.csv", book_type="birth", book=INFO)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
