"""`hotich records export` / `records import` for marriage and death books (issue 18 item 1)."""

from __future__ import annotations

import pytest

from records.test_record_types import SPEC_COLUMNS, typed_file

PLACE = ["--commune", "Hưng Dũng", "--district", "Hưng Nguyên", "--province", "Nghệ Tĩnh",
         "--year", "1975", "--volume", "1"]


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Lỗi:")]


@pytest.mark.parametrize("book_type", ["marriage", "death"])
@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_round_trip_through_the_cli(run, workspace, tmp_path, book_type, suffix):
    code = f"HD-{book_type}-1975"
    typed = typed_file(tmp_path, book_type, "tcvn3" if suffix == ".csv" else "utf-8")
    result = run("records", "import", typed, "--book-type", book_type, "--book-id", code, *PLACE)
    assert result.exit_code == 0 and "2 mới" in result.output, result.output
    first = tmp_path / f"first{suffix}"
    assert run("records", "export", first, "--book", code, "--field-status").exit_code == 0
    again = run("records", "import", first, "--book-type", book_type, "--book-id", code)
    assert again.exit_code == 0 and "2 không đổi" in again.output, again.output
    assert "Bỏ qua cột" not in again.output
    second = tmp_path / f"second{suffix}"
    assert run("records", "export", second, "--book", code, "--field-status").exit_code == 0
    assert second.read_bytes() == first.read_bytes()
    if suffix == ".csv":
        header = first.read_text(encoding="utf-8").splitlines()[0].split(",")
        assert header[:len(SPEC_COLUMNS[book_type].split(", "))] == SPEC_COLUMNS[book_type].split(", ")


def test_several_book_types_need_book_or_book_type(run, workspace, tmp_path):
    for book_type in ("marriage", "death"):
        assert run("records", "import", typed_file(tmp_path, book_type), "--book-type", book_type,
                   "--book-id", f"HD-{book_type}-1975", *PLACE).exit_code == 0
    result = run("records", "export", tmp_path / "all.csv")
    assert result.exit_code == 2
    [line] = error_lines(result.output)
    assert "kết hôn, khai tử" in line and "--book-type" in line
    result = run("records", "export", tmp_path / "kh.csv", "--book-type", "marriage")
    assert result.exit_code == 0 and "Đã xuất 2 bản ghi" in result.output
