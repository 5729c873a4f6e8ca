"""Register a book and its scan files: originals stored once by content hash, pages numbered.

Ingesting is idempotent: a file already in the book (same SHA-256) adds nothing, a file that
failed before is inspected again, so re-running the same command is how a failure is retried.
Page numbers follow the order the files were given in and the pages within each file.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from pipeline.errors import BadInput, HotichError
from pipeline.paths import BOOK_CODE_MAX, book_code_problem, check_book_code
from pipeline.scans import SUPPORTED_SUFFIXES, inspect_scan
from pipeline.settings import Settings
from pipeline.storage.audit import audit
from pipeline.storage.db import session_scope
from pipeline.storage.models import Book, Page, SourceFile
from pipeline.templates import load_template


@dataclass(frozen=True)
class BookInfo:
    template: str
    commune: str
    district: str
    province: str
    year: str  # "1978" or "1976-1980"
    volume: str
    book_code: str | None = None


AUTO = "auto"


@dataclass
class IngestOutcome:
    book_code: str
    template: str = ""
    added_files: int = 0
    added_pages: int = 0
    already_present: int = 0
    failures: list[str] = field(default_factory=list)  # one line each, naming the file


def slug(text: str) -> str:
    """ASCII slug of a Vietnamese place name, for made-up book codes: ``Hưng Dũng`` → ``hung-dung``."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def parse_years(year: str) -> tuple[int | None, int | None]:
    match = re.fullmatch(r"\s*(\d{4})\s*(?:[-–]\s*(\d{4}))?\s*", year or "")
    if not match:
        raise BadInput(f"Năm sổ không hợp lệ: '{year}'", hint="ví dụ --year 1978 hoặc --year 1976-1980")
    first = int(match.group(1))
    return first, int(match.group(2) or first)


def make_book_code(info: BookInfo, book_type: str) -> str:
    """A code from the book's place, type, years and volume, always within the book-code rule.

    A code too long for the rule (long place names) keeps its first characters and ends with
    a short hash of the whole, so the same book always gets the same code.

        >>> make_book_code(BookInfo("", "Hưng Dũng", "Hưng Nguyên", "Nghệ Tĩnh", "1976–1980", "2"), "birth")
        'nghe-tinh-hung-nguyen-hung-dung-birth-1976-1980-q2'
    """
    parts = [slug(info.province), slug(info.district), slug(info.commune), book_type,
             slug(info.year), f"q{slug(info.volume) or '1'}"]
    code = "-".join(p for p in parts if p)
    if len(code) > BOOK_CODE_MAX:
        digest = hashlib.sha256(code.encode()).hexdigest()[:6]
        code = f"{code[:BOOK_CODE_MAX - 7].rstrip('-.')}-{digest}"
    return code


def made_up_code(session, info: BookInfo, book_type: str) -> str:
    """``make_book_code``'s code, or the one versions before the book-code rule made for the
    same options (an en dash kept, no length limit) when a book already has it."""
    code = make_book_code(info, book_type)
    older = "-".join(p for p in [slug(info.province), slug(info.district), slug(info.commune), book_type,
                                 info.year.replace(" ", ""), f"q{slug(info.volume) or '1'}"] if p)
    if older != code and session.scalar(select(Book.id).where(Book.book_code == older)) is not None:
        return older
    return code


def _check_code(db: Engine, code: str | None) -> None:
    """Refuse a code that may not name a new book, before anything is read or written; the
    code of a book already stored is accepted as it is (see ``pipeline.paths.book_dir_name``)."""
    if code is None or book_code_problem(code) is None:
        return
    if "\x00" not in code:  # never stored (PostgreSQL cannot hold it, nor be asked for it)
        with session_scope(db) as session:
            if session.scalar(select(Book.id).where(Book.book_code == code)) is not None:
                return
    check_book_code(code)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files in the order given; a folder contributes its scans sorted by name, recursively."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES))
        else:
            out.append(path)
    return out


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def store_original(path: Path, sha: str, store: Path) -> Path:
    """Copy a scan into the store under its hash; an existing copy is never rewritten."""
    target = store / sha[:2] / f"{sha}{path.suffix.lower()}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
    os.close(fd)
    try:
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)  # atomic: a killed copy never leaves a half file under the hash
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def get_or_create_book(db: Engine, info: BookInfo) -> str:
    template = load_template(info.template)
    year_from, year_to = parse_years(info.year)
    with session_scope(db) as session:
        code = info.book_code or made_up_code(session, info, template.book_type)
        book = session.scalar(select(Book).where(Book.book_code == code))
        if book is None:
            check_book_code(code)
            session.add(Book(
                book_code=code, book_type=template.book_type, template=template.name,
                commune=info.commune, district=info.district, province=info.province,
                year_from=year_from, year_to=year_to, volume=info.volume,
            ))
            audit(session, "system:ingest", "book.create", "book", code)
        elif book.template != template.name:
            raise BadInput(
                f"Sổ {code} đã đăng ký với mẫu '{book.template}', không phải '{template.name}'"
            )
    return code


def ingest_files(
    db: Engine,
    settings: Settings,
    info: BookInfo,
    paths: Iterable[Path],
    *,
    on_file: Callable[[Path, str | None], None] | None = None,
) -> IngestOutcome:
    """Add scan files to a book. ``on_file(path, error_or_None)`` reports progress per file.

    ``info.template == "auto"`` picks the template from the first readable page (the book's
    own template when the book already exists).
    """
    _check_code(db, info.book_code)
    files = expand_paths(paths)
    if info.template == AUTO:
        info = replace(info, template=resolve_auto_template(db, settings, info, files))
    code = get_or_create_book(db, info)
    outcome = IngestOutcome(book_code=code, template=info.template)
    store = settings.scan_store
    for path in files:
        error = _ingest_one(db, settings, code, path, store, outcome)
        if error:
            outcome.failures.append(error)
        if on_file:
            on_file(path, error)
    return outcome


def resolve_auto_template(db: Engine, settings: Settings, info: BookInfo, files: list[Path]) -> str:
    """The template named by the first page that can be read, or the existing book's."""
    from pipeline.ocr.classify import detect_template
    from pipeline.scans import render_page, single_page_bytes

    if info.book_code:
        with session_scope(db) as session:
            book = session.scalar(select(Book).where(Book.book_code == info.book_code))
            if book is not None:
                return book.template
    dpi = 200  # enough for a title and a grid, and quick on an old PC
    for path in files:
        try:
            scan = inspect_scan(path, max_pixels=settings.max_pixels, dpi=dpi)
            data = single_page_bytes(path, scan.media_type, 0)
            image = render_page(data, scan.media_type, name=path.name, dpi=dpi, max_pixels=settings.max_pixels)
        except HotichError:
            continue  # reported as usual when the file itself is ingested
        return detect_template(image, dpi=dpi if scan.media_type == "application/pdf" else None).template
    raise BadInput("Không có trang nào đọc được để nhận ra loại sổ", hint="hãy chỉ rõ --template")


def _ingest_one(db: Engine, settings: Settings, code: str, path: Path, store: Path,
                outcome: IngestOutcome) -> str | None:
    if not path.is_file():
        return f"{path}: không tìm thấy tệp"
    try:
        sha = sha256_of(path)
    except OSError as exc:
        return f"{path.name}: không đọc được tệp ({exc.strerror})"
    with session_scope(db) as session:
        book = session.scalar(select(Book).where(Book.book_code == code))
        existing = session.scalar(
            select(SourceFile).where(SourceFile.book_id == book.id, SourceFile.sha256 == sha)
        )
        if existing is not None and existing.status == "ok":
            outcome.already_present += 1
            return None
        try:
            info = inspect_scan(path, max_pixels=settings.max_pixels, dpi=settings.render_dpi)
            stored = store_original(path, sha, store)
        except HotichError as exc:
            _record_failure(session, book, existing, path, sha, str(exc))
            return str(exc)
        if existing is None:
            position = (session.scalar(
                select(func.max(SourceFile.position)).where(SourceFile.book_id == book.id)
            ) or 0) + 1
            existing = SourceFile(book_id=book.id, position=position, sha256=sha,
                                  original_name=path.name, size_bytes=path.stat().st_size)
            session.add(existing)
        existing.stored_path = str(stored.relative_to(settings.home))  # the workspace may move
        existing.media_type = info.media_type
        existing.page_count = info.page_count
        existing.status, existing.error = "ok", None
        session.flush()
        next_no = (session.scalar(select(func.max(Page.page_no)).where(Page.book_id == book.id)) or 0) + 1
        for index in range(info.page_count):
            session.add(Page(book_id=book.id, source_file_id=existing.id, index_in_file=index,
                             page_no=next_no + index, status="pending"))
        audit(session, "system:ingest", "file.ingest", "source_file", sha,
              book=code, pages=info.page_count)
        outcome.added_files += 1
        outcome.added_pages += info.page_count
    return None


def _record_failure(session, book: Book, existing: SourceFile | None, path: Path, sha: str, error: str) -> None:
    """Keep the failure in the database, so `status` lists it and a re-run retries it."""
    if existing is None:
        position = (session.scalar(
            select(func.max(SourceFile.position)).where(SourceFile.book_id == book.id)
        ) or 0) + 1
        existing = SourceFile(book_id=book.id, position=position, sha256=sha, original_name=path.name,
                              stored_path="", media_type="", size_bytes=path.stat().st_size, page_count=0)
        session.add(existing)
    existing.status, existing.error = "failed", error
    audit(session, "system:ingest", "file.failed", "source_file", sha, book=book.book_code)
