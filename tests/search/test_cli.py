"""`hotich search` through the real CLI, in a fresh SQLite workspace."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from pipeline.storage.db import make_engine, session_scope
from pipeline.storage.models import SearchTerm

from .conftest import add_book, add_record


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    """A result row on one line, as on a justice office's screen (CliRunner's is 80 wide)."""
    import cli

    monkeypatch.setattr(cli.console, "width", 200)


def _fill(workspace, *, refresh: bool = True) -> None:
    engine = make_engine(f"sqlite:///{workspace / 'hotich.db'}")
    with session_scope(engine) as s:
        book = add_book(s, "HD-KS-1968", "Hưng Dũng")
        add_record(s, book, 1, 1, refresh=refresh, full_name="Nguyễn Văn An", birth_date="1968-03-12",
                   father_name="Nguyễn Văn Bình", mother_name="Lê Thị Hoà")
        add_record(s, book, 1, 2, refresh=refresh, full_name="Nguyễn Văn Hùng", birth_date="1970-01-01",
                   father_name="Nguyễn Văn An", mother_name="Trần Thị Lan")
    engine.dispose()


def test_search_prints_a_vietnamese_table(run, workspace):
    assert run("init").exit_code == 0
    _fill(workspace)
    result = run("search", "nguyen van an 1968")
    assert result.exit_code == 0, result.output
    assert "Họ và tên" in result.output and "Họ tên cha" in result.output and "Điểm" in result.output
    lines = [line for line in result.output.splitlines() if "HD-KS-1968-p0001-r0" in line]
    assert "r01" in lines[0] and "Nguyễn Văn An" in lines[0] and "Hưng Dũng" in lines[0]
    assert len(lines) == 2  # the second only through its father's name


def test_limit_and_nothing_found(run, workspace):
    run("init")
    _fill(workspace)
    result = run("search", "nguyen", "--limit", "1")
    assert result.exit_code == 0 and result.output.count("HD-KS-1968-p0001-r0") == 1
    result = run("search", "xyzzy")
    assert result.exit_code == 0 and "Không tìm thấy" in result.output


def test_empty_query_is_a_one_line_error(run):
    result = run("search", "  ")
    assert result.exit_code == 2 and "Chưa nhập nội dung cần tìm" in result.output
    assert run("search", "an", "--limit", "0").exit_code == 2


def test_reindex_and_first_search_builds_the_index(run, workspace):
    run("init")
    _fill(workspace, refresh=False)
    first = run("search", "hung")
    assert first.exit_code == 0 and "lập lần đầu" in first.output and "Nguyễn Văn Hùng" in first.output
    engine = make_engine(f"sqlite:///{workspace / 'hotich.db'}")
    with session_scope(engine) as s:
        s.execute(delete(SearchTerm))
    engine.dispose()
    result = run("search", "--reindex")
    assert result.exit_code == 0 and "Đã lập chỉ mục tìm kiếm: 20 mục" in result.output
    again = run("search", "--reindex", "Hùng")
    assert again.exit_code == 0 and "20 mục" in again.output and "Nguyễn Văn Hùng" in again.output


def test_help(run):
    result = run("search", "--help")
    assert result.exit_code == 0 and "--reindex" in result.output and "năm sinh" in result.output
