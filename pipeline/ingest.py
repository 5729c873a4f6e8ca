"""Register a book and its scan files: originals stored once by content hash, pages numbered.

Ingesting is idempotent: a file already in the book (same SHA-256) adds nothing, a file that
failed before is inspected again, so re-running the same command is how a failure is retried.
Page numbers follow the order the files were given in and the pages within each file.

What does not belong to the book is refused before anything is created or copied (``admit``):
a path that does not exist, a template the first new page's printed title and ruled grid
contradict (``--force-template`` overrides; a page the detector cannot place is accepted with
a warning), a scan already registered in another book (``--also-in`` accepts it).
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
from pipeline.templates import BOOK_TYPE_NAMES, load_template


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
    warnings: list[str] = field(default_factory=list)  # accepted, but the user should know


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


def get_or_create_book(db: Engine, info: BookInfo, **details) -> str:
    """The book's code, the book created first when it does not exist (``details`` go into
    the creation's audit entry, e.g. how the template was checked)."""
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
            audit(session, "system:ingest", "book.create", "book", code, **details)
        elif book.template != template.name:
            raise _template_conflict(code, book.template, template.name)
    return code


def _template_conflict(code: str, registered: str, given: str) -> BadInput:
    return BadInput(f"Sổ {code} đã đăng ký với mẫu '{registered}', không phải '{given}'")


def ingest_files(
    db: Engine,
    settings: Settings,
    info: BookInfo,
    paths: Iterable[Path],
    *,
    force_template: bool = False,
    also_in: bool = False,
    on_file: Callable[[Path, str | None], None] | None = None,
) -> IngestOutcome:
    """Add scan files to a book. ``on_file(path, error_or_None)`` reports progress per file.

    ``info.template == "auto"`` picks the template from the first readable page (the book's
    own template when the book already exists). A named template is checked against the first
    new page the same way, so that a death ledger is not read as birth forms; ``force_template``
    skips that check. What does not belong is refused before anything is created or copied:
    a path that does not exist, a template the page contradicts, a scan already registered in
    another book (unless ``also_in``: an archive really holding one scan in two books).
    """
    admitted = admit(db, settings, info, paths, force_template=force_template, also_in=also_in)
    info = admitted.info
    code = get_or_create_book(db, info, template_check=admitted.check)
    outcome = IngestOutcome(book_code=code, template=info.template, warnings=admitted.warnings)
    store = settings.scan_store
    for path in admitted.files:
        sha = admitted.hashes.get(path)
        error = _ingest_one(db, settings, code, path, store, outcome,
                            sha=sha, also_in=admitted.others.get(sha, []))
        if error:
            outcome.failures.append(error)
        if on_file:
            on_file(path, error)
    return outcome


@dataclass
class Admission:
    """What the checks before an ingest found: nothing is written until all of them passed."""

    info: BookInfo  # with the template resolved when it was "auto"
    files: list[Path]
    hashes: dict[Path, str]
    others: dict[str, list[str]]  # sha → other books holding it (with ``also_in``)
    check: str  # how the template was checked: match / match-type / unsure / forced / detected / nothing-new
    warnings: list[str]


def admit(db: Engine, settings: Settings, info: BookInfo, paths: Iterable[Path], *,
          force_template: bool = False, also_in: bool = False) -> Admission:
    """Every refusal of ``ingest_files``, cheapest first, the page read (OCR) last."""
    _check_code(db, info.book_code)
    paths = list(paths)
    files = expand_paths(paths)
    check_paths(paths, files)
    warnings: list[str] = []
    detected = info.template == AUTO
    if detected:
        info = replace(info, template=resolve_auto_template(db, settings, info, files))
    code = planned_code(db, info)
    hashes = hash_files(files)
    new_files = files_new_to_book(db, code, hashes)
    others = refuse_scans_of_other_books(db, code, {p: hashes[p] for p in new_files}, also_in=also_in)
    if detected:
        check = "detected"
    elif force_template:
        check = "forced"
    else:
        check = check_template(settings, info.template, new_files, warnings)
    return Admission(info, files, hashes, others, check, warnings)


def check_paths(given: Iterable[Path], files: list[Path]) -> None:
    """Refuse a path that does not exist, or nothing to ingest at all, before any book exists:
    a typo in a path must not leave an empty book behind."""
    missing = [path for path in given if not path.exists()]
    if missing:
        more = f" (và {len(missing) - 1} đường dẫn khác)" if len(missing) > 1 else ""
        raise BadInput(f"Không tìm thấy '{missing[0]}'{more}; chưa nhập gì",
                       hint="kiểm tra lại đường dẫn")
    if not files:
        raise BadInput("Không có tệp quét nào (PDF, TIFF, JPEG, PNG) trong "
                       + ", ".join(f"'{p}'" for p in given) + "; chưa nhập gì")


def planned_code(db: Engine, info: BookInfo) -> str:
    """The code the book will have, without creating it; a book already registered under
    another template is refused here, before any page is read."""
    template = load_template(info.template)
    with session_scope(db) as session:
        code = info.book_code or made_up_code(session, info, template.book_type)
        registered = session.scalar(select(Book.template).where(Book.book_code == code))
    if registered is not None and registered != template.name:
        raise _template_conflict(code, registered, template.name)
    return code


def hash_files(files: list[Path]) -> dict[Path, str]:
    """SHA-256 of every readable file, computed once: the checks and the ingest share it.
    A file that cannot be read is left out and reported when it is ingested."""
    hashes: dict[Path, str] = {}
    for path in files:
        try:
            hashes[path] = sha256_of(path)
        except OSError:
            continue
    return hashes


def files_new_to_book(db: Engine, code: str, hashes: dict[Path, str]) -> list[Path]:
    """The files the book does not hold yet (in order): re-running an ingest reads no page."""
    with session_scope(db) as session:
        held = set(session.scalars(
            select(SourceFile.sha256).join(Book, Book.id == SourceFile.book_id)
            .where(Book.book_code == code, SourceFile.status == "ok")))
    return [path for path, sha in hashes.items() if sha not in held]


def refuse_scans_of_other_books(db: Engine, code: str, hashes: dict[Path, str], *,
                                also_in: bool) -> dict[str, list[str]]:
    """The other books holding each scan new to this book (sha → codes); refused unless
    ``also_in``. A scan this book already holds is not asked about again: a re-run of the same
    command stays a no-op even for a scan registered in two books.

    A scan is one physical page of one register; the same file in two books is nearly always
    a folder given to the wrong book, and would be read, reviewed and exported twice.
    """
    others: dict[str, list[str]] = {}
    shas = sorted(set(hashes.values()))
    with session_scope(db) as session:
        for start in range(0, len(shas), 500):
            for sha, other in session.execute(
                select(SourceFile.sha256, Book.book_code).join(Book, Book.id == SourceFile.book_id)
                .where(SourceFile.sha256.in_(shas[start:start + 500]), SourceFile.status == "ok",
                       Book.book_code != code)
                .order_by(Book.book_code)
            ):
                others.setdefault(sha, []).append(other)
    if others and not also_in:
        path = next(p for p, sha in hashes.items() if sha in others)
        more = sum(1 for sha in set(hashes.values()) if sha in others) - 1
        tail = f" (cùng {more} tệp khác)" if more else ""
        raise BadInput(f"{path.name} đã có trong sổ {others[hashes[path]][0]}{tail}; chưa nhập gì",
                       hint="dùng --also-in nếu kho lưu trữ thật sự giữ cùng bản quét trong hai sổ")
    return others


def check_template(settings: Settings, name: str, files: list[Path], warnings: list[str]) -> str:
    """Compare the template given with what the first new page's title and grid say.

    A contradiction is refused, naming both templates. A page the detector cannot place (no
    title read, a faded one, no Tesseract) is not a contradiction: it is accepted and said in
    ``warnings``. Returns how the check ended, for the book's audit entry.
    """
    if not files:
        return "nothing-new"
    try:
        detection = detect_first_page(settings, files)
    except HotichError as exc:
        warnings.append(f"Chưa kiểm tra được mẫu sổ theo trang đầu ({exc.message}); "
                        f"nhận theo mẫu '{name}' đã chọn")
        return "unsure"
    if detection is None:
        warnings.append(f"Không có trang nào đọc được để kiểm tra mẫu sổ; nhận theo mẫu '{name}' đã chọn")
        return "unsure"
    path, found = detection
    if found.template == name:
        return "match"
    given, seen = load_template(name), load_template(found.template)
    if seen.book_type == given.book_type and seen.layout == "form" and given.layout == "ledger":
        # No ruled grid seen is no evidence against a ledger: unruled and faintly ruled
        # printings exist (the detector then calls every page a form), the title agrees.
        return "match-type"
    raise BadInput(
        f"Trang đầu của {path.name} là {_describe(load_template(found.template))} ('{found.template}'), "
        f"không phải {_describe(given)} ('{name}'); chưa nhập gì",
        hint="kiểm tra lại --template, hoặc thêm --force-template nếu chắc chắn")


def _describe(template) -> str:
    """``sổ khai tử dạng bảng`` — the template as a clerk names it."""
    layouts = {"form": "dạng tờ khai", "ledger": "dạng bảng"}
    return f"sổ {BOOK_TYPE_NAMES[template.book_type]} {layouts[template.layout]}"


def detect_first_page(settings: Settings, files: list[Path]):
    """``(file, Detection)`` for the first file whose first page renders, or None.

    Renders at 200 dpi, enough for a title and a grid and quick on an old PC; only that one
    page is read (Tesseract on the top fifth, about 1–3 s).
    """
    from pipeline.ocr.classify import detect_template
    from pipeline.scans import render_page, single_page_bytes

    dpi = 200
    for path in files:
        try:
            scan = inspect_scan(path, max_pixels=settings.max_pixels, dpi=dpi)
            data = single_page_bytes(path, scan.media_type, 0)
            image = render_page(data, scan.media_type, name=path.name, dpi=dpi, max_pixels=settings.max_pixels)
        except HotichError:
            continue  # reported as usual when the file itself is ingested
        try:
            return path, detect_template(image, dpi=dpi if scan.media_type == "application/pdf" else None)
        except HotichError as exc:  # the line names the file, as every ingest message does
            raise type(exc)(f"{path.name}: {exc.message}", hint=exc.hint) from None
    return None


def resolve_auto_template(db: Engine, settings: Settings, info: BookInfo, files: list[Path]) -> str:
    """The template named by the first page that can be read, or the existing book's."""
    if info.book_code:
        with session_scope(db) as session:
            book = session.scalar(select(Book).where(Book.book_code == info.book_code))
            if book is not None:
                return book.template
    detection = detect_first_page(settings, files)
    if detection is None:
        raise BadInput("Không có trang nào đọc được để nhận ra loại sổ", hint="hãy chỉ rõ --template")
    return detection[1].template


def _ingest_one(db: Engine, settings: Settings, code: str, path: Path, store: Path,
                outcome: IngestOutcome, *, sha: str | None = None, also_in: list[str] = ()) -> str | None:
    if not path.is_file():
        return f"{path}: không tìm thấy tệp"
    try:
        sha = sha or sha256_of(path)
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
              book=code, pages=info.page_count, **({"also_in": list(also_in)} if also_in else {}))
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
