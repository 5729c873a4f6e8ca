"""Population import: encodings, broken rows, id checks, idempotence, XLSX, the CLI command."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest
from sqlalchemy import func, select

from pipeline import encodings
from pipeline.errors import BadInput, UnreadableFile
from pipeline.match import population
from pipeline.match.population import check_citizen_id, import_population
from pipeline.storage.models import Citizen

HEADER = "citizen_id,full_name,sex,birth_date,birth_place,father_name,mother_name"
ROWS = [
    ("040078001234", "Nguyễn Văn An", "Nam", "1978-03-12", "Xã Hưng Dũng", "Nguyễn Văn Bình", "Lê Thị Hoà"),
    ("040180002345", "Trần Thị Bé", "Nữ", "1980-01-01", "Xã Nghi Phú", "Trần Văn Cường", "Phạm Thị Dung"),
    ("040066003456", "Đặng Quốc Việt", "Nam", "1966", "Phường Trường Thi", "Đặng Văn Ẩn", "Hồ Thị Ước"),
    ("040175004567", "Bùi Thị Ngọc Ánh", "Nữ", "1975-12-30", "Xã Hưng Lộc", "", "Vũ Thị Thắm"),
]


def csv_text(rows=ROWS, header=HEADER) -> str:
    return "\n".join([header, *(",".join(r) for r in rows)]) + "\n"


def citizens(engine) -> dict[str, Citizen]:
    from sqlalchemy.orm import Session

    with Session(engine) as s:
        return {c.citizen_id: c for c in s.scalars(select(Citizen))}


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Citizen))


@pytest.mark.parametrize("name", encodings.LEGACY)
def test_each_legacy_encoding_imports_the_same_names(engine, tmp_path, name):
    path = tmp_path / f"dan_cu_{name}.csv"
    path.write_bytes(encodings.encode(csv_text(), name))
    outcome = import_population(engine, path)
    assert outcome.encoding == name
    assert outcome.inserted == len(ROWS) and outcome.error_count == 0
    stored = citizens(engine)
    assert [stored[r[0]].full_name for r in ROWS] == [r[1] for r in ROWS]
    assert stored["040066003456"].mother_name == "Hồ Thị Ước"
    assert stored["040078001234"].birth_place == "Xã Hưng Dũng"


def test_utf8_with_bom(engine, tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + csv_text().encode("utf-8"))
    outcome = import_population(engine, path)
    assert outcome.encoding == "utf-8-sig" and outcome.inserted == len(ROWS)


def test_tcvn3_font_text_saved_as_utf8_is_converted(engine, tmp_path):
    shown = encodings.encode(csv_text(), "tcvn3").decode("cp1252", errors="strict")
    path = tmp_path / "vntime.csv"
    path.write_text(shown, encoding="utf-8")
    outcome = import_population(engine, path)
    assert outcome.encoding == "utf-8:tcvn3"
    assert citizens(engine)["040180002345"].full_name == "Trần Thị Bé"


def test_file_in_no_known_encoding_is_one_clear_error(engine, tmp_path):
    path = tmp_path / "rac.csv"
    path.write_bytes(b"citizen_id,full_name\n" + bytes(range(0x80, 0x100)) * 40)
    with pytest.raises(UnreadableFile, match="rac.csv: không nhận ra bảng mã"):
        import_population(engine, path)
    assert count(engine) == 0


def test_broken_rows_are_reported_by_line_and_the_rest_kept(engine, tmp_path):
    lines = csv_text().splitlines()
    lines.insert(2, "040099009999,Lê Văn Thừa,Nam")  # line 3: too few fields
    lines.insert(4, '040099008888,"Hồ Văn Mở,Nam,1999,,,')  # line 5: a quote never closed
    lines.insert(5, "040099007777,Ngô Thị Dư,Nữ,1999,,,,extra")  # line 6: too many fields
    path = tmp_path / "hong.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    outcome = import_population(engine, path)
    assert outcome.inserted == len(ROWS)
    assert set(citizens(engine)) == {r[0] for r in ROWS}
    assert outcome.errors == [
        "hong.csv dòng 3: có 3 trường, dòng tiêu đề có 7 cột",
        'hong.csv dòng 5: dấu ngoặc kép (") không được đóng',
        "hong.csv dòng 6: có 8 trường, dòng tiêu đề có 7 cột",
    ]


def test_quoted_fields_with_commas_and_newlines_still_read(engine, tmp_path):
    path = tmp_path / "quoted.csv"
    path.write_text(HEADER + '\n040078001234,"Nguyễn Văn An",Nam,1978,"Xóm 3,\nXã Hưng Dũng",,\n'
                    "040180002345,Trần Thị Bé,Nữ,1980,,,\n", encoding="utf-8")
    outcome = import_population(engine, path)
    assert outcome.inserted == 2 and outcome.errors == []
    assert citizens(engine)["040078001234"].birth_place == "Xóm 3,\nXã Hưng Dũng"


def test_bad_bytes_late_in_a_utf8_file_lose_only_that_row(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(population, "SAMPLE_BYTES", 64)  # the bad byte lies past the sample
    data = csv_text().encode("utf-8").replace("Bùi".encode(), b"B\xf9i")
    path = tmp_path / "late.csv"
    path.write_bytes(data)
    outcome = import_population(engine, path)
    assert outcome.inserted == len(ROWS) - 1
    assert outcome.errors == ["late.csv dòng 5: có ký tự không đọc được (sai bảng mã?)"]


def test_duplicate_id_keeps_the_first_and_names_both_lines(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(population, "CHUNK_ROWS", 2)  # the duplicate lands in a later chunk
    rows = [*ROWS, ("040078001234", "Nguyễn Văn Khác", "Nam", "1978", "", "", "")]
    path = tmp_path / "trung.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    outcome = import_population(engine, path)
    assert outcome.errors == ["trung.csv dòng 6: số định danh trùng với dòng 2, giữ dòng 2"]
    assert citizens(engine)["040078001234"].full_name == "Nguyễn Văn An"
    assert outcome.inserted == len(ROWS)


def test_id_disagreeing_with_sex_or_year_is_a_warning_and_the_row_kept(engine, tmp_path):
    rows = [
        ("040178001234", "Nguyễn Văn An", "Nam", "1978-03-12", "", "", ""),  # digit 4 says female
        ("040081002345", "Trần Thị Bé", "Nữ", "1980-01-01", "", "", ""),  # male, born 1981
        ("999180003456", "Lê Thị Cúc", "Nữ", "1980", "", "", ""),  # no such province
        ("040280004567", "Hồ Văn Đức", "Nam", "2080", "", "", ""),  # consistent, 2000s male
    ]
    path = tmp_path / "canh_bao.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    outcome = import_population(engine, path)
    assert outcome.inserted == 4 and outcome.error_count == 0
    assert outcome.warnings == [
        "canh_bao.csv dòng 2: số định danh ghi giới tính nữ, cột giới tính ghi nam",
        "canh_bao.csv dòng 3: số định danh ghi giới tính nam, cột giới tính ghi nữ",
        "canh_bao.csv dòng 3: năm sinh trong số định danh khác ngày sinh",
        "canh_bao.csv dòng 4: 3 chữ số đầu của số định danh không phải mã tỉnh",
    ]


@pytest.mark.parametrize("cid, sex, year, ok", [
    ("001000000001", "M", 1900, True), ("001199000001", "F", 1999, True),
    ("001200000001", "M", 2000, True), ("001305000001", "F", 2005, True),
    ("001405000001", "M", 2105, True), ("001005000001", "M", 2005, False),
    ("001305000001", "M", 2005, False), ("001899000001", None, None, False),  # 2399: future
])
def test_century_and_sex_digit(cid, sex, year, ok):
    assert (check_citizen_id(cid, sex, year) == []) is ok


def test_non_12_digit_id_is_skipped(engine, tmp_path):
    rows = [*ROWS, ("12345", "Trần Thị Bé", "Nữ", "1978", "", "", "")]
    path = tmp_path / "id.csv"
    path.write_text(csv_text(rows), encoding="utf-8")
    outcome = import_population(engine, path)
    assert outcome.errors == ["id.csv dòng 6: số định danh không phải 12 chữ số"]


def test_missing_column_names_file_and_column_and_imports_nothing(engine, tmp_path):
    path = tmp_path / "thieu.csv"
    path.write_text(csv_text(header=HEADER.replace("full_name", "ho_ten")), encoding="utf-8")
    with pytest.raises(BadInput, match="thieu.csv: thiếu cột full_name"):
        import_population(engine, path)
    assert count(engine) == 0
    outcome = import_population(engine, path, mapping={"ho_ten": "full_name"})
    assert outcome.inserted == len(ROWS)


def test_reimport_changes_nothing_and_newer_extract_updates_in_place(engine, tmp_path):
    path = tmp_path / "v1.csv"
    path.write_text(csv_text(), encoding="utf-8")
    import_population(engine, path)
    before = {k: (c.id, c.full_name) for k, c in citizens(engine).items()}

    again = import_population(engine, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, len(ROWS))

    newer = [list(r) for r in ROWS]
    newer[1][1] = "Trần Thị Bích"
    newer.append(["040090005678", "Phan Văn Mới", "Nam", "1990", "", "", ""])
    path2 = tmp_path / "v2.csv"
    path2.write_text(csv_text([tuple(r) for r in newer]), encoding="utf-8")
    outcome = import_population(engine, path2)
    assert (outcome.inserted, outcome.updated, outcome.unchanged) == (1, 1, len(ROWS) - 1)
    after = citizens(engine)
    assert after["040180002345"].id == before["040180002345"][0]  # same row, updated in place
    assert after["040180002345"].full_name == "Trần Thị Bích"
    assert after["040180002345"].source_file == "v2.csv"
    assert count(engine) == len(ROWS) + 1


def test_extract_without_a_column_leaves_that_column_alone(engine, tmp_path):
    path = tmp_path / "full.csv"
    path.write_text(csv_text(), encoding="utf-8")
    import_population(engine, path)
    slim = tmp_path / "slim.csv"
    slim.write_text("citizen_id,full_name\n" + "".join(f"{r[0]},{r[1]}\n" for r in ROWS), encoding="utf-8")
    outcome = import_population(engine, slim)
    assert outcome.unchanged == len(ROWS)
    assert citizens(engine)["040078001234"].father_name == "Nguyễn Văn Bình"


def _xlsx(path, rows, header=HEADER.split(",")):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(list(row))
    book.save(path)


def test_xlsx_import_with_numbers_and_dates(engine, tmp_path):
    path = tmp_path / "dan_cu.xlsx"
    rows = [list(r) for r in ROWS]
    rows[0][0] = 40078001234  # typed as a number: Excel dropped the leading zero
    rows[1][3] = dt.datetime(1980, 1, 1)
    rows[3] = rows[3][:5]  # trailing empty cells not written
    _xlsx(path, rows)
    outcome = import_population(engine, path)
    assert outcome.encoding == "xlsx" and outcome.errors == []
    stored = citizens(engine)
    assert stored["040078001234"].full_name == "Nguyễn Văn An"
    assert stored["040180002345"].birth_date == "1980-01-01"
    assert stored["040175004567"].mother_name is None
    again = import_population(engine, path)
    assert again.unchanged == len(ROWS)


def test_xlsx_with_vntime_font_text_is_converted(engine, tmp_path):
    path = tmp_path / "vntime.xlsx"
    rows = [[encodings.encode(v, "tcvn3").decode("cp1252") for v in r] for r in ROWS]
    _xlsx(path, rows)
    outcome = import_population(engine, path)
    assert outcome.encoding == "xlsx:tcvn3"
    assert [citizens(engine)[r[0]].full_name for r in ROWS] == [r[1] for r in ROWS]


def test_xlsx_duplicate_and_bad_id_by_line(engine, tmp_path):
    path = tmp_path / "x.xlsx"
    _xlsx(path, [*ROWS, ROWS[0], ("abc", "Ai Đó", "Nam", "1970", "", "", "")])
    outcome = import_population(engine, path)
    assert outcome.errors == ["x.xlsx dòng 6: số định danh trùng với dòng 2, giữ dòng 2",
                              "x.xlsx dòng 7: số định danh không phải 12 chữ số"]


def test_cli_prints_the_encoding(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from cli import app

    monkeypatch.setenv("HOTICH_HOME", str(tmp_path / "ws"))
    monkeypatch.delenv("HOTICH_DB_URL", raising=False)
    path = tmp_path / "dan_cu.csv"
    path.write_bytes(encodings.encode(csv_text(), "vni"))
    result = CliRunner().invoke(app, ["population", "import", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Bảng mã: VNI-Windows" in result.output
    assert "thêm 4" in result.output
    forced = CliRunner().invoke(app, ["population", "import", str(path), "--encoding", "vni"])
    assert forced.exit_code == 0 and "không đổi 4" in forced.output
    bad = CliRunner().invoke(app, ["population", "import", str(path), "--encoding", "koi8"])
    assert bad.exit_code == 2 and "--encoding 'koi8' không hợp lệ" in bad.output


def test_vietnamese_headers_in_a_legacy_encoding_can_be_mapped(engine, tmp_path):
    header = "Số định danh,Họ và tên,Giới tính,Ngày sinh,Nơi sinh,Họ tên cha,Họ tên mẹ"
    path = tmp_path / "tieu_de.csv"
    path.write_bytes(encodings.encode(csv_text(header=header), "vni"))
    outcome = import_population(engine, path, mapping={
        "Số định danh": "citizen_id", "Họ và tên": "full_name", "Giới tính": "sex"})
    assert outcome.encoding == "vni" and outcome.inserted == len(ROWS)
    assert citizens(engine)["040078001234"].sex == "M"


def test_semicolon_separated_csv(engine, tmp_path):
    path = tmp_path / "cham_phay.csv"
    path.write_text(csv_text().replace(",", ";"), encoding="utf-8")
    assert import_population(engine, path).inserted == len(ROWS)
