"""Every command through the real CLI: exit codes, one-line errors, and what lands on disk."""

from __future__ import annotations

import csv
import re
import sqlite3

import openpyxl
import pytest
from PIL import Image

# the place and volume the book is ingested under, printed in its pages' header (which
# `process` checks against the book's)
HEADER = {"commune": "Hưng Dũng", "district": "Hưng Nguyên", "volume": 1}

BOOK = ["--template", "birth_form", "--commune", "Hưng Dũng", "--district", "Hưng Nguyên",
        "--province", "Nghệ Tĩnh", "--year", "1978", "--volume", "1", "--book-id", "HD-KS-1978-1"]


def test_help_is_vietnamese(run):
    result = run("--help")
    assert result.exit_code == 0 and "sổ hộ tịch" in result.output


def _flat(text: str) -> str:
    """The words of a rich panel, without its borders or line breaks."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_framework_messages_and_help_are_vietnamese(run):
    """Issue 19 §7: Click's and typer's own strings were English."""
    for args, words in (
            (("ingest",), ["Thiếu tham số 'paths'", "Cách dùng:", "ingest --help' để biết cách dùng", "Lỗi"]),
            (("bogus",), ["Không có lệnh 'bogus'"]),
            (("statu",), ["Có phải ý bạn là 'status'?"]),
            (("status", "--bogus"), ["Không có tùy chọn --bogus"]),
            (("search", "--limit", "abc", "x"), ["Giá trị không hợp lệ cho '--limit'", "số nguyên"])):
        result = run(*args)
        out = _flat(result.output)
        assert result.exit_code == 2, args
        for word in words:
            assert word in out, (args, out)
        for english in ("Missing", "No such", "Usage:", "Try '", "Error", "Invalid value", "Did you mean"):
            assert english not in out, (args, out)
    out = _flat(run("ingest", "--help").output)
    assert "Hiện hướng dẫn này rồi thoát" in out and "[bắt buộc]" in out and "Tùy chọn" in out
    for english in ("Show this message", "[required]", "list[Path]", "<str>", "<bool>", "Options",
                    "Arguments", "[OPTIONS]"):
        assert english not in out, english
    assert "LỆNH [THAM SỐ]" in _flat(run("records", "--help").output)


def test_option_values_are_checked(run, tmp_path):
    """Issue 19 §7: `--status bogus` exported 0 records with rc 0; `--workers -1` was taken."""
    assert run("init").exit_code == 0
    result = run("records", "export", tmp_path / "x.csv", "--status", "bogus")
    assert result.exit_code == 2 and "Trạng thái 'bogus' không hợp lệ" in result.output
    assert "approved" in result.output and not (tmp_path / "x.csv").exists()
    for command in (("process", "--workers", "-1"), ("demo", "--workers", "-1"),
                    ("search", "--limit", "0", "x")):
        result = run(*command)
        assert result.exit_code == 2 and "Giá trị không hợp lệ" in _flat(result.output), command


def test_init_creates_the_database_in_the_workspace(run, workspace):
    result = run("init")
    assert result.exit_code == 0, result.output
    tables = {r[0] for r in sqlite3.connect(workspace / "hotich.db").execute(
        "select name from sqlite_master where type='table'")}
    assert {"books", "pages", "records", "field_values", "citizens", "links", "audit_log"} <= tables
    assert run("init").exit_code == 0  # idempotent


def test_ingest_reports_bad_file_in_one_line_and_keeps_the_good(run, workspace, tmp_path):
    good = tmp_path / "p1.png"
    Image.new("RGB", (300, 400), "white").save(good)
    bad = tmp_path / "p2.pdf"
    bad.write_bytes(b"%PDF-1.7 not really")
    result = run("ingest", good, bad, *BOOK)
    assert result.exit_code == 1
    assert "p2.pdf: PDF hỏng" in result.output and "thêm 1 tệp, 1 trang" in result.output
    again = run("ingest", good, *BOOK)
    assert again.exit_code == 0 and "1 tệp đã có" in again.output


def test_unknown_template_is_a_one_line_error(run, tmp_path):
    page = tmp_path / "p.png"
    Image.new("RGB", (30, 40), "white").save(page)
    result = run("ingest", page, *[a if a != "birth_form" else "nope" for a in BOOK])
    assert result.exit_code == 2
    assert "Không có mẫu sổ 'nope'" in result.output and "birth_form" in result.output


def test_population_import_match_and_export(run, workspace, tmp_path):
    population = tmp_path / "dan_cu.csv"
    population.write_text(
        "So dinh danh,full_name,sex,birth_date,birth_place,father_name,mother_name\n"
        "040078001234,Nguyễn Văn An,M,1978-03-12,Hưng Dũng,Nguyễn Văn Bình,Lê Thị Hoà\n"
        "12345,Trần Thị Bé,F,1978-01-01,,,\n",
        encoding="utf-8",
    )
    result = run("population", "import", population, "--map", "So dinh danh=citizen_id")
    assert result.exit_code == 0, result.output
    assert "thêm 1" in result.output and "dòng 3" in result.output  # the bad id, by line
    assert "thêm 0" in run("population", "import", population, "--map", "So dinh danh=citizen_id").output
    assert run("match").exit_code == 0
    out = tmp_path / "records.xlsx"
    result = run("records", "export", out, "--field-status")
    assert result.exit_code == 0
    header = [c.value for c in next(openpyxl.load_workbook(out).active.iter_rows(max_row=1))]
    assert header[:6] == ["record_id", "book_id", "page", "row", "registration_no", "volume"]
    assert "full_name_status" in header


def test_population_without_required_columns(run, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,dob\nAn,1970\n", encoding="utf-8")
    result = run("population", "import", bad)
    assert result.exit_code == 2 and "thiếu cột citizen_id, full_name" in result.output


def test_records_export_csv_has_canonical_columns(run, tmp_path):
    out = tmp_path / "r.csv"
    assert run("records", "export", out).exit_code == 0
    with out.open(encoding="utf-8") as fh:
        assert next(csv.reader(fh))[-4:] == ["status", "confidence", "citizen_id", "match_score"]


def test_export_to_unknown_book_fails_cleanly(run, tmp_path):
    result = run("records", "export", tmp_path / "r.csv", "--book", "nope")
    assert result.exit_code == 4 and "Không có sổ 'nope'" in result.output


def test_status_lists_books_and_failures(run, tmp_path):
    assert "Chưa có sổ nào" in run("status").output
    bad = tmp_path / "scan.tif"
    bad.write_bytes(b"II*\x00garbage")
    run("ingest", bad, *BOOK)
    result = run("status")
    assert "HD-KS-1978-1" in result.output and "scan.tif" in result.output


def test_process_reads_a_generated_book(run, workspace, tmp_path):
    from pipeline.samplegen import BookSpec, generate_book

    truth = generate_book(BookSpec(**HEADER, seed=5, template="birth_form", pages=1, degradation="clean",
                                   face="typewriter", year=1978), tmp_path / "book")
    assert run("ingest", tmp_path / "book" / "book.pdf", *BOOK).exit_code == 0
    result = run("process", "--workers", "0")
    assert result.exit_code == 0, result.output
    assert "1 trang thành công, 0 trang lỗi; 3 bản ghi mới" in result.output
    with sqlite3.connect(workspace / "hotich.db") as conn:
        names = [r[0] for r in conn.execute(
            "select value from field_values where field='full_name' order by record_id")]
    assert names == [r.fields["full_name"].value for r in truth.records]
    assert "0 trang thành công" in run("process", "--workers", "0").output  # nothing left to do


def test_missing_tesseract_says_how_to_install(run, monkeypatch):
    import pytesseract

    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    result = run("process")
    assert result.exit_code == 3
    assert "apt-get install" in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_demo_runs_the_whole_chain_and_reports_accuracy(run, workspace):
    result = run("demo", "--workers", "2")
    assert result.exit_code == 0, result.output
    # Vietnamese number style ("97,4 %"), and the table's cells whole though not a terminal
    match = re.search(r"Độ chính xác trường \(giá trị chuẩn hóa\): ([\d,]+) %", result.output)
    assert match and float(match.group(1).replace(",", ".")) >= 90.0, result.output
    assert "…" not in result.output
    # the fields read wrong most often, by the label the book prints, not a column name
    worst = re.search(r"Trường sai nhiều nhất: (.*)", result.output)
    assert worst is None or not re.search(r"[a-z]+_[a-z]+", worst.group(1)), worst.group(1)
    rows = list(csv.DictReader((workspace / "exports" / "demo-records.csv").open(encoding="utf-8")))
    assert len(rows) == 39 and sum(1 for r in rows if r["citizen_id"]) >= 25
    status = run("status")
    assert "demo-form-2026" in status.output and "demo-ledger-2026" in status.output


def test_status_reports_the_numbers_of_a_lost_page(run, tmp_path):
    """Page 2 of a book never scanned: its registration numbers show up as a gap."""
    from pipeline.samplegen import BookSpec, generate_book

    truth = generate_book(BookSpec(**HEADER, seed=11, template="birth_form", pages=3, degradation="clean",
                                   face="typewriter"), tmp_path / "book")
    pages = tmp_path / "book" / "pages"
    assert run("ingest", pages / "page-001.png", pages / "page-003.png", *BOOK).exit_code == 0
    assert run("process", "--workers", "0").exit_code == 0
    lost = [int(r.fields["registration_no"].value) for r in truth.records if r.page == 2]
    output = " ".join(run("status").output.split())
    assert f"thiếu số đăng ký {min(lost)}–{max(lost)} ({len(lost)} bản ghi) giữa trang 1 và trang 2" \
        in output
