"""Book codes name folders: a hostile `--book-id` is refused before anything is written, and no
code, not even one stored before the rule, makes a path outside its folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from PIL import Image
from sqlalchemy import func, select, update

from pipeline.errors import BadInput
from pipeline.export.pages import export_pages
from pipeline.export.records import export_records
from pipeline.ingest import BookInfo, ingest_files, make_book_code, made_up_code
from pipeline.paths import (
    BOOK_CODE_MAX, BOOK_CODE_RULE, book_code_problem, book_dir_name, book_path, check_book_code, shown,
)
from pipeline.process import page_xml_path, persist_result
from pipeline.records_import import import_records
from pipeline.review.offline import export_review, image_dir_for
from pipeline.review.sample import seed_sample_book
from pipeline.settings import Settings
from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, Page
from pipeline.types import PageResult

TYPED = ("registration_no,registration_date,full_name,sex,birth_date,birth_place\n"
         "1,20/3/1968,Nguyễn Văn An,Nam,12/3/1968,Xã Hưng Dũng\n")
ABSOLUTE = "<absolute>"  # replaced by a path under the test's folder, to see what lands there
HOSTILE = ["../../../x", ABSOLUTE, "a/b", "", "x" * (BOOK_CODE_MAX + 1), "a\x00b", "..", "Sổ-1", "a b"]


def _info(code: str | None, template: str = "birth_form") -> BookInfo:
    return BookInfo(template, "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", "1978", "2", code)


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (300, 400), (240, 240, 240)).save(path, format="PNG")
    return path


def _files(root: Path) -> set[str]:
    """Every file under ``root`` but the test database's own (SQLite journals come and go)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and p.parent.name != "db" and not p.name.startswith("hotich.db")}


def _books(engine) -> int:
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(Book))


@pytest.fixture
def ws(tmp_path) -> Settings:
    """A workspace three folders down, so that ``../../../x`` from inside it is still under
    ``tmp_path``, where the test can see whether anything was written."""
    return Settings(home=tmp_path / "a" / "b" / "c" / "ws")


def _code(code: str, tmp_path: Path) -> str:
    return str(tmp_path / "abs" / "path") if code == ABSOLUTE else code


@pytest.mark.parametrize("code", HOSTILE)
def test_ingest_refuses_a_hostile_code_and_writes_nothing(engine, ws, tmp_path, code):
    code = _code(code, tmp_path)
    scan = _png(tmp_path / "in" / "p1.png")
    before = _files(tmp_path)
    with pytest.raises(BadInput) as refused:
        ingest_files(engine, ws, _info(code), [scan])
    message = str(refused.value)
    assert message.startswith(f"Mã sổ {shown(code)} không hợp lệ: ") and "\n" not in message
    assert "\x00" not in message and BOOK_CODE_RULE in message
    assert _books(engine) == 0
    assert _files(tmp_path) == before  # not the scan store, not ../../../x, not /abs/path
    assert not (tmp_path / "a" / "b" / "x").exists() and not (tmp_path / "abs").exists()


@pytest.mark.parametrize("code", HOSTILE)
def test_records_import_refuses_a_hostile_code_and_writes_nothing(engine, tmp_path, code):
    code = _code(code, tmp_path)
    table = tmp_path / "in" / "so.csv"
    table.parent.mkdir(parents=True)
    table.write_text(TYPED, encoding="utf-8")
    before = _files(tmp_path)
    with pytest.raises(BadInput) as refused:
        import_records(engine, table, book_type="birth", book=_info(code, ""))
    assert str(refused.value).startswith(f"Mã sổ {shown(code)} không hợp lệ: ")
    assert "\n" not in str(refused.value)
    assert _books(engine) == 0 and _files(tmp_path) == before


@pytest.mark.backends("sqlite")
def test_command_line_says_one_line_naming_the_code(run, tmp_path, monkeypatch):
    monkeypatch.setenv("HOTICH_HOME", str(tmp_path / "a" / "b" / "c" / "ws"))
    scan = _png(tmp_path / "in" / "p1.png")
    assert run("init").exit_code == 0
    before = _files(tmp_path)
    args = ["--template", "birth_form", "--commune", "Hưng Dũng", "--district", "Hưng Nguyên",
            "--province", "Nghệ Tĩnh", "--year", "1978", "--volume", "2"]
    result = run("ingest", scan, *args, "--book-id", "../../../x")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"Lỗi: Mã sổ '../../../x' không hợp lệ: có ký tự không được dùng: '/' — mã sổ gồm {BOOK_CODE_RULE}"]
    records = tmp_path / "in" / "so.csv"
    records.write_text("registration_no,full_name\n1,Nguyễn Văn An\n", encoding="utf-8")
    imported = run("records", "import", records, "--book-type", "birth", "--book-id", "/etc/x")
    assert imported.exit_code == 2 and "Mã sổ '/etc/x' không hợp lệ" in imported.stderr
    assert _files(tmp_path) == before | {"in/so.csv"}
    # The rule is in the help of both commands (typer wraps it; compare without the frame).
    for command in (["ingest"], ["records", "import"]):
        text = " ".join(w for w in run(*command, "--help").output.split() if w != "│")
        assert "không kết thúc bằng '.'; tối đa 64 ký tự" in text


def test_a_valid_code_names_its_folders_end_to_end(engine, ws, tmp_path):
    code = "HD-KS_1978.q2"
    outcome = ingest_files(engine, ws, _info(code), [_png(tmp_path / "in" / "p1.png")])
    assert (outcome.book_code, outcome.added_pages, outcome.failures) == (code, 1, [])
    with session_scope(engine) as s:
        page_id = s.scalar(select(Page.id))
    persist_result(engine, PageResult(page_id, width=300, height=400), None, home=ws.home)
    assert page_xml_path(ws.home, code, 1) == ws.home / "ocr" / code / "page-0001.xml"
    assert page_xml_path(ws.home, code, 1).is_file()
    summary = export_pages(engine, tmp_path / "out", fmt="page", book_code=code)
    assert [p.relative_to(tmp_path / "out").as_posix() for p in summary.files] == [f"{code}/page-0001.page.xml"]
    # records import into it by its code, and a typed book of its own with a valid code
    table = tmp_path / "in" / "so.csv"
    table.write_text(TYPED, encoding="utf-8")
    assert import_records(engine, table, book_type="birth", book=_info("KS.HD-1968", "")).inserted == 1
    assert _books(engine) == 2


def test_made_up_codes_follow_the_rule_and_find_books_made_before_it(engine, ws):
    long = BookInfo("birth_form", "Thị trấn Phước Bửu Xuyên Mộc", "Thành phố Buôn Ma Thuột",
                    "Bà Rịa – Vũng Tàu", "1976 – 1980", "12/3")
    code = make_book_code(long, "marriage")
    assert book_code_problem(code) is None and len(code) == BOOK_CODE_MAX
    assert code == make_book_code(long, "marriage")  # the same book, the same code
    en_dash = BookInfo("", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", "1976–1980", "2")
    assert make_book_code(en_dash, "birth") == "nghe-tinh-hung-nguyen-hung-dung-birth-1976-1980-q2"
    # A book an older version made with the en dash is found again, not made twice.
    older = "nghe-tinh-hung-nguyen-hung-dung-birth-1976–1980-q2"
    with session_scope(engine) as s:
        s.add(Book(book_code=older, book_type="birth", template="birth_form", commune="Hưng Dũng",
                   district="Hưng Nguyên", province="Nghệ Tĩnh", year_from=1976, year_to=1980, volume="2"))
    with session_scope(engine) as s:
        assert made_up_code(s, en_dash, "birth") == older


def test_a_hostile_code_stored_before_the_rule_stays_inside_every_folder(engine, tmp_path):
    """A database may hold any code: the book keeps working and every file lands in its place."""
    ws = Settings(home=tmp_path / "a" / "b" / "c" / "ws")
    sample = seed_sample_book(engine, ws, with_population=False)
    hostile = "../../../evil"
    with session_scope(engine) as s:
        s.execute(update(Book).where(Book.book_code == sample.book_code).values(book_code=hostile))
    before = _files(tmp_path)

    # Ingesting more pages into the existing book is allowed; processing writes its PAGE XML.
    ingest_files(engine, ws, _info(hostile), [_png(tmp_path / "in" / "p2.png")])
    with session_scope(engine) as s:
        page_id = s.scalar(select(Page.id).where(Page.page_no == 2))
    persist_result(engine, PageResult(page_id, width=300, height=400), None, home=ws.home)
    # Archive XML, the offline review package, the records export.
    pages = export_pages(engine, tmp_path / "out" / "pages", fmt="alto", book_code=hostile)
    package = tmp_path / "out" / "duyet.xlsx"
    assert export_review(engine, ws, package, book_code=hostile).rows > 0
    export_records(engine, tmp_path / "out" / "records.csv", book_code=hostile)

    folder = book_dir_name(hostile)
    assert "/" not in folder and "~" in folder and not folder.startswith(".")
    new = _files(tmp_path) - before
    allowed = (f"a/b/c/ws/ocr/{folder}/", "a/b/c/ws/scans/", "a/b/c/ws/cache/", f"out/pages/{folder}/",
               f"out/{image_dir_for(package).name}/", "out/duyet.xlsx", "out/records.csv", "in/")
    assert new and all(n.startswith(allowed) for n in new), sorted(new)
    assert f"a/b/c/ws/ocr/{folder}/page-0002.xml" in new
    assert [p.parent.name for p in pages.files] == [folder, folder]
    assert not (tmp_path / "a" / "b" / "evil").exists() and not (tmp_path / "evil").exists()
    images = [p.name for p in image_dir_for(package).iterdir()]
    assert f"trang_{folder}_0001.jpg" in images and all("/" not in n for n in images)


@hsettings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200)
       | st.text(alphabet="./\\:\x00 -_~aZ09", max_size=80))
def test_the_book_folder_is_always_one_plain_name_inside_its_parent(code):
    root = Path("/srv/hotich/ocr")
    path = book_path(root, code)
    name = path.name
    assert path.parent == root and name not in ("", ".", "..")
    assert os.path.normpath(path).startswith(str(root) + os.sep)
    assert name.isascii() and name.isprintable() and not set(name) & set("/\\:\x00 ")
    assert not name.startswith((".", "-")) and not name.endswith(".") and len(name) <= 120
    assert name.split(".")[0].upper() not in ("CON", "PRN", "AUX", "NUL", "COM1", "LPT1")
    if book_code_problem(code) is None:
        assert name == code == check_book_code(code)  # a valid code is its own folder
    else:
        assert "~" in name  # never taken for a valid code's folder


@hsettings(max_examples=300, deadline=None)
@given(st.text(max_size=30), st.text(max_size=30))
def test_two_codes_never_share_a_folder(a, b):
    if a != b:
        assert book_dir_name(a) != book_dir_name(b)


@hsettings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.text(max_size=40), st.text(max_size=40), st.text(max_size=12),
       st.text(max_size=12), st.sampled_from(["birth", "marriage", "death"]))
def test_a_made_up_code_always_follows_the_rule(commune, district, province, year, volume, book_type):
    code = make_book_code(BookInfo("", commune, district, province, year, volume), book_type)
    assert book_code_problem(code) is None
