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
    row = next(line for line in lines if "HL-KS-1978" in line and "│" in line)
    cells = [c.strip() for c in row.split("│")[2:-1]]
    # pages (all, done, needing attention, failed, pending), records, queue, approved, exported
    assert cells == ["4", "2", "0", "1", "1", "5", "1", "1", "1"]
    quality = [line for line in lines if "HL-KS-1978" in line and "│" in line][1]
    assert [c.strip() for c in quality.split("│")[2:-1]] == ["40,0 %", "6", "1", "1", "1", "4", "1"]
    flat = " ".join(out.split())
    assert "HL-KT-1980 scan.tif: tệp TIFF hỏng" in flat
    assert "NP-KS-1979 2 trang 2, 4: ảnh không đọc được" in flat
    assert "HL-KS-1978 R07: thiếu số đăng ký 4–7 (4 bản ghi) giữa trang 1 và trang 2" in flat
