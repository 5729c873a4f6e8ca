"""Population files built to hurt: huge cells, a quote never closed, digits that only look ASCII.

Each bad row is one line naming the file and the row; the rows around it are imported; nothing
stops the file with a traceback or costs memory in proportion to the bad cell.
"""

from __future__ import annotations

import tracemalloc

import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.errors import BadInput
from pipeline.match.population import MAX_CHARS, import_population
from pipeline.storage.models import Citizen
from pipeline.tables import MAX_CELL_CHARS, MAX_LINE_CHARS

HEADER = "citizen_id,full_name,sex,birth_date,birth_place,father_name,mother_name"
GOOD = ["040078001234,Nguyễn Văn An,Nam,1978-03-12,Xã Hưng Dũng,,",
        "040180002345,Trần Thị Bé,Nữ,1980-01-01,Xã Nghi Phú,,"]


def _write(path, *rows: str):
    path.write_text("\n".join([HEADER, GOOD[0], *rows, GOOD[1]]) + "\n", encoding="utf-8")
    return path


def _ids(engine) -> list[str]:
    with Session(engine) as s:
        return sorted(s.scalars(select(Citizen.citizen_id)))


def test_a_10_mb_name_is_one_row_error_in_bounded_memory(engine, tmp_path):
    huge = "Nguyễn " * (10 * 1024 * 1024 // 7)  # ~10 MB of a "name", Vietnamese letters
    path = _write(tmp_path / "to.csv", f"040066003456,{huge},Nam,1966,,,",
                  f'040066004567,"{huge}",Nam,1966,,,')  # quoted too
    tracemalloc.start()
    try:
        outcome = import_population(engine, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert outcome.errors == [f"to.csv dòng 3: dòng dài quá {MAX_LINE_CHARS} ký tự",
                              f"to.csv dòng 4: dòng dài quá {MAX_LINE_CHARS} ký tự"]
    assert _ids(engine) == ["040078001234", "040180002345"]
    assert peak < 8 * 1024 * 1024, peak  # the line is never held whole, let alone three times


def test_a_cell_over_its_limit_names_the_column_and_row(engine, tmp_path):
    path = _write(tmp_path / "dai.csv",
                  f"040066003456,{'A' * (MAX_CELL_CHARS + 1)},Nam,1966,,,",
                  f"040066004567,{'Lê Văn ' * 40}Tám,Nam,1966,,,",  # 283 characters: over the column
                  f"040066005678,Hồ Văn Ba,{'x' * 40},1966,,,")
    outcome = import_population(engine, path)
    assert outcome.errors == [
        f"dai.csv dòng 3: ô ở cột full_name dài {MAX_CELL_CHARS + 1} ký tự, tối đa {MAX_CELL_CHARS}",
        f"dai.csv dòng 4: cột full_name dài 283 ký tự, tối đa {MAX_CHARS['full_name']}",
        f"dai.csv dòng 5: cột sex dài 40 ký tự, tối đa {MAX_CHARS['sex']}",
    ]
    assert _ids(engine) == ["040078001234", "040180002345"]


def test_a_huge_xlsx_cell_is_a_row_error(engine, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    sheet.append(["040078001234", "Nguyễn Văn An", "Nam", "1978-03-12", "", "", ""])
    sheet.append(["040066003456", "Hồ Văn Ba", "Nam", "1966", "x" * 20000, "", ""])
    path = tmp_path / "dan_cu.xlsx"
    book.save(path)
    outcome = import_population(engine, path)
    assert outcome.errors == [f"dan_cu.xlsx dòng 3: ô ở cột birth_place dài 20000 ký tự, tối đa {MAX_CELL_CHARS}"]
    assert _ids(engine) == ["040078001234"]


@pytest.mark.parametrize("tail", [
    "x" * 200_000,  # the quoted field runs on and on: was "field larger than field limit"
    "\n".join(["y" * 30_000] * 4),  # over several lines, each under the line limit
    "",  # the last line of the file
])
def test_an_unclosed_quote_is_reported_by_line(engine, tmp_path, tail):
    path = tmp_path / "ngoac.csv"
    path.write_text("\n".join([HEADER, GOOD[0], GOOD[1], f'040066003456,"Hồ Văn Ba,Nam,1966,,,{tail}']) + "\n",
                    encoding="utf-8")
    outcome = import_population(engine, path)
    assert outcome.errors[0] in ('ngoac.csv dòng 4: dấu ngoặc kép (") không được đóng',
                                 f"ngoac.csv dòng 4: dòng dài quá {MAX_LINE_CHARS} ký tự")
    assert all(e.startswith("ngoac.csv dòng ") for e in outcome.errors)
    assert _ids(engine) == ["040078001234", "040180002345"]


def test_an_unclosed_quote_before_good_rows_loses_only_its_row(engine, tmp_path):
    rows = [f"0400660034{i:02d},Hồ Văn Ba {i},Nam,1966,,," for i in range(12)]
    path = tmp_path / "giua.csv"
    path.write_text("\n".join([HEADER, '040066009999,"Lê Văn Mở,Nam,1966,,,', *rows]) + "\n", encoding="utf-8")
    outcome = import_population(engine, path)
    assert outcome.errors == ['giua.csv dòng 2: dấu ngoặc kép (") không được đóng']
    assert outcome.inserted == 12


def test_a_broken_header_is_one_line(engine, tmp_path):
    path = tmp_path / "tieu_de.csv"
    path.write_text("x" * (MAX_LINE_CHARS + 10) + "\n" + GOOD[0] + "\n", encoding="utf-8")
    with pytest.raises(BadInput) as refused:
        import_population(engine, path)
    assert str(refused.value).splitlines() == [
        f"tieu_de.csv dòng 1 (tiêu đề): dòng dài quá {MAX_LINE_CHARS} ký tự — dòng đầu phải là tên các cột"]


@pytest.mark.parametrize("citizen_id", [
    "04007166091８",  # one full-width digit: int() read it as 040071660918
    "０４００７１６６０９１８",  # all full-width
    "٠٤٠٠٧١٦٦٠٩١٨",  # Arabic-Indic
    "०४००७१६६०९१८",  # Devanagari
])
def test_digits_other_than_ascii_are_refused_with_the_row(engine, tmp_path, citizen_id):
    path = _write(tmp_path / "so.csv", f"{citizen_id},Lê Văn Giả,Nam,1971,,,", "040071660918,Lê Văn Thật,Nam,1971,,,")
    outcome = import_population(engine, path)
    assert outcome.errors == ["so.csv dòng 3: số định danh có chữ số ngoài 0-9 (chữ số toàn khổ?)"]
    assert _ids(engine) == ["040071660918", "040078001234", "040180002345"]
    with Session(engine) as s:  # the real one is stored, not shadowed by the look-alike
        assert s.scalar(select(Citizen.full_name).where(Citizen.citizen_id == "040071660918")) == "Lê Văn Thật"


@pytest.mark.backends("sqlite")
def test_the_command_prints_the_lines_and_goes_on(run, tmp_path):
    path = _write(tmp_path / "dan_cu.csv", f'040066003456,"{"x" * 200_000}', "04007166091８,Lê Văn Giả,Nam,1971,,,")
    result = run("population", "import", path)
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert f"Bỏ qua dan_cu.csv dòng 3: dòng dài quá {MAX_LINE_CHARS} ký tự" in said
    assert "Bỏ qua dan_cu.csv dòng 4: số định danh có chữ số ngoài 0-9 (chữ số toàn khổ?)" in said
    assert "thêm 2" in result.output and "Traceback" not in result.output + result.stderr
