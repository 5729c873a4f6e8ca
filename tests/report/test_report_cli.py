"""`hotich report OUT.html` and `hotich status` on a seeded workspace (CliRunner)."""

from __future__ import annotations

from pipeline.settings import get_settings
from pipeline.storage.db import make_engine, session_scope

from report_helpers import seed_small


def _seed(run):
    assert run("init").exit_code == 0
    engine = make_engine(get_settings().database_url)
    with session_scope(engine) as s:
        seed_small(s)
    engine.dispose()


def test_report_command_writes_the_file(run, tmp_path):
    _seed(run)
    out = tmp_path / "bao-cao.html"
    result = run("report", out)
    assert result.exit_code == 0, result.output
    assert "Đã ghi báo cáo" in result.output and "3 sổ, 8 trang, 7 bản ghi" in result.output
    html = out.read_text(encoding="utf-8")
    assert "HL-KS-1978" in html and html.count('src="data:image/png;base64,') == 2


def test_report_into_a_folder_fails_with_one_line(run, tmp_path):
    result = run("report", tmp_path)
    assert result.exit_code == 2 and "là một thư mục" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_report_on_a_fresh_workspace(run, tmp_path):
    out = tmp_path / "r.html"
    assert run("report", out).exit_code == 0
    assert "Chưa có sổ nào" in out.read_text(encoding="utf-8")


def test_status_prints_the_report_figures(run):
    _seed(run)
    result = run("status")
    assert result.exit_code == 0, result.output
    out = result.output
    lines = out.splitlines()
    # every level, and book codes whole
    for text in ("Tỉnh Nghệ Tĩnh", "Huyện Hưng Nguyên", "Xã Nghi Phong", "HL-KS-1978", "NP-KS-1979",
                 "HL-KT-1980"):
        assert text in out, text
    book_rows = [line for line in lines if "HL-KS-1978" in line and "│" in line]
    cells = [c.strip() for c in book_rows[0].split("│")[2:-1]]
    # pages: all, done, needing attention, failed, pending
    assert cells == ["4", "2", "0", "1", "1"]
    # records, then each in exactly one state (issue 19 §9): waiting, postponed, ready,
    # reviewed, approved, which add up to the records; then exported, part of approved
    cells = [c.strip() for c in book_rows[1].split("│")[2:-1]]
    assert cells == ["5", "1", "1", "1", "1", "1", "1"]
    assert sum(int(c) for c in cells[1:6]) == int(cells[0])
    quality = book_rows[2]
    assert [c.strip() for c in quality.split("│")[2:-1]] == ["40,0 %", "6", "1", "1", "1", "4", "1"]
    flat = " ".join(out.split())
    assert "HL-KT-1980 scan.tif: tệp TIFF hỏng" in flat
    assert "NP-KS-1979 2 trang 2, 4: ảnh không đọc được" in flat
    assert "HL-KS-1978 R07: thiếu số đăng ký 4–7 (4 bản ghi) giữa trang 1 và trang 2" in flat


def test_a_misread_number_is_no_gap_in_status_nor_report(run, tmp_path):
    """Issue 19 §5: 11 read as 141 on the first row of a page announced "thiếu số đăng ký
    11–140 (130 bản ghi)"; it is a suspect value to review, and no gap."""
    from report_helpers import _book, _field, _record
    from pipeline.storage.seed import page_without_scan

    assert run("init").exit_code == 0
    engine = make_engine(get_settings().database_url)
    with session_scope(engine) as s:
        book = _book(s, "HD-KS-1972", "birth_form", "Hưng Dũng", "Vinh", "Nghệ Tĩnh", 1972)
        numbers = {1: ["9", "10"], 2: ["141", "12", "13"], 3: ["14"]}
        for page_no, values in numbers.items():
            page = page_without_scan(s, book, page_no, status="done")
            for row, value in enumerate(values, start=1):
                _field(s, _record(s, book, page, row, "extracted"), "registration_no", value, "read", 0.96)
    engine.dispose()
    result = run("status")
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert "thiếu số đăng ký" not in flat and "130 bản ghi" not in flat
    assert "số đăng ký 141 ở trang 2 dòng 1 không liền mạch" in flat and "cần xem lại" in flat
    out = tmp_path / "r.html"
    assert run("report", out).exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert "thiếu số đăng ký" not in html and "số đăng ký 141 ở trang 2 dòng 1" in html


def test_status_tables_are_never_cut_when_not_a_terminal(run):
    """Issue 19 §8: written to a pipe (CliRunner: no terminal, 80 columns) the tables ended
    their cells in "…" ("Tr…", "du…"); headers wrap at spaces and values stay whole."""
    _seed(run)
    out = run("status").output
    assert "…" not in out
    header = " ".join(line for line in out.splitlines() if "┃" in line)
    for word in ("Trang", "duyệt", "xuất", "Khớp", "thiếu"):
        assert word in header, word
    table_lines = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert len({len(line) for line in table_lines[:10]}) == 1  # one table, no line cropped
