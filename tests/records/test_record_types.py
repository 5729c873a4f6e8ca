"""`records export` / `records import` for all three book types (issue 18 item 1).

Each type exports SPEC §4's canonical columns, built from its templates; a file typed by a
commune imports; the export imports back and exports to the same bytes (CSV and XLSX, into the
same book and into a fresh workspace); `--field-status` adds a status per register field.
"""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select

from pipeline.errors import BadInput
from pipeline.export.records import export_records, records_frame
from pipeline.ingest import BookInfo
from pipeline import encodings
from pipeline.records_import import import_records
from pipeline.storage.db import init_db, make_engine, session_scope
from pipeline.storage.models import Citizen, FieldValue, Link, Record
from pipeline.storage.versions import current_values
from pipeline.templates import record_columns

# SPEC §4, copied verbatim: the contract the template-built columns must equal.
SPEC_COLUMNS = {
    "birth": "record_id, book_id, page, row, registration_no, volume, registration_date, full_name, "
             "sex, birth_date, birth_place, ethnicity, nationality, father_name, father_age, "
             "mother_name, mother_age, residence, declarant, notes, status, confidence, citizen_id, "
             "match_score",
    "marriage": "record_id, book_id, page, row, registration_no, volume, registration_date, "
                "husband_name, husband_birth, husband_ethnicity, husband_nationality, "
                "husband_residence, husband_citizen_id, husband_match_score, wife_name, wife_birth, "
                "wife_ethnicity, wife_nationality, wife_residence, wife_citizen_id, wife_match_score, "
                "notes, status, confidence",
    "death": "record_id, book_id, page, row, registration_no, volume, registration_date, "
             "deceased_name, sex, birth_date, death_date, death_place, cause, residence, declarant, "
             "notes, status, confidence, citizen_id, match_score",
}

# What communes type: their own spellings, dittos, ages where a date is expected, an empty cell.
TYPED = {
    "birth": (
        "record_id,registration_no,full_name,sex,birth_date,birth_place,father_name,father_age,"
        "mother_name,mother_age,registration_date,notes\n"
        "KS-1,1,nguyễn văn an,Nam,12/3/1975,Xã Hưng Dũng,Nguyễn Văn Bình,30,Lê Thị Hoà,28,20/3/1975,\n"
        "KS-2,2,Trần Thị Bé,nữ,khoảng mùa lúa,nt,Trần Văn Cường,,Phạm Thị Dung,25,2/4/1975,xóa 1 chữ\n"),
    "marriage": (
        "record_id,registration_no,husband_name,husband_birth,husband_ethnicity,husband_nationality,"
        "husband_residence,wife_name,wife_birth,wife_ethnicity,wife_nationality,wife_residence,"
        "registration_date,notes\n"
        "KH-1,1,nguyễn văn an,12/3/1950,Kinh,Việt Nam,Xã Hưng Dũng,Lê thị Hoà,25 tuổi,Kinh,Việt Nam,"
        "Xã Hưng Lộc,20/3/1975,\n"
        "KH-2,2,Trần Văn Bình,1948,Kinh,Việt Nam,nt,Phạm Thị Cúc,ngày 5 tháng 4 năm 1952,Tày,Việt Nam,nt,"
        "2/4/1975,xóa 2 chữ\n"),
    "death": (
        "record_id,registration_no,deceased_name,sex,birth_date,death_date,death_place,cause,residence,"
        "declarant,registration_date,notes\n"
        "KT-1,1,Phan Văn Lộc,Nam,1901,3/5/1975,Xã Hưng Dũng,Già yếu,Xã Hưng Dũng,Phan Văn Tâm,5/5/1975,\n"
        "KT-2,2,Hồ Thị Mai,nữ,70 tuổi,ngày 7 tháng 6 năm 1975,Bệnh viện huyện,ốm,nt,Hồ Văn Lâm,8/6/1975,"
        "cải chính ngày chết\n"),
}


def info(book_type: str) -> BookInfo:
    return BookInfo("", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", "1975", "1", f"HD-{book_type}-1975")


def typed_file(tmp_path, book_type: str, encoding: str = "utf-8"):
    path = tmp_path / f"{book_type}-{encoding}.csv"
    text = TYPED[book_type]
    path.write_bytes(encodings.encode(text, encoding) if encoding in encodings.LEGACY else text.encode(encoding))
    return path


def fresh_engine(tmp_path, name: str):
    engine = make_engine(f"sqlite:///{tmp_path / name}.db")
    init_db(engine)
    return engine


def values(engine, key: str) -> dict[str, FieldValue]:
    with session_scope(engine) as s:
        return current_values(s, s.scalar(select(Record.id).where(Record.record_key == key)))


@pytest.mark.parametrize("book_type", ["birth", "marriage", "death"])
def test_columns_are_specs_and_come_from_the_templates(engine, book_type):
    assert record_columns(book_type) == SPEC_COLUMNS[book_type].split(", ")
    empty = records_frame(engine, book_type=book_type)
    assert list(empty.columns) == SPEC_COLUMNS[book_type].split(", ")


@pytest.mark.parametrize("book_type", ["birth", "marriage", "death"])
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_import_export_gives_the_same_bytes(engine, tmp_path, book_type, suffix):
    """A commune's file imported, exported, imported back (same book; a fresh workspace, on
    SQLite whatever ``engine`` is) and exported again: byte for byte the first export."""
    code = info(book_type).book_code
    assert import_records(engine, typed_file(tmp_path, book_type), book_type=book_type,
                          book=info(book_type)).inserted == 2
    first = tmp_path / f"first{suffix}"
    assert export_records(engine, first, book_code=code, field_status=True) == 2

    again = import_records(engine, first, book_type=book_type, book=info(book_type))
    assert (again.inserted, again.updated, again.unchanged, again.errors, again.ignored_columns) == (0, 0, 2, [], [])
    same_book = tmp_path / f"same{suffix}"
    export_records(engine, same_book, book_code=code, field_status=True)
    assert same_book.read_bytes() == first.read_bytes()

    elsewhere = fresh_engine(tmp_path, "elsewhere")
    moved = import_records(elsewhere, first, book_type=book_type, book=info(book_type))
    assert (moved.inserted, moved.error_count, moved.ignored_columns) == (2, 0, [])
    second = tmp_path / f"second{suffix}"
    export_records(elsewhere, second, book_code=code, field_status=True)
    assert second.read_bytes() == first.read_bytes()


def test_marriage_export_has_both_spouses(engine, tmp_path):
    import_records(engine, typed_file(tmp_path, "marriage"), book_type="marriage", book=info("marriage"))
    frame = records_frame(engine, book_code="HD-marriage-1975").set_index("record_id")
    first, second = frame.loc["KH-1"], frame.loc["KH-2"]
    assert (first["husband_name"], first["husband_birth"], first["wife_name"]) == (
        "Nguyễn Văn An", "1950-03-12", "Lê Thị Hoà")
    assert (second["wife_birth"], second["wife_ethnicity"], second["notes"]) == ("1952-04-05", "Tày", "xóa 2 chữ")
    # dittos take the same column of the row above
    assert (second["husband_residence"], second["wife_residence"]) == ("Xã Hưng Dũng", "Xã Hưng Lộc")
    assert first["wife_birth"] == "25 tuổi"  # read but not understood: the text as written
    # No link by role yet: the spouses' citizen columns are there, empty, even when the record
    # has a link that does not say which spouse it is for.
    with session_scope(engine) as s:
        citizen = Citizen(citizen_id="040050001234", full_name="Nguyễn Văn An", name_key="nguyễn văn an",
                          name_folded="nguyen van an", sex="M", birth_year=1950)
        s.add(citizen)
        s.flush()
        record_id = s.scalar(select(Record.id).where(Record.record_key == "KH-1"))
        s.add(Link(record_id=record_id, citizen_pk=citizen.id, score=12.0, rank=1, status="confirmed"))
    frame = records_frame(engine, book_code="HD-marriage-1975").set_index("record_id")
    assert frame[["husband_citizen_id", "husband_match_score", "wife_citizen_id",
                  "wife_match_score"]].isna().all().all()


def test_death_export_has_the_deceased_and_the_link(engine, tmp_path):
    import_records(engine, typed_file(tmp_path, "death"), book_type="death", book=info("death"))
    with session_scope(engine) as s:
        record = s.scalar(select(Record).where(Record.record_key == "KT-1"))
        citizen = Citizen(citizen_id="040001001234", full_name="Phan Văn Lộc", name_key="phan văn lộc",
                          name_folded="phan van loc", sex="M", birth_year=1901)
        s.add(citizen)
        s.flush()
        s.add(Link(record_id=record.id, citizen_pk=citizen.id, score=14.5, rank=1, status="confirmed"))
    frame = records_frame(engine, book_code="HD-death-1975").set_index("record_id")
    row = frame.loc["KT-1"]
    assert (row["deceased_name"], row["death_date"], row["death_place"], row["cause"]) == (
        "Phan Văn Lộc", "1975-05-03", "Xã Hưng Dũng", "Già yếu")
    assert (row["citizen_id"], row["match_score"]) == ("040001001234", 14.5)
    assert pd.isna(frame.loc["KT-2", "citizen_id"])


@pytest.mark.parametrize("book_type", ["birth", "marriage", "death"])
def test_field_status_columns(engine, tmp_path, book_type):
    import_records(engine, typed_file(tmp_path, book_type), book_type=book_type, book=info(book_type))
    frame = records_frame(engine, book_code=info(book_type).book_code, field_status=True)
    canonical = record_columns(book_type)
    assert list(frame.columns[:len(canonical)]) == canonical
    fields = [c for c in canonical if c not in (
        "record_id", "book_id", "page", "row", "volume", "status", "confidence")
        and not c.endswith(("citizen_id", "match_score"))]
    assert list(frame.columns[len(canonical):]) == [f"{name}_status" for name in fields]
    statuses = set(frame[[f"{name}_status" for name in fields]].stack())
    assert statuses <= {"read", "uncertain", "illegible", "blank"} and "read" in statuses
    assert frame.loc[frame["record_id"].str.endswith("-1"), "notes_status"].tolist() == ["blank"]
    unsure = {"birth": ("KS-2", "birth_date"), "marriage": ("KH-1", "wife_birth"),
              "death": ("KT-2", "birth_date")}[book_type]
    row = frame.set_index("record_id").loc[unsure[0]]
    assert row[f"{unsure[1]}_status"] == "uncertain"


@pytest.mark.backends("sqlite")
@pytest.mark.parametrize("book_type", ["marriage", "death"])
@pytest.mark.parametrize("encoding", ["tcvn3", "vni", "cp1258"])
def test_commune_files_in_legacy_encodings(engine, tmp_path, book_type, encoding):
    outcome = import_records(engine, typed_file(tmp_path, book_type, encoding), book_type=book_type,
                             book=info(book_type))
    assert (outcome.inserted, outcome.error_count, outcome.encoding) == (2, 0, encoding)
    if book_type == "marriage":
        assert values(engine, "KH-1")["wife_name"].value == "Lê Thị Hoà"
        assert values(engine, "KH-2")["wife_ethnicity"].value == "Tày"
    else:
        assert values(engine, "KT-2")["deceased_name"].value == "Hồ Thị Mai"
        assert values(engine, "KT-2")["notes"].value == "cải chính ngày chết"


@pytest.mark.backends("sqlite")
def test_marriage_typed_in_excel(engine, tmp_path):
    path = tmp_path / "kh.xlsx"
    book = openpyxl.Workbook()
    lines = TYPED["marriage"].splitlines()
    for line in lines:
        book.active.append(line.split(","))
    book.save(path)
    outcome = import_records(engine, path, book_type="marriage", book=info("marriage"))
    assert (outcome.inserted, outcome.error_count) == (2, 0)
    assert values(engine, "KH-2")["husband_name"].value == "Trần Văn Bình"


@pytest.mark.backends("sqlite")
def test_a_marriage_file_without_the_spouses_is_refused(engine, tmp_path):
    path = tmp_path / "kh.csv"
    path.write_text("record_id,registration_no,registration_date\nKH-1,1,20/3/1975\n", encoding="utf-8")
    with pytest.raises(BadInput, match="thiếu cột husband_name, wife_name"):
        import_records(engine, path, book_type="marriage", book=info("marriage"))


@pytest.mark.backends("sqlite")
def test_several_types_in_one_export_ask_which(engine, tmp_path):
    for book_type in ("birth", "death"):
        import_records(engine, typed_file(tmp_path, book_type), book_type=book_type, book=info(book_type))
    with pytest.raises(BadInput) as asked:
        export_records(engine, tmp_path / "all.csv")
    assert "khai sinh, khai tử" in str(asked.value) and "--book-type" in str(asked.value)
    assert export_records(engine, tmp_path / "kt.csv", book_type="death") == 2
    assert "deceased_name" in (tmp_path / "kt.csv").read_text(encoding="utf-8").splitlines()[0]
    with pytest.raises(BadInput, match="là sổ khai tử, không phải khai sinh"):
        export_records(engine, tmp_path / "x.csv", book_code="HD-death-1975", book_type="birth")
