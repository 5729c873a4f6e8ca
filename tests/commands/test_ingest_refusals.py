"""`hotich ingest` refuses what does not belong, in one Vietnamese line, leaving nothing behind.

Issue 18.4, through the real CLI with generated pages and real Tesseract.
"""

from __future__ import annotations

import sqlite3

import pytest

from pipeline.samplegen import BookSpec, generate_book

PLACE = ["--commune", "Hưng Tây", "--district", "Hưng Nguyên", "--province", "Nghệ An",
         "--year", "1967", "--volume", "1"]


@pytest.fixture(scope="module")
def death_ledger(tmp_path_factory):
    out = tmp_path_factory.mktemp("death_ledger")
    generate_book(BookSpec(seed=8, template="death_ledger", pages=1, degradation="moderate"), out)
    return out / "book.pdf"


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Lỗi:")]


def books(workspace) -> list[tuple]:
    db = workspace / "hotich.db"
    with sqlite3.connect(db) as conn:
        return conn.execute("select book_code, template from books order by id").fetchall()


def test_wrong_template_is_one_line_and_creates_nothing(run, workspace, death_ledger):
    result = run("ingest", death_ledger, "--template", "birth_form", *PLACE, "--book-id", "KS-1")
    assert result.exit_code == 2, result.output
    [line] = error_lines(result.output)
    assert "'death_ledger'" in line and "'birth_form'" in line and "--force-template" in line
    assert books(workspace) == []
    assert not (workspace / "scans").exists() or not any(p.is_file() for p in (workspace / "scans").rglob("*"))


def test_force_template_accepts(run, workspace, death_ledger):
    result = run("ingest", death_ledger, "--template", "birth_form", "--force-template", *PLACE,
                 "--book-id", "KS-1")
    assert result.exit_code == 0, result.output
    assert books(workspace) == [("KS-1", "birth_form")]


def test_missing_path_is_one_line_and_no_empty_book(run, workspace, tmp_path):
    result = run("ingest", tmp_path / "khong-co.pdf", "--template", "birth_form", *PLACE)
    assert result.exit_code == 2
    [line] = error_lines(result.output)
    assert "khong-co.pdf" in line and "Không tìm thấy" in line
    assert books(workspace) == []


def test_scan_of_another_book_names_it_and_also_in_accepts(run, workspace, death_ledger):
    assert run("ingest", death_ledger, "--template", "death_ledger", *PLACE, "--book-id", "KT-1").exit_code == 0
    again = run("ingest", death_ledger, "--template", "death_ledger", *PLACE, "--book-id", "KT-1")
    assert again.exit_code == 0 and "1 tệp đã có" in again.output  # idempotent
    refused = run("ingest", death_ledger, "--template", "death_ledger", *PLACE, "--book-id", "KT-2")
    assert refused.exit_code == 2
    [line] = error_lines(refused.output)
    assert "book.pdf đã có trong sổ KT-1" in line and "--also-in" in line
    assert books(workspace) == [("KT-1", "death_ledger")]
    accepted = run("ingest", death_ledger, "--template", "death_ledger", *PLACE, "--book-id", "KT-2",
                   "--also-in")
    assert accepted.exit_code == 0, accepted.output
    assert books(workspace) == [("KT-1", "death_ledger"), ("KT-2", "death_ledger")]
